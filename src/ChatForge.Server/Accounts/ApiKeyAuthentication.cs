using System.Text.Encodings.Web;
using ChatForge.Server.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace ChatForge.Server.Accounts;

/// <summary>"Authorization: Bearer cf-…" with a per-user API key (the OpenAI API and scripts).</summary>
public sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IApiKeyRepository keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return AuthenticateResult.NoResult();
        string key = header["Bearer ".Length..].Trim();
        var user = await keys.FindUserByApiKeyHashAsync(AccountService.HashKey(key), Context.RequestAborted);
        if (user is null) return AuthenticateResult.Fail("Invalid API key.");
        if (user.Disabled) return AuthenticateResult.Fail("This account is disabled.");
        return AuthenticateResult.Success(new AuthenticationTicket(AccountService.Principal(user, SchemeName), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        Http.ErrorHandling.WriteErrorAsync(Context, 401, "Incorrect or missing API key: send 'Authorization: Bearer <key>' (create keys under Settings → API keys).",
            "invalid_request_error", "invalid_api_key");

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Http.ErrorHandling.WriteErrorAsync(Context, 403, "This key's user lacks the role for this request.", "permission_error", "forbidden");
}
