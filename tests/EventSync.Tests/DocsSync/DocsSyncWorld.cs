using System.Text.Json.Nodes;
using EventSync.Cli;
using EventSync.Core.Storage;
using EventSync.Emulators.GitHub;
using EventSync.Emulators.Notion;
using EventSync.Emulators.Website;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.DocsSync;

/// <summary>
/// The docs-sync design on loopback: GitHub, Notion and website emulators, and the real server (real Kestrel, real
/// SQLite) receiving their signed webhooks and syncing between them.
/// </summary>
public sealed class DocsSyncWorld : IAsyncDisposable
{
    public const string Repo = "acme/docs";
    public const string GitHubSecret = "It's a Secret to Everybody";
    public const string WebsiteSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    private DocsSyncWorld(GitHubEmulator github, NotionEmulator notion, WebsiteApiEmulator website, string agents, string architectures)
    {
        GitHub = github;
        Notion = notion;
        Website = website;
        AgentsDataSource = agents;
        ArchitecturesDataSource = architectures;
    }

    public GitHubEmulator GitHub { get; }
    public NotionEmulator Notion { get; }
    public WebsiteApiEmulator Website { get; }
    public TestServer Server { get; private set; } = null!;
    public string AgentsDataSource { get; }
    public string ArchitecturesDataSource { get; }
    public IEventStore Store => Server.Store;

    /// <summary>All five flows unless <paramref name="flows"/> names a subset.</summary>
    public static async Task<DocsSyncWorld> StartAsync(string[]? flows = null, string prefer = "newest", double notionRate = 1000, int notionBurst = 1000, double clientRate = 50, string reconcile = "1h", bool rejectNewOptions = false)
    {
        var github = await GitHubEmulator.StartAsync(new GitHubEmulatorOptions { Token = "ghp_test", ContentCreationPerMinute = 100_000 });
        var notion = await NotionEmulator.StartAsync(new NotionEmulatorOptions { RequestsPerSecond = notionRate, Burst = notionBurst });
        var website = await WebsiteApiEmulator.StartAsync(new WebsiteEmulatorOptions());
        github.CreateRepository(Repo);
        await github.PushAsync(Repo, "main", new Dictionary<string, string?> { ["README.md"] = "# Docs\n" }, "initial commit");
        var (_, agents) = notion.CreateDatabase("Agent Registry", EmulateCommand.AgentRegistrySchema);
        var (_, architectures) = notion.CreateDatabase("Architecture Catalog", EmulateCommand.ArchitectureCatalogSchema);
        var world = new DocsSyncWorld(github, notion, website, agents, architectures);
        var all = new[] { "github-to-notion", "github-to-website", "notion-to-website", "notion-to-github", "website-to-github" };
        world.Server = await TestServer.StartAsync(Yaml(world, (flows ?? all).ToHashSet(), prefer, clientRate, reconcile, rejectNewOptions));
        github.AddWebhook(Repo, new Uri(world.Server.Address, "/hooks/github"), GitHubSecret, "push", "release");
        notion.Subscribe(new Uri(world.Server.Address, "/hooks/notion"));
        await notion.WebhooksIdleAsync(CancellationToken.None);
        notion.Verify(); // the handshake's token was captured by the server, which verifies with it until one is configured
        website.AddWebhook(new Uri(world.Server.Address, "/hooks/website"), WebsiteSecret);
        return world;
    }

