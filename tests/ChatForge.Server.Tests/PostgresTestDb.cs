using Npgsql;

namespace ChatForge.Server.Tests;

/// <summary>
/// A throw-away schema in the test PostgreSQL database: env CHATFORGE_TEST_POSTGRES, else the role and
/// database .ci/setup creates (chatforge_test on localhost). When no server answers, tests skip with the reason.
/// </summary>
public sealed class PostgresTestDb : IDisposable
{
    const string Default = "Host=localhost;Username=chatforge_test;Password=chatforge_test;Database=chatforge_test";
    static readonly Lazy<string?> Unavailable = new(Probe);

    public string ConnectionString { get; }
    readonly string _schema;

    static string Base => Environment.GetEnvironmentVariable("CHATFORGE_TEST_POSTGRES") is { Length: > 0 } cs ? cs : Default;

    static string? Probe()
    {
        // Three tries with a 10-second timeout: on a loaded machine (tests in parallel, a training run) a first connection
        // once took longer than the 3 seconds this used to allow, and every PostgreSQL test was skipped.
        string? reason = null;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Base) { Timeout = 10 }.ConnectionString);
                connection.Open();
                return null;
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or System.Net.Sockets.SocketException or TimeoutException)
            {
                reason = $"PostgreSQL not reachable ({e.Message}); run .ci/setup or set CHATFORGE_TEST_POSTGRES.";
                Thread.Sleep(1000);
            }
        }
        return reason;
    }

    /// <summary>Skips the calling test when PostgreSQL is not available.</summary>
    public static PostgresTestDb Create()
    {
        Skip.If(Unavailable.Value is not null, Unavailable.Value);
        return new PostgresTestDb();
    }

    PostgresTestDb()
    {
        _schema = "t_" + Guid.NewGuid().ToString("N")[..12];
        Execute($"CREATE SCHEMA {_schema}");
        ConnectionString = new NpgsqlConnectionStringBuilder(Base) { SearchPath = _schema, Pooling = false }.ConnectionString;
    }

    static void Execute(string sql)
    {
        using var connection = new NpgsqlConnection(Base);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        try { Execute($"DROP SCHEMA {_schema} CASCADE"); } catch (NpgsqlException) { }
    }
}
