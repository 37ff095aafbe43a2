using EventSync.Core.Storage;

namespace EventSync.Core.Sinks;

/// <summary>Where a flow's jobs go. Connectors (webhook, GitHub, Notion, website, vectors) implement this.</summary>
public interface ISink
{
    string Name { get; }

    /// <summary>Performs one attempt. Never throws for an expected failure: it says what happened in the result.</summary>
    Task<SinkResult> DeliverAsync(SinkDelivery delivery, CancellationToken cancellationToken);
}

/// <summary>One attempt of one job: the merged events (oldest first; the newest carries its payload).</summary>
public sealed record SinkDelivery(string Flow, string EntityKey, long JobId, int Attempt, string IdempotencyKey, IReadOnlyList<StoredEvent> Events, DateTimeOffset Now)
{
    public StoredEvent Latest => Events[^1];

    /// <summary>Stable across retries of the same state, new for newer state: "msg_{newest event id}_{flow}".</summary>
    public static string IdempotencyKeyFor(string flow, long latestEventId) => $"msg_{latestEventId}_{flow}";
}

public enum SinkStatus { Succeeded, Retryable, Permanent, Throttled }

public sealed record SinkResult(SinkStatus Status, string? Error = null, TimeSpan? RetryAfter = null, IReadOnlyList<string>? Resources = null)
{
    public static SinkResult Success(params string[] resources) => new(SinkStatus.Succeeded, Resources: resources);
    public static SinkResult Retryable(string error) => new(SinkStatus.Retryable, error);
    public static SinkResult Permanent(string error) => new(SinkStatus.Permanent, error);
    public static SinkResult Throttled(TimeSpan retryAfter, string error) => new(SinkStatus.Throttled, error, retryAfter);
}
