using EventSync.Core.Configuration;
using EventSync.Tests.Infrastructure;
using Npgsql;

namespace EventSync.Tests.Storage;

/// <summary>The schema versions only PostgreSQL runs (SQLite records them; the contract tests check both reach the latest).</summary>
public sealed class PostgresSchemaTests
{
    [Fact]
    public async Task An_ingested_payload_past_the_toast_threshold_is_compressed_with_lz4_and_reads_back_unchanged()
    {
        await using var h = await EngineHarness.CreateAsync(StoreKind.Postgres);
        var note = new string('x', 4000);
        var stored = await h.IngestAsync("order-lz4", extra: new { note });

        await using var connection = new NpgsqlConnection(h.Location.ConnectionString);
        await connection.OpenAsync();
        // A server built without lz4 keeps pglz (the migration allows it); the servers the tests start have lz4.
        await using (var methods = new NpgsqlCommand("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'", connection))
            Assert.True((bool)(await methods.ExecuteScalarAsync())!, "this PostgreSQL server was built without lz4");
        await using var read = new NpgsqlCommand("SELECT pg_column_compression(payload), convert_from(payload, 'UTF8') FROM events WHERE id = $1", connection);
        read.Parameters.Add(new NpgsqlParameter { Value = stored.EventId!.Value });
        await using var reader = await read.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("lz4", reader.GetString(0));
        Assert.Contains(note, reader.GetString(1), StringComparison.Ordinal);
    }
}
