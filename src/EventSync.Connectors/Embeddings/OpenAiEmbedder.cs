using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Vectors;

namespace EventSync.Connectors.Embeddings;

/// <summary>Settings of an <see cref="OpenAiEmbedder"/>.</summary>
public sealed record OpenAiEmbedderOptions
{
    /// <summary>The API root, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1 (Ollama); requests go to BaseUrl + "/embeddings".</summary>
    public required Uri BaseUrl { get; init; }
    public required string Model { get; init; }
    /// <summary>The length every vector must have; a server answering any other length is an error, never truncated or padded.</summary>
    public required int Dimensions { get; init; }
    /// <summary>Most inputs per request (OpenAI accepts up to 2048).</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Sent as <c>Authorization: Bearer</c>; null for servers without auth (Ollama, LM Studio).</summary>
    public string? ApiKey { get; init; }
    /// <summary>Names the environment variable the key came from, only so error hints can point at it.</summary>
    public string? ApiKeyEnv { get; init; }
    /// <summary>Send the <c>dimensions</c> request field (OpenAI text-embedding-3 and later); some servers reject or ignore it.</summary>
    public bool SendDimensions { get; init; } = true;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// Client of an OpenAI-compatible <c>POST {BaseUrl}/embeddings</c>: OpenAI, Azure OpenAI's v1 API, Ollama, vLLM, LM Studio.
/// </summary>
/// <remarks>
/// API facts this relies on, from the OpenAI API reference (developers.openai.com/api/reference, "Embeddings: create") and
/// its OpenAPI spec (CreateEmbeddingRequest / CreateEmbeddingResponse): the request is
/// <c>{model, input, encoding_format?, dimensions?}</c>; <c>input</c> is a string or an array of at most 2048 non-empty
/// strings, each within the model's token limit (8192) and at most 300,000 tokens summed per request; <c>dimensions</c> is
/// only supported by text-embedding-3 and later; <c>encoding_format</c> is float or base64. The answer is
/// <c>{object: "list", data: [{object: "embedding", index, embedding}], model, usage}</c>, and <c>index</c> (not the
/// position) says which input a vector belongs to. Ollama serves the same API at http://localhost:11434/v1 (Ollama docs,
/// "OpenAI compatibility": the key is ignored) and accepts <c>dimensions</c> only since ollama/ollama#12242 (2025);
/// llama.cpp's server ignores it (ggml-org/llama.cpp#25210) — hence every vector's length is checked, and
/// <see cref="OpenAiEmbedderOptions.SendDimensions"/> can switch the field off. Azure and OpenAI SDKs read
/// <c>retry-after-ms</c> before <c>Retry-After</c> (Azure/azure-sdk-for-rust#1517).
/// </remarks>
public sealed class OpenAiEmbedder : IEmbedder, IDisposable
{
    /// <summary>OpenAI's cap on inputs per request.</summary>
    public const int MaxBatchSize = 2048;

    /// <summary>How long to pause on 429/503 when the server gives no delay.</summary>
    public static readonly TimeSpan DefaultThrottleDelay = TimeSpan.FromSeconds(5);

    private readonly OpenAiEmbedderOptions _options;
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly string? _apiKey;

