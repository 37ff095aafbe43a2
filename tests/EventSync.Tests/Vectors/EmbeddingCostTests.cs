using System.Net.Http.Json;
using System.Text.Json;
using EventSync.Emulators.Embeddings;
using EventSync.Tests.Infrastructure;
using Npgsql;

namespace EventSync.Tests.Vectors;

/// <summary>
/// What embedding costs, counted at an OpenAI-compatible emulator on loopback: bursts coalesce, unchanged text is free,
/// a 429 pauses instead of failing, and vectors of the wrong size are refused, never truncated or padded.
/// </summary>
public sealed class EmbeddingCostTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private ProjectsDatabase _db = null!;
    private EmbeddingApiEmulator _api = null!;

    public async Task InitializeAsync()
    {
        _db = await ProjectsDatabase.CreateAsync();
        _api = await EmbeddingApiEmulator.StartAsync(new EmbeddingEmulatorOptions { ApiKey = "sk-test-0123456789" });
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _db.DisposeAsync();
    }

    private Task<TestServer> StartAsync(string flowExtras = "") => TestServer.StartAsync(
        _db.Yaml($"{{ kind: openai, baseUrl: \"{_api.BaseUrl}\", model: text-embedding-3-small, dimensions: 256, apiKeyEnv: TEST_EMBEDDING_KEY }}", flowExtras),
        env: new Dictionary<string, string?> { ["TEST_EMBEDDING_KEY"] = "sk-test-0123456789" });

    [Fact]
    public async Task A_burst_of_1000_updates_to_10_rows_costs_at_most_20_embedding_calls()
    {
        await using var server = await StartAsync(", settle: 2s, maxWait: 30s");
        await _db.ExecAsync("INSERT INTO projects (tenant_id, name, description) SELECT 'acme', 'Project ' || g, 'initial' FROM generate_series(1, 10) g");
        await Wait.UntilAsync(async () => (await VectorSyncTests.RunsAsync(server)).Count(r => r.Contains("embedded", StringComparison.Ordinal)) == 10, Patience, "the 10 rows embedded");
        var before = _api.Calls;

        await using (var connection = new NpgsqlConnection(_db.Connection))
        {
            await connection.OpenAsync();
            await using var update = new NpgsqlCommand("UPDATE projects SET description = 'revision ' || @n WHERE id = @id", connection);
            var n = new NpgsqlParameter<int>("n", 0);
            var id = new NpgsqlParameter<int>("id", 0);
            update.Parameters.Add(n);
            update.Parameters.Add(id);
            for (var i = 1; i <= 1000; i++)
            {
                n.TypedValue = i;
                id.TypedValue = (i % 10) + 1;
                await update.ExecuteNonQueryAsync(); // 1000 separate transactions
            }
        }
        // Count before searching: every search embeds its query too.
        await Wait.UntilAsync(() => QueueEmptyAsync(server), Patience, "the burst processed");
        var calls = _api.Calls - before;
        Assert.True(calls <= 20, $"{calls} embedding calls for 1000 updates to 10 rows");
        Assert.True(calls >= 10, $"{calls} calls cannot have embedded 10 changed rows");
        // Each row's last revision is what is indexed, so every update was taken into account.
        for (var row = 1; row <= 10; row++)
        {
            var expected = Enumerable.Range(1, 1000).Last(i => (i % 10) + 1 == row);
            Assert.True(await VectorSyncTests.TopHitIsAsync(server, "acme", $"revision {expected}", row.ToString(System.Globalization.CultureInfo.InvariantCulture)), $"row {row} at revision {expected}");
        }
    }

    private async Task<bool> QueueEmptyAsync(TestServer server)
    {
        if (await _db.OutboxCountAsync() > 0) return false;
        var status = await server.Http.GetFromJsonAsync<JsonElement>("/api/status");
        return status.GetProperty("flows").EnumerateArray().All(f => f.GetProperty("pending").GetInt32() == 0 && f.GetProperty("running").GetInt32() == 0);
    }

    private static async Task<int> RunsWithAsync(TestServer server, string text) =>
        (await VectorSyncTests.RunsAsync(server)).Count(r => r.Contains(text, StringComparison.Ordinal));

    [Fact]
    public async Task An_update_outside_the_template_costs_no_call_a_429_pauses_and_wrong_dimensions_park()
    {
        await using var server = await StartAsync();
        await _db.ExecAsync("INSERT INTO projects (tenant_id, name, description) VALUES ('acme', 'Wind farm', 'Offshore turbines')");
        await Wait.UntilAsync(async () => await RunsWithAsync(server, "embedded 1") == 1, Patience, "row 1 embedded");
        var calls = _api.Calls;
        await _db.ExecAsync("UPDATE projects SET price = 42 WHERE id = 1");
        await Wait.UntilAsync(async () => await RunsWithAsync(server, "unchanged, 0 embedding calls") == 1, Patience, "the price-only run");
        Assert.Equal(calls, _api.Calls);

        // 429 with Retry-After: the sink pauses and the job succeeds after it, with no failed attempt.
        _api.ThrottleNext(1, TimeSpan.FromSeconds(1));
        await _db.ExecAsync("UPDATE projects SET description = 'Floating offshore turbines' WHERE id = 1");
        await Wait.UntilAsync(async () => await RunsWithAsync(server, "embedded 1") == 2, Patience, "row 1 re-embedded after the pause");
        var runs = await server.Http.GetFromJsonAsync<JsonElement[]>("/api/runs?flow=projects&limit=50");
        Assert.Contains(runs!, r => r.GetProperty("outcome").GetString() == "throttled");
        Assert.DoesNotContain(runs!, r => r.GetProperty("outcome").GetString() is "failed" or "parked");

        // Vectors of the wrong size are refused and the job parked with the reason; the index keeps the old vectors.
        _api.WrongDimensions = true;
        await _db.ExecAsync("UPDATE projects SET description = 'Tidal energy barrage' WHERE id = 1");
        JsonElement[] dead = [];
        await Wait.UntilAsync(async () => (dead = (await server.Http.GetFromJsonAsync<JsonElement[]>("/api/dead"))!).Length == 1, Patience, "the job parked");
        Assert.Contains("256", dead[0].GetProperty("lastError").GetString(), StringComparison.Ordinal);
        _api.WrongDimensions = false;
        Assert.True(await VectorSyncTests.TopHitIsAsync(server, "acme", "floating offshore", "1"));

        // Fixed provider, replayed dead letter: the change lands.
        Assert.True((await server.Http.PostAsync($"/api/dead/{dead[0].GetProperty("id").GetInt64()}/replay", null)).IsSuccessStatusCode);
        await Wait.UntilAsync(() => VectorSyncTests.TopHitIsAsync(server, "acme", "tidal barrage", "1"), Patience, "the replayed change searchable");
    }
}
