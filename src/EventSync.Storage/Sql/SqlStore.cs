using System.Data.Common;
using System.Text;
using EventSync.Core.Storage;
using EventSync.Core.Work;

namespace EventSync.Storage.Sql;

/// <summary>
/// The store logic shared by both backends: one set of SQL, with the few dialect differences (row locking,
/// GREATEST/max, identity columns, notification) supplied by the subclass.
/// </summary>
public abstract partial class SqlStore : IEventStore
{
    protected const string JobColumns = "id, flow, entity_key, sink, status, attempts, created_at, due_at, deadline_at, lease_owner, lease_until, last_error, merged_into, updated_at";
    private const string RunColumns = "id, job_id, flow, entity_key, sink, attempt, worker, started_at, finished_at, outcome, error, trigger_info, resources";
    protected const string EventColumns = "id, source, delivery_id, event_type, entity_key, received_at, headers";

    public abstract string Description { get; }
    public abstract bool IsShared { get; }
    public virtual int ConcurrentIngestCommits => 1;

    /// <summary>Whether this is the PostgreSQL backend, which also runs the schema versions only it needs.</summary>
    protected virtual bool IsPostgreSql => false;

    /// <summary>SQL for the larger of two values (max on SQLite, GREATEST on PostgreSQL).</summary>
    protected abstract string Greatest { get; }
    protected abstract string Least { get; }
    /// <summary>Appended to a claim's inner SELECT (FOR UPDATE SKIP LOCKED on PostgreSQL).</summary>
    protected abstract string SkipLockedClause { get; }
    /// <summary>Appended to a SELECT that must lock its row for the rest of the transaction.</summary>
    protected abstract string RowLockClause { get; }
    protected abstract string IdentityColumn { get; }
    /// <summary>
    /// Pins queries over due pending jobs to the jobs_due index (SQLite's INDEXED BY). Without it the planner may
    /// sort the whole backlog on every claim, under the single writer lock.
    /// </summary>
    protected abstract string DueIndexHint { get; }
    /// <summary>
    /// Ends a correlated subquery that must stay one index probe per outer row (OFFSET 0 on PostgreSQL, whose planner
    /// may otherwise turn it into a join that reads the whole index, dead entries included, for every row; SQLite
    /// always probes).
    /// </summary>
    protected abstract string ProbeFence { get; }
    protected abstract string BlobType { get; }

    /// <summary>
    /// "column IN ids" with the ids in one parameter (see <see cref="IdsValue"/>), so the statement text stays the same
    /// whatever the list and is prepared once instead of parsed per call.
    /// </summary>
    protected abstract string InIds(string column, string parameter);

    protected abstract object IdsValue(IReadOnlyCollection<long> ids);

    protected abstract Task<WriteScope> BeginWriteAsync(CancellationToken ct);

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction and commits it. The work must not commit itself: a backend
    /// with a single writer (SQLite) runs the work of concurrent callers in one transaction, so they share one fsync.
    /// </summary>
    protected virtual async Task<T> InWriteAsync<T>(Func<WriteScope, CancellationToken, Task<T>> work, CancellationToken ct)
    {
        await using var scope = await BeginWriteAsync(ct);
        var result = await work(scope, ct);
        await scope.CommitAsync(ct);
        return result;
    }

