using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using EventSync.Emulators.Website;
using Microsoft.Extensions.Time.Testing;

namespace EventSync.Tests.Website;

/// <summary>The website emulator's HTTP contract, spoken to with a bare HttpClient so each rule is seen on the wire.</summary>
public sealed class WebsiteEmulatorTests : IAsyncLifetime
{
    private const string ApiKey = "emulator-key-0123456789";
    private readonly HttpClient _http = new();
    private WebsiteApiEmulator _site = null!;

    public async Task InitializeAsync() => _site = await WebsiteApiEmulator.StartAsync(new WebsiteEmulatorOptions { ApiKey = ApiKey, MaxBodyBytes = 64 * 1024 });

    public async Task DisposeAsync()
    {
        await _site.DisposeAsync();
        _http.Dispose();
    }

    private async Task<(HttpStatusCode Status, JsonObject? Body, HttpResponseMessage Response)> SendAsync(
        HttpMethod method, string path, string? json = null, string? key = "k", string? source = "test", string? apiKey = ApiKey)
    {
        using var request = new HttpRequestMessage(method, new Uri(_site.BaseUrl, path));
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        if (key is not null) request.Headers.Add("Idempotency-Key", key);
        if (source is not null) request.Headers.Add("X-Source", source);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null, response);
    }

    private static void AssertError(HttpStatusCode expected, string code, (HttpStatusCode Status, JsonObject? Body, HttpResponseMessage Response) actual)
    {
        Assert.Equal(expected, actual.Status);
        Assert.Equal(code, (string?)actual.Body?["error"]);
        Assert.False(string.IsNullOrEmpty((string?)actual.Body?["message"]));
    }

    [Fact]
    public async Task Writes_need_a_key_a_source_a_matching_id_and_a_JSON_object_within_the_size_limit()
    {
        AssertError(HttpStatusCode.Unauthorized, "missing_api_key", await SendAsync(HttpMethod.Put, "api/agents/a", """{"id":"a"}""", apiKey: null));
        AssertError(HttpStatusCode.BadRequest, "missing_source", await SendAsync(HttpMethod.Put, "api/agents/a", """{"id":"a"}""", source: null));
        AssertError(HttpStatusCode.BadRequest, "missing_idempotency_key", await SendAsync(HttpMethod.Put, "api/agents/a", """{"id":"a"}""", key: null));
        AssertError(HttpStatusCode.BadRequest, "missing_idempotency_key", await SendAsync(HttpMethod.Delete, "api/agents/a", key: null));
        AssertError(HttpStatusCode.BadRequest, "id_mismatch", await SendAsync(HttpMethod.Put, "api/agents/a", """{"id":"b"}"""));
        AssertError(HttpStatusCode.BadRequest, "invalid_json", await SendAsync(HttpMethod.Put, "api/agents/a", "[1]"));
        AssertError(HttpStatusCode.BadRequest, "invalid_json", await SendAsync(HttpMethod.Put, "api/agents/a", "{not json"));
        var big = new JsonObject { ["id"] = "a", ["text"] = new string('x', 65 * 1024) }.ToJsonString();
        AssertError(HttpStatusCode.RequestEntityTooLarge, "payload_too_large", await SendAsync(HttpMethod.Put, "api/agents/a", big));
        AssertError(HttpStatusCode.NotFound, "unknown_collection", await SendAsync(HttpMethod.Get, "api/widgets/a"));

        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Put, "api/agents/a", """{"id":"a"}""")).Status); // failures did not spend the key
        Assert.Single(_site.Events); // only the successful write announced a change
    }

    [Fact]
    public async Task Post_creates_once_then_409_and_the_created_resource_has_a_location_and_etag()
    {
        var created = await SendAsync(HttpMethod.Post, "api/docs", """{"id":"intro","title":"Intro"}""", key: "c1");
        var again = await SendAsync(HttpMethod.Post, "api/docs", """{"id":"intro","title":"Other"}""", key: "c2");

        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal("/api/docs/intro", created.Response.Headers.Location?.ToString());
        Assert.Equal((string?)created.Body!["etag"], created.Response.Headers.ETag?.ToString());
        AssertError(HttpStatusCode.Conflict, "already_exists", again);
        Assert.Equal("Intro", (string?)_site.Get("docs", "intro")!["title"]);
    }

    [Fact]
    public async Task If_Match_guards_writes_and_If_None_Match_answers_304()
    {
        var created = await SendAsync(HttpMethod.Put, "api/pages/p", """{"id":"p","v":1}""", key: "1");
        var etag = (string)created.Body!["etag"]!;

        using (var stale = new HttpRequestMessage(HttpMethod.Put, new Uri(_site.BaseUrl, "api/pages/p")))
        {
            stale.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
            stale.Headers.Add("Idempotency-Key", "2");
            stale.Headers.Add("X-Source", "test");
            stale.Headers.TryAddWithoutValidation("If-Match", "\"not-the-etag\"");
            stale.Content = new StringContent("""{"id":"p","v":2}""", Encoding.UTF8, "application/json");
            using var response = await _http.SendAsync(stale);
            Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
        }
        using (var conditional = new HttpRequestMessage(HttpMethod.Get, new Uri(_site.BaseUrl, "api/pages/p")))
        {
            conditional.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
            conditional.Headers.TryAddWithoutValidation("If-None-Match", etag);
            using var response = await _http.SendAsync(conditional);
            Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        }
        Assert.Equal(1, (int?)_site.Get("pages", "p")!["v"]);
    }

    [Fact]
    public async Task Lists_page_by_cursor_in_id_order_and_reject_limits_over_100()
    {
        foreach (var id in new[] { "e", "a", "d", "b", "c" }) _site.UpsertAsUser("agents", id, new JsonObject());

        var seen = new List<string>();
        string? cursor = null;
        for (var page = 0; page < 10; page++)
        {
            var (status, body, _) = await SendAsync(HttpMethod.Get, "api/agents?limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            Assert.Equal(HttpStatusCode.OK, status);
            seen.AddRange(body!["items"]!.AsArray().Select(i => (string)i!["id"]!));
            cursor = (string?)body["nextCursor"];
            if (cursor is null) break;
        }

        Assert.Equal(["a", "b", "c", "d", "e"], seen);
        AssertError(HttpStatusCode.BadRequest, "invalid_limit", await SendAsync(HttpMethod.Get, "api/agents?limit=101"));
        AssertError(HttpStatusCode.BadRequest, "invalid_cursor", await SendAsync(HttpMethod.Get, "api/agents?cursor=%%%"));
    }

    [Fact]
    public async Task The_request_log_keeps_headers_and_keys_but_never_the_Authorization_header()
    {
        await SendAsync(HttpMethod.Put, "api/metadata/site", """{"id":"site"}""", key: "log-key");

        var entry = Assert.Single(_site.RequestLog);
        Assert.Equal("PUT", entry.Method);
        Assert.Equal("/api/metadata/site", entry.Path);
        Assert.Equal("log-key", entry.IdempotencyKey);
        Assert.Equal(201, entry.Status);
        Assert.Equal("test", entry.Headers["X-Source"]);
        Assert.DoesNotContain(entry.Headers, h => h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || h.Value.Contains(ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_token_bucket_refills_with_the_injected_clock()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var site = await WebsiteApiEmulator.StartAsync(new WebsiteEmulatorOptions { ApiKey = ApiKey, Time = time, RateLimitBurst = 2, RateLimitPerSecond = 0.5 });
        async Task<HttpResponseMessage> Get()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(site.BaseUrl, "api/agents"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
            return await _http.SendAsync(request);
        }

        Assert.Equal(HttpStatusCode.OK, (await Get()).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Get()).StatusCode);
        var limited = await Get();
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), limited.Headers.RetryAfter?.Delta);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.OK, (await Get()).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await Get()).StatusCode);
        Assert.Equal(2, site.Counters.Throttled);
    }
}
