using System.Text;
using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Core.Telemetry;

namespace EventSync.Core.Admin;

/// <summary>
/// The operator's operations, shared by the CLI and the admin HTTP API so both do exactly the same thing and print
/// the same JSON shapes.
/// </summary>
public sealed class AdminOperations(IEventStore store, EventSyncConfig config, TimeProvider time)
{
    public const string NotionTokenState = "verificationToken";
    public const string ManualSource = "manual";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public async Task<IReadOnlyList<SourceView>> SourcesAsync(CancellationToken ct)
    {
        var list = new List<SourceView>();
        foreach (var s in config.Sources.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            var captured = s.Kind == SourceKind.Notion ? await store.GetSourceStateAsync(s.Name, NotionTokenState, ct) : null;
            var status = s.Kind switch
            {
                SourceKind.Notion when s.VerificationToken is not null => "verified (token configured)",
                SourceKind.Notion when captured is not null => "handshake received: paste the token into Notion and into the config",
                SourceKind.Notion => "waiting for Notion's verification request",
                _ => "ready",
            };
            // The captured token is shown only until it is configured: it is the operator's to copy, once.
            list.Add(new SourceView(s.Name, KindName(s.Kind), s.Capture is { } capture ? $"outbox trigger on {capture.Table}" : $"/hooks/{s.Name}", status, s.Kind == SourceKind.Notion && s.VerificationToken is null ? captured : null,
                s.MaxBodyBytes, s.RateLimit.PerSecond, config.Flows.Where(f => f.From == s.Name).Select(f => f.Name).ToList()));
        }
        return list;
    }

    public static string KindName(SourceKind kind) => kind switch
    {
        SourceKind.GitHub => "github",
        SourceKind.Notion => "notion",
        SourceKind.Supabase => "supabase",
        SourceKind.Postgres => "postgres",
        SourceKind.Website => "website",
        _ => "standard-webhooks",
    };

    public async Task<IReadOnlyList<EventView>> EventsAsync(EventQuery query, bool includePayload, CancellationToken ct) =>
        (await store.ListEventsAsync(query, ct)).Select(e => EventView.From(e, includePayload)).ToList();

    public Task<IReadOnlyList<RunRecord>> RunsAsync(RunQuery query, CancellationToken ct) => store.ListRunsAsync(query, ct);

    public async Task<RunView?> RunAsync(long id, CancellationToken ct)
    {
        var detail = await store.GetRunAsync(id, ct);
        if (detail is null) return null;
        var attempts = detail.Job is null ? [] : await store.ListRunsAsync(new RunQuery(JobId: detail.Job.Id, Limit: 100), ct);
        return new RunView(detail.Run, JsonDocument.Parse(detail.Run.TriggerJson).RootElement, JsonDocument.Parse(detail.Run.ResourcesJson).RootElement,
            detail.Job, attempts.OrderBy(r => r.Id).ToList(), detail.Events.Select(e => EventView.From(e, false)).ToList());
    }

    public Task<IReadOnlyList<JobInfo>> DeadLettersAsync(string? flow, int limit, CancellationToken ct) => store.ListJobsAsync(JobStatuses.Parked, flow, limit, ct);

    public Task<long?> ReplayAsync(long jobId, CancellationToken ct) => store.ReplayDeadLetterAsync(jobId, time.GetUtcNow(), ct);

    /// <summary>Replays every dead letter (optionally of one flow); reports progress after each.</summary>
    public async Task<int> ReplayAllAsync(string? flow, IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        var done = 0;
        for (var round = 0; round < 10_000; round++)
        {
            var batch = await store.ListJobsAsync(JobStatuses.Parked, flow, 500, ct);
            if (batch.Count == 0) break;
            foreach (var job in batch)
            {
                if (await store.ReplayDeadLetterAsync(job.Id, time.GetUtcNow(), ct) is not null) done++;
                progress?.Report((done, done + batch.Count - 1));
            }
        }
        return done;
    }

    public Task<bool> DeleteDeadLetterAsync(long jobId, CancellationToken ct) => store.DeleteDeadLetterAsync(jobId, time.GetUtcNow(), ct);