    protected abstract Task<DbConnection> OpenReadAsync(CancellationToken ct);
    protected abstract Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken ct);

    /// <summary>Tells other processes new jobs are due (PostgreSQL NOTIFY, inside the writing transaction).</summary>
    protected virtual Task SignalNewWorkAsync(DbConnection connection, DbTransaction transaction, CancellationToken ct) => Task.CompletedTask;

    public virtual Task ListenForWorkAsync(WorkSignal signal, CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract ValueTask DisposeAsync();

    // ---------------------------------------------------------------- schema

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        await LockForMigrationAsync(scope.Connection, scope.Transaction, cancellationToken);
        await ExecuteAsync(scope, Schema.MigrationsTable, cancellationToken);
        var current = await ScalarLongAsync(scope, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken) ?? 0;
        for (var v = (int)current + 1; v <= Schema.Versions.Length; v++)
        {
            var script = Schema.Versions[v - 1].Replace("{id}", IdentityColumn, StringComparison.Ordinal).Replace("{blob}", BlobType, StringComparison.Ordinal);
            if (script.StartsWith(Schema.PostgresOnly, StringComparison.Ordinal))
            {
                if (IsPostgreSql) await ExecuteAsync(scope, script, cancellationToken);
            }
            else
            {
                foreach (var statement in script.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    await ExecuteAsync(scope, statement, cancellationToken);
            }
            await ExecuteAsync(scope, "INSERT INTO schema_migrations (version, applied_at) VALUES (@v, @at)", cancellationToken, ("v", v), ("at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        }
        await scope.CommitAsync(cancellationToken);
    }

    public async Task<int> SchemaVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        try
        {
            return (int)(await ScalarLongAsync(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken) ?? 0);
        }
        catch (DbException)
        {
            return 0;
        }
    }

    public static int LatestSchemaVersion => Schema.Versions.Length;

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await ScalarLongAsync(connection, null, "SELECT COUNT(*) FROM schema_migrations", cancellationToken);
    }

    // ---------------------------------------------------------------- ingest

    /// <summary>One group commit: every receipt in the delivery log, each accepted event with its jobs (see the backends).</summary>
    public abstract Task<IReadOnlyList<IngestResult>> IngestAsync(IReadOnlyList<IngestWrite> batch, CancellationToken cancellationToken);

    /// <summary>
    /// One pending job per (flow, key): a new event merges into it and pushes its due time to now + settle,
    /// never past the deadline set by the first event (max wait), and never earlier than a retry backoff.
    /// </summary>
    protected string UpsertJobSql =>
        $"""
        INSERT INTO jobs (flow, entity_key, sink, status, attempts, created_at, due_at, deadline_at, updated_at)
        VALUES (@flow, @key, @sink, 'pending', 0, @now, @due, @deadline, @now)
        ON CONFLICT (flow, entity_key) WHERE status = 'pending'
        DO UPDATE SET due_at = {Greatest}(jobs.due_at, {Least}(excluded.due_at, jobs.deadline_at)), updated_at = excluded.updated_at
        RETURNING id
        """;

    protected static void SetJobParameters(DbCommand command, JobRequest job, DateTimeOffset now)
    {
        var at = now.ToUnixTimeMilliseconds();
        Set(command, ("flow", job.Flow), ("key", job.EntityKey), ("sink", job.Sink), ("now", at),
            ("due", at + (long)job.Settle.TotalMilliseconds), ("deadline", at + (long)Math.Max(job.MaxWait.TotalMilliseconds, job.Settle.TotalMilliseconds)));
    }

    // ---------------------------------------------------------------- work

    /// <summary>
    /// Takes up to @max due jobs whose sink is not paused and whose key is not running elsewhere, for @owner until
    /// @lease (parameters: owner, lease, now, max); returns the claimed rows' <see cref="JobColumns"/>.
    /// </summary>
    protected string ClaimSql => $"""
        UPDATE jobs SET status = 'running', lease_owner = @owner, lease_until = @lease, attempts = attempts + 1, updated_at = @now
        WHERE id IN (
            SELECT j.id FROM jobs j {DueIndexHint}
            WHERE j.status = 'pending' AND j.due_at <= @now
              AND NOT EXISTS (SELECT 1 FROM sink_pauses p WHERE p.sink = j.sink AND p.until > @now)
              AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.status = 'running' AND r.flow = j.flow AND r.entity_key = j.entity_key{ProbeFence})
            ORDER BY j.due_at, j.id
            LIMIT @max {SkipLockedClause})
        RETURNING {JobColumns}
        """;

    public virtual async Task<IReadOnlyList<ClaimedJob>> ClaimJobsAsync(string owner, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (max <= 0) return [];
        var jobs = await InWriteAsync(async (scope, ct) =>
        {
            var claimed = new List<JobInfo>();
            await using var command = Command(scope, ClaimSql);
            Set(command, ("owner", owner), ("lease", (now + lease).ToUnixTimeMilliseconds()), ("now", now.ToUnixTimeMilliseconds()), ("max", max));
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) claimed.Add(ReadJob(reader, 0));
            return claimed;
        }, cancellationToken);
        if (jobs.Count == 0) return [];
        jobs.Sort((a, b) => a.Id.CompareTo(b.Id));
        var events = await LoadJobEventsAsync(jobs.Select(j => j.Id).ToList(), cancellationToken);
        return jobs.Select(j => new ClaimedJob(j with { EventCount = events.TryGetValue(j.Id, out var list) ? list.Count : 0 }, events.TryGetValue(j.Id, out var l) ? l : [])).ToList();
    }

    /// <summary>Every merged event's metadata, oldest first; only the newest carries its payload (the job runs on the newest state).</summary>
    private async Task<Dictionary<long, List<StoredEvent>>> LoadJobEventsAsync(IReadOnlyList<long> jobIds, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        // Two single-table lookups by key, not a join: a join's plan depends on statistics a freshly filled table lacks
        // (PostgreSQL hashed the whole events table per claim until autovacuum's first ANALYZE, a minute in).
        var links = new List<(long Job, long Event)>();
        await using (var command = Command(connection, null, JobEventIdsSql))
        {
            Set(command, ("ids", IdsValue(jobIds)));
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) links.Add((reader.GetInt64(0), reader.GetInt64(1)));
        }
        var result = new Dictionary<long, List<StoredEvent>>();
        if (links.Count == 0) return result;
        var eventJobs = links.ToLookup(l => l.Event, l => l.Job); // one event can cause jobs of several flows
        var newest = links.GroupBy(l => l.Job).Select(g => g.Max(l => l.Event)).Distinct().ToList();
        await ReadEventsAsync(eventJobs.Select(g => g.Key).ToList(), newest, replace: false);
        foreach (var list in result.Values) list.Sort((a, b) => a.Id.CompareTo(b.Id));
        // The newest event of a job was deleted: the newest one left carries the payload.
        var missing = result.Values.Where(l => l[^1].Payload.Length == 0).Select(l => l[^1].Id).Distinct().ToList();
        if (missing.Count > 0) await ReadEventsAsync(missing, missing, replace: true);
        return result;

        async Task ReadEventsAsync(IReadOnlyCollection<long> ids, IReadOnlyCollection<long> withPayload, bool replace)
        {
            await using var command = Command(connection, null, $"SELECT {EventColumns}, CASE WHEN {InIds("id", "newest")} THEN payload END FROM events WHERE {InIds("id", "ids")}");
            Set(command, ("ids", IdsValue(ids)), ("newest", IdsValue(withPayload)));
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var e = ReadEvent(reader, 0, reader.IsDBNull(7) ? [] : (byte[])reader.GetValue(7));
                foreach (var jobId in eventJobs[e.Id])
                {
                    if (!result.TryGetValue(jobId, out var list)) result[jobId] = list = [];
                    if (replace && list[^1].Id == e.Id) list[^1] = e;
                    else if (!replace) list.Add(e);
                }
            }
        }
    }

    /// <summary>(job_id, event_id) of the jobs in the ids parameter, found through job_events' primary key.</summary>
    protected abstract string JobEventIdsSql { get; }

    public virtual Task<IReadOnlyList<bool>> CompleteJobsAsync(IReadOnlyList<JobCompletion> completions, CancellationToken cancellationToken) =>
        InWriteAsync((scope, ct) => CompleteJobsAsync(scope, completions, ct), cancellationToken);

    private async Task<IReadOnlyList<bool>> CompleteJobsAsync(WriteScope scope, IReadOnlyList<JobCompletion> completions, CancellationToken cancellationToken)
    {
        var results = new bool[completions.Count];
        // Reused for every completion of the batch: prepared once, not once per job.
        await using var insertRun = Command(scope, InsertRunSql);
        await using var markDone = Command(scope, "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = @now WHERE id = @id AND status = 'running' AND lease_owner = @owner RETURNING id");
        var requeued = false;
        for (var i = 0; i < completions.Count; i++)
        {
            var c = completions[i];
            var now = c.Run.FinishedAt;
            if (c.Outcome == JobOutcome.Done && c.OnlyIfLeaseExpiredBefore is null)
            {
                // The common case in one conditional statement: done only if still ours.
                Set(markDone, ("now", now.ToUnixTimeMilliseconds()), ("id", c.JobId), ("owner", c.Owner));
                var done = ToLong(await markDone.ExecuteScalarAsync(cancellationToken));
                await InsertRunAsync(insertRun, done is null ? c.Run with { Outcome = RunOutcomes.LeaseLost, Error = $"lease lost before completion ({c.Run.Outcome})" } : c.Run, cancellationToken);
                results[i] = done is not null;
                continue;
            }
            var job = await ReadJobForUpdateAsync(scope, c.JobId, cancellationToken);
            var ours = job is { Status: JobStatuses.Running } && job.LeaseOwner == c.Owner
                       && (c.OnlyIfLeaseExpiredBefore is null || job.LeaseUntil < c.OnlyIfLeaseExpiredBefore);
            if (!ours)
            {
                // A reclaim that lost the race writes nothing; a worker that lost its lease records what it did.
                if (c.OnlyIfLeaseExpiredBefore is null)
                    await InsertRunAsync(insertRun, c.Run with { Outcome = RunOutcomes.LeaseLost, Error = $"lease lost before completion ({c.Run.Outcome}{(c.Run.Error is null ? "" : ": " + c.Run.Error)})" }, cancellationToken);
                continue;
            }
            await InsertRunAsync(insertRun, c.Run, cancellationToken);
            switch (c.Outcome)
            {
                case JobOutcome.Done: // a reclaim's completion (rare)
                    await ExecuteAsync(scope, "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = @now WHERE id = @id", cancellationToken, ("now", now.ToUnixTimeMilliseconds()), ("id", c.JobId));
                    break;
                case JobOutcome.Park:
                    await ExecuteAsync(scope, "UPDATE jobs SET status = 'parked', lease_owner = NULL, lease_until = NULL, last_error = @error, updated_at = @now WHERE id = @id", cancellationToken, ("now", now.ToUnixTimeMilliseconds()), ("id", c.JobId), ("error", c.Error));
                    break;
                case JobOutcome.Retry or JobOutcome.Throttled:
                    var attempts = c.Outcome == JobOutcome.Throttled ? Math.Max(0, job!.Attempts - 1) : job!.Attempts;
                    await RequeueAsync(scope, job, c.RetryAt ?? now, attempts, c.Error, now, cancellationToken);
                    requeued = true;
                    break;
            }
            results[i] = true;
        }
        if (requeued) await SignalNewWorkAsync(scope.Connection, scope.Transaction, cancellationToken);
        return results;
    }

    /// <summary>
    /// Puts a job's events back in the queue as the key's pending job (created, or merged into the one that newer
    /// events already made), and marks this job superseded. One path for retry, throttle, replay and reclaim.
    /// </summary>
    private async Task<long> RequeueAsync(WriteScope scope, JobInfo job, DateTimeOffset dueAt, int attempts, string? error, DateTimeOffset now, CancellationToken ct)
    {
        var at = now.ToUnixTimeMilliseconds();
        var due = dueAt.ToUnixTimeMilliseconds();
        var pendingId = (await ScalarLongAsync(scope, $"""
            INSERT INTO jobs (flow, entity_key, sink, status, attempts, created_at, due_at, deadline_at, updated_at, last_error)
            VALUES (@flow, @key, @sink, 'pending', @attempts, @now, @due, @due, @now, @error)
            ON CONFLICT (flow, entity_key) WHERE status = 'pending'
            DO UPDATE SET due_at = {Greatest}(jobs.due_at, excluded.due_at), attempts = {Greatest}(jobs.attempts, excluded.attempts),
                          last_error = excluded.last_error, updated_at = excluded.updated_at
            RETURNING id
            """, ct, ("flow", job.Flow), ("key", job.EntityKey), ("sink", job.Sink), ("attempts", attempts), ("now", at), ("due", due), ("error", error)))!.Value;
        await ExecuteAsync(scope, "INSERT INTO job_events (job_id, event_id) SELECT @to, event_id FROM job_events WHERE job_id = @from ON CONFLICT DO NOTHING", ct, ("to", pendingId), ("from", job.Id));
        await ExecuteAsync(scope, "UPDATE jobs SET status = 'superseded', merged_into = @to, lease_owner = NULL, lease_until = NULL, last_error = @error, updated_at = @now WHERE id = @id", ct, ("to", pendingId), ("id", job.Id), ("now", at), ("error", error));
        return pendingId;
    }

    private async Task<JobInfo?> ReadJobForUpdateAsync(WriteScope scope, long id, CancellationToken ct)
    {
        await using var command = Command(scope, $"SELECT {JobColumns} FROM jobs WHERE id = @id {RowLockClause}");
        Set(command, ("id", id));
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadJob(reader, 0) : null;
    }

    private const string InsertRunSql = "INSERT INTO runs (job_id, flow, entity_key, sink, attempt, worker, started_at, finished_at, outcome, error, trigger_info, resources) VALUES (@job, @flow, @key, @sink, @attempt, @worker, @started, @finished, @outcome, @error, @trigger, @resources)";

    private static async Task InsertRunAsync(DbCommand insertRun, RunRecord run, CancellationToken ct)
    {
        Set(insertRun, ("job", run.JobId), ("flow", run.Flow), ("key", run.EntityKey), ("sink", run.Sink), ("attempt", run.Attempt), ("worker", run.Worker),
            ("started", run.StartedAt.ToUnixTimeMilliseconds()), ("finished", run.FinishedAt.ToUnixTimeMilliseconds()), ("outcome", run.Outcome), ("error", run.Error),
            ("trigger", run.TriggerJson), ("resources", run.ResourcesJson));
        await insertRun.ExecuteNonQueryAsync(ct);
    }

    public async Task RenewLeasesAsync(string owner, IReadOnlyCollection<long> jobIds, DateTimeOffset leaseUntil, CancellationToken cancellationToken)
    {
        if (jobIds.Count == 0) return;
        await using var scope = await BeginWriteAsync(cancellationToken);
        await ExecuteAsync(scope, $"UPDATE jobs SET lease_until = @until WHERE status = 'running' AND lease_owner = @owner AND {InIds("id", "ids")}", cancellationToken, ("until", leaseUntil.ToUnixTimeMilliseconds()), ("owner", owner), ("ids", IdsValue(jobIds)));
        await scope.CommitAsync(cancellationToken);
    }

    public Task<IReadOnlyList<JobInfo>> ListExpiredLeasesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        QueryJobsAsync("WHERE status = 'running' AND lease_until < @now ORDER BY lease_until LIMIT @limit", cancellationToken, ("now", now.ToUnixTimeMilliseconds()), ("limit", limit));

    public async Task PauseSinkAsync(string sink, DateTimeOffset until, string reason, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        await ExecuteAsync(scope, $"INSERT INTO sink_pauses (sink, until, reason) VALUES (@sink, @until, @reason) ON CONFLICT (sink) DO UPDATE SET until = {Greatest}(sink_pauses.until, excluded.until), reason = excluded.reason", cancellationToken,
            ("sink", sink), ("until", until.ToUnixTimeMilliseconds()), ("reason", reason));
        await scope.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, DateTimeOffset>> GetSinkPausesAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, DateTimeOffset>();
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT sink, until FROM sink_pauses WHERE until > @now");
        Set(command, ("now", now.ToUnixTimeMilliseconds()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) result[reader.GetString(0)] = FromMs(reader.GetInt64(1));
        return result;
    }

    /// <summary>
    /// The first entry of jobs_due after @after. Not MIN(due_at): PostgreSQL may plan that, while jobs is nearly empty, as an aggregate
    /// over the whole index, and a prepared statement keeps that plan until the table is next analysed (with 90,000 jobs
    /// pending, 23 ms a call). ORDER BY ... LIMIT 1 has no such plan: the index scan stops at the first row.
    /// </summary>
    public async Task<DateTimeOffset?> NextDueAsync(DateTimeOffset after, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        var ms = await ScalarLongAsync(connection, null, $"SELECT due_at FROM jobs {DueIndexHint} WHERE status = 'pending' AND due_at > @after ORDER BY due_at, id LIMIT 1", cancellationToken,
            ("after", after.ToUnixTimeMilliseconds()));
        return ms is null ? null : FromMs(ms.Value);
    }

    // ---------------------------------------------------------------- dead letters

    public async Task<long?> ReplayDeadLetterAsync(long jobId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        var job = await ReadJobForUpdateAsync(scope, jobId, cancellationToken);
        if (job is not { Status: JobStatuses.Parked }) return null;
        var pendingId = await RequeueAsync(scope, job, now, 0, null, now, cancellationToken);
        await SignalNewWorkAsync(scope.Connection, scope.Transaction, cancellationToken);
        await scope.CommitAsync(cancellationToken);
        return pendingId;
    }

    public async Task<bool> DeleteDeadLetterAsync(long jobId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        var n = await ExecuteAsync(scope, "UPDATE jobs SET status = 'discarded', updated_at = @now WHERE id = @id AND status = 'parked'", cancellationToken, ("id", jobId), ("now", now.ToUnixTimeMilliseconds()));
        await scope.CommitAsync(cancellationToken);
        return n == 1;
    }

    // ---------------------------------------------------------------- queries

    public async Task<JobInfo?> GetJobAsync(long jobId, CancellationToken cancellationToken) =>
        (await QueryJobsAsync("WHERE id = @id", cancellationToken, ("id", jobId))).FirstOrDefault();

    public Task<IReadOnlyList<JobInfo>> ListJobsAsync(string? status, string? flow, int limit, CancellationToken cancellationToken) =>
        QueryJobsAsync("WHERE (@status IS NULL OR status = @status) AND (@flow IS NULL OR flow = @flow) ORDER BY id DESC LIMIT @limit", cancellationToken, ("status", status), ("flow", flow), ("limit", limit));

    private async Task<IReadOnlyList<JobInfo>> QueryJobsAsync(string where, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var connection = await OpenReadAsync(ct);
        await using var command = Command(connection, null, $"SELECT {JobColumns}, (SELECT COUNT(*) FROM job_events je WHERE je.job_id = jobs.id) FROM jobs {where}");
        Set(command, parameters);
        var list = new List<JobInfo>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) list.Add(ReadJob(reader, 0) with { EventCount = (int)reader.GetInt64(14) });
        return list;
    }

    public async Task<IReadOnlyList<StoredEvent>> ListEventsAsync(EventQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            SELECT {EventColumns}, payload FROM events
            WHERE (@source IS NULL OR source = @source) AND (@type IS NULL OR event_type = @type) AND (@entity IS NULL OR entity_key = @entity)
              AND (@since IS NULL OR received_at >= @since) AND (@before IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @limit
            """);
        Set(command, ("source", query.Source), ("type", query.EventType), ("entity", query.EntityKey), ("since", L(query.Since?.ToUnixTimeMilliseconds())), ("before", L(query.BeforeId)), ("limit", query.Limit));
        var list = new List<StoredEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) list.Add(ReadEvent(reader, 0, (byte[])reader.GetValue(7)));
        return list;
    }

    public async Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        // A job filter means the whole logical job: each retry, throttle or replay continues it as a new row (merged_into).
        await using var command = Command(connection, null, $"""
            WITH RECURSIVE forward(id, next) AS (
                SELECT id, merged_into FROM jobs WHERE id = CAST(@job AS bigint)
                UNION SELECT j.id, j.merged_into FROM jobs j JOIN forward f ON j.id = f.next),
            chain(id) AS (
                SELECT id FROM forward WHERE next IS NULL
                UNION SELECT j.id FROM jobs j JOIN chain c ON j.merged_into = c.id)
            SELECT {RunColumns} FROM runs
            WHERE (@flow IS NULL OR flow = @flow) AND (@outcome IS NULL OR outcome = @outcome) AND (@since IS NULL OR started_at >= @since)
              AND (@job IS NULL OR job_id = @job OR job_id IN (SELECT id FROM chain)) AND (@before IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @limit
            """);
        Set(command, ("flow", query.Flow), ("outcome", query.Outcome), ("since", L(query.Since?.ToUnixTimeMilliseconds())), ("job", L(query.JobId)), ("before", L(query.BeforeId)), ("limit", query.Limit));
        var list = new List<RunRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) list.Add(ReadRun(reader));
        return list;
    }

    public async Task<RunDetail?> GetRunAsync(long runId, CancellationToken cancellationToken)
    {
        RunRecord? run;
        await using (var connection = await OpenReadAsync(cancellationToken))
        await using (var command = Command(connection, null, $"SELECT {RunColumns} FROM runs WHERE id = @id"))
        {
            Set(command, ("id", runId));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            run = await reader.ReadAsync(cancellationToken) ? ReadRun(reader) : null;
        }
        if (run is null) return null;
        var job = await GetJobAsync(run.JobId, cancellationToken);
        var events = await LoadJobEventsAsync([run.JobId], cancellationToken);
        return new RunDetail(run, job, events.TryGetValue(run.JobId, out var list) ? list : []);
    }

    public async Task<IReadOnlyList<DeliveryRecord>> ListDeliveriesAsync(DeliveryQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT id, at, source, delivery_id, status, outcome, reason, bytes, remote, event_id FROM deliveries
            WHERE (@source IS NULL OR source = @source) AND (@outcome IS NULL OR outcome = @outcome) AND (@since IS NULL OR at >= @since)
            ORDER BY id DESC LIMIT @limit
            """);
        Set(command, ("source", query.Source), ("outcome", query.Outcome), ("since", L(query.Since?.ToUnixTimeMilliseconds())), ("limit", query.Limit));
        var list = new List<DeliveryRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new DeliveryRecord(FromMs(reader.GetInt64(1)), reader.GetString(2), NullableString(reader, 3), (int)reader.GetInt64(4), reader.GetString(5),
                NullableString(reader, 6), (int)reader.GetInt64(7), NullableString(reader, 8), reader.IsDBNull(9) ? null : reader.GetInt64(9), reader.GetInt64(0)));
        return list;
    }

    public async Task<IReadOnlyList<FlowQueueStats>> GetQueueStatsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT flow,
                   SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END),
                   SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END),
                   SUM(CASE WHEN status = 'parked' THEN 1 ELSE 0 END),
                   MIN(CASE WHEN status IN ('pending', 'running') THEN created_at END)
            FROM jobs WHERE status IN ('pending', 'running', 'parked') GROUP BY flow ORDER BY flow
            """);
        var list = new List<FlowQueueStats>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new FlowQueueStats(reader.GetString(0), (int)reader.GetInt64(1), (int)reader.GetInt64(2), (int)reader.GetInt64(3), reader.IsDBNull(4) ? null : FromMs(reader.GetInt64(4))));
        return list;
    }

    public async Task<IReadOnlyList<QueuedJob>> ListQueuedJobsAsync(string flow, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT j.id, j.entity_key, j.created_at, e.payload FROM jobs j
            JOIN events e ON e.id = (SELECT MAX(je.event_id) FROM job_events je WHERE je.job_id = j.id)
            WHERE j.flow = @flow AND j.status IN ('pending', 'running') ORDER BY j.created_at LIMIT @limit
            """);
        Set(command, ("flow", flow), ("limit", limit));
        var list = new List<QueuedJob>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new QueuedJob(reader.GetInt64(0), reader.GetString(1), FromMs(reader.GetInt64(2)), (byte[])reader.GetValue(3)));
        return list;
    }

    // ---------------------------------------------------------------- source state and cursors

    public async Task<string?> GetSourceStateAsync(string source, string name, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT value FROM source_state WHERE source = @source AND name = @name");
        Set(command, ("source", source), ("name", name));
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task SetSourceStateAsync(string source, string name, string value, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        await ExecuteAsync(scope, "INSERT INTO source_state (source, name, value, updated_at) VALUES (@source, @name, @value, @now) ON CONFLICT (source, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at", cancellationToken,
            ("source", source), ("name", name), ("value", value), ("now", now.ToUnixTimeMilliseconds()));
        await scope.CommitAsync(cancellationToken);
    }

    public async Task<string?> GetCursorAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT value FROM cursors WHERE name = @name");
        Set(command, ("name", name));
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task SetCursorAsync(string name, string value, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        await ExecuteAsync(scope, "INSERT INTO cursors (name, value, updated_at) VALUES (@name, @value, @now) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at", cancellationToken,
            ("name", name), ("value", value), ("now", now.ToUnixTimeMilliseconds()));
        await scope.CommitAsync(cancellationToken);
    }

    // ---------------------------------------------------------------- retention

    public async Task<PruneResult> PruneAsync(DateTimeOffset eventsBefore, DateTimeOffset runsBefore, DateTimeOffset deliveriesBefore, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        var jobs = await ExecuteAsync(scope, "DELETE FROM jobs WHERE status IN ('done', 'superseded', 'discarded') AND updated_at < @cut", cancellationToken, ("cut", runsBefore.ToUnixTimeMilliseconds()));
        await ExecuteAsync(scope, "DELETE FROM job_events WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = job_events.job_id)", cancellationToken);
        var events = await ExecuteAsync(scope, """
            DELETE FROM events WHERE received_at < @cut
              AND NOT EXISTS (SELECT 1 FROM job_events je JOIN jobs j ON j.id = je.job_id WHERE je.event_id = events.id AND j.status IN ('pending', 'running', 'parked'))
            """, cancellationToken, ("cut", eventsBefore.ToUnixTimeMilliseconds()));
        var runs = await ExecuteAsync(scope, "DELETE FROM runs WHERE started_at < @cut AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = runs.job_id AND j.status = 'parked')", cancellationToken, ("cut", runsBefore.ToUnixTimeMilliseconds()));
        var deliveries = await ExecuteAsync(scope, "DELETE FROM deliveries WHERE at < @cut", cancellationToken, ("cut", deliveriesBefore.ToUnixTimeMilliseconds()));
        await scope.CommitAsync(cancellationToken);
        return new PruneResult(events, runs, deliveries, jobs);
    }

    // ---------------------------------------------------------------- helpers

    protected sealed class WriteScope(DbConnection connection, DbTransaction transaction, Func<ValueTask> release) : IAsyncDisposable
    {
        private bool _done;
        public DbConnection Connection { get; } = connection;
        public DbTransaction Transaction { get; } = transaction;

        public async Task CommitAsync(CancellationToken ct)
        {
            await Transaction.CommitAsync(ct);
            _done = true;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_done) await Transaction.RollbackAsync(CancellationToken.None);
            }
            catch (DbException)
            {
                // The connection is broken; the rollback happens server-side when it closes.
            }
            catch (InvalidOperationException)
            {
                // Already completed.
            }
            finally
            {
                await Transaction.DisposeAsync();
                await release();
            }
        }
    }

    protected static DbCommand Command(WriteScope scope, string sql) => Command(scope.Connection, scope.Transaction, sql);

    protected static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    /// <summary>
    /// Sets @name parameters, reusing the command's. Names are stored with their "@": unprefixed, Microsoft.Data.Sqlite
    /// tries ":name", "@name" and "$name" in turn on every execution, building and encoding each string (about a
    /// seventh of serve's allocations at full ingest).
    /// </summary>
    protected static void Set(DbCommand command, params (string Name, object? Value)[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            var (name, value) = values[i];
            var p = FindParameter(command.Parameters, name, hint: i);
            if (p is null)
            {
                p = command.CreateParameter();
                p.ParameterName = "@" + name;
                command.Parameters.Add(p);
            }
            // Nulls need a type: PostgreSQL must know what "@x IS NULL" compares and what a column receives.
            switch (value)
            {
                case TypedNull typed:
                    p.Value = DBNull.Value;
                    p.DbType = typed.Type;
                    break;
                case null:
                    p.Value = DBNull.Value;
                    p.DbType = System.Data.DbType.String;
                    break;
                default:
                    p.Value = value;
                    p.ResetDbType();
                    break;
            }
        }
    }

    /// <summary>The parameter named @<paramref name="name"/>; a reused command is set in the same order, so <paramref name="hint"/> is usually its index.</summary>
    private static DbParameter? FindParameter(DbParameterCollection parameters, string name, int hint)
    {
        if (hint < parameters.Count && IsNamed(parameters[hint], name)) return parameters[hint];
        for (var i = 0; i < parameters.Count; i++)
            if (IsNamed(parameters[i], name)) return parameters[i];
        return null;

        static bool IsNamed(DbParameter p, string name) =>
            p.ParameterName is { } n && n.Length == name.Length + 1 && n[0] == '@' && n.AsSpan(1).SequenceEqual(name);
    }

    private sealed record TypedNull(System.Data.DbType Type);

    private static readonly TypedNull NullInt64 = new(System.Data.DbType.Int64);

    /// <summary>A nullable bigint parameter value.</summary>
    protected static object L(long? value) => value is null ? NullInt64 : value.Value;

    protected static async Task<int> ExecuteAsync(WriteScope scope, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = Command(scope, sql);
        Set(command, parameters);
        return await command.ExecuteNonQueryAsync(ct);
    }

    protected static Task<long?> ScalarLongAsync(WriteScope scope, string sql, CancellationToken ct, params (string, object?)[] parameters) =>
        ScalarLongAsync(scope.Connection, scope.Transaction, sql, ct, parameters);

    protected static async Task<long?> ScalarLongAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, transaction, sql);
        Set(command, parameters);
        return ToLong(await command.ExecuteScalarAsync(ct));
    }

    protected static long? ToLong(object? value) => value is null or DBNull ? null : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);

    protected static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static string? NullableString(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    protected static JobInfo ReadJob(DbDataReader r, int o) => new(
        r.GetInt64(o), r.GetString(o + 1), r.GetString(o + 2), r.GetString(o + 3), r.GetString(o + 4), (int)r.GetInt64(o + 5),
        FromMs(r.GetInt64(o + 6)), FromMs(r.GetInt64(o + 7)), FromMs(r.GetInt64(o + 8)), NullableString(r, o + 9),
        r.IsDBNull(o + 10) ? null : FromMs(r.GetInt64(o + 10)), NullableString(r, o + 11), r.IsDBNull(o + 12) ? null : r.GetInt64(o + 12),
        FromMs(r.GetInt64(o + 13)), 0);

    protected static StoredEvent ReadEvent(DbDataReader r, int o, byte[] payload) => new(
        r.GetInt64(o), r.GetString(o + 1), r.GetString(o + 2), r.GetString(o + 3), NullableString(r, o + 4), FromMs(r.GetInt64(o + 5)), r.GetString(o + 6), payload);

    private static RunRecord ReadRun(DbDataReader r) => new(
        r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetString(4), (int)r.GetInt64(5), r.GetString(6),
        FromMs(r.GetInt64(7)), FromMs(r.GetInt64(8)), r.GetString(9), NullableString(r, 10), r.GetString(11), r.GetString(12));
}
