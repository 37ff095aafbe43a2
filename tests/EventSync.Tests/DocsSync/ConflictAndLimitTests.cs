using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using EventSync.Core.Storage;
using EventSync.Tests.Infrastructure;
using Md = EventSync.Connectors.Notion.Markdown.NotionMarkdown;

namespace EventSync.Tests.DocsSync;

/// <summary>Two-way edits that collide, Notion's rate limit, and inbound website events that must be refused.</summary>
public sealed class ConflictAndLimitTests
{
    private const string Agent = "name: Scout\ntype: research\nstatus: active\ndescription: Finds sources\n";
    private const string Architecture = "---\ntitle: Event Bus\nstatus: draft\ntags:\n  - messaging\n---\n\n# Event Bus\n\nOne bus.\n";

    [Fact]
    public async Task A_property_changed_on_both_sides_goes_to_the_preferred_side_and_the_loser_is_kept_until_resolved()
    {
        await using var w = await DocsSyncWorld.StartAsync(["github-to-notion"], prefer: "github");
        await w.PushAsync(new() { ["agents/scout.yaml"] = Agent });
        await w.SettleAsync();
        var pageId = w.NotionPageByPath(w.AgentsDataSource, "agents/scout.yaml")!["id"]!.GetValue<string>();

        w.Notion.EditPropertiesAsUser(pageId, new JsonObject { ["Status"] = new JsonObject { ["select"] = new JsonObject { ["name"] = "paused" } } });
        await w.PushAsync(new() { ["agents/scout.yaml"] = Agent.Replace("status: active", "status: retired", StringComparison.Ordinal).Replace("Finds sources", "Finds and ranks sources", StringComparison.Ordinal) });
        await w.SettleAsync();

        var page = w.Notion.GetPage(pageId)!;
        Assert.Equal("retired", DocsSyncWorld.Property(page, "Status"));            // github preferred
        Assert.Equal("Finds and ranks sources", DocsSyncWorld.Property(page, "Description")); // changed on one side only: merged
        var conflict = Assert.Single(await w.Store.ListConflictsAsync(ConflictStatuses.Open, 10, default));
        Assert.Equal(("agents/scout", "status", "github", "retired", "paused", "active"),
            (conflict.DocumentId, conflict.Field, conflict.Winner, conflict.SourceValue, conflict.TargetValue, conflict.BaseValue));

        // Restore the losing edit through the admin API.
        var answer = await w.Server.Http.PostAsync($"/api/conflicts/{conflict.Id}/resolve?keep=loser", null);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("paused", DocsSyncWorld.Property(w.Notion.GetPage(pageId)!, "Status"));
        Assert.Empty(await w.Store.ListConflictsAsync(ConflictStatuses.Open, 10, default));
        var again = await w.Server.Http.PostAsync($"/api/conflicts/{conflict.Id}/resolve?keep=loser", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task A_body_changed_on_both_sides_keeps_the_preferred_body_while_other_fields_still_merge()
    {
        await using var w = await DocsSyncWorld.StartAsync(["github-to-notion"], prefer: "notion");
        await w.PushAsync(new() { ["architectures/event-bus.md"] = Architecture });
        await w.SettleAsync();
        var pageId = w.NotionPageByPath(w.ArchitecturesDataSource, "architectures/event-bus.md")!["id"]!.GetValue<string>();

        w.Notion.ReplaceContentAsUser(pageId, Md.ToBlocks("# Event Bus\n\nTwo buses, per Notion.\n"));
        await w.PushAsync(new() { ["architectures/event-bus.md"] = Architecture.Replace("One bus.", "Three buses, per GitHub.", StringComparison.Ordinal).Replace("  - messaging", "  - messaging\n  - core", StringComparison.Ordinal) });
        await w.SettleAsync();

        var body = Md.ToMarkdown(w.Notion.GetBlocksTree(pageId).Select(b => b!.AsObject()).ToList());
        Assert.Contains("Two buses, per Notion.", body, StringComparison.Ordinal);
        Assert.Equal("messaging,core", DocsSyncWorld.Property(w.Notion.GetPage(pageId)!, "Tags"));
        var conflict = Assert.Single(await w.Store.ListConflictsAsync(ConflictStatuses.Open, 10, default));
        Assert.Equal("$body", conflict.Field);
        Assert.Equal("notion", conflict.Winner);
        Assert.Contains("Three buses, per GitHub.", conflict.SourceValue, StringComparison.Ordinal); // the losing edit, kept
    }

    [Fact]
    public async Task A_429_storm_from_Notion_only_delays_the_sync()
    {
        // The emulator allows 4 requests/s with a burst of 2; the client is set to send 20/s, so it is refused often.
        await using var w = await DocsSyncWorld.StartAsync(["github-to-notion"], notionRate: 4, notionBurst: 2, clientRate: 20);
        var files = Enumerable.Range(1, 6).ToDictionary(i => $"agents/agent-{i}.yaml", i => (string?)$"name: Agent {i}\nstatus: active\n");
        await w.PushAsync(files);
        await w.SettleAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(6, w.Notion.Pages(w.AgentsDataSource).Count);
        Assert.True(w.Notion.ThrottledResponses > 0, "the emulator answered 429");
        Assert.Empty(await w.FailedRunsAsync());
    }

    [Fact]
    public async Task An_unknown_select_option_parks_the_job_with_the_fix_when_new_options_are_rejected()
    {
        await using var w = await DocsSyncWorld.StartAsync(["github-to-notion"], rejectNewOptions: true);
        await w.PushAsync(new() { ["agents/scout.yaml"] = Agent });
        await w.SettleAsync();
        var parked = Assert.Single(await w.FailedRunsAsync());
        Assert.Equal(RunOutcomes.Parked, parked.Outcome);
        Assert.Contains("is not an option of Notion property", parked.Error, StringComparison.Ordinal);
        Assert.Contains("newOptions: create", parked.Error, StringComparison.Ordinal);
        Assert.Empty(w.Notion.Pages(w.AgentsDataSource));
    }

    [Theory]
    [InlineData("unsigned", 400, "missing_header")] // no webhook-id: a missing required header
    [InlineData("bad-signature", 401, "invalid_signature")]
    [InlineData("malformed", 400, "malformed_json")]
    [InlineData("wrong-shape", 400, "invalid_event")]
    public async Task A_bad_website_event_is_refused_audited_and_creates_nothing(string kind, int status, string reason)
    {
        await using var w = await DocsSyncWorld.StartAsync(["website-to-github"]);
        var body = kind switch
        {
            "malformed" => "{\"event_type\": \"website-update\", ",
            "wrong-shape" => "{\"event_type\": \"website-update\", \"client_payload\": {\"resource\": \"agent\"}}",
            _ => "{\"event_type\":\"website-update\",\"client_payload\":{\"resource\":\"agent\",\"id\":\"agent-1\",\"action\":\"updated\"}}",
        };
        var request = kind switch
        {
            "unsigned" => SignedRequests.Raw("website", Encoding.UTF8.GetBytes(body)),
            "bad-signature" => SignedRequests.Standard("website", "msg_1", body, null, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            _ => SignedRequests.Standard("website", "msg_" + kind, body, null, DocsSyncWorld.WebsiteSecret),
        };
        var answer = await w.Server.Http.SendAsync(request);
        Assert.Equal(status, (int)answer.StatusCode);
        Assert.Contains(reason, await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await w.Store.ListEventsAsync(new EventQuery("website"), default));
        var logged = Assert.Single(await w.Store.ListDeliveriesAsync(new DeliveryQuery("website"), default));
        Assert.Equal(status, logged.Status);
        Assert.DoesNotContain(DocsSyncWorld.WebsiteSecret, logged.Reason ?? "", StringComparison.Ordinal);
    }
}
