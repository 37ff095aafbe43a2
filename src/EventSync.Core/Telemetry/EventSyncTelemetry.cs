using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using EventSync.Core.Storage;

namespace EventSync.Core.Telemetry;

/// <summary>
/// The engine's traces and metrics, defined on System.Diagnostics only (no SDK here): the server adds the
/// OpenTelemetry SDK and exporter; tests listen with ActivityListener / MeterListener.
/// Tags carry names, keys, ids and outcomes, never secrets or payloads.
/// </summary>
public static class EventSyncTelemetry
{
    /// <summary>Name of the ActivitySource and of the Meter.</summary>
    public const string Name = "EventSync";

    /// <summary>Key in an event's stored headers JSON holding the W3C traceparent of the ingest span that stored it.</summary>
    public const string TraceparentHeader = "x-eventsync-traceparent";

    public static readonly ActivitySource Source = new(Name, typeof(EventSyncTelemetry).Assembly.GetName().Version?.ToString());
    public static readonly Meter Meter = new(Name, typeof(EventSyncTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>Webhooks received, tagged source and outcome (accepted, duplicate, rejected) and, for rejections, the code.</summary>
    public static readonly Counter<long> EventsReceived = Meter.CreateCounter<long>("eventsync.events.received", "{event}", "Webhook deliveries received, by source and outcome");

    /// <summary>Job attempts finished, tagged flow, sink and outcome (the run outcome).</summary>
    public static readonly Counter<long> Runs = Meter.CreateCounter<long>("eventsync.runs", "{run}", "Job attempts (runs), by flow and outcome");

    public static readonly Histogram<double> RunDuration = Meter.CreateHistogram<double>("eventsync.run.duration", "s", "Time one job attempt took against its sink");

    public static readonly Counter<long> Retries = Meter.CreateCounter<long>("eventsync.retries", "{retry}", "Failed attempts scheduled to run again");

    public static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>("eventsync.dead_letters", "{job}", "Jobs parked in the dead-letter store");

    public static readonly Counter<long> SinkPauses = Meter.CreateCounter<long>("eventsync.sink.pauses", "{pause}", "Sink rate-limit pauses (429/503 with Retry-After)");

    public static class Tags
    {
        public const string Source = "eventsync.source";
        public const string Outcome = "eventsync.outcome";
        public const string Code = "eventsync.code";
        public const string Flow = "eventsync.flow";
        public const string Sink = "eventsync.sink";
        public const string EntityKey = "eventsync.entity_key";
        public const string JobId = "eventsync.job_id";
        public const string Attempt = "eventsync.attempt";
        public const string EventId = "eventsync.event_id";
        public const string EventCount = "eventsync.event_count";
        public const string EventType = "eventsync.event_type";
        public const string State = "eventsync.state";
    }

    /// <summary>
    /// Starts the span of one job attempt: child of the newest event's ingest span, linked to the other merged events'
    /// spans, so one trace runs from webhook receipt through the job to the sink's HTTP calls. Null when nobody listens.
    /// </summary>
    public static Activity? StartJob(JobInfo job, IReadOnlyList<StoredEvent> events)
    {
        if (!Source.HasListeners()) return null;
        ActivityContext parent = default;
        var links = new List<ActivityLink>();
        for (var i = events.Count - 1; i >= 0 && links.Count < 32; i--)
        {
            if (TraceContextOf(events[i].HeadersJson) is not { } context) continue;
            if (parent == default) parent = context;
            else if (context != parent) links.Add(new ActivityLink(context));
        }
        var activity = Source.StartActivity("eventsync.job " + job.Flow, ActivityKind.Internal, parent, tags: null, links: links);
        if (activity is null) return null;
        activity.SetTag(Tags.Flow, job.Flow);
        activity.SetTag(Tags.Sink, job.Sink);
        activity.SetTag(Tags.EntityKey, job.EntityKey);
        activity.SetTag(Tags.JobId, job.Id);
        activity.SetTag(Tags.Attempt, job.Attempts);
        activity.SetTag(Tags.EventCount, events.Count);
        return activity;
    }

    /// <summary>The trace context the ingest span stored with an event, if any.</summary>
    public static ActivityContext? TraceContextOf(string headersJson)
    {
        if (string.IsNullOrEmpty(headersJson) || !headersJson.Contains(TraceparentHeader, StringComparison.Ordinal)) return null;
        try
        {
            using var doc = JsonDocument.Parse(headersJson);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(TraceparentHeader, out var value)
                && value.GetString() is { } traceparent && ActivityContext.TryParse(traceparent, null, isRemote: true, out var context))
                return context;
        }
        catch (JsonException)
        {
            // Headers written by an older version or by hand: no trace context, the job starts its own trace.
        }
        return null;
    }

    /// <summary>The W3C traceparent of <paramref name="activity"/>, to be stored with the event's headers; null without one.</summary>
    public static string? TraceparentOf(Activity? activity) => activity is { IdFormat: ActivityIdFormat.W3C, Id: { } id } ? id : null;

    /// <summary>Records the end of one job attempt: metrics always, the span's outcome when there is one.</summary>
    public static void JobFinished(Activity? activity, JobInfo job, string outcome, TimeSpan duration, string? error)
    {
        var tags = new TagList { { Tags.Flow, job.Flow }, { Tags.Sink, job.Sink }, { Tags.Outcome, outcome } };
        Runs.Add(1, tags);
        RunDuration.Record(Math.Max(0, duration.TotalSeconds), tags);
        if (outcome == RunOutcomes.Failed) Retries.Add(1, new TagList { { Tags.Flow, job.Flow }, { Tags.Sink, job.Sink } });
        if (outcome == RunOutcomes.Parked) DeadLetters.Add(1, new TagList { { Tags.Flow, job.Flow }, { Tags.Sink, job.Sink } });
        if (outcome == RunOutcomes.Throttled) SinkPauses.Add(1, new TagList { { Tags.Sink, job.Sink } });
        if (activity is null) return;
        activity.SetTag(Tags.Outcome, outcome);
        if (outcome is RunOutcomes.Succeeded or RunOutcomes.Throttled) activity.SetStatus(ActivityStatusCode.Ok);
        // The error text is the sink's summary (status and reason); sinks keep secrets and bodies out of it.
        else activity.SetStatus(ActivityStatusCode.Error, error is { Length: > 200 } ? error[..200] : error);
    }
}
