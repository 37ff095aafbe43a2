using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSync.Emulators.Notion;

/// <summary>
/// The Notion API (version 2025-09-03, data sources) on loopback: databases with one data source each, pages, block
/// trees, queries, Notion's limits and error shapes, a token-bucket rate limit, injectable faults and signed webhooks.
/// Strict on purpose: a client that breaks one of Notion's rules gets the error Notion would send.
/// </summary>
public sealed partial class NotionEmulator : IAsyncDisposable
{
    public const string SupportedVersion = "2025-09-03";
    public const int MaxPageSize = 100;
    public const int MaxChildrenPerRequest = 100;
    public const int MaxNestingPerRequest = 2;
    public const int MaxBlocksPerRequest = 1000;
    public const int MaxRequestBytes = 500 * 1000;
    public const int MaxTextLength = 2000;
    public const int MaxArrayLength = 100;

    private readonly WebApplication _app;
    private readonly NotionEmulatorOptions _options;
    private readonly Lock _gate = new(); // guards the model, the fault counters and the rate bucket
    private readonly ConcurrentDictionary<string, long> _requestsByEndpoint = new(StringComparer.Ordinal);
    private readonly Queue<DateTimeOffset> _lastSecond = new();
    private double _tokens;
    private long _bucketStamp;
    private int _throttleCount;
    private TimeSpan _throttleDelay;
    private int _overloadCount;
    private int _conflictCount;
    private int _failCount;
    private int _failStatus;
    private long _throttled;
    private int _maxPerSecond;
    private volatile bool _enforceRate = true;

    private sealed class NotionError(int status, string code, string message) : Exception(message)
    {
        public int Status { get; } = status;
        public string Code { get; } = code;
        public int? RetryAfterSeconds { get; init; }
    }

