using EventSync.Core.Configuration;
using EventSync.Core.Storage;

namespace EventSync.Core.Telemetry;

/// <summary>One sink's health as /readyz, /api/status and `eventsync status` show it. Holds no error text (readyz is unauthenticated).</summary>
public sealed record SinkStatusView(string Name, string State, DateTimeOffset? PausedUntil, string? LastOutcome, DateTimeOffset? LastRunAt);

public static class SinkStates
{
    public const string Healthy = "healthy";
    public const string Retrying = "retrying";
    public const string Failing = "failing";
    public const string Paused = "paused";
}

/// <summary>Derives each sink's state from its pause and the newest run of the flows that feed it.</summary>
public static class SinkHealth
{
    /// <summary>
    /// paused while a pause (429/503 Retry-After) is in force; otherwise by the newest run: succeeded or throttled =
    /// healthy, failed/abandoned/lease-lost = retrying, parked = failing; no run yet = healthy.
    /// </summary>
    public static async Task<IReadOnlyList<SinkStatusView>> EvaluateAsync(IEventStore store, EventSyncConfig config, DateTimeOffset now, CancellationToken ct)
    {
        var pauses = await store.GetSinkPausesAsync(now, ct);
        var newest = new Dictionary<string, RunRecord>(StringComparer.Ordinal);
        // One small query per flow (flows are few), so a busy flow cannot hide a quiet sink's last failure.
        foreach (var flow in config.Flows)
        {
            var runs = await store.ListRunsAsync(new RunQuery(Flow: flow.Name, Limit: 1), ct);
            if (runs.Count == 0) continue;
            var run = runs[0];
            if (!newest.TryGetValue(run.Sink, out var seen) || run.FinishedAt > seen.FinishedAt) newest[run.Sink] = run;
        }
        return config.Sinks.Values.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s =>
        {
            DateTimeOffset? paused = pauses.TryGetValue(s.Name, out var until) ? until : null;
            var last = newest.GetValueOrDefault(s.Name);
            var state = paused is not null ? SinkStates.Paused : last?.Outcome switch
            {
                RunOutcomes.Parked => SinkStates.Failing,
                RunOutcomes.Failed or RunOutcomes.Abandoned or RunOutcomes.LeaseLost => SinkStates.Retrying,
                _ => SinkStates.Healthy,
            };
            return new SinkStatusView(s.Name, state, paused, last?.Outcome, last?.FinishedAt);
        }).ToList();
    }
}
