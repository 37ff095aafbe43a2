using System.Data.Common;
using EventSync.Core.Storage;

namespace EventSync.Storage.Sql;

/// <summary>Document links, agreed versions and conflicts (see <see cref="ISyncStateStore"/>).</summary>
public abstract partial class SqlStore
{
    private const string ConflictColumns = "id, doc_id, field, flow, job_id, source_system, target_system, base_value, source_value, target_value, winner, policy, status, created_at, resolved_at, resolution";

    // Striped: a fixed set of locks, so memory does not grow with the number of documents ever synced.
    private readonly SemaphoreSlim[] _documentLocks = Enumerable.Range(0, 256).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    /// <summary>In-process locks: enough for SQLite, which one process owns. PostgreSQL overrides with advisory locks.</summary>
    public virtual async Task<IAsyncDisposable> LockDocumentsAsync(IReadOnlyCollection<string> documentIds, CancellationToken cancellationToken)
    {
        var taken = new List<SemaphoreSlim>();
        try
        {
            foreach (var stripe in documentIds.Select(id => (int)(DocumentLockKey(id) % (ulong)_documentLocks.Length)).Distinct().Order())
            {
                await _documentLocks[stripe].WaitAsync(cancellationToken);
                taken.Add(_documentLocks[stripe]);
            }
            return new Releaser(() =>
            {
                foreach (var gate in taken) gate.Release();
                return ValueTask.CompletedTask;
            });
        }
        catch (OperationCanceledException)
        {
            foreach (var gate in taken) gate.Release();
            throw;
        }
    }

    /// <summary>A stable 64-bit key per document (FNV-1a): the same in every process, as advisory locks need.</summary>
    protected static ulong DocumentLockKey(string documentId)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in "eventsync:doc:" + documentId) hash = (hash ^ c) * 1099511628211UL;
        return hash;
    }

    protected sealed class Releaser(Func<ValueTask> release) : IAsyncDisposable
    {
        private int _done;
        public ValueTask DisposeAsync() => Interlocked.Exchange(ref _done, 1) == 0 ? release() : ValueTask.CompletedTask;
    }

    public async Task<IReadOnlyList<DocumentLink>> GetLinksAsync(string documentId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT doc_id, system, external_id, updated_at FROM doc_links WHERE doc_id = @doc ORDER BY system");
        Set(command, ("doc", documentId));
        var list = new List<DocumentLink>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) list.Add(new DocumentLink(reader.GetString(0), reader.GetString(1), reader.GetString(2), FromMs(reader.GetInt64(3))));
        return list;
    }

    public async Task<string?> FindDocumentAsync(string system, string externalId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT doc_id FROM doc_links WHERE system = @system AND external_id = @ext");
        Set(command, ("system", system), ("ext", externalId));
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task SetLinkAsync(string documentId, string system, string externalId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        // A path renamed onto another document's old path: the newest link wins the external id.
        await ExecuteAsync(scope, "DELETE FROM doc_links WHERE system = @system AND external_id = @ext AND doc_id <> @doc", cancellationToken,
            ("system", system), ("ext", externalId), ("doc", documentId));
        await ExecuteAsync(scope, """
            INSERT INTO doc_links (doc_id, system, external_id, updated_at) VALUES (@doc, @system, @ext, @now)
            ON CONFLICT (doc_id, system) DO UPDATE SET external_id = excluded.external_id, updated_at = excluded.updated_at
            """, cancellationToken, ("doc", documentId), ("system", system), ("ext", externalId), ("now", now.ToUnixTimeMilliseconds()));
        await scope.CommitAsync(cancellationToken);
    }

    public async Task RemoveLinkAsync(string documentId, string system, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        await ExecuteAsync(scope, "DELETE FROM doc_links WHERE doc_id = @doc AND system = @system", cancellationToken, ("doc", documentId), ("system", system));
        await scope.CommitAsync(cancellationToken);
    }

    public async Task<string?> GetBaseAsync(string documentId, string pair, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT snapshot FROM doc_bases WHERE doc_id = @doc AND pair = @pair");
        Set(command, ("doc", documentId), ("pair", pair));
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task SetBaseAsync(string documentId, string pair, string snapshot, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        await ExecuteAsync(scope, """
            INSERT INTO doc_bases (doc_id, pair, snapshot, updated_at) VALUES (@doc, @pair, @snapshot, @now)
            ON CONFLICT (doc_id, pair) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at
            """, cancellationToken, ("doc", documentId), ("pair", pair), ("snapshot", snapshot), ("now", now.ToUnixTimeMilliseconds()));
        await scope.CommitAsync(cancellationToken);
    }

    public async Task<long> AddConflictAsync(ConflictRecord c, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        var id = await ScalarLongAsync(scope, """
            INSERT INTO conflicts (doc_id, field, flow, job_id, source_system, target_system, base_value, source_value, target_value, winner, policy, status, created_at)
            VALUES (@doc, @field, @flow, @job, @src, @dst, @base, @sv, @tv, @winner, @policy, @status, @now) RETURNING id
            """, cancellationToken, ("doc", c.DocumentId), ("field", c.Field), ("flow", c.Flow), ("job", c.JobId), ("src", c.SourceSystem), ("dst", c.TargetSystem),
            ("base", c.BaseValue), ("sv", c.SourceValue), ("tv", c.TargetValue), ("winner", c.Winner), ("policy", c.Policy), ("status", ConflictStatuses.Open),
            ("now", c.CreatedAt.ToUnixTimeMilliseconds()));
        await scope.CommitAsync(cancellationToken);
        return id ?? throw new InvalidOperationException("conflict insert returned no id");
    }

    public async Task<IReadOnlyList<ConflictRecord>> ListConflictsAsync(string? status, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {ConflictColumns} FROM conflicts WHERE (@status IS NULL OR status = @status) ORDER BY id DESC LIMIT @limit");
        Set(command, ("status", status), ("limit", limit));
        var list = new List<ConflictRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) list.Add(ReadConflict(reader));
        return list;
    }

    public async Task<ConflictRecord?> GetConflictAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {ConflictColumns} FROM conflicts WHERE id = @id");
        Set(command, ("id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadConflict(reader) : null;
    }

    public async Task<bool> ResolveConflictAsync(long id, string resolution, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        var n = await ExecuteAsync(scope, "UPDATE conflicts SET status = @resolved, resolved_at = @now, resolution = @resolution WHERE id = @id AND status = @open", cancellationToken,
            ("resolved", ConflictStatuses.Resolved), ("now", now.ToUnixTimeMilliseconds()), ("resolution", resolution), ("id", id), ("open", ConflictStatuses.Open));
        await scope.CommitAsync(cancellationToken);
        return n == 1;
    }

    private static ConflictRecord ReadConflict(DbDataReader r) => new(
        r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetString(5), r.GetString(6),
        r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8), r.IsDBNull(9) ? null : r.GetString(9),
        r.GetString(10), r.GetString(11), r.GetString(12), FromMs(r.GetInt64(13)), r.IsDBNull(14) ? null : FromMs(r.GetInt64(14)), r.IsDBNull(15) ? null : r.GetString(15));
}
