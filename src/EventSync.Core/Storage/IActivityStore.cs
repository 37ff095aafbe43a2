namespace EventSync.Core.Storage;

/// <summary>
/// Read-only queries for the web dashboard: per-minute activity for the charts, the live event feed, and the work an
/// event caused. Implemented by the SQL store on both backends.
/// </summary>
public interface IActivityStore
{
    /// <summary>
    /// Events (by received_at, counted once per flow that got a job for them) and runs (by started_at) per flow in
    /// buckets of <paramref name="bucket"/> from <paramref name="from"/> up to <paramref name="to"/>.
    /// </summary>
    Task<IReadOnlyList<ActivityCount>> GetActivityAsync(DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken cancellationToken);

    /// <summary>Per flow, pending jobs that already failed at least once (waiting out a retry backoff).</summary>
    Task<IReadOnlyDictionary<string, int>> CountRetryingAsync(CancellationToken cancellationToken);

    /// <summary>Events with an id above <paramref name="afterId"/>, oldest first (the live feed's next page).</summary>
    Task<IReadOnlyList<StoredEvent>> ListEventsAfterAsync(long afterId, EventQuery filter, CancellationToken cancellationToken);

    /// <summary>One event with its payload, or null.</summary>
    Task<StoredEvent?> GetEventAsync(long id, CancellationToken cancellationToken);

    /// <summary>The jobs that carried an event (a retry or replay continues as a new job, so there may be several).</summary>
    Task<IReadOnlyList<JobInfo>> ListEventJobsAsync(long eventId, int limit, CancellationToken cancellationToken);

    /// <summary>Runs of the given jobs, newest first.</summary>
    Task<IReadOnlyList<RunRecord>> ListJobRunsAsync(IReadOnlyCollection<long> jobIds, int limit, CancellationToken cancellationToken);
}

/// <summary>One bucket of one flow: <c>Bucket</c> is the index from the query's start (0 = oldest).</summary>
public sealed record ActivityCount(string Flow, int Bucket, int Events, int Runs, int FailedRuns);
