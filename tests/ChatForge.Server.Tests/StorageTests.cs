using System.Net;
using ChatForge.Server.Storage;

namespace ChatForge.Server.Tests;

/// <summary>The same repository tests against SQLite and PostgreSQL.</summary>
public sealed class StorageTests
{
    sealed class Store : IDisposable
    {
        readonly TempDir? _temp;
        readonly PostgresTestDb? _pg;
        public SqlStore Sql { get; }

        public Store(string kind)
        {
            if (kind == "sqlite")
            {
                _temp = new TempDir();
                Sql = SqliteStore.ForFile(_temp.Sub("test.db"));
            }
            else
            {
                _pg = PostgresTestDb.Create();
                Sql = new PostgresStore(_pg.ConnectionString);
            }
            Sql.MigrateAsync().GetAwaiter().GetResult();
            Sql.MigrateAsync().GetAwaiter().GetResult(); // a second start finds the schema in place
        }

        public void Dispose()
        {
            (Sql as IDisposable)?.Dispose();
            _pg?.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            _temp?.Dispose();
        }
    }

    [SkippableTheory, InlineData("sqlite"), InlineData("postgres")]
    public async Task Users_first_is_admin_names_unique_case_insensitively_lockout_fields(string kind)
    {
        using var store = new Store(kind);
        var s = store.Sql;
        var alice = await s.CreateUserAsync("Alice", "a@example.com", "hash1");
        var bob = await s.CreateUserAsync("bob", null, "hash2");
        Assert.Equal(Roles.Admin, alice!.Role);
        Assert.Equal(Roles.User, bob!.Role);
        Assert.Null(await s.CreateUserAsync("ALICE", null, "hash3"));
        Assert.Equal(alice.Id, (await s.FindUserByNameAsync("alice"))!.Id);
        Assert.Equal(2, await s.CountUsersAsync());

        await s.RecordLoginFailureAsync(bob.Id, 2, 12345);
        var failed = await s.FindUserAsync(bob.Id);
        Assert.Equal((2, 12345L), (failed!.FailedLogins, failed.LockoutUntil));
        await s.ResetLoginFailuresAsync(bob.Id);
        Assert.Equal(0, (await s.FindUserAsync(bob.Id))!.FailedLogins);
        Assert.True(await s.SetRoleAsync(bob.Id, Roles.Trainer));
        Assert.True(await s.SetDisabledAsync(bob.Id, true));
        var changed = await s.FindUserAsync(bob.Id);
        Assert.Equal((Roles.Trainer, true), (changed!.Role, changed.Disabled));
        Assert.False(await s.SetRoleAsync("u_missing", Roles.Admin));

        var key = await s.CreateApiKeyAsync(bob.Id, "k", "cf-abc", "deadbeef");
        Assert.Equal(bob.Id, (await s.FindUserByApiKeyHashAsync("deadbeef"))!.Id);
        Assert.NotNull((await s.ListApiKeysAsync(bob.Id)).Single().LastUsedAt);
        Assert.False(await s.DeleteApiKeyAsync(alice.Id, key.Id)); // only the owner deletes
        Assert.True(await s.DeleteApiKeyAsync(bob.Id, key.Id));
        Assert.Null(await s.FindUserByApiKeyHashAsync("deadbeef"));
    }

