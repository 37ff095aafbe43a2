using Microsoft.Extensions.Logging;

namespace EventSync.Core;

/// <summary>Every log message in one place, each with a stable event id (grep-able, alertable).</summary>
public static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Store {Store} ready at schema version {Version}")]
    public static partial void StoreReady(this ILogger logger, string store, int version);

    [LoggerMessage(1001, LogLevel.Warning, "Rejected delivery {DeliveryId} for source {Source}: {Status} {Code}")]
    public static partial void DeliveryRejected(this ILogger logger, string source, string? deliveryId, int status, string code);

    [LoggerMessage(1002, LogLevel.Error, "Group commit of {Count} deliveries failed; answering 503")]
    public static partial void IngestCommitFailed(this ILogger logger, Exception exception, int count);

    // The token is a signing key: it is shown by `eventsync sources` (which needs store access), never written to the log.
    [LoggerMessage(1003, LogLevel.Warning, "Notion verification token received for source {Source}: run `eventsync sources` to see it, paste it into Notion to verify the subscription and set sources.{Source}.verificationToken")]
    public static partial void NotionVerificationToken(this ILogger logger, string source);

    [LoggerMessage(2000, LogLevel.Information, "Worker {Worker} started: concurrency {Concurrency}, lease {Lease}")]
    public static partial void WorkerStarted(this ILogger logger, string worker, int concurrency, TimeSpan lease);

    [LoggerMessage(2001, LogLevel.Warning, "Job {JobId} ({Flow}/{Entity}) attempt {Attempt} failed: {Error}; next attempt at {RetryAt:o}")]
    public static partial void JobRetrying(this ILogger logger, long jobId, string flow, string entity, int attempt, string? error, DateTimeOffset retryAt);

    [LoggerMessage(2002, LogLevel.Error, "Job {JobId} ({Flow}/{Entity}) parked after attempt {Attempt}: {Reason}")]
    public static partial void JobParked(this ILogger logger, long jobId, string flow, string entity, int attempt, string? reason);

    [LoggerMessage(2003, LogLevel.Warning, "Sink {Sink} paused until {Until:o}: {Reason}")]
    public static partial void SinkPaused(this ILogger logger, string sink, DateTimeOffset until, string? reason);

    [LoggerMessage(2004, LogLevel.Warning, "Reclaimed {Count} job(s) whose worker's lease expired")]
    public static partial void LeasesReclaimed(this ILogger logger, int count);

    [LoggerMessage(2005, LogLevel.Error, "Store call failed in the worker loop; retrying in {Delay}")]
    public static partial void WorkerStoreError(this ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(2006, LogLevel.Debug, "Job {JobId} ({Flow}/{Entity}) succeeded on attempt {Attempt}")]
    public static partial void JobSucceeded(this ILogger logger, long jobId, string flow, string entity, int attempt);

    [LoggerMessage(2007, LogLevel.Information, "Sink {Sink} delivered job {JobId} for {Flow}/{Entity} ({Events} event(s), key {IdempotencyKey})")]
    public static partial void LogSinkDelivery(this ILogger logger, string sink, long jobId, string flow, string entity, int events, string idempotencyKey);

    [LoggerMessage(3000, LogLevel.Information, "Pruned {Events} events, {Runs} runs, {Deliveries} log lines, {Jobs} finished jobs")]
    public static partial void Pruned(this ILogger logger, int events, int runs, int deliveries, int jobs);

    [LoggerMessage(3001, LogLevel.Error, "Pruning failed")]
    public static partial void PruneFailed(this ILogger logger, Exception exception);

    [LoggerMessage(6000, LogLevel.Information, "eventsync mcp: store {Store}; config {Origin}; vector flows {Flows}")]
    public static partial void McpStarted(this ILogger logger, string store, string origin, string flows);
}
