using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EventSync.Core.Storage;
using EventSync.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;

namespace EventSync.Tests.Dashboard;

/// <summary>The dashboard in real headless Chromium against the real server: pages, live feed, replay, conflicts, login.</summary>
public sealed class DashboardBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const string SinkSecret = "whsec_c2lua3NpbmtzaW5rc2lua3NpbmtzaW5rc2luaw==";
    private const string Token = "dash-admin-token-3f9a1c";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static string Yaml(Receiver receiver, string extra = "") => $$"""
        sources:
          orders: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
        sinks:
          relay: { kind: webhook, url: "{{receiver.Url}}", secret: "{{SinkSecret}}" }
        flows:
          - { name: relay-orders, from: orders, key: $.id, to: relay, retry: { schedule: [] } }
        workers: { pollInterval: 100ms }
        {{extra}}
        """;

    [Fact]
    public async Task Every_page_loads_without_console_errors_and_the_overview_draws_charts()
    {
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = _ => Results.Json(new { error = "name is required" }, statusCode: 422);
        await using var server = await TestServer.StartAsync(Yaml(receiver));
        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("orders", "msg_page_1", """{"type":"order.updated","id":"o-1","note":"<img src=x onerror=alert(1)>"}""")).StatusCode);
        await WaitForDeadLettersAsync(server, 1);
        await AddConflictAsync(server);
        var run = (await server.Store.ListRunsAsync(new RunQuery(Limit: 1), CancellationToken.None))[0];
        var eventId = (await server.Store.ListEventsAsync(new EventQuery(Limit: 1), CancellationToken.None))[0].Id;

        var (page, errors) = await OpenAsync(server);
        var pages = new (string Hash, string Ready, string Shot)[]
        {
            ("#/overview", "overview", "overview"), ("#/events", "events", "events"), ($"#/events/{eventId}", "event", "event-detail"),
            ("#/runs", "runs", "runs"), ($"#/runs/{run.Id}", "run", "run-detail"), ("#/dead", "dead", "dead-letters"),
            ("#/conflicts", "conflicts", "conflicts"), ("#/vectors", "vectors", "vectors"),
        };
        foreach (var (hash, ready, shot) in pages)
        {
            await page.GotoAsync(server.Address + hash);
            await ReadyAsync(page, ready);
            await ShotAsync(page, shot);
        }
        Assert.Empty(errors);

        // Overview: one card per flow, in its state, with the per-minute chart holding the event that came in.
        await page.GotoAsync(server.Address + "#/overview");
        await ReadyAsync(page, "overview");
        var card = page.Locator("article.flow[data-flow='relay-orders']");
        Assert.Equal("failing", await card.GetAttributeAsync("data-state"));
        Assert.Equal("orders → relay", await card.Locator("h2").InnerTextAsync());
        Assert.Equal(3, await card.Locator("svg.chart").CountAsync());
        Assert.True(await card.Locator("svg.chart rect.bar.s-events").CountAsync() >= 1, "the events series has a bar for the minute the event arrived");
        Assert.Equal(60, await card.Locator("svg.chart polyline.s-runs").EvaluateAsync<int>("p => p.points.numberOfItems")); // one point per minute

        // Untrusted payload text is shown as text, never as markup.
        await page.GotoAsync(server.Address + $"#/events/{eventId}");
        await ReadyAsync(page, "event");
        Assert.Contains("<img src=x onerror=alert(1)>", await page.Locator("pre.payload").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#view img").CountAsync());
        Assert.Contains("relay-orders", await page.Locator("#view").InnerTextAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("webhook-signature", await page.Locator("table.headers").InnerTextAsync(), StringComparison.OrdinalIgnoreCase);

        // The run page is the per-run summary: trigger, event metadata, attempts with their errors.
        await page.GotoAsync(server.Address + $"#/runs/{run.Id}");
        await ReadyAsync(page, "run");
        var text = await page.Locator("#view").InnerTextAsync();
        Assert.Contains("order.updated from orders", text, StringComparison.Ordinal);
        Assert.Contains("order.updated", await page.Locator("table.metadata").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("422", await page.Locator("table.attempts").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_new_event_appears_in_the_live_feed_without_a_reload()
    {
        await using var receiver = await Receiver.StartAsync();
        await using var server = await TestServer.StartAsync(Yaml(receiver));
        await server.PostStandardAsync("orders", "msg_feed_1", """{"id":"o-1"}""");
        var (page, errors) = await OpenAsync(server, "#/events");
        await ReadyAsync(page, "events");
        Assert.Equal(1, await page.Locator("#feed tr[data-event]").CountAsync());
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");

        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("orders", "msg_feed_2", """{"id":"o-live"}""")).StatusCode);
        var row = page.Locator("#feed tr[data-event]", new() { HasText = "o-live" });
        await row.WaitForAsync(new() { Timeout = (float)Timeout.TotalMilliseconds });
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was not reloaded");
        Assert.Equal("o-live", await page.Locator("#feed tr[data-event]").First.Locator("td").Nth(4).InnerTextAsync()); // newest on top
        await ShotAsync(page, "events-live");

        // The filter narrows both the list and the feed.
        await page.SelectOptionAsync("select[name=source]", "orders");
        await page.FillAsync("input[name=entity]", "o-1");
        await page.ClickAsync("form.filters button[type=submit]");
        await ReadyAsync(page, "events");
        Assert.Equal(1, await page.Locator("#feed tr[data-event]").CountAsync());
        Assert.Contains("entity=o-1", page.Url, StringComparison.Ordinal);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_dead_letter_is_replayed_by_a_click_and_the_rest_in_bulk_with_progress()
    {
        await using var receiver = await Receiver.StartAsync();
        var failing = true;
        receiver.Respond = _ => failing ? Results.Json(new { error = "downstream is down" }, statusCode: 500) : Results.Ok();
        await using var server = await TestServer.StartAsync(Yaml(receiver));
        foreach (var id in new[] { "o-1", "o-2", "o-3" })
            await server.PostStandardAsync("orders", "msg_" + id, $$"""{"id":"{{id}}"}""");
        var dead = await WaitForDeadLettersAsync(server, 3);

        var (page, errors) = await OpenAsync(server, "#/dead");
        await ReadyAsync(page, "dead");
        Assert.Equal(3, await page.Locator("table.dead tr[data-state=parked]").CountAsync());
        Assert.Contains("500", await page.Locator("table.dead").InnerTextAsync(), StringComparison.Ordinal);
        await ShotAsync(page, "dead-letters-parked");
        failing = false;

        var one = dead.First(d => d.GetProperty("entityKey").GetString() == "o-1").GetProperty("id").GetInt64();
        await page.ClickAsync($"tr[data-job='{one}'] button.replay");
        await page.Locator($"tr[data-job='{one}'][data-state=done]").WaitForAsync(new() { Timeout = (float)Timeout.TotalMilliseconds });
        Assert.Contains(receiver.Requests, r => r.Entity == "o-1");

        await page.ClickAsync("button.replay-all");
        await page.Locator(".progress-text", new() { HasText = "2 of 2 replayed" }).WaitForAsync(new() { Timeout = (float)Timeout.TotalMilliseconds });
        await page.Locator("table.dead tr[data-state=done]").Nth(2).WaitForAsync(new() { Timeout = (float)Timeout.TotalMilliseconds });
        await ShotAsync(page, "dead-letters-replayed");
        Assert.Empty(await server.Http.GetFromJsonAsync<JsonElement[]>("/api/dead") ?? []);
        Assert.Equal(["o-1", "o-2", "o-3"], receiver.Requests.Where(r => r.Entity is not null).Select(r => r.Entity).Distinct().Order(StringComparer.Ordinal));
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_dead_letter_is_deleted_with_two_clicks()
    {
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = _ => Results.Json(new { error = "bad" }, statusCode: 422);
        await using var server = await TestServer.StartAsync(Yaml(receiver));
        await server.PostStandardAsync("orders", "msg_del", """{"id":"o-del"}""");
        var id = (await WaitForDeadLettersAsync(server, 1))[0].GetProperty("id").GetInt64();
        var (page, errors) = await OpenAsync(server, "#/dead");
        await ReadyAsync(page, "dead");
        await page.ClickAsync($"tr[data-job='{id}'] button.delete");
        Assert.Single(await server.Http.GetFromJsonAsync<JsonElement[]>("/api/dead") ?? []); // the first click only arms it
        await page.ClickAsync($"tr[data-job='{id}'] button.delete");
        await page.Locator($"tr[data-job='{id}'][data-state=deleted]").WaitForAsync(new() { Timeout = (float)Timeout.TotalMilliseconds });
        Assert.Empty(await server.Http.GetFromJsonAsync<JsonElement[]>("/api/dead") ?? []);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_conflict_shows_both_versions_and_is_resolved_by_a_click()
    {
        await using var receiver = await Receiver.StartAsync();
        await using var server = await TestServer.StartAsync(Yaml(receiver));
        var id = await AddConflictAsync(server);
        var (page, errors) = await OpenAsync(server, "#/conflicts");
        await ReadyAsync(page, "conflicts");
        var card = page.Locator($"article.conflict[data-conflict='{id}']");
        Assert.Contains("Scout finds things", await card.Locator(".side.winner").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("Scout searches the web", await card.Locator(".side.loser").InnerTextAsync(), StringComparison.Ordinal);
        await ShotAsync(page, "conflicts-open");

        await card.Locator("button.keep-winner").ClickAsync();
        await page.Locator($"article.conflict[data-conflict='{id}'][data-status=resolved]").WaitForAsync(new() { Timeout = (float)Timeout.TotalMilliseconds });
        Assert.Contains("kept github's version", await card.Locator(".resolution").InnerTextAsync(), StringComparison.Ordinal);
        var stored = await server.Store.GetConflictAsync(id, CancellationToken.None);
        Assert.Equal(ConflictStatuses.Resolved, stored!.Status);
        await ShotAsync(page, "conflicts-resolved");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task With_a_token_the_pages_ask_for_it_and_the_login_keeps_it_in_an_http_only_cookie()
    {
        await using var receiver = await Receiver.StartAsync();
        await using var server = await TestServer.StartAsync(Yaml(receiver, $"server: {{ adminToken: {Token} }}"));
        await using var context = await browser.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync(server.Address + "#/dead");
        Assert.Equal(1, await page.Locator("form#login input[name=token]").CountAsync());
        Assert.Equal(0, await page.Locator("#view").CountAsync());
        await ShotAsync(page, "login");

        await page.FillAsync("input[name=token]", "not-the-token");
        await page.ClickAsync("form#login button[type=submit]");
        Assert.Contains("not the server's admin token", await page.Locator("p.error").InnerTextAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-token", await page.ContentAsync(), StringComparison.Ordinal);
        await ShotAsync(page, "login-rejected");

        await page.FillAsync("input[name=token]", Token);
        await page.ClickAsync("form#login button[type=submit]");
        await ReadyAsync(page, "overview");
        var cookie = Assert.Single(await context.CookiesAsync());
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.DoesNotContain(Token, cookie.Value, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Null(await page.EvaluateAsync<string?>("() => document.cookie || null")); // not readable by scripts

        await page.GotoAsync(server.Address + "#/runs");
        await ReadyAsync(page, "runs");
        await page.ClickAsync("form.logout button");
        await page.Locator("form#login").WaitForAsync(new() { Timeout = (float)Timeout.TotalMilliseconds });
        Assert.Empty(await context.CookiesAsync());
    }

    private async Task<(IPage Page, List<string> Errors)> OpenAsync(TestServer server, string hash = "#/overview")
    {
        var context = await browser.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error") lock (errors) errors.Add(message.Text);
        };
        page.PageError += (_, error) =>
        {
            lock (errors) errors.Add(error);
        };
        await page.GotoAsync(server.Address + hash);
        return (page, errors);
    }

    private static Task ReadyAsync(IPage page, string view) =>
        page.Locator($"#view[data-ready='{view}']").WaitForAsync(new() { Timeout = (float)Timeout.TotalMilliseconds });

    private static Task ShotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, name + ".png"), FullPage = true });

    private static async Task<JsonElement[]> WaitForDeadLettersAsync(TestServer server, int count)
    {
        JsonElement[] dead = [];
        await Wait.UntilAsync(async () => (dead = await server.Http.GetFromJsonAsync<JsonElement[]>("/api/dead") ?? []).Length == count, Timeout, $"{count} dead letter(s)");
        return dead;
    }

    private static Task<long> AddConflictAsync(TestServer server) =>
        server.Store.AddConflictAsync(new ConflictRecord(0, "agents/scout", "description", "github-to-notion", 1, "github", "notion",
            "Scout", "Scout finds things", "Scout searches the web", "github", "prefer github", ConflictStatuses.Open, DateTimeOffset.UtcNow), CancellationToken.None);
}
