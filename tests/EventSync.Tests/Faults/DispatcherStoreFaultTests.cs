using System.Reflection;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;
using EventSync.Core.Work;
using EventSync.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace EventSync.Tests.Faults;

/// <summary>
/// Found by the read-only store case: a store error while the dispatcher waited for work (NextDueAsync, outside the
/// loop's error handling) ended the dispatcher, and the host stopped serve. A store fault must never end the worker.
/// </summary>
[Collection(FaultTests.Name)]
public sealed class DispatcherStoreFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_store_error_while_waiting_for_work_does_not_end_the_dispatcher()
    {
        using var report = FaultReport.Begin("store-unavailable", "store error while the dispatcher waits for work", 1, output);
        await using var store = await TestStore.CreateAsync(StoreKind.Sqlite);
        var faulty = FailingNextDue.Wrap(store.Store, failures: 3);
        var (config, problems) = ConfigLoader.TryParse("workers: { pollInterval: 20ms }\n", new Dictionary<string, string?>());
        Assert.Empty(problems);
        var dispatcher = new JobDispatcher(faulty, new Dictionary<string, ISink>(), config!, TimeProvider.System, new WorkSignal(), NullLogger<JobDispatcher>.Instance);
        using var stop = new CancellationTokenSource();
        var running = dispatcher.RunAsync(stop.Token);

        await Wait.UntilAsync(() => ((FailingNextDue)(object)faulty).Calls > 5 || running.IsCompleted, TimeSpan.FromSeconds(30), "the dispatcher to wait for work past the failures");
        Assert.False(running.IsCompleted, $"the dispatcher ended on a store error: {running.Exception?.InnerException?.Message}");
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));
        report.Pass();
    }

    /// <summary>The real store, except that the first calls of NextDueAsync fail like a session killed by a restart.</summary>
    public class FailingNextDue : StoreProxy
    {
        private int _failures;
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public static IEventStore Wrap(IEventStore inner, int failures)
        {
            var store = StoreProxy.Wrap(inner, out FailingNextDue proxy);
            proxy._failures = failures;
            return store;
        }

        protected override object? Before(MethodInfo method) =>
            method.Name == nameof(IEventStore.NextDueAsync) && Interlocked.Increment(ref _calls) <= _failures
                ? Task.FromException<DateTimeOffset?>(new InvalidOperationException("57P01: terminating connection due to administrator command"))
                : null;
    }
}
