using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EventSync.Connectors.Embeddings;
using EventSync.Connectors.Postgres;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Vectors;
using Npgsql;

namespace EventSync.Connectors.Vectors;

/// <summary>
/// Keeps a table's embeddings fresh. Every job re-reads the row by key (a webhook body can be stale; a missing row
/// means delete), renders the template, and embeds only when the content hash changed, so an update outside the
/// template costs nothing and a burst of updates to one row, coalesced into one job, costs one embedding call.
/// </summary>
public sealed class VectorSink : ISink, IAsyncDisposable
{
    public const string DefaultTenant = "default";
    private readonly SinkOptions _options;
    private readonly VectorSinkOptions _vectors;
    private readonly IVectorStore _store;
    private readonly IEmbedder _embedder;
    private readonly TextTemplate _template;
    private readonly TextChunker _chunker;
    private readonly NpgsqlDataSource _database;
    private readonly string _selectRow;
    private readonly WriteThroughTable? _writeThrough;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IndexTools?> _tools = new(StringComparer.Ordinal);
    private VectorIndex? _index;

    public VectorSink(SinkOptions options, IVectorStore store, IEmbedder embedder)
    {
        _options = options;
        _vectors = options.Vectors ?? throw new ArgumentException("not a vectors sink", nameof(options));
        _store = store;
        _embedder = embedder;
        _template = TextTemplate.TryParse(_vectors.Template, out var t, out var error) ? t! : throw new ArgumentException(error, nameof(options));
        _chunker = new TextChunker(_vectors.ChunkSize, _vectors.ChunkOverlap);
        _database = NpgsqlDataSource.Create(PgConnection.Normalize(_vectors.Database));
        _selectRow = $"SELECT to_jsonb(t)::text FROM {PgConnection.Quote(_vectors.Table)} t WHERE t.{PgConnection.Quote(_vectors.KeyColumn)}::text = @key";
        _writeThrough = _vectors.WriteThroughTable is { } table ? new WriteThroughTable(_database, table, embedder.Dimensions) : null;
        Settings = new VectorIndexSettings(
            embedder is LocalEmbedder ? "local" : "openai", embedder.Model, embedder.Dimensions,
            _vectors.Embedder.BaseUrl?.ToString(), _chunker.Settings, _vectors.Template);
    }

    public string Name => _options.Name;
    public VectorIndexSettings Settings { get; }
    public IEmbedder Embedder => _embedder;
    public VectorSinkOptions Options => _vectors;

    /// <summary>The index this sink writes: the flow's active one, or the one being built beside it after a settings change.</summary>
    public async Task<VectorIndex> IndexAsync(string flow, DateTimeOffset now, CancellationToken ct) =>
        _index is { } i && i.Flow == flow ? i : _index = await _store.EnsureIndexAsync(flow, Settings, now, ct);

    public async Task<SinkResult> DeliverAsync(SinkDelivery delivery, CancellationToken cancellationToken)
    {
        var index = await IndexAsync(delivery.Flow, delivery.Now, cancellationToken);
        // While a reindex builds the new index, the active one (still searched) is kept fresh too.
        var active = index.State == VectorIndexStates.Building
            ? (await _store.ListIndexesAsync(delivery.Flow, false, cancellationToken)).FirstOrDefault(i => i.State == VectorIndexStates.Active && i.Id != index.Id)
            : null;
        string? rowJson;
        try
        {
            rowJson = await ReadRowAsync(delivery.EntityKey, cancellationToken);
        }
        catch (NpgsqlException ex) when (ex.IsTransient || ex is PostgresException { SqlState: "57P01" or "57P03" or "53300" })
        {
            return SinkResult.Retryable($"reading {_vectors.Table} failed: {ex.Message}");
        }
        catch (PostgresException ex)
        {
            return SinkResult.Permanent($"reading {_vectors.Table} failed: {ex.MessageText} (check sinks.{Name}.table, key and the database role's SELECT right)");
        }
        var result = await SyncAsync(index, delivery.EntityKey, rowJson, delivery.Now, cancellationToken);
        if (active is null || result.Status != SinkStatus.Succeeded || ToolsFor(active) is null) return result;
        var old = await SyncAsync(active, delivery.EntityKey, rowJson, delivery.Now, cancellationToken);
        return old.Status == SinkStatus.Succeeded ? result with { Resources = [.. result.Resources ?? [], .. (old.Resources ?? []).Select(r => "active index: " + r)] } : old;
    }

