using System.Text.Json.Nodes;
using Md = EventSync.Connectors.Notion.Markdown.NotionMarkdown;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.DocsSync;

/// <summary>The five flows of the docs-sync design end to end, against the emulators, through the real server.</summary>
public sealed class DocsSyncFlowTests
{
    private const string Agent = "name: Scout\ntype: research\nstatus: active\ndescription: Finds sources\ncapabilities:\n  - search\n  - summarise\n";
    private const string Architecture = "---\ntitle: Event Bus\nstatus: draft\ntags:\n  - messaging\n  - core\n---\n\n# Event Bus\n\nEvents flow through **one** bus.\n\n- producers\n- consumers\n";

    [Fact]
    public async Task A_push_reaches_Notion_and_the_website_and_later_pushes_update_rename_and_delete()
    {
        await using var w = await DocsSyncWorld.StartAsync(["github-to-notion", "github-to-website"]);
        await w.PushAsync(new() { ["agents/scout.yaml"] = Agent, ["architectures/event-bus.md"] = Architecture, ["docs/guides/setup.md"] = "# Setup\n\nRun it.\n", ["public/logo.svg"] = "<svg/>" });
        await w.SettleAsync();

        var agent = w.NotionPageByPath(w.AgentsDataSource, "agents/scout.yaml");
        Assert.NotNull(agent);
        Assert.Equal("Scout", DocsSyncWorld.Property(agent!, "Name"));
        Assert.Equal("active", DocsSyncWorld.Property(agent!, "Status"));
        var architecture = w.NotionPageByPath(w.ArchitecturesDataSource, "architectures/event-bus.md")!;
        Assert.Equal("messaging,core", DocsSyncWorld.Property(architecture, "Tags"));
        var blocks = w.Notion.GetBlocksTree(architecture["id"]!.GetValue<string>());
        Assert.Equal("# Event Bus\n\nEvents flow through **one** bus.\n\n- producers\n- consumers\n", Md.ToMarkdown(blocks.Select(b => b!.AsObject()).ToList()));
        Assert.Equal("Scout", w.Website.Get("agents", "scout")!["fields"]!["name"]!.GetValue<string>());
        Assert.Equal(["search", "summarise"], w.Website.Get("agents", "scout")!["fields"]!["capabilities"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal("docs/guides/setup.md", w.Website.Get("docs", "guides--setup")!["path"]!.GetValue<string>());
        Assert.Empty(await w.FailedRunsAsync());

        // Modify, rename and delete in one push.
        await w.PushAsync(new()
        {
            ["agents/scout.yaml"] = Agent.Replace("status: active", "status: retired", StringComparison.Ordinal),
            ["architectures/event-bus.md"] = null, ["architectures/messaging/event-bus.md"] = Architecture,
            ["docs/guides/setup.md"] = null,
        });
        await w.SettleAsync();
        Assert.Equal("retired", DocsSyncWorld.Property(w.NotionPageByPath(w.AgentsDataSource, "agents/scout.yaml")!, "Status"));
        Assert.Null(w.Website.Get("docs", "guides--setup"));
        Assert.Equal("retired", w.Website.Get("agents", "scout")!["fields"]!["status"]!.GetValue<string>());
        // The renamed file is the same document: its page is kept (same id) and now points at the new path.
        var renamed = w.Notion.Pages(w.ArchitecturesDataSource).Where(p => p["in_trash"]?.GetValue<bool>() != true).ToList();
        Assert.Single(renamed);
        Assert.Equal(architecture["id"]!.GetValue<string>(), renamed[0]["id"]!.GetValue<string>());
        Assert.Empty(await w.FailedRunsAsync());
    }

    [Fact]
    public async Task A_Notion_edit_is_committed_to_GitHub_and_sent_to_the_website_keeping_fields_Notion_does_not_hold()
    {
        await using var w = await DocsSyncWorld.StartAsync();
        await w.PushAsync(new() { ["agents/scout.yaml"] = Agent, ["architectures/event-bus.md"] = Architecture });
        await w.SettleAsync();
        var commitsBefore = w.GitHub.Commits(DocsSyncWorld.Repo, "main").Count;

        var agent = w.NotionPageByPath(w.AgentsDataSource, "agents/scout.yaml")!;
        w.Notion.EditPropertiesAsUser(agent["id"]!.GetValue<string>(), new JsonObject { ["Status"] = new JsonObject { ["select"] = new JsonObject { ["name"] = "paused" } } });
        var architecture = w.NotionPageByPath(w.ArchitecturesDataSource, "architectures/event-bus.md")!;
        w.Notion.ReplaceContentAsUser(architecture["id"]!.GetValue<string>(), Md.ToBlocks("# Event Bus\n\nEvents flow through **two** buses.\n"));
        await w.SettleAsync();

        var yaml = w.GitHub.ReadFile(DocsSyncWorld.Repo, "main", "agents/scout.yaml")!;
        Assert.Contains("status: paused", yaml, StringComparison.Ordinal);
        Assert.Contains("- summarise", yaml, StringComparison.Ordinal); // a field Notion does not hold survives
        var md = w.GitHub.ReadFile(DocsSyncWorld.Repo, "main", "architectures/event-bus.md")!;
        Assert.Contains("**two** buses", md, StringComparison.Ordinal);
        Assert.Contains("title: Event Bus", md, StringComparison.Ordinal);
        Assert.Equal("paused", w.Website.Get("agents", "scout")!["fields"]!["status"]!.GetValue<string>());
        Assert.Contains("**two** buses", w.Website.Get("architectures", "event-bus")!["body"]!.GetValue<string>(), StringComparison.Ordinal);
        var commits = w.GitHub.Commits(DocsSyncWorld.Repo, "main");
        Assert.True(commits.Count > commitsBefore);
        Assert.All(commits.Take(commits.Count - commitsBefore), c =>
        {
            Assert.Equal("EventSync", c.AuthorName);
            Assert.Contains("EventSync-Flow: notion-to-github", c.Message, StringComparison.Ordinal);
        });
        Assert.Empty(await w.FailedRunsAsync());
    }

    [Fact]
    public async Task A_website_update_is_fetched_and_committed()
    {
        await using var w = await DocsSyncWorld.StartAsync(["website-to-github"]);
        w.Website.UpsertAsUser("agents", "agent-123", new JsonObject
        {
            ["id"] = "agent-123", ["fields"] = new JsonObject { ["name"] = "Helper", ["status"] = "active" }, ["body"] = "Helps.\n",
        });
        await w.SettleAsync();
        var yaml = w.GitHub.ReadFile(DocsSyncWorld.Repo, "main", "agents/agent-123.yaml");
        Assert.NotNull(yaml);
        Assert.Contains("name: Helper", yaml, StringComparison.Ordinal);
        Assert.Contains("Helps.", yaml, StringComparison.Ordinal);

        w.Website.DeleteAsUser("agents", "agent-123");
        await w.SettleAsync();
        Assert.Null(w.GitHub.ReadFile(DocsSyncWorld.Repo, "main", "agents/agent-123.yaml"));
        Assert.Empty(await w.FailedRunsAsync());
    }

    [Fact]
    public async Task Our_own_writes_echo_back_as_webhooks_and_reconciliation_but_cause_no_further_write()
    {
        await using var w = await DocsSyncWorld.StartAsync(["github-to-notion", "notion-to-github"], reconcile: "1h");
        // Spelled unlike Notion's markdown (* bullets, __bold__, setext heading): still no rewrite of the file.
        const string unusual = "---\ntitle: Style\n---\n\nStyle Guide\n===========\n\n* one\n* __two__\n";
        await w.PushAsync(new() { ["agents/scout.yaml"] = Agent, ["architectures/event-bus.md"] = Architecture, ["architectures/style.md"] = unusual });
        await w.SettleAsync();
        var after = w.Writes();
        Assert.True(w.Notion.DeliveredEvents.Count > 0, "the Notion writes produced webhooks (the echo under test)");

        // The reconciliation poller sees our own page edits too.
        var reconciler = EventSync.Server.Hosting.ReconcileService.Reconcilers(w.Server.Config, w.Store, new EventSync.Core.Work.FlowRouter(w.Server.Config),
            new EventSync.Core.Work.WorkSignal(), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).Single();
        Assert.True(await reconciler.ReconcileOnceAsync(w.Server.Config.Collections, default) > 0);
        await w.SettleAsync();
        Assert.Equal(after, w.Writes());
        Assert.Equal(unusual, w.GitHub.ReadFile(DocsSyncWorld.Repo, "main", "architectures/style.md"));
        Assert.Equal(0, await reconciler.ReconcileOnceAsync(w.Server.Config.Collections, default)); // nothing recorded twice
        Assert.Empty(await w.FailedRunsAsync());
    }

    [Fact]
    public async Task A_lost_Notion_webhook_is_caught_by_the_reconciliation_poller()
    {
        await using var w = await DocsSyncWorld.StartAsync(["github-to-notion", "notion-to-github"], reconcile: "1s");
        await w.PushAsync(new() { ["agents/scout.yaml"] = Agent });
        await w.SettleAsync();
        w.Notion.DropAllDeliveries = true;
        var page = w.NotionPageByPath(w.AgentsDataSource, "agents/scout.yaml")!;
        w.Notion.EditPropertiesAsUser(page["id"]!.GetValue<string>(), new JsonObject { ["Description"] = new JsonObject { ["rich_text"] = new JsonArray(new JsonObject { ["text"] = new JsonObject { ["content"] = "Finds and ranks sources" } }) } });
        await Wait.UntilAsync(() => w.GitHub.ReadFile(DocsSyncWorld.Repo, "main", "agents/scout.yaml")!.Contains("Finds and ranks sources", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the reconciliation poller to bring the edit to GitHub");
        Assert.Empty(await w.FailedRunsAsync());
    }

    [Fact]
    public async Task A_push_of_more_than_300_files_syncs_every_file()
    {
        await using var w = await DocsSyncWorld.StartAsync(["github-to-website"]);
        var files = Enumerable.Range(0, 350).ToDictionary(i => $"docs/bulk/page-{i:000}.md", i => (string?)$"# Page {i}\n\nText {i}.\n");
        await w.PushAsync(files);
        await w.SettleAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(350, w.Website.All("docs").Count);
        Assert.Empty(await w.FailedRunsAsync());
    }

    [Fact]
    public async Task A_force_push_syncs_the_new_head_including_files_it_dropped()
    {
        await using var w = await DocsSyncWorld.StartAsync(["github-to-website"]);
        var base1 = await w.PushAsync(new() { ["docs/a.md"] = "# A\n" });
        await w.SettleAsync();
        await w.PushAsync(new() { ["docs/b.md"] = "# B\n", ["docs/a.md"] = "# A2\n" });
        await w.SettleAsync();
        Assert.NotNull(w.Website.Get("docs", "b"));
        await w.GitHub.ForcePushAsync(DocsSyncWorld.Repo, "main", base1, new Dictionary<string, string?> { ["docs/c.md"] = "# C\n" }, "rewrite");
        await w.SettleAsync();
        Assert.Null(w.Website.Get("docs", "b"));
        Assert.Equal("# A\n", w.Website.Get("docs", "a")!["body"]!.GetValue<string>());
        Assert.NotNull(w.Website.Get("docs", "c"));
        Assert.Empty(await w.FailedRunsAsync());
    }

    [Fact]
    public async Task A_published_release_reaches_the_website()
    {
        await using var w = await DocsSyncWorld.StartAsync(["github-to-website"]);
        await w.GitHub.PublishReleaseAsync(DocsSyncWorld.Repo, "v1.2.0", "Version 1.2", "Notes for 1.2");
        await w.SettleAsync();
        var release = w.Website.Get("releases", "v1-2-0");
        Assert.NotNull(release);
        Assert.Equal("v1.2.0", release!["fields"]!["tag"]!.GetValue<string>());
        Assert.Contains("Notes for 1.2", release["body"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_page_created_in_Notion_becomes_a_file_and_a_website_resource_and_its_echo_writes_nothing()
    {
        await using var w = await DocsSyncWorld.StartAsync(["notion-to-github", "notion-to-website", "github-to-notion"]);
        w.Notion.CreatePageAsUser(w.AgentsDataSource, new JsonObject
        {
            ["Name"] = new JsonObject { ["title"] = new JsonArray(new JsonObject { ["text"] = new JsonObject { ["content"] = "Data Cleaner" } }) },
            ["Status"] = new JsonObject { ["select"] = new JsonObject { ["name"] = "active" } },
        }, Md.ToBlocks("Cleans data.\n"));
        await w.SettleAsync();
        var yaml = w.GitHub.ReadFile(DocsSyncWorld.Repo, "main", "agents/data-cleaner.yaml");
        Assert.NotNull(yaml);
        Assert.Contains("name: Data Cleaner", yaml, StringComparison.Ordinal);
        Assert.Contains("Cleans data.", yaml, StringComparison.Ordinal);
        Assert.Equal("agents/data-cleaner.yaml", w.Website.Get("agents", "data-cleaner")!["path"]!.GetValue<string>());
        // Our commit's push came back through github-to-notion: the page is the same document, untouched, and no second page exists.
        Assert.Single(w.Notion.Pages(w.AgentsDataSource));
        Assert.Single(w.GitHub.Commits(DocsSyncWorld.Repo, "main"), c => c.Message.Contains("EventSync-Flow", StringComparison.Ordinal));
        Assert.Empty(await w.FailedRunsAsync());
    }

    [Fact]
    public async Task A_Notion_change_is_forwarded_to_GitHub_Actions_as_a_repository_dispatch()
    {
        await using var w = await DocsSyncWorld.StartAsync(["notion-to-actions"]);
        var page = w.Notion.CreatePageAsUser(w.AgentsDataSource, new JsonObject { ["Name"] = new JsonObject { ["title"] = new JsonArray(new JsonObject { ["text"] = new JsonObject { ["content"] = "X" } }) } });
        await w.SettleAsync();
        var dispatch = Assert.Single(w.GitHub.Dispatches);
        Assert.Equal("notion-webhook", dispatch.EventType);
        Assert.Equal(page, dispatch.ClientPayload!["entity"]!.GetValue<string>());
    }
}
