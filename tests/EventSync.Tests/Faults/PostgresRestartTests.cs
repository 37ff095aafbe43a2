using System.Net;
using System.Text.Json;
using EventSync.Tests.Infrastructure;
using EventSync.Tests.Resilience;
using Npgsql;
using Xunit.Abstractions;

namespace EventSync.Tests.Faults;

/// <summary>
/// The PostgreSQL server restarted under a running serve whose store and captured source both live on it: ingest
/// answers 503 while it is gone, then the store reconnects, the capture LISTENs again and drains what it missed.
/// </summary>
[Collection(FaultTests.Name)]
public sealed class PostgresRestartTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private const string ListeningLine = "listening for changes to public.items";

    [Fact]
    public async Task A_postgres_restart_mid_flow_loses_nothing_and_the_capture_listens_again()
    {
        using var report = FaultReport.Begin("postgres-restart", "store + captured table on one server, fast shutdown and start mid-flow", 1, output);
        var dir = TempDirectory.Create();
        var store = await TestPostgres.CreateDatabaseAsync();
        var user = await TestPostgres.CreateDatabaseAsync();
        await using var receiver = await Receiver.StartAsync();
        receiver.Delay = TimeSpan.FromMilliseconds(5);
        var load = new RelayLoad(events: 300, keys: 60);
        try
        {
            await ExecuteAsync(user, "CREATE TABLE public.items (id text PRIMARY KEY, body text NOT NULL)");
            var (installed, _, installError) = await ServeProcess.RunAsync("pg", "install", "--connection", user, "--table", "public.items", "--key", "id");
            Assert.True(installed == 0, installError);
            // A poll interval far beyond the test: rows after the restart can only arrive through the drain on
            // reconnect or a NOTIFY on the new LISTEN session.
            var config = load.WriteConfig(dir, $"\"postgres:{store}\"", receiver.Url, sinkConcurrency: 4,
                extraSources: $"  items: {{ kind: postgres, connection: \"{user}\", table: public.items, pollInterval: 10m }}",
                extraFlows: "  - { name: relay-items, from: items, events: [\"*\"], key: $.key, to: relay, retry: { schedule: [200ms, 400ms, 800ms, 1s, 1s, 1s] } }");

            await using var serve = await ServeProcess.StartAsync(config);
            await Wait.UntilAsync(() => Listening(serve) >= 1, Patience, $"the capture to listen:\n{serve.Output}");
            await InsertRowsAsync(user, 0, 20);
            await load.SendPendingAsync([serve.Address], parallel: 8, CancellationToken.None, upTo: 100);
            await Wait.UntilAsync(() => RowsDelivered(receiver).Count >= 20 && RelayLoad.Delivered(receiver).Count(d => d.StartsWith("evt-", StringComparison.Ordinal)) >= 100, Patience, $"the first rows and events delivered:\n{serve.Output}");

            using var http = new HttpClient { BaseAddress = serve.Address, Timeout = TimeSpan.FromSeconds(30) };
            try
            {
                await PgServer.StopAsync();
                // While the store is gone a webhook is refused with 503 (never 202), and the same id is accepted later.
                using var refused = await http.SendAsync(SignedRequests.Standard("orders", RelayLoad.DeliveryId(100), """{"id":"order-40","seq":100}"""));
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.True(refused.Headers.RetryAfter is not null, "503 without Retry-After");
                using (var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()))
                    Assert.Equal("store_unavailable", error.RootElement.GetProperty("error").GetString());
                Assert.False(load.Acknowledged.ContainsKey(RelayLoad.DeliveryId(100)));
            }
            finally
            {
                await PgServer.EnsureRunningAsync();
            }

            // Rows written before the capture is back: only the drain on reconnect can find them.
            await InsertRowsAsync(user, 20, 40);
            await Wait.UntilAsync(() => Listening(serve) >= 2, Patience, $"the capture to LISTEN again after the restart:\n{serve.Output}");
            // Rows written after: they arrive through NOTIFY on the new session (the poll is 10 minutes away).
            await InsertRowsAsync(user, 40, 60);
            for (var round = 0; round < 20 && load.Acknowledged.Count < load.Events; round++)
                await load.SendPendingAsync([serve.Address], parallel: 8, CancellationToken.None);
            Assert.Equal(load.Events, load.Acknowledged.Count);
            await Wait.UntilAsync(() => load.AllDelivered(receiver) && RowsDelivered(receiver).Count >= 60, Patience,
                $"everything delivered after the restart (rows {RowsDelivered(receiver).Count}/60):\n{serve.Output}");

            Assert.Equal(Enumerable.Range(0, 60).Select(Row).ToHashSet(), RowsDelivered(receiver));
            Assert.Empty(Enumerable.Range(0, load.Events).Select(RelayLoad.DeliveryId).Except(RelayLoad.Delivered(receiver)));
            Assert.Equal(0, receiver.Overlaps);
            RelayLoad.AssertSignedWithIdempotencyKeys(receiver);
            RelayLoad.AssertPerKeyOrder(receiver);
            // The outbox was emptied: every captured row is in the store and nothing is left behind to re-read.
            Assert.Equal(0L, await ScalarAsync(user, "SELECT count(*) FROM eventsync.outbox"));
            Assert.Equal(60L, await ScalarAsync(store, "SELECT count(*) FROM events WHERE source = 'items'"));
            Assert.Equal((long)load.Events, await ScalarAsync(store, "SELECT count(*) FROM events WHERE source = 'orders'"));
            report.Pass();
        }
        finally
        {
            await PgServer.EnsureRunningAsync();
            await TestPostgres.DropDatabaseAsync(user);
            await TestPostgres.DropDatabaseAsync(store);
            TempDirectory.Delete(dir);
        }
    }

    private static string Row(int i) => $"row-{i:D3}";

    private static int Listening(ServeProcess serve) => serve.Output.Split('\n').Count(l => l.Contains(ListeningLine, StringComparison.Ordinal));

    private static HashSet<string> RowsDelivered(Receiver receiver)
    {
        var rows = new HashSet<string>();
        foreach (var r in receiver.Requests)
        {
            using var doc = JsonDocument.Parse(r.Body);
            if (doc.RootElement.GetProperty("data").GetProperty("flow").GetString() == "relay-items") rows.Add(r.Entity);
        }
        return rows;
    }

    private static async Task InsertRowsAsync(string database, int from, int to)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        for (var i = from; i < to; i++)
        {
            await using var insert = new NpgsqlCommand("INSERT INTO public.items (id, body) VALUES (@id, @body)", connection);
            insert.Parameters.AddWithValue("id", Row(i));
            insert.Parameters.AddWithValue("body", $"item {i}");
            await insert.ExecuteNonQueryAsync();
        }
    }

    private static async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
