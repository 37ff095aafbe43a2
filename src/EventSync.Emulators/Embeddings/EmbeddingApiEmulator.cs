using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using EventSync.Core.Vectors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSync.Emulators.Embeddings;

/// <summary>A model the emulator serves: its native vector length and whether it accepts the <c>dimensions</c> field (OpenAI: text-embedding-3 and later only).</summary>
public sealed record EmulatedEmbeddingModel(string Name, int Dimensions, bool AcceptsDimensions = true);

public sealed record EmbeddingEmulatorOptions
{
    /// <summary>When set, every request must carry <c>Authorization: Bearer {ApiKey}</c>.</summary>
    public string? ApiKey { get; init; }
    public IReadOnlyList<EmulatedEmbeddingModel> Models { get; init; } = DefaultModels;
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    /// <summary>Clock of the per-minute rate limit.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>OpenAI's embedding models and native sizes; ada-002 predates the dimensions field.</summary>
    public static IReadOnlyList<EmulatedEmbeddingModel> DefaultModels { get; } =
    [
        new("text-embedding-3-small", 1536), new("text-embedding-3-large", 3072), new("text-embedding-ada-002", 1536, AcceptsDimensions: false),
    ];
}

/// <summary>
/// OpenAI's <c>POST /v1/embeddings</c> on loopback: the same request checks, limits (2048 inputs, 8192 tokens an input,
/// 300,000 a request; tokens estimated as characters / 4), response and error shapes. Vectors come from
/// <see cref="LocalEmbedder"/>, so they are deterministic and similar texts are near each other. Faults can be switched on
/// while it runs: rate limits, one-shot throttles and failures, wrong vector lengths, reordered answers.
/// </summary>
public sealed class EmbeddingApiEmulator : IAsyncDisposable
{
    public const int MaxInputs = 2048;
    public const int MaxTokensPerInput = 8192;
    public const int MaxTokensPerRequest = 300_000;
    private const string ApiReference = "Please check the API reference: https://platform.openai.com/docs/api-reference.";

    private readonly WebApplication _app;
    private readonly EmbeddingEmulatorOptions _options;
    private readonly Dictionary<string, EmulatedEmbeddingModel> _models;
    private readonly ConcurrentDictionary<int, LocalEmbedder> _embedders = new();
    private readonly Lock _gate = new();
    private readonly Queue<DateTimeOffset> _accepted = new(); // requests let through in the last minute
    private int _throttleCount;
    private TimeSpan _throttleDelay;
    private int _failCount;
    private int _failStatus;
    private int _rateLimit;
    private volatile bool _wrongDimensions;
    private volatile bool _shuffleOrder;
    private long _calls;
    private long _inputs;
    private long _requests;

