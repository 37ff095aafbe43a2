using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using EventSync.Core.Telemetry;

namespace EventSync.Tests.Telemetry;

/// <summary>In-process listeners (no exporter): every finished span of EventSync, ASP.NET Core and HttpClient, and every EventSync measurement.</summary>
public sealed class TelemetryCapture : IDisposable
{
    private readonly ActivityListener _activities;
    private readonly MeterListener _meters;

    public sealed record Measured(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

    public TelemetryCapture()
    {
        _activities = new ActivityListener
        {
            ShouldListenTo = s => s.Name is EventSyncTelemetry.Name or "Microsoft.AspNetCore" or "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => Spans.Enqueue(a),
        };
        ActivitySource.AddActivityListener(_activities);

        _meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == EventSyncTelemetry.Name) listener.EnableMeasurementEvents(instrument);
            },
        };
        _meters.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _meters.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _meters.Start();
    }

    public ConcurrentQueue<Activity> Spans { get; } = new();
    public ConcurrentQueue<Measured> Measurements { get; } = new();

    /// <summary>Collects the observable gauges now (what an exporter does on its interval).</summary>
    public void Observe() => _meters.RecordObservableInstruments();

    /// <summary>Sum of an instrument's measurements whose tags include all of <paramref name="tags"/>.</summary>
    public double Sum(string instrument, params (string Key, object Value)[] tags) =>
        Matching(instrument, tags).Sum(m => m.Value);

    public IEnumerable<Measured> Matching(string instrument, params (string Key, object Value)[] tags) =>
        Measurements.Where(m => m.Instrument == instrument && tags.All(t => m.Tags.TryGetValue(t.Key, out var v) && Equals(v?.ToString(), t.Value.ToString())));

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags) where T : struct
    {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var t in tags) dict[t.Key] = t.Value;
        Measurements.Enqueue(new Measured(instrument.Name, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture), dict));
    }

    public void Dispose()
    {
        _activities.Dispose();
        _meters.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class TelemetryCollection
{
    public const string Name = "process-wide telemetry listeners";
}
