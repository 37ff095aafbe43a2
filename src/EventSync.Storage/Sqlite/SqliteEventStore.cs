using System.Buffers;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using EventSync.Core.Storage;
using EventSync.Storage.Sql;
using Microsoft.Data.Sqlite;

namespace EventSync.Storage.Sqlite;

/// <summary>
/// The embedded default. WAL with synchronous=FULL, so an acknowledged event survives power loss; one writer
/// connection serialises writes (SQLite allows one writer anyway) and group commit amortises each fsync: the hot
/// writes (ingest, claims, completions) that queue up while a transaction runs go into the next one together.
/// </summary>
public sealed class SqliteEventStore : SqlStore
{
    /// <summary>
    /// Writes per shared transaction, the ingests counting as one (they run as one): enough to amortise the fsync, few
    /// enough to keep each caller's wait short.
    /// </summary>
    private const int MaxCombinedWrites = 64;

    /// <summary>
    /// Webhooks per transaction when ingest batches are combined (the default <c>server.ingestBatchSize</c>): a burst
    /// then becomes several commits of bounded length, not one whose every caller waits for all of it.
    /// </summary>
    private const int MaxCombinedIngestWrites = 512;

    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Channel<CombinedWrite> _combined = Channel.CreateUnbounded<CombinedWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lazy<Task> _combiner;
    private SqliteConnection? _writer;
    private CombinedWrite? _carried; // taken from the queue but left for the next transaction (writer thread only)