    /// <summary>A manual sync, like re-running a workflow: a "manual" event routed straight to the flow.</summary>
    public async Task<TriggerResult> TriggerAsync(string flowName, string? entity, string requestedBy, CancellationToken ct)
    {
        var flow = config.FindFlow(flowName) ?? throw new ArgumentException($"flow '{flowName}' is not configured; known flows: {string.Join(", ", config.Flows.Select(f => f.Name))}");
        var now = time.GetUtcNow();
        var id = "manual-" + Guid.NewGuid().ToString("N");
        var key = string.IsNullOrEmpty(entity) ? "*" : entity;
        var payload = JsonSerializer.SerializeToUtf8Bytes(new { flow = flow.Name, entity = key, requestedBy, requestedAt = now });
        var write = new IngestWrite(
            new DeliveryRecord(now, ManualSource, id, 202, DeliveryOutcomes.Accepted, $"manual trigger of {flow.Name} by {requestedBy}", payload.Length, requestedBy),
            new NewEvent(ManualSource, id, id, "trigger", key, now, "{}", payload),
            [new JobRequest(flow.Name, key, flow.To, TimeSpan.Zero, TimeSpan.Zero)]);
        var result = (await store.IngestAsync([write], ct))[0];
        return new TriggerResult(flow.Name, key, result.EventId ?? 0);
    }

    public async Task<StatusView> StatusAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var stats = await store.GetQueueStatsAsync(ct);
        var pauses = await store.GetSinkPausesAsync(now, ct);
        var flows = config.Flows.Select(f =>
        {
            var s = stats.FirstOrDefault(x => x.Flow == f.Name);
            var paused = pauses.TryGetValue(f.To, out var until) ? until : (DateTimeOffset?)null;
            var lag = s?.OldestPendingSince is { } since ? now - since : TimeSpan.Zero;
            return new FlowStatusView(f.Name, f.From, f.To, s?.Pending ?? 0, s?.Running ?? 0, s?.Parked ?? 0, Math.Round(lag.TotalSeconds, 3), paused,
                paused is not null ? "paused" : (s?.Parked ?? 0) > 0 ? "failing" : "healthy");
        }).ToList();
        return new StatusView(store.Description, await store.SchemaVersionAsync(ct), now, flows) { Sinks = await SinkHealth.EvaluateAsync(store, config, now, ct) };
    }

    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value, Json);
}

public sealed record SourceView(string Name, string Kind, string Endpoint, string Status, string? PendingVerificationToken, long MaxBodyBytes, int RateLimitPerSecond, IReadOnlyList<string> Flows);

public sealed record EventView(long Id, string Source, string Type, string DeliveryId, string? Entity, DateTimeOffset ReceivedAt, JsonElement Headers, JsonElement? Payload, int PayloadBytes)
{
    public static EventView From(StoredEvent e, bool includePayload)
    {
        JsonElement? payload = null;
        if (includePayload && e.Payload.Length > 0)
        {
            try
            {
                payload = JsonDocument.Parse(e.Payload).RootElement;
            }
            catch (JsonException)
            {
                payload = JsonDocument.Parse(JsonSerializer.Serialize(Encoding.UTF8.GetString(e.Payload))).RootElement;
            }
        }
        return new EventView(e.Id, e.Source, e.EventType, e.DeliveryId, e.EntityKey, e.ReceivedAt, JsonDocument.Parse(e.HeadersJson).RootElement, payload, e.Payload.Length);
    }
}

public sealed record RunView(RunRecord Run, JsonElement Trigger, JsonElement Resources, JobInfo? Job, IReadOnlyList<RunRecord> Attempts, IReadOnlyList<EventView> Events);

public sealed record TriggerResult(string Flow, string Entity, long EventId);

public sealed record FlowStatusView(string Name, string From, string To, int Pending, int Running, int Parked, double OldestPendingSeconds, DateTimeOffset? SinkPausedUntil, string State);

public sealed record StatusView(string Store, int SchemaVersion, DateTimeOffset Now, IReadOnlyList<FlowStatusView> Flows)
{
    /// <summary>Per sink: healthy, retrying, failing or paused (until when); what /readyz reports too.</summary>
    public IReadOnlyList<SinkStatusView> Sinks { get; init; } = [];
}
