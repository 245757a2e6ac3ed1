using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ChatForge.Server.Http;
using ChatForge.Server.Storage;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace ChatForge.Server.Accounts;

/// <summary>Registration, password checks with lockout, and API keys.</summary>
public sealed partial class AccountService(IUserRepository users, IApiKeyRepository keys, IOptions<ServerOptions> options)
{
    // Identity's hasher: PBKDF2 with HMAC-SHA512 and 100,000 iterations, salted, versioned.
    static readonly PasswordHasher<UserRecord> Hasher = new();

    [GeneratedRegex(@"^[\p{L}\p{N}_.\-]{3,32}$")]
    private static partial Regex UserNamePattern();

    public async Task<UserRecord> RegisterAsync(string? userName, string? password, string? email, CancellationToken ct)
    {
        userName = userName?.Trim();
        if (string.IsNullOrEmpty(userName) || !UserNamePattern().IsMatch(userName))
            throw ApiException.BadRequest("The username must be 3–32 letters, digits, '_', '.' or '-'.", "username");
        if (string.IsNullOrEmpty(password) || password.Length < 8)
            throw ApiException.BadRequest("The password must have at least 8 characters.", "password");
        if (password.Length > 256) throw ApiException.BadRequest("The password must have at most 256 characters.", "password");
        email = string.IsNullOrWhiteSpace(email) ? null : email.Trim();
        if (email is not null && (email.Length > 254 || !email.Contains('@')))
            throw ApiException.BadRequest("The email address is not valid.", "email");
        var hash = Hasher.HashPassword(null!, password);
        return await users.CreateUserAsync(userName, email, hash, ct)
            ?? throw new ApiException(409, $"The username '{userName}' is already taken.", "invalid_request_error", "username_taken", "username");
    }

    /// <summary>Checks the password; after LockoutFailures wrong ones the account is locked for LockoutMinutes (429 with Retry-After).</summary>
    public async Task<UserRecord> LoginAsync(string? userName, string? password, CancellationToken ct)
    {
        var o = options.Value;
        var invalid = new ApiException(401, "Wrong username or password.", "authentication_error", "invalid_credentials");
        if (string.IsNullOrWhiteSpace(userName) || string.IsNullOrEmpty(password)) throw invalid;
        var user = await users.FindUserByNameAsync(userName, ct);
        if (user is null)
        {
            Hasher.HashPassword(null!, password); // same work as a real check: no timing hint that the name is free
            throw invalid;
        }
        long now = Ids.Now();
        if (user.LockoutUntil > now)
        {
            int seconds = (int)Math.Ceiling((user.LockoutUntil - now) / 1000.0);
            throw ApiException.TooMany($"Too many failed logins: the account is locked for {seconds} more seconds.", seconds, "locked_out");
        }
        var result = Hasher.VerifyHashedPassword(user, user.PasswordHash, password);
        if (result == PasswordVerificationResult.Failed)
        {
            int failures = user.FailedLogins + 1;
            long until = failures >= o.LockoutFailures ? now + o.LockoutMinutes * 60_000L : 0;
            await users.RecordLoginFailureAsync(user.Id, until > 0 ? 0 : failures, until, ct);
            if (until > 0) throw ApiException.TooMany($"Too many failed logins: the account is locked for {o.LockoutMinutes} minutes.", o.LockoutMinutes * 60, "locked_out");
            throw invalid;
        }
        if (user.Disabled) throw new ApiException(403, "This account is disabled.", "permission_error", "disabled");
        if (result == PasswordVerificationResult.SuccessRehashNeeded) await users.UpdatePasswordHashAsync(user.Id, Hasher.HashPassword(user, password), ct);
        if (user.FailedLogins > 0 || user.LockoutUntil > 0) await users.ResetLoginFailuresAsync(user.Id, ct);
        return user;
    }

    public static ClaimsPrincipal Principal(UserRecord user, string scheme) => new(new ClaimsIdentity(
    [
        new Claim(ClaimTypes.NameIdentifier, user.Id),
        new Claim(ClaimTypes.Name, user.UserName),
        new Claim(ClaimTypes.Role, user.Role),
    ], scheme));

    // ---- API keys: shown once, stored as SHA-256 (a 256-bit random key needs no slow hash) ----

    public const string KeyPrefix = "cf-";

    public static string HashKey(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public async Task<(ApiKeyRecord Record, string Key)> CreateApiKeyAsync(string userId, string? name, CancellationToken ct)
    {
        name = string.IsNullOrWhiteSpace(name) ? "key" : name.Trim();
        if (name.Length > 100) throw ApiException.BadRequest("The key name must have at most 100 characters.", "name");
        string key = KeyPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var record = await keys.CreateApiKeyAsync(userId, name, key[..10], HashKey(key), ct);
        return (record, key);
    }
}

public static class UserExtensions
{
    public static string UserId(this ClaimsPrincipal user) =>
        user.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new ApiException(401, "Log in first.", "authentication_error", "unauthenticated");
}
