using System.Data.Common;
using EventSync.Storage.Sql;
using Microsoft.Data.Sqlite;

namespace EventSync.Storage.Sqlite;

/// <summary>
/// The embedded default. WAL with synchronous=FULL, so an acknowledged event survives power loss; one writer
/// connection serialises writes (SQLite allows one writer anyway) and group commit amortises each fsync.
/// </summary>
public sealed class SqliteEventStore : SqlStore
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private SqliteConnection? _writer;

    public SqliteEventStore(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path, Pooling = true, DefaultTimeout = 30 }.ToString();
    }

    public string Path { get; }
    public override string Description => $"sqlite:{Path}";
    public override bool IsShared => false;
    protected override string Greatest => "max";
    protected override string Least => "min";
    protected override string SkipLockedClause => "";
    protected override string RowLockClause => "";
    protected override string IdentityColumn => "INTEGER PRIMARY KEY AUTOINCREMENT";
    protected override string DueIndexHint => "INDEXED BY jobs_due";
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

    protected override async Task<DbConnection> OpenReadAsync(CancellationToken ct) => await OpenAsync(writer: false, ct);

    private async Task<SqliteConnection> OpenAsync(bool writer, CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = writer
            ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;"
            : "PRAGMA busy_timeout=30000;";
        await command.ExecuteNonQueryAsync(ct);
        return connection;
    }

    protected override Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken ct) => Task.CompletedTask;

    public override async ValueTask DisposeAsync()
    {
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
