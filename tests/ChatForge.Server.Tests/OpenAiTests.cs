using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;

namespace ChatForge.Server.Tests;

public sealed class OpenAiTests : IClassFixture<OpenAiTests.Server>
{
    public sealed class Server : IAsyncLifetime
    {
        public ServerFactory Factory { get; } = new();
        public string Key { get; private set; } = "";
        public async Task InitializeAsync()
        {
            var api = await Factory.UserAsync();
            Key = (await Api.ExpectAsync(await api.PostAsync("/api/keys", new { name = "sdk" }), HttpStatusCode.Created))["key"]!.GetValue<string>();
        }
        public Task DisposeAsync() { Factory.Dispose(); return Task.CompletedTask; }
    }

    readonly Server _server;
    public OpenAiTests(Server server) => _server = server;

    OpenAIClientOptions Options => new()
    {
        Endpoint = new Uri(_server.Factory.Server.BaseAddress, "/v1"),
        Transport = new HttpClientPipelineTransport(_server.Factory.CreateClient()),
    };

    ChatClient Client(string model = "chatforge", string? key = null) => new(model, new ApiKeyCredential(key ?? _server.Key), Options);

    [Fact]
    public async Task Official_client_completes_without_streaming()
    {
        var result = await Client().CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Hello!")],
            new ChatCompletionOptions { MaxOutputTokenCount = 7, Temperature = 0 });
        var completion = result.Value;
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(7, completion.Usage.OutputTokenCount);
        Assert.True(completion.Usage.InputTokenCount > 10);
        Assert.Equal(7, completion.Content[0].Text.Length); // the tiny model answers one ASCII letter or space per token
        Assert.Equal("chatforge", completion.Model);
    }

    [Fact]
    public async Task Official_client_streams()
    {
        var pieces = new List<string>();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in Client().CompleteChatStreamingAsync([new UserChatMessage("Stream please")],
            new ChatCompletionOptions { MaxOutputTokenCount = 9, Temperature = 0.8f, TopP = 0.9f }))
        {
            pieces.AddRange(update.ContentUpdate.Select(p => p.Text));
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.True(pieces.Count(p => p.Length > 0) >= 2);
        Assert.Equal(9, string.Concat(pieces).Length);
        Assert.Equal(ChatFinishReason.Length, finish);
        Assert.Equal(9, usage?.OutputTokenCount);
    }

    [Fact]
    public async Task Stop_sequences_end_the_answer()
    {
        var greedy = new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0 };
        string text = (await Client().CompleteChatAsync([new UserChatMessage("x")], greedy)).Value.Content[0].Text;
        string stop = text.Substring(3, 2);
        var withStop = new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0 };
        withStop.StopSequences.Add(stop);
        var stopped = (await Client().CompleteChatAsync([new UserChatMessage("x")], withStop)).Value;
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], stopped.Content.Count == 0 ? "" : stopped.Content[0].Text);
    }

    [Fact]
    public async Task Models_are_listed()
    {
        var models = await new OpenAI.Models.OpenAIModelClient(new ApiKeyCredential(_server.Key), Options).GetModelsAsync();
        Assert.Contains(models.Value, m => m.Id == "chatforge");
    }

    [Fact]
    public async Task Errors_use_the_openai_shape()
    {
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => Client("no-such-model").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, unknown.Status);
        Assert.Contains("no-such-model", unknown.Message);

        var badKey = await Assert.ThrowsAsync<ClientResultException>(() => Client(key: "cf-wrong").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, badKey.Status);

        using var http = _server.Factory.CreateClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", _server.Key);
        foreach (var (body, param) in new (object, string)[]
        {
            (new { messages = Array.Empty<object>() }, "messages"),
            (new { messages = new[] { new { role = "wizard", content = "hi" } } }, "messages[0].role"),
            (new { messages = new[] { new { role = "user", content = "hi" } }, temperature = 9 }, "temperature"),
            (new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = -3 }, "max_tokens"),
        })
        {
            var response = await http.PostAsJsonAsync("/v1/chat/completions", body);
            var json = await Api.ExpectAsync(response, HttpStatusCode.BadRequest);
            Assert.Equal(param, json["error"]!["param"]!.GetValue<string>());
            Assert.Equal("invalid_request_error", json["error"]!["type"]!.GetValue<string>());
        }
        var malformed = await http.PostAsync("/v1/chat/completions", new StringContent("{\"messages\": [", System.Text.Encoding.UTF8, "application/json"));
        Assert.Contains("JSON", await Api.ExpectErrorAsync(malformed, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task A_final_assistant_message_is_continued()
    {
        using var http = _server.Factory.CreateClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", _server.Key);
        var response = await http.PostAsJsonAsync("/v1/chat/completions", new
        {
            messages = new object[] { new { role = "user", content = "hi" }, new { role = "assistant", content = "Once upon" } },
            max_tokens = 4,
        });
        var json = await Api.ExpectAsync(response, HttpStatusCode.OK);
        Assert.Equal(4, json["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.Equal(4, json["choices"]![0]!["message"]!["content"]!.GetValue<string>().Length);
    }
}

/// <summary>A model served by another ChatForge over the OpenAI-compatible API, as a team would use vLLM or Ollama.</summary>
public sealed class RemoteBackendTests
{
    [Fact]
    public async Task A_chat_on_a_remote_model_streams_and_continues()
    {
        using var upstream = new ServerFactory();
        var owner = await upstream.UserAsync();
        string key = (await Api.ExpectAsync(await owner.PostAsync("/api/keys", new { name = "front" }), HttpStatusCode.Created))["key"]!.GetValue<string>();

        using var front = new ServerFactory(new()
        {
            ["ChatForge:RemoteModels:0:Name"] = "big",
            ["ChatForge:RemoteModels:0:BaseUrl"] = "http://upstream/v1",
            ["ChatForge:RemoteModels:0:ApiKey"] = key,
            ["ChatForge:RemoteModels:0:Model"] = "chatforge",
        }, services => services.AddHttpClient("model:big").ConfigurePrimaryHttpMessageHandler(() => upstream.Server.CreateHandler()));
        var api = await front.UserAsync();
        var me = await api.GetJsonAsync("/api/auth/me");
        Assert.Contains("big", me["models"]!.AsArray().Select(m => m!.GetValue<string>()));

        string id = await api.CreateChatAsync(new { model = "big" });
        var events = await api.StreamAsync($"/api/chats/{id}/messages", new { content = "hello upstream" });
        var done = events[^1].Data;
        Assert.Equal("done", events[^1].Event);
        Assert.Equal("big:chatforge", done["model_version"]!.GetValue<string>());
        Assert.Equal("truncated", done["status"]!.GetValue<string>());
        Assert.Equal(12, done["token_count"]!.GetValue<int>());
        Assert.True(events.Count(e => e.Event == "delta") >= 2);

        string answerId = done["message_id"]!.GetValue<string>();
        var more = (await api.StreamAsync($"/api/chats/{id}/messages/{answerId}/continue"))[^1].Data;
        Assert.StartsWith(done["content"]!.GetValue<string>(), more["content"]!.GetValue<string>());
        Assert.Equal(24, more["token_count"]!.GetValue<int>());

        // The upstream's tokens are counted against the key's owner there.
        Assert.True((await owner.GetJsonAsync("/api/auth/me"))["limits"]!["tokens_used_today"]!.GetValue<long>() > 24);
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_an_error_answer_not_a_crash()
    {
        using var front = new ServerFactory(new()
        {
            ["ChatForge:RemoteModels:0:Name"] = "gone",
            ["ChatForge:RemoteModels:0:BaseUrl"] = "http://127.0.0.1:9/v1",
        });
        var api = await front.UserAsync();
        string id = await api.CreateChatAsync(new { model = "gone" });
        var last = (await api.StreamAsync($"/api/chats/{id}/messages", new { content = "hello?" }))[^1];
        Assert.Equal("error", last.Event);
        Assert.Contains("cannot be reached", last.Data["error"]!.GetValue<string>());
        var messages = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]!.AsArray();
        Assert.Equal("error", messages[1]!["status"]!.GetValue<string>());
        Assert.Equal("hello?", messages[0]!["content"]!.GetValue<string>());
    }
}