    private NotionEmulator(WebApplication app, NotionEmulatorOptions options)
    {
        _app = app;
        _options = options;
        _tokens = options.Burst;
        _bucketStamp = options.Time.GetTimestamp();
        _webhookHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>The API root without /v1 (like https://api.notion.com): the client appends /v1/...</summary>
    public Uri BaseUrl { get; private set; } = null!;

    public NotionEmulatorOptions Options => _options;

    /// <summary>On (the default): a request beyond the token bucket gets 429 rate_limited. Off: no rate limit.</summary>
    public bool EnforceRateLimit { get => _enforceRate; set => _enforceRate = value; }

    /// <summary>Requests received per endpoint template (e.g. "PATCH /v1/blocks/{id}/children"), whatever the answer.</summary>
    public IReadOnlyDictionary<string, long> RequestsByEndpoint => new Dictionary<string, long>(_requestsByEndpoint, StringComparer.Ordinal);

    public long TotalRequests => _requestsByEndpoint.Values.Sum();

    /// <summary>429 answers sent, from the rate limit and from <see cref="ThrottleNext"/>.</summary>
    public long ThrottledResponses => Interlocked.Read(ref _throttled);

    /// <summary>The most requests received within any one second (rolling window), answered or refused.</summary>
    public int MaxObservedRequestsPerSecond { get { lock (_gate) return _maxPerSecond; } }

    /// <summary>The next <paramref name="count"/> authorised requests get 429 rate_limited with Retry-After in whole seconds (rounded up).</summary>
    public void ThrottleNext(int count, TimeSpan retryAfter)
    {
        lock (_gate)
        {
            _throttleCount = count;
            _throttleDelay = retryAfter;
        }
    }

    /// <summary>The next <paramref name="count"/> authorised requests get 529 service_overload (with Retry-After: 1).</summary>
    public void OverloadNext(int count)
    {
        lock (_gate) _overloadCount = count;
    }

    /// <summary>The next <paramref name="count"/> writes (POST, PATCH, DELETE other than queries) get 409 conflict_error.</summary>
    public void ConflictNext(int count)
    {
        lock (_gate) _conflictCount = count;
    }

    /// <summary>
    /// The next <paramref name="count"/> authorised requests get <paramref name="status"/> (500, 502, 503 or 504) with
    /// Notion's code for it. The request is not carried out, but a client cannot know that for a write.
    /// </summary>
    public void FailNext(int count, int status)
    {
        if (status is not (500 or 502 or 503 or 504)) throw new ArgumentOutOfRangeException(nameof(status), "500, 502, 503 or 504");
        lock (_gate)
        {
            _failCount = count;
            _failStatus = status;
        }
    }

    public static async Task<NotionEmulator> StartAsync(NotionEmulatorOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.RequestsPerSecond <= 0) throw new ArgumentException("RequestsPerSecond must be positive", nameof(options));
        if (options.Burst < 1) throw new ArgumentException("Burst must be at least 1", nameof(options));
        if (string.IsNullOrEmpty(options.Token)) throw new ArgumentException("Token is required", nameof(options));

        var app = LoopbackApp.Create(options.Port);
        var emulator = new NotionEmulator(app, options);
        app.Run(emulator.HandleAsync);
        emulator.BaseUrl = await LoopbackApp.StartAsync(app, ct);
        return emulator;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var method = context.Request.Method;
        var segments = (context.Request.Path.Value ?? "").Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        var endpoint = EndpointName(method, segments);
        _requestsByEndpoint.AddOrUpdate(endpoint, 1, (_, n) => n + 1);
        CountRate();
        JsonNode? result;
        int status = 200;
        try
        {
            CheckAuthAndVersion(context);
            RateLimit();
            InjectedFault(method, endpoint);
            JsonObject? body = null;
            if (method is "POST" or "PATCH")
            {
                using var buffer = new MemoryStream();
                await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
                if (buffer.Length > MaxRequestBytes)
                    throw new NotionError(400, "validation_error", $"Request body too large: {buffer.Length.ToString(CultureInfo.InvariantCulture)} bytes, the limit is 500KB.");
                body = ParseBody(buffer.ToArray());
            }
            result = Route(method, segments, body, context.Request.Query);
        }
        catch (NotionError error)
        {
            status = error.Status;
            if (error.RetryAfterSeconds is { } seconds) context.Response.Headers["Retry-After"] = seconds.ToString(CultureInfo.InvariantCulture);
            result = ErrorBody(error);
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(result!.ToJsonString(), context.RequestAborted);
    }

    private static JsonObject ParseBody(byte[] bytes)
    {
        if (bytes.Length == 0) return [];
        try
        {
            return JsonNode.Parse(bytes) as JsonObject ?? throw new NotionError(400, "invalid_json", "Error parsing JSON body: the body must be an object.");
        }
        catch (JsonException e)
        {
            throw new NotionError(400, "invalid_json", "Error parsing JSON body. " + e.Message);
        }
    }

    private static JsonObject ErrorBody(NotionError error)
    {
        var body = new JsonObject
        {
            ["object"] = "error", ["status"] = error.Status, ["code"] = error.Code, ["message"] = error.Message,
            ["request_id"] = Guid.NewGuid().ToString(),
        };
        if (error.RetryAfterSeconds is { } seconds)
            body["additional_data"] = new JsonObject { ["retry_after"] = seconds.ToString(CultureInfo.InvariantCulture) };
        return body;
    }

    private void CheckAuthAndVersion(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal) || header["Bearer ".Length..] != _options.Token)
            throw new NotionError(401, "unauthorized", "API token is invalid.");
        var version = context.Request.Headers["Notion-Version"].ToString();
        if (version.Length == 0)
            throw new NotionError(400, "missing_version", "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.");
        if (version != SupportedVersion)
            throw new NotionError(400, "validation_error", $"Notion-Version header failed validation: the emulator serves `{SupportedVersion}`, instead was `{version}`.");
    }

    private void CountRate()
    {
        var now = _options.Time.GetUtcNow();
        lock (_gate)
        {
            _lastSecond.Enqueue(now);
            while (now - _lastSecond.Peek() >= TimeSpan.FromSeconds(1)) _lastSecond.Dequeue();
            _maxPerSecond = Math.Max(_maxPerSecond, _lastSecond.Count);
        }
    }

