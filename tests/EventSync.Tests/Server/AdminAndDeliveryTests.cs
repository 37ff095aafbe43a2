using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;
using EventSync.Core.Storage;
using EventSync.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace EventSync.Tests.Server;

public sealed class AdminAndDeliveryTests
{
    private const string Token = "admin-token-0123456789";
    private const string SinkSecret = "whsec_c2lua3NpbmtzaW5rc2lua3NpbmtzaW5rc2luaw==";

    [Fact]
    public async Task The_admin_api_requires_the_bearer_token()
    {
        await using var server = await TestServer.StartAsync($"server: {{ adminToken: {Token} }}\n", runWorkers: false);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Http.GetAsync("/api/events")).StatusCode);
        var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/events") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "nope") } };
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Http.SendAsync(wrong)).StatusCode);
        var right = new HttpRequestMessage(HttpMethod.Get, "/api/events") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token) } };
        Assert.Equal(HttpStatusCode.OK, (await server.Http.SendAsync(right)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task A_relay_flow_delivers_signed_requests_and_parks_then_replays_failures()
    {
        await using var receiver = await Receiver.StartAsync();
        var failing = true;
        receiver.Respond = _ => failing ? Results.Json(new { error = "name is required" }, statusCode: 422) : Results.Ok();
        await using var server = await TestServer.StartAsync($$"""
            sources:
              orders: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
            sinks:
              relay: { kind: webhook, url: "{{receiver.Url}}", secret: "{{SinkSecret}}" }
            flows:
              - { name: relay-orders, from: orders, key: $.id, to: relay }
            workers: { pollInterval: 100ms }
            """);

        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("orders", "msg_a", """{"id":"o-1","total":5}""")).StatusCode);
        await Wait.UntilAsync(async () => (await server.Http.GetFromJsonAsync<JsonElement[]>("/api/dead"))!.Length == 1, TimeSpan.FromSeconds(20), "the 422 to park the job");
        var first = Assert.Single(receiver.Requests);
        Assert.StartsWith("msg_", first.WebhookId, StringComparison.Ordinal);
        var key = ConfigLoader.StandardWebhookSecret(SinkSecret)!;
        Assert.Equal(SignatureCheck.Valid, StandardWebhookSignature.Verify(key, first.WebhookId, first.Timestamp, first.Signature, first.Body, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)));
        using (var doc = JsonDocument.Parse(first.Body))
            Assert.Equal(5, doc.RootElement.GetProperty("data").GetProperty("latest").GetProperty("payload").GetProperty("total").GetInt32());

        var dead = (await server.Http.GetFromJsonAsync<JsonElement[]>("/api/dead"))![0];
        Assert.Contains("422", dead.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        failing = false;
        var replay = await server.Http.PostAsync($"/api/dead/{dead.GetProperty("id").GetInt64()}/replay", null);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        await Wait.UntilAsync(() => receiver.Requests.Count == 2, TimeSpan.FromSeconds(20), "the replayed delivery");
        Assert.Equal(first.WebhookId, receiver.Requests.Last().WebhookId); // same state, same idempotency key

        // The receiver sees the call before the worker commits its run record: wait for the record, too.
        JsonElement[]? runs = null;
        await Wait.UntilAsync(async () => (runs = await server.Http.GetFromJsonAsync<JsonElement[]>("/api/runs?flow=relay-orders"))!
            .Any(r => r.GetProperty("outcome").GetString() == RunOutcomes.Succeeded), TimeSpan.FromSeconds(20), "the replay's run record");
        var runId = runs!.First(r => r.GetProperty("outcome").GetString() == RunOutcomes.Succeeded).GetProperty("id").GetInt64();
        var detail = await server.Http.GetFromJsonAsync<JsonElement>($"/api/runs/{runId}");
        Assert.Equal("msg_a", detail.GetProperty("trigger").GetProperty("events")[0].GetProperty("deliveryId").GetString());
        Assert.Contains("POST", detail.GetProperty("resources")[0].GetString(), StringComparison.Ordinal);

        var trigger = await server.Http.PostAsync("/api/flows/relay-orders/trigger?entity=o-9", null);
        Assert.Equal(HttpStatusCode.Accepted, trigger.StatusCode);
        await Wait.UntilAsync(() => receiver.Requests.Any(r => r.Entity == "o-9"), TimeSpan.FromSeconds(20), "the manual trigger's delivery");
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.PostAsync("/api/flows/nope/trigger", null)).StatusCode);
    }

    [Fact]
    public async Task A_sink_answering_429_with_retry_after_pauses_instead_of_failing()
    {
        await using var receiver = await Receiver.StartAsync();
        var calls = 0;
        receiver.Respond = _ => Interlocked.Increment(ref calls) == 1
            ? new RetryAfterResult(1)
            : Results.Ok();
        await using var server = await TestServer.StartAsync($$"""
            sources:
              orders: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
            sinks:
              relay: { kind: webhook, url: "{{receiver.Url}}", secret: "{{SinkSecret}}" }
            flows:
              - { name: relay-orders, from: orders, key: $.id, to: relay, retry: { schedule: [1h] } }
            workers: { pollInterval: 100ms }
            """);
        await server.PostStandardAsync("orders", "msg_t", """{"id":"o-1"}""");
        await Wait.UntilAsync(() => receiver.Requests.Count == 2, TimeSpan.FromSeconds(20), "the retry after the pause");
        // The run is recorded after the sink call returns: wait for it rather than race it.
        IReadOnlyList<RunRecord> runs = [];
        await Wait.UntilAsync(async () => (runs = await server.Store.ListRunsAsync(new RunQuery(Limit: 10), CancellationToken.None)).Count == 2, TimeSpan.FromSeconds(20), "both runs recorded");
        Assert.Equal([RunOutcomes.Succeeded, RunOutcomes.Throttled], runs.Select(r => r.Outcome));
        Assert.All(runs, r => Assert.Equal(1, r.Attempt)); // the throttle spent no attempt
    }

    private sealed class RetryAfterResult(int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = 429;
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return httpContext.Response.WriteAsync("slow down");
        }
    }
}
