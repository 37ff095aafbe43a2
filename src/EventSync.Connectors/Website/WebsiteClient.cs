using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSync.Connectors.Http;

namespace EventSync.Connectors.Website;

/// <summary>How <see cref="WebsiteClient.UpsertAsync"/> writes: PUT to the resource, or POST to the collection and PUT on 409.</summary>
public enum WebsiteUpsertMethod { Put, Post }

public sealed record WebsiteClientOptions
{
    // A record prints its members: keep the credential out of any log or exception that formats the options.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("BaseUrl = ").Append(BaseUrl).Append(", ApiKey = ***");
        return true;
    }

    /// <summary>The site root; resources are at <c>{BaseUrl}/api/{collection}/{id}</c>.</summary>
    public required Uri BaseUrl { get; init; }
    /// <summary>Sent as <c>Authorization: Bearer</c>; never logged nor put in an exception.</summary>
    public required string ApiKey { get; init; }
    /// <summary>The <c>X-Source</c> header every write carries.</summary>
    public string Source { get; init; } = "eventsync";
    public WebsiteUpsertMethod UpsertMethod { get; init; } = WebsiteUpsertMethod.Put;
    /// <summary>Clock for Retry-After given as an HTTP date.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>What the site answered to a write: the stored version's validators, so a later change event can be told apart from our own echo.</summary>
public sealed record WebsiteWriteResult(string Collection, string Id, bool Created, string? ETag, DateTimeOffset? UpdatedAt, bool Replayed, JsonObject? Document);

/// <summary>
/// Client of the website's resource API (see EventSync.Emulators.Website.WebsiteApiEmulator for the contract): upsert,
/// delete and read of JSON resources with an idempotency key on every write.
/// </summary>
/// <remarks>
/// Errors: 429, and 503 with Retry-After, become <see cref="ApiThrottledException"/>; other 5xx, 408 and network failures
/// a retryable <see cref="ApiException"/>; other 4xx a permanent one with the site's <c>error</c> code and message. In
/// <see cref="WebsiteUpsertMethod.Post"/> mode the fallback PUT after a 409 uses the key suffixed with <c>:put</c>: the
/// site ties a key to one method and path, so a retried upsert replays both steps instead of meeting a 422.
/// </remarks>
public sealed class WebsiteClient
{
    public const string System = "website";
    /// <summary>The pause asked of callers after a 429 that names no delay.</summary>
    public static readonly TimeSpan DefaultThrottleDelay = TimeSpan.FromSeconds(5);

    private readonly HttpClient _http;
    private readonly WebsiteClientOptions _options;
    private readonly Uri _root;
    private readonly string _apiKey;