    private static string Yaml(DocsSyncWorld w, HashSet<string> flows, string prefer, double clientRate, string reconcile, bool rejectNewOptions)
    {
        var flowYaml = new Dictionary<string, string>
        {
            ["github-to-notion"] = $"  - {{ name: github-to-notion, from: github, events: [push], branches: [main], paths: [docs/**, agents/**, architectures/**, contracts/**, \"*.md\"], key: $.repository.full_name, to: notion, prefer: {prefer} }}",
            ["github-to-website"] = "  - { name: github-to-website, from: github, events: [push, release.published], branches: [main], paths: [docs/**, agents/**, architectures/**, public/**, \"*.md\"], key: $.repository.full_name, to: website }",
            ["notion-to-website"] = "  - { name: notion-to-website, from: notion, events: [\"page.*\"], key: $.entity.id, to: website }",
            ["notion-to-github"] = $"  - {{ name: notion-to-github, from: notion, events: [\"page.*\"], key: $.entity.id, to: github, prefer: {prefer} }}",
            ["website-to-github"] = "  - { name: website-to-github, from: website, events: [website-update], key: $.client_payload.id, to: github }",
            ["notion-to-actions"] = "  - { name: notion-to-actions, from: notion, events: [\"page.*\"], key: $.entity.id, to: actions }",
        };
        return $$"""
            workers: { pollInterval: 100ms }
            connections:
              github: { kind: github, repository: {{Repo}}, token: ghp_test, apiUrl: "{{w.GitHub.BaseUrl}}", writeInterval: 0s }
              notion: { kind: notion, token: {{w.Notion.Options.Token}}, apiUrl: "{{w.Notion.BaseUrl}}", requestsPerSecond: {{clientRate}}, reconcile: {{reconcile}} }
              website: { kind: website, url: "{{w.Website.BaseUrl}}", apiKey: website-emulator-key }
            collections:
              agents:
                github: { path: agents/*.yaml }
                notion: { dataSource: {{w.AgentsDataSource}}, properties: { name: Name, type: Type, status: Status, description: Description }, newOptions: {{(rejectNewOptions ? "reject" : "create")}} }
                website: { collection: agents, resource: agent }
              architectures:
                github: { path: architectures/**/*.md }
                notion: { dataSource: {{w.ArchitecturesDataSource}}, properties: { title: Name, status: Status, tags: Tags } }
                website: { collection: architectures }
              docs:
                github: { path: docs/**/*.md }
                website: { collection: docs }
              pages:
                github: { path: "*.md" }
                website: { collection: pages }
              releases:
                website: { collection: releases, resource: release }
            sources:
              github: { kind: github, secret: "{{GitHubSecret}}", connection: github }
              notion: { kind: notion, connection: notion }
              website: { kind: website, secret: "{{WebsiteSecret}}", connection: website }
            sinks:
              notion: { kind: notion, connection: notion, concurrency: 1 }
              website: { kind: website, connection: website }
              github: { kind: github, connection: github, concurrency: 1 }
              actions: { kind: github-dispatch, connection: github, eventType: notion-webhook }
            flows:
            {{string.Join("\n", flowYaml.Where(f => flows.Contains(f.Key)).Select(f => f.Value))}}
            """;
    }

    public Task<string> PushAsync(Dictionary<string, string?> files, string message = "docs change") => GitHub.PushAsync(Repo, "main", files, message);

    /// <summary>
    /// Waits until nothing moves: every emulator has delivered its webhooks and the store has no pending or running job,
    /// twice in a row with no new event in between (a job's write can cause a new webhook).
    /// </summary>
    public async Task SettleAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        long lastEvent = -1;
        var quiet = 0;
        while (quiet < 2)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the docs-sync world did not settle: " + string.Join("; ", (await Store.GetQueueStatsAsync(default)).Select(s => $"{s.Flow}: {s.Pending} pending, {s.Running} running")));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await GitHub.WebhooksIdleAsync(cts.Token);
            await Notion.WebhooksIdleAsync(cts.Token);
            await Website.WebhooksIdleAsync(cts.Token);
            await Wait.UntilAsync(async () => (await Store.GetQueueStatsAsync(default)).All(s => s.Pending + s.Running == 0), TimeSpan.FromSeconds(60), "the job queue to drain");
            var newest = (await Store.ListEventsAsync(new EventQuery(Limit: 1), default)).FirstOrDefault()?.Id ?? 0;
            quiet = newest == lastEvent ? quiet + 1 : 0;
            lastEvent = newest;
        }
    }

    public async Task<IReadOnlyList<RunRecord>> FailedRunsAsync() =>
        (await Store.ListRunsAsync(new RunQuery(Limit: 1000), default)).Where(r => r.Outcome is not (RunOutcomes.Succeeded or RunOutcomes.Throttled)).ToList();

    public JsonObject? NotionPageByPath(string dataSource, string path) =>
        Notion.Pages(dataSource).FirstOrDefault(p => p["properties"]?["GitHub Path"]?["rich_text"] is JsonArray a && string.Concat(a.Select(t => t?["plain_text"]?.GetValue<string>() ?? t?["text"]?["content"]?.GetValue<string>())) == path);

    public static string? Property(JsonObject page, string name)
    {
        var p = page["properties"]?[name];
        var type = p?["type"]?.GetValue<string>();
        return type switch
        {
            "title" or "rich_text" => string.Concat(p![type]!.AsArray().Select(t => t?["plain_text"]?.GetValue<string>() ?? t?["text"]?["content"]?.GetValue<string>())),
            "select" => p![type]?["name"]?.GetValue<string>(),
            "multi_select" => string.Join(",", p![type]!.AsArray().Select(o => o?["name"]?.GetValue<string>())),
            _ => p?[type ?? ""]?.ToString(),
        };
    }

    /// <summary>Writes made so far in each system: commits, Notion mutations, website writes.</summary>
    public (int Commits, long NotionWrites, long WebsiteWrites) Writes() =>
        (GitHub.Commits(Repo, "main").Count,
         Notion.RequestsByEndpoint.Where(p => !p.Key.StartsWith("GET", StringComparison.Ordinal) && !p.Key.Contains("query", StringComparison.Ordinal)).Sum(p => p.Value),
         Website.Counters.Writes);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await GitHub.DisposeAsync();
        await Notion.DisposeAsync();
        await Website.DisposeAsync();
    }
}
