using EventSync.Core.Work;

namespace EventSync.Core.Storage;

/// <summary>
/// Everything EventSync keeps: events, the delivery log, jobs, runs, dead letters (parked jobs), sink pauses,
/// source state and cursors. Two real implementations: SQLite and PostgreSQL. Times come from the caller's
/// TimeProvider, never from the database clock, so engine logic is testable without waiting.
/// </summary>
public interface IEventStore : ISyncStateStore, IAsyncDisposable
{
    /// <summary>Where the data lives, safe to print (no passwords).</summary>
    string Description { get; }

    /// <summary>True when several processes may share this store (PostgreSQL).</summary>
    bool IsShared { get; }

    /// <summary>
    /// How many ingest group commits may be queued or in flight at once. Event ids must follow commit order per key
    /// (or a job could deliver an older state last): SQLite's one writer runs queued commits in turn; on PostgreSQL a
    /// group commit that creates jobs holds an advisory lock while it numbers and commits, so there it is one.
    /// </summary>
    int ConcurrentIngestCommits { get; }

    Task MigrateAsync(CancellationToken cancellationToken);

    Task<int> SchemaVersionAsync(CancellationToken cancellationToken);

    Task PingAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Commits a batch in one transaction (group commit): each event with its jobs and delivery-log line, and
    /// log-only lines for rejections. An event whose (source, dedup key) is already stored is a duplicate and creates
    /// no job. Results are in batch order.
    /// </summary>
    Task<IReadOnlyList<IngestResult>> IngestAsync(IReadOnlyList<IngestWrite> batch, CancellationToken cancellationToken);

    /// <summary>
    /// Claims due pending jobs whose sink is not paused and whose key has no running job, marks them running with a
    /// lease, counts the attempt, and returns them with their events (oldest first).
    /// </summary>
    Task<IReadOnlyList<ClaimedJob>> ClaimJobsAsync(string owner, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>
    /// Records each run and moves its job on, all in one transaction (the workers' group commit). An entry is false
    /// (and its run recorded as lease-lost) when the job is no longer ours.
    /// </summary>
    Task<IReadOnlyList<bool>> CompleteJobsAsync(IReadOnlyList<JobCompletion> completions, CancellationToken cancellationToken);

    Task RenewLeasesAsync(string owner, IReadOnlyCollection<long> jobIds, DateTimeOffset leaseUntil, CancellationToken cancellationToken);

    /// <summary>Running jobs whose lease ran out before <paramref name="now"/> (their worker died or stalled).</summary>
    Task<IReadOnlyList<JobInfo>> ListExpiredLeasesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    Task PauseSinkAsync(string sink, DateTimeOffset until, string reason, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, DateTimeOffset>> GetSinkPausesAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// The earliest due time after <paramref name="after"/> of a pending job, or null when none is due later. Jobs due
    /// already are left out: one that cannot run yet (its sink paused, its key running) must not hide the next one.
    /// </summary>
    Task<DateTimeOffset?> NextDueAsync(DateTimeOffset after, CancellationToken cancellationToken);

    /// <summary>
    /// Pulses <paramref name="signal"/> whenever another process sharing the store commits new work (PostgreSQL
    /// LISTEN/NOTIFY, with the work's due time), until cancelled; completes at once for a store no other process shares.
    /// </summary>
    Task ListenForWorkAsync(WorkSignal signal, CancellationToken cancellationToken);

    Task<JobInfo?> GetJobAsync(long jobId, CancellationToken cancellationToken);

    Task<IReadOnlyList<JobInfo>> ListJobsAsync(string? status, string? flow, int limit, CancellationToken cancellationToken);

    Task<IReadOnlyList<StoredEvent>> ListEventsAsync(EventQuery query, CancellationToken cancellationToken);

    Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery query, CancellationToken cancellationToken);

    Task<RunDetail?> GetRunAsync(long runId, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeliveryRecord>> ListDeliveriesAsync(DeliveryQuery query, CancellationToken cancellationToken);

    /// <summary>Moves a parked job back to pending with fresh attempts; returns the pending job's id, or null if it was not parked.</summary>
    Task<long?> ReplayDeadLetterAsync(long jobId, DateTimeOffset now, CancellationToken cancellationToken);

    Task<bool> DeleteDeadLetterAsync(long jobId, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<FlowQueueStats>> GetQueueStatsAsync(CancellationToken cancellationToken);

    /// <summary>Pending and running jobs of a flow with their newest event's payload (to attribute the backlog, e.g. per tenant).</summary>
    Task<IReadOnlyList<QueuedJob>> ListQueuedJobsAsync(string flow, int limit, CancellationToken cancellationToken);

    Task<string?> GetSourceStateAsync(string source, string name, CancellationToken cancellationToken);

    Task SetSourceStateAsync(string source, string name, string value, DateTimeOffset now, CancellationToken cancellationToken);

    Task<string?> GetCursorAsync(string name, CancellationToken cancellationToken);

    Task SetCursorAsync(string name, string value, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Deletes finished events, runs and log lines older than the cut-offs. Dead letters and their events stay.</summary>
    Task<PruneResult> PruneAsync(DateTimeOffset eventsBefore, DateTimeOffset runsBefore, DateTimeOffset deliveriesBefore, CancellationToken cancellationToken);
}
