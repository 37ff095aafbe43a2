using System.CommandLine;
using EventSync.Emulators.GitHub;
using EventSync.Emulators.Notion;
using EventSync.Emulators.Website;

namespace EventSync.Cli;

/// <summary>
/// `eventsync emulate github|notion|website`: the local stand-ins for the SaaS APIs that tests and the demo use, on a
/// loopback port, printing the settings a configuration needs to point at them. Runs until Ctrl+C.
/// </summary>
public static class EmulateCommand
{
    /// <summary>The two databases of the docs-sync design, with the properties samples/docs-sync maps.</summary>
    public static readonly IReadOnlyDictionary<string, string> AgentRegistrySchema = new Dictionary<string, string>
    {
        ["Name"] = "title", ["Type"] = "select", ["Status"] = "select", ["Description"] = "rich_text", ["GitHub Path"] = "rich_text",
    };

    public static readonly IReadOnlyDictionary<string, string> ArchitectureCatalogSchema = new Dictionary<string, string>
    {
        ["Name"] = "title", ["Status"] = "select", ["Tags"] = "multi_select", ["GitHub Path"] = "rich_text",
    };

    internal static void Add(RootCommand root, TextWriter stdout, TextWriter stderr)
    {
        var emulate = new Command("emulate", "Run a local emulator of a third-party API (GitHub, Notion, a website) on loopback");
        var port = new Option<int>("--port") { Description = "Port on 127.0.0.1 (0 picks a free one)", DefaultValueFactory = _ => 0 };
        var token = new Option<string?>("--token") { Description = "The token or API key clients must send (a fixed test value by default)" };
        var hook = new Option<Uri?>("--webhook") { Description = "Deliver the emulator's webhooks to this URL (e.g. http://127.0.0.1:5080/hooks/github)" };
        var hookSecret = new Option<string?>("--webhook-secret") { Description = "Secret the webhooks are signed with (github: any string; website: whsec_...)" };
        var repo = new Option<string>("--repo") { Description = "github: the repository to create", DefaultValueFactory = _ => "acme/docs" };

        var github = new Command("github", "GitHub REST (git data, compare, contents, dispatches) with rate limits and signed push webhooks");
        foreach (var o in new Option[] { port, token, hook, hookSecret, repo }) github.Options.Add(o);
        github.SetAction((pr, ct) => CliApp.Guard(stderr, async () =>
        {
            var secret = pr.GetValue(token) ?? "ghp_emulator_token";
            await using var emulator = await GitHubEmulator.StartAsync(new GitHubEmulatorOptions { Token = secret, Port = pr.GetValue(port) }, ct);
            emulator.CreateRepository(pr.GetValue(repo)!);
            if (pr.GetValue(hook) is { } url) emulator.AddWebhook(pr.GetValue(repo)!, url, pr.GetValue(hookSecret) ?? throw new ArgumentException("--webhook needs --webhook-secret"), "*");
            await stdout.WriteLineAsync($"GitHub emulator at {emulator.BaseUrl} (repository {pr.GetValue(repo)})\n  GITHUB_API_URL={emulator.BaseUrl} GITHUB_REPOSITORY={pr.GetValue(repo)} GH_PAT={secret}\nCtrl+C stops it.");
            return await UntilCancelledAsync(ct);
        }));

        var notion = new Command("notion", "Notion API (data sources, pages, blocks) with its limits, 429s and signed webhooks");
        foreach (var o in new Option[] { port, token, hook }) notion.Options.Add(o);
        notion.SetAction((pr, ct) => CliApp.Guard(stderr, async () =>
        {
            var options = new NotionEmulatorOptions { Port = pr.GetValue(port) };
            if (pr.GetValue(token) is { } t) options = options with { Token = t };
            await using var emulator = await NotionEmulator.StartAsync(options, ct);
            var (_, agents) = emulator.CreateDatabase("Agent Registry", AgentRegistrySchema);
            var (_, architectures) = emulator.CreateDatabase("Architecture Catalog", ArchitectureCatalogSchema);
            if (pr.GetValue(hook) is { } url) emulator.Subscribe(url);
            await stdout.WriteLineAsync($"Notion emulator at {emulator.BaseUrl}\n  NOTION_API_URL={emulator.BaseUrl} NOTION_API_KEY={options.Token} AGENT_REGISTRY_DB_ID={agents} ARCHITECTURE_CATALOG_DB_ID={architectures}");
            if (pr.GetValue(hook) is not null) await stdout.WriteLineAsync($"  verification token sent to the webhook: {emulator.VerificationToken}");
            await stdout.WriteLineAsync("Ctrl+C stops it.");
            return await UntilCancelledAsync(ct);
        }));

        var website = new Command("website", "A website's resource API (bearer auth, idempotency keys) that posts website-update events");
        foreach (var o in new Option[] { port, token, hook, hookSecret }) website.Options.Add(o);
        website.SetAction((pr, ct) => CliApp.Guard(stderr, async () =>
        {
            var options = new WebsiteEmulatorOptions { Port = pr.GetValue(port) };
            if (pr.GetValue(token) is { } t) options = options with { ApiKey = t };
            await using var emulator = await WebsiteApiEmulator.StartAsync(options, ct);
            if (pr.GetValue(hook) is { } url) emulator.AddWebhook(url, pr.GetValue(hookSecret) ?? throw new ArgumentException("--webhook needs --webhook-secret (whsec_...)"));
            await stdout.WriteLineAsync($"Website emulator at {emulator.BaseUrl}\n  WEBSITE_API_URL={emulator.BaseUrl} WEBSITE_API_KEY={options.ApiKey}\nCtrl+C stops it.");
            return await UntilCancelledAsync(ct);
        }));

        emulate.Subcommands.Add(github);
        emulate.Subcommands.Add(notion);
        emulate.Subcommands.Add(website);
        root.Subcommands.Add(emulate);
    }

    private static async Task<int> UntilCancelledAsync(CancellationToken ct)
    {
        try { await Task.Delay(Timeout.Infinite, ct); }
        catch (OperationCanceledException) { }
        return CliApp.Ok;
    }
}
