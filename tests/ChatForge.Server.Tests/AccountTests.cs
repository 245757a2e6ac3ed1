using System.Net;
using System.Net.Http.Json;

namespace ChatForge.Server.Tests;

public sealed class AccountTests : IClassFixture<AccountTests.Server>
{
    public sealed class Server : IDisposable
    {
        public ServerFactory Factory { get; } = new();
        public void Dispose() => Factory.Dispose();
    }

    readonly ServerFactory _factory;
    public AccountTests(Server server) => _factory = server.Factory;

    [Fact]
    public async Task First_user_is_admin_later_users_are_not_and_names_are_unique()
    {
        using var factory = new ServerFactory();
        var first = await factory.UserAsync("alice");
        Assert.Equal("admin", (await first.GetJsonAsync("/api/auth/me"))["user"]!["role"]!.GetValue<string>());
        var second = await factory.UserAsync("bob");
        Assert.Equal("user", (await second.GetJsonAsync("/api/auth/me"))["user"]!["role"]!.GetValue<string>());

        var third = factory.NewClient();
        await third.RefreshCsrfAsync();
        var taken = await third.PostAsync("/api/auth/register", new { username = "ALICE", password = "another password" });
        Assert.Contains("taken", await Api.ExpectErrorAsync(taken, HttpStatusCode.Conflict));
    }

    [Fact]
    public async Task Register_rejects_bad_names_and_short_passwords()
    {
        var api = _factory.NewClient();
        await api.RefreshCsrfAsync();
        Assert.Contains("username", await Api.ExpectErrorAsync(await api.PostAsync("/api/auth/register", new { username = "a", password = "long enough pw" }), HttpStatusCode.BadRequest));
        Assert.Contains("username", await Api.ExpectErrorAsync(await api.PostAsync("/api/auth/register", new { username = "<script>", password = "long enough pw" }), HttpStatusCode.BadRequest));
        Assert.Contains("8 characters", await Api.ExpectErrorAsync(await api.PostAsync("/api/auth/register", new { username = "shortpw", password = "1234" }), HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Login_logout_and_me()
    {
        var api = await _factory.UserAsync("carol");
        await Api.ExpectAsync(await api.PostAsync("/api/auth/logout", null), HttpStatusCode.NoContent);
        Assert.Null((await api.GetJsonAsync("/api/auth/me"))["user"]);
        await Api.ExpectErrorAsync(await api.Http.GetAsync("/api/chats"), HttpStatusCode.Unauthorized);

        await Api.ExpectErrorAsync(await api.LoginAsync("carol", "wrong password"), HttpStatusCode.Unauthorized);
        await Api.ExpectAsync(await api.LoginAsync("Carol", "correct horse 1"), HttpStatusCode.OK);
        Assert.Equal("carol", (await api.GetJsonAsync("/api/auth/me"))["user"]!["username"]!.GetValue<string>());
    }

    [Fact]
    public async Task Repeated_failures_lock_the_account_with_retry_after()
    {
        var victim = await _factory.UserAsync("dave");
        var attacker = _factory.NewClient();
        for (int i = 0; i < 2; i++) await Api.ExpectErrorAsync(await attacker.LoginAsync("dave", "guess " + i), HttpStatusCode.Unauthorized);
        var locked = await attacker.LoginAsync("dave", "guess 3");
        Assert.Contains("locked", await Api.ExpectErrorAsync(locked, HttpStatusCode.TooManyRequests));
        Assert.True(locked.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        // Even the right password waits for the lockout to end.
        await Api.ExpectErrorAsync(await attacker.LoginAsync("dave", "correct horse 1"), HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task State_changing_requests_need_the_antiforgery_token()
    {
        var api = await _factory.UserAsync();
        api.Http.DefaultRequestHeaders.Remove("X-CSRF-TOKEN");
        Assert.Contains("antiforgery", await Api.ExpectErrorAsync(await api.PostAsync("/api/chats", new { }), HttpStatusCode.BadRequest));
        api.Http.DefaultRequestHeaders.Add("X-CSRF-TOKEN", "forged");
        await Api.ExpectErrorAsync(await api.PostAsync("/api/chats", new { }), HttpStatusCode.BadRequest);
        Assert.Empty((await api.GetJsonAsync("/api/chats")).AsArray());
    }

    [Fact]
    public async Task Passwords_are_stored_hashed()
    {
        await _factory.UserAsync("erin");
        var store = (ChatForge.Server.Storage.IUserRepository)_factory.Services.GetService(typeof(ChatForge.Server.Storage.IUserRepository))!;
        var user = await store.FindUserByNameAsync("erin");
        Assert.DoesNotContain("correct horse", user!.PasswordHash);
        Assert.True(Convert.FromBase64String(user.PasswordHash).Length > 40); // Identity v3 format: PBKDF2 with salt
    }

    [Fact]
    public async Task Api_keys_are_shown_once_stored_hashed_and_revocable()
    {
        var api = await _factory.UserAsync();
        var created = await Api.ExpectAsync(await api.PostAsync("/api/keys", new { name = "script" }), HttpStatusCode.Created);
        string key = created["key"]!.GetValue<string>();
        var list = (await api.GetJsonAsync("/api/keys")).AsArray();
        Assert.Single(list);
        Assert.DoesNotContain(key, list.ToJsonString());

        using var bearer = _factory.CreateClient();
        bearer.DefaultRequestHeaders.Authorization = new("Bearer", key);
        Assert.Equal(HttpStatusCode.OK, (await bearer.GetAsync("/v1/models")).StatusCode);
        await Api.ExpectAsync(await api.Http.DeleteAsync($"/api/keys/{created["id"]}"), HttpStatusCode.NoContent);
        Assert.Contains("API key", await Api.ExpectErrorAsync(await bearer.GetAsync("/v1/models"), HttpStatusCode.Unauthorized));
    }
}
