using System.Globalization;
using System.Text;
using System.Text.Json;
using EventSync.Connectors.Postgres;
using EventSync.Core.Vectors;
using Npgsql;

namespace EventSync.Connectors.Vectors;

/// <summary>
/// Mirrors an entity's chunks into a table of the user's database, in the shape the replaced system used, so existing
/// SQL (and pgvector indexes) keep working. Uses pgvector's <c>vector(N)</c> when that extension exists, else <c>real[]</c>.
/// </summary>
internal sealed class WriteThroughTable(NpgsqlDataSource database, string table, int dimensions)
{
    private readonly string _table = PgConnection.Quote(table);
    private bool? _pgvector;

    private async Task<bool> EnsureAsync(CancellationToken ct)
    {
        if (_pgvector is { } known) return known;
        await using (var probe = database.CreateCommand("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')"))
            _pgvector = (bool)(await probe.ExecuteScalarAsync(ct))!;
        var type = _pgvector.Value ? $"vector({dimensions})" : "real[]";
        await using var create = database.CreateCommand($"""
            CREATE TABLE IF NOT EXISTS {_table} (
                id text PRIMARY KEY, tenant_id text NOT NULL, source_id text NOT NULL, chunk integer NOT NULL,
                content text NOT NULL, embedding {type} NOT NULL, metadata jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
            CREATE INDEX IF NOT EXISTS {table.Replace('.', '_')}_source ON {_table} (source_id);
            CREATE INDEX IF NOT EXISTS {table.Replace('.', '_')}_tenant ON {_table} (tenant_id);
            """);
        await create.ExecuteNonQueryAsync(ct);
        return _pgvector.Value;
    }

    public async Task ReplaceAsync(string tenant, string entityKey, string contentHash, string model, IReadOnlyList<VectorChunk> chunks, DateTimeOffset now, CancellationToken ct)
    {
        var pgvector = await EnsureAsync(ct);
        await using var connection = await database.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var delete = new NpgsqlCommand($"DELETE FROM {_table} WHERE source_id = @key", connection, tx))
        {
            delete.Parameters.AddWithValue("key", entityKey);
            await delete.ExecuteNonQueryAsync(ct);
        }
        var metadata = JsonSerializer.Serialize(new { model, dimensions, content_version = contentHash, last_update = now });
        await using (var insert = new NpgsqlCommand($"""
            INSERT INTO {_table} (id, tenant_id, source_id, chunk, content, embedding, metadata, updated_at)
            VALUES (@id, @tenant, @key, @chunk, @content, {(pgvector ? "CAST(@embedding AS vector)" : "@embedding")}, CAST(@metadata AS jsonb), @now)
            """, connection, tx))
        {
            foreach (var chunk in chunks)
            {
                insert.Parameters.Clear();
                insert.Parameters.AddWithValue("id", $"{entityKey}#{chunk.Index}");
                insert.Parameters.AddWithValue("tenant", tenant);
                insert.Parameters.AddWithValue("key", entityKey);
                insert.Parameters.AddWithValue("chunk", chunk.Index);
                insert.Parameters.AddWithValue("content", chunk.Content);
                insert.Parameters.AddWithValue("embedding", pgvector ? VectorLiteral(chunk.Embedding) : chunk.Embedding);
                insert.Parameters.AddWithValue("metadata", metadata);
                insert.Parameters.AddWithValue("now", now);
                await insert.ExecuteNonQueryAsync(ct);
            }
        }
        await tx.CommitAsync(ct);
    }

    public async Task DeleteAsync(string entityKey, CancellationToken ct)
    {
        await EnsureAsync(ct);
        await using var delete = database.CreateCommand($"DELETE FROM {_table} WHERE source_id = @key");
        delete.Parameters.AddWithValue("key", entityKey);
        await delete.ExecuteNonQueryAsync(ct);
    }

    private static string VectorLiteral(float[] vector)
    {
        var text = new StringBuilder("[");
        for (var i = 0; i < vector.Length; i++) text.Append(i == 0 ? "" : ",").Append(vector[i].ToString("R", CultureInfo.InvariantCulture));
        return text.Append(']').ToString();
    }
}
