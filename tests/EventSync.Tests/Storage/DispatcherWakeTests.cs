using System.Reflection;
using EventSync.Core.Configuration;
using EventSync.Core.Ingest;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;
using EventSync.Core.Work;
using EventSync.Storage.Postgres;
using EventSync.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventSync.Tests.Storage;

/// <summary>
/// With a settle time every webhook pulses the dispatcher for work due minutes later. Claiming (and asking for the next
/// due time) on each of those pulses found nothing and, on PostgreSQL, cost more than the ingest itself; a pulse for
/// later work now only brings the dispatcher's wake-up forward, here and across processes (the NOTIFY carries the time).
/// </summary>
public sealed class DispatcherWakeTests
{
    [Fact]
    public async Task Pulses_for_debounced_work_cost_no_claim_and_wake_the_dispatcher_when_it_comes_due()
    {
        // Poll and housekeeping an hour or more away: only the pulses' due time can wake the dispatcher at ten minutes.
        await using var h = await EngineHarness.CreateAsync(StoreKind.Sqlite, settle: "10m", maxWait: "30m", workers: "{ lease: 3h, pollInterval: 1h }");
        var store = StoreProxy.Wrap(h.Store, out CountingStore calls);
        var signal = new WorkSignal();
        var dispatcher = new JobDispatcher(store, new Dictionary<string, ISink> { ["out"] = h.Sink }, h.Config, h.Time, signal, NullLogger<JobDispatcher>.Instance, "worker-1", new Random(7));
        await using var writer = new IngestWriter(h.Store, signal, NullLogger<IngestWriter>.Instance);
        using var stop = new CancellationTokenSource();
        var running = dispatcher.RunAsync(stop.Token);
        await Wait.UntilAsync(() => calls.Of(nameof(IEventStore.NextDueAsync)) == 1, TimeSpan.FromSeconds(30), "the dispatcher's first claim and wait");

        for (var i = 1; i <= 3; i++) await writer.WriteAsync(h.Write($"order-{i}"), CancellationToken.None);
        await Wait.UntilAsync(() => !signal.HasPulse, TimeSpan.FromSeconds(30), "the dispatcher to take the pulses");
        Assert.Equal(1, calls.Of(nameof(IEventStore.ClaimJobsAsync)));
        Assert.Equal(1, calls.Of(nameof(IEventStore.NextDueAsync)));

        h.Advance(TimeSpan.FromMinutes(10));
        await Wait.UntilAsync(() => h.Sink.Deliveries.Count == 3, TimeSpan.FromSeconds(30), "the three debounced jobs to run when due");
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Another_processs_commit_wakes_a_listener_with_the_time_its_work_comes_due()
    {
        await using var h = await EngineHarness.CreateAsync(StoreKind.Postgres, settle: "10m", maxWait: "30m");
        await using var other = EventSync.Storage.EventStoreFactory.Open(h.Location); // the other process's store
        var signal = new WorkSignal();
        using var stop = new CancellationTokenSource();
        var listening = h.Store.ListenForWorkAsync(signal, stop.Token);
        // Connected: it pulses once with no time, for whatever was notified before it listened.
        await signal.WaitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(signal.TryTake(out var due));
        Assert.Null(due);

        var write = h.Write("order-1");
        await other.IngestAsync([write], CancellationToken.None);
        await signal.WaitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(signal.TryTake(out due));
        Assert.Equal(write.Event!.ReceivedAt.AddMinutes(10), due);

        await stop.CancelAsync();
        await listening.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(PostgresEventStore.DueOf(""));
    }

    /// <summary>The real store, counting the calls made to it.</summary>
    public class CountingStore : StoreProxy
    {
        private readonly Dictionary<string, int> _calls = [];

        public int Of(string method)
        {
            lock (_calls) return _calls.GetValueOrDefault(method);
        }

        protected override object? Before(MethodInfo method)
        {
            lock (_calls) _calls[method.Name] = _calls.GetValueOrDefault(method.Name) + 1;
            return null;
        }
    }
}
