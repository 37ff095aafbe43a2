using System.Net;
using System.Text.Json;
using EventSync.Tests.Infrastructure;
using EventSync.Tests.Resilience;
using Npgsql;
using Xunit.Abstractions;

namespace EventSync.Tests.Faults;

/// <summary>
/// The store refuses writes under a running serve: SQLite on a full disk (RLIMIT_FSIZE, which stops root too, unlike
/// file permissions) and a PostgreSQL database switched to read-only. Ingest must answer 503 with Retry-After and a
/// JSON error, never 202; the refused delivery must not count as seen; after recovery its redelivery is accepted
/// and everything acknowledged before is still there and delivered.
/// </summary>
[Collection(FaultTests.Name)]
public sealed class StoreFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Sqlite_on_a_full_disk_answers_503_and_loses_nothing_acknowledged()
    {
        using var report = FaultReport.Begin("store-unavailable", "SQLite store on a full disk (RLIMIT_FSIZE on serve)", 1, output);
        var dir = TempDirectory.Create();
        await using var receiver = await Receiver.StartAsync();
        var load = new RelayLoad(events: 100, keys: 20);
        var config = load.WriteConfig(dir, $"sqlite:{Path.Combine(dir, "eventsync.db")}", receiver.Url, sinkConcurrency: 4);
        try
        {
            await using (var serve = await ServeProcess.StartAsync(config, adjust: FileSizeLimit.IgnoreSignal))
            {
                await SendAllAsync(load, serve, upTo: 50);
                // No file of the store may grow by a byte: every commit fails as on a full disk.
                await FileSizeLimit.SetAsync(serve.Id, "1");
                await AssertRefusedAsync(serve, 50, 51, 52);

                await FileSizeLimit.SetAsync(serve.Id, "unlimited");
                await AssertAcceptedAfterRecoveryAsync(load, serve, 50);
                await SendAllAsync(load, serve, upTo: load.Events);
                await Wait.UntilAsync(() => load.AllDelivered(receiver), Patience, $"every event delivered after the disk recovered:\n{serve.Output}");
                Assert.False(serve.HasExited, "serve died on the full disk (SIGXFSZ not ignored?)");
            }
            // serve is gone (kill -9 on dispose): what it acknowledged is in the file, once each.
            var (exit, stdout, stderr) = await ServeProcess.RunAsync("events", "list", "-c", config, "--json", "--limit", "5000");
            Assert.True(exit == 0, stderr);
            using var events = JsonDocument.Parse(stdout);
            var ids = events.RootElement.EnumerateArray().Select(e => e.GetProperty("deliveryId").GetString()!).ToList();
            Assert.Equal(Enumerable.Range(0, load.Events).Select(RelayLoad.DeliveryId).ToHashSet(), ids.ToHashSet());
            Assert.Equal(load.Events, ids.Count);
            RelayLoad.AssertSignedWithIdempotencyKeys(receiver);
            report.Pass();
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task A_read_only_postgres_store_answers_503_and_loses_nothing_acknowledged()
    {
        using var report = FaultReport.Begin("store-unavailable", "PostgreSQL store switched to default_transaction_read_only", 1, output);
        var dir = TempDirectory.Create();
        var database = await TestPostgres.CreateDatabaseAsync();
        var name = new NpgsqlConnectionStringBuilder(database).Database!;
        await using var receiver = await Receiver.StartAsync();
        var load = new RelayLoad(events: 60, keys: 20);
        var config = load.WriteConfig(dir, $"postgres:{database}", receiver.Url, sinkConcurrency: 4);
        try
        {
            await using var serve = await ServeProcess.StartAsync(config);
            await SendAllAsync(load, serve, upTo: 30);

            await SetReadOnlyAsync(name, true);
            await AssertRefusedAsync(serve, 30, 31, 32);
            await SetReadOnlyAsync(name, false);

            await AssertAcceptedAfterRecoveryAsync(load, serve, 30);
            await SendAllAsync(load, serve, upTo: load.Events);
            await Wait.UntilAsync(() => load.AllDelivered(receiver), Patience, $"every event delivered after the store recovered:\n{serve.Output}");
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync();
            await using var count = new NpgsqlCommand("SELECT count(*), count(DISTINCT delivery_id) FROM events", connection);
            await using var reader = await count.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(load.Events, reader.GetInt64(0));
            Assert.Equal(load.Events, reader.GetInt64(1));
            report.Pass();
        }
        finally
        {
            await SetReadOnlyAsync(name, false);
            await TestPostgres.DropDatabaseAsync(database);
            TempDirectory.Delete(dir);
        }
    }

    /// <summary>A real read-only store: new sessions start read-only, and the existing ones are ended so none keeps writing.</summary>
    private static async Task SetReadOnlyAsync(string database, bool readOnly)
    {
        await using var admin = new NpgsqlConnection(TestPostgres.AdminConnectionString);
        await admin.OpenAsync();
        await using (var alter = new NpgsqlCommand($"ALTER DATABASE {database} SET default_transaction_read_only = {(readOnly ? "on" : "off")}", admin))
            await alter.ExecuteNonQueryAsync();
        await using var terminate = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @db AND pid <> pg_backend_pid()", admin);
        terminate.Parameters.AddWithValue("db", database);
        await terminate.ExecuteScalarAsync();
    }

    private static async Task SendAllAsync(RelayLoad load, ServeProcess serve, int upTo)
    {
        for (var round = 0; round < 20 && load.Acknowledged.Count < upTo; round++)
            await load.SendPendingAsync([serve.Address], parallel: 8, CancellationToken.None, upTo);
        Assert.Equal(upTo, load.Acknowledged.Count);
    }

    private static async Task AssertRefusedAsync(ServeProcess serve, params int[] events)
    {
        using var http = new HttpClient { BaseAddress = serve.Address, Timeout = TimeSpan.FromSeconds(30) };
        foreach (var i in events)
        {
            using var response = await http.SendAsync(SignedRequests.Standard("orders", RelayLoad.DeliveryId(i), Body(i)));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"event {i} answered {(int)response.StatusCode} instead of 503: {body}");
            Assert.True(response.Headers.RetryAfter is not null, "503 without Retry-After");
            using var error = JsonDocument.Parse(body);
            Assert.Equal("store_unavailable", error.RootElement.GetProperty("error").GetString());
            Assert.Contains("retry", error.RootElement.GetProperty("message").GetString()!, StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>The refused delivery was not marked seen: once the store is back its redelivery is a new event, not a duplicate.</summary>
    private static async Task AssertAcceptedAfterRecoveryAsync(RelayLoad load, ServeProcess serve, int i)
    {
        using var http = new HttpClient { BaseAddress = serve.Address, Timeout = TimeSpan.FromSeconds(30) };
        JsonElement accepted = default;
        // The first attempts may still meet a session that died with the fault; a sender retries on 503.
        await Wait.UntilAsync(async () =>
        {
            using var response = await http.SendAsync(SignedRequests.Standard("orders", RelayLoad.DeliveryId(i), Body(i)));
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable) return false;
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            accepted = doc.RootElement.Clone();
            return true;
        }, Patience, $"the store to accept writes again:\n{serve.Output}");
        Assert.False(accepted.GetProperty("duplicate").GetBoolean(), "a delivery refused with 503 was remembered as seen");
        load.Acknowledged[RelayLoad.DeliveryId(i)] = true;
    }

    /// <summary>The same body RelayLoad sends for event i (keys 20), so a redelivery is byte for byte what a sender would resend.</summary>
    private static string Body(int i) => $$"""{"id":"order-{{i % 20}}","seq":{{i}},"note":"{{new string('x', 200)}}"}""";
}
