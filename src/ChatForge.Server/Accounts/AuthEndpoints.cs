using System.Security.Claims;
using ChatForge.Server.Models;
using ChatForge.Server.Storage;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace ChatForge.Server.Accounts;

public sealed record RegisterRequest(string? Username, string? Password, string? Email);
public sealed record LoginRequest(string? Username, string? Password);
public sealed record CreateKeyRequest(string? Name);

public static class AuthEndpoints
{
    public static object UserView(UserRecord u) => new { id = u.Id, username = u.UserName, email = u.Email, role = u.Role, created_at = u.CreatedAt, disabled = u.Disabled };

    public static void MapAuthEndpoints(this WebApplication app)
    {
        var auth = app.MapGroup("/api/auth");

        // The browser fetches a token after loading the page and after logging in (tokens are bound to the user).
        auth.MapGet("/csrf", (HttpContext context, IAntiforgery antiforgery) =>
            Results.Ok(new { token = antiforgery.GetAndStoreTokens(context).RequestToken }));

        auth.MapPost("/register", async (RegisterRequest body, AccountService accounts, HttpContext context, CancellationToken ct) =>
        {
            var user = await accounts.RegisterAsync(body.Username, body.Password, body.Email, ct);
            await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, AccountService.Principal(user, CookieAuthenticationDefaults.AuthenticationScheme));
            return Results.Created("/api/auth/me", new { user = UserView(user) });
        });

        auth.MapPost("/login", async (LoginRequest body, AccountService accounts, HttpContext context, CancellationToken ct) =>
        {
            var user = await accounts.LoginAsync(body.Username, body.Password, ct);
            await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, AccountService.Principal(user, CookieAuthenticationDefaults.AuthenticationScheme));
            return Results.Ok(new { user = UserView(user) });
        });

        auth.MapPost("/logout", async (HttpContext context) =>
        {
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.NoContent();
        });

        // Open to everyone: the page asks who is logged in and whether a model is loaded.
        auth.MapGet("/me", async (ClaimsPrincipal principal, IUserRepository users, ModelRegistry models, QuotaService quota, Microsoft.Extensions.Options.IOptions<ServerOptions> options, CancellationToken ct) =>
        {
            UserRecord? user = principal.FindFirstValue(ClaimTypes.NameIdentifier) is { } id ? await users.FindUserAsync(id, ct) : null;
            var o = options.Value;
            return Results.Ok(new
            {
                user = user is null ? null : UserView(user),
                model = models.TryGet(null) is { } m ? new { name = m.Name, version = m.Version, context_length = m.ContextLength } : null,
                model_error = models.TryGet(null) is null ? models.LocalLoadError ?? "no model configured" : null,
                models = models.All.Select(b => b.Name),
                limits = new
                {
                    max_answer_tokens = o.MaxAnswerTokens, max_message_chars = o.MaxMessageChars, daily_token_quota = o.DailyTokenQuota,
                    tokens_used_today = user is null ? 0 : await quota.UsedTodayAsync(user.Id, ct),
                },
            });
        });

        var keys = app.MapGroup("/api/keys").RequireAuthorization();
        keys.MapGet("/", async (ClaimsPrincipal principal, IApiKeyRepository repo, CancellationToken ct) =>
            Results.Ok((await repo.ListApiKeysAsync(principal.UserId(), ct)).Select(k => new { id = k.Id, name = k.Name, prefix = k.Prefix, created_at = k.CreatedAt, last_used_at = k.LastUsedAt })));
        keys.MapPost("/", async (CreateKeyRequest? body, ClaimsPrincipal principal, AccountService accounts, CancellationToken ct) =>
        {
            var (record, key) = await accounts.CreateApiKeyAsync(principal.UserId(), body?.Name, ct);
            return Results.Created($"/api/keys/{record.Id}", new { id = record.Id, name = record.Name, prefix = record.Prefix, key });
        });
        keys.MapDelete("/{id}", async (string id, ClaimsPrincipal principal, IApiKeyRepository repo, CancellationToken ct) =>
            await repo.DeleteApiKeyAsync(principal.UserId(), id, ct) ? Results.NoContent() : throw Http.ApiException.NotFound("API key"));
    }
}
