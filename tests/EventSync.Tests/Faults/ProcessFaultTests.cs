using System.Globalization;
using System.Text.Json;
using EventSync.Tests.Infrastructure;
using EventSync.Tests.Resilience;
using Microsoft.AspNetCore.Http;
using Npgsql;
using Xunit.Abstractions;

namespace EventSync.Tests.Faults;

/// <summary>
/// The real CLI process under abuse: kill -9 at random points while a backlog drains, and two or three processes
/// sharing one PostgreSQL store while one of them is killed.
/// </summary>
[Collection(FaultTests.Name)]
public sealed class ProcessFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    /// <summary>EVENTSYNC_FAULT_SEED replays a run; otherwise a fresh seed, printed and kept in the report.</summary>
    public static int Seed() =>
        int.TryParse(Environment.GetEnvironmentVariable("EVENTSYNC_FAULT_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : Random.Shared.Next();

    [Fact]
    public async Task Ten_kill_9s_at_random_points_of_a_backlog_lose_nothing_and_never_run_a_key_twice_at_once()
    {
        const int Kills = 10;
        const int PerRound = 100;
        var seed = Seed();
        var random = new Random(seed);
        output.WriteLine($"seed {seed} (EVENTSYNC_FAULT_SEED={seed} replays it)");
        using var report = FaultReport.Begin("kill-9", "serve on SQLite, backlog draining to a webhook", Kills, output);
        report.Detail = $"(seed {seed})";

        var dir = TempDirectory.Create();
        await using var receiver = await Receiver.StartAsync();
        receiver.Delay = TimeSpan.FromMilliseconds(20);
        // The receiver itself fires the kill at the chosen sink call: polling would let the backlog drain meanwhile.
        var killAt = int.MaxValue;
        var killNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Respond = _ =>
        {
            if (receiver.Requests.Count >= Volatile.Read(ref killAt)) Volatile.Read(ref killNow).TrySetResult();
            return Results.Ok();
        };
        // Each round adds new events while the last round's backlog drains, so every kill meets pending and running work.
        var load = new RelayLoad(events: Kills * PerRound, keys: 150);
        var config = load.WriteConfig(dir, $"sqlite:{Path.Combine(dir, "eventsync.db")}", receiver.Url, sinkConcurrency: 4);
        try
        {
            var backlogs = new List<(int Pending, int Running)>();
            for (var crash = 0; crash < Kills; crash++)
            {
                // The random point: how many sink calls to let through first, and whether the sender is still posting.
                var after = random.Next(1, 40);
                var whileSending = random.Next(2) == 0;
                output.WriteLine($"kill {crash + 1}: after {after} sink calls, {(whileSending ? "while ingesting" : "after ingest, while draining")}");
                var process = await ServeProcess.StartAsync(config);
                Volatile.Write(ref killNow, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                Volatile.Write(ref killAt, receiver.Requests.Count + after);
                var sending = load.SendPendingAsync([process.Address], parallel: 8, CancellationToken.None, upTo: (crash + 1) * PerRound);
                if (!whileSending) await sending.WaitAsync(Patience);
                if (receiver.Requests.Count < Volatile.Read(ref killAt))
                    await killNow.Task.WaitAsync(Patience).ContinueWith(t => Assert.True(t.IsCompletedSuccessfully, $"seed {seed}: no sink call {after} before kill {crash + 1}:\n{process.Output}"), TaskScheduler.Default);
                await process.KillHardAsync();
                await process.DisposeAsync();
                await sending.WaitAsync(Patience);
                backlogs.Add(await QueueAsync(config));
            }
            // Each kill must have hit a real backlog, some with jobs claimed by the killed process, or it proved nothing.
            Assert.All(backlogs, b => Assert.True(b.Pending + b.Running > 0, $"seed {seed}: backlog at kill: {b}"));
            Assert.Contains(backlogs, b => b.Running > 0);

            await using (var last = await ServeProcess.StartAsync(config))
            {
                for (var round = 0; round < 5 && load.Acknowledged.Count < load.Events; round++)
                    await load.SendPendingAsync([last.Address], parallel: 8, CancellationToken.None);
                Assert.Equal(load.Events, load.Acknowledged.Count);
                await Wait.UntilAsync(() => load.AllDelivered(receiver), Patience, $"seed {seed}: every event delivered after the last restart:\n{last.Output}");
            }

            var missing = Enumerable.Range(0, load.Events).Select(RelayLoad.DeliveryId).Except(RelayLoad.Delivered(receiver)).ToList();
            Assert.Empty(missing);
            Assert.Equal(0, receiver.Overlaps);
            RelayLoad.AssertSignedWithIdempotencyKeys(receiver);
            RelayLoad.AssertPerKeyOrder(receiver);

            // Resending after a crash must not have stored anything twice: one event per delivery id.
            var (exit, stdout, stderr) = await ServeProcess.RunAsync("events", "list", "-c", config, "--json", "--limit", "5000");
            Assert.True(exit == 0, stderr);
            using var events = JsonDocument.Parse(stdout);
            var ids = events.RootElement.EnumerateArray().Select(e => e.GetProperty("deliveryId").GetString()).ToList();
            Assert.Equal(load.Events, ids.Count);
            Assert.Equal(load.Events, ids.Distinct().Count());
            report.Detail = $"(seed {seed}; backlog pending+running at each kill: {string.Join(' ', backlogs.Select(b => b.Pending + b.Running))}; {receiver.Requests.Count} sink calls)";
            report.Pass();
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Serve_processes_on_one_postgres_share_a_backlog_and_a_killed_ones_leased_jobs_finish_elsewhere(int processes)
    {
        using var report = FaultReport.Begin("multi-process", $"{processes} serve processes on PostgreSQL, one killed with leased jobs", 1, output);
        var dir = TempDirectory.Create();
        var database = await TestPostgres.CreateDatabaseAsync();
        await using var receiver = await Receiver.StartAsync();
        // Long enough that jobs the victim was seen holding are still in flight when the kill lands a moment later.
        receiver.Delay = TimeSpan.FromMilliseconds(100);
        var load = new RelayLoad(events: 600, keys: 40);
        var config = load.WriteConfig(dir, $"postgres:{database}", receiver.Url, sinkConcurrency: 8);
        var servers = new List<ServeProcess>();
        try
        {
            var (migrated, _, migrateError) = await ServeProcess.RunAsync("migrate", "-c", config);
            Assert.True(migrated == 0, migrateError);
            servers.AddRange(await Task.WhenAll(Enumerable.Range(0, processes).Select(_ => ServeProcess.StartAsync(config))));
            var victim = servers[0];
            var survivors = servers.Skip(1).ToList();

            var sending = load.SendPendingAsync([.. servers.Select(s => s.Address)], parallel: 8, CancellationToken.None);
            // Kill the victim as soon as it holds leases, while the sender still posts: those jobs are mid-attempt
            // and only lease expiry can free them.
            long[] leased = [];
            await Wait.UntilAsync(async () => (leased = await LeasedByAsync(database, victim.Id)).Length > 0 || load.AllDelivered(receiver), Patience, "the victim to hold a lease");
            Assert.NotEmpty(leased);
            await victim.KillHardAsync();
            leased = await LeasedByAsync(database, victim.Id);
            Assert.True(leased.Length > 0, "the victim released its leases just before the kill; nothing to reclaim");
            await sending.WaitAsync(Patience);
            output.WriteLine($"killed pid {victim.Id} holding leases on jobs {string.Join(',', leased)}");

            for (var round = 0; round < 5 && load.Acknowledged.Count < load.Events; round++)
                await load.SendPendingAsync([.. survivors.Select(s => s.Address)], parallel: 8, CancellationToken.None);
            Assert.Equal(load.Events, load.Acknowledged.Count);
            await Wait.UntilAsync(() => load.AllDelivered(receiver), Patience, $"every event delivered:\n{string.Join('\n', survivors.Select(s => s.Output))}");

            Assert.Equal(0, receiver.Overlaps);
            RelayLoad.AssertPerKeyOrder(receiver);
            RelayLoad.AssertSignedWithIdempotencyKeys(receiver);

            var runs = await RunsAsync(database);
            // Work was shared: every process that lived ran jobs.
            foreach (var s in survivors) Assert.Contains(runs, r => r.Worker.Contains($":{s.Id}:", StringComparison.Ordinal) && r.Outcome == "succeeded");
            // Every job the victim held was reclaimed (an abandoned run in its name), and its key then succeeded on another process.
            foreach (var job in leased)
            {
                var abandoned = runs.FirstOrDefault(r => r.JobId == job && r.Outcome == "abandoned");
                Assert.True(abandoned is not null, $"job {job} held by the killed process was never reclaimed");
                Assert.Contains(runs, r => r.EntityKey == abandoned.EntityKey && r.Outcome == "succeeded" && r.Id > abandoned.Id && !r.Worker.Contains($":{victim.Id}:", StringComparison.Ordinal));
            }
            report.Detail = $"({leased.Length} leased job(s) reclaimed, {runs.Count} runs)";
            report.Pass();
        }
        finally
        {
            foreach (var s in servers) await s.DisposeAsync();
            await TestPostgres.DropDatabaseAsync(database);
            TempDirectory.Delete(dir);
        }
    }

    private sealed record RunRow(long Id, long JobId, string EntityKey, string Worker, string Outcome);

    private static async Task<long[]> LeasedByAsync(string database, int pid)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id FROM jobs WHERE status = 'running' AND lease_owner LIKE @owner ORDER BY id", connection);
        command.Parameters.AddWithValue("owner", $"%:{pid}:%");
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) ids.Add(reader.GetInt64(0));
        return [.. ids];
    }

    private static async Task<List<RunRow>> RunsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id, job_id, entity_key, worker, outcome FROM runs ORDER BY id", connection);
        var runs = new List<RunRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) runs.Add(new RunRow(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
        return runs;
    }

    internal static async Task<(int Pending, int Running, int Parked)> StatusAsync(string config)
    {
        var (exit, stdout, stderr) = await ServeProcess.RunAsync("status", "-c", config, "--json");
        Assert.True(exit == 0, stderr);
        using var status = JsonDocument.Parse(stdout);
        var flows = status.RootElement.GetProperty("flows").EnumerateArray().ToList();
        return (flows.Sum(f => f.GetProperty("pending").GetInt32()), flows.Sum(f => f.GetProperty("running").GetInt32()), flows.Sum(f => f.GetProperty("parked").GetInt32()));
    }

    private static async Task<(int Pending, int Running)> QueueAsync(string config)
    {
        var (pending, running, _) = await StatusAsync(config);
        return (pending, running);
    }
}
