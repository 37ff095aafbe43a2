using System.Globalization;
using System.Net;
using System.Text;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;

namespace EventSync.Benchmarks;

/// <summary>
/// Makes correctly signed Standard Webhooks deliveries of a fixed size: each has its own webhook-id (no duplicates) and
/// its own entity id in the body (so each creates its own job), signed with the current time like a real sender.
/// </summary>
public sealed class WebhookFactory
{
    /// <summary>A fixed whsec_ secret (32 bytes); the benchmark's servers are throwaway and loopback-only.</summary>
    public static readonly string Secret = "whsec_" + Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + 3)).ToArray());

    public const string EventType = "order.updated";
    private const int IdDigits = 12;

    private readonly byte[] _key = ConfigLoader.StandardWebhookSecret(Secret)!;
    private readonly byte[] _template;
    private readonly int _idOffset;
    private readonly string _tag;
    private long _sequence;

    public WebhookFactory(string tag, int bodyBytes)
    {
        _tag = tag;
        var prefix = $"{{\"type\":\"{EventType}\",\"id\":\"ord-{tag}-";
        var middle = "\",\"data\":{\"status\":\"paid\",\"currency\":\"EUR\",\"total\":4200,\"customer\":{\"id\":\"cus_8842\",\"email\":\"buyer@example.com\"},\"note\":\"";
        const string suffix = "\"}}";
        var padding = bodyBytes - prefix.Length - IdDigits - middle.Length - suffix.Length;
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(bodyBytes), "the body is too small for the event fields");
        _template = Encoding.ASCII.GetBytes(prefix + new string('0', IdDigits) + middle + new string('x', padding) + suffix);
        _idOffset = prefix.Length;
    }

    public int BodyBytes => _template.Length;

    /// <summary>How many deliveries this factory has made.</summary>
    public long Count => Interlocked.Read(ref _sequence);

    /// <summary>The next body and its headers; unique per call, thread-safe.</summary>
    public SignedWebhook Next()
    {
        var n = Interlocked.Increment(ref _sequence);
        var body = (byte[])_template.Clone();
        n.TryFormat(body.AsSpan(_idOffset, IdDigits), out _, "D12", CultureInfo.InvariantCulture);
        var id = string.Create(CultureInfo.InvariantCulture, $"msg_{_tag}_{n}");
        var entity = Encoding.ASCII.GetString(body, _idOffset - _tag.Length - 5, _tag.Length + 5 + IdDigits);
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return new SignedWebhook(body, id, entity, timestamp.ToString(CultureInfo.InvariantCulture), StandardWebhookSignature.Sign(_key, id, timestamp, body));
    }

    /// <summary>Called with each request's entity and its creation time (Stopwatch ticks) just before it is sent.</summary>
    public Action<string, long>? Sending { get; init; }

    public HttpRequestMessage CreateRequest(Uri target)
    {
        var (body, id, entity, timestamp, signature) = Next();
        Sending?.Invoke(entity, System.Diagnostics.Stopwatch.GetTimestamp());
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, target)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        request.Headers.TryAddWithoutValidation("webhook-id", id);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp);
        request.Headers.TryAddWithoutValidation("webhook-signature", signature);
        return request;
    }
}

/// <summary>One delivery: the body, its webhook-id, the entity id inside the body (the flow's key), and its signature headers.</summary>
public readonly record struct SignedWebhook(byte[] Body, string Id, string Entity, string Timestamp, string Signature);
