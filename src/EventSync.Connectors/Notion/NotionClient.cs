using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSync.Connectors.Http;

namespace EventSync.Connectors.Notion;

/// <summary>
/// Client of the Notion API with data sources (Notion-Version 2025-09-03): queries, pages and block trees.
/// </summary>
/// <remarks>
/// Protocol facts (docs/protocol reference, sections 3 and 4): a client paces itself to about 3 requests a second; 429 and
/// 529 carry Retry-After (integer seconds); 409 conflict_error means "retry the write"; 500/502/503/504 are retried only for
/// reads and DELETE because a write may have been saved. Timestamps are rounded down to the minute, so incremental polls
/// must overlap (see <see cref="QueryEditedSinceAsync"/>). A request carries at most 100 children a level, 2 levels,
/// 1000 blocks and 500 KB; rich-text content and URLs are at most 2000 characters, rich-text arrays at most 100 items.
/// </remarks>
public sealed partial class NotionClient
{
    public const string SystemName = "Notion";

    private readonly HttpClient _http;
    private readonly NotionClientOptions _options;
    private readonly Uri _root;
    private readonly RequestPacer _pacer;

    public NotionClient(HttpClient http, NotionClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Token)) throw new ArgumentException("a Notion token is required", nameof(options));
        if (options.RequestsPerSecond <= 0) throw new ArgumentException("RequestsPerSecond must be positive", nameof(options));
        if (options.Burst < 1) throw new ArgumentException("Burst must be at least 1", nameof(options));
        if (options.ConflictRetries < 0 || options.ServerErrorRetries < 0) throw new ArgumentException("retry counts cannot be negative", nameof(options));
        _http = http;
        _options = options;
        _root = new Uri(options.ApiUrl.ToString().TrimEnd('/') + "/");
        _pacer = new RequestPacer(options.RequestsPerSecond, options.Burst, options.Time);
    }

    /// <summary>Throttle answers waited out before giving up, however short their Retry-After.</summary>
    private const int MaxThrottleRetries = 10;

    /// <summary>A dashless, dashed or URL-suffixed (…/Title-1a2b…?pvs=4) Notion id as the dashed lowercase UUID Notion returns.</summary>
    public static string NormalizeId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var text = id.Trim();
        var cut = text.IndexOfAny(['?', '#']);
        if (cut >= 0) text = text[..cut];
        text = text.TrimEnd('/');
        var slash = text.LastIndexOf('/');
        if (slash >= 0) text = text[(slash + 1)..];
        var hex = text.Replace("-", "", StringComparison.Ordinal);
        if (hex.Length >= 32) hex = hex[^32..];
        if (hex.Length != 32 || !hex.All(char.IsAsciiHexDigit)) throw new ArgumentException($"'{id}' is not a Notion id (32 hex digits, dashes optional)", nameof(id));
        hex = hex.ToLowerInvariant();
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }

    public async Task<JsonObject> GetDataSourceAsync(string dataSourceId, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Get, $"v1/data_sources/{NormalizeId(dataSourceId)}", null, Safe.Yes, ct))!;

    /// <summary>Every page matching <paramref name="filter"/> (all result pages, following cursors); trashed pages are never returned.</summary>
    public async Task<IReadOnlyList<JsonObject>> QueryAsync(string dataSourceId, JsonObject? filter, JsonArray? sorts, CancellationToken ct)
    {
        var path = $"v1/data_sources/{NormalizeId(dataSourceId)}/query";
        var pages = new List<JsonObject>();
        string? cursor = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var round = 0; round < 100_000; round++)
        {
            var body = new JsonObject { ["page_size"] = 100 };
            if (filter is not null) body["filter"] = filter.DeepClone();
            if (sorts is not null) body["sorts"] = sorts.DeepClone();
            if (cursor is not null) body["start_cursor"] = cursor;
            var list = (await SendAsync(HttpMethod.Post, path, body, Safe.Yes, ct))!;
            pages.AddRange(Results(list));
            cursor = NextCursor(list);
            if (cursor is null) return pages;
            if (!seen.Add(cursor)) throw Unexpected($"the query cursor {cursor} came back twice");
        }
        throw Unexpected("the query did not end after 100,000 result pages");
    }

    /// <summary>
    /// Pages whose last_edited_time is on or after <paramref name="onOrAfter"/>, oldest edit first. Notion rounds
    /// last_edited_time down to the minute, so a poller must pass (watermark − 1 minute) and deduplicate on
    /// (id, last_edited_time) plus a content hash: an edit made later in the watermark's minute carries a timestamp before it.
    /// </summary>
    public Task<IReadOnlyList<JsonObject>> QueryEditedSinceAsync(string dataSourceId, DateTimeOffset onOrAfter, CancellationToken ct) =>
        QueryAsync(dataSourceId,
            new JsonObject
            {
                ["timestamp"] = "last_edited_time",
                ["last_edited_time"] = new JsonObject { ["on_or_after"] = onOrAfter.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) },
            },
            [new JsonObject { ["timestamp"] = "last_edited_time", ["direction"] = "ascending" }], ct);

    /// <summary>The page whose title or rich_text property equals <paramref name="value"/>; the earliest created when several do; null when none.</summary>
    public async Task<JsonObject?> FindPageAsync(string dataSourceId, string property, string propertyType, string value, CancellationToken ct)
    {
        if (propertyType is not ("title" or "rich_text")) throw new ArgumentException("propertyType must be title or rich_text", nameof(propertyType));
        var filter = new JsonObject { ["property"] = property, [propertyType] = new JsonObject { ["equals"] = value } };
        var pages = await QueryAsync(dataSourceId, filter, [new JsonObject { ["timestamp"] = "created_time", ["direction"] = "ascending" }], ct);
        return pages.Count == 0 ? null : pages[0];
    }

    /// <summary>The page, trashed or not; null when Notion answers 404 (missing or not shared with the integration).</summary>
    public Task<JsonObject?> GetPageAsync(string pageId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, $"v1/pages/{NormalizeId(pageId)}", null, Safe.Yes, ct, notFoundIsNull: true);

    /// <summary>
    /// Creates a page with its content. As much content as fits one request goes with the page; the rest is appended.
    /// If an append fails the page exists with partial content: the next sync sees a different content hash and replaces it.
    /// </summary>
    public async Task<JsonObject> CreatePageAsync(string dataSourceId, JsonObject properties, IReadOnlyList<JsonObject> blocks, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(properties);
        ArgumentNullException.ThrowIfNull(blocks);
        var prepared = Prepare(blocks);
        var inline = InlinePrefix(prepared);
        var body = new JsonObject
        {
            ["parent"] = new JsonObject { ["type"] = "data_source_id", ["data_source_id"] = NormalizeId(dataSourceId) },
            ["properties"] = SplitPropertyText(properties),
        };
        if (inline > 0) body["children"] = new JsonArray(prepared.Take(inline).Select(b => (JsonNode)b.Wire(inlineChildren: true)).ToArray());
        var page = (await SendAsync(HttpMethod.Post, "v1/pages", body, Safe.No, ct))!;
        if (inline < prepared.Count) await WriteChildrenAsync(Id(page), prepared.Skip(inline).ToList(), ct);
        return page;
    }

    /// <summary>Sets the given properties (write shape); others are left alone.</summary>
    public async Task<JsonObject> UpdatePageAsync(string pageId, JsonObject properties, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(properties);
        return (await SendAsync(HttpMethod.Patch, $"v1/pages/{NormalizeId(pageId)}", new JsonObject { ["properties"] = SplitPropertyText(properties) }, Safe.No, ct))!;
    }

    public Task TrashPageAsync(string pageId, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, $"v1/pages/{NormalizeId(pageId)}", new JsonObject { ["in_trash"] = true }, Safe.No, ct);

    public Task RestorePageAsync(string pageId, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, $"v1/pages/{NormalizeId(pageId)}", new JsonObject { ["in_trash"] = false }, Safe.No, ct);

    /// <summary>
    /// The whole content under a page or block: every result page of every level. Each block's children are attached as
    /// <c>block[type]["children"]</c>, the nested shape used for writing. Child pages and databases are not descended into.
    /// </summary>
    public async Task<IReadOnlyList<JsonObject>> GetBlocksAsync(string blockId, CancellationToken ct)
    {
        var blocks = await ListChildrenAsync(NormalizeId(blockId), ct);
        foreach (var block in blocks)
        {
            var type = block["type"]?.GetValue<string>();
            if (type is null or "child_page" or "child_database" || block["has_children"]?.GetValue<bool>() != true) continue;
            if (block[type] is not JsonObject payload) throw Unexpected($"block {Id(block)} has no {type} object");
            var children = await GetBlocksAsync(Id(block), ct);
            payload["children"] = new JsonArray(children.Select(c => (JsonNode)c).ToArray());
        }
        return blocks;
    }

    /// <summary>
    /// Replaces a page's content: trashes its top-level blocks, then appends <paramref name="blocks"/>. Not atomic (Notion has
    /// no transaction): a failure part-way leaves the page with part of the old or new content. That is safe because the sync
    /// compares content hashes, sees the page differ from its source, and replaces it again on the next run.
    /// </summary>
    public async Task ReplaceBlocksAsync(string pageId, IReadOnlyList<JsonObject> blocks, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        var id = NormalizeId(pageId);
        var prepared = Prepare(blocks); // validate the new content before deleting the old
        foreach (var existing in await ListChildrenAsync(id, ct))
            await SendAsync(HttpMethod.Delete, $"v1/blocks/{Id(existing)}", null, Safe.Yes, ct);
        await WriteChildrenAsync(id, prepared, ct);
    }

    /// <summary>Appends blocks of any depth and count under a page or block, split into requests within Notion's limits.</summary>
    public Task AppendBlocksAsync(string parentId, IReadOnlyList<JsonObject> blocks, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        return WriteChildrenAsync(NormalizeId(parentId), Prepare(blocks), ct);
    }

    private async Task<List<JsonObject>> ListChildrenAsync(string blockId, CancellationToken ct)
    {
        var blocks = new List<JsonObject>();
        string? cursor = null;
        for (var round = 0; round < 100_000; round++)
        {
            var path = $"v1/blocks/{blockId}/children?page_size=100" + (cursor is null ? "" : "&start_cursor=" + Uri.EscapeDataString(cursor));
            var list = (await SendAsync(HttpMethod.Get, path, null, Safe.Yes, ct))!;
            blocks.AddRange(Results(list));
            var next = NextCursor(list);
            if (next is null) return blocks;
            if (next == cursor) throw Unexpected($"the children cursor {cursor} came back twice");
            cursor = next;
        }
        throw Unexpected("the block listing did not end after 100,000 pages");
    }

    /// <summary>The results of a list answer, detached from it so callers can attach them elsewhere (as children).</summary>
    private static List<JsonObject> Results(JsonObject list)
    {
        if (list["results"] is not JsonArray results) throw Unexpected("a list answer has no results array");
        var items = results.Select(r => r as JsonObject ?? throw Unexpected("a list result is not an object")).ToList();
        results.Clear();
        return items;
    }

    private static string? NextCursor(JsonObject list) =>
        list["has_more"]?.GetValue<bool>() == true ? list["next_cursor"]?.GetValue<string>() ?? throw Unexpected("has_more without next_cursor") : null;

    private static string Id(JsonObject o) => o["id"]?.GetValue<string>() ?? throw Unexpected("an object without id");

    private static ApiException Unexpected(string message) => new(SystemName, HttpStatusCode.OK, "unexpected_response", message, retryable: true);

    /// <summary>Whether repeating a request after a 5xx is harmless: reads, queries and DELETE are; creates and updates are not.</summary>
    private enum Safe { No, Yes }

    private async Task<JsonObject?> SendAsync(HttpMethod method, string path, JsonObject? body, Safe safe, CancellationToken ct, bool notFoundIsNull = false)
    {
        var bytes = body is null ? null : Encoding.UTF8.GetBytes(body.ToJsonString());
        var uri = new Uri(_root, path);
        int conflicts = 0, serverErrors = 0, throttles = 0;
        var maxAttempts = 1 + _options.ConflictRetries + _options.ServerErrorRetries + MaxThrottleRetries;
        for (var attempt = 1; attempt <= maxAttempts; attempt++)
        {
            await _pacer.WaitAsync(ct);
            using var request = new HttpRequestMessage(method, uri);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.Token);
            request.Headers.TryAddWithoutValidation("Notion-Version", _options.Version);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (bytes is not null)
            {
                request.Content = new ByteArrayContent(bytes);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode) return Parse(text, status) ?? throw Unexpected($"{method} {path} answered {status} without a JSON object");

            var (code, message, additional) = ErrorOf(text, status);
            switch (status)
            {
                case 429 or 529:
                    if (additional?["rate_limit_reason"]?.GetValue<string>() == "public_api_request_blocked")
                        throw new ApiException(SystemName, response.StatusCode, code, message, retryable: false);
                    var retryAfter = RetryAfter(response, additional);
                    if (retryAfter > _options.MaxThrottleWait || ++throttles > MaxThrottleRetries)
                        throw new ApiThrottledException(SystemName, retryAfter, $"{status} {code}: {message}");
                    _pacer.PauseFor(retryAfter);
                    continue;
                case 409 when code == "conflict_error" && conflicts < _options.ConflictRetries:
                    conflicts++;
                    await Task.Delay(TimeSpan.FromMilliseconds(100 * conflicts), _options.Time, ct); // let the other write finish
                    continue;
                case 500 or 502 or 503 or 504 when safe == Safe.Yes && serverErrors < _options.ServerErrorRetries:
                    serverErrors++;
                    await Task.Delay(TimeSpan.FromMilliseconds(250 * Math.Pow(2, serverErrors - 1)), _options.Time, ct);
                    continue;
                case 404 when notFoundIsNull:
                    return null;
                default:
                    // 4xx other than 409/429 are the request's fault; 5xx and an outlived 409 may pass later.
                    throw new ApiException(SystemName, response.StatusCode, code, message, retryable: status >= 500 || status == 409);
            }
        }
        throw new ApiException(SystemName, HttpStatusCode.ServiceUnavailable, "retries_exhausted", $"{method} {path} failed after {maxAttempts} attempts", retryable: true);
    }

    private static JsonObject? Parse(string text, int status)
    {
        try
        {
            return JsonNode.Parse(text) as JsonObject;
        }
        catch (JsonException e)
        {
            throw Unexpected($"answer {status} is not JSON: {e.Message}");
        }
    }

    private static (string Code, string Message, JsonObject? Additional) ErrorOf(string text, int status)
    {
        try
        {
            if (JsonNode.Parse(text) is JsonObject { } error && error["code"] is JsonValue code)
                return (code.GetValue<string>(), error["message"]?.GetValue<string>() ?? "", error["additional_data"] as JsonObject);
        }
        catch (JsonException)
        {
            // a proxy's HTML page: fall through to a generic description
        }
        return ("http_" + status.ToString(CultureInfo.InvariantCulture), text.Length > 200 ? text[..200] : text, null);
    }

    /// <summary>Retry-After in seconds (or as a date), else additional_data.retry_after, else one second.</summary>
    private TimeSpan RetryAfter(HttpResponseMessage response, JsonObject? additional)
    {
        if (response.Headers.RetryAfter?.Delta is { } delta) return delta;
        if (response.Headers.RetryAfter?.Date is { } date) return date - _options.Time.GetUtcNow() is var d && d > TimeSpan.Zero ? d : TimeSpan.Zero;
        if (additional?["retry_after"] is JsonValue v && double.TryParse(v.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            return TimeSpan.FromSeconds(seconds);
        return TimeSpan.FromSeconds(1);
    }
}