    public SqliteEventStore(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path, Pooling = true, DefaultTimeout = 30 }.ToString();
        _combiner = new Lazy<Task>(() =>
        {
            var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            new Thread(() =>
            {
                try
                {
                    CombineWrites();
                }
                finally
                {
                    stopped.TrySetResult();
                }
            }) { Name = "eventsync-sqlite-writer", IsBackground = true }.Start();
            return stopped.Task;
        });
    }

    public string Path { get; }
    public override string Description => $"sqlite:{Path}";
    public override bool IsShared => false;
    // Many: each ingest loop hands over what it has at once, and the writer runs the ingests queued when its transaction
    // starts as one (TryIngestTogether), so a transaction's webhooks are the ones that arrived during the last commit.
    public override int ConcurrentIngestCommits => 64;
    protected override string Greatest => "max";
    protected override string Least => "min";
    protected override string SkipLockedClause => "";
    protected override string RowLockClause => "";
    protected override string IdentityColumn => "INTEGER PRIMARY KEY AUTOINCREMENT";
    protected override string DueIndexHint => "INDEXED BY jobs_due";
    protected override string ProbeFence => "";
    protected override string BlobType => "BLOB";
    protected override string InIds(string column, string parameter) => $"{column} IN (SELECT value FROM json_each(@{parameter}))";
    protected override string JobEventIdsSql => "SELECT job_id, event_id FROM job_events WHERE job_id IN (SELECT value FROM json_each(@ids))";
    protected override object IdsValue(IReadOnlyCollection<long> ids) => "[" + string.Join(',', ids) + "]";

    protected override async Task<WriteScope> BeginWriteAsync(CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct);
        try
        {
            _writer ??= await OpenAsync(writer: true, ct);
            var transaction = _writer.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: take the write lock now, not on upgrade
            return new WriteScope(_writer, transaction, () =>
            {
                _writeLock.Release();
                return ValueTask.CompletedTask;
            });
        }
        catch
        {
            _writer?.Dispose();
            _writer = null;
            _writeLock.Release();
            throw;
        }
    }

    public override Task<IReadOnlyList<IngestResult>> IngestAsync(IReadOnlyList<IngestWrite> batch, CancellationToken cancellationToken) =>
        EnqueueAsync(new CombinedIngest(this, batch, cancellationToken), cancellationToken);

    /// <summary>
    /// A group commit on the writer: each event, and each job it asks for, by a statement of its own, because their ids
    /// are needed; the links and the delivery log, which need nothing back, by one statement each over a JSON array
    /// (a statement per row was about a fifth of the writer's time per webhook).
    /// </summary>
    private async Task<IReadOnlyList<IngestResult>> IngestAsync(WriteScope scope, IReadOnlyList<IngestWrite> batch, CancellationToken cancellationToken)
    {
        var results = new IngestResult[batch.Count];
        await using var insertEvent = Command(scope, "INSERT INTO events (source, dedup_key, delivery_id, event_type, entity_key, received_at, headers, payload) VALUES (@source, @dedup, @delivery, @type, @entity, @at, @headers, @payload) ON CONFLICT (source, dedup_key) DO NOTHING RETURNING id");
        await using var findEvent = Command(scope, "SELECT id FROM events WHERE source = @source AND dedup_key = @dedup");
        await using var upsertJob = Command(scope, UpsertJobSql);
        var links = new List<(long Job, long Event)>();
        for (var i = 0; i < batch.Count; i++)
        {
            long? eventId = null;
            var duplicate = false;
            var jobs = 0;
            if (batch[i].Event is { } e)
            {
                Set(insertEvent, ("source", e.Source), ("dedup", e.DedupKey), ("delivery", e.DeliveryId), ("type", e.EventType), ("entity", e.EntityKey), ("at", e.ReceivedAt.ToUnixTimeMilliseconds()), ("headers", e.HeadersJson), ("payload", e.Payload));
                eventId = ToLong(await insertEvent.ExecuteScalarAsync(cancellationToken));
                if (eventId is null)
                {
                    duplicate = true;
                    Set(findEvent, ("source", e.Source), ("dedup", e.DedupKey));
                    eventId = ToLong(await findEvent.ExecuteScalarAsync(cancellationToken));
                }
                else
                {
                    foreach (var job in batch[i].Jobs ?? [])
                    {
                        SetJobParameters(upsertJob, job, e.ReceivedAt);
                        links.Add((ToLong(await upsertJob.ExecuteScalarAsync(cancellationToken))!.Value, eventId.Value));
                        jobs++;
                    }
                }
            }
            results[i] = new IngestResult(eventId, duplicate, jobs);
        }
        if (links.Count > 0)
        {
            await using var link = Command(scope, "INSERT INTO job_events (job_id, event_id) SELECT value ->> 0, value ->> 1 FROM json_each(@links) WHERE true ON CONFLICT DO NOTHING");
            Set(link, ("links", LinksJson(links)));
            await link.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var log = Command(scope, """
            INSERT INTO deliveries (at, source, delivery_id, status, outcome, reason, bytes, remote, event_id)
            SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8
            FROM json_each(@rows) ORDER BY key
            """);
        Set(log, ("rows", DeliveriesJson(batch, results)));
        await log.ExecuteNonQueryAsync(cancellationToken);
        return results;
    }

    private static string LinksJson(List<(long Job, long Event)> links)
    {
        var json = new StringBuilder(links.Count * 16).Append('[');
        foreach (var (job, @event) in links)
            json.Append(json.Length > 1 ? ",[" : "[").Append(job).Append(',').Append(@event).Append(']');
        return json.Append(']').ToString();
    }

    /// <summary>The delivery log rows in receipt order, as [at, source, delivery id, status, outcome, reason, bytes, remote, event id].</summary>
    private static string DeliveriesJson(IReadOnlyList<IngestWrite> batch, IngestResult[] results)
    {
        var buffer = new ArrayBufferWriter<byte>(batch.Count * 160);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            for (var i = 0; i < batch.Count; i++)
            {
                var d = batch[i].Delivery;
                json.WriteStartArray();
                json.WriteNumberValue(d.At.ToUnixTimeMilliseconds());
                json.WriteStringValue(d.Source);
                json.WriteStringValue(d.DeliveryId);
                json.WriteNumberValue(d.Status);
                json.WriteStringValue(results[i].Duplicate ? DeliveryOutcomes.Duplicate : d.Outcome);
                json.WriteStringValue(d.Reason);
                json.WriteNumberValue(d.Bytes);
                json.WriteStringValue(d.Remote);
                if (results[i].EventId is { } id) json.WriteNumberValue(id);
                else json.WriteNullValue();
                json.WriteEndArray();
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    protected override Task<T> InWriteAsync<T>(Func<WriteScope, CancellationToken, Task<T>> work, CancellationToken ct) =>
        EnqueueAsync(new CombinedWrite<T>(work, ct), ct);

    private async Task<T> EnqueueAsync<T>(CombinedWrite<T> write, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(!_combined.Writer.TryWrite(write), this);
        _ = _combiner.Value;
        return await write.Done.Task.WaitAsync(ct);
    }

    /// <summary>
    /// Takes the writes that have queued (up to <see cref="MaxCombinedWrites"/> and <see cref="MaxCombinedIngestWrites"/>),
    /// runs several ingests first and as one, then each other write under its own savepoint, all in one transaction (a
    /// failing write is rolled back alone and gets its exception), commits once, then answers them all. Nobody hears of
    /// success before the commit. Runs on its own thread: SQLite's calls are synchronous, so the writer never waits for a
    /// pool thread between them.
    /// </summary>
    private void CombineWrites()
    {
        var batch = new List<CombinedWrite>(MaxCombinedWrites);
        while (_carried is not null || _combined.Reader.WaitToReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult())
        {
            batch.Clear();
            var ingestedWebhooks = 0;
            var otherWrites = 0;
            while (otherWrites + (ingestedWebhooks > 0 ? 1 : 0) < MaxCombinedWrites && TryTakeQueued(out var w))
            {
                if (w.Abandoned) continue;
                if (w is CombinedIngest ingest)
                {
                    if (ingestedWebhooks > 0 && ingestedWebhooks + ingest.Writes.Count > MaxCombinedIngestWrites)
                    {
                        _carried = w;
                        break;
                    }
                    ingestedWebhooks += ingest.Writes.Count;
                }
                else
                {
                    otherWrites++;
                }
                batch.Add(w);
            }
            if (batch.Count == 0) continue;
            try
            {
                var scope = BeginWriteAsync(CancellationToken.None).GetAwaiter().GetResult();
                try
                {
                    var transaction = scope.Transaction;
                    var separately = TryIngestTogether(scope, batch) ? batch.Where(w => w is not CombinedIngest) : batch;
                    foreach (var write in separately)
                    {
                        transaction.Save("combined");
                        try
                        {
                            write.RunAsync(scope).GetAwaiter().GetResult();
                            transaction.Release("combined");
                        }
                        catch (Exception ex)
                        {
                            write.Failed(ex);
                            RollBackTo(transaction, "combined", ex);
                        }
                    }
                    scope.CommitAsync(CancellationToken.None).GetAwaiter().GetResult();
                }
                finally
                {
                    scope.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }
            catch (Exception ex)
            {
                foreach (var write in batch) write.Failed(ex);
            }
            foreach (var write in batch) write.Answer();
        }
    }

    private bool TryTakeQueued([NotNullWhen(true)] out CombinedWrite? write)
    {
        write = _carried;
        _carried = null;
        return write is not null || _combined.Reader.TryRead(out write);
    }

    private abstract class CombinedWrite
    {
        public abstract bool Abandoned { get; }
        protected Exception? Error { get; private set; }
        public abstract Task RunAsync(WriteScope scope);
        public void Failed(Exception ex) => Error ??= ex;
        public abstract void Answer();
    }

    private class CombinedWrite<T>(Func<WriteScope, CancellationToken, Task<T>> work, CancellationToken ct) : CombinedWrite
    {
        private T? _result;
        public TaskCompletionSource<T> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public override bool Abandoned => ct.IsCancellationRequested;
        public override async Task RunAsync(WriteScope scope) => _result = await work(scope, ct);
        public void Succeeded(T result) => _result = result;

        public override void Answer()
        {
            if (Error is null) Done.TrySetResult(_result!);
            else Done.TrySetException(Error);
        }
    }

    /// <summary>
    /// Runs every ingest of <paramref name="batch"/> in one savepoint with one set of statements and answers each with its
    /// own results, so the requests that arrived during the previous commit share this one whatever ingest loop brought
    /// them (batches formed before the writer was free were smaller and waited a commit longer). False if there were fewer
    /// than two, or they failed together: rolled back, each then runs alone, so a failure reaches only its own caller.
    /// </summary>
    private bool TryIngestTogether(WriteScope scope, List<CombinedWrite> batch)
    {
        var ingests = batch.OfType<CombinedIngest>().ToList();
        if (ingests.Count < 2) return false;
        var transaction = scope.Transaction;
        transaction.Save("ingests");
        try
        {
            var results = IngestAsync(scope, ingests.SelectMany(i => i.Writes).ToList(), CancellationToken.None).GetAwaiter().GetResult();
            transaction.Release("ingests");
            var offset = 0;
            foreach (var ingest in ingests)
            {
                ingest.Succeeded(results.Skip(offset).Take(ingest.Writes.Count).ToArray());
                offset += ingest.Writes.Count;
            }
            return true;
        }
        catch (Exception ex)
        {
            RollBackTo(transaction, "ingests", ex);
            return false;
        }
    }

    /// <summary>
    /// Undoes what a savepoint's work did. If SQLite already rolled the whole transaction back (disk full, I/O error), the
    /// savepoint is gone: the work's own error is rethrown then, so every write of the transaction fails with the real cause
    /// rather than "no such savepoint".
    /// </summary>
    private static void RollBackTo(DbTransaction transaction, string savepoint, Exception cause)
    {
        try
        {
            transaction.Rollback(savepoint);
            transaction.Release(savepoint);
        }
        catch (Exception)
        {
            ExceptionDispatchInfo.Throw(cause);
        }
    }

    private sealed class CombinedIngest(SqliteEventStore store, IReadOnlyList<IngestWrite> writes, CancellationToken ct)
        : CombinedWrite<IReadOnlyList<IngestResult>>((scope, token) => store.IngestAsync(scope, writes, token), ct)
    {
        public IReadOnlyList<IngestWrite> Writes { get; } = writes;
    }

    protected override async Task<DbConnection> OpenReadAsync(CancellationToken ct) => await OpenAsync(writer: false, ct);

    private async Task<SqliteConnection> OpenAsync(bool writer, CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = writer
            ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA temp_store=MEMORY;" // savepoint journals in memory, not a temp file
            : "PRAGMA busy_timeout=30000;";
        await command.ExecuteNonQueryAsync(ct);
        return connection;
    }

    protected override Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken ct) => Task.CompletedTask;

    public override async ValueTask DisposeAsync()
    {
        _combined.Writer.TryComplete();
        if (_combiner.IsValueCreated) await _combiner.Value;
        await _writeLock.WaitAsync();
        try
        {
            if (_writer is not null) await _writer.DisposeAsync();
            _writer = null;
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
