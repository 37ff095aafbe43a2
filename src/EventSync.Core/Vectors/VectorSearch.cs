using System.Collections.Concurrent;
using System.Numerics.Tensors;

namespace EventSync.Core.Vectors;

/// <summary>
/// Exact cosine search within one tenant of one index. Each (index, tenant) is cached in memory as one contiguous
/// matrix of unit vectors and refreshed from the store's per-tenant version before every search, so any process
/// sees what any other wrote, at the cost of one small query when nothing changed.
/// </summary>
public sealed class VectorSearch(IVectorStore store) : IDisposable
{
    private readonly ConcurrentDictionary<(long Index, string Tenant), TenantMatrix> _cache = new();

    public async Task<IReadOnlyList<SearchHit>> SearchAsync(VectorIndex index, string tenant, float[] query, int top, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenant);
        if (query.Length != index.Settings.Dimensions)
            throw new ArgumentException($"the query vector has {query.Length} dimensions; index {index.Id} holds {index.Settings.Dimensions}");
        var matrix = _cache.GetOrAdd((index.Id, tenant), _ => new TenantMatrix(index.Settings.Dimensions));
        await matrix.RefreshAsync(store, index.Id, tenant, cancellationToken);
        return matrix.Search(Normalised(query), Math.Clamp(top, 1, 100));
    }

    /// <summary>Drops cached tenants of indexes that are no longer in use (after a reindex switched).</summary>
    public void Forget(long indexId)
    {
        foreach (var key in _cache.Keys.Where(k => k.Index == indexId).ToList())
            _cache.TryRemove(key, out _); // not disposed: a search may still hold it
    }

    public void Dispose()
    {
        foreach (var matrix in _cache.Values) matrix.Dispose();
        _cache.Clear();
    }

    internal static float[] Normalised(float[] vector)
    {
        var copy = (float[])vector.Clone();
        var norm = TensorPrimitives.Norm(copy);
        if (norm > 0) TensorPrimitives.Divide(copy, norm, copy);
        return copy;
    }

    private sealed class TenantMatrix(int dimensions) : IDisposable
    {
        private readonly SemaphoreSlim _refresh = new(1, 1);
        private readonly Dictionary<string, List<(int Chunk, string Content, float[] Vector)>> _entities = new(StringComparer.Ordinal);
        private long _version;
        private volatile Snapshot _snapshot = new([], [], [], []);

        public async Task RefreshAsync(IVectorStore store, long indexId, string tenant, CancellationToken ct)
        {
            if (await store.TenantVersionAsync(indexId, tenant, ct) <= Volatile.Read(ref _version)) return;
            await _refresh.WaitAsync(ct);
            try
            {
                var changes = await store.LoadTenantChangesAsync(indexId, tenant, _version, ct);
                if (changes.Version <= _version) return;
                foreach (var entity in changes.ChangedEntities) _entities.Remove(entity);
                foreach (var (entity, chunk) in changes.Chunks)
                {
                    if (!_entities.TryGetValue(entity, out var list)) _entities[entity] = list = [];
                    list.Add((chunk.Index, chunk.Content, Normalised(chunk.Embedding)));
                }
                _snapshot = Build();
                Volatile.Write(ref _version, changes.Version);
            }
            finally
            {
                _refresh.Release();
            }
        }

        private Snapshot Build()
        {
            var count = _entities.Values.Sum(l => l.Count);
            var keys = new string[count];
            var chunks = new int[count];
            var contents = new string[count];
            var matrix = new float[count * dimensions];
            var row = 0;
            foreach (var (entity, list) in _entities)
            {
                foreach (var (chunk, content, vector) in list)
                {
                    keys[row] = entity;
                    chunks[row] = chunk;
                    contents[row] = content;
                    vector.CopyTo(matrix, row * dimensions);
                    row++;
                }
            }
            return new Snapshot(keys, chunks, contents, matrix);
        }

        public IReadOnlyList<SearchHit> Search(float[] query, int top)
        {
            var s = _snapshot;
            var rows = s.Keys.Length;
            var scores = new float[rows];
            var span = s.Matrix.AsSpan();
            for (var r = 0; r < rows; r++) scores[r] = TensorPrimitives.Dot(span.Slice(r * dimensions, dimensions), query);
            // The best rows through a bounded heap (no per-search allocation over the whole tenant), then the best
            // chunk per entity; widened when chunks of the same entities crowd the candidates.
            for (var candidates = top * 4; ; candidates *= 4)
            {
                var heap = new PriorityQueue<int, float>(Math.Min(candidates, rows) + 1);
                for (var r = 0; r < rows; r++)
                {
                    if (heap.Count < candidates) heap.Enqueue(r, scores[r]);
                    else if (scores[r] > scores[heap.Peek()]) heap.EnqueueDequeue(r, scores[r]);
                }
                var best = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var (r, _) in heap.UnorderedItems)
                    if (!best.TryGetValue(s.Keys[r], out var b) || scores[r] > scores[b]) best[s.Keys[r]] = r;
                if (best.Count >= top || candidates >= rows)
                    return best.Values.OrderByDescending(r => scores[r]).ThenBy(r => s.Keys[r], StringComparer.Ordinal).Take(top)
                        .Select(r => new SearchHit(s.Keys[r], s.Chunks[r], scores[r], s.Contents[r])).ToList();
            }
        }

        public void Dispose() => _refresh.Dispose();

        private sealed record Snapshot(string[] Keys, int[] Chunks, string[] Contents, float[] Matrix);
    }
}

public sealed record SearchHit(string EntityKey, int Chunk, float Score, string Content);
