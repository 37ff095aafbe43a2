using System.Text.Json;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.Resilience;

/// <summary>
/// The real CLI process under abuse: kill -9 while a backlog drains, and two processes sharing one PostgreSQL store.
/// </summary>
[Collection(ProcessTests.Name)]
public sealed class ProcessResilienceTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Killing_serve_during_a_backlog_loses_no_acknowledged_event()
    {
        var dir = TempDirectory.Create();
        await using var receiver = await Receiver.StartAsync();
        receiver.Delay = TimeSpan.FromMilliseconds(5);
        var load = new RelayLoad(events: 600, keys: 200);
        var config = load.WriteConfig(dir, $"sqlite:{Path.Combine(dir, "eventsync.db")}", receiver.Url, sinkConcurrency: 4);
        try
        {
            var backlogs = new List<(int Pending, int Running)>();
            for (var crash = 0; crash < 3; crash++)
            {
                var process = await ServeProcess.StartAsync(config);
                var before = receiver.Requests.Count;
                using var stopSending = new CancellationTokenSource();
                var sending = load.SendPendingAsync([process.Address], parallel: 8, stopSending.Token);
                // Kill while the sink is busy with a backlog and the sender is still posting.
                await Wait.UntilAsync(() => receiver.Requests.Count >= before + 60 || load.AllDelivered(receiver), Patience, $"deliveries before crash {crash}:\n{process.Output}");
                await process.KillHardAsync();
                await process.DisposeAsync();
                await sending.WaitAsync(Patience);
                backlogs.Add(await QueueAsync(config));
            }
            // Each crash must have hit a real backlog, with jobs claimed by the killed process, or it proved nothing.
            Assert.All(backlogs, b => Assert.True(b.Pending + b.Running > 0, $"backlog at crash: {b}"));
            Assert.Contains(backlogs, b => b.Running > 0);

            await using (var last = await ServeProcess.StartAsync(config))
            {
                for (var round = 0; round < 5 && load.Acknowledged.Count < load.Events; round++)
                    await load.SendPendingAsync([last.Address], parallel: 8, CancellationToken.None);
                Assert.Equal(load.Events, load.Acknowledged.Count);
                await Wait.UntilAsync(() => load.AllDelivered(receiver), Patience, $"every event delivered after restart:\n{last.Output}");
            }

            var missing = Enumerable.Range(0, load.Events).Select(RelayLoad.DeliveryId).Except(RelayLoad.Delivered(receiver)).ToList();
            Assert.Empty(missing);
            RelayLoad.AssertSignedWithIdempotencyKeys(receiver);
            RelayLoad.AssertPerKeyOrder(receiver);

            // Resending after a crash must not have stored anything twice: one event per delivery id.
            var (exit, stdout, stderr) = await ServeProcess.RunAsync("events", "list", "-c", config, "--json", "--limit", "5000");
            Assert.True(exit == 0, stderr);
            using var events = JsonDocument.Parse(stdout);
            var ids = events.RootElement.EnumerateArray().Select(e => e.GetProperty("deliveryId").GetString()).ToList();
            Assert.Equal(load.Events, ids.Count);
            Assert.Equal(load.Events, ids.Distinct().Count());
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task Two_serve_processes_on_one_postgres_share_a_backlog_without_running_a_key_twice_at_once()
    {
        var dir = TempDirectory.Create();
        var database = await TestPostgres.CreateDatabaseAsync();
        await using var receiver = await Receiver.StartAsync();
        receiver.Delay = TimeSpan.FromMilliseconds(15);
        var load = new RelayLoad(events: 600, keys: 40);
        var config = load.WriteConfig(dir, $"postgres:{database}", receiver.Url, sinkConcurrency: 8);
        try
        {
            var (migrated, _, migrateError) = await ServeProcess.RunAsync("migrate", "-c", config);
            Assert.True(migrated == 0, migrateError);
            await using var a = await ServeProcess.StartAsync(config);
            await using var b = await ServeProcess.StartAsync(config);

            for (var round = 0; round < 5 && load.Acknowledged.Count < load.Events; round++)
                await load.SendPendingAsync([a.Address, b.Address], parallel: 8, CancellationToken.None);
            Assert.Equal(load.Events, load.Acknowledged.Count);
            await Wait.UntilAsync(() => load.AllDelivered(receiver), Patience, $"every event delivered:\n{a.Output}\n{b.Output}");

            Assert.Equal(0, receiver.Overlaps);
            RelayLoad.AssertPerKeyOrder(receiver);
            RelayLoad.AssertSignedWithIdempotencyKeys(receiver);

            var (exit, stdout, stderr) = await ServeProcess.RunAsync("runs", "list", "-c", config, "--json", "--limit", "5000");
            Assert.True(exit == 0, stderr);
            using var runs = JsonDocument.Parse(stdout);
            var workers = runs.RootElement.EnumerateArray().Select(r => r.GetProperty("worker").GetString()!).ToList();
            Assert.Contains(workers, w => w.Contains($":{a.Id}:", StringComparison.Ordinal));
            Assert.Contains(workers, w => w.Contains($":{b.Id}:", StringComparison.Ordinal));
        }
        finally
        {
            await TestPostgres.DropDatabaseAsync(database);
            TempDirectory.Delete(dir);
        }
    }

    private static async Task<(int Pending, int Running)> QueueAsync(string config)
    {
        var (exit, stdout, stderr) = await ServeProcess.RunAsync("status", "-c", config, "--json");
        Assert.True(exit == 0, stderr);
        using var status = JsonDocument.Parse(stdout);
        var flow = status.RootElement.GetProperty("flows")[0];
        return (flow.GetProperty("pending").GetInt32(), flow.GetProperty("running").GetInt32());
    }
}

/// <summary>Child-process tests compete for the two cores; running them one at a time keeps their timing honest.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessTests
{
    public const string Name = "processes";
}