    /// <summary>
    /// How an index's vectors are made: its own embedder, template and chunking (which may be the previous
    /// configuration until a reindex switches). Null when the configuration can no longer reach its embedder.
    /// </summary>
    public IEmbedder? EmbedderFor(VectorIndex index) => ToolsFor(index)?.Embedder;

    private IndexTools? ToolsFor(VectorIndex index)
    {
        var s = index.Settings;
        if (s.Fingerprint == Settings.Fingerprint) return new IndexTools(_embedder, _template, _chunker);
        return _tools.GetOrAdd(s.Fingerprint, IndexTools? (_) =>
        {
            IEmbedder? embedder = s.EmbedderKind switch
            {
                _ when s.Model == _embedder.Model && s.Dimensions == _embedder.Dimensions && s.BaseUrl == _vectors.Embedder.BaseUrl?.ToString() => _embedder,
                "local" => new LocalEmbedder(s.Dimensions),
                "openai" when _vectors.Embedder.Kind == EmbedderKind.OpenAi && s.BaseUrl == _vectors.Embedder.BaseUrl?.ToString() =>
                    EmbedderFactory.Create(new EmbedderOptions
                    {
                        Kind = EmbedderKind.OpenAi, BaseUrl = new Uri(s.BaseUrl!), Model = s.Model, Dimensions = s.Dimensions, ApiKey = _vectors.Embedder.ApiKey,
                        ApiKeyEnv = _vectors.Embedder.ApiKeyEnv, BatchSize = _vectors.Embedder.BatchSize, SendDimensions = _vectors.Embedder.SendDimensions,
                    }),
                _ => null,
            };
            var chunking = s.Chunking.Split(':', '/');
            var chunker = chunking.Length == 3 && int.TryParse(chunking[1], out var size) && int.TryParse(chunking[2], out var overlap) ? new TextChunker(size, overlap) : _chunker;
            return embedder is null || !TextTemplate.TryParse(s.Template, out var template, out _) ? null : new IndexTools(embedder, template!, chunker);
        });
    }

    private sealed record IndexTools(IEmbedder Embedder, TextTemplate Template, TextChunker Chunker);

    /// <summary>Brings one entity of <paramref name="index"/> to the row's state (null row: delete). Shared by jobs, reindex and reconcile.</summary>
    public async Task<SinkResult> SyncAsync(VectorIndex index, string entityKey, string? rowJson, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (rowJson is null)
        {
            var deleted = await DeleteAsync(index, entityKey, now, cancellationToken);
            return SinkResult.Success(deleted ? $"deleted vectors of {entityKey} (row gone)" : $"{entityKey}: row absent, nothing indexed");
        }
        var tools = ToolsFor(index) ?? throw new InvalidOperationException($"index {index.Id} was built with {index.Settings.EmbedderKind} {index.Settings.Model}, which the configuration no longer reaches");
        using var row = JsonDocument.Parse(rowJson);
        var tenant = TenantOf(row.RootElement);
        if (tenant is null)
        {
            await DeleteAsync(index, entityKey, now, cancellationToken);
            return SinkResult.Success($"{entityKey}: no {_vectors.TenantColumn}, not indexed");
        }
        var text = tools.Template.Render(row.RootElement);
        var hash = ContentHash(index.Settings, text);
        var existing = await _store.GetRowAsync(index.Id, entityKey, cancellationToken);
        if (existing is not null && existing.ContentHash == hash && existing.Tenant == tenant)
            return SinkResult.Success($"{entityKey}: unchanged, 0 embedding calls");
        var pieces = tools.Chunker.Split(text);
        if (pieces.Count == 0)
        {
            await DeleteAsync(index, entityKey, now, cancellationToken);
            return SinkResult.Success($"{entityKey}: empty text, not indexed");
        }
        IReadOnlyList<float[]> vectors;
        try
        {
            vectors = await EmbedAsync(tools.Embedder, pieces, cancellationToken);
        }
        catch (EmbeddingThrottledException ex)
        {
            return SinkResult.Throttled(ex.RetryAfter, ex.Message);
        }
        catch (EmbeddingFailedException ex)
        {
            return ex.Retryable ? SinkResult.Retryable(ex.Message) : SinkResult.Permanent(ex.Message);
        }
        if (vectors.Any(v => v.Length != index.Settings.Dimensions))
            return SinkResult.Permanent($"the embedder returned vectors of {vectors.First(v => v.Length != index.Settings.Dimensions).Length} dimensions; the index holds {index.Settings.Dimensions}");
        var chunks = pieces.Select((p, i) => new VectorChunk(i, p, vectors[i])).ToList();
        // The user's copy first: if it fails, the hash is not stored and the retry writes both.
        if (_writeThrough is not null && IsCurrent(index))
        {
            try
            {
                await _writeThrough.ReplaceAsync(tenant, entityKey, hash, index.Settings.Model, chunks, now, cancellationToken);
            }
            catch (PostgresException ex)
            {
                return SinkResult.Permanent($"writing {_vectors.WriteThroughTable} failed: {ex.MessageText} (an existing table must have the documented columns and vector size)");
            }
        }
        await _store.UpsertRowAsync(index.Id, tenant, entityKey, hash, chunks, now, cancellationToken);
        return SinkResult.Success($"embedded {entityKey} for tenant {tenant}: {pieces.Count} chunk(s), model {index.Settings.Model}");
    }

