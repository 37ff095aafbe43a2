using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EventSync.Tests.Infrastructure;
using Npgsql;

namespace EventSync.Tests.Vectors;

/// <summary>
/// Row changes in a real PostgreSQL database, captured by the installed outbox trigger, become tenant-scoped
/// searchable vectors; the server runs for real (Kestrel, SQLite store) and is searched over its admin API.
/// </summary>
public sealed class VectorSyncTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private ProjectsDatabase _db = null!;

    public async Task InitializeAsync() => _db = await ProjectsDatabase.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private Task ExecAsync(string sql) => _db.ExecAsync(sql);

    private Task<long> OutboxCountAsync() => _db.OutboxCountAsync();

    private Task<TestServer> StartAsync() => TestServer.StartAsync(_db.Yaml());

    internal static async Task<JsonElement[]> SearchAsync(TestServer server, string tenant, string q)
    {
        var result = await server.Http.GetFromJsonAsync<JsonElement>($"/api/search?tenant={tenant}&q={Uri.EscapeDataString(q)}&top=5");
        return [.. result.GetProperty("hits").EnumerateArray()];
    }

    internal static async Task<bool> TopHitIsAsync(TestServer server, string tenant, string q, string entity) =>
        (await SearchAsync(server, tenant, q)) is [var first, ..] && first.GetProperty("entityKey").GetString() == entity;

    [Fact]
    public async Task Row_changes_reach_the_tenant_scoped_index_and_nothing_else_does()
    {
        await using var server = await StartAsync();
        await ExecAsync("""
            INSERT INTO projects (tenant_id, name, description, caracteristicas, price) VALUES
              ('acme', 'Solar farm in Atacama', 'Photovoltaic plant with battery storage', '{"location": "Chile", "value": "120 MW"}', 10),
              ('acme', 'Harbour crane upgrade', 'Electrification of container cranes', '{"location": "Valparaiso"}', 20),
              ('globex', 'Solar rooftop programme', 'Photovoltaic panels on schools', '{"location": "Lima"}', 30);
            """);
        await Wait.UntilAsync(() => TopHitIsAsync(server, "acme", "solar photovoltaic Atacama", "1"), Patience, "acme's solar project searchable");
        // Each row is its own job, so globex's row may be indexed after acme's: wait for it too.
        await Wait.UntilAsync(() => TopHitIsAsync(server, "globex", "solar photovoltaic Atacama", "3"), Patience, "globex's solar project searchable");
        // Tenant isolation: acme's rows never appear in globex's results, whatever the query.
        Assert.All(await SearchAsync(server, "globex", "Atacama harbour crane Chile"), h => Assert.Equal("3", h.GetProperty("entityKey").GetString()));
        Assert.Empty(await SearchAsync(server, "initech", "solar"));
        Assert.Equal(HttpStatusCode.BadRequest, (await server.Http.GetAsync("/api/search?q=solar")).StatusCode);

        // A rolled-back transaction leaves nothing behind.
        await using (var connection = new NpgsqlConnection(_db.Connection))
        {
            await connection.OpenAsync();
            await using var tx = await connection.BeginTransactionAsync();
            await using (var insert = new NpgsqlCommand("INSERT INTO projects (tenant_id, name) VALUES ('acme', 'Rolled back wind farm')", connection, tx))
                await insert.ExecuteNonQueryAsync();
            await tx.RollbackAsync();
        }

        // A change outside the template is captured but costs no embedding; a change inside it re-embeds.
        await ExecAsync("UPDATE projects SET price = 11 WHERE id = 1");
        await Wait.UntilAsync(async () => (await RunsAsync(server)).Any(r => r.Contains("1: unchanged, 0 embedding calls", StringComparison.Ordinal)), Patience, "the price-only update's run");
        await ExecAsync("UPDATE projects SET description = 'Concentrated solar power tower with molten salt' WHERE id = 1");
        await Wait.UntilAsync(() => TopHitIsAsync(server, "acme", "molten salt tower", "1"), Patience, "the new description searchable");

        // Moving a row to another tenant moves its vectors; deleting it removes them.
        await ExecAsync("UPDATE projects SET tenant_id = 'globex' WHERE id = 2");
        await Wait.UntilAsync(() => TopHitIsAsync(server, "globex", "container cranes electrification", "2"), Patience, "row 2 in globex");
        Assert.DoesNotContain(await SearchAsync(server, "acme", "container cranes electrification"), h => h.GetProperty("entityKey").GetString() == "2");
        await ExecAsync("DELETE FROM projects WHERE id = 2");
        await Wait.UntilAsync(async () => !(await SearchAsync(server, "globex", "container cranes electrification")).Any(h => h.GetProperty("entityKey").GetString() == "2"), Patience, "row 2 gone");

        Assert.DoesNotContain(await RunsAsync(server), r => r.Contains("Rolled back", StringComparison.Ordinal));
        await Wait.UntilAsync(async () => await OutboxCountAsync() == 0, Patience, "the outbox drained");
    }

    [Fact]
    public async Task Vectors_are_written_through_to_the_users_table_as_real_arrays_without_pgvector()
    {
        await using var server = await TestServer.StartAsync(_db.Yaml(sinkExtras: "\n    writeThrough: public.project_embeddings"));
        await ExecAsync("INSERT INTO projects (tenant_id, name, description) VALUES ('acme', 'Geothermal well', 'Binary cycle plant')");
        await Wait.UntilAsync(async () => await CountAsync("SELECT COUNT(*) FROM project_embeddings") == 1, Patience, "the written-through chunk");
        await using (var connection = new NpgsqlConnection(_db.Connection))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id, tenant_id, source_id, content, embedding, metadata::text FROM project_embeddings", connection);
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(("1#0", "acme", "1"), (reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            Assert.Contains("Geothermal well", reader.GetString(3), StringComparison.Ordinal);
            var embedding = reader.GetFieldValue<float[]>(4);
            Assert.Equal(256, embedding.Length);
            Assert.InRange(Math.Sqrt(embedding.Sum(x => (double)x * x)), 0.999, 1.001);
            using var metadata = JsonDocument.Parse(reader.GetString(5));
            Assert.Equal(256, metadata.RootElement.GetProperty("dimensions").GetInt32());
            Assert.Equal(64, metadata.RootElement.GetProperty("content_version").GetString()!.Length);
        }
        await ExecAsync("DELETE FROM projects WHERE id = 1");
        await Wait.UntilAsync(async () => await CountAsync("SELECT COUNT(*) FROM project_embeddings") == 0, Patience, "the deleted row's chunks gone");
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_db.Connection);
        await connection.OpenAsync();
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('project_embeddings') IS NOT NULL", connection))
            if (!(bool)(await exists.ExecuteScalarAsync())!) return -1; // not created yet
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Changes_made_while_the_server_is_down_are_caught_up_from_the_outbox()
    {
        await ExecAsync("""
            INSERT INTO projects (tenant_id, name, description) VALUES ('acme', 'Desalination plant', 'Reverse osmosis water treatment');
            UPDATE projects SET description = 'Reverse osmosis water treatment for mining' WHERE id = 1;
            """);
        Assert.Equal(2, await OutboxCountAsync()); // waiting durably, no one listening
        await using var server = await StartAsync();
        await Wait.UntilAsync(() => TopHitIsAsync(server, "acme", "reverse osmosis mining", "1"), Patience, "the change made while down");
        Assert.Equal(0, await OutboxCountAsync());
    }

    internal static async Task<List<string>> RunsAsync(TestServer server)
    {
        var runs = await server.Http.GetFromJsonAsync<JsonElement[]>("/api/runs?flow=projects&limit=200");
        return runs!.Select(r => r.GetProperty("resourcesJson").GetString() + " " + r.GetProperty("error").ToString()).ToList();
    }
}
