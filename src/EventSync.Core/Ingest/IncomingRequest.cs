namespace EventSync.Core.Ingest;

/// <summary>A webhook request as received, independent of the web framework: raw body bytes and headers.</summary>
public sealed class IncomingRequest(string source, string? contentType, ReadOnlyMemory<byte> body, IReadOnlyDictionary<string, string> headers, string? remote)
{
    public string Source { get; } = source;
    public string? ContentType { get; } = contentType;
    public ReadOnlyMemory<byte> Body { get; } = body;
    /// <summary>Headers by case-insensitive name; repeated headers are joined with ", ".</summary>
    public IReadOnlyDictionary<string, string> Headers { get; } = headers;
    public string? Remote { get; } = remote;

    /// <summary>The body as an array: the received array itself when the body is all of one (nothing writes to it), else a copy.</summary>
    public byte[] BodyArray() =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(Body, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : Body.ToArray();

    public string? Header(string name) => Headers.TryGetValue(name, out var v) && v.Length > 0 ? v : null;

    /// <summary>The media type without parameters, lower case ("application/json").</summary>
    public string MediaType => (ContentType ?? "").Split(';', 2)[0].Trim().ToLowerInvariant();

    public bool IsJson => MediaType is "application/json" || MediaType.EndsWith("+json", StringComparison.Ordinal);
}

/// <summary>What the verifier concluded about a request.</summary>
public abstract record IngestDecision
{
    /// <summary>Verified: store it. <see cref="Payload"/> is the JSON document (decoded from a form post if need be).</summary>
    public sealed record Accept(string DedupKey, string DeliveryId, string EventType, byte[] Payload, bool RouteToFlows = true) : IngestDecision, IDisposable
    {
        /// <summary>The parsed payload, so routing does not parse it again; disposed with the decision.</summary>
        public System.Text.Json.JsonDocument? Document { get; init; }

        public System.Text.Json.JsonElement Root => Document?.RootElement ?? default;

        public void Dispose() => Document?.Dispose();
    }

    /// <summary>Refused with an HTTP status and a message that says what was wrong and how to fix it.</summary>
    public sealed record Reject(int Status, string Code, string Message, string? DeliveryId = null) : IngestDecision;

    /// <summary>Notion's one-time unsigned verification request.</summary>
    public sealed record NotionHandshake(string Token) : IngestDecision;
}
