using System.Data.Common;
using System.Threading.Channels;
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
    /// <summary>Writes per shared transaction: enough to amortise the fsync, few enough to keep each caller's wait short.</summary>
    private const int MaxCombinedWrites = 64;

    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Channel<CombinedWrite> _combined = Channel.CreateUnbounded<CombinedWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lazy<Task> _combiner;
    private SqliteConnection? _writer;

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
    // Two: while one group commit is in the writer's transaction, the next gathers and queues, so it shares the
    // following transaction with the workers' claims and completions instead of waiting to be formed.
    public override int ConcurrentIngestCommits => 2;
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

    protected override async Task<T> InWriteAsync<T>(Func<WriteScope, CancellationToken, Task<T>> work, CancellationToken ct)
    {
        var write = new CombinedWrite<T>(work, ct);
        ObjectDisposedException.ThrowIf(!_combined.Writer.TryWrite(write), this);
        _ = _combiner.Value;
        return await write.Done.Task.WaitAsync(ct);
    }

    /// <summary>
    /// Takes whatever writes have queued, runs each under its own savepoint in one transaction (a failing one is rolled
    /// back alone and gets its exception), commits once, then answers them all. Nobody hears of success before the commit.
    /// Runs on its own thread: SQLite's calls are synchronous, so the writer never waits for a pool thread between them.
    /// </summary>
    private void CombineWrites()
    {
        var batch = new List<CombinedWrite>(MaxCombinedWrites);
        while (_combined.Reader.WaitToReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult())
        {
            batch.Clear();
            while (batch.Count < MaxCombinedWrites && _combined.Reader.TryRead(out var w))
                if (!w.Abandoned) batch.Add(w);
            if (batch.Count == 0) continue;
            try
            {
                var scope = BeginWriteAsync(CancellationToken.None).GetAwaiter().GetResult();
                try
                {
                    var transaction = scope.Transaction;
                    foreach (var write in batch)
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
                            // If SQLite already rolled the whole transaction back (disk full, I/O error), this throws and every write fails.
                            transaction.Rollback("combined");
                            transaction.Release("combined");
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

    private abstract class CombinedWrite
    {
        public abstract bool Abandoned { get; }
        protected Exception? Error { get; private set; }
        public abstract Task RunAsync(WriteScope scope);
        public void Failed(Exception ex) => Error ??= ex;
        public abstract void Answer();
    }

    private sealed class CombinedWrite<T>(Func<WriteScope, CancellationToken, Task<T>> work, CancellationToken ct) : CombinedWrite
    {
        private T? _result;
        public TaskCompletionSource<T> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public override bool Abandoned => ct.IsCancellationRequested;
        public override async Task RunAsync(WriteScope scope) => _result = await work(scope, ct);

        public override void Answer()
        {
            if (Error is null) Done.TrySetResult(_result!);
            else Done.TrySetException(Error);
        }
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
