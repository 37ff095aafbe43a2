using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSync.Emulators.Website;

/// <summary>
/// The documentation website's resource API on loopback, with the outbound change events the site sends to EventSync.
/// </summary>
/// <remarks>
/// <para><b>Resources.</b> Collections <c>agents</c>, <c>architectures</c>, <c>docs</c>, <c>pages</c>, <c>metadata</c>, <c>contracts</c>, <c>releases</c>; a
/// resource is a JSON object whose <c>"id"</c> (string, 1-256 characters) names it. The server adds <c>updatedAt</c>
/// (ISO 8601 UTC) and <c>etag</c> (a quoted strong validator of the content, also sent as the <c>ETag</c> header) to every
/// representation and ignores those two fields in request bodies.</para>
/// <list type="table">
/// <item><term><c>GET {base}/api/{collection}/{id}</c></term><description>200 the representation; 304 when
/// <c>If-None-Match</c> matches; 404.</description></item>
/// <item><term><c>GET {base}/api/{collection}?limit=&amp;cursor=</c></term><description>200
/// <c>{"items": [...], "nextCursor": "..." | null}</c>, ordered by id (ordinal); <c>limit</c> 1-100, default 50; pass
/// <c>nextCursor</c> back as <c>cursor</c> until it is null. 400 on a bad limit or cursor.</description></item>
/// <item><term><c>PUT {base}/api/{collection}/{id}</c></term><description>Upsert: 201 created (with <c>Location</c>)
/// or 200 updated, body the representation. The body's <c>"id"</c> must equal the URL id (400). <c>If-Match</c> is
/// honoured (412 when it does not match or the resource is absent).</description></item>
/// <item><term><c>POST {base}/api/{collection}</c></term><description>Create: 201 with <c>Location</c>; 409
/// <c>already_exists</c> when the id exists.</description></item>
/// <item><term><c>DELETE {base}/api/{collection}/{id}</c></term><description>204; 404 when absent; <c>If-Match</c> as
/// for PUT.</description></item>
/// </list>
/// <para><b>Every request</b> needs <c>Authorization: Bearer &lt;key&gt;</c> (401 <c>missing_api_key</c> /
/// <c>invalid_api_key</c>; the key is never echoed). Unknown collection: 404 <c>unknown_collection</c>; other method:
/// 405 with <c>Allow</c>. Errors are <c>{"error": "code", "message": "..."}</c>.</para>
/// <para><b>Writes</b> (PUT, POST, DELETE) also need <c>X-Source</c> (who writes; 400 <c>missing_source</c>) and
/// <c>Idempotency-Key</c> (at most 255 characters; 400 <c>missing_idempotency_key</c>). PUT and POST need
/// <c>Content-Type: application/json</c> (415) and a body of at most 1 MB (413 <c>payload_too_large</c>) that is a JSON
/// object (400 <c>invalid_json</c>). A successful (2xx) write's response is kept for 24 h under its key: the same key with
/// the same method, path and body gets that response again with <c>Idempotent-Replayed: true</c> and changes nothing
/// (no event); the same key with anything else is 422 <c>idempotency_key_reused</c>. Failed writes are not kept, so a
/// corrected request may reuse its key.</para>
/// <para><b>Limits.</b> A token bucket per site (<see cref="SetRateLimit"/>) answers 429 <c>rate_limited</c> with
/// <c>Retry-After</c> in whole seconds. Injected faults: <see cref="ThrottleNext"/> (429 + Retry-After) and
/// <see cref="FailNext"/> (any status; 503 always carries Retry-After).</para>
/// <para><b>Events.</b> After every successful write, by the API or by a person on the site
/// (<see cref="UpsertAsUser"/>, <see cref="DeleteAsUser"/>) — the site cannot tell who called its API — every webhook
/// added with <see cref="AddWebhook"/> gets, in order, one at a time, a POST of
/// <c>{"event_type":"website-update","client_payload":{"resource":"agent","id":"agent-123","action":"created|updated|deleted"}}</c>
/// signed per Standard Webhooks (<c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature: v1,&lt;base64
/// HMAC-SHA256 of "{id}.{timestamp}.{body}"&gt;</c>). A failed delivery (no answer, 408, 429, 5xx) is retried with the same
/// webhook-id up to <see cref="WebsiteEmulatorOptions.WebhookAttempts"/> times. An idempotent replay sends nothing.</para>
/// </remarks>
public sealed class WebsiteApiEmulator : IAsyncDisposable
{
    public const string EventType = "website-update";
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 100;
    public const int MaxIdLength = 256;
    public const int MaxIdempotencyKeyLength = 255;

