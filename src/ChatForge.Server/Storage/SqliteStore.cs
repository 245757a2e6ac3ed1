using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace ChatForge.Server.Storage;

/// <summary>SQLite in WAL mode: readers do not block the writer, which suits one server process.</summary>
public sealed class SqliteStore : SqlStore
{
    readonly string _connectionString;

    public SqliteStore(string connectionString) => _connectionString = connectionString;

    public static SqliteStore ForFile(string path) => new(new SqliteConnectionStringBuilder
    {
        DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Cache = SqliteCacheMode.Private, Pooling = true, DefaultTimeout = 30,
    }.ToString());

    public override string Kind => "sqlite";
    protected override string BigIntType => "INTEGER";
    protected override string RealType => "REAL";
    protected override DbConnection CreateConnection() => new SqliteConnection(_connectionString);
    protected override bool IsUniqueViolation(Exception e) => e is SqliteException { SqliteErrorCode: 19 };

    protected override async Task OnOpenedAsync(DbConnection connection, CancellationToken ct)
    {
        // journal_mode is stored in the file; busy_timeout and synchronous are per connection.
        await using var command = Command(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;");
        await command.ExecuteNonQueryAsync(ct);
    }
}
