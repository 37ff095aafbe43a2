using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EventSync.Connectors.Http;
using EventSync.Connectors.Website;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;
using EventSync.Emulators.Website;

namespace EventSync.Tests.Website;

/// <summary>The website client against the website emulator over real loopback HTTP.</summary>
public sealed class WebsiteClientTests : IAsyncLifetime
{
    private const string ApiKey = "site-key-right-0123456789abcdef";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly HttpClient _http = new();
    private WebsiteApiEmulator _site = null!;

    public async Task InitializeAsync() => _site = await WebsiteApiEmulator.StartAsync(new WebsiteEmulatorOptions { ApiKey = ApiKey });

    public async Task DisposeAsync()
    {
        await _site.DisposeAsync();
        _http.Dispose();
    }

    private WebsiteClient Client(string apiKey = ApiKey, WebsiteUpsertMethod method = WebsiteUpsertMethod.Put) =>
        new(_http, new WebsiteClientOptions { BaseUrl = _site.BaseUrl, ApiKey = apiKey, UpsertMethod = method });

    private static JsonObject Agent(string name) => new() { ["name"] = name, ["tags"] = new JsonArray("a", "b") };

    private static CancellationToken Ct => CancellationToken.None;

    [Fact]
    public async Task Upsert_creates_then_updates_and_returns_the_new_validators()
    {
        var client = Client();

        var created = await client.UpsertAsync("agents", "agent-1", Agent("first"), "k1", Ct);
        var updated = await client.UpsertAsync("agents", "agent-1", Agent("second"), "k2", Ct);

        Assert.True(created.Created);
        Assert.False(updated.Created);
        Assert.False(created.Replayed);
        Assert.NotNull(created.ETag);
        Assert.NotEqual(created.ETag, updated.ETag);
        Assert.NotNull(updated.UpdatedAt);
        var stored = _site.Get("agents", "agent-1")!;
        Assert.Equal("second", (string?)stored["name"]);
        Assert.Equal("agent-1", (string?)stored["id"]);
        Assert.Equal(updated.ETag, (string?)stored["etag"]);
        Assert.Single(_site.All("agents"));

        var puts = _site.RequestLog.Where(r => r.Method == "PUT").ToList();
        Assert.Equal(["k1", "k2"], puts.Select(r => r.IdempotencyKey));
        Assert.All(puts, r => Assert.Equal("eventsync", r.Headers["X-Source"]));
        Assert.All(_site.RequestLog, r => Assert.False(r.Headers.ContainsKey("Authorization")));
    }

    [Fact]
    public async Task The_same_key_and_body_replays_the_stored_answer_without_a_second_write_or_event()
    {
        var client = Client();

        var first = await client.UpsertAsync("docs", "doc-1", Agent("x"), "same-key", Ct);
        var again = await client.UpsertAsync("docs", "doc-1", Agent("x"), "same-key", Ct);

        Assert.True(again.Replayed);
        Assert.True(again.Created); // the stored 201, not a fresh 200
        Assert.Equal(first.ETag, again.ETag);
        Assert.Equal(first.UpdatedAt, again.UpdatedAt);
        var counters = _site.Counters;
        Assert.Equal(1, counters.Writes);
        Assert.Equal(1, counters.Replays);
        Assert.Single(_site.Events);
    }

