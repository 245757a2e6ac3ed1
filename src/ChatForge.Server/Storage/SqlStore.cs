using System.Data.Common;

namespace ChatForge.Server.Storage;

/// <summary>
/// The repositories in plain ADO.NET. The SQL is written once in the subset SQLite and PostgreSQL share
/// (@name parameters, INSERT … ON CONFLICT); the subclasses open connections, name column types and
/// recognise constraint violations.
/// </summary>
public abstract partial class SqlStore : IUserRepository, IApiKeyRepository, IChatRepository, IFeedbackRepository, ITrainerRepository, IUsageRepository
{
    public abstract string Kind { get; }
    protected abstract DbConnection CreateConnection();
    /// <summary>Column type for 64-bit integers and for floating point numbers.</summary>
    protected abstract string BigIntType { get; }
    protected abstract string RealType { get; }
    protected abstract bool IsUniqueViolation(Exception e);
    /// <summary>Runs inside the migration transaction before anything else (PostgreSQL: an advisory lock so two nodes do not migrate at once).</summary>
    protected virtual Task LockForMigrationAsync(DbConnection connection, DbTransaction tx, CancellationToken ct) => Task.CompletedTask;
    protected virtual Task OnOpenedAsync(DbConnection connection, CancellationToken ct) => Task.CompletedTask;

    protected async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = CreateConnection();
        await connection.OpenAsync(ct);
        await OnOpenedAsync(connection, ct);
        return connection;
    }

    protected static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            command.Parameters.Add(p);
        }
        return command;
    }

    protected async Task<int> ExecuteAsync(string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(ct);
    }

    protected async Task<List<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<T>();
        while (await reader.ReadAsync(ct)) rows.Add(map(reader));
        return rows;
    }

    protected async Task<T?> QuerySingleAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken ct, params (string, object?)[] parameters) where T : class
        => (await QueryAsync(sql, map, ct, parameters)).FirstOrDefault();

    protected static string? Str(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
    protected static long Long(DbDataReader r, int i) => r.IsDBNull(i) ? 0 : Convert.ToInt64(r.GetValue(i));
    protected static long? LongOrNull(DbDataReader r, int i) => r.IsDBNull(i) ? null : Convert.ToInt64(r.GetValue(i));
    protected static double? DoubleOrNull(DbDataReader r, int i) => r.IsDBNull(i) ? null : Convert.ToDouble(r.GetValue(i));

    // ---- schema ----

    const int SchemaVersion = 1;

    string[] SchemaV1() =>
    [
        $"""
        CREATE TABLE users (id TEXT PRIMARY KEY, user_name TEXT NOT NULL, user_name_norm TEXT NOT NULL UNIQUE, email TEXT,
          password_hash TEXT NOT NULL, role TEXT NOT NULL, created_at {BigIntType} NOT NULL, failed_logins {BigIntType} NOT NULL DEFAULT 0,
          lockout_until {BigIntType} NOT NULL DEFAULT 0, disabled {BigIntType} NOT NULL DEFAULT 0)
        """,
        $"""
        CREATE TABLE api_keys (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, name TEXT NOT NULL,
          prefix TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, created_at {BigIntType} NOT NULL, last_used_at {BigIntType})
        """,
        $"""
        CREATE TABLE chats (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, title TEXT NOT NULL,
          system_prompt TEXT, temperature {RealType}, model TEXT, current_leaf TEXT, created_at {BigIntType} NOT NULL, updated_at {BigIntType} NOT NULL)
        """,
        "CREATE INDEX chats_by_user ON chats(user_id, updated_at)",
        $"""
        CREATE TABLE messages (id TEXT PRIMARY KEY, chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE, parent_id TEXT,
          role TEXT NOT NULL, content TEXT NOT NULL, status TEXT NOT NULL, model_version TEXT, token_count {BigIntType} NOT NULL DEFAULT 0,
          created_at {BigIntType} NOT NULL, seq {BigIntType} NOT NULL)
        """,
        "CREATE INDEX messages_by_chat ON messages(chat_id, seq)",
        $"""
        CREATE TABLE feedback (message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          rating {BigIntType} NOT NULL, comment TEXT, model_version TEXT, updated_at {BigIntType} NOT NULL, PRIMARY KEY (message_id, user_id))
        """,
        $"""
        CREATE TABLE demonstrations (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, lang TEXT NOT NULL,
          messages_json TEXT NOT NULL, created_at {BigIntType} NOT NULL)
        """,
        $"""
        CREATE TABLE rankings (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, lang TEXT NOT NULL,
          messages_json TEXT NOT NULL, answers_json TEXT NOT NULL, created_at {BigIntType} NOT NULL)
        """,
        $"""
        CREATE TABLE usage (user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, day TEXT NOT NULL, tokens {BigIntType} NOT NULL,
          PRIMARY KEY (user_id, day))
        """,
    ];

    /// <summary>Creates or upgrades the schema; safe to call from several nodes at once.</summary>
    public async Task MigrateAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await LockForMigrationAsync(connection, tx, ct);
        await using (var create = Command(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
        {
            create.Transaction = tx;
            await create.ExecuteNonQueryAsync(ct);
        }
        long current;
        await using (var read = Command(connection, "SELECT MAX(version) FROM schema_version"))
        {
            read.Transaction = tx;
            var value = await read.ExecuteScalarAsync(ct);
            current = value is null or DBNull ? 0 : Convert.ToInt64(value);
        }
        if (current > SchemaVersion)
            throw new InvalidOperationException($"The {Kind} database has schema version {current}, newer than this server understands ({SchemaVersion}). Upgrade the server.");
        if (current < 1)
        {
            foreach (var sql in SchemaV1())
            {
                await using var command = Command(connection, sql);
                command.Transaction = tx;
                await command.ExecuteNonQueryAsync(ct);
            }
            await using var mark = Command(connection, "INSERT INTO schema_version (version) VALUES (1)");
            mark.Transaction = tx;
            await mark.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }
}
