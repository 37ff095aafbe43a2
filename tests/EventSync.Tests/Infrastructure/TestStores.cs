using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Storage;
using Npgsql;

namespace EventSync.Tests.Infrastructure;

/// <summary>A real store for one test: a fresh SQLite file, or a fresh database on the PostgreSQL the test script started.</summary>
public sealed class TestStore : IAsyncDisposable
{
    private readonly Func<Task> _cleanup;

    private TestStore(IEventStore store, StoreLocation location, Func<Task> cleanup)
    {
        Store = store;
        Location = location;
        _cleanup = cleanup;
    }

    public IEventStore Store { get; }
    public StoreLocation Location { get; }

    public static async Task<TestStore> CreateAsync(StoreKind kind)
    {
        if (kind == StoreKind.Sqlite)
        {
            var dir = TempDirectory.Create();
            var location = new StoreLocation(StoreKind.Sqlite, Path.Combine(dir, "eventsync.db"));
            var store = EventStoreFactory.Open(location);
            await store.MigrateAsync(CancellationToken.None);
            return new TestStore(store, location, () =>
            {
                TempDirectory.Delete(dir);
                return Task.CompletedTask;
            });
        }
        var connection = await TestPostgres.CreateDatabaseAsync();
        var pgLocation = new StoreLocation(StoreKind.Postgres, connection);
        var pgStore = EventStoreFactory.Open(pgLocation);
        await pgStore.MigrateAsync(CancellationToken.None);
        return new TestStore(pgStore, pgLocation, () => TestPostgres.DropDatabaseAsync(connection));
    }

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        await _cleanup();
    }
}

public static class TestPostgres
{
    public const string Variable = "EVENTSYNC_TEST_POSTGRES";

    /// <summary>The server the test script (./test.sh) started. Missing means the tests were not run the documented way.</summary>
    public static string AdminConnectionString =>
        Environment.GetEnvironmentVariable(Variable)
        ?? throw new InvalidOperationException($"{Variable} is not set: run the tests with ./test.sh, which starts a throwaway PostgreSQL server and sets it.");

    public static async Task<string> CreateDatabaseAsync()
    {
        var name = "es_" + Guid.NewGuid().ToString("N")[..16];
        await using (var admin = new NpgsqlConnection(AdminConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    public static async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(AdminConnectionString);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}

public static class TempDirectory
{
    public static string Create()
    {
        var dir = Path.Combine(Path.GetTempPath(), "eventsync-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void Delete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // A process still holds a file; the OS temp cleaner gets it.
        }
    }
}
