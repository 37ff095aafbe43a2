using System.Collections.Concurrent;
using System.Text.Json;
using EventSync.Tests.Infrastructure;
using EventSync.Tests.Resilience;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;

namespace EventSync.Tests.Faults;

/// <summary>
/// A sink that stays down longer than the whole retry schedule (time compressed: 200 ms, 400 ms): every job retries,
/// then parks as a dead letter; after the sink is back, `dead replay --all` delivers everything exactly once in effect.
/// </summary>
[Collection(FaultTests.Name)]
public sealed class SinkOutageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_sink_down_past_its_retries_parks_everything_and_a_replay_delivers_each_entity_once_in_effect()
    {
        using var report = FaultReport.Begin("sink-outage", "webhook sink answering 503 past the retry schedule, then dead replay --all", 1, output);
        var dir = TempDirectory.Create();
        await using var receiver = await Receiver.StartAsync();
        var up = false;
        var accepted = new ConcurrentQueue<Receiver.Received>();
        receiver.Respond = r =>
        {
            if (!Volatile.Read(ref up)) return Results.StatusCode(503); // no Retry-After: a failure, not a throttle
            accepted.Enqueue(r);
            return Results.Ok();
        };
        const int Keys = 30;
        var load = new RelayLoad(events: 150, keys: Keys);
        var config = load.WriteConfig(dir, $"sqlite:{Path.Combine(dir, "eventsync.db")}", receiver.Url, sinkConcurrency: 4, retry: "[200ms, 400ms]");
        try
        {
            await using var serve = await ServeProcess.StartAsync(config);
            for (var round = 0; round < 5 && load.Acknowledged.Count < load.Events; round++)
                await load.SendPendingAsync([serve.Address], parallel: 8, CancellationToken.None);
            Assert.Equal(load.Events, load.Acknowledged.Count);

            // Down for longer than the schedule: everything ends parked, nothing is left pending or running.
            (int Pending, int Running, int Parked) status = default;
            await Wait.UntilAsync(async () => (status = await ProcessFaultTests.StatusAsync(config)) is { Pending: 0, Running: 0, Parked: > 0 }, Patience, $"every job parked (last status {status}):\n{serve.Output}");
            Assert.Empty(accepted);
            var deadLetters = status.Parked;
            var parkedRuns = await RunsAsync(config, "parked");
            Assert.Equal(status.Parked, parkedRuns.Count);
            // Each dead letter spent the whole schedule: two retries, then parked on the third attempt.
            Assert.All(parkedRuns, r => Assert.Equal(3, r.GetProperty("attempt").GetInt32()));
            Assert.True((await RunsAsync(config, "failed")).Count >= 2 * status.Parked, "fewer failed attempts than the schedule allows");

            Volatile.Write(ref up, true);
            var (exit, _, stderr) = await ServeProcess.RunAsync("dead", "replay", "--all", "-c", config);
            Assert.True(exit == 0, stderr);
            var all = Enumerable.Range(0, load.Events).Select(RelayLoad.DeliveryId).ToHashSet();
            await Wait.UntilAsync(() => Effective(accepted).SelectMany(d => d.Events).ToHashSet().IsSupersetOf(all), Patience, $"every event delivered after the replay:\n{serve.Output}");
            await Wait.UntilAsync(async () => (status = await ProcessFaultTests.StatusAsync(config)) is { Pending: 0, Running: 0, Parked: 0 }, Patience, $"no dead letter left (last status {status})");

            // Exactly once in effect: a receiver that drops repeated idempotency keys sees every entity, and the last
            // state it keeps for each one is that entity's newest event.
            var effective = Effective(accepted);
            var newest = Enumerable.Range(0, load.Events).GroupBy(i => $"order-{i % Keys}").ToDictionary(g => g.Key, g => g.Max());
            Assert.Equal(newest.Keys.ToHashSet(), effective.Select(d => d.Entity).ToHashSet());
            foreach (var (entity, seq) in newest)
                Assert.Equal(seq, effective.Where(d => d.Entity == entity).Max(d => d.Seq));
            RelayLoad.AssertSignedWithIdempotencyKeys(receiver);
            RelayLoad.AssertPerKeyOrder(receiver);
            report.Detail = $"({deadLetters} dead letters replayed; {accepted.Count} accepted calls, {effective.Count} distinct idempotency keys)";
            report.Pass();
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    private sealed record Delivered(string Key, string Entity, long Seq, IReadOnlyList<string> Events);

    /// <summary>What a receiver that deduplicates by idempotency key keeps: the first call per key.</summary>
    private static List<Delivered> Effective(IEnumerable<Receiver.Received> accepted)
    {
        var seen = new Dictionary<string, Delivered>();
        foreach (var r in accepted)
        {
            if (r.WebhookId is null || seen.ContainsKey(r.WebhookId)) continue;
            using var doc = JsonDocument.Parse(r.Body);
            var data = doc.RootElement.GetProperty("data");
            var seq = data.GetProperty("latest").GetProperty("payload").GetProperty("seq").GetInt64();
            var events = data.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("deliveryId").GetString()!).ToList();
            seen[r.WebhookId] = new Delivered(r.WebhookId, r.Entity, seq, events);
        }
        return [.. seen.Values];
    }

    private static async Task<List<JsonElement>> RunsAsync(string config, string outcome)
    {
        var (exit, stdout, stderr) = await ServeProcess.RunAsync("runs", "list", "--status", outcome, "--limit", "5000", "-c", config, "--json");
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        return [.. doc.RootElement.EnumerateArray().Select(e => e.Clone())];
    }
}