    public WebsiteClient(HttpClient http, WebsiteClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        if (!options.BaseUrl.IsAbsoluteUri || options.BaseUrl.Scheme is not ("http" or "https"))
            throw new ArgumentException($"BaseUrl '{options.BaseUrl}' is not an absolute http(s) URL", nameof(options));
        if (string.IsNullOrWhiteSpace(options.ApiKey)) throw new ArgumentException("an API key is required", nameof(options));
        _apiKey = options.ApiKey.Trim(); // a key read from a file often ends in a newline
        if (_apiKey.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))) throw new ArgumentException("the API key contains whitespace or control characters", nameof(options));
        if (string.IsNullOrWhiteSpace(options.Source)) throw new ArgumentException("a Source is required", nameof(options));
        _http = http;
        _options = options;
        var root = options.BaseUrl.ToString();
        _root = new Uri(root.EndsWith('/') ? root : root + "/"); // so "api/..." resolves below a path prefix
    }

    /// <summary>Creates or replaces the resource; <paramref name="document"/>'s "id" is set to <paramref name="id"/>.</summary>
    public async Task<WebsiteWriteResult> UpsertAsync(string collection, string id, JsonObject document, string idempotencyKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        CheckNames(collection, id);
        ArgumentException.ThrowIfNullOrWhiteSpace(idempotencyKey);
        var copy = (JsonObject)document.DeepClone();
        copy["id"] = id;
        var body = Encoding.UTF8.GetBytes(copy.ToJsonString());

        if (_options.UpsertMethod == WebsiteUpsertMethod.Post)
        {
            using var post = await SendAsync(HttpMethod.Post, CollectionUri(collection), body, idempotencyKey, cancellationToken);
            if (post.StatusCode != HttpStatusCode.Conflict) return await WriteResultAsync(post, collection, id, cancellationToken);
            idempotencyKey += ":put";
        }
        using var put = await SendAsync(HttpMethod.Put, ResourceUri(collection, id), body, idempotencyKey, cancellationToken);
        return await WriteResultAsync(put, collection, id, cancellationToken);
    }

    /// <summary>Deletes the resource; false when it was already absent.</summary>
    public async Task<bool> DeleteAsync(string collection, string id, string idempotencyKey, CancellationToken cancellationToken)
    {
        CheckNames(collection, id);
        ArgumentException.ThrowIfNullOrWhiteSpace(idempotencyKey);
        using var response = await SendAsync(HttpMethod.Delete, ResourceUri(collection, id), null, idempotencyKey, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        if (response.IsSuccessStatusCode) return true;
        throw await ErrorAsync(response, cancellationToken);
    }

    /// <summary>The resource as the site holds it (with updatedAt and etag), or null when absent.</summary>
    public async Task<JsonObject?> GetAsync(string collection, string id, CancellationToken cancellationToken)
    {
        CheckNames(collection, id);
        using var response = await SendAsync(HttpMethod.Get, ResourceUri(collection, id), null, null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, cancellationToken);
        return await ReadObjectAsync(response, cancellationToken)
            ?? throw new ApiException(System, response.StatusCode, "invalid_response", $"GET {collection}/{id} answered with a body that is not a JSON object", retryable: false);
    }

    private Uri CollectionUri(string collection) => new(_root, "api/" + Uri.EscapeDataString(collection));

    private Uri ResourceUri(string collection, string id) => new(_root, "api/" + Uri.EscapeDataString(collection) + "/" + Uri.EscapeDataString(id));

    private static void CheckNames(string collection, string id)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(collection);
        ArgumentException.ThrowIfNullOrEmpty(id);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, byte[]? body, string? idempotencyKey, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Source", _options.Source);
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new ApiException(System, 0, "network_error", $"{method} {uri.AbsolutePath} failed: {Scrub(ex.Message)}", retryable: true);
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ApiException(System, HttpStatusCode.RequestTimeout, "timeout", $"{method} {uri.AbsolutePath} timed out", retryable: true);
        }
    }

    private async Task<WebsiteWriteResult> WriteResultAsync(HttpResponseMessage response, string collection, string id, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, ct);
        var document = await ReadObjectAsync(response, ct);
        var etag = response.Headers.ETag?.ToString() ?? (document?["etag"] is JsonValue e && e.TryGetValue<string>(out var s) ? s : null);
        DateTimeOffset? updatedAt = document?["updatedAt"] is JsonValue u && u.TryGetValue<string>(out var text)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : null;
        var replayed = response.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Any(v => v.Equals("true", StringComparison.OrdinalIgnoreCase));
        return new WebsiteWriteResult(collection, id, response.StatusCode == HttpStatusCode.Created, etag, updatedAt, replayed, document);
    }

    private static async Task<JsonObject?> ReadObjectAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        if (text.Length == 0) return null;
        try
        {
            return JsonNode.Parse(text) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The exception for a non-success answer: throttled, retryable or permanent, with the site's own code and message.</summary>
    private async Task<Exception> ErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var (code, message) = await ErrorBodyAsync(response, ct);
        var retryAfter = RetryAfter(response);
        if (status == 429 || (status == 503 && retryAfter is not null))
            return new ApiThrottledException(System, retryAfter ?? DefaultThrottleDelay, $"{status} {code}: {message}");
        var retryable = status is >= 500 or 408;
        return new ApiException(System, response.StatusCode, code, message, retryable);
    }

    private async Task<(string Code, string Message)> ErrorBodyAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var fallbackCode = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        var fallbackMessage = response.ReasonPhrase ?? "no message";
        var body = await ReadObjectAsync(response, ct);
        var code = body?["error"] is JsonValue c && c.TryGetValue<string>(out var cs) ? cs : fallbackCode;
        var message = body?["message"] is JsonValue m && m.TryGetValue<string>(out var ms) ? ms : fallbackMessage;
        return (Scrub(code), Scrub(message));
    }

    /// <summary>Retry-After as seconds or an HTTP date; null when absent.</summary>
    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        if (header?.Date is { } date)
        {
            var wait = date - _options.Time.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }
        return null;
    }

    /// <summary>A site that echoes the key it was sent must not get it into our logs through an exception.</summary>
    private string Scrub(string text) => text.Replace(_apiKey, "[api key]", StringComparison.Ordinal);
}
