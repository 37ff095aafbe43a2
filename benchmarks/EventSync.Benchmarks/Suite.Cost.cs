using System.Diagnostics;
using System.Globalization;
using EventSync.Cli;
using EventSync.Emulators.Embeddings;
using EventSync.Emulators.GitHub;
using EventSync.Emulators.Notion;
using Npgsql;

namespace EventSync.Benchmarks;

/// <summary>
/// Cost figures, counted at loopback emulators: embedding calls for row updates in bursts (vector flow), API calls per
/// document synced GitHub → Notion, and the request rate achieved under Notion's rate limit.
/// </summary>
public sealed partial class Suite
{
    private const int EmbedRows = 250;
    private const int EmbedBursts = 10;
    private const int EmbedRowsPerBurst = 25;
    /// <summary>Updates per row per burst: the first three change the embedded text, the last only a column outside the template.</summary>
    private const int EmbedPasses = 4;
    private const string Repo = "acme/docs";
    private const string GitHubSecret = "bench-github-secret";

    // ---------------------------------------------------------------- embedding calls per 1,000 row updates

    private async Task<EmbeddingCostRun> EmbeddingCostAsync(CancellationToken ct)
    {
        await using var embeddings = await EmbeddingApiEmulator.StartAsync(new EmbeddingEmulatorOptions(), ct);
        var postgres = new PostgresBackend(options.Postgres!, options.PostgresPid);
        await using var source = await postgres.CreateStoreAsync("embed_source", ct);
        await using var store = await new SqliteBackend(options.WorkDir).CreateStoreAsync("embed-cost", ct);
        var url = NodeUrl(source.Location.ConnectionString);
        await using (var connection = await source.OpenAsync(ct))
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = $"""
                CREATE TABLE docs (id integer PRIMARY KEY, tenant_id text NOT NULL, title text NOT NULL, body text NOT NULL, views integer NOT NULL DEFAULT 0);
                INSERT INTO docs (id, tenant_id, title, body) SELECT g, 'acme', 'Document ' || g, 'Pipeline segment ' || g || ' with pumping station and ' || (g % 97) || ' valves' FROM generate_series(1, {EmbedRows}) g;
                """;
            await create.ExecuteNonQueryAsync(ct);
        }
        var config = Path.Combine(options.WorkDir, "embed-cost.yaml");
        await File.WriteAllTextAsync(config, $$"""
            store: {{Quote(store.ConfigValue)}}
            sources:
              app: { kind: postgres, connection: {{Quote(url)}}, table: public.docs }
            sinks:
              index:
                kind: vectors
                database: {{Quote(url)}}
                table: public.docs
                tenantColumn: tenant_id
                template: "{{"{{"}}title{{"}}"}}\n{{"{{"}}body{{"}}"}}"
                embedder: { kind: openai, model: text-embedding-3-small, dimensions: 384, baseUrl: {{Quote(embeddings.BaseUrl.ToString())}} }
            flows:
              - { name: docs, from: app, key: $.key, to: index }

            """, ct);
        // Backfill first (as an operator would), then capture, then serve: only the bursts' calls are counted below.
        await CliAsync(["vectors", "reconcile", "-c", config], ct);
        var backfillCalls = (int)embeddings.Calls;
        await CliAsync(["pg", "install", "--connection", url, "--table", "public.docs", "--tenant-column", "tenant_id"], ct);
        var calls0 = embeddings.Calls;
        var inputs0 = embeddings.InputsEmbedded;
        var updates = 0;
        var textChanges = 0;
        await using (var serve = await ChildProcess.StartAsync("embed-cost", [options.CliDll, "serve", "-c", config], options.WorkDir, "/readyz", StartTimeout, ct))
        await using (var connection = await source.OpenAsync(ct))
        {
            await using var update = connection.CreateCommand();
            for (var burst = 0; burst < EmbedBursts; burst++)
            {
                // One burst: each of 25 rows updated 4 times back to back, each UPDATE its own transaction, as an app saving edits does.
                for (var pass = 0; pass < EmbedPasses; pass++)
                {
                    for (var i = 1; i <= EmbedRowsPerBurst; i++)
                    {
                        var id = (burst * EmbedRowsPerBurst + i - 1) % EmbedRows + 1;
                        var changesText = pass < EmbedPasses - 1;
                        update.CommandText = changesText
                            ? string.Create(CultureInfo.InvariantCulture, $"UPDATE docs SET body = 'Revised in burst {burst}, edit {pass}: segment {id} with {pass + 2} pumps' WHERE id = {id}")
                            : string.Create(CultureInfo.InvariantCulture, $"UPDATE docs SET views = views + 1 WHERE id = {id}");
                        await update.ExecuteNonQueryAsync(ct);
                        updates++;
                        if (changesText) textChanges++;
                    }
                }
                await WaitForOutboxAndQueueAsync(serve, source, TimeSpan.FromSeconds(120), ct);
            }
        }
        var runs = await store.ScalarAsync("SELECT COUNT(*) FROM runs", ct);
        var bad = await store.ScalarAsync("SELECT COUNT(*) FROM runs WHERE outcome NOT IN ('succeeded', 'throttled')", ct);
        if (bad > 0) results.Problems.Add($"embedding cost: {bad} job runs did not succeed");
        return new EmbeddingCostRun(EmbedRows, backfillCalls, updates, EmbedBursts, textChanges, embeddings.Calls - calls0, embeddings.InputsEmbedded - inputs0, runs, bad);
    }

    private async Task CliAsync(IReadOnlyList<string> arguments, CancellationToken ct)
    {
        var result = await ChildProcess.RunToEndAsync("dotnet", [options.CliDll, .. arguments], options.WorkDir, TimeSpan.FromMinutes(5), ct);
        if (result.ExitCode != 0) throw new BenchmarkException($"eventsync {string.Join(' ', arguments.Take(2))} exited with {result.ExitCode}: {result.Output}");
    }

    /// <summary>Waits until the capture outbox is empty and no job is pending or running, twice in a row (an outbox row becomes a job).</summary>
    private static async Task WaitForOutboxAndQueueAsync(ChildProcess serve, StoreTarget source, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        using var admin = AdminClient(serve);
        var quiet = 0;
        while (quiet < 2)
        {
            if (clock.Elapsed > timeout) throw new BenchmarkException($"the vector flow did not settle within {timeout.TotalSeconds:0} s");
            if (serve.HasExited) throw new BenchmarkException($"serve exited:\n{serve.Tail()}");
            var outbox = await source.ScalarAsync("SELECT COUNT(*) FROM eventsync.outbox", ct);
            var queue = await QueueAsync(admin, ct);
            quiet = outbox == 0 && queue.Unfinished == 0 ? quiet + 1 : 0;
            await Task.Delay(100, ct);
        }
    }

    // ---------------------------------------------------------------- GitHub → Notion

    /// <summary>GitHub and Notion emulators in this process, and a real serve with one github-to-notion flow.</summary>
    private sealed class DocsWorld : IAsyncDisposable
    {
        public required GitHubEmulator GitHub { get; init; }
        public required NotionEmulator Notion { get; init; }
        public required ChildProcess Serve { get; init; }
        public required StoreTarget Store { get; init; }
        public required string AgentsDataSource { get; init; }

        public async ValueTask DisposeAsync()
        {
            await Serve.DisposeAsync();
            await GitHub.DisposeAsync();
            await Notion.DisposeAsync();
            await Store.DisposeAsync();
        }
    }

    private async Task<DocsWorld> StartDocsWorldAsync(string name, double notionRate, int notionBurst, double clientRate, CancellationToken ct)
    {
        var github = await GitHubEmulator.StartAsync(new GitHubEmulatorOptions { Token = "ghp_bench", ContentCreationPerMinute = 100_000, RateLimitPerHour = 1_000_000 }, ct);
        var notion = await NotionEmulator.StartAsync(new NotionEmulatorOptions { RequestsPerSecond = notionRate, Burst = notionBurst }, ct);
        var store = await new SqliteBackend(options.WorkDir).CreateStoreAsync(name, ct);
        github.CreateRepository(Repo);
        await github.PushAsync(Repo, "main", new Dictionary<string, string?> { ["README.md"] = "# Docs\n" }, "initial commit", ct: ct);
        var (_, agents) = notion.CreateDatabase("Agent Registry", EmulateCommand.AgentRegistrySchema);
        var config = Path.Combine(options.WorkDir, name + ".yaml");
        await File.WriteAllTextAsync(config, $$"""
            store: {{Quote(store.ConfigValue)}}
            connections:
              github: { kind: github, repository: {{Repo}}, token: ghp_bench, apiUrl: {{Quote(github.BaseUrl.ToString())}}, writeInterval: 0s }
              notion: { kind: notion, token: {{notion.Options.Token}}, apiUrl: {{Quote(notion.BaseUrl.ToString())}}, requestsPerSecond: {{clientRate.ToString(CultureInfo.InvariantCulture)}} }
            collections:
              agents:
                github: { path: agents/*.yaml }
                notion: { dataSource: {{agents}}, properties: { name: Name, type: Type, status: Status, description: Description } }
            sources:
              github: { kind: github, secret: {{Quote(GitHubSecret)}}, connection: github }
            sinks:
              notion: { kind: notion, connection: notion, concurrency: 1 }
            flows:
              - { name: github-to-notion, from: github, events: [push], branches: [main], paths: [agents/**], key: $.repository.full_name, to: notion }

            """, ct);
        ChildProcess serve;
        try
        {
            serve = await ChildProcess.StartAsync(name, [options.CliDll, "serve", "-c", config], options.WorkDir, "/readyz", StartTimeout, ct);
        }
        catch
        {
            await github.DisposeAsync();
            await notion.DisposeAsync();
            await store.DisposeAsync();
            throw;
        }
        github.AddWebhook(Repo, new Uri(serve.Address, "/hooks/github"), GitHubSecret, "push");
        return new DocsWorld { GitHub = github, Notion = notion, Serve = serve, Store = store, AgentsDataSource = agents };
    }

    private static Dictionary<string, string?> Agents(int count, string description) =>
        Enumerable.Range(1, count).ToDictionary(i => string.Create(CultureInfo.InvariantCulture, $"agents/agent-{i:000}.yaml"),
            i => (string?)string.Create(CultureInfo.InvariantCulture, $"name: Agent {i}\ntype: research\nstatus: active\ndescription: {description} {i}\n"));

    /// <summary>Webhooks delivered, no job pending or running, and no new API request, twice in a row.</summary>
    private static async Task SettleDocsAsync(DocsWorld w, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        using var admin = AdminClient(w.Serve);
        long lastRequests = -1;
        var quiet = 0;
        while (quiet < 2)
        {
            if (clock.Elapsed > timeout) throw new BenchmarkException($"the GitHub → Notion flow did not settle within {timeout.TotalSeconds:0} s");
            if (w.Serve.HasExited) throw new BenchmarkException($"serve exited:\n{w.Serve.Tail()}");
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                idle.CancelAfter(TimeSpan.FromSeconds(30));
                await w.GitHub.WebhooksIdleAsync(idle.Token);
            }
            var queue = await QueueAsync(admin, ct);
            var requests = w.Notion.TotalRequests + w.GitHub.TotalRequests;
            quiet = queue.Unfinished == 0 && requests == lastRequests ? quiet + 1 : 0;
            lastRequests = requests;
            await Task.Delay(250, ct);
        }
    }

    private async Task<DocsCostRun> DocsCostAsync(CancellationToken ct)
    {
        var n = Sizes.CostDocuments;
        // No rate limit here: this counts requests, whatever the pacing.
        await using var w = await StartDocsWorldAsync("docs-cost", notionRate: 1000, notionBurst: 1000, clientRate: 50, ct);
        var rounds = new List<DocsRound>();
        async Task RoundAsync(string what, Dictionary<string, string?> files)
        {
            long gh0 = w.GitHub.TotalRequests, no0 = w.Notion.TotalRequests, th0 = w.Notion.ThrottledResponses;
            var runs0 = await w.Store.ScalarAsync("SELECT COUNT(*) FROM runs", ct);
            await w.GitHub.PushAsync(Repo, "main", files, what, ct: ct);
            await SettleDocsAsync(w, TimeSpan.FromSeconds(120 + n * 3), ct);
            rounds.Add(new DocsRound(what, files.Count, w.GitHub.TotalRequests - gh0, w.Notion.TotalRequests - no0, w.Notion.ThrottledResponses - th0,
                await w.Store.ScalarAsync("SELECT COUNT(*) FROM runs", ct) - runs0));
        }
        await RoundAsync($"create {n} documents (one push)", Agents(n, "Finds sources"));
        await RoundAsync($"change {n} documents (one push)", Agents(n, "Finds and ranks sources"));
        await RoundAsync("change 1 document", new Dictionary<string, string?> { ["agents/agent-001.yaml"] = "name: Agent 1\ntype: research\nstatus: retired\ndescription: Retired\n" });
        var pages = w.Notion.Pages(w.AgentsDataSource).Count;
        var failed = await w.Store.ScalarAsync("SELECT COUNT(*) FROM runs WHERE outcome NOT IN ('succeeded', 'throttled')", ct);
        if (failed > 0) results.Problems.Add($"GitHub → Notion cost: {failed} job runs did not succeed");
        if (pages != n) results.Problems.Add($"GitHub → Notion cost: {n} documents pushed, {pages} Notion pages");
        return new DocsCostRun(rounds, failed, w.Notion.RequestsByEndpoint);
    }

    private async Task<NotionRateRun> NotionRateAsync(CancellationToken ct)
    {
        const double allowed = 3, client = 10;
        const int burst = 10;
        var n = Sizes.RateDocuments;
        // Notion's real limits on the emulator; the client paces at more than that, so bursts get 429 and Retry-After.
        await using var w = await StartDocsWorldAsync("notion-rate", allowed, burst, client, ct);
        long base0 = w.Notion.TotalRequests, throttled0 = w.Notion.ThrottledResponses;
        long firstAt = 0, lastAt = 0, seen = base0;
        using var stopSampling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sampler = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            try
            {
                while (await timer.WaitForNextTickAsync(stopSampling.Token))
                {
                    var now = w.Notion.TotalRequests;
                    if (now == seen) continue;
                    var at = Stopwatch.GetTimestamp();
                    if (firstAt == 0) firstAt = at;
                    lastAt = at;
                    seen = now;
                }
            }
            catch (OperationCanceledException)
            {
                // Settled.
            }
        }, CancellationToken.None);
        await w.GitHub.PushAsync(Repo, "main", Agents(n, "Finds sources"), $"{n} documents", ct: ct);
        // About six requests a document at 3/s, with a wide margin.
        await SettleDocsAsync(w, TimeSpan.FromSeconds(60 + n * 10), ct);
        await stopSampling.CancelAsync();
        await sampler;
        var total = w.Notion.TotalRequests - base0;
        var throttled = w.Notion.ThrottledResponses - throttled0;
        // The sampler sees a request up to 20 ms late at either end; the window is what it saw.
        var seconds = firstAt == 0 ? 0 : Stopwatch.GetElapsedTime(firstAt, lastAt).TotalSeconds;
        var failed = await w.Store.ScalarAsync("SELECT COUNT(*) FROM runs WHERE outcome NOT IN ('succeeded', 'throttled')", ct);
        var parked = await w.Store.ScalarAsync("SELECT COUNT(*) FROM jobs WHERE status = 'parked'", ct);
        var pages = w.Notion.Pages(w.AgentsDataSource).Count;
        if (failed > 0 || parked > 0) results.Problems.Add($"Notion rate limit: {failed} failed runs, {parked} parked jobs");
        if (pages != n) results.Problems.Add($"Notion rate limit: {n} documents pushed, {pages} Notion pages");
        return new NotionRateRun(n, allowed, burst, client, total - throttled, throttled, seconds, failed, parked, w.Notion.MaxObservedRequestsPerSecond);
    }
}