    private void RateLimit()
    {
        if (!_enforceRate) return;
        lock (_gate)
        {
            var now = _options.Time.GetTimestamp();
            _tokens = Math.Min(_options.Burst, _tokens + _options.Time.GetElapsedTime(_bucketStamp, now).TotalSeconds * _options.RequestsPerSecond);
            _bucketStamp = now;
            if (_tokens >= 1)
            {
                _tokens -= 1;
                return;
            }
            Interlocked.Increment(ref _throttled);
            var wait = Math.Max(1, (int)Math.Ceiling((1 - _tokens) / _options.RequestsPerSecond));
            throw new NotionError(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.") { RetryAfterSeconds = wait };
        }
    }

    private void InjectedFault(string method, string endpoint)
    {
        lock (_gate)
        {
            if (_throttleCount > 0)
            {
                _throttleCount--;
                Interlocked.Increment(ref _throttled);
                throw new NotionError(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.")
                {
                    RetryAfterSeconds = Math.Max(0, (int)Math.Ceiling(_throttleDelay.TotalSeconds)),
                };
            }
            if (_overloadCount > 0)
            {
                _overloadCount--;
                throw new NotionError(529, "service_overload", "Notion is experiencing high load. Please try again later.") { RetryAfterSeconds = 1 };
            }
            if (_failCount > 0)
            {
                _failCount--;
                var (code, message) = _failStatus switch
                {
                    500 => ("internal_server_error", "Unexpected error occurred."),
                    502 => ("bad_gateway", "Bad gateway."),
                    503 => ("service_unavailable", "Notion is unavailable, please try again later."),
                    _ => ("gateway_timeout", "Gateway timeout."),
                };
                throw new NotionError(_failStatus, code, message);
            }
            var isWrite = method is "PATCH" or "DELETE" || (method == "POST" && !endpoint.EndsWith("/query", StringComparison.Ordinal));
            if (isWrite && _conflictCount > 0)
            {
                _conflictCount--;
                throw new NotionError(409, "conflict_error", "Conflict occurred while saving. Please try again.");
            }
        }
    }

    private static string EndpointName(string method, string[] s)
    {
        var template = s.Select((part, i) => i >= 2 && LooksLikeId(part) ? "{id}" : part);
        return method + " /" + string.Join('/', template);
    }

    private static bool LooksLikeId(string part) => part.Length >= 32 && part.All(c => char.IsAsciiHexDigit(c) || c == '-');

    private JsonNode Route(string method, string[] s, JsonObject? body, IQueryCollection query)
    {
        if (s.Length < 2 || s[0] != "v1") throw InvalidUrl(method, s);
        var id = s.Length >= 3 ? PathId(s[2], s[1]) : null;
        return (method, s[1], s.Length) switch
        {
            ("GET", "databases", 3) => GetDatabase(id!),
            ("GET", "data_sources", 3) => GetDataSource(id!),
            ("POST", "data_sources", 4) when s[3] == "query" => QueryDataSource(id!, body!),
            ("POST", "pages", 2) => CreatePage(body!, Bot),
            ("GET", "pages", 3) => GetPageObject(id!),
            ("PATCH", "pages", 3) => UpdatePage(id!, body!, Bot),
            ("GET", "blocks", 3) => GetBlockObject(id!),
            ("GET", "blocks", 4) when s[3] == "children" => ListChildren(id!, query),
            ("PATCH", "blocks", 4) when s[3] == "children" => AppendChildren(id!, body!, Bot),
            ("PATCH", "blocks", 3) => UpdateBlock(id!, body!, Bot),
            ("DELETE", "blocks", 3) => DeleteBlock(id!, Bot),
            _ => throw InvalidUrl(method, s),
        };
    }

    private static NotionError InvalidUrl(string method, string[] s) =>
        new(400, "invalid_request_url", $"Invalid request URL: {method} /{string.Join('/', s)}.");

    /// <summary>Notion accepts ids with or without dashes and answers with dashes.</summary>
    private static string PathId(string raw, string resource)
    {
        if (Guid.TryParseExact(raw, "N", out var g) || Guid.TryParseExact(raw, "D", out g)) return g.ToString("D");
        throw new NotionError(400, "validation_error", $"path failed validation: path.{resource.TrimEnd('s')}_id should be a valid uuid, instead was `\"{raw}\"`.");
    }

    private static NotionError NotFound(string id, string what = "block") =>
        new(404, "object_not_found", $"Could not find {what} with ID: {id}. Make sure the relevant pages and databases are shared with your integration.");

    private static NotionError Invalid(string message) => new(400, "validation_error", message);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _stopping.CancelAsync(); // pending deliveries end at their next await
        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await WebhooksIdleAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                // a delivery stuck in a receiver: the HttpClient disposal below aborts it
            }
        }
        _webhookHttp.Dispose();
        _stopping.Dispose();
    }
}
