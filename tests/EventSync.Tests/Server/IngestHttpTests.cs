using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventSync.Core.Admin;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;
using EventSync.Core.Storage;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.Server;

/// <summary>POST /hooks/{source} over real HTTP: what is accepted, what is refused, and what the audit log says.</summary>
public sealed class IngestHttpTests : IAsyncLifetime
{
    private const string GitHubSecret = "It's a Secret to Everybody";
    private const string NotionToken = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";
    private const string SupabaseSecret = "supa-secret-0123456789";
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync($$"""
        sources:
          github: { kind: github, secret: "{{GitHubSecret}}" }
          notion: { kind: notion }
          supabase: { kind: supabase, sharedSecret: {{SupabaseSecret}} }
          orders: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}}, maxBodySize: 4KiB }
          limited: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}}, rateLimit: { perSecond: 1, burst: 2 } }
        sinks:
          out: { kind: noop }
        flows:
          - { name: pushes, from: github, events: [push], key: $.repository.full_name, to: out }
          - { name: orders, from: orders, key: $.id, to: out }
          - { name: rows, from: supabase, events: [INSERT, UPDATE], key: $.record.id, to: out }
        """, runWorkers: false);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static readonly string PushJson = """{"ref":"refs/heads/main","after":"abc","repository":{"full_name":"acme/docs"},"commits":[]}""";

    private Task<HttpResponseMessage> PostGitHubAsync(byte[] body, string contentType = "application/json", string? eventName = "push", string? delivery = "d-1", string? signature = null, string secret = GitHubSecret)
    {
        var headers = new List<(string, string)> { ("X-Hub-Signature-256", signature ?? HmacSha256Hex.Sign(body, secret)), ("X-GitHub-Hook-ID", "42") };
        if (eventName is not null) headers.Add(("X-GitHub-Event", eventName));
        if (delivery is not null) headers.Add(("X-GitHub-Delivery", delivery));
        return _server.PostAsync("github", body, contentType, headers);
    }

    private Task<IReadOnlyList<StoredEvent>> EventsAsync() => _server.Store.ListEventsAsync(new EventQuery(Limit: 1000), CancellationToken.None);

    private async Task<DeliveryRecord> LastDeliveryAsync() => (await _server.Store.ListDeliveriesAsync(new DeliveryQuery(Limit: 1), CancellationToken.None))[0];

