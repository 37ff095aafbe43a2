using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;
using EventSync.Core.Storage;

namespace EventSync.Cli.Demo;

/// <summary>One scripted step: what it shows, and why it cannot run (null when it can).</summary>
internal sealed record DemoStep(string Title, Func<Action<string>, CancellationToken, Task<string?>> Run, Func<string?> SkipReason);

public enum StepOutcome { Ok, Failed, Skipped }

/// <summary>
/// The story the demo plays against a <see cref="DemoWorld"/>: each step acts like a person (a push, a Notion edit, a
/// website edit, a row insert, an order webhook) and waits, with a deadline, for what EventSync should make of it.
/// </summary>
internal sealed class DemoStory(DemoWorld world, DemoOutput output, TimeProvider time)
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(90);

    private const string ScoutYaml = "name: Scout\ntype: research\nstatus: active\ndescription: Finds and ranks sources\ncapabilities:\n  - search\n  - summarise\n";
    private const string EventBusMd = "---\ntitle: Event Bus\nstatus: draft\ntags:\n  - messaging\n  - core\n---\n\n# Event Bus\n\nEvents flow through **one** bus.\n\n- producers\n- consumers\n";

    private string? _scoutPageId;
    private long? _parkedJob;

    public IReadOnlyList<DemoStep> Steps =>
    [
        new("A push to GitHub updates Notion and the website", PushAsync, () => null),
        new("A Notion edit comes back to GitHub as a commit", NotionEditAsync, () => _scoutPageId is null ? "needs the Notion page of step 1" : null),
        new("A website update becomes a commit (and a Notion page)", WebsiteUpdateAsync, () => null),
        new("A row inserted in PostgreSQL becomes searchable", RowInsertAsync, () => world.PostgresUnavailable is { } why && !world.PostgresFailed ? "the vector flow needs PostgreSQL: " + why : null),
        new("A partner's failing endpoint parks the job in dead letters", FailureAsync, () => null),
        new("The partner is fixed and the dead letter is replayed", ReplayAsync, () => _parkedJob is null ? "needs the dead letter of step 5" : null),
    ];

    /// <summary>Plays every step in order; a failed step does not stop the story (later steps may not need it).</summary>
    public async Task<IReadOnlyList<StepOutcome>> PlayAsync(CancellationToken ct)
    {
        var steps = Steps;
        var outcomes = new List<StepOutcome>();
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            output.StepStart(i + 1, steps.Count, step.Title);
            if (step.SkipReason() is { } reason)
            {
                output.StepSkipped(reason);
                outcomes.Add(StepOutcome.Skipped);
                continue;
            }
            var started = time.GetTimestamp();
            try
            {
                var lookAt = await step.Run(output.Progress, ct);
                output.StepOk(time.GetElapsedTime(started), lookAt);
                outcomes.Add(StepOutcome.Ok);
            }
            catch (Exception ex) when (ex is DemoStepException or TimeoutException or HttpRequestException or InvalidOperationException or ArgumentException or IOException or JsonException or System.Data.Common.DbException
                || (ex is OperationCanceledException && !ct.IsCancellationRequested))
            {
                output.StepFailed(time.GetElapsedTime(started), $"step {i + 1} ({step.Title}): {ex.Message}");
                outcomes.Add(StepOutcome.Failed);
            }
        }
        return outcomes;
    }

    private string Api(string pathAndQuery) => new Uri(world.ServerUrl, pathAndQuery).AbsoluteUri;

    private async Task<string?> PushAsync(Action<string> progress, CancellationToken ct)
    {
        var sha = await world.GitHub.PushAsync(DemoWorld.Repo, "main", new Dictionary<string, string?>
        {
            ["agents/scout.yaml"] = ScoutYaml,
            ["architectures/event-bus.md"] = EventBusMd,
        }, "Add the Scout agent and the Event Bus design", "ada", ct);
        progress($"ada pushed commit {Short(sha)} to {DemoWorld.Repo} main: agents/scout.yaml, architectures/event-bus.md");

        var scout = await DemoWait.ForAsync(() => PageByPath(world.AgentsDataSource, "agents/scout.yaml"), StepTimeout, "the Notion page of agents/scout.yaml", time, ct);
        _scoutPageId = scout["id"]!.GetValue<string>();
        progress($"Notion: page \"{Property(scout, "Name")}\" in Agent Registry (Status {Property(scout, "Status")}), id {_scoutPageId}");
        var bus = await DemoWait.ForAsync(() => PageByPath(world.ArchitecturesDataSource, "architectures/event-bus.md"), StepTimeout, "the Notion page of architectures/event-bus.md", time, ct);
        progress($"Notion: page \"{Property(bus, "Name")}\" in Architecture Catalog (Tags {Property(bus, "Tags")}) with the markdown body as blocks");
        var site = await DemoWait.ForAsync(() => world.Website.Get("agents", "scout"), StepTimeout, "the website's agents/scout", time, ct);
        progress($"website: {world.Website.BaseUrl}api/agents/scout \"{site["fields"]?["name"]}\"; also api/architectures/event-bus");
        await world.SettleAsync(StepTimeout, ct);
        return Api("api/runs?flow=github-to-notion");
    }

    private async Task<string?> NotionEditAsync(Action<string> progress, CancellationToken ct)
    {
        world.Notion.EditPropertiesAsUser(_scoutPageId!, new JsonObject { ["Status"] = new JsonObject { ["select"] = new JsonObject { ["name"] = "paused" } } });
        progress("someone sets Status = paused on the Notion page \"Scout\"");
        var commit = await DemoWait.ForAsync(() => world.GitHub.Commits(DemoWorld.Repo, "main").FirstOrDefault(c => c.Message.Contains("EventSync-Flow: notion-to-github", StringComparison.Ordinal)
            && world.GitHub.ReadFile(DemoWorld.Repo, "main", "agents/scout.yaml")?.Contains("status: paused", StringComparison.Ordinal) == true), StepTimeout, "a commit of agents/scout.yaml with status: paused", time, ct);
        var file = world.GitHub.ReadFile(DemoWorld.Repo, "main", "agents/scout.yaml") ?? "";
        progress($"GitHub: commit {Short(commit.Sha)} by {commit.AuthorName}: \"{commit.Message.Split('\n')[0]}\" sets status: paused in agents/scout.yaml"
            + (file.Contains("- summarise", StringComparison.Ordinal) ? " (capabilities, which Notion does not hold, kept)" : ""));
        await DemoWait.ForAsync(() => world.Website.Get("agents", "scout")?["fields"]?["status"]?.GetValue<string>() == "paused" ? "" : null, StepTimeout, "the website's agents/scout to show status paused", time, ct);
        progress("website: agents/scout now has status paused too (flow notion-to-website)");
        await world.SettleAsync(StepTimeout, ct);
        return Api("api/runs?flow=notion-to-github");
    }

    private async Task<string?> WebsiteUpdateAsync(Action<string> progress, CancellationToken ct)
    {
        world.Website.UpsertAsUser("agents", "helper", new JsonObject
        {
            ["fields"] = new JsonObject { ["name"] = "Helper", ["type"] = "assistant", ["status"] = "active", ["description"] = "Answers questions about the docs" },
            ["body"] = "Helps people find the right document.\n",
        });
        progress("an editor creates agents/helper on the website; it posts a signed website-update event");
        var file = await DemoWait.ForAsync(() => world.GitHub.ReadFile(DemoWorld.Repo, "main", "agents/helper.yaml"), StepTimeout, "agents/helper.yaml in GitHub", time, ct);
        var commit = world.GitHub.Commits(DemoWorld.Repo, "main").First(c => c.Message.Contains("EventSync-Flow: website-to-github", StringComparison.Ordinal));
        progress($"GitHub: commit {Short(commit.Sha)} adds agents/helper.yaml ({file.Split('\n').Length - 1} lines, name: Helper)");
        var page = await DemoWait.ForAsync(() => PageByPath(world.AgentsDataSource, "agents/helper.yaml"), StepTimeout, "the Notion page of agents/helper.yaml", time, ct);
        progress($"Notion: that commit's push created page \"{Property(page, "Name")}\" in Agent Registry (flow github-to-notion)");
        await world.SettleAsync(StepTimeout, ct);
        var commits = world.GitHub.Commits(DemoWorld.Repo, "main").Count;
        progress($"settled with no echo loop: {commits.ToString(CultureInfo.InvariantCulture)} commits in {DemoWorld.Repo} in all");
        return Api("api/runs?flow=website-to-github");
    }

    private async Task<string?> RowInsertAsync(Action<string> progress, CancellationToken ct)
    {
        if (world.AppDatabase is null) throw new DemoStepException(world.PostgresUnavailable ?? "PostgreSQL is not running");
        var id = await world.ScalarAsync<int>("""
            INSERT INTO projects (tenant_id, name, description, caracteristicas)
            VALUES ('acme', 'Geothermal heat network', 'District heating from deep geothermal wells', '{"location": "Reykjavik, Iceland", "value": "USD 80M"}')
            RETURNING id
            """, ct);
        var key = id.ToString(CultureInfo.InvariantCulture);
        progress($"INSERT INTO projects: row {key} \"Geothermal heat network\" for tenant acme; the trigger writes the outbox and NOTIFYs");
        const string query = "geothermal district heating";
        var search = $"api/search?tenant=acme&q={Uri.EscapeDataString(query)}&top=3";
        var hit = await DemoWait.ForAsync(async c =>
        {
            var hits = await HitsAsync(search, c);
            return hits.Count > 0 && hits[0].GetProperty("entityKey").GetString() == key ? new StrongBox<JsonElement>(hits[0]) : null;
        }, StepTimeout, $"row {key} to be the top hit for \"{query}\" in tenant acme", time, ct);
        progress($"search \"{query}\" in tenant acme: top hit row {key}, score {hit.Value.GetProperty("score").GetSingle().ToString("0.000", CultureInfo.InvariantCulture)} (local embedder)");
        var other = await HitsAsync($"api/search?tenant=globex&q={Uri.EscapeDataString(query)}&top=10", ct);
        if (other.Any(h => h.GetProperty("entityKey").GetString() == key)) throw new DemoStepException($"tenant globex sees acme's row {key}");
        progress($"tenant globex searching the same words gets {other.Count.ToString(CultureInfo.InvariantCulture)} hit(s), none of them acme's row");
        return Api(search);
    }

    private async Task<List<JsonElement>> HitsAsync(string pathAndQuery, CancellationToken ct)
    {
        var result = await world.Http.GetFromJsonAsync<JsonElement>(pathAndQuery, ct);
        return [.. result.GetProperty("hits").EnumerateArray()];
    }

    private async Task<string?> FailureAsync(Action<string> progress, CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes("""{"type":"order.paid","timestamp":"2025-01-01T00:00:00Z","data":{"id":"ord_1001","status":"paid","total":"42.00"}}""");
        var id = "msg_demo_" + time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, "hooks/orders") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", StandardWebhookSignature.Sign(ConfigLoader.StandardWebhookSecret(world.OrdersSecret)!, id, timestamp, body));
        using var response = await world.Http.SendAsync(request, ct);
        if (response.StatusCode != HttpStatusCode.Accepted)
            throw new DemoStepException($"POST /hooks/orders answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        progress($"the shop posts a signed order.paid webhook for ord_1001 to /hooks/orders: 202, stored before the answer");
        var parked = await DemoWait.ForAsync(async c => (await world.Admin.DeadLettersAsync(DemoWorld.PartnerFlow, 10, c)).FirstOrDefault(), StepTimeout, "the order's job to be parked in dead letters", time, ct);
        _parkedJob = parked.Id;
        progress($"the partner answered 500 ({world.Partner.Failed.ToString(CultureInfo.InvariantCulture)} time(s)); with retry schedule [] the job {parked.Id.ToString(CultureInfo.InvariantCulture)} was parked: {parked.LastError}");
        return Api("api/dead");
    }

    private async Task<string?> ReplayAsync(Action<string> progress, CancellationToken ct)
    {
        world.Partner.Fix();
        progress("the partner deploys a fix");
        var pending = await world.Admin.ReplayAsync(_parkedJob!.Value, ct) ?? throw new DemoStepException($"job {_parkedJob} is no longer a dead letter");
        progress($"dead letter {_parkedJob.Value.ToString(CultureInfo.InvariantCulture)} replayed (as `eventsync dead replay {_parkedJob.Value.ToString(CultureInfo.InvariantCulture)}` or POST /api/dead/{_parkedJob.Value.ToString(CultureInfo.InvariantCulture)}/replay would): queued as job {pending.ToString(CultureInfo.InvariantCulture)}");
        var run = await DemoWait.ForAsync(async c => (await world.Store.ListRunsAsync(new RunQuery(DemoWorld.PartnerFlow, RunOutcomes.Succeeded, Limit: 1), c)).FirstOrDefault(), StepTimeout, "a succeeded run of " + DemoWorld.PartnerFlow, time, ct);
        var accepted = await DemoWait.ForAsync(() => world.Partner.Accepted, StepTimeout, "the partner to accept the delivery", time, ct);
        progress($"run {run.Id.ToString(CultureInfo.InvariantCulture)} succeeded (attempt {run.Attempt.ToString(CultureInfo.InvariantCulture)}); the partner verified EventSync's signature and got order {accepted["data"]?["entity"]}");
        await DemoWait.UntilAsync(async c => (await world.Admin.DeadLettersAsync(DemoWorld.PartnerFlow, 10, c)).Count == 0, StepTimeout, "the dead letters to be empty", time, ct);
        progress("dead letters: none left");
        return Api($"api/runs/{run.Id.ToString(CultureInfo.InvariantCulture)}");
    }

    private JsonObject? PageByPath(string dataSource, string path) =>
        world.Notion.Pages(dataSource).FirstOrDefault(p => p["in_trash"]?.GetValue<bool>() != true && Property(p, "GitHub Path") == path);

    private static string? Property(JsonObject page, string name)
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

    private static string Short(string sha) => sha[..Math.Min(7, sha.Length)];
}
