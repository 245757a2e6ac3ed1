using System.Net;
using ChatForge.Server.Models;
using Microsoft.Extensions.DependencyInjection;

namespace ChatForge.Server.Tests;

public sealed class LimitsTests
{
    static async Task<int> MessageCountAsync(Api api, string chatId) => (await api.GetJsonAsync($"/api/chats/{chatId}"))["messages"]!.AsArray().Count;

    [Fact]
    public async Task Per_user_rate_limit_answers_429_with_retry_after()
    {
        using var factory = new ServerFactory(new() { ["ChatForge:RequestsPerMinute"] = "2" });
        var api = await factory.UserAsync();
        string id = await api.CreateChatAsync();
        await api.StreamAsync($"/api/chats/{id}/messages", new { content = "one" });
        await api.StreamAsync($"/api/chats/{id}/messages", new { content = "two" });
        var third = await api.PostAsync($"/api/chats/{id}/messages", new { content = "three" });
        await Api.ExpectErrorAsync(third, HttpStatusCode.TooManyRequests);
        Assert.True(third.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal(4, await MessageCountAsync(api, id));

        // The limit is per user: someone else is not held back.
        var other = await factory.UserAsync();
        string otherChat = await other.CreateChatAsync();
        Assert.Equal("done", (await other.StreamAsync($"/api/chats/{otherChat}/messages", new { content = "hi" }))[^1].Event);
    }

    [Fact]
    public async Task Daily_token_quota_answers_429_until_midnight()
    {
        using var factory = new ServerFactory(new() { ["ChatForge:DailyTokenQuota"] = "20" });
        var api = await factory.UserAsync();
        string id = await api.CreateChatAsync();
        await api.StreamAsync($"/api/chats/{id}/messages", new { content = "spend my tokens" });
        Assert.True((await api.GetJsonAsync("/api/auth/me"))["limits"]!["tokens_used_today"]!.GetValue<long>() >= 20);
        var refused = await api.PostAsync($"/api/chats/{id}/messages", new { content = "more" });
        Assert.Contains("quota", await Api.ExpectErrorAsync(refused, HttpStatusCode.TooManyRequests));
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 86400);
        Assert.Equal(2, await MessageCountAsync(api, id));
    }

    [Fact]
    public async Task A_full_generation_queue_answers_429_and_stores_nothing()
    {
        using var factory = new ServerFactory(new() { ["ChatForge:MaxConcurrentGenerations"] = "1", ["ChatForge:QueueCapacity"] = "1" });
        var api = await factory.UserAsync();
        string id = await api.CreateChatAsync();
        var gate = factory.Services.GetRequiredService<GenerationGate>();
        using (var running = gate.Enter())
        using (var waiting = gate.Enter())
        {
            await running.WaitAsync(default);
            var refused = await api.PostAsync($"/api/chats/{id}/messages", new { content = "anyone there?" });
            Assert.Contains("busy", await Api.ExpectErrorAsync(refused, HttpStatusCode.TooManyRequests));
            Assert.NotNull(refused.Headers.RetryAfter);
        }
        Assert.Equal(0, await MessageCountAsync(api, id));
        Assert.Equal("done", (await api.StreamAsync($"/api/chats/{id}/messages", new { content = "now?" }))[^1].Event);
    }

    [Fact]
    public async Task Concurrent_chats_are_decoded_together_and_all_finish()
    {
        using var factory = new ServerFactory(new() { ["ChatForge:MaxConcurrentGenerations"] = "4" });
        var users = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => factory.UserAsync()));
        var results = await Task.WhenAll(users.Select(async api =>
        {
            string id = await api.CreateChatAsync();
            return (await api.StreamAsync($"/api/chats/{id}/messages", new { content = "hello" }))[^1];
        }));
        Assert.All(results, r => Assert.Equal(12, r.Data["token_count"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Without_a_model_the_server_starts_and_says_so()
    {
        using var factory = new ServerFactory(withModel: false);
        var api = await factory.UserAsync();
        var me = await api.GetJsonAsync("/api/auth/me");
        Assert.Null(me["model"]);
        Assert.Contains("no model folder", me["model_error"]!.GetValue<string>());
        string id = await api.CreateChatAsync();
        var refused = await api.PostAsync($"/api/chats/{id}/messages", new { content = "hello?" });
        Assert.Contains("No model is loaded", await Api.ExpectErrorAsync(refused, HttpStatusCode.ServiceUnavailable));
        Assert.Equal(0, await MessageCountAsync(api, id));
    }
}