    /// <summary>Collection to the singular used as <c>resource</c> in events.</summary>
    public static IReadOnlyDictionary<string, string> Collections { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["agents"] = "agent", ["architectures"] = "architecture", ["docs"] = "doc", ["pages"] = "page", ["metadata"] = "metadata", ["contracts"] = "contract", ["releases"] = "release",
    };

    private readonly WebApplication _app;
    private readonly WebsiteEmulatorOptions _options;
    private readonly byte[] _apiKey;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SortedDictionary<string, StoredResource>> _resources;
    private readonly Dictionary<string, StoredReply> _idempotency = new(StringComparer.Ordinal);
    private readonly List<(Uri Url, byte[] Key)> _webhooks = [];
    private readonly List<WebsiteEvent> _events = [];
    private readonly ConcurrentQueue<WebsiteRequestRecord> _log = new();
    private readonly ConcurrentQueue<WebhookDelivery> _deliveries = new();
    private readonly Channel<WebsiteEvent> _outbox = Channel.CreateUnbounded<WebsiteEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly HttpClient _webhookHttp;
    private readonly CancellationTokenSource _stopping = new();
    private Task _deliveryLoop = Task.CompletedTask;
    private int _pendingEvents;
    private TaskCompletionSource _idle = Completed();

    private int _throttleCount;
    private TimeSpan _throttleDelay;
    private int _failCount;
    private int _failStatus;
    private TimeSpan? _failRetryAfter;
    private int _bucketSize;
    private double _refillPerSecond;
    private double _tokens;
    private DateTimeOffset _refilledAt;

    private long _requests, _reads, _writes, _replays, _throttled, _injectedFailures, _unauthorised, _deliveriesSucceeded, _deliveriesFailed;

    private sealed record StoredResource(JsonObject Document, DateTimeOffset UpdatedAt, string ETag);

