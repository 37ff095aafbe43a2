using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EventSync.Core.Storage;
using EventSync.Server.Dashboard;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.Dashboard;

/// <summary>The dashboard's HTTP surface without a browser: assets, login and cookie, and the API it adds.</summary>
public sealed class DashboardHttpTests
{
    private const string Token = "dash-http-token-51c0e2";
    private const string Yaml = """
        sources:
          orders: { kind: standard-webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }
        sinks:
          out: { kind: log }
        flows:
          - { name: log-orders, from: orders, key: $.id, to: out }
        workers: { pollInterval: 100ms }
        """;

    [Fact]
    public async Task The_shell_and_its_assets_come_from_the_binary_with_a_strict_content_security_policy()
    {
        await using var server = await TestServer.StartAsync(Yaml, runWorkers: false);
        var shell = await server.Http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, shell.StatusCode);
        Assert.Equal("text/html", shell.Content.Headers.ContentType?.MediaType);
        var html = await shell.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"/dashboard/app.js\" defer></script>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("{{session}}", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Log out", html, StringComparison.Ordinal); // no token, no session
        Assert.DoesNotContain("http", html.Replace("http://www.w3.org", "", StringComparison.Ordinal), StringComparison.Ordinal); // nothing from a CDN
        var csp = shell.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);

        var js = await server.Http.GetAsync("/dashboard/app.js");
        Assert.Equal(HttpStatusCode.OK, js.StatusCode);
        Assert.Equal("text/javascript", js.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("innerHTML", await js.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var etag = js.Headers.ETag!;
        using var again = new HttpRequestMessage(HttpMethod.Get, "/dashboard/app.js") { Headers = { IfNoneMatch = { etag } } };
        Assert.Equal(HttpStatusCode.NotModified, (await server.Http.SendAsync(again)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("/dashboard/app.css")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("/dashboard/index.html")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("/dashboard/nothing.js")).StatusCode);
    }

    [Fact]
    public async Task With_a_token_the_pages_and_the_api_require_it_and_the_login_cookie_works_like_the_bearer_header()
    {
        await using var server = await TestServer.StartAsync($"server: {{ adminToken: {Token} }}\n" + Yaml, runWorkers: false);
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = server.Address };

        var login = await http.GetStringAsync("/");
        Assert.Contains("name=\"token\"", login, StringComparison.Ordinal);
        Assert.DoesNotContain("app.js", login, StringComparison.Ordinal);
        foreach (var path in new[] { "/api/activity", "/api/feed", "/api/events/1", "/api/jobs/1", "/api/status" })
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(path)).StatusCode);

        var wrong = await http.PostAsync("/dashboard/login", new FormUrlEncodedContent([new("token", "guess")]));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.False(wrong.Headers.Contains("Set-Cookie"));
        var wrongHtml = await wrong.Content.ReadAsStringAsync();
        Assert.Contains("admin token (server.adminToken in the configuration", wrongHtml, StringComparison.Ordinal);
        Assert.DoesNotContain("guess", wrongHtml, StringComparison.Ordinal);

        var ok = await http.PostAsync("/dashboard/login", new FormUrlEncodedContent([new("token", Token)]));
        Assert.Equal(HttpStatusCode.SeeOther, ok.StatusCode);
        Assert.Equal("/", ok.Headers.Location?.ToString());
        var setCookie = ok.Headers.GetValues("Set-Cookie").Single();
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Token, setCookie, StringComparison.Ordinal);
        var cookie = setCookie.Split(';')[0];

        using (var page = new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { { "Cookie", cookie } } })
        {
            var shell = await (await http.SendAsync(page)).Content.ReadAsStringAsync();
            Assert.Contains("app.js", shell, StringComparison.Ordinal);
            Assert.Contains("Log out", shell, StringComparison.Ordinal);
            Assert.DoesNotContain(Token, shell, StringComparison.Ordinal);
        }
        using (var api = new HttpRequestMessage(HttpMethod.Get, "/api/activity") { Headers = { { "Cookie", cookie } } })
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(api)).StatusCode);
        using (var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/status") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token) } })
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(bearer)).StatusCode);
        using (var forged = new HttpRequestMessage(HttpMethod.Get, "/api/status") { Headers = { { "Cookie", $"{DashboardAuth.CookieName}={Token}" } } })
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(forged)).StatusCode); // the raw token is not a session

        var logout = await http.PostAsync("/dashboard/logout", null);
        Assert.Equal(HttpStatusCode.SeeOther, logout.StatusCode);
        Assert.Contains("expires=Thu, 01 Jan 1970", logout.Headers.GetValues("Set-Cookie").Single(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_activity_feed_and_event_detail_answer_what_the_pages_draw()
    {
        await using var server = await TestServer.StartAsync(Yaml);
        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("orders", "msg_1", """{"id":"o-1","total":5}""")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("orders", "msg_2", """{"id":"o-2"}""")).StatusCode);
        await Wait.UntilAsync(async () => (await server.Store.ListRunsAsync(new RunQuery(), CancellationToken.None)).Count == 2, TimeSpan.FromSeconds(20), "both runs");

        var activity = await server.Http.GetFromJsonAsync<JsonElement>("/api/activity?minutes=30");
        Assert.Equal(30, activity.GetProperty("buckets").GetInt32());
        var flow = Assert.Single(activity.GetProperty("flows").EnumerateArray());
        Assert.Equal("log-orders", flow.GetProperty("name").GetString());
        Assert.Equal("healthy", flow.GetProperty("state").GetString());
        Assert.Equal(30, flow.GetProperty("events").GetArrayLength());
        Assert.Equal(2, flow.GetProperty("events").EnumerateArray().Sum(e => e.GetInt32()));
        Assert.Equal(2, flow.GetProperty("runs").EnumerateArray().Sum(e => e.GetInt32()));
        Assert.Equal(0, flow.GetProperty("failedRuns").EnumerateArray().Sum(e => e.GetInt32()));

        var events = await server.Http.GetFromJsonAsync<JsonElement[]>("/api/events");
        var firstId = events!.Min(e => e.GetProperty("id").GetInt64());
        var feed = await server.Http.GetFromJsonAsync<JsonElement[]>($"/api/feed?after={firstId}");
        Assert.Equal(["o-2"], feed!.Select(e => e.GetProperty("entity").GetString()));
        Assert.Empty((await server.Http.GetFromJsonAsync<JsonElement[]>($"/api/feed?after={firstId}&entity=o-1"))!);

        var detail = await server.Http.GetFromJsonAsync<JsonElement>($"/api/events/{firstId}");
        Assert.Equal(5, detail.GetProperty("event").GetProperty("payload").GetProperty("total").GetInt32());
        var headers = detail.GetProperty("event").GetProperty("headers").EnumerateObject().Select(p => p.Name.ToLowerInvariant()).ToList();
        Assert.Contains("webhook-id", headers);
        Assert.DoesNotContain("webhook-signature", headers);
        var job = Assert.Single(detail.GetProperty("jobs").EnumerateArray());
        Assert.Equal(JobStatuses.Done, job.GetProperty("status").GetString());
        Assert.Equal(RunOutcomes.Succeeded, Assert.Single(detail.GetProperty("runs").EnumerateArray()).GetProperty("outcome").GetString());

        var jobView = await server.Http.GetFromJsonAsync<JsonElement>($"/api/jobs/{job.GetProperty("id").GetInt64()}");
        Assert.Equal(JobStatuses.Done, jobView.GetProperty("current").GetProperty("status").GetString());
        Assert.Single(jobView.GetProperty("runs").EnumerateArray());

        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("/api/events/999999")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("/api/jobs/999999")).StatusCode);
    }
}
