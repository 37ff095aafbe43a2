using System.Data.Common;
using System.Runtime.InteropServices;
using EventSync.Core.Vectors;

namespace EventSync.Storage.Sql;

/// <summary>Vector indexes in the same store as events and jobs (see <see cref="IVectorStore"/>).</summary>
public abstract partial class SqlStore : IVectorStore
{
    private const string IndexColumns = "id, flow, embedder_kind, model, dimensions, base_url, chunking, template, state, created_at, activated_at";

    public async Task<VectorIndex> EnsureIndexAsync(string flow, VectorIndexSettings settings, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        // The unique indexes settle races between processes: the first index of a flow is active, later ones build beside it.
        foreach (var state in new[] { VectorIndexStates.Active, VectorIndexStates.Building })
        {
            await ExecuteAsync(scope, """
                INSERT INTO vector_indexes (flow, fingerprint, embedder_kind, model, dimensions, base_url, chunking, template, state, created_at, activated_at)
                SELECT @flow, @fp, @kind, @model, @dims, @url, @chunking, @template, @state, @now, @activated
                WHERE NOT EXISTS (SELECT 1 FROM vector_indexes WHERE flow = @flow AND fingerprint = @fp AND state <> 'retired')
                ON CONFLICT DO NOTHING
                """, cancellationToken, ("flow", flow), ("fp", settings.Fingerprint), ("kind", settings.EmbedderKind), ("model", settings.Model), ("dims", settings.Dimensions),
                ("url", settings.BaseUrl), ("chunking", settings.Chunking), ("template", settings.Template), ("state", state), ("now", now.ToUnixTimeMilliseconds()),
                ("activated", L(state == VectorIndexStates.Active ? now.ToUnixTimeMilliseconds() : null)));
        }
        VectorIndex? index;
        await using (var command = Command(scope, $"SELECT {IndexColumns} FROM vector_indexes WHERE flow = @flow AND fingerprint = @fp AND state <> 'retired'"))
        {
            Set(command, ("flow", flow), ("fp", settings.Fingerprint));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            index = await reader.ReadAsync(cancellationToken) ? ReadIndex(reader) : null;
        }
        await scope.CommitAsync(cancellationToken);
        return index ?? throw new InvalidOperationException($"vector index for flow '{flow}' could not be created");
    }

