namespace EventSync.Core.Vectors;

/// <summary>
/// Embeddings kept in the EventSync store, partitioned by tenant. Each flow has one active index and, while a
/// reindex runs, a building one beside it; an index is keyed by its embedder and chunking settings, so vectors of
/// different models or sizes never mix. Every read names its tenant.
/// </summary>
public interface IVectorStore
{
    /// <summary>The index of <paramref name="flow"/> with these settings; created (active if the flow has none, else building) when missing.</summary>
    Task<VectorIndex> EnsureIndexAsync(string flow, VectorIndexSettings settings, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Indexes, newest first; retired ones only when asked.</summary>
    Task<IReadOnlyList<VectorIndex>> ListIndexesAsync(string? flow, bool includeRetired, CancellationToken cancellationToken);

    /// <summary>Makes <paramref name="indexId"/> the flow's active index and retires (and empties) the previous one, atomically.</summary>
    Task ActivateIndexAsync(long indexId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The stored state of one entity (any tenant), or null.</summary>
    Task<VectorRowState?> GetRowAsync(long indexId, string entityKey, CancellationToken cancellationToken);

    /// <summary>Replaces an entity's chunks (moving it between tenants if its tenant changed).</summary>
    Task UpsertRowAsync(long indexId, string tenant, string entityKey, string contentHash, IReadOnlyList<VectorChunk> chunks, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes an entity's vectors; false when it had none.</summary>
    Task<bool> DeleteRowAsync(long indexId, string entityKey, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The tenant's change counter: it moves whenever any of the tenant's vectors change.</summary>
    Task<long> TenantVersionAsync(long indexId, string tenant, CancellationToken cancellationToken);

    /// <summary>Entities of the tenant changed after <paramref name="sinceVersion"/>, with their current chunks (none when deleted).</summary>
    Task<TenantChanges> LoadTenantChangesAsync(long indexId, string tenant, long sinceVersion, CancellationToken cancellationToken);

    /// <summary>Per-tenant counts of one index.</summary>
    Task<IReadOnlyList<VectorTenantStats>> TenantStatsAsync(long indexId, CancellationToken cancellationToken);

    /// <summary>Entity key → content hash for every live row (reconcile compares these with the source).</summary>
    Task<IReadOnlyDictionary<string, string>> ListRowHashesAsync(long indexId, CancellationToken cancellationToken);
}

/// <summary>What makes vectors comparable: the embedder (kind, model, dimensions, endpoint) and the chunking.</summary>
public sealed record VectorIndexSettings(string EmbedderKind, string Model, int Dimensions, string? BaseUrl, string Chunking, string Template)
{
    /// <summary>A stable fingerprint; part of every content hash, so a settings change re-embeds.</summary>
    public string Fingerprint => $"{EmbedderKind}|{Model}|{Dimensions}|{BaseUrl}|{Chunking}|{Template}";
}

public sealed record VectorIndex(long Id, string Flow, VectorIndexSettings Settings, string State, DateTimeOffset CreatedAt, DateTimeOffset? ActivatedAt);

public static class VectorIndexStates
{
    public const string Active = "active";
    public const string Building = "building";
    public const string Retired = "retired";
}

public sealed record VectorChunk(int Index, string Content, float[] Embedding);

public sealed record VectorRowState(string Tenant, string EntityKey, string? ContentHash, int Chunks, DateTimeOffset UpdatedAt);

public sealed record TenantChanges(long Version, IReadOnlyList<string> ChangedEntities, IReadOnlyList<(string EntityKey, VectorChunk Chunk)> Chunks);

public sealed record VectorTenantStats(string Tenant, int Rows, int Vectors, DateTimeOffset? LastUpdate);