    public OpenAiEmbedder(OpenAiEmbedderOptions options, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.BaseUrl.IsAbsoluteUri || options.BaseUrl.Scheme is not ("http" or "https"))
            throw new ArgumentException($"baseUrl '{options.BaseUrl}' is not an absolute http(s) URL; write it like https://api.openai.com/v1", nameof(options));
        if (string.IsNullOrWhiteSpace(options.Model)) throw new ArgumentException("model is required", nameof(options));
        if (options.Dimensions < 1) throw new ArgumentException("dimensions must be at least 1", nameof(options));
        if (options.BatchSize is < 1 or > MaxBatchSize) throw new ArgumentException($"batchSize must be 1 to {MaxBatchSize}", nameof(options));
        if (options.Timeout <= TimeSpan.Zero) throw new ArgumentException("timeout must be positive", nameof(options));
        _apiKey = string.IsNullOrWhiteSpace(options.ApiKey) ? null : options.ApiKey.Trim(); // a key read from a file often ends in a newline
        if (_apiKey is not null && _apiKey.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            throw new ArgumentException($"the API key{KeySource(options)} contains whitespace or control characters", nameof(options)); // never echo it

        _options = options;
        _endpoint = Endpoint(options.BaseUrl);
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // a redirect would carry the key elsewhere; the fix is the final URL in baseUrl
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        }) { Timeout = options.Timeout };
    }

    public string Model => _options.Model;
    public int Dimensions => _options.Dimensions;
    public int BatchSize => _options.BatchSize;

    public async Task<IReadOnlyList<float[]>> EmbedAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        for (var i = 0; i < inputs.Count; i++)
        {
            // OpenAI answers 400 to an empty string; say which input it was instead.
            if (string.IsNullOrEmpty(inputs[i]))
                throw new EmbeddingFailedException($"input {i} is empty; embedding APIs reject empty strings", retryable: false);
        }
        var result = new float[inputs.Count][];
        for (var start = 0; start < inputs.Count; start += BatchSize)
        {
            var count = Math.Min(BatchSize, inputs.Count - start);
            var batch = await EmbedBatchAsync(inputs, start, count, cancellationToken);
            batch.CopyTo(result, start);
        }
        return result;
    }

    private async Task<float[][]> EmbedBatchAsync(IReadOnlyList<string> inputs, int start, int count, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent(RequestBody(inputs, start, count)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (_apiKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + _apiKey);
            // Azure OpenAI's classic key auth reads api-key; harmless where Bearer is enough.
            if (_endpoint.Host.EndsWith(".azure.com", StringComparison.OrdinalIgnoreCase)) request.Headers.TryAddWithoutValidation("api-key", _apiKey);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        }
        catch (HttpRequestException ex)
        {
            throw Failed($"{Resource} failed: {ex.Message}", retryable: true, ex);
        }
        catch (TaskCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw Failed($"{Resource} timed out after {Durations.Format(_options.Timeout)}", retryable: true, ex);
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300) return await ReadVectorsAsync(response, count, ct);
            throw await ErrorAsync(response, status, ct);
        }
    }

    private byte[] RequestBody(IReadOnlyList<string> inputs, int start, int count)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("model", _options.Model);
            w.WriteStartArray("input");
            for (var i = start; i < start + count; i++) w.WriteStringValue(inputs[i]);
            w.WriteEndArray();
            w.WriteString("encoding_format", "float");
            if (_options.SendDimensions) w.WriteNumber("dimensions", _options.Dimensions);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    /// <summary>Places each vector by its <c>index</c>; one per input and each exactly <see cref="Dimensions"/> long, or nothing.</summary>
    private async Task<float[][]> ReadVectorsAsync(HttpResponseMessage response, int count, CancellationToken ct)
    {
        JsonDocument doc;
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            doc = await JsonDocument.ParseAsync(body, cancellationToken: ct);
        }
        catch (JsonException ex)
        {
            throw Failed($"{Resource} answered {(int)response.StatusCode} with a body that is not JSON; is baseUrl an OpenAI-compatible API root (ending in /v1)?", retryable: false, ex);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
                throw Failed($"{Resource} answered without a data array; is baseUrl an OpenAI-compatible API root (ending in /v1)?", retryable: false);
            if (data.GetArrayLength() != count)
                throw Failed($"{Resource} returned {data.GetArrayLength()} embeddings for {count} inputs; the server must return one per input", retryable: false);

            var vectors = new float[count][];
            foreach (var item in data.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("index", out var indexElement) || !indexElement.TryGetInt32(out var index) || index < 0 || index >= count)
                    throw Failed($"{Resource} returned an embedding without a valid index (0 to {count - 1})", retryable: false);
                if (vectors[index] is not null)
                    throw Failed($"{Resource} returned two embeddings for input {index}", retryable: false);
                if (!item.TryGetProperty("embedding", out var embedding))
                    throw Failed($"{Resource} returned no embedding for input {index}", retryable: false);
                var vector = Vector(embedding) ?? throw Failed($"{Resource} returned an embedding for input {index} that is not a list of finite numbers", retryable: false);
                if (vector.Length != Dimensions) throw Failed(DimensionMismatch(vector.Length), retryable: false);
                vectors[index] = vector;
            }
            return vectors;
        }
    }

    /// <summary>A JSON array of numbers, or base64 of little-endian float32 (what a server sends when it ignores encoding_format=float).</summary>
    private static float[]? Vector(JsonElement embedding)
    {
        if (embedding.ValueKind == JsonValueKind.String)
        {
            if (!embedding.TryGetBytesFromBase64(out var bytes) || bytes.Length % sizeof(float) != 0) return null;
            var decoded = new float[bytes.Length / sizeof(float)];
            for (var i = 0; i < decoded.Length; i++) decoded[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
            return decoded.All(float.IsFinite) ? decoded : null;
        }
        if (embedding.ValueKind != JsonValueKind.Array) return null;
        var vector = new float[embedding.GetArrayLength()];
        var n = 0;
        foreach (var value in embedding.EnumerateArray())
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetSingle(out var f) || !float.IsFinite(f)) return null;
            vector[n++] = f;
        }
        return vector;
    }

    private string DimensionMismatch(int actual)
    {
        var why = _options.SendDimensions
            ? $"The request asked for {Dimensions} dimensions, and the server ignored it: this model or server cannot shorten its vectors."
            : "The dimensions request field is off (sendDimensions: false), so the model answers its native size.";
        var shorten = _options.SendDimensions ? "" : $", or, if the model can shorten its vectors (OpenAI text-embedding-3-*), set sendDimensions: true";
        return $"embedding model '{Model}' at {_endpoint} returned vectors of {actual} dimensions, but {Dimensions} are configured. {why} " +
               $"Fix the config: set embedder.dimensions: {actual} to match the model (a new index is built){shorten}. Vectors are never truncated or padded.";
    }

    private async Task<Exception> ErrorAsync(HttpResponseMessage response, int status, CancellationToken ct)
    {
        var (detail, code) = await ProviderError(response, ct);
        var error = $"{Resource} → {status}{(detail.Length > 0 ? ": " + detail : "")}";
        if (status == 429 && code == "insufficient_quota")
            return Failed($"{error} (the account's quota or credit is used up; waiting will not help: check billing)", retryable: false);
        if (status is 429 or 503) return new EmbeddingThrottledException(RetryAfter(response) ?? DefaultThrottleDelay, Redact(error));
        if (status is 408 or 409 or 425 or >= 500) return Failed(error, retryable: true);
        return Failed($"{error} ({Hint(response, status, detail)})", retryable: false);
    }

    private string Hint(HttpResponseMessage response, int status, string detail) => status switch
    {
        401 when _apiKey is null => "no API key was sent: set embedder.apiKeyEnv to the environment variable that holds it",
        401 => $"the server refused the API key: check the key in {(_options.ApiKeyEnv is { } env ? "the environment variable " + env : "the environment variable named by embedder.apiKeyEnv")}",
        403 => $"the API key is valid but may not use model '{Model}': check the key's project, permissions or region",
        404 => $"check that model '{Model}' is served at {_options.BaseUrl} (Ollama: ollama pull {Model}) and that baseUrl is the API root, e.g. https://api.openai.com/v1",
        400 or 422 when _options.SendDimensions && detail.Contains("dimension", StringComparison.OrdinalIgnoreCase) =>
            "this model or server does not accept the dimensions field: set sendDimensions: false and dimensions to the model's native size",
        400 or 422 => "the server rejected the request; check model, input sizes and, if it mentions dimensions, sendDimensions",
        >= 300 and < 400 => $"baseUrl redirects{(response.Headers.Location is { } to ? " to " + to : "")}; set baseUrl to the final URL",
        _ => "retrying cannot help",
    };

    /// <summary>The provider's <c>error.message</c> (OpenAI, Ollama, vLLM shapes) or the raw body, at most 300 characters; and <c>error.code</c>.</summary>
    private static async Task<(string Detail, string? Code)> ProviderError(HttpResponseMessage response, CancellationToken ct)
    {
        string text;
        try
        {
            text = await response.Content.ReadAsStringAsync(ct);
        }
        catch (HttpRequestException)
        {
            return ("", null);
        }
        string? code = null;
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            var error = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var e) ? e : root;
            if (error.ValueKind == JsonValueKind.String) text = error.GetString()!;
            else if (error.ValueKind == JsonValueKind.Object)
            {
                if (error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String) text = m.GetString()!;
                if (error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String) code = c.GetString();
            }
        }
        catch (JsonException)
        {
            // not JSON: keep the raw text
        }
        text = text.ReplaceLineEndings(" ").Trim();
        return (text.Length > 300 ? text[..300] + "…" : text, code);
    }

    /// <summary>retry-after-ms (Azure, OpenAI), then Retry-After as seconds or an HTTP date (measured against the server's Date).</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        foreach (var name in (string[])["retry-after-ms", "x-ms-retry-after-ms"])
        {
            if (response.Headers.TryGetValues(name, out var values)
                && double.TryParse(values.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && double.IsFinite(ms))
                return TimeSpan.FromMilliseconds(Math.Max(ms, 0));
        }
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        if (header?.Date is { } date)
        {
            var now = response.Headers.Date ?? DateTimeOffset.UtcNow;
            return date > now ? date - now : TimeSpan.Zero;
        }
        return null;
    }

    private string Resource => $"POST {_endpoint}";

    private EmbeddingFailedException Failed(string message, bool retryable, Exception? inner = null) => new(Redact(message), retryable, inner);

    /// <summary>Some providers echo the key they were sent; it must never reach a log or the store.</summary>
    private string Redact(string message) => _apiKey is null ? message : message.Replace(_apiKey, "[redacted]", StringComparison.Ordinal);

    private static string KeySource(OpenAiEmbedderOptions options) => options.ApiKeyEnv is { } env ? $" in {env}" : "";

    /// <summary>BaseUrl + "/embeddings", keeping a query such as Azure's api-version.</summary>
    private static Uri Endpoint(Uri baseUrl)
    {
        var builder = new UriBuilder(baseUrl);
        builder.Path = builder.Path.TrimEnd('/') + "/embeddings";
        return builder.Uri;
    }

    public void Dispose() => _http.Dispose();
}