    private async Task AssertRejectedAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(code, body.GetProperty("error").GetString());
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("message").GetString()));
        var audit = await LastDeliveryAsync();
        Assert.Equal((int)status, audit.Status);
        Assert.Equal(DeliveryOutcomes.Rejected, audit.Outcome);
        Assert.StartsWith(code, audit.Reason, StringComparison.Ordinal);
        Assert.Null(audit.EventId);
    }

    [Fact]
    public async Task A_signed_GitHub_push_is_stored_before_202_and_routed()
    {
        var response = await PostGitHubAsync(Encoding.UTF8.GetBytes(PushJson));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(body.GetProperty("duplicate").GetBoolean());
        Assert.Equal(1, body.GetProperty("jobs").GetInt32());
        var stored = Assert.Single(await EventsAsync());
        Assert.Equal(body.GetProperty("eventId").GetInt64(), stored.Id);
        Assert.Equal("push", stored.EventType);
        Assert.Equal("acme/docs", stored.EntityKey);
        Assert.DoesNotContain("x-hub-signature", stored.HeadersJson, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("x-github-delivery", stored.HeadersJson, StringComparison.Ordinal);
        var job = Assert.Single(await _server.Store.ListJobsAsync(JobStatuses.Pending, "pushes", 10, CancellationToken.None));
        Assert.Equal("acme/docs", job.EntityKey);

        var again = await PostGitHubAsync(Encoding.UTF8.GetBytes(PushJson));
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.True((await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("duplicate").GetBoolean());
        Assert.Single(await EventsAsync());
    }

    [Fact]
    public async Task A_form_encoded_GitHub_delivery_is_accepted_and_a_ping_is_recorded_without_work()
    {
        var form = Encoding.UTF8.GetBytes("payload=" + Uri.EscapeDataString(PushJson));
        var response = await PostGitHubAsync(form, "application/x-www-form-urlencoded", delivery: "d-form");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var stored = Assert.Single(await EventsAsync());
        Assert.Equal(PushJson, Encoding.UTF8.GetString(stored.Payload));

        var ping = await PostGitHubAsync(Encoding.UTF8.GetBytes("""{"zen":"Keep it logically awesome.","hook_id":42}"""), eventName: "ping", delivery: "d-ping");
        Assert.Equal(HttpStatusCode.Accepted, ping.StatusCode);
        Assert.Equal(0, (await ping.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobs").GetInt32());
        Assert.Contains(await EventsAsync(), e => e.EventType == "ping");
    }

    [Fact]
    public async Task GitHub_bad_input_gets_its_status_an_audit_entry_and_no_event()
    {
        var body = Encoding.UTF8.GetBytes(PushJson);
        await AssertRejectedAsync(await PostGitHubAsync(body, secret: "wrong secret"), HttpStatusCode.Unauthorized, "invalid_signature");
        await AssertRejectedAsync(await PostGitHubAsync(body, signature: ""), HttpStatusCode.Unauthorized, "missing_signature");
        await AssertRejectedAsync(await PostGitHubAsync(body, signature: "sha256=nothex"), HttpStatusCode.Unauthorized, "malformed_signature");
        await AssertRejectedAsync(await PostGitHubAsync(body, eventName: null), HttpStatusCode.BadRequest, "missing_header");
        await AssertRejectedAsync(await PostGitHubAsync(body, delivery: null), HttpStatusCode.BadRequest, "missing_header");
        await AssertRejectedAsync(await PostGitHubAsync(Encoding.UTF8.GetBytes("{\"ref\": "), delivery: "d-trunc"), HttpStatusCode.BadRequest, "malformed_json");
        await AssertRejectedAsync(await PostGitHubAsync(Encoding.UTF8.GetBytes("[1,2]"), delivery: "d-array"), HttpStatusCode.BadRequest, "malformed_json");
        await AssertRejectedAsync(await PostGitHubAsync(body, contentType: "text/plain"), HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Empty(await EventsAsync());

        // Rejections never mark a delivery id as seen: the genuine delivery with the same id is new.
        var genuine = await PostGitHubAsync(body);
        Assert.False((await genuine.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("duplicate").GetBoolean());
        var log = await _server.Store.ListDeliveriesAsync(new DeliveryQuery(Limit: 100), CancellationToken.None);
        Assert.DoesNotContain(log, d => (d.Reason ?? "").Contains(GitHubSecret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Standard_webhooks_dedupe_on_webhook_id_and_refuse_stale_or_unsigned_requests()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await _server.PostStandardAsync("orders", "msg_1", """{"id":"o-1","type":"order.created"}""")).StatusCode);
        var dup = await _server.PostStandardAsync("orders", "msg_1", """{"id":"o-1","type":"order.created"}""");
        Assert.True((await dup.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("duplicate").GetBoolean());
        Assert.Equal("order.created", Assert.Single(await EventsAsync()).EventType);

        await AssertRejectedAsync(await _server.PostStandardAsync("orders", "msg_2", """{"id":"o-2"}""", DateTimeOffset.UtcNow.AddMinutes(-6)), HttpStatusCode.Unauthorized, "timestamp_too_old");
        await AssertRejectedAsync(await _server.PostStandardAsync("orders", "msg_3", """{"id":"o-3"}""", DateTimeOffset.UtcNow.AddMinutes(6)), HttpStatusCode.Unauthorized, "timestamp_too_new");
        await AssertRejectedAsync(await _server.PostStandardAsync("orders", "msg_4", """{"id":"o-4"}""", secret: "whsec_" + Convert.ToBase64String(new byte[32])), HttpStatusCode.Unauthorized, "invalid_signature");
        await AssertRejectedAsync(await _server.PostAsync("orders", Encoding.UTF8.GetBytes("{}"), headers: [("webhook-timestamp", "1"), ("webhook-signature", "v1,x")]), HttpStatusCode.BadRequest, "missing_header");
        await AssertRejectedAsync(await _server.PostAsync("orders", Encoding.UTF8.GetBytes("{}"), headers: [("webhook-id", "m"), ("webhook-timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture))]), HttpStatusCode.Unauthorized, "missing_signature");
        Assert.Single(await EventsAsync());
    }

    [Fact]
    public async Task Oversize_bodies_get_413_and_floods_get_429_with_retry_after()
    {
        var big = "{\"id\":\"o\",\"pad\":\"" + new string('x', 5000) + "\"}";
        await AssertRejectedAsync(await _server.PostStandardAsync("orders", "msg_big", big), HttpStatusCode.RequestEntityTooLarge, "payload_too_large");

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 6; i++)
        {
            var r = await _server.PostStandardAsync("limited", $"msg_l{i}", "{\"id\":\"x\"}");
            statuses.Add(r.StatusCode);
            if (r.StatusCode == HttpStatusCode.TooManyRequests) limited = r;
        }
        Assert.Contains(HttpStatusCode.Accepted, statuses);
        Assert.NotNull(limited);
        Assert.NotNull(limited!.Headers.RetryAfter);
        var audit = await _server.Store.ListDeliveriesAsync(new DeliveryQuery("limited", DeliveryOutcomes.Rejected), CancellationToken.None);
        Assert.All(audit, d => Assert.Equal(429, d.Status));
        Assert.NotEmpty(audit);
    }

    [Fact]
    public async Task Unknown_sources_get_404_with_an_audit_entry()
    {
        var response = await _server.PostAsync("nope", Encoding.UTF8.GetBytes("{}"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var audit = await LastDeliveryAsync();
        Assert.Equal("nope", audit.Source);
        Assert.Equal(404, audit.Status);
    }

    [Fact]
    public async Task Notion_handshake_is_captured_for_the_operator_then_signatures_are_required()
    {
        var handshake = Encoding.UTF8.GetBytes($$"""{"verification_token":"{{NotionToken}}"}""");
        var before = await _server.PostAsync("notion", Encoding.UTF8.GetBytes("""{"id":"e-0","type":"page.created"}"""));
        await AssertRejectedAsync(before, HttpStatusCode.Unauthorized, "not_verified");

        Assert.Equal(HttpStatusCode.OK, (await _server.PostAsync("notion", handshake)).StatusCode);
        var ops = new AdminOperations(_server.Store, _server.Config, TimeProvider.System);
        var source = (await ops.SourcesAsync(CancellationToken.None)).Single(s => s.Name == "notion");
        Assert.Equal(NotionToken, source.PendingVerificationToken);
        Assert.Equal(DeliveryOutcomes.Handshake, (await LastDeliveryAsync()).Outcome);
        Assert.Empty(await EventsAsync());

        var evt = Encoding.UTF8.GetBytes("""{"id":"e-1","type":"page.content_updated","entity":{"id":"p-1","type":"page"}}""");
        await AssertRejectedAsync(await _server.PostAsync("notion", evt), HttpStatusCode.Unauthorized, "missing_signature");
        var signed = await _server.PostAsync("notion", evt, headers: [("X-Notion-Signature", HmacSha256Hex.Sign(evt, NotionToken))]);
        Assert.Equal(HttpStatusCode.Accepted, signed.StatusCode);
        Assert.Equal("page.content_updated", Assert.Single(await EventsAsync()).EventType);
    }

    [Fact]
    public async Task Supabase_webhooks_need_the_shared_secret_and_the_documented_payload()
    {
        var row = Encoding.UTF8.GetBytes("""{"type":"UPDATE","table":"projects","schema":"public","record":{"id":7,"name":"x"},"old_record":{"id":7}}""");
        var ok = await _server.PostAsync("supabase", row, headers: [("Authorization", "Bearer " + SupabaseSecret)]);
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        var stored = Assert.Single(await EventsAsync());
        Assert.Equal("7", stored.EntityKey);
        Assert.DoesNotContain(SupabaseSecret, stored.HeadersJson, StringComparison.Ordinal);

        await AssertRejectedAsync(await _server.PostAsync("supabase", row), HttpStatusCode.Unauthorized, "missing_secret");
        await AssertRejectedAsync(await _server.PostAsync("supabase", row, headers: [("Authorization", "Bearer wrong")]), HttpStatusCode.Unauthorized, "invalid_secret");
        await AssertRejectedAsync(await _server.PostAsync("supabase", Encoding.UTF8.GetBytes("""{"type":"TRUNCATE","table":"t","schema":"public"}"""), headers: [("Authorization", "Bearer " + SupabaseSecret)]), HttpStatusCode.BadRequest, "invalid_event");
        Assert.Single(await EventsAsync());
    }

    [Fact]
    public async Task Health_endpoints_answer_without_a_token()
    {
        Assert.Equal(HttpStatusCode.OK, (await _server.Http.GetAsync("/healthz")).StatusCode);
        var ready = await _server.Http.GetFromJsonAsync<JsonElement>("/readyz");
        Assert.Equal("ready", ready.GetProperty("status").GetString());
    }
}
