using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;

namespace EventSync.Core.Ingest;

/// <summary>
/// Verifies a request for one source kind over its raw bytes, before any parsing, then checks the headers and the
/// JSON the kind requires. Pure except for the clock and, for Notion, the captured token.
/// </summary>
public sealed class SourceVerifier(SourceOptions source, TimeProvider time, Func<string?>? capturedNotionToken = null)
{
    /// <summary>Headers that carry secrets or signatures: never stored, logged or shown.</summary>
    public static readonly string[] SecretHeaders = ["authorization", "x-hub-signature", "x-hub-signature-256", "x-notion-signature", "webhook-signature", "cookie", "proxy-authorization"];

    public SourceOptions Options { get; } = source;

    public IngestDecision Verify(IncomingRequest request) => Options.Kind switch
    {
        SourceKind.GitHub => VerifyGitHub(request),
        SourceKind.Notion => VerifyNotion(request),
        SourceKind.StandardWebhooks => VerifyStandardWebhooks(request),
        SourceKind.Supabase => VerifySupabase(request),
        SourceKind.Website => VerifyWebsite(request),
        SourceKind.Postgres => new IngestDecision.Reject(404, "not_a_webhook_source", $"source '{Options.Name}' captures a PostgreSQL outbox and receives no webhooks; use a supabase source for database webhooks"),
        _ => new IngestDecision.Reject(500, "unsupported_source", "this source kind is not supported"),
    };