    private sealed record ApiError(int Status, string Message, string Type = "invalid_request_error", string? Param = null, string? Code = null)
    {
        public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];
    }

    private sealed record EmbedRequest(EmulatedEmbeddingModel Model, IReadOnlyList<string> Inputs, int Dimensions, bool Base64, int Tokens);

    private EmbeddingApiEmulator(WebApplication app, EmbeddingEmulatorOptions options)
    {
        _app = app;
        _options = options;
        _models = options.Models.ToDictionary(m => m.Name, StringComparer.Ordinal);
    }

    /// <summary>The API root, ending in /v1: what a client's baseUrl is set to.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Requests let through per rolling minute; over it the answer is 429 with Retry-After in seconds. 0: no limit.</summary>
    public int RateLimitPerMinute
    {
        get => Volatile.Read(ref _rateLimit);
        set => Volatile.Write(ref _rateLimit, Math.Max(value, 0));
    }

    /// <summary>Answer vectors of the wrong length: the model's native size when another was asked for (a server ignoring <c>dimensions</c>), else half.</summary>
    public bool WrongDimensions { get => _wrongDimensions; set => _wrongDimensions = value; }

    /// <summary>List the data items in reverse, with correct index fields, as a server is free to do.</summary>
    public bool ShuffleOrder { get => _shuffleOrder; set => _shuffleOrder = value; }

    /// <summary>Requests answered 200.</summary>
    public long Calls => Interlocked.Read(ref _calls);
    public long InputsEmbedded => Interlocked.Read(ref _inputs);
    /// <summary>Every request, whatever the answer.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>The next <paramref name="count"/> authorised requests get 429 with Retry-After (whole seconds, rounded up) and retry-after-ms.</summary>
    public void ThrottleNext(int count, TimeSpan retryAfter)
    {
        lock (_gate)
        {
            _throttleCount = count;
            _throttleDelay = retryAfter;
        }
    }

    /// <summary>The next <paramref name="count"/> authorised requests get <paramref name="status"/> with an OpenAI error body.</summary>
    public void FailNext(int count, int status)
    {
        lock (_gate)
        {
            _failCount = count;
            _failStatus = status;
        }
    }

    public static async Task<EmbeddingApiEmulator> StartAsync(EmbeddingEmulatorOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Models.Count == 0) throw new ArgumentException("serve at least one model", nameof(options));
        if (options.Models.Select(m => m.Name).Distinct(StringComparer.Ordinal).Count() != options.Models.Count) throw new ArgumentException("model names must be unique", nameof(options));
        if (options.Models.Any(m => m.Dimensions is < 16 or > 4096)) throw new ArgumentException("model sizes must be 16 to 4096 (the local embedder's range)", nameof(options));

        var app = LoopbackApp.Create(options.Port);
        var emulator = new EmbeddingApiEmulator(app, options);
        app.MapPost("/v1/embeddings", emulator.HandleAsync);
        app.MapFallback(context => WriteErrorAsync(context, new ApiError(404, $"Invalid URL ({context.Request.Method} {context.Request.Path})")));
        emulator.BaseUrl = new Uri(await LoopbackApp.StartAsync(app, ct), "v1");
        return emulator;
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var error = Unauthorised(context) ?? InjectedFault() ?? RateLimited();
        EmbedRequest? request = null;
        if (error is null)
        {
            JsonDocument? doc = null;
            try
            {
                doc = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            }
            catch (JsonException)
            {
                error = new ApiError(400, "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.");
            }
            using (doc)
            {
                if (doc is not null) error = Parse(doc.RootElement, out request);
            }
        }
        if (error is not null)
        {
            await WriteErrorAsync(context, error);
            return;
        }
        await WriteEmbeddingsAsync(context, request!);
        Interlocked.Increment(ref _calls);
        Interlocked.Add(ref _inputs, request!.Inputs.Count);
    }

    private ApiError? Unauthorised(HttpContext context)
    {
        if (_options.ApiKey is null) return null;
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return new ApiError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
        var key = header["Bearer ".Length..].Trim();
        if (key == _options.ApiKey) return null;
        // Like OpenAI, show only enough of the wrong key to recognise it.
        var masked = key.Length > 8 ? key[..3] + new string('*', key.Length - 7) + key[^4..] : new string('*', key.Length);
        return new ApiError(401, $"Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys.", Code: "invalid_api_key");
    }

    private ApiError? InjectedFault()
    {
        lock (_gate)
        {
            if (_throttleCount > 0)
            {
                _throttleCount--;
                return new ApiError(429, $"Rate limit reached. Please try again in {_throttleDelay.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s.", "requests", Code: "rate_limit_exceeded")
                {
                    Headers =
                    [
                        new("Retry-After", Math.Ceiling(_throttleDelay.TotalSeconds).ToString(CultureInfo.InvariantCulture)),
                        new("retry-after-ms", Math.Round(_throttleDelay.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)),
                    ],
                };
            }
            if (_failCount > 0)
            {
                _failCount--;
                return _failStatus >= 500
                    ? new ApiError(_failStatus, "The server had an error while processing your request. Sorry about that!", "server_error")
                    : new ApiError(_failStatus, $"Emulated failure ({_failStatus.ToString(CultureInfo.InvariantCulture)}).");
            }
            return null;
        }
    }

    private ApiError? RateLimited()
    {
        var limit = RateLimitPerMinute;
        if (limit == 0) return null;
        var now = _options.Time.GetUtcNow();
        lock (_gate)
        {
            while (_accepted.Count > 0 && now - _accepted.Peek() >= TimeSpan.FromMinutes(1)) _accepted.Dequeue();
            if (_accepted.Count < limit)
            {
                _accepted.Enqueue(now);
                return null;
            }
            var wait = Math.Max(1, (int)Math.Ceiling((_accepted.Peek() + TimeSpan.FromMinutes(1) - now).TotalSeconds));
            var seconds = wait.ToString(CultureInfo.InvariantCulture);
            return new ApiError(429,
                $"Rate limit reached for requests per min (RPM): Limit {limit.ToString(CultureInfo.InvariantCulture)}, Used {_accepted.Count.ToString(CultureInfo.InvariantCulture)}, Requested 1. Please try again in {seconds}s.",
                "requests", Code: "rate_limit_exceeded")
            {
                Headers =
                [
                    new("Retry-After", seconds), new("x-ratelimit-limit-requests", limit.ToString(CultureInfo.InvariantCulture)),
                    new("x-ratelimit-remaining-requests", "0"), new("x-ratelimit-reset-requests", seconds + "s"),
                ],
            };
        }
    }

    /// <summary>The checks OpenAI makes, in its words where known.</summary>
    private ApiError? Parse(JsonElement root, out EmbedRequest? request)
    {
        request = null;
        if (root.ValueKind != JsonValueKind.Object) return new ApiError(400, "The request body must be a JSON object. " + ApiReference);
        if (!root.TryGetProperty("model", out var modelElement) || modelElement.ValueKind != JsonValueKind.String || modelElement.GetString() is not { Length: > 0 } modelName)
            return new ApiError(400, "you must provide a model parameter");
        if (!_models.TryGetValue(modelName, out var model))
            return new ApiError(404, $"The model `{modelName}` does not exist or you do not have access to it.", Code: "model_not_found");

        if (!root.TryGetProperty("input", out var inputElement)) return new ApiError(400, "'input' is a required property", Param: "input");
        var inputs = new List<string>();
        if (inputElement.ValueKind == JsonValueKind.String) inputs.Add(inputElement.GetString()!);
        else if (inputElement.ValueKind == JsonValueKind.Array && inputElement.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
            inputs.AddRange(inputElement.EnumerateArray().Select(e => e.GetString()!));
        else return new ApiError(400, "'$.input' is invalid: the emulator accepts a string or an array of strings. " + ApiReference, Param: "input");
        if (inputs.Count == 0) return new ApiError(400, "'$.input' is invalid: it must not be empty. " + ApiReference, Param: "input");
        if (inputs.Count > MaxInputs) return new ApiError(400, $"'$.input' is invalid: at most {MaxInputs} inputs are allowed per request, got {inputs.Count}. " + ApiReference, Param: "input");
        if (inputs.FindIndex(s => s.Length == 0) is var empty and >= 0) return new ApiError(400, $"'$.input[{empty}]' is invalid: it must not be an empty string. " + ApiReference, Param: "input");
        var tokens = 0;
        foreach (var input in inputs)
        {
            var t = Tokens(input);
            if (t > MaxTokensPerInput)
                return new ApiError(400, $"This model's maximum context length is {MaxTokensPerInput} tokens, however you requested {t} tokens. Please reduce the length of the input.", Param: "input");
            tokens += t;
        }
        if (tokens > MaxTokensPerRequest)
            return new ApiError(400, $"Requested {tokens} tokens, max {MaxTokensPerRequest} tokens per request", Param: "input", Code: "max_tokens_per_request");

        var base64 = false;
        if (root.TryGetProperty("encoding_format", out var format) && format.ValueKind != JsonValueKind.Null)
        {
            if (format.ValueKind != JsonValueKind.String || format.GetString() is not ("float" or "base64"))
                return new ApiError(400, $"{format.GetRawText()} is not one of ['float', 'base64'] - 'encoding_format'", Param: "encoding_format");
            base64 = format.GetString() == "base64";
        }

        var dimensions = model.Dimensions;
        if (root.TryGetProperty("dimensions", out var dims) && dims.ValueKind != JsonValueKind.Null)
        {
            if (!model.AcceptsDimensions) return new ApiError(400, "This model does not support specifying dimensions.", Param: "dimensions");
            if (!dims.TryGetInt32(out dimensions) || dimensions < 1)
                return new ApiError(400, $"Invalid value for 'dimensions' = {dims.GetRawText()}. Must be an integer of at least 1.", Param: "dimensions");
            if (dimensions > model.Dimensions)
                return new ApiError(400, $"This model's maximum dimensions is {model.Dimensions}, but {dimensions} were requested.", Param: "dimensions");
            if (dimensions < 16) return new ApiError(400, $"The emulator serves 16 dimensions or more; {dimensions} were requested.", Param: "dimensions");
        }
        request = new EmbedRequest(model, inputs, dimensions, base64, tokens);
        return null;
    }

    /// <summary>A rough token count: about four characters a token in English text.</summary>
    private static int Tokens(string text) => Math.Max(1, (text.Length + 3) / 4);

    private async Task WriteEmbeddingsAsync(HttpContext context, EmbedRequest request)
    {
        var length = request.Dimensions;
        if (WrongDimensions) length = request.Model.Dimensions != length ? request.Model.Dimensions : length >= 32 ? length / 2 : length * 2;
        var embedder = _embedders.GetOrAdd(length, n => new LocalEmbedder(n));
        var order = Enumerable.Range(0, request.Inputs.Count);
        if (ShuffleOrder) order = order.Reverse();

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        using (var w = new Utf8JsonWriter(context.Response.BodyWriter))
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var i in order)
            {
                var vector = embedder.Embed(request.Inputs[i]);
                w.WriteStartObject();
                w.WriteString("object", "embedding");
                w.WriteNumber("index", i);
                w.WritePropertyName("embedding");
                if (request.Base64) w.WriteStringValue(Convert.ToBase64String(LittleEndianBytes(vector)));
                else
                {
                    w.WriteStartArray();
                    foreach (var f in vector) w.WriteNumberValue(f);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("model", request.Model.Name);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", request.Tokens);
            w.WriteNumber("total_tokens", request.Tokens);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    private static byte[] LittleEndianBytes(float[] vector)
    {
        var bytes = new byte[vector.Length * sizeof(float)];
        for (var i = 0; i < vector.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), vector[i]);
        return bytes;
    }

    /// <summary>OpenAI's error shape: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
    private static async Task WriteErrorAsync(HttpContext context, ApiError error)
    {
        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "application/json";
        foreach (var (name, value) in error.Headers) context.Response.Headers[name] = value;
        using (var w = new Utf8JsonWriter(context.Response.BodyWriter))
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", error.Message);
            w.WriteString("type", error.Type);
            w.WriteString("param", error.Param);
            w.WriteString("code", error.Code);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
