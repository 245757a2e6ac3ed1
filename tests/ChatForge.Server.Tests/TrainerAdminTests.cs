using System.Net;
using System.Text.Json.Nodes;

namespace ChatForge.Server.Tests;

public sealed class TrainerAdminTests
{
    static async Task<(ServerFactory Factory, Api Admin)> ServerAsync(Dictionary<string, string?>? settings = null)
    {
        var factory = new ServerFactory(settings);
        return (factory, await factory.UserAsync("admin"));
    }

    static async Task<string> IdOfAsync(Api admin, string userName) =>
        (await admin.GetJsonAsync("/api/admin/users")).AsArray().Single(u => u!["username"]!.GetValue<string>() == userName)!["id"]!.GetValue<string>();

    static List<JsonNode> Lines(string jsonl) => jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();

    [Fact]
    public async Task Roles_gate_the_trainer_workspace_and_admin()
    {
        var (factory, admin) = await ServerAsync();
        using var _ = factory;
        var user = await factory.UserAsync("plain");
        await Api.ExpectErrorAsync(await user.Http.GetAsync("/api/trainer/demonstrations"), HttpStatusCode.Forbidden);
        await Api.ExpectErrorAsync(await user.Http.GetAsync("/api/admin/users"), HttpStatusCode.Forbidden);
        await Api.ExpectErrorAsync(await user.Http.GetAsync("/api/admin/export/votes"), HttpStatusCode.Forbidden);

        string id = await IdOfAsync(admin, "plain");
        await Api.ExpectErrorAsync(await admin.PatchAsync($"/api/admin/users/{id}", new { role = "wizard" }), HttpStatusCode.BadRequest);
        await Api.ExpectAsync(await admin.PatchAsync($"/api/admin/users/{id}", new { role = "trainer" }), HttpStatusCode.OK);
        await Api.ExpectAsync(await user.Http.GetAsync("/api/trainer/demonstrations"), HttpStatusCode.OK); // takes effect at once
        await Api.ExpectErrorAsync(await user.Http.GetAsync("/api/admin/users"), HttpStatusCode.Forbidden);

        await Api.ExpectAsync(await admin.PatchAsync($"/api/admin/users/{id}", new { disabled = true }), HttpStatusCode.OK);
        await Api.ExpectErrorAsync(await user.Http.GetAsync("/api/chats"), HttpStatusCode.Unauthorized);
        await Api.ExpectErrorAsync(await user.LoginAsync("plain", "correct horse 1"), HttpStatusCode.Forbidden);
        string adminId = await IdOfAsync(admin, "admin");
        await Api.ExpectErrorAsync(await admin.PatchAsync($"/api/admin/users/{adminId}", new { role = "user" }), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Trainers_write_demonstrations_and_rank_sampled_answers_and_admins_export_them()
    {
        var (factory, admin) = await ServerAsync();
        using var _ = factory;
        var trainer = await factory.UserAsync("trainer1");
        await Api.ExpectAsync(await admin.PatchAsync($"/api/admin/users/{await IdOfAsync(admin, "trainer1")}", new { role = "trainer" }), HttpStatusCode.OK);

        var demo = new { messages = new[] { new { role = "system", content = "Be kind." }, new { role = "user", content = "你好" }, new { role = "assistant", content = "你好！有什么可以帮你？" } } };
        var created = await Api.ExpectAsync(await trainer.PostAsync("/api/trainer/demonstrations", demo), HttpStatusCode.Created);
        Assert.Equal("zh", created["lang"]!.GetValue<string>());
        await Api.ExpectErrorAsync(await trainer.PostAsync("/api/trainer/demonstrations", new { messages = new[] { new { role = "user", content = "hi" } } }), HttpStatusCode.BadRequest);
        await Api.ExpectErrorAsync(await trainer.PostAsync("/api/trainer/demonstrations", new { messages = new[] { new { role = "assistant", content = "hi" }, new { role = "user", content = "x" } } }), HttpStatusCode.BadRequest);
        await Api.ExpectErrorAsync(await trainer.PostAsync("/api/trainer/demonstrations", new { messages = new[] { new { role = "user", content = "" }, new { role = "assistant", content = "x" } } }), HttpStatusCode.BadRequest);

        var prompt = new[] { new { role = "user", content = "Name a color." } };
        var sampled = await Api.ExpectAsync(await trainer.PostAsync("/api/trainer/rankings/sample", new { messages = prompt, k = 3 }), HttpStatusCode.OK);
        var answers = sampled["answers"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();
        Assert.Equal(3, answers.Count);
        Assert.All(answers, a => Assert.Equal(12, a.Length));
        var ranked = answers.Distinct().Take(2).ToList();
        await Api.ExpectAsync(await trainer.PostAsync("/api/trainer/rankings", new { messages = prompt, answers = ranked }), HttpStatusCode.Created);
        await Api.ExpectErrorAsync(await trainer.PostAsync("/api/trainer/rankings", new { messages = prompt, answers = new[] { "only one" } }), HttpStatusCode.BadRequest);
        await Api.ExpectErrorAsync(await trainer.PostAsync("/api/trainer/rankings", new { messages = prompt, answers = new[] { "same", "same" } }), HttpStatusCode.BadRequest);

        string demoFile = await admin.Http.GetStringAsync("/api/admin/export/demonstrations");
        Assert.Contains("你好！", demoFile); // Chinese stays readable in the file, not \u-escaped
        var demos = Lines(demoFile);
        var d = Assert.Single(demos);
        Assert.Equal("demonstration", d["task"]!.GetValue<string>());
        Assert.Equal("zh", d["lang"]!.GetValue<string>());
        Assert.Equal(new[] { "system", "user", "assistant" }, d["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()));

        var rankings = Lines(await admin.Http.GetStringAsync("/api/admin/export/rankings"));
        var r = Assert.Single(rankings);
        Assert.Equal(("ranking", "server", "en"), (r["task"]!.GetValue<string>(), r["source"]!.GetValue<string>(), r["lang"]!.GetValue<string>()));
        Assert.Equal(ranked, r["answers"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal("user", r["messages"]!.AsArray()[^1]!["role"]!.GetValue<string>());
    }

    [Fact]
    public async Task Votes_export_with_context_and_become_rankings_when_a_prompt_has_both_sides()
    {
        var (factory, admin) = await ServerAsync();
        using var _ = factory;
        var user = await factory.UserAsync();
        string chat = await user.CreateChatAsync(new { system_prompt = "Answer briefly." });
        var first = (await user.StreamAsync($"/api/chats/{chat}/messages", new { content = "What is 2+2?" }))[^1].Data;
        var second = (await user.StreamAsync($"/api/chats/{chat}/messages/{first["message_id"]}/regenerate"))[^1].Data;
        await Api.ExpectAsync(await user.PutAsync($"/api/chats/{chat}/messages/{first["message_id"]}/feedback", new { rating = -1, comment = "wrong" }), HttpStatusCode.OK);
        await Api.ExpectAsync(await user.PutAsync($"/api/chats/{chat}/messages/{second["message_id"]}/feedback", new { rating = 1 }), HttpStatusCode.OK);

        var votes = Lines(await admin.Http.GetStringAsync("/api/admin/export/votes"));
        Assert.Equal(2, votes.Count);
        var down = votes.Single(v => v["rating"]!.GetValue<int>() == -1);
        Assert.Equal("wrong", down["comment"]!.GetValue<string>());
        Assert.Equal(first["content"]!.GetValue<string>(), down["answer"]!.GetValue<string>());
        Assert.Equal(first["model_version"]!.GetValue<string>(), down["model_version"]!.GetValue<string>());
        Assert.Equal(new[] { "system", "user" }, down["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()));
        Assert.Equal("What is 2+2?", down["messages"]![1]!["content"]!.GetValue<string>());

        var pair = Assert.Single(Lines(await admin.Http.GetStringAsync("/api/admin/export/rankings")));
        Assert.Equal("feedback", pair["task"]!.GetValue<string>());
        Assert.Equal(new[] { second["content"]!.GetValue<string>(), first["content"]!.GetValue<string>() }, pair["answers"]!.AsArray().Select(a => a!.GetValue<string>()));

        var stats = (await admin.GetJsonAsync("/api/admin/feedback/stats")).AsArray();
        var row = Assert.Single(stats);
        Assert.Equal(0.5, row!["up_share"]!.GetValue<double>());
        await Api.ExpectErrorAsync(await admin.Http.GetAsync("/api/admin/export/everything"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_new_model_version_loads_without_restart_and_a_broken_one_is_refused()
    {
        var (factory, admin) = await ServerAsync();
        using var _ = factory;
        string chat = await admin.CreateChatAsync();
        var before = (await admin.StreamAsync($"/api/chats/{chat}/messages", new { content = "hi" }))[^1].Data["model_version"]!.GetValue<string>();

        var loaded = await Api.ExpectAsync(await admin.PostAsync("/api/admin/models/load", new { dir = TestModels.Second }), HttpStatusCode.OK);
        string version = loaded["version"]!.GetValue<string>();
        Assert.NotEqual(before, version);
        Assert.StartsWith("second-", version);
        var after = (await admin.StreamAsync($"/api/chats/{chat}/messages", new { content = "again" }))[^1].Data["model_version"]!.GetValue<string>();
        Assert.Equal(version, after);

        using var broken = new TempDir();
        foreach (var file in Directory.GetFiles(TestModels.Second)) File.Copy(file, Path.Combine(broken.Path, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(broken.Path, "tokenizer.tiktoken"), "this is not a rank file\n");
        var refused = await Api.ExpectErrorAsync(await admin.PostAsync("/api/admin/models/load", new { dir = broken.Path }), HttpStatusCode.BadRequest);
        Assert.Contains("tokenizer.tiktoken", refused);
        Assert.Contains("no model folder", await Api.ExpectErrorAsync(await admin.PostAsync("/api/admin/models/load", new { dir = "/nonexistent/model" }), HttpStatusCode.BadRequest));

        var models = await admin.GetJsonAsync("/api/admin/models");
        Assert.Equal(version, models["models"]![0]!["version"]!.GetValue<string>()); // the good model still serves
        Assert.Equal("done", (await admin.StreamAsync($"/api/chats/{chat}/messages", new { content = "still there?" }))[^1].Event);
    }
}
