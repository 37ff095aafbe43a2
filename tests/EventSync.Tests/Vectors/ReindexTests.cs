using System.Text.Json;
using EventSync.Cli;
using EventSync.Connectors;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;
using EventSync.Core.Vectors;
using EventSync.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.Vectors;

/// <summary>`vectors reconcile` repairs drift; `vectors reindex` builds a new index beside the old one while searches keep working.</summary>
public sealed class ReindexTests : IAsyncLifetime
{
    private readonly string _dir = TempDirectory.Create();
    private ProjectsDatabase _db = null!;

    public async Task InitializeAsync()
    {
        _db = await ProjectsDatabase.CreateAsync();
        await _db.ExecAsync("""
            INSERT INTO projects (tenant_id, name, description, caracteristicas)
            SELECT CASE WHEN g % 2 = 0 THEN 'acme' ELSE 'globex' END, 'Project ' || g, 'Pipeline segment ' || g || ' with pumping station',
                   jsonb_build_object('location', 'Km ' || g)
            FROM generate_series(1, 60) g;
            """);
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        TempDirectory.Delete(_dir);
    }

    private string Config(int dimensions)
    {
        var path = Path.Combine(_dir, $"eventsync-{dimensions}.yaml");
        File.WriteAllText(path, $"store: sqlite:{Path.Combine(_dir, "store.db")}\n" + _db.Yaml($"{{ kind: local, dimensions: {dimensions} }}"));
        return path;
    }

    private static async Task<JsonElement> RunJsonAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync([.. args, "--json"], stdout, stderr);
        Assert.True(exit == CliApp.Ok, $"{string.Join(' ', args)} exited {exit}: {stderr}");
        using var doc = JsonDocument.Parse(stdout.ToString());
        return doc.RootElement.Clone();
    }

    /// <summary>Runs one job for <paramref name="entity"/> through the configured sink, as a worker would.</summary>
    private static async Task<SinkResult> DeliverAsync(string configPath, string entity)
    {
        var (config, problems) = ConfigLoader.TryLoad(configPath, new Dictionary<string, string?>());
        Assert.Empty(problems);
        await using var store = EventStoreFactory.Open(config!.Store);
        var sinks = SinkFactory.Create(config, NullLoggerFactory.Instance, (IVectorStore)store);
        try
        {
            var now = DateTimeOffset.UtcNow;
            var trigger = new StoredEvent(1, "app", "test", "UPDATE", entity, now, "{}", []);
            return await sinks["index"].DeliverAsync(new SinkDelivery("projects", entity, 0, 1, "msg_1_projects", [trigger], now), CancellationToken.None);
        }
        finally
        {
            foreach (var sink in sinks.Values.OfType<IAsyncDisposable>()) await sink.DisposeAsync();
        }
    }

    [Fact]
    public async Task Reconcile_repairs_drift_and_reindex_switches_models_without_interrupting_search()
    {
        var v1 = Config(256);
        var first = await RunJsonAsync("vectors", "reconcile", "-c", v1);
        Assert.Equal(60, first.GetProperty("added").GetInt32());
        var again = await RunJsonAsync("vectors", "reconcile", "-c", v1);
        Assert.Equal(60, again.GetProperty("unchanged").GetInt32()); // content hashes match: nothing re-embedded

        // Drift made while nothing listened: one row changed, one deleted.
        await _db.ExecAsync("UPDATE projects SET description = 'Compressor station retrofit' WHERE id = 2; DELETE FROM projects WHERE id = 4;");
        var repaired = await RunJsonAsync("vectors", "reconcile", "-c", v1);
        Assert.Equal((1, 1, 0), (repaired.GetProperty("updated").GetInt32(), repaired.GetProperty("removed").GetInt32(), repaired.GetProperty("added").GetInt32()));
        var hit = (await RunJsonAsync("search", "compressor retrofit", "--tenant", "acme", "-c", v1)).GetProperty("hits")[0];
        Assert.Equal("2", hit.GetProperty("entityKey").GetString());

        // A new embedding size: the old index keeps answering (with its own settings) until the new one is complete.
        var v2 = Config(128);
        var status = (await RunJsonAsync("vectors", "status", "-c", v2))[0];
        Assert.True(status.GetProperty("settingsChanged").GetBoolean());
        Assert.Equal(256, status.GetProperty("dimensions").GetInt32());

        // A live change while the new index is being built reaches both: the one searched now and the one to come.
        await _db.ExecAsync("UPDATE projects SET description = 'Hydrogen electrolyser pilot' WHERE id = 6");
        var delivered = await DeliverAsync(v2, "6");
        Assert.Equal(SinkStatus.Succeeded, delivered.Status);
        Assert.Contains(delivered.Resources!, r => r.StartsWith("active index:", StringComparison.Ordinal));
        Assert.Equal("6", (await RunJsonAsync("search", "hydrogen electrolyser", "--tenant", "acme", "-c", v2)).GetProperty("hits")[0].GetProperty("entityKey").GetString());

        using var stop = new CancellationTokenSource();
        var searches = Task.Run(async () =>
        {
            var n = 0;
            for (; n < 10_000 && !stop.IsCancellationRequested; n++)
            {
                var result = await RunJsonAsync("search", "compressor retrofit", "--tenant", "acme", "-c", v2);
                Assert.Equal("2", result.GetProperty("hits")[0].GetProperty("entityKey").GetString());
            }
            return n;
        });
        var reindex = await RunJsonAsync("vectors", "reindex", "-c", v2);
        await stop.CancelAsync();
        Assert.True(await searches > 0);
        Assert.True(reindex.GetProperty("switched").GetBoolean());
        Assert.Equal(58, reindex.GetProperty("added").GetInt32());
        Assert.Equal(1, reindex.GetProperty("unchanged").GetInt32()); // row 6, embedded into the new index by the live change

        var after = (await RunJsonAsync("vectors", "status", "-c", v2))[0];
        Assert.Equal(128, after.GetProperty("dimensions").GetInt32());
        Assert.False(after.GetProperty("settingsChanged").GetBoolean());
        Assert.Equal(30, after.GetProperty("tenants").EnumerateArray().Single(t => t.GetProperty("tenant").GetString() == "globex").GetProperty("rows").GetInt32());
        var hits = (await RunJsonAsync("search", "compressor retrofit", "--tenant", "acme", "-c", v2)).GetProperty("hits");
        Assert.Equal("2", hits[0].GetProperty("entityKey").GetString());
        Assert.All(hits.EnumerateArray(), h => Assert.Equal(0, int.Parse(h.GetProperty("entityKey").GetString()!, System.Globalization.CultureInfo.InvariantCulture) % 2));
    }
}
