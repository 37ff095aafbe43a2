using System.Diagnostics.Metrics;
using EventSync.Core.Storage;

namespace EventSync.Core.Telemetry;

/// <summary>
/// Jobs by state and freshness lag per flow, as observable gauges read from the store's queue stats. The stats are
/// cached for <c>maxAge</c>, so frequent scrapes (or several exporters) cost at most one store query per interval.
/// One instance per server: its own Meter named "EventSync", disposed with the server.
/// </summary>
public sealed class QueueGauges : IDisposable
{
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(5);
    private readonly IEventStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _maxAge;
    private readonly Meter _meter;
    private readonly Lock _lock = new();
    private IReadOnlyList<FlowQueueStats> _stats = [];
    private DateTimeOffset _fetchedAt = DateTimeOffset.MinValue;

    public QueueGauges(IEventStore store, TimeProvider time, TimeSpan? maxAge = null)
    {
        _store = store;
        _time = time;
        _maxAge = maxAge ?? TimeSpan.FromSeconds(5);
        _meter = new Meter(EventSyncTelemetry.Name);
        _meter.CreateObservableGauge("eventsync.jobs", ObserveJobs, "{job}", "Jobs by flow and state (pending, running, parked)");
        _meter.CreateObservableGauge("eventsync.freshness.lag", ObserveLag, "s", "Age of each flow's oldest pending job (0 when none waits)");
    }

    /// <summary>How many times the store was queried (tests prove the cache).</summary>
    public int Queries { get; private set; }

    private IEnumerable<Measurement<long>> ObserveJobs()
    {
        foreach (var s in Current())
        {
            yield return new Measurement<long>(s.Pending, new KeyValuePair<string, object?>(EventSyncTelemetry.Tags.Flow, s.Flow), new KeyValuePair<string, object?>(EventSyncTelemetry.Tags.State, JobStatuses.Pending));
            yield return new Measurement<long>(s.Running, new KeyValuePair<string, object?>(EventSyncTelemetry.Tags.Flow, s.Flow), new KeyValuePair<string, object?>(EventSyncTelemetry.Tags.State, JobStatuses.Running));
            yield return new Measurement<long>(s.Parked, new KeyValuePair<string, object?>(EventSyncTelemetry.Tags.Flow, s.Flow), new KeyValuePair<string, object?>(EventSyncTelemetry.Tags.State, JobStatuses.Parked));
        }
    }

    private IEnumerable<Measurement<double>> ObserveLag()
    {
        var now = _time.GetUtcNow();
        foreach (var s in Current())
        {
            var lag = s.OldestPendingSince is { } since && since < now ? (now - since).TotalSeconds : 0;
            yield return new Measurement<double>(lag, new KeyValuePair<string, object?>(EventSyncTelemetry.Tags.Flow, s.Flow));
        }
    }

    /// <summary>The cached stats, refreshed when older than maxAge. A failed query keeps the last values (the store's health is /readyz's business).</summary>
    private IReadOnlyList<FlowQueueStats> Current()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (now - _fetchedAt < _maxAge) return _stats;
            _fetchedAt = now;
            Queries++;
            try
            {
                // Observable callbacks are synchronous; the collecting thread is the exporter's, never a request's.
                using var cts = new CancellationTokenSource(QueryTimeout, _time);
                _stats = _store.GetQueueStatsAsync(cts.Token).GetAwaiter().GetResult();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Keep the previous values; the next observation after maxAge tries again.
            }
            return _stats;
        }
    }

    public void Dispose() => _meter.Dispose();
}
