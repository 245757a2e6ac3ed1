using System.Data.Common;

namespace ChatForge.Server.Storage;

public abstract partial class SqlStore
{
    const string UserColumns = "id, user_name, email, password_hash, role, created_at, failed_logins, lockout_until, disabled";

    static UserRecord MapUser(DbDataReader r) => new(r.GetString(0), r.GetString(1), Str(r, 2), r.GetString(3), r.GetString(4),
        Long(r, 5), (int)Long(r, 6), Long(r, 7), Long(r, 8) != 0);

    public static string NormalizeUserName(string userName) => userName.Trim().ToUpperInvariant();

    public async Task<int> CountUsersAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, "SELECT COUNT(*) FROM users");
        return Convert.ToInt32(await command.ExecuteScalarAsync(ct));
    }

    public async Task<UserRecord?> CreateUserAsync(string userName, string? email, string passwordHash, CancellationToken ct = default)
    {
        string id = Ids.New("u");
        try
        {
            // One statement, so two first registrations racing cannot both become admin.
            await ExecuteAsync($"""
                INSERT INTO users (id, user_name, user_name_norm, email, password_hash, role, created_at)
                SELECT @id, @name, @norm, @email, @hash,
                       CASE WHEN EXISTS (SELECT 1 FROM users) THEN '{Roles.User}' ELSE '{Roles.Admin}' END, @now
                """, ct, ("@id", id), ("@name", userName.Trim()), ("@norm", NormalizeUserName(userName)), ("@email", email),
                ("@hash", passwordHash), ("@now", Ids.Now()));
        }
        catch (Exception e) when (IsUniqueViolation(e))
        {
            return null;
        }
        return await FindUserAsync(id, ct);
    }

    public Task<UserRecord?> FindUserByNameAsync(string userName, CancellationToken ct = default) =>
        QuerySingleAsync($"SELECT {UserColumns} FROM users WHERE user_name_norm = @norm", MapUser, ct, ("@norm", NormalizeUserName(userName)));

    public Task<UserRecord?> FindUserAsync(string id, CancellationToken ct = default) =>
        QuerySingleAsync($"SELECT {UserColumns} FROM users WHERE id = @id", MapUser, ct, ("@id", id));

    public async Task<IReadOnlyList<UserRecord>> ListUsersAsync(CancellationToken ct = default) =>
        await QueryAsync($"SELECT {UserColumns} FROM users ORDER BY created_at", MapUser, ct);

    public Task RecordLoginFailureAsync(string id, int failures, long lockoutUntil, CancellationToken ct = default) =>
        ExecuteAsync("UPDATE users SET failed_logins = @f, lockout_until = @l WHERE id = @id", ct, ("@f", (long)failures), ("@l", lockoutUntil), ("@id", id));

    public Task ResetLoginFailuresAsync(string id, CancellationToken ct = default) =>
        ExecuteAsync("UPDATE users SET failed_logins = 0, lockout_until = 0 WHERE id = @id", ct, ("@id", id));

    public async Task<bool> SetRoleAsync(string id, string role, CancellationToken ct = default) =>
        await ExecuteAsync("UPDATE users SET role = @role WHERE id = @id", ct, ("@role", role), ("@id", id)) > 0;

    public async Task<bool> SetDisabledAsync(string id, bool disabled, CancellationToken ct = default) =>
        await ExecuteAsync("UPDATE users SET disabled = @d WHERE id = @id", ct, ("@d", disabled ? 1L : 0L), ("@id", id)) > 0;

    public Task UpdatePasswordHashAsync(string id, string hash, CancellationToken ct = default) =>
        ExecuteAsync("UPDATE users SET password_hash = @h WHERE id = @id", ct, ("@h", hash), ("@id", id));

    // ---- API keys ----

    static ApiKeyRecord MapKey(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), Long(r, 4), LongOrNull(r, 5));

    public async Task<ApiKeyRecord> CreateApiKeyAsync(string userId, string name, string prefix, string keyHash, CancellationToken ct = default)
    {
        var key = new ApiKeyRecord(Ids.New("key"), userId, name, prefix, Ids.Now(), null);
        await ExecuteAsync("INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at) VALUES (@id, @u, @n, @p, @h, @t)", ct,
            ("@id", key.Id), ("@u", userId), ("@n", name), ("@p", prefix), ("@h", keyHash), ("@t", key.CreatedAt));
        return key;
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(string userId, CancellationToken ct = default) =>
        await QueryAsync("SELECT id, user_id, name, prefix, created_at, last_used_at FROM api_keys WHERE user_id = @u ORDER BY created_at", MapKey, ct, ("@u", userId));

    public async Task<bool> DeleteApiKeyAsync(string userId, string id, CancellationToken ct = default) =>
        await ExecuteAsync("DELETE FROM api_keys WHERE id = @id AND user_id = @u", ct, ("@id", id), ("@u", userId)) > 0;

    public async Task<UserRecord?> FindUserByApiKeyHashAsync(string keyHash, CancellationToken ct = default)
    {
        var user = await QuerySingleAsync($"SELECT {string.Join(", ", UserColumns.Split(", ").Select(c => "u." + c))} FROM users u JOIN api_keys k ON k.user_id = u.id WHERE k.key_hash = @h",
            MapUser, ct, ("@h", keyHash));
        if (user is not null) await ExecuteAsync("UPDATE api_keys SET last_used_at = @t WHERE key_hash = @h", ct, ("@t", Ids.Now()), ("@h", keyHash));
        return user;
    }

    // ---- usage ----

    public async Task<long> GetTokensUsedAsync(string userId, string day, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, "SELECT tokens FROM usage WHERE user_id = @u AND day = @d", ("@u", userId), ("@d", day));
        var value = await command.ExecuteScalarAsync(ct);
        return value is null or DBNull ? 0 : Convert.ToInt64(value);
    }

    public Task AddTokensAsync(string userId, string day, long tokens, CancellationToken ct = default) =>
        ExecuteAsync("INSERT INTO usage (user_id, day, tokens) VALUES (@u, @d, @n) ON CONFLICT (user_id, day) DO UPDATE SET tokens = usage.tokens + excluded.tokens",
            ct, ("@u", userId), ("@d", day), ("@n", tokens));
}
