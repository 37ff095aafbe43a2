namespace EventSync.Core.Storage;

/// <summary>A verified event as received, before it is stored.</summary>
public sealed record NewEvent(
    string Source,
    string DedupKey,
    string DeliveryId,
    string EventType,
    string? EntityKey,
    DateTimeOffset ReceivedAt,
    string HeadersJson,
    byte[] Payload);

/// <summary>One receipt for the delivery log (the audit trail), accepted or rejected. Never holds a secret.</summary>
public sealed record DeliveryRecord(
    DateTimeOffset At,
    string Source,
    string? DeliveryId,
    int Status,
    string Outcome,
    string? Reason,
    int Bytes,
    string? Remote,
    long? EventId = null,
    long Id = 0);

public static class DeliveryOutcomes
{
    public const string Accepted = "accepted";
    public const string Duplicate = "duplicate";
    public const string Rejected = "rejected";
    public const string Handshake = "handshake";
}

/// <summary>A job a stored event asks for: (flow, entity key) is the coalescing key.</summary>
public sealed record JobRequest(string Flow, string EntityKey, string Sink, TimeSpan Settle, TimeSpan MaxWait);

/// <summary>One item of a group commit: an event with the jobs it causes, or only a log line for a rejection.</summary>
public sealed record IngestWrite(DeliveryRecord Delivery, NewEvent? Event = null, IReadOnlyList<JobRequest>? Jobs = null)
{
    /// <summary>
    /// When the earliest job this write asks for comes due (its settle after the event), or null without jobs. A job it
    /// merges into can come due later, never earlier than it already was: a merge only pushes the due time back.
    /// </summary>
    public DateTimeOffset? EarliestJobDue
    {
        get
        {
            if (Event is not { } e || Jobs is not { Count: > 0 } jobs) return null;
            var settle = jobs[0].Settle;
            for (var i = 1; i < jobs.Count; i++) if (jobs[i].Settle < settle) settle = jobs[i].Settle;
            return e.ReceivedAt + settle;
        }
    }
}

public readonly record struct IngestResult(long? EventId, bool Duplicate, int JobsTouched);

public sealed record StoredEvent(
    long Id,
    string Source,
    string DeliveryId,
    string EventType,
    string? EntityKey,
    DateTimeOffset ReceivedAt,
    string HeadersJson,
    byte[] Payload);

public static class JobStatuses
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Done = "done";
    public const string Parked = "parked";
    /// <summary>Its events moved on to another job (a retry, a replay or a follow-up); see merged_into.</summary>
    public const string Superseded = "superseded";
    public const string Discarded = "discarded";
}

public sealed record JobInfo(
    long Id,
    string Flow,
    string EntityKey,
    string Sink,
    string Status,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset DueAt,
    DateTimeOffset DeadlineAt,
    string? LeaseOwner,
    DateTimeOffset? LeaseUntil,
    string? LastError,
    long? MergedInto,
    DateTimeOffset UpdatedAt,
    int EventCount);

public sealed record ClaimedJob(JobInfo Job, IReadOnlyList<StoredEvent> Events);

public enum JobOutcome
{
    /// <summary>The sink succeeded.</summary>
    Done,
    /// <summary>A transient failure: run again at RetryAt, counting the attempt.</summary>
    Retry,
    /// <summary>The sink asked us to slow down: run again at RetryAt without spending an attempt.</summary>
    Throttled,
    /// <summary>Give up: park in the dead-letter store with the reason.</summary>
    Park,
}

/// <summary>How a claimed job ended, with its run record.</summary>
public sealed record JobCompletion(
    long JobId,
    string Owner,
    JobOutcome Outcome,
    DateTimeOffset? RetryAt,
    string? Error,
    RunRecord Run,
    /// <summary>Set when reclaiming another worker's job: only act if its lease ran out before this instant.</summary>
    DateTimeOffset? OnlyIfLeaseExpiredBefore = null);

public sealed record RunRecord(
    long Id,
    long JobId,
    string Flow,
    string EntityKey,
    string Sink,
    int Attempt,
    string Worker,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    string Outcome,
    string? Error,
    string TriggerJson,
    string ResourcesJson);

public static class RunOutcomes
{
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Throttled = "throttled";
    public const string Parked = "parked";
    public const string Abandoned = "abandoned";
    public const string LeaseLost = "lease-lost";
}

public sealed record RunDetail(RunRecord Run, JobInfo? Job, IReadOnlyList<StoredEvent> Events);

public sealed record EventQuery(string? Source = null, string? EventType = null, string? EntityKey = null, DateTimeOffset? Since = null, long? BeforeId = null, int Limit = 50);

/// <summary>Run filters. <c>JobId</c> selects the whole logical job: every row its retries, throttles and replays continued as.</summary>
public sealed record RunQuery(string? Flow = null, string? Outcome = null, DateTimeOffset? Since = null, long? JobId = null, long? BeforeId = null, int Limit = 50);

public sealed record DeliveryQuery(string? Source = null, string? Outcome = null, DateTimeOffset? Since = null, int Limit = 50);

public sealed record QueuedJob(long JobId, string EntityKey, DateTimeOffset CreatedAt, byte[] LatestPayload);

public sealed record FlowQueueStats(string Flow, int Pending, int Running, int Parked, DateTimeOffset? OldestPendingSince);

public sealed record PruneResult(int Events, int Runs, int Deliveries, int Jobs);