    private sealed record Reply(int Status, string? Json)
    {
        public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];
        public bool Replayed { get; init; }
    }

    private sealed record StoredReply(string Fingerprint, Reply Reply, DateTimeOffset Expires);

    private WebsiteApiEmulator(WebApplication app, WebsiteEmulatorOptions options)
    {
        _app = app;
        _options = options;
        _apiKey = Encoding.UTF8.GetBytes(options.ApiKey);
        _resources = Collections.Keys.ToDictionary(c => c, _ => new SortedDictionary<string, StoredResource>(StringComparer.Ordinal), StringComparer.Ordinal);
        _webhookHttp = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = options.WebhookTimeout };
        SetRateLimit(options.RateLimitBurst, options.RateLimitPerSecond);
    }

    /// <summary>The site root, ending in '/': resources are at <c>{BaseUrl}api/{collection}/{id}</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    public static async Task<WebsiteApiEmulator> StartAsync(WebsiteEmulatorOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.ApiKey)) throw new ArgumentException("an API key is required", nameof(options));
        if (options.MaxBodyBytes < 1) throw new ArgumentException("MaxBodyBytes must be positive", nameof(options));
        if (options.WebhookAttempts < 1) throw new ArgumentException("WebhookAttempts must be at least 1", nameof(options));

        var app = LoopbackApp.Create(options.Port);
        var emulator = new WebsiteApiEmulator(app, options);
        app.Map("/api/{collection}", emulator.HandleAsync);
        app.Map("/api/{collection}/{id}", emulator.HandleAsync);
        app.MapFallback(context => WriteAsync(context, Error(404, "not_found", $"No route for {context.Request.Method} {context.Request.Path}.")));
        emulator.BaseUrl = await LoopbackApp.StartAsync(app, ct);
        emulator._deliveryLoop = Task.Run(() => emulator.DeliverLoopAsync(emulator._stopping.Token), CancellationToken.None);
        return emulator;
    }

    // ---------------------------------------------------------------- faults and limits

    /// <summary>The next <paramref name="count"/> authorised requests get 429 with Retry-After (whole seconds, rounded up).</summary>
    public void ThrottleNext(int count, TimeSpan retryAfter)
    {
        lock (_gate)
        {
            _throttleCount = Math.Max(count, 0);
            _throttleDelay = retryAfter;
        }
    }

    /// <summary>The next <paramref name="count"/> authorised requests get <paramref name="status"/>; a 503 carries Retry-After (<paramref name="retryAfter"/>, default 1 s).</summary>
    public void FailNext(int count, int status, TimeSpan? retryAfter = null)
    {
        if (status is < 400 or > 599) throw new ArgumentOutOfRangeException(nameof(status), "an error status (400-599)");
        lock (_gate)
        {
            _failCount = Math.Max(count, 0);
            _failStatus = status;
            _failRetryAfter = retryAfter ?? (status == 503 ? TimeSpan.FromSeconds(1) : null);
        }
    }

    /// <summary>A token bucket of <paramref name="burst"/> requests refilled at <paramref name="perSecond"/>; burst 0 switches the limit off.</summary>
    public void SetRateLimit(int burst, double perSecond)
    {
        if (burst > 0 && !(perSecond > 0)) throw new ArgumentOutOfRangeException(nameof(perSecond), "a positive refill rate");
        lock (_gate)
        {
            _bucketSize = Math.Max(burst, 0);
            _refillPerSecond = perSecond;
            _tokens = _bucketSize;
            _refilledAt = _options.Time.GetUtcNow();
        }
    }

    // ---------------------------------------------------------------- webhooks

    /// <summary>Sends every later event to <paramref name="url"/>, signed with the Standard Webhooks <paramref name="secret"/> (whsec_...).</summary>
    public void AddWebhook(Uri url, string secret)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(secret);
        var key = ConfigLoader.StandardWebhookSecret(secret) ?? throw new ArgumentException("not a Standard Webhooks secret (whsec_ + base64 of 24 to 64 bytes)", nameof(secret));
        lock (_gate) _webhooks.Add((url, key));
    }

    /// <summary>Completes once every event emitted so far has been delivered (or given up on) to every webhook.</summary>
    public async Task WebhooksIdleAsync(CancellationToken cancellationToken)
    {
        Task idle;
        lock (_gate) idle = _idle.Task;
        await idle.WaitAsync(cancellationToken);
    }

    /// <summary>Every delivery attempt, in order.</summary>
    public IReadOnlyList<WebhookDelivery> Deliveries => _deliveries.ToArray();

    /// <summary>Every event the site emitted, in order (whether or not any webhook is registered).</summary>
    public IReadOnlyList<WebsiteEvent> Events
    {
        get
        {
            lock (_gate) return _events.ToArray();
        }
    }

    // ---------------------------------------------------------------- human edits and inspection

    /// <summary>A person creates or edits a resource on the site: stored like an API write and announced to the webhooks.</summary>
    public JsonObject UpsertAsUser(string collection, string id, JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var items = Collection(collection);
        ValidateId(id);
        var copy = (JsonObject)document.DeepClone();
        copy["id"] = id;
        lock (_gate)
        {
            var (stored, created) = Upsert(items, id, copy);
            Emit(collection, id, created ? "created" : "updated", WebsiteEventOrigin.User);
            return Representation(stored);
        }
    }

    /// <summary>A person deletes a resource on the site; false when it did not exist (no event then).</summary>
    public bool DeleteAsUser(string collection, string id)
    {
        var items = Collection(collection);
        lock (_gate)
        {
            if (!items.Remove(id)) return false;
            Emit(collection, id, "deleted", WebsiteEventOrigin.User);
            return true;
        }
    }

    /// <summary>The representation the API would return (with updatedAt and etag), or null.</summary>
    public JsonObject? Get(string collection, string id)
    {
        var items = Collection(collection);
        lock (_gate) return items.TryGetValue(id, out var stored) ? Representation(stored) : null;
    }

    /// <summary>Every resource of the collection, ordered by id.</summary>
    public IReadOnlyList<JsonObject> All(string collection)
    {
        var items = Collection(collection);
        lock (_gate) return items.Values.Select(Representation).ToArray();
    }

    /// <summary>Every request answered, in order of completion; Authorization is left out.</summary>
    public IReadOnlyList<WebsiteRequestRecord> RequestLog => _log.ToArray();

    public WebsiteCounters Counters
    {
        get
        {
            lock (_gate)
            {
                return new WebsiteCounters(
                    Interlocked.Read(ref _requests), Interlocked.Read(ref _reads), Interlocked.Read(ref _writes), Interlocked.Read(ref _replays),
                    Interlocked.Read(ref _throttled), Interlocked.Read(ref _injectedFailures), Interlocked.Read(ref _unauthorised), _events.Count,
                    Interlocked.Read(ref _deliveriesSucceeded), Interlocked.Read(ref _deliveriesFailed));
            }
        }
    }

    private SortedDictionary<string, StoredResource> Collection(string collection) =>
        collection is not null && _resources.TryGetValue(collection, out var items)
            ? items
            : throw new ArgumentException($"unknown collection '{collection}'; use one of: {string.Join(", ", Collections.Keys)}", nameof(collection));

    private static void ValidateId(string id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength) throw new ArgumentException($"an id of 1 to {MaxIdLength} characters", nameof(id));
    }

    // ---------------------------------------------------------------- HTTP

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var reply = Unauthorised(context) ?? InjectedFault() ?? RateLimited() ?? await DispatchAsync(context);
        Record(context, reply);
        await WriteAsync(context, reply);
    }

    private async Task<Reply> DispatchAsync(HttpContext context)
    {
        var collection = (string)context.Request.RouteValues["collection"]!;
        var id = context.Request.RouteValues["id"] as string;
        if (!_resources.TryGetValue(collection, out var items))
            return Error(404, "unknown_collection", $"There is no collection '{collection}'. Collections: {string.Join(", ", Collections.Keys)}.");
        var method = context.Request.Method;
        if (id is null)
        {
            if (HttpMethods.IsGet(method)) return List(context, items);
            if (HttpMethods.IsPost(method)) return await WriteRequestAsync(context, collection, items, null);
            return Error(405, "method_not_allowed", $"{method} is not allowed on a collection.") with { Headers = [new("Allow", "GET, POST")] };
        }
        if (HttpMethods.IsGet(method)) return Read(context, items, id);
        if (HttpMethods.IsPut(method) || HttpMethods.IsDelete(method)) return await WriteRequestAsync(context, collection, items, id);
        return Error(405, "method_not_allowed", $"{method} is not allowed on a resource.") with { Headers = [new("Allow", "GET, PUT, DELETE")] };
    }

    private Reply? Unauthorised(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        Reply? failure = null;
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            failure = Error(401, "missing_api_key", "Send the API key as 'Authorization: Bearer <key>'.");
        else if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()), _apiKey))
            failure = Error(401, "invalid_api_key", "The API key is not valid."); // never echo any part of it
        if (failure is null) return null;
        Interlocked.Increment(ref _unauthorised);
        return failure with { Headers = [new("WWW-Authenticate", "Bearer")] };
    }

    private Reply? InjectedFault()
    {
        lock (_gate)
        {
            if (_throttleCount > 0)
            {
                _throttleCount--;
                Interlocked.Increment(ref _throttled);
                return Throttled(_throttleDelay);
            }
            if (_failCount > 0)
            {
                _failCount--;
                Interlocked.Increment(ref _injectedFailures);
                var reply = _failStatus >= 500
                    ? Error(_failStatus, _failStatus == 503 ? "service_unavailable" : "internal_error", "The site had an error while processing the request.")
                    : Error(_failStatus, "emulated_failure", $"Emulated failure ({_failStatus.ToString(CultureInfo.InvariantCulture)}).");
                return _failRetryAfter is { } wait ? reply with { Headers = [new("Retry-After", Seconds(wait))] } : reply;
            }
            return null;
        }
    }

    private Reply? RateLimited()
    {
        lock (_gate)
        {
            if (_bucketSize == 0) return null;
            var now = _options.Time.GetUtcNow();
            var elapsed = Math.Max(0, (now - _refilledAt).TotalSeconds);
            _tokens = Math.Min(_bucketSize, _tokens + elapsed * _refillPerSecond);
            _refilledAt = now;
            if (_tokens >= 1)
            {
                _tokens -= 1;
                return null;
            }
            Interlocked.Increment(ref _throttled);
            return Throttled(TimeSpan.FromSeconds((1 - _tokens) / _refillPerSecond));
        }
    }

    private static Reply Throttled(TimeSpan wait) =>
        Error(429, "rate_limited", $"Too many requests; retry after {Seconds(wait)} s.") with { Headers = [new("Retry-After", Seconds(wait))] };

    /// <summary>Retry-After in whole seconds, rounded up, at least 1 (0 would invite an immediate hammering retry).</summary>
    private static string Seconds(TimeSpan wait) => Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    private Reply Read(HttpContext context, SortedDictionary<string, StoredResource> items, string id)
    {
        Interlocked.Increment(ref _reads);
        lock (_gate)
        {
            if (!items.TryGetValue(id, out var stored)) return Error(404, "not_found", $"No resource '{id}'.");
            var etagHeader = new KeyValuePair<string, string>("ETag", stored.ETag);
            if (context.Request.Headers.IfNoneMatch.Any(v => v == stored.ETag || v == "*")) return new Reply(304, null) { Headers = [etagHeader] };
            return new Reply(200, Representation(stored).ToJsonString()) { Headers = [etagHeader] };
        }
    }

    private Reply List(HttpContext context, SortedDictionary<string, StoredResource> items)
    {
        Interlocked.Increment(ref _reads);
        var limit = DefaultPageSize;
        var limitText = context.Request.Query["limit"].ToString();
        if (limitText.Length > 0 && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxPageSize))
            return Error(400, "invalid_limit", $"limit must be an integer from 1 to {MaxPageSize}.");
        string? after = null;
        var cursorText = context.Request.Query["cursor"].ToString();
        if (cursorText.Length > 0)
        {
            after = DecodeCursor(cursorText);
            if (after is null) return Error(400, "invalid_cursor", "cursor is not one this API returned; pass nextCursor back unchanged.");
        }
        lock (_gate)
        {
            var page = items.Where(pair => after is null || string.CompareOrdinal(pair.Key, after) > 0).Take(limit + 1).ToList();
            var more = page.Count > limit;
            if (more) page.RemoveAt(limit);
            var body = new JsonObject
            {
                ["items"] = new JsonArray(page.Select(pair => (JsonNode)Representation(pair.Value)).ToArray()),
                ["nextCursor"] = more ? EncodeCursor(page[^1].Key) : null,
            };
            return new Reply(200, body.ToJsonString());
        }
    }

    private static string EncodeCursor(string id) => Convert.ToBase64String(Encoding.UTF8.GetBytes("after:" + id)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string? DecodeCursor(string cursor)
    {
        var b64 = cursor.Replace('-', '+').Replace('_', '/');
        b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
        var buffer = new byte[b64.Length];
        if (!Convert.TryFromBase64String(b64, buffer, out var n)) return null;
        var text = Encoding.UTF8.GetString(buffer, 0, n);
        return text.StartsWith("after:", StringComparison.Ordinal) ? text["after:".Length..] : null;
    }

    /// <summary>PUT (id given), POST (id null) or DELETE: header checks, body checks, then idempotency and the change under the lock.</summary>
    private async Task<Reply> WriteRequestAsync(HttpContext context, string collection, SortedDictionary<string, StoredResource> items, string? id)
    {
        var request = context.Request;
        var isDelete = HttpMethods.IsDelete(request.Method);
        if (string.IsNullOrWhiteSpace(request.Headers["X-Source"].ToString()))
            return Error(400, "missing_source", "Writes need an X-Source header naming the writer (e.g. X-Source: eventsync).");
        var key = request.Headers["Idempotency-Key"].ToString();
        if (string.IsNullOrWhiteSpace(key)) return Error(400, "missing_idempotency_key", "Writes need an Idempotency-Key header; reuse it only to retry the same request.");
        if (key.Length > MaxIdempotencyKeyLength) return Error(400, "invalid_idempotency_key", $"Idempotency-Key is longer than {MaxIdempotencyKeyLength} characters.");

        byte[] body = [];
        JsonObject? document = null;
        if (!isDelete)
        {
            if (!request.HasJsonContentType()) return Error(415, "unsupported_media_type", "Send the body as Content-Type: application/json.");
            var read = await ReadBodyAsync(request, _options.MaxBodyBytes, context.RequestAborted);
            if (read is null) return Error(413, "payload_too_large", $"The body is larger than {_options.MaxBodyBytes.ToString(CultureInfo.InvariantCulture)} bytes.");
            body = read;
            try
            {
                document = JsonNode.Parse(body) as JsonObject;
            }
            catch (JsonException)
            {
                return Error(400, "invalid_json", "The body is not valid JSON.");
            }
            if (document is null) return Error(400, "invalid_json", "The body must be a JSON object.");
            var bodyId = document["id"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (string.IsNullOrEmpty(bodyId) || bodyId.Length > MaxIdLength) return Error(400, "invalid_id", $"The body needs an \"id\" string of 1 to {MaxIdLength} characters.");
            if (id is not null && bodyId != id) return Error(400, "id_mismatch", $"The body's id '{bodyId}' differs from the URL's id '{id}'.");
            id ??= bodyId;
            document.Remove("updatedAt"); // server-owned
            document.Remove("etag");
        }

        var fingerprint = $"{request.Method} {request.Path} {Convert.ToHexString(SHA256.HashData(body))}";
        var ifMatch = request.Headers.IfMatch.ToString();
        lock (_gate)
        {
            var now = _options.Time.GetUtcNow();
            foreach (var expired in _idempotency.Where(p => p.Value.Expires <= now).Select(p => p.Key).ToList()) _idempotency.Remove(expired);
            if (_idempotency.TryGetValue(key, out var previous))
            {
                if (previous.Fingerprint != fingerprint)
                    return Error(422, "idempotency_key_reused", "This Idempotency-Key was used for a different request; use a new key for a new request.");
                Interlocked.Increment(ref _replays);
                return previous.Reply with { Headers = [.. previous.Reply.Headers, new("Idempotent-Replayed", "true")], Replayed = true };
            }

            items.TryGetValue(id!, out var existing);
            if (ifMatch.Length > 0 && (existing is null || (ifMatch != "*" && !ifMatch.Split(',').Select(t => t.Trim()).Contains(existing.ETag))))
                return Error(412, "precondition_failed", existing is null ? $"No resource '{id}' to match If-Match against." : $"'{id}' has changed: its etag is {existing.ETag}.");

            Reply reply;
            string action;
            if (isDelete)
            {
                if (existing is null) return Error(404, "not_found", $"No resource '{id}'.");
                items.Remove(id!);
                reply = new Reply(204, null);
                action = "deleted";
            }
            else
            {
                if (HttpMethods.IsPost(request.Method) && existing is not null)
                    return Error(409, "already_exists", $"'{id}' already exists in {collection}; PUT /api/{collection}/{{id}} updates it.");
                var (stored, created) = Upsert(items, id!, document!);
                var location = $"/api/{collection}/{Uri.EscapeDataString(id!)}";
                reply = new Reply(created ? 201 : 200, Representation(stored).ToJsonString())
                {
                    Headers = created ? [new("ETag", stored.ETag), new("Location", location)] : [new("ETag", stored.ETag)],
                };
                action = created ? "created" : "updated";
            }
            Interlocked.Increment(ref _writes);
            _idempotency[key] = new StoredReply(fingerprint, reply, now + _options.IdempotencyWindow);
            Emit(collection, id!, action, WebsiteEventOrigin.Api);
            return reply;
        }
    }

    /// <summary>The body, or null when it is larger than <paramref name="limit"/> (stops reading there).</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int limit, CancellationToken ct)
    {
        if (request.ContentLength > limit) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            var n = await request.Body.ReadAsync(chunk, ct);
            if (n == 0) return buffer.ToArray();
            if (buffer.Length + n > limit) return null;
            buffer.Write(chunk, 0, n);
        }
    }

    /// <summary>Stores the document (caller holds the lock); the etag follows the content, updatedAt every write.</summary>
    private (StoredResource Stored, bool Created) Upsert(SortedDictionary<string, StoredResource> items, string id, JsonObject document)
    {
        var json = document.ToJsonString();
        var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)).AsSpan(0, 12)) + "\"";
        var created = !items.ContainsKey(id);
        var stored = new StoredResource(document, _options.Time.GetUtcNow(), etag);
        items[id] = stored;
        return (stored, created);
    }

    private static JsonObject Representation(StoredResource stored)
    {
        var copy = (JsonObject)stored.Document.DeepClone();
        copy["updatedAt"] = stored.UpdatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
        copy["etag"] = stored.ETag;
        return copy;
    }

    private static Reply Error(int status, string code, string message)
    {
        var body = new JsonObject { ["error"] = code, ["message"] = message };
        return new Reply(status, body.ToJsonString());
    }

    private void Record(HttpContext context, Reply reply)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in context.Request.Headers)
        {
            if (!name.Equals("Authorization", StringComparison.OrdinalIgnoreCase)) headers[name] = values.ToString();
        }
        var key = context.Request.Headers["Idempotency-Key"].ToString();
        _log.Enqueue(new WebsiteRequestRecord(_options.Time.GetUtcNow(), context.Request.Method, context.Request.Path.ToString(), context.Request.QueryString.ToString(),
            headers, key.Length > 0 ? key : null, reply.Status, reply.Replayed));
    }

    private static async Task WriteAsync(HttpContext context, Reply reply)
    {
        context.Response.StatusCode = reply.Status;
        foreach (var (name, value) in reply.Headers) context.Response.Headers[name] = value;
        if (reply.Json is null) return;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(reply.Json), context.RequestAborted);
    }

    // ---------------------------------------------------------------- event delivery

    /// <summary>Queues an event (caller holds the lock, so the queue order is the order of the changes).</summary>
    private void Emit(string collection, string id, string action, WebsiteEventOrigin origin)
    {
        var evt = new WebsiteEvent(collection, Collections[collection], id, action, origin);
        _events.Add(evt);
        if (_pendingEvents++ == 0) _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _outbox.Writer.TryWrite(evt);
    }

    private async Task DeliverLoopAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var evt in _outbox.Reader.ReadAllAsync(ct))
            {
                try
                {
                    List<(Uri Url, byte[] Key)> hooks;
                    lock (_gate) hooks = [.. _webhooks];
                    var body = EventBody(evt);
                    foreach (var (url, key) in hooks) await DeliverAsync(url, key, body, ct);
                }
                finally
                {
                    lock (_gate)
                    {
                        if (--_pendingEvents == 0) _idle.TrySetResult();
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // stopping
        }
    }

    private async Task DeliverAsync(Uri url, byte[] key, byte[] body, CancellationToken ct)
    {
        var webhookId = "msg_" + Guid.NewGuid().ToString("N");
        for (var attempt = 1; attempt <= _options.WebhookAttempts; attempt++)
        {
            var timestamp = _options.Time.GetUtcNow().ToUnixTimeSeconds();
            var signature = StandardWebhookSignature.Sign(key, webhookId, timestamp, body);
            int? status = null;
            string? error = null;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.TryAddWithoutValidation("webhook-id", webhookId);
                request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
                request.Headers.TryAddWithoutValidation("webhook-signature", signature);
                request.Headers.TryAddWithoutValidation("User-Agent", "EventSync-WebsiteEmulator/1.0");
                using var response = await _webhookHttp.SendAsync(request, ct);
                status = (int)response.StatusCode;
            }
            catch (HttpRequestException ex)
            {
                error = ex.Message;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                error = "timed out";
            }
            var delivery = new WebhookDelivery(url, webhookId, timestamp, signature, Encoding.UTF8.GetString(body), attempt, status, error);
            _deliveries.Enqueue(delivery);
            if (delivery.Succeeded)
            {
                Interlocked.Increment(ref _deliveriesSucceeded);
                return;
            }
            Interlocked.Increment(ref _deliveriesFailed);
            var worthRetrying = status is null or 408 or 429 or >= 500;
            if (!worthRetrying || attempt == _options.WebhookAttempts) return;
            await Task.Delay(_options.WebhookRetryDelay * attempt, _options.Time, ct);
        }
    }

    private static byte[] EventBody(WebsiteEvent evt)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("event_type", EventType);
            w.WriteStartObject("client_payload");
            w.WriteString("resource", evt.Resource);
            w.WriteString("id", evt.Id);
            w.WriteString("action", evt.Action);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }

    public async ValueTask DisposeAsync()
    {
        _outbox.Writer.TryComplete();
        await _stopping.CancelAsync();
        await _deliveryLoop;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _webhookHttp.Dispose();
        _stopping.Dispose();
    }
}