    private async Task<bool> DeleteAsync(VectorIndex index, string entityKey, DateTimeOffset now, CancellationToken ct)
    {
        if (_writeThrough is not null && IsCurrent(index)) await _writeThrough.DeleteAsync(entityKey, ct);
        return await _store.DeleteRowAsync(index.Id, entityKey, now, ct);
    }

    /// <summary>Only the index of the configured settings writes through (the table holds one model's vectors).</summary>
    private bool IsCurrent(VectorIndex index) => index.Settings.Fingerprint == Settings.Fingerprint;

    public async Task<string?> ReadRowAsync(string key, CancellationToken ct)
    {
        await using var command = _database.CreateCommand(_selectRow);
        command.Parameters.AddWithValue("key", key);
        return await command.ExecuteScalarAsync(ct) as string;
    }

    /// <summary>Every row of the table as (key, row JSON), in key order, in pages (for reindex and reconcile).</summary>
    public async IAsyncEnumerable<(string Key, string Row)> ReadAllRowsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var key = PgConnection.Quote(_vectors.KeyColumn);
        string? after = null;
        for (var page = 0; page < 10_000_000; page++)
        {
            await using var command = _database.CreateCommand(
                $"SELECT t.{key}::text, to_jsonb(t)::text FROM {PgConnection.Quote(_vectors.Table)} t WHERE @after::text IS NULL OR t.{key}::text > @after ORDER BY t.{key}::text LIMIT 1000");
            command.Parameters.Add(new NpgsqlParameter("after", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)after ?? DBNull.Value });
            var rows = new List<(string, string)>();
            await using (var reader = await command.ExecuteReaderAsync(ct))
                while (await reader.ReadAsync(ct)) rows.Add((reader.GetString(0), reader.GetString(1)));
            foreach (var r in rows) yield return r;
            if (rows.Count < 1000) yield break;
            after = rows[^1].Item1;
        }
    }

    /// <summary>The tenant an event concerns: the outbox's tenant field, or the Supabase record's (old_record for a DELETE).</summary>
    public string? TenantOfEvent(JsonElement payload)
    {
        if (payload.ValueKind != JsonValueKind.Object) return null;
        if (payload.TryGetProperty("tenant", out var t) && t.ValueKind == JsonValueKind.String) return t.GetString();
        foreach (var name in new[] { "record", "old_record" })
            if (payload.TryGetProperty(name, out var record) && record.ValueKind == JsonValueKind.Object && TenantOf(record) is { } tenant) return tenant;
        return null;
    }

    public string? TenantOf(JsonElement row)
    {
        if (_vectors.TenantColumn is null) return DefaultTenant;
        if (!row.TryGetProperty(_vectors.TenantColumn, out var value)) return null;
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => value.GetRawText(),
        };
    }

    public string ContentHash(VectorIndexSettings settings, string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(settings.Fingerprint + "\n" + text)));

    private static async Task<IReadOnlyList<float[]>> EmbedAsync(IEmbedder embedder, IReadOnlyList<string> pieces, CancellationToken ct)
    {
        var result = new List<float[]>(pieces.Count);
        foreach (var batch in pieces.Chunk(Math.Max(embedder.BatchSize, 1)))
            result.AddRange(await embedder.EmbedAsync(batch, ct));
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await _database.DisposeAsync();
        if (_embedder is IDisposable d) d.Dispose();
        foreach (var other in _tools.Values.Select(t => t?.Embedder).OfType<IDisposable>().Where(e => !ReferenceEquals(e, _embedder))) other.Dispose();
    }
}