    [Fact]
    public async Task Reusing_a_key_with_a_different_body_is_a_permanent_422_with_the_sites_message()
    {
        var client = Client();
        await client.UpsertAsync("pages", "page-1", Agent("one"), "reused", Ct);

        var ex = await Assert.ThrowsAsync<ApiException>(() => client.UpsertAsync("pages", "page-1", Agent("two"), "reused", Ct));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, ex.Status);
        Assert.Equal("idempotency_key_reused", ex.Code);
        Assert.False(ex.Retryable);
        Assert.Contains("different request", ex.Message, StringComparison.Ordinal);
        Assert.Equal("one", (string?)_site.Get("pages", "page-1")!["name"]);
    }

    [Fact]
    public async Task Delete_is_true_once_and_false_when_already_absent()
    {
        var client = Client();
        await client.UpsertAsync("architectures", "arch-1", Agent("a"), "k-up", Ct);

        Assert.True(await client.DeleteAsync("architectures", "arch-1", "k-del-1", Ct));
        Assert.False(await client.DeleteAsync("architectures", "arch-1", "k-del-2", Ct));
        Assert.Null(_site.Get("architectures", "arch-1"));
        Assert.True(await client.DeleteAsync("architectures", "arch-1", "k-del-1", Ct)); // a retry of the first delete replays its 204
    }

    [Fact]
    public async Task Get_returns_the_resource_with_server_fields_and_null_when_absent()
    {
        var client = Client();
        Assert.Null(await client.GetAsync("metadata", "missing", Ct));

        await client.UpsertAsync("metadata", "site", new JsonObject { ["title"] = "Docs", ["updatedAt"] = "client value is ignored" }, "k", Ct);
        var got = await client.GetAsync("metadata", "site", Ct);

        Assert.NotNull(got);
        Assert.Equal("Docs", (string?)got["title"]);
        Assert.StartsWith("\"", (string?)got["etag"], StringComparison.Ordinal);
        Assert.True(DateTimeOffset.TryParse((string?)got["updatedAt"], out _));
    }

    [Fact]
    public async Task A_wrong_key_is_a_permanent_401_whose_message_does_not_contain_either_key()
    {
        const string wrongKey = "site-key-WRONG-9876543210zyxwv";
        var ex = await Assert.ThrowsAsync<ApiException>(() => Client(wrongKey).UpsertAsync("agents", "agent-1", Agent("x"), "k", Ct));

        Assert.Equal(HttpStatusCode.Unauthorized, ex.Status);
        Assert.Equal("invalid_api_key", ex.Code);
        Assert.False(ex.Retryable);
        Assert.DoesNotContain(wrongKey, ex.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(ApiKey, ex.ToString(), StringComparison.Ordinal);
        Assert.Empty(_site.All("agents"));
    }

    [Fact]
    public async Task A_throttle_surfaces_as_ApiThrottledException_with_the_sites_Retry_After()
    {
        _site.ThrottleNext(1, TimeSpan.FromSeconds(7));

        var ex = await Assert.ThrowsAsync<ApiThrottledException>(() => Client().UpsertAsync("agents", "agent-1", Agent("x"), "k", Ct));

        Assert.Equal(TimeSpan.FromSeconds(7), ex.RetryAfter);
        Assert.Equal("website", ex.System);
        Assert.NotNull(await Client().UpsertAsync("agents", "agent-1", Agent("x"), "k", Ct)); // only one was throttled, and the key was not spent
    }

    [Fact]
    public async Task A_503_with_Retry_After_is_a_throttle_and_the_token_bucket_answers_429()
    {
        _site.FailNext(1, 503, TimeSpan.FromSeconds(3));
        var unavailable = await Assert.ThrowsAsync<ApiThrottledException>(() => Client().GetAsync("agents", "a", Ct));
        Assert.Equal(TimeSpan.FromSeconds(3), unavailable.RetryAfter);

        _site.SetRateLimit(burst: 2, perSecond: 0.01);
        await Client().GetAsync("agents", "a", Ct);
        await Client().GetAsync("agents", "a", Ct);
        var limited = await Assert.ThrowsAsync<ApiThrottledException>(() => Client().GetAsync("agents", "a", Ct));
        Assert.True(limited.RetryAfter >= TimeSpan.FromSeconds(1), $"Retry-After {limited.RetryAfter}");
    }

    [Fact]
    public async Task A_500_and_a_refused_connection_are_retryable_ApiExceptions()
    {
        _site.FailNext(1, 500);
        var server = await Assert.ThrowsAsync<ApiException>(() => Client().UpsertAsync("agents", "agent-1", Agent("x"), "k", Ct));
        Assert.Equal(HttpStatusCode.InternalServerError, server.Status);
        Assert.True(server.Retryable);

        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there now
        var offline = new WebsiteClient(_http, new WebsiteClientOptions { BaseUrl = new Uri($"http://127.0.0.1:{port}/"), ApiKey = ApiKey });
        var network = await Assert.ThrowsAsync<ApiException>(() => offline.GetAsync("agents", "agent-1", Ct));
        Assert.True(network.Retryable);
        Assert.Equal("network_error", network.Code);
    }

    [Fact]
    public async Task Post_mode_creates_with_POST_and_updates_with_PUT_after_409()
    {
        var client = Client(method: WebsiteUpsertMethod.Post);

        var created = await client.UpsertAsync("agents", "agent-9", Agent("v1"), "p1", Ct);
        var updated = await client.UpsertAsync("agents", "agent-9", Agent("v2"), "p2", Ct);
        var retried = await client.UpsertAsync("agents", "agent-9", Agent("v2"), "p2", Ct);

        Assert.True(created.Created);
        Assert.False(updated.Created);
        Assert.True(retried.Replayed);
        Assert.Equal("v2", (string?)_site.Get("agents", "agent-9")!["name"]);
        Assert.Equal(["POST 201", "POST 409", "PUT 200", "POST 409", "PUT 200"], _site.RequestLog.Select(r => $"{r.Method} {r.Status}"));
        Assert.Equal(2, _site.Events.Count);
    }

    [Fact]
    public async Task Events_are_signed_per_Standard_Webhooks_and_sent_for_API_writes_and_human_edits_but_not_replays()
    {
        await using var receiver = await HookReceiver.StartAsync();
        var secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        _site.AddWebhook(receiver.Url, secret);
        var client = Client();

        await client.UpsertAsync("agents", "agent-123", Agent("api"), "w1", Ct);
        await client.UpsertAsync("agents", "agent-123", Agent("api"), "w1", Ct); // replay: no event
        _site.UpsertAsUser("agents", "agent-123", Agent("human"));
        _site.UpsertAsUser("architectures", "arch-7", Agent("human"));
        await client.DeleteAsync("agents", "agent-123", "w2", Ct);
        Assert.True(_site.DeleteAsUser("architectures", "arch-7"));
        Assert.False(_site.DeleteAsUser("architectures", "arch-7")); // nothing to delete: no event
        using (var cts = new CancellationTokenSource(Timeout)) await _site.WebhooksIdleAsync(cts.Token);

        var key = ConfigLoader.StandardWebhookSecret(secret)!;
        var hooks = receiver.Received.ToArray();
        string[] expected =
        [
            """{"event_type":"website-update","client_payload":{"resource":"agent","id":"agent-123","action":"created"}}""",
            """{"event_type":"website-update","client_payload":{"resource":"agent","id":"agent-123","action":"updated"}}""",
            """{"event_type":"website-update","client_payload":{"resource":"architecture","id":"arch-7","action":"created"}}""",
            """{"event_type":"website-update","client_payload":{"resource":"agent","id":"agent-123","action":"deleted"}}""",
            """{"event_type":"website-update","client_payload":{"resource":"architecture","id":"arch-7","action":"deleted"}}""",
        ];
        Assert.Equal(expected, hooks.Select(h => Encoding.UTF8.GetString(h.Body)));
        foreach (var hook in hooks)
        {
            Assert.Equal(SignatureCheck.Valid, StandardWebhookSignature.Verify(key, hook.WebhookId, hook.Timestamp, hook.Signature, hook.Body, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)));
            var tampered = hook.Body.ToArray();
            tampered[^3] ^= 1;
            Assert.Equal(SignatureCheck.Mismatch, StandardWebhookSignature.Verify(key, hook.WebhookId, hook.Timestamp, hook.Signature, tampered, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)));
        }
        Assert.Equal(hooks.Length, hooks.Select(h => h.WebhookId).Distinct().Count());
        Assert.Equal([WebsiteEventOrigin.Api, WebsiteEventOrigin.User, WebsiteEventOrigin.User, WebsiteEventOrigin.Api, WebsiteEventOrigin.User], _site.Events.Select(e => e.Origin));
        Assert.All(_site.Deliveries, d => Assert.True(d.Succeeded));
    }

    [Fact]
    public async Task A_failing_webhook_is_retried_with_the_same_webhook_id()
    {
        await using var receiver = await HookReceiver.StartAsync();
        receiver.Status = 503;
        _site.AddWebhook(receiver.Url, "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)));

        _site.UpsertAsUser("docs", "doc-1", Agent("x"));
        using (var cts = new CancellationTokenSource(Timeout)) await _site.WebhooksIdleAsync(cts.Token);

        var attempts = _site.Deliveries;
        Assert.Equal([1, 2, 3], attempts.Select(d => d.Attempt));
        Assert.Single(attempts.Select(d => d.WebhookId).Distinct());
        Assert.All(attempts, d => Assert.Equal(503, d.Status));
        Assert.Equal(3, receiver.Received.Count);
    }
}