    [SkippableTheory, InlineData("sqlite"), InlineData("postgres")]
    public async Task Chats_messages_tree_feedback_and_ownership(string kind)
    {
        using var store = new Store(kind);
        var s = store.Sql;
        var owner = (await s.CreateUserAsync("owner", null, "h"))!;
        var other = (await s.CreateUserAsync("other", null, "h"))!;
        var chat = await s.CreateChatAsync(owner.Id, "t", "sys", 0.5, null);
        Assert.Null(await s.GetChatAsync(other.Id, chat.Id));
        Assert.False(await s.UpdateChatAsync(other.Id, chat.Id, "stolen", null, null, null));
        Assert.False(await s.DeleteChatAsync(other.Id, chat.Id));
        Assert.True(await s.UpdateChatAsync(owner.Id, chat.Id, "renamed", "sys2", null, "m"));
        var renamed = (await s.GetChatAsync(owner.Id, chat.Id))!;
        Assert.Equal(("renamed", "sys2", (double?)null, "m"), (renamed.Title, renamed.SystemPrompt, renamed.Temperature, renamed.Model));

        var q = await s.AddMessageAsync(chat.Id, null, "user", "你好 <script>", MessageStatus.Complete, null);
        var a1 = await s.AddMessageAsync(chat.Id, q.Id, "assistant", "", MessageStatus.Generating, "v1");
        var a2 = await s.AddMessageAsync(chat.Id, q.Id, "assistant", "second", MessageStatus.Complete, "v2");
        Assert.Equal(a2.Id, (await s.GetChatAsync(owner.Id, chat.Id))!.CurrentLeafId);
        await s.UpdateMessageAsync(a1.Id, "first answer", MessageStatus.Truncated, 7, null);
        var messages = await s.GetMessagesAsync(chat.Id);
        Assert.Equal(new[] { q.Id, a1.Id, a2.Id }, messages.Select(m => m.Id));
        var stored = messages[1];
        Assert.Equal(("first answer", MessageStatus.Truncated, 7, "v1"), (stored.Content, stored.Status, stored.TokenCount, stored.ModelVersion));
        Assert.Equal("你好 <script>", messages[0].Content);

        await s.SetFeedbackAsync(a1.Id, owner.Id, 1, null, "v1");
        await s.SetFeedbackAsync(a1.Id, owner.Id, -1, "bad", "v1");
        await s.SetFeedbackAsync(a2.Id, owner.Id, 1, "good", "v2");
        var votes = await s.GetFeedbackForChatAsync(chat.Id, owner.Id);
        Assert.Equal(2, votes.Count);
        Assert.Equal((-1, "bad"), (votes.Single(v => v.MessageId == a1.Id).Rating, votes.Single(v => v.MessageId == a1.Id).Comment));
        Assert.Empty(await s.GetFeedbackForChatAsync(chat.Id, other.Id));
        var stats = await s.FeedbackStatsAsync();
        Assert.Equal(new[] { ("v1", 0, 1), ("v2", 1, 0) }, stats.Select(x => (x.ModelVersion, x.Up, x.Down)));
        Assert.Equal(2, (await s.ListVotesAsync()).Count);
        await s.SetFeedbackAsync(a2.Id, owner.Id, 0, null, null);
        Assert.Single(await s.GetFeedbackForChatAsync(chat.Id, owner.Id));

        Assert.True(await s.DeleteChatAsync(owner.Id, chat.Id));
        Assert.Empty(await s.GetMessagesAsync(chat.Id));
        Assert.Empty(await s.ListVotesAsync());
    }

    [SkippableTheory, InlineData("sqlite"), InlineData("postgres")]
    public async Task Trainer_data_and_usage(string kind)
    {
        using var store = new Store(kind);
        var s = store.Sql;
        var t = (await s.CreateUserAsync("trainer", null, "h"))!;
        var u = (await s.CreateUserAsync("user2", null, "h"))!;
        var demo = await s.AddDemonstrationAsync(t.Id, "zh", "[{\"role\":\"user\",\"content\":\"你好\"}]");
        await s.AddDemonstrationAsync(u.Id, "en", "[]");
        Assert.Equal(2, (await s.ListDemonstrationsAsync(null)).Count);
        Assert.Single(await s.ListDemonstrationsAsync(t.Id));
        Assert.False(await s.DeleteDemonstrationAsync(demo.Id, u.Id));
        Assert.True(await s.DeleteDemonstrationAsync(demo.Id, t.Id));
        await s.AddRankingAsync(t.Id, "en", "[]", "[\"a\",\"b\"]");
        Assert.Equal("[\"a\",\"b\"]", (await s.ListRankingsAsync(null)).Single().AnswersJson);

        await s.AddTokensAsync(u.Id, "2026-01-01", 10);
        await s.AddTokensAsync(u.Id, "2026-01-01", 5);
        await s.AddTokensAsync(u.Id, "2026-01-02", 1);
        Assert.Equal(15, await s.GetTokensUsedAsync(u.Id, "2026-01-01"));
        Assert.Equal(0, await s.GetTokensUsedAsync(t.Id, "2026-01-01"));
    }

    [SkippableFact]
    public async Task The_whole_server_runs_on_postgres()
    {
        using var pg = PostgresTestDb.Create();
        using var factory = new ServerFactory(new() { ["ChatForge:Database"] = "postgres", ["ChatForge:ConnectionString"] = pg.ConnectionString });
        var api = await factory.UserAsync("pguser");
        Assert.Equal("admin", (await api.GetJsonAsync("/api/auth/me"))["user"]!["role"]!.GetValue<string>());
        string id = await api.CreateChatAsync();
        var done = (await api.StreamAsync($"/api/chats/{id}/messages", new { content = "hello postgres" }))[^1].Data;
        string answer = done["message_id"]!.GetValue<string>();
        await Api.ExpectAsync(await api.PutAsync($"/api/chats/{id}/messages/{answer}/feedback", new { rating = -1, comment = "meh" }), HttpStatusCode.OK);
        var more = (await api.StreamAsync($"/api/chats/{id}/messages", new { content = "继续" }))[^1].Data;
        Assert.Equal(answer, more["message_id"]!.GetValue<string>());

        var chat = await api.GetJsonAsync($"/api/chats/{id}");
        Assert.Equal(more["content"]!.GetValue<string>(), chat["messages"]![1]!["content"]!.GetValue<string>());
        Assert.Equal(-1, chat["messages"]![1]!["feedback"]!["rating"]!.GetValue<int>());
        var other = await factory.UserAsync();
        await Api.ExpectErrorAsync(await other.Http.GetAsync($"/api/chats/{id}"), HttpStatusCode.NotFound);
    }
}
