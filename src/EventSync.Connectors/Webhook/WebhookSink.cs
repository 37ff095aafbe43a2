using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;
using EventSync.Core.Sinks;

namespace EventSync.Connectors.Webhook;

/// <summary>
/// POSTs each job to a URL, signed per Standard Webhooks (webhook-id is the idempotency key, stable across retries
/// of the same state, so the receiver can drop repeats). Maps the answer to retry, throttle or park.
/// </summary>
public sealed class WebhookSink : ISink, IDisposable
{
    private readonly SinkOptions _options;
    private readonly HttpClient _http;
    private readonly byte[]? _key;

    public WebhookSink(SinkOptions options, HttpMessageHandler? handler = null)
    {
        _options = options;
        _key = options.Secret is null ? null : ConfigLoader.StandardWebhookSecret(options.Secret);
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // a redirect is a failure per Standard Webhooks, not something to follow
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = Math.Max(options.Concurrency, 2),
        }) { Timeout = options.Timeout };
    }

    public string Name => _options.Name;

    public async Task<SinkResult> DeliverAsync(SinkDelivery delivery, CancellationToken cancellationToken)
    {
        var body = Body(delivery);
        using var request = new HttpRequestMessage(HttpMethod.Post, _options.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var timestamp = delivery.Now.ToUnixTimeSeconds();
        request.Headers.TryAddWithoutValidation("webhook-id", delivery.IdempotencyKey);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("Idempotency-Key", delivery.IdempotencyKey);
        if (_key is not null)
            request.Headers.TryAddWithoutValidation("webhook-signature", StandardWebhookSignature.Sign(_key, delivery.IdempotencyKey, timestamp, body));

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            return SinkResult.Retryable($"POST {_options.Url} failed: {ex.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return SinkResult.Retryable($"POST {_options.Url} timed out after {Durations.Format(_options.Timeout)}");
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            var resource = $"POST {_options.Url} → {status}";
            if (status is >= 200 and < 300) return SinkResult.Success(resource);
            var retryAfter = RetryAfter(response, delivery.Now);
            var detail = await Excerpt(response, cancellationToken);
            var error = $"{resource}{(detail.Length > 0 ? ": " + detail : "")}";
            if (status is 429 or 503 && retryAfter is not null) return SinkResult.Throttled(retryAfter.Value, error) with { Resources = [resource] };
            if (status is 408 or 425 or 429 or >= 500) return SinkResult.Retryable(error) with { Resources = [resource] };
            return SinkResult.Permanent(error) with { Resources = [resource] }; // 3xx, 4xx (including 410 Gone): retrying cannot help
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        if (header?.Date is { } date) return date > now ? date - now : TimeSpan.Zero;
        return null;
    }

    private static async Task<string> Excerpt(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            text = text.ReplaceLineEndings(" ").Trim();
            return text.Length > 300 ? text[..300] + "…" : text;
        }
        catch (HttpRequestException)
        {
            return "";
        }
    }

    /// <summary>{type, timestamp, data} per the Standard Webhooks advice; data carries the newest state and the merged events.</summary>
    public static byte[] Body(SinkDelivery delivery)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            var latest = delivery.Latest;
            w.WriteStartObject();
            w.WriteString("type", "eventsync.sync");
            w.WriteString("timestamp", delivery.Now);
            w.WriteStartObject("data");
            w.WriteString("flow", delivery.Flow);
            w.WriteString("entity", delivery.EntityKey);
            w.WriteNumber("job", delivery.JobId);
            w.WriteNumber("attempt", delivery.Attempt);
            w.WriteStartArray("events");
            foreach (var e in delivery.Events)
            {
                w.WriteStartObject();
                w.WriteNumber("id", e.Id);
                w.WriteString("source", e.Source);
                w.WriteString("type", e.EventType);
                w.WriteString("deliveryId", e.DeliveryId);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("latest");
            w.WriteNumber("id", latest.Id);
            w.WriteString("source", latest.Source);
            w.WriteString("type", latest.EventType);
            w.WritePropertyName("payload");
            if (latest.Payload.Length > 0) w.WriteRawValue(latest.Payload, skipInputValidation: true);
            else w.WriteNullValue();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    public void Dispose() => _http.Dispose();
}