    private IngestDecision VerifyGitHub(IncomingRequest request)
    {
        if (Options.Secret is null) return NoSecret("secret: ${GITHUB_WEBHOOK_SECRET}");
        var form = request.MediaType == "application/x-www-form-urlencoded";
        if (!request.IsJson && !form)
            return UnsupportedMediaType(request, "application/json or application/x-www-form-urlencoded (set the hook's content type to application/json)");
        var delivery = request.Header("X-GitHub-Delivery");
        var check = HmacSha256Hex.Verify(request.Body.Span, Options.Secret!, request.Header("X-Hub-Signature-256"));
        if (check != SignatureCheck.Valid)
            return Unauthorized(check, "X-Hub-Signature-256", "set the same secret in the GitHub hook settings and in sources." + Options.Name + ".secret", delivery);
        var eventName = request.Header("X-GitHub-Event");
        if (eventName is null) return MissingHeader("X-GitHub-Event", delivery);
        if (delivery is null) return MissingHeader("X-GitHub-Delivery", null);

        byte[] payload;
        if (form)
        {
            var field = FormField(request.Body.Span, "payload");
            if (field is null) return new IngestDecision.Reject(400, "missing_payload", "a form-encoded GitHub delivery must carry the JSON in a 'payload' field", delivery);
            payload = Encoding.UTF8.GetBytes(field);
        }
        else payload = request.BodyArray();

        if (!TryParseDocument(payload, out var document, out var error)) return MalformedJson(error, delivery);
        var root = document.RootElement;
        var action = root.TryGetProperty("action", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
        var type = action is null ? eventName : $"{eventName}.{action}";
        var hookId = request.Header("X-GitHub-Hook-ID") ?? "";
        // GitHub's delivery GUID names the event, shared by every hook: dedupe per (hook, delivery).
        return new IngestDecision.Accept($"{hookId}:{delivery}", delivery, type, payload, RouteToFlows: eventName != "ping") { Document = document };
    }

    private IngestDecision VerifyNotion(IncomingRequest request)
    {
        if (!request.IsJson) return UnsupportedMediaType(request, "application/json");
        var signature = request.Header("X-Notion-Signature");
        if (signature is null && TryParseObject(request.BodyArray(), out var probe, out _)
            && probe.TryGetProperty("verification_token", out var tokenElement) && tokenElement.ValueKind == JsonValueKind.String
            && probe.EnumerateObject().Count() == 1)
        {
            var token = tokenElement.GetString()!;
            return token.StartsWith("secret_", StringComparison.Ordinal) && token.Length < 200
                ? new IngestDecision.NotionHandshake(token)
                : new IngestDecision.Reject(400, "invalid_verification_token", "a Notion verification token starts with 'secret_'");
        }
        var key = Options.VerificationToken ?? capturedNotionToken?.Invoke();
        if (key is null)
            return new IngestDecision.Reject(401, "not_verified", $"no verification token is known for source '{Options.Name}': start the subscription in Notion so it sends its verification request, then set sources.{Options.Name}.verificationToken");
        var check = HmacSha256Hex.Verify(request.Body.Span, key, signature);
        if (check != SignatureCheck.Valid)
            return Unauthorized(check, "X-Notion-Signature", $"set sources.{Options.Name}.verificationToken to the token of this subscription (a recreated subscription has a new one)", null);
        var payload = request.BodyArray();
        if (!TryParseDocument(payload, out var document, out var error)) return MalformedJson(error, null);
        var id = StringProperty(document.RootElement, "id");
        var type = StringProperty(document.RootElement, "type");
        if (id is null || type is null)
        {
            document.Dispose();
            return new IngestDecision.Reject(400, "invalid_event", "a Notion event must have string 'id' and 'type' fields");
        }
        return new IngestDecision.Accept(id, id, type, payload) { Document = document };
    }

    private IngestDecision VerifyStandardWebhooks(IncomingRequest request)
    {
        if (!request.IsJson) return UnsupportedMediaType(request, "application/json");
        var id = request.Header("webhook-id");
        var timestamp = request.Header("webhook-timestamp");
        if (id is null) return MissingHeader("webhook-id", null);
        if (timestamp is null) return MissingHeader("webhook-timestamp", id);
        var key = ConfigLoader.StandardWebhookSecret(Options.Secret!)!;
        var check = StandardWebhookSignature.Verify(key, id, timestamp, request.Header("webhook-signature"), request.Body.Span, time.GetUtcNow(), Options.TimestampTolerance);
        if (check != SignatureCheck.Valid)
            return Unauthorized(check, "webhook-signature", $"sign with the secret in sources.{Options.Name}.secret and send the current Unix time in webhook-timestamp", id);
        var payload = request.BodyArray();
        if (!TryParseDocument(payload, out var document, out var error)) return MalformedJson(error, id);
        return new IngestDecision.Accept(id, id, StringProperty(document.RootElement, "type") ?? "message", payload) { Document = document };
    }

    private IngestDecision VerifySupabase(IncomingRequest request)
    {
        if (!request.IsJson) return UnsupportedMediaType(request, "application/json");
        if (CheckSharedSecret(request, "the database webhook's headers") is { } rejected) return rejected;
        var payload = request.BodyArray();
        if (!TryParseDocument(payload, out var document, out var error)) return MalformedJson(error, null);
        var root = document.RootElement;
        var type = StringProperty(root, "type");
        if (type is not ("INSERT" or "UPDATE" or "DELETE") || StringProperty(root, "table") is null || StringProperty(root, "schema") is null)
        {
            document.Dispose();
            return new IngestDecision.Reject(400, "invalid_event", "a Supabase database webhook must have type INSERT, UPDATE or DELETE and string 'table' and 'schema' fields");
        }
        // Database webhooks carry no delivery id; identical bodies describe the same change, so the body hash is the key.
        var id = request.Header("webhook-id") ?? request.Header("X-Delivery-Id") ?? Convert.ToHexStringLower(SHA256.HashData(payload));
        return new IngestDecision.Accept(id, id, type, payload) { Document = document };
    }

    private IngestDecision.Reject? CheckSharedSecret(IncomingRequest request, string where)
    {
        var bearer = Options.SecretHeader.Equals("Authorization", StringComparison.OrdinalIgnoreCase);
        var presented = request.Header(Options.SecretHeader);
        if (presented is not null && bearer)
            presented = presented.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? presented[7..].Trim() : null;
        if (presented is null)
            return new IngestDecision.Reject(401, "missing_secret", $"missing shared secret: send '{(bearer ? "Authorization: Bearer <secret>" : Options.SecretHeader + ": <secret>")}' in {where}");
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(Options.SharedSecret!))))
            return new IngestDecision.Reject(401, "invalid_secret", $"the shared secret does not match sources.{Options.Name}.sharedSecret");
        return null;
    }

    /// <summary>
    /// A website's change notice, in the repository_dispatch shape: {"event_type", "client_payload": {resource, id, action}}.
    /// Signed per Standard Webhooks when the source has a whsec_ secret, else a shared bearer secret.
    /// </summary>
    private IngestDecision VerifyWebsite(IncomingRequest request)
    {
        if (Options.Secret is null && Options.SharedSecret is null) return NoSecret("secret: ${WEBSITE_WEBHOOK_SECRET} (whsec_...) or sharedSecret: ...");
        if (!request.IsJson) return UnsupportedMediaType(request, "application/json");
        string id;
        if (Options.Secret is not null)
        {
            var signed = VerifyStandardWebhooks(request);
            if (signed is IngestDecision.Reject signedReject) return signedReject;
            (signed as IDisposable)?.Dispose(); // only the check was wanted; the website payload is parsed below
            id = request.Header("webhook-id")!;
        }
        else
        {
            if (CheckSharedSecret(request, "the website's request headers") is { } rejected) return rejected;
            // Without a delivery id two identical notices are two edits, so each gets its own key.
            id = request.Header("Idempotency-Key") ?? request.Header("X-Request-Id") ?? "website-" + Guid.NewGuid().ToString("n");
        }
        var payload = request.BodyArray();
        if (!TryParseDocument(payload, out var document, out var error)) return MalformedJson(error, id);
        var root = document.RootElement;
        var type = StringProperty(root, "event_type");
        if (type is null || !root.TryGetProperty("client_payload", out var cp) || cp.ValueKind != JsonValueKind.Object
            || StringProperty(cp, "resource") is null || StringProperty(cp, "id") is null)
        {
            document.Dispose();
            return new IngestDecision.Reject(400, "invalid_event", "a website event must look like {\"event_type\":\"website-update\",\"client_payload\":{\"resource\":\"agent\",\"id\":\"agent-123\",\"action\":\"updated\"}}", id);
        }
        return new IngestDecision.Accept(id, id, type, payload) { Document = document };
    }

    /// <summary>A source configured only for `eventsync run` (no webhook secret) accepts no webhook at all.</summary>
    private IngestDecision.Reject NoSecret(string fix) =>
        new(401, "no_secret_configured", $"source '{Options.Name}' has no webhook secret, so it accepts no webhooks; set sources.{Options.Name}.{fix}");

    private static IngestDecision.Reject UnsupportedMediaType(IncomingRequest request, string expected) =>
        new(415, "unsupported_media_type", $"content type '{request.ContentType ?? "(none)"}' is not accepted here; send {expected}");

    private static IngestDecision.Reject MissingHeader(string header, string? delivery) =>
        new(400, "missing_header", $"the required header {header} is missing", delivery);

    private static IngestDecision.Reject MalformedJson(string error, string? delivery) =>
        new(400, "malformed_json", $"the body is not a JSON object: {error}", delivery);

    private static IngestDecision.Reject Unauthorized(SignatureCheck check, string header, string fix, string? delivery) => check switch
    {
        SignatureCheck.Missing => new(401, "missing_signature", $"the {header} header is missing; {fix}", delivery),
        SignatureCheck.Malformed => new(401, "malformed_signature", $"the {header} header is not in the expected format; {fix}", delivery),
        SignatureCheck.TimestampTooOld => new(401, "timestamp_too_old", "webhook-timestamp is too far in the past (replay protection); send the current time and check the sender's clock", delivery),
        SignatureCheck.TimestampTooNew => new(401, "timestamp_too_new", "webhook-timestamp is too far in the future; check the sender's clock", delivery),
        _ => new(401, "invalid_signature", $"the {header} signature does not match the body; {fix}", delivery),
    };

    private static string? StringProperty(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 64 };

    /// <summary>Parses a JSON object into an element of its own (a copy that needs no disposing).</summary>
    public static bool TryParseObject(byte[] json, out JsonElement root, out string error)
    {
        root = default;
        if (!TryParseDocument(json, out var document, out error)) return false;
        using (document) root = document.RootElement.Clone();
        return true;
    }

    /// <summary>
    /// Parses a JSON object; the caller owns (and disposes) the document, whose buffers are pooled. Ingest keeps it until
    /// routing has read the keys, so no copy of the payload is made.
    /// </summary>
    public static bool TryParseDocument(byte[] json, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out JsonDocument? document, out string error)
    {
        document = null;
        // The reader does not validate UTF-8 inside strings; GetString would throw later (a 500), so check it here.
        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            error = "the body is not valid UTF-8";
            return false;
        }
        try
        {
            var parsed = JsonDocument.Parse(json, ParseOptions);
            if (parsed.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = $"expected an object, got {parsed.RootElement.ValueKind.ToString().ToLowerInvariant()}";
                parsed.Dispose();
                return false;
            }
            document = parsed;
            error = "";
            return true;
        }
        catch (JsonException ex)
        {
            error = ex.Message;
            return false;
        }
        catch (ArgumentException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    private static string? FormField(ReadOnlySpan<byte> body, string name)
    {
        foreach (var pair in Encoding.UTF8.GetString(body).Split('&'))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && Uri.UnescapeDataString(pair[..eq].Replace('+', ' ')) == name)
                return Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
        }
        return null;
    }

    /// <summary>
    /// The headers to keep with the event: everything except secrets and the source's secret header. With a
    /// <paramref name="traceparent"/> (the ingest span's), it is kept under <see cref="Telemetry.EventSyncTelemetry.TraceparentHeader"/>
    /// in place of any sent under that name, so the job continues the sender's trace.
    /// </summary>
    public string SanitizedHeadersJson(IncomingRequest request, string? traceparent = null)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            var headers = request.Headers.ToArray();
            Array.Sort(headers, static (a, b) => StringComparer.OrdinalIgnoreCase.Compare(a.Key, b.Key));
            foreach (var (name, value) in headers)
            {
                var lower = name.ToLowerInvariant();
                if (SecretHeaders.Contains(lower) || lower.Equals(Options.SecretHeader, StringComparison.OrdinalIgnoreCase)) continue;
                if (traceparent is not null && lower == Telemetry.EventSyncTelemetry.TraceparentHeader) continue;
                writer.WriteString(lower, value.Length > 1024 ? value[..1024] : value);
            }
            if (traceparent is not null) writer.WriteString(Telemetry.EventSyncTelemetry.TraceparentHeader, traceparent);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
