using System.Data.Common;
using Npgsql;

namespace ChatForge.Server.Storage;

/// <summary>PostgreSQL: several server nodes share one database.</summary>
public sealed class PostgresStore : SqlStore, IDisposable
{
    readonly NpgsqlDataSource _dataSource;

    public PostgresStore(string connectionString) => _dataSource = NpgsqlDataSource.Create(connectionString);

    public override string Kind => "postgres";
    protected override string BigIntType => "BIGINT";
    protected override string RealType => "DOUBLE PRECISION";
    protected override DbConnection CreateConnection() => _dataSource.CreateConnection();
    protected override bool IsUniqueViolation(Exception e) => e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    protected override async Task LockForMigrationAsync(DbConnection connection, DbTransaction tx, CancellationToken ct)
    {
        await using var command = Command(connection, "SELECT pg_advisory_xact_lock(4242001)");
        command.Transaction = tx;
        await command.ExecuteNonQueryAsync(ct);
    }

    public void Dispose() => _dataSource.Dispose();
}
