using System.Net;
using System.Text.Json.Nodes;
using ChatForge.Server.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace ChatForge.Server.Tests;

public sealed class ChatTests : IClassFixture<ChatTests.Server>
{
    public sealed class Server : IDisposable
    {
        public ServerFactory Factory { get; } = new();
        public void Dispose() => Factory.Dispose();
    }

    readonly ServerFactory _factory;
    public ChatTests(Server server) => _factory = server.Factory;

    static JsonNode Done(List<(string Event, JsonNode Data)> events)
    {
        Assert.Equal("start", events[0].Event);
        var last = events[^1];
        Assert.True(last.Event == "done", "stream ended with " + last.Event + ": " + last.Data.ToJsonString());
        return last.Data;
    }

    [Fact]
    public async Task Chats_can_be_created_listed_renamed_and_deleted()
    {
        var api = await _factory.UserAsync();
        string id = await api.CreateChatAsync(new { title = "first", system_prompt = "You are terse.", temperature = 0.2 });
        var list = (await api.GetJsonAsync("/api/chats")).AsArray();
        Assert.Equal("first", Assert.Single(list)!["title"]!.GetValue<string>());

        var renamed = await Api.ExpectAsync(await api.PatchAsync($"/api/chats/{id}", new { title = "renamed" }), HttpStatusCode.OK);
        Assert.Equal("renamed", renamed["title"]!.GetValue<string>());
        Assert.Equal("You are terse.", renamed["system_prompt"]!.GetValue<string>()); // absent fields keep their value
        Assert.Equal(0.2, renamed["temperature"]!.GetValue<double>());

        await Api.ExpectErrorAsync(await api.PatchAsync($"/api/chats/{id}", new { temperature = 5 }), HttpStatusCode.BadRequest);
        await Api.ExpectAsync(await api.Http.DeleteAsync($"/api/chats/{id}"), HttpStatusCode.NoContent);
        Assert.Empty((await api.GetJsonAsync("/api/chats")).AsArray());
        await Api.ExpectErrorAsync(await api.Http.GetAsync($"/api/chats/{id}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Another_users_chat_answers_404_everywhere()
    {
        var owner = await _factory.UserAsync();
        string id = await owner.CreateChatAsync();
        Done(await owner.StreamAsync($"/api/chats/{id}/messages", new { content = "hello" }));
        string answerId = (await owner.GetJsonAsync($"/api/chats/{id}"))["messages"]![1]!["id"]!.GetValue<string>();

        var other = await _factory.UserAsync();
        await Api.ExpectErrorAsync(await other.Http.GetAsync($"/api/chats/{id}"), HttpStatusCode.NotFound);
        await Api.ExpectErrorAsync(await other.PatchAsync($"/api/chats/{id}", new { title = "mine" }), HttpStatusCode.NotFound);
        await Api.ExpectErrorAsync(await other.PostAsync($"/api/chats/{id}/messages", new { content = "hi" }), HttpStatusCode.NotFound);
        await Api.ExpectErrorAsync(await other.PostAsync($"/api/chats/{id}/messages/{answerId}/regenerate", null), HttpStatusCode.NotFound);
        await Api.ExpectErrorAsync(await other.PutAsync($"/api/chats/{id}/messages/{answerId}/feedback", new { rating = -1 }), HttpStatusCode.NotFound);
        await Api.ExpectErrorAsync(await other.Http.DeleteAsync($"/api/chats/{id}"), HttpStatusCode.NotFound);
        Assert.Empty((await other.GetJsonAsync("/api/chats")).AsArray());

        var chat = await owner.GetJsonAsync($"/api/chats/{id}");
        Assert.Equal(2, chat["messages"]!.AsArray().Count);
        Assert.Equal("hello", chat["chat"]!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_message_streams_its_answer_and_both_are_stored()
    {
        var api = await _factory.UserAsync();
        string id = await api.CreateChatAsync();
        var events = await api.StreamAsync($"/api/chats/{id}/messages", new { content = "Hello, 你好" });
        var done = Done(events);
        var deltas = events.Where(e => e.Event == "delta").Select(e => e.Data["text"]!.GetValue<string>()).ToList();
        Assert.True(deltas.Count >= 2, "the answer streams in pieces");
        Assert.Equal(string.Concat(deltas), done["content"]!.GetValue<string>());
        Assert.Equal(12, done["token_count"]!.GetValue<int>()); // the tiny model never stops by itself: it runs to the cap
        Assert.Equal("truncated", done["status"]!.GetValue<string>());
        Assert.StartsWith("default-", done["model_version"]!.GetValue<string>());

        var chat = await api.GetJsonAsync($"/api/chats/{id}");
        var messages = chat["messages"]!.AsArray();
        Assert.Equal("Hello, 你好", messages[0]!["content"]!.GetValue<string>());
        Assert.Equal("user", messages[0]!["role"]!.GetValue<string>());
        Assert.Equal(done["content"]!.GetValue<string>(), messages[1]!["content"]!.GetValue<string>());
        Assert.Equal("Hello, 你好", chat["chat"]!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task Continue_appends_to_the_same_answer_by_button_and_by_typing_继续_or_continue()
    {
        var api = await _factory.UserAsync();
        string id = await api.CreateChatAsync();
        var first = Done(await api.StreamAsync($"/api/chats/{id}/messages", new { content = "Tell me a long story" }));
        string answerId = first["message_id"]!.GetValue<string>();
        string text1 = first["content"]!.GetValue<string>();
        Assert.Equal("truncated", first["status"]!.GetValue<string>());

        var second = Done(await api.StreamAsync($"/api/chats/{id}/messages/{answerId}/continue"));
        Assert.Equal(answerId, second["message_id"]!.GetValue<string>());
        string text2 = second["content"]!.GetValue<string>();
        Assert.StartsWith(text1, text2);
        Assert.True(text2.Length > text1.Length);
        Assert.Equal(24, second["token_count"]!.GetValue<int>());

        var third = Done(await api.StreamAsync($"/api/chats/{id}/messages", new { content = " 继续 " }));
        Assert.Equal(answerId, third["message_id"]!.GetValue<string>());
        Assert.StartsWith(text2, third["content"]!.GetValue<string>());
        var fourth = Done(await api.StreamAsync($"/api/chats/{id}/messages", new { content = "Continue" }));
        Assert.Equal(answerId, fourth["message_id"]!.GetValue<string>());
        Assert.Equal(48, fourth["token_count"]!.GetValue<int>());

        var messages = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]!.AsArray();
        Assert.Equal(2, messages.Count); // no "继续" turn was stored: the same answer grew
        Assert.Equal(fourth["content"]!.GetValue<string>(), messages[1]!["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task Regenerate_keeps_alternatives_and_the_user_can_switch_between_them()
    {
        var api = await _factory.UserAsync();
        string id = await api.CreateChatAsync(new { temperature = 1.0 });
        var first = Done(await api.StreamAsync($"/api/chats/{id}/messages", new { content = "Pick a word" }));
        string a1 = first["message_id"]!.GetValue<string>();
        var second = Done(await api.StreamAsync($"/api/chats/{id}/messages/{a1}/regenerate"));
        string a2 = second["message_id"]!.GetValue<string>();
        Assert.NotEqual(a1, a2);

        var messages = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]!.AsArray();
        Assert.Equal(2, messages.Count);
        Assert.Equal(a2, messages[1]!["id"]!.GetValue<string>());
        Assert.Equal(new[] { a1, a2 }, messages[1]!["siblings"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal(1, messages[1]!["sibling_index"]!.GetValue<int>());

        await Api.ExpectAsync(await api.PostAsync($"/api/chats/{id}/select", new { message_id = a1 }), HttpStatusCode.NoContent);
        messages = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]!.AsArray();
        Assert.Equal(a1, messages[1]!["id"]!.GetValue<string>());
        Assert.Equal(first["content"]!.GetValue<string>(), messages[1]!["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task Editing_a_user_message_starts_a_new_branch()
    {
        var api = await _factory.UserAsync();
        string id = await api.CreateChatAsync();
        Done(await api.StreamAsync($"/api/chats/{id}/messages", new { content = "first question" }));
        Done(await api.StreamAsync($"/api/chats/{id}/messages", new { content = "follow-up" }));
        var before = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]!.AsArray();
        Assert.Equal(4, before.Count);
        string q2 = before[2]!["id"]!.GetValue<string>();

        var edited = await api.StreamAsync($"/api/chats/{id}/messages/{q2}/edit", new { content = "a better follow-up" });
        Done(edited);
        var after = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]!.AsArray();
        Assert.Equal(4, after.Count);
        Assert.Equal("a better follow-up", after[2]!["content"]!.GetValue<string>());
        Assert.Equal(2, after[2]!["siblings"]!.AsArray().Count);
        Assert.Equal(before[1]!["id"]!.GetValue<string>(), after[2]!["parent_id"]!.GetValue<string>());

        // Switching back to the old question shows its old answer too.
        await Api.ExpectAsync(await api.PostAsync($"/api/chats/{id}/select", new { message_id = q2 }), HttpStatusCode.NoContent);
        var old = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]!.AsArray();
        Assert.Equal("follow-up", old[2]!["content"]!.GetValue<string>());
        Assert.Equal(before[3]!["id"]!.GetValue<string>(), old[3]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Feedback_is_stored_with_the_model_version_and_can_be_changed()
    {
        var api = await _factory.UserAsync();
        string id = await api.CreateChatAsync();
        var done = Done(await api.StreamAsync($"/api/chats/{id}/messages", new { content = "Rate me" }));
        string answer = done["message_id"]!.GetValue<string>();
        string question = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]![0]!["id"]!.GetValue<string>();

        await Api.ExpectAsync(await api.PutAsync($"/api/chats/{id}/messages/{answer}/feedback", new { rating = 1 }), HttpStatusCode.OK);
        var vote = await Api.ExpectAsync(await api.PutAsync($"/api/chats/{id}/messages/{answer}/feedback", new { rating = -1, comment = "too vague" }), HttpStatusCode.OK);
        Assert.Equal(done["model_version"]!.GetValue<string>(), vote["model_version"]!.GetValue<string>());
        var shown = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]![1]!["feedback"]!;
        Assert.Equal(-1, shown["rating"]!.GetValue<int>());
        Assert.Equal("too vague", shown["comment"]!.GetValue<string>());

        await Api.ExpectErrorAsync(await api.PutAsync($"/api/chats/{id}/messages/{answer}/feedback", new { rating = 5 }), HttpStatusCode.BadRequest);
        await Api.ExpectErrorAsync(await api.PutAsync($"/api/chats/{id}/messages/{question}/feedback", new { rating = 1 }), HttpStatusCode.BadRequest);
        await Api.ExpectErrorAsync(await api.PutAsync($"/api/chats/{id}/messages/m_nope/feedback", new { rating = 1 }), HttpStatusCode.NotFound);
        shown = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]![1]!["feedback"]!;
        Assert.Equal(-1, shown["rating"]!.GetValue<int>()); // the bad requests changed nothing

        await Api.ExpectAsync(await api.PutAsync($"/api/chats/{id}/messages/{answer}/feedback", new { rating = 0 }), HttpStatusCode.OK);
        Assert.Null((await api.GetJsonAsync($"/api/chats/{id}"))["messages"]![1]!["feedback"]);
    }

    [Fact]
    public async Task Stop_and_client_disconnect_end_the_generation_as_stopped()
    {
        using var factory = new ServerFactory(new() { ["ChatForge:MaxAnswerTokens"] = "100000" });
        var api = await factory.UserAsync();
        string id = await api.CreateChatAsync();
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/api/chats/{id}/messages") { Content = System.Net.Http.Json.JsonContent.Create(new { content = "go on forever" }) })
        using (var response = await api.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            var events = await Api.ReadEventsAsync(await response.Content.ReadAsStreamAsync(), stopAfter: 3);
            Assert.Equal("delta", events[^1].Event);
        } // disposing the response is the client going away

        var repo = factory.Services.GetRequiredService<IChatRepository>();
        MessageRecord? answer = null;
        for (int i = 0; i < 100 && answer?.Status != MessageStatus.Stopped; i++)
        {
            await Task.Delay(100);
            answer = (await repo.GetMessagesAsync(id)).Last();
        }
        Assert.Equal(MessageStatus.Stopped, answer!.Status);
        Assert.True(answer.TokenCount < 100000);

        // A stopped answer can be continued, and Stop ends that generation too. Stop is pressed once the
        // continuation is streaming (a fixed delay raced with the tiny model filling its context on a quiet machine).
        bool stopped = false;
        var continued = await api.StreamAsync($"/api/chats/{id}/messages/{answer.Id}/continue", onEvent: async type =>
        {
            if (type != "delta" || stopped) return;
            stopped = true;
            await Api.ExpectAsync(await api.PostAsync($"/api/chats/{id}/stop", null), HttpStatusCode.OK);
        });
        Assert.True(stopped, "the continuation streamed no delta before it ended");
        var done = continued[^1];
        Assert.Equal("stopped", done.Data["status"]!.GetValue<string>());
        Assert.StartsWith(answer.Content, done.Data["content"]!.GetValue<string>());
    }
}