    public async Task<IReadOnlyList<VectorIndex>> ListIndexesAsync(string? flow, bool includeRetired, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {IndexColumns} FROM vector_indexes WHERE (@flow IS NULL OR flow = @flow) AND (@all = 1 OR state <> 'retired') ORDER BY id DESC");
        Set(command, ("flow", flow), ("all", includeRetired ? 1 : 0));
        var list = new List<VectorIndex>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) list.Add(ReadIndex(reader));
        return list;
    }

    public async Task ActivateIndexAsync(long indexId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        var at = now.ToUnixTimeMilliseconds();
        var retired = new List<long>();
        await using (var command = Command(scope, "SELECT id FROM vector_indexes WHERE flow = (SELECT flow FROM vector_indexes WHERE id = @id) AND state = 'active' AND id <> @id"))
        {
            Set(command, ("id", indexId));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) retired.Add(reader.GetInt64(0));
        }
        foreach (var old in retired)
        {
            await ExecuteAsync(scope, "UPDATE vector_indexes SET state = 'retired' WHERE id = @id", cancellationToken, ("id", old));
            foreach (var table in new[] { "vector_chunks", "vector_rows", "vector_tenants" })
                await ExecuteAsync(scope, $"DELETE FROM {table} WHERE index_id = @id", cancellationToken, ("id", old));
        }
        await ExecuteAsync(scope, "UPDATE vector_indexes SET state = 'active', activated_at = @at WHERE id = @id AND state <> 'retired'", cancellationToken, ("id", indexId), ("at", at));
        await scope.CommitAsync(cancellationToken);
    }

    public async Task<VectorRowState?> GetRowAsync(long indexId, string entityKey, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT tenant, entity_key, content_hash, chunks, updated_at FROM vector_rows WHERE index_id = @i AND entity_key = @k AND deleted = 0");
        Set(command, ("i", indexId), ("k", entityKey));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        return new VectorRowState(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), (int)reader.GetInt64(3), FromMs(reader.GetInt64(4)));
    }

    public async Task UpsertRowAsync(long indexId, string tenant, string entityKey, string contentHash, IReadOnlyList<VectorChunk> chunks, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        await RemoveLiveRowAsync(scope, indexId, entityKey, keepTenant: tenant, now, cancellationToken);
        var version = await BumpTenantAsync(scope, indexId, tenant, cancellationToken);
        await ExecuteAsync(scope, "DELETE FROM vector_chunks WHERE index_id = @i AND entity_key = @k", cancellationToken, ("i", indexId), ("k", entityKey));
        await using (var insert = Command(scope, "INSERT INTO vector_chunks (index_id, entity_key, chunk, tenant, content, embedding) VALUES (@i, @k, @n, @t, @content, @embedding)"))
        {
            foreach (var chunk in chunks)
            {
                Set(insert, ("i", indexId), ("k", entityKey), ("n", chunk.Index), ("t", tenant), ("content", chunk.Content), ("embedding", MemoryMarshal.AsBytes(chunk.Embedding.AsSpan()).ToArray()));
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        await ExecuteAsync(scope, """
            INSERT INTO vector_rows (index_id, tenant, entity_key, content_hash, chunks, version, deleted, updated_at)
            VALUES (@i, @t, @k, @hash, @chunks, @v, 0, @now)
            ON CONFLICT (index_id, tenant, entity_key) DO UPDATE SET content_hash = excluded.content_hash, chunks = excluded.chunks,
                version = excluded.version, deleted = 0, updated_at = excluded.updated_at
            """, cancellationToken, ("i", indexId), ("t", tenant), ("k", entityKey), ("hash", contentHash), ("chunks", chunks.Count), ("v", version), ("now", now.ToUnixTimeMilliseconds()));
        await scope.CommitAsync(cancellationToken);
    }

    public async Task<bool> DeleteRowAsync(long indexId, string entityKey, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        var removed = await RemoveLiveRowAsync(scope, indexId, entityKey, keepTenant: null, now, cancellationToken);
        await scope.CommitAsync(cancellationToken);
        return removed;
    }

    /// <summary>Marks the entity's live row in another tenant (or any tenant) deleted, so that tenant's caches drop it.</summary>
    private async Task<bool> RemoveLiveRowAsync(WriteScope scope, long indexId, string entityKey, string? keepTenant, DateTimeOffset now, CancellationToken ct)
    {
        string? tenant;
        await using (var find = Command(scope, "SELECT tenant FROM vector_rows WHERE index_id = @i AND entity_key = @k AND deleted = 0"))
        {
            Set(find, ("i", indexId), ("k", entityKey));
            tenant = await find.ExecuteScalarAsync(ct) as string;
        }
        if (tenant is null || tenant == keepTenant) return false;
        var version = await BumpTenantAsync(scope, indexId, tenant, ct);
        await ExecuteAsync(scope, "UPDATE vector_rows SET deleted = 1, chunks = 0, content_hash = NULL, version = @v, updated_at = @now WHERE index_id = @i AND tenant = @t AND entity_key = @k",
            ct, ("v", version), ("now", now.ToUnixTimeMilliseconds()), ("i", indexId), ("t", tenant), ("k", entityKey));
        await ExecuteAsync(scope, "DELETE FROM vector_chunks WHERE index_id = @i AND entity_key = @k", ct, ("i", indexId), ("k", entityKey));
        return true;
    }

    /// <summary>Increments the tenant's version; on PostgreSQL the row lock orders concurrent writers of one tenant by commit.</summary>
    private static async Task<long> BumpTenantAsync(WriteScope scope, long indexId, string tenant, CancellationToken ct) =>
        await ScalarLongAsync(scope, """
            INSERT INTO vector_tenants (index_id, tenant, version) VALUES (@i, @t, 1)
            ON CONFLICT (index_id, tenant) DO UPDATE SET version = vector_tenants.version + 1
            RETURNING version
            """, ct, ("i", indexId), ("t", tenant)) ?? 1;

    public async Task<long> TenantVersionAsync(long indexId, string tenant, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        return await ScalarLongAsync(connection, null, "SELECT version FROM vector_tenants WHERE index_id = @i AND tenant = @t", cancellationToken, ("i", indexId), ("t", tenant)) ?? 0;
    }

    public async Task<TenantChanges> LoadTenantChangesAsync(long indexId, string tenant, long sinceVersion, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        var version = await ScalarLongAsync(connection, null, "SELECT version FROM vector_tenants WHERE index_id = @i AND tenant = @t", cancellationToken, ("i", indexId), ("t", tenant)) ?? 0;
        if (version <= sinceVersion) return new TenantChanges(version, [], []);
        var changed = new List<string>();
        await using (var command = Command(connection, null, "SELECT entity_key FROM vector_rows WHERE index_id = @i AND tenant = @t AND version > @since AND version <= @v"))
        {
            Set(command, ("i", indexId), ("t", tenant), ("since", sinceVersion), ("v", version));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) changed.Add(reader.GetString(0));
        }
        var chunks = new List<(string, VectorChunk)>();
        await using (var command = Command(connection, null, """
            SELECT c.entity_key, c.chunk, c.content, c.embedding FROM vector_rows r
            JOIN vector_chunks c ON c.index_id = r.index_id AND c.entity_key = r.entity_key AND c.tenant = r.tenant
            WHERE r.index_id = @i AND r.tenant = @t AND r.version > @since AND r.version <= @v AND r.deleted = 0
            ORDER BY c.entity_key, c.chunk
            """))
        {
            Set(command, ("i", indexId), ("t", tenant), ("since", sinceVersion), ("v", version));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var bytes = (byte[])reader.GetValue(3);
                chunks.Add((reader.GetString(0), new VectorChunk((int)reader.GetInt64(1), reader.GetString(2), MemoryMarshal.Cast<byte, float>(bytes).ToArray())));
            }
        }
        return new TenantChanges(version, changed, chunks);
    }

    public async Task<IReadOnlyList<VectorTenantStats>> TenantStatsAsync(long indexId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT tenant, COUNT(*), COALESCE(SUM(chunks), 0), MAX(updated_at) FROM vector_rows
            WHERE index_id = @i AND deleted = 0 GROUP BY tenant ORDER BY tenant
            """);
        Set(command, ("i", indexId));
        var list = new List<VectorTenantStats>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new VectorTenantStats(reader.GetString(0), (int)reader.GetInt64(1), (int)reader.GetInt64(2), reader.IsDBNull(3) ? null : FromMs(reader.GetInt64(3))));
        return list;
    }

    public async Task<IReadOnlyDictionary<string, string>> ListRowHashesAsync(long indexId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT entity_key, content_hash FROM vector_rows WHERE index_id = @i AND deleted = 0");
        Set(command, ("i", indexId));
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) map[reader.GetString(0)] = reader.IsDBNull(1) ? "" : reader.GetString(1);
        return map;
    }

    private static VectorIndex ReadIndex(DbDataReader r) => new(
        r.GetInt64(0), r.GetString(1),
        new VectorIndexSettings(r.GetString(2), r.GetString(3), (int)r.GetInt64(4), r.IsDBNull(5) ? null : r.GetString(5), r.GetString(6), r.GetString(7)),
        r.GetString(8), FromMs(r.GetInt64(9)), r.IsDBNull(10) ? null : FromMs(r.GetInt64(10)));
}
