using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;

namespace EventSync.Tests.Abuse;

/// <summary>One hostile request: what it is, how to build it, and the answer it must get.</summary>
/// <param name="Audited">A webhook request the server must log in the delivery log (false: refused by Kestrel before routing, or not a webhook).</param>
/// <param name="Duplicate">A replay of a stored delivery: 202 with duplicate=true and no new event.</param>
internal sealed record AbuseCase(string Category, string Name, Func<HttpRequestMessage> Build, int Status, string? Code, bool Audited = true, bool Duplicate = false);

/// <summary>How one source kind is configured, signed and fed valid traffic.</summary>
internal sealed class KindSetup
{
    public required string Kind { get; init; }
    public required string SourceYaml { get; init; }
    public required string FlowYaml { get; init; }
    /// <summary>Secrets that must never appear in the delivery log, an event's headers or an answer.</summary>
    public required string[] Secrets { get; init; }
    /// <summary>A valid body for delivery <c>i</c>.</summary>
    public required Func<int, string> ValidBody { get; init; }
    /// <summary>The headers that authenticate <c>body</c> as delivery <c>id</c> (timestamp offset for tolerance cases).</summary>
    public required Func<byte[], string, TimeSpan, List<(string Name, string Value)>> Sign { get; init; }
    /// <summary>The header carrying the signature or shared secret.</summary>
    public required string SignatureHeader { get; init; }
    public bool Timestamped { get; init; }

    public const string Source = "hooks";
    public const string GitHubSecret = "gh-abuse-secret-8f3a1c";
    public const string NotionToken = "secret_AbuseSuiteNotionVerificationToken0123456789";
    public const string StandardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    public const string SupabaseSecret = "supa-abuse-shared-secret-42";

    public HttpRequestMessage Request(byte[] body, IEnumerable<(string, string)> headers, string? contentType = "application/json", string source = Source)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/hooks/{source}") { Content = new ByteArrayContent(body) };
        if (contentType is not null) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        foreach (var (name, value) in headers)
            if (!request.Headers.TryAddWithoutValidation(name, value)) request.Content.Headers.TryAddWithoutValidation(name, value);
        return request;
    }

    public HttpRequestMessage Signed(byte[] body, string id, TimeSpan? skew = null, string? contentType = "application/json") =>
        Request(body, Sign(body, id, skew ?? TimeSpan.Zero), contentType);

    public HttpRequestMessage Valid(int i, out string id)
    {
        id = $"valid-{Kind}-{i}";
        return Signed(Encoding.UTF8.GetBytes(ValidBody(i)), id);
    }

    private static string Ts(TimeSpan skew) => (DateTimeOffset.UtcNow + skew).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    private static List<(string, string)> StandardHeaders(byte[] body, string id, TimeSpan skew)
    {
        var ts = Ts(skew);
        var sig = StandardWebhookSignature.Sign(ConfigLoader.StandardWebhookSecret(StandardSecret)!, id, long.Parse(ts, CultureInfo.InvariantCulture), body);
        return [("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", sig)];
    }

    public static readonly KindSetup[] All =
    [
        new()
        {
            Kind = "github",
            SourceYaml = $"{{ kind: github, secret: \"{GitHubSecret}\", maxBodySize: 64KiB }}",
            FlowYaml = "{ name: f, from: hooks, events: [push], key: $.repository.full_name, to: out }",
            Secrets = [GitHubSecret],
            ValidBody = i => $$$"""{"ref":"refs/heads/main","after":"{{{i:x40}}}","repository":{"full_name":"acme/r{{{i}}}"},"commits":[]}""",
            Sign = (body, id, _) => [("X-GitHub-Event", "push"), ("X-GitHub-Delivery", id), ("X-GitHub-Hook-ID", "7"), ("X-Hub-Signature-256", HmacSha256Hex.Sign(body, GitHubSecret))],
            SignatureHeader = "X-Hub-Signature-256",
        },
        new()
        {
            Kind = "notion",
            SourceYaml = $"{{ kind: notion, verificationToken: \"{NotionToken}\", maxBodySize: 64KiB }}",
            FlowYaml = "{ name: f, from: hooks, key: $.entity.id, to: out }",
            Secrets = [NotionToken],
            ValidBody = i => $$$"""{"id":"evt-{{{i}}}","type":"page.content_updated","entity":{"id":"page-{{{i}}}","type":"page"}}""",
            Sign = (body, _, _) => [("X-Notion-Signature", HmacSha256Hex.Sign(body, NotionToken))],
            SignatureHeader = "X-Notion-Signature",
        },
        new()
        {
            Kind = "standard-webhooks",
            SourceYaml = $"{{ kind: standard-webhooks, secret: {StandardSecret}, maxBodySize: 64KiB }}",
            FlowYaml = "{ name: f, from: hooks, key: $.id, to: out }",
            Secrets = [StandardSecret, StandardSecret["whsec_".Length..]],
            ValidBody = i => $$$"""{"type":"order.updated","id":"ord_{{{i}}}","data":{"status":"paid"}}""",
            Sign = StandardHeaders,
            SignatureHeader = "webhook-signature",
            Timestamped = true,
        },
        new()
        {
            Kind = "supabase",
            SourceYaml = $"{{ kind: supabase, sharedSecret: {SupabaseSecret}, maxBodySize: 64KiB }}",
            FlowYaml = "{ name: f, from: hooks, events: [INSERT, UPDATE], key: $.record.id, to: out }",
            Secrets = [SupabaseSecret],
            ValidBody = i => $$$"""{"type":"INSERT","table":"projects","schema":"public","record":{"id":{{{i}}},"name":"p{{{i}}}"},"old_record":null}""",
            Sign = (_, _, _) => [("Authorization", "Bearer " + SupabaseSecret)],
            SignatureHeader = "Authorization",
        },
        new()
        {
            Kind = "website",
            SourceYaml = $"{{ kind: website, secret: {StandardSecret}, maxBodySize: 64KiB }}",
            FlowYaml = "{ name: f, from: hooks, key: $.client_payload.id, to: out }",
            Secrets = [StandardSecret, StandardSecret["whsec_".Length..]],
            ValidBody = i => $$$"""{"event_type":"website-update","client_payload":{"resource":"agent","id":"agent-{{{i}}}","action":"updated"}}""",
            Sign = StandardHeaders,
            SignatureHeader = "webhook-signature",
            Timestamped = true,
        },
    ];

    public static KindSetup Get(string kind) => All.Single(k => k.Kind == kind);
}

/// <summary>The hostile corpus as data: per source kind, every category that applies to it.</summary>
internal static class HostileCorpus
{
    public const string AdminToken = "admin-abuse-token-5d1e9b77";
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static IReadOnlyList<AbuseCase> For(KindSetup k, Func<HttpRequestMessage> firstValid)
    {
        var cases = new List<AbuseCase>();
        var n = 0;
        string Id() => $"hostile-{k.Kind}-{n++}";
        void Add(string category, string name, Func<HttpRequestMessage> build, int status, string? code, bool audited = true, bool duplicate = false) =>
            cases.Add(new AbuseCase(category, name, build, status, code, audited, duplicate));

        // Authenticated but unparseable: the verifier must answer 400, never throw.
        string[] malformed =
        [
            "{", "{\"a\":", "{\"a\":1,}", "{'a':1}", "{\"a\":tru}", "}{", "{\"a\":1}}", "{\"a\":\"unterminated}", "", " \n\t ",
            "null", "[]", "[{\"id\":1}]", "\"string\"", "42", "{\"a\":1} trailing", "{\"a\":NaN}", "{\"a\":01}", "{\"a\":\"\\x\"}",
            "{\"a\":\"\\uD800\"", "{\"a\" 1}", "{,}", "{\"a\":[1,2}", "{\"a\":1 /* comment */}",
        ];
        foreach (var body in malformed)
        {
            var id = Id();
            Add("malformed_json", Show(body), () => k.Signed(B(body), id), 400, "malformed_json");
        }
        foreach (var (name, bytes) in new (string, byte[])[]
        {
            ("truncated valid body", B(k.ValidBody(9000))[..^3]),
            ("BOM then truncated", Cat(Utf8Bom, B("{\"a\":"))),
            ("NUL byte", Cat(B("{\"a\":"), [0], B("1}"))),
        })
        {
            var id = Id();
            Add("malformed_json", name, () => k.Signed(bytes, id), 400, "malformed_json");
        }

        // Invalid UTF-8 inside otherwise valid JSON of the kind's shape.
        foreach (var (name, bad) in new (string, byte[])[]
        {
            ("lone continuation byte", [0x80]), ("truncated 2-byte sequence", [0xC3]), ("overlong slash", [0xC0, 0xAF]),
            ("UTF-16 surrogate", [0xED, 0xA0, 0x80]), ("beyond U+10FFFF", [0xF4, 0x90, 0x80, 0x80]), ("0xFF", [0xFF]),
        })
        {
            var valid = k.ValidBody(9100 + n);
            var at = valid.IndexOf("\":\"", StringComparison.Ordinal) + 3; // inside the first string value
            var bytes = Cat(B(valid[..at]), bad, B(valid[at..]));
            var id = Id();
            Add("invalid_utf8", name, () => k.Signed(bytes, id), 400, "malformed_json");
        }
        {
            var valid = k.ValidBody(9200);
            var bytes = Cat(B("{\""), [0xFE], B("\":1,"), B(valid[1..]));
            var id = Id();
            Add("invalid_utf8", "invalid byte in a property name", () => k.Signed(bytes, id), 400, "malformed_json");
        }

        // Deep nesting past the parser's MaxDepth (64); the deepest stays under the body limit.
        foreach (var depth in new[] { 65, 200, 5_000, 10_000 })
        {
            var body = string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
            var id = Id();
            Add("deep_nesting", $"objects {depth} deep", () => k.Signed(B(body), id), 400, "malformed_json");
        }
        {
            var body = "{\"a\":" + new string('[', 1000) + new string(']', 1000) + "}";
            var id = Id();
            Add("deep_nesting", "arrays 1000 deep", () => k.Signed(B(body), id), 400, "malformed_json");
        }

        Signatures(k, Add, Id, firstValid);

        // Too big: declared, and streamed without a length.
        foreach (var size in new[] { 64 * 1024 + 1, 1024 * 1024 })
        {
            var body = new byte[size];
            Array.Fill(body, (byte)' ');
            var id = Id();
            Add("oversize_body", $"{size} bytes with Content-Length", () => k.Signed(body, id), 413, "payload_too_large");
        }
        {
            var id = Id();
            Add("oversize_body", "200 KiB chunked", () =>
            {
                var request = k.Signed([], id);
                var stream = new MemoryStream(new byte[200 * 1024]);
                request.Content = new StreamContent(stream);
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
                request.Headers.TransferEncodingChunked = true;
                return request;
            }, 413, "payload_too_large");
        }

        foreach (var type in new[] { "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/jsonx" })
        {
            var id = Id();
            Add("media_type", type, () => k.Signed(B(k.ValidBody(9300)), id, contentType: type), 415, "unsupported_media_type");
        }
        {
            var id = Id();
            Add("media_type", "no content type", () => k.Signed(B(k.ValidBody(9301)), id, contentType: null), 415, "unsupported_media_type");
        }

        // Refused by Kestrel before any endpoint runs, so they cannot be audited.
        Add("huge_headers", "one 40 KiB header", () => k.Request(B(k.ValidBody(9400)), [("X-Filler", new string('a', 40 * 1024))]), 431, null, audited: false);
        Add("huge_headers", "150 headers", () => k.Request(B(k.ValidBody(9401)), Enumerable.Range(0, 150).Select(i => ($"X-H{i}", "v"))), 431, null, audited: false);
        {
            var id = Id();
            // Large but inside Kestrel's limits: the endpoint stores only what it needs, truncated.
            Add("huge_headers", "16 KiB header, no signature", () => k.Request(B(k.ValidBody(9402)), [.. k.Sign(B(k.ValidBody(9402)), id, TimeSpan.Zero).Where(h => h.Name != k.SignatureHeader), ("X-Filler", new string('b', 16 * 1024))]), 401, null);
        }

        // Source names from the URL: unknown, SQL-looking, traversal, long. Audited under the (truncated) name.
        foreach (var name in new[] { "nope", "hooks%27%20OR%20%271%27%3D%271", "x%27%3B%20DROP%20TABLE%20events%3B--", "..%2F..%2Fapi%2Fstatus", new string('s', 3000), "%E2%80%AE%F0%9F%94%A5" })
        {
            var id = Id();
            Add("unknown_source", name.Length > 40 ? $"{name.Length}-char name" : name, () => k.Request(B(k.ValidBody(9500)), k.Sign(B(k.ValidBody(9500)), id, TimeSpan.Zero), source: name), 404, "unknown_source");
        }

        Kinds(k, Add, Id);
        return cases;
    }

    private static string Show(string body) => body.Length == 0 ? "(empty)" : body.Length > 30 ? body[..30] + "…" : body;

    private delegate void Adder(string category, string name, Func<HttpRequestMessage> build, int status, string? code, bool audited = true, bool duplicate = false);

    private static void Signatures(KindSetup k, Adder add, Func<string> nextId, Func<HttpRequestMessage> firstValid)
    {
        var body = B(k.ValidBody(9600));
        List<(string, string)> Without(string id, string header) => [.. k.Sign(body, id, TimeSpan.Zero).Where(h => !h.Item1.Equals(header, StringComparison.OrdinalIgnoreCase))];
        List<(string, string)> With(string id, params (string, string)[] replace) => [.. Without(id, k.SignatureHeader), .. replace];
        var hmac = k.Kind is "github" or "notion";
        var shared = k.Kind == "supabase";
        var h = k.SignatureHeader;

        var missingCode = shared ? "missing_secret" : "missing_signature";
        var wrongCode = shared ? "invalid_secret" : "invalid_signature";
        string Wrong(string id) => hmac ? HmacSha256Hex.Sign(body, "not the secret")
            : shared ? "Bearer not-the-secret"
            : StandardWebhookSignature.Sign(Encoding.UTF8.GetBytes("not the key at all, 32 bytes long"), id, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), body);

        var id1 = nextId();
        add("signature", "missing", () => k.Request(body, Without(id1, h)), 401, missingCode);
        var id2 = nextId();
        add("signature", "empty", () => k.Request(body, With(id2, (h, ""))), 401, missingCode);
        var id3 = nextId();
        add("signature", "wrong key", () => k.Request(body, With(id3, (h, Wrong(id3)))), 401, wrongCode);
        var id4 = nextId();
        add("signature", "garbage", () => k.Request(body, With(id4, (h, "garbage!!"))), 401, shared ? "missing_secret" : "malformed_signature");
        var id5 = nextId();
        add("signature", "duplicated header (wrong twice)", () => k.Request(body, With(id5, (h, Wrong(id5)), (h, Wrong(id5)))), 401, hmac ? "malformed_signature" : wrongCode);
        var id6 = nextId();
        var signedOther = k.Sign(B(k.ValidBody(9601)), id6, TimeSpan.Zero).First(x => x.Name == h).Value;
        // A signature lifted from another delivery onto this body (for a shared secret, the secret itself is the credential).
        if (!shared) add("signature", "replayed onto another body", () => k.Request(body, With(id6, (h, signedOther))), 401, "invalid_signature");
        var id7 = nextId();
        var good = k.Sign(body, id7, TimeSpan.Zero).First(x => x.Name == h).Value;
        add("signature", "truncated", () => k.Request(body, With(id7, (h, good[..^4]))), 401, shared ? "invalid_secret" : "malformed_signature");
        var id8 = nextId();
        // A shared secret does not cover the body, so only signed kinds can detect a changed one.
        if (!shared) add("signature", "body changed after signing", () => k.Request(B(k.ValidBody(9602)), k.Sign(body, id8, TimeSpan.Zero)), 401, "invalid_signature");
        if (hmac)
        {
            var id9 = nextId();
            add("signature", "sha1 scheme", () => k.Request(body, With(id9, (h, "sha1=" + new string('a', 40)))), 401, "malformed_signature");
        }
        if (k.Timestamped)
        {
            var id9 = nextId();
            add("signature", "unknown version only", () => k.Request(body, With(id9, (h, "v2," + Convert.ToBase64String(new byte[32])))), 401, "malformed_signature");
            var idA = nextId();
            add("signature", "bearer instead of signature", () => k.Request(body, [.. Without(idA, h), ("Authorization", "Bearer " + KindSetup.StandardSecret)]), 401, "missing_signature");
        }
        if (shared)
        {
            var id9 = nextId();
            add("signature", "secret without Bearer", () => k.Request(body, With(id9, (h, KindSetup.SupabaseSecret))), 401, "missing_secret");
            var idA = nextId();
            add("signature", "secret in the query string", () =>
            {
                var r = k.Request(body, Without(idA, h));
                r.RequestUri = new Uri($"/hooks/{KindSetup.Source}?secret={KindSetup.SupabaseSecret}", UriKind.Relative);
                return r;
            }, 401, "missing_secret");
        }

        // Exact replays of the first valid delivery: deduplicated, never a second event.
        add("replay", "exact replay", firstValid, 202, null, duplicate: true);
        add("replay", "exact replay again", firstValid, 202, null, duplicate: true);

        if (!k.Timestamped) return;
        foreach (var (name, skew, code) in new (string, TimeSpan, string)[]
        {
            ("10 minutes old", TimeSpan.FromMinutes(-10), "timestamp_too_old"), ("a day old", TimeSpan.FromDays(-1), "timestamp_too_old"),
            ("10 minutes ahead", TimeSpan.FromMinutes(10), "timestamp_too_new"), ("a year ahead", TimeSpan.FromDays(365), "timestamp_too_new"),
        })
        {
            var id = nextId();
            add("timestamp", name, () => k.Signed(body, id, skew), 401, code);
        }
        foreach (var (name, value, code) in new (string, string, string)[]
        {
            ("milliseconds", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture), "timestamp_too_new"),
            ("negative", "-1", "malformed_signature"), ("zero", "0", "timestamp_too_old"), ("overflow", "99999999999999999999999", "malformed_signature"),
            ("not a number", "yesterday", "malformed_signature"), ("ISO date", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture), "malformed_signature"),
            ("padded with spaces (trimmed by HTTP)", " 1700000000 ", "timestamp_too_old"), ("plus sign", "+1700000000", "malformed_signature"),
        })
        {
            var id = nextId();
            add("timestamp", name, () => k.Request(body, [.. k.Sign(body, id, TimeSpan.Zero).Where(x => x.Name != "webhook-timestamp"), ("webhook-timestamp", value)]), 401, code);
        }
        var idB = nextId();
        add("timestamp", "missing", () => k.Request(body, [.. k.Sign(body, idB, TimeSpan.Zero).Where(x => x.Name != "webhook-timestamp")]), 400, "missing_header");
        var idC = nextId();
        add("timestamp", "missing webhook-id", () => k.Request(body, [.. k.Sign(body, idC, TimeSpan.Zero).Where(x => x.Name != "webhook-id")]), 400, "missing_header");
    }

    private static void Kinds(KindSetup k, Adder add, Func<string> nextId)
    {
        HttpRequestMessage Sig(string json, string? id = null) => k.Signed(B(json), id ?? nextId());
        switch (k.Kind)
        {
            case "github":
            {
                var body = B(k.ValidBody(9700));
                var id = nextId();
                add("semantics", "no X-GitHub-Event", () => k.Request(body, k.Sign(body, id, TimeSpan.Zero).Where(h => h.Name != "X-GitHub-Event")), 400, "missing_header");
                var id2 = nextId();
                add("semantics", "no X-GitHub-Delivery", () => k.Request(body, k.Sign(body, id2, TimeSpan.Zero).Where(h => h.Name != "X-GitHub-Delivery")), 400, "missing_header");
                var form = B("other=" + Uri.EscapeDataString(k.ValidBody(9701)));
                var id3 = nextId();
                add("semantics", "form without payload field", () => k.Signed(form, id3, contentType: "application/x-www-form-urlencoded"), 400, "missing_payload");
                var badForm = B("payload=%7B%22a%22%3A");
                var id4 = nextId();
                add("semantics", "form with truncated JSON", () => k.Signed(badForm, id4, contentType: "application/x-www-form-urlencoded"), 400, "malformed_json");
                var badEscape = B("payload=%ZZ%7B");
                var id5 = nextId();
                add("semantics", "form with a broken escape", () => k.Signed(badEscape, id5, contentType: "application/x-www-form-urlencoded"), 400, "malformed_json");
                break;
            }
            case "notion":
                add("semantics", "handshake with a token not starting secret_", () => k.Request(B("{\"verification_token\":\"abc\"}"), []), 400, "invalid_verification_token");
                add("semantics", "handshake with a huge token", () => k.Request(B("{\"verification_token\":\"secret_" + new string('x', 500) + "\"}"), []), 400, "invalid_verification_token");
                add("semantics", "event without id", () => Sig("{\"type\":\"page.created\"}"), 400, "invalid_event");
                add("semantics", "event with numeric id", () => Sig("{\"id\":5,\"type\":\"page.created\"}"), 400, "invalid_event");
                add("semantics", "event without type", () => Sig("{\"id\":\"e1\"}"), 400, "invalid_event");
                break;
            case "supabase":
                add("semantics", "type DROP", () => Sig("{\"type\":\"DROP\",\"table\":\"projects\",\"schema\":\"public\"}"), 400, "invalid_event");
                add("semantics", "no table", () => Sig("{\"type\":\"INSERT\",\"schema\":\"public\"}"), 400, "invalid_event");
                add("semantics", "table is an object", () => Sig("{\"type\":\"INSERT\",\"table\":{},\"schema\":\"public\"}"), 400, "invalid_event");
                add("semantics", "lowercase type", () => Sig("{\"type\":\"insert\",\"table\":\"t\",\"schema\":\"public\"}"), 400, "invalid_event");
                break;
            case "website":
                add("semantics", "no client_payload", () => Sig("{\"event_type\":\"website-update\"}"), 400, "invalid_event");
                add("semantics", "client_payload is a string", () => Sig("{\"event_type\":\"website-update\",\"client_payload\":\"x\"}"), 400, "invalid_event");
                add("semantics", "no resource id", () => Sig("{\"event_type\":\"website-update\",\"client_payload\":{\"resource\":\"agent\"}}"), 400, "invalid_event");
                add("semantics", "event_type is a number", () => Sig("{\"event_type\":1,\"client_payload\":{\"resource\":\"agent\",\"id\":\"a\"}}"), 400, "invalid_event");
                break;
            case "standard-webhooks":
                add("semantics", "id header of 1000 chars, unsigned", () => k.Request(B("{}"), [("webhook-id", new string('i', 1000)), ("webhook-timestamp", "1"), ("webhook-signature", "v1,x")]), 401, "timestamp_too_old");
                break;
        }
    }

    /// <summary>Every /api route with no token, a wrong one, or the wrong scheme: 401, no data.</summary>
    public static IReadOnlyList<AbuseCase> Admin()
    {
        (HttpMethod, string)[] routes =
        [
            (HttpMethod.Get, "/api/status"), (HttpMethod.Get, "/api/sources"), (HttpMethod.Get, "/api/events?payload=true"), (HttpMethod.Get, "/api/runs"),
            (HttpMethod.Get, "/api/runs/1"), (HttpMethod.Get, "/api/deliveries"), (HttpMethod.Get, "/api/dead"), (HttpMethod.Post, "/api/dead/1/replay"),
            (HttpMethod.Post, "/api/dead/replay"), (HttpMethod.Delete, "/api/dead/1"), (HttpMethod.Post, "/api/flows/f/trigger"), (HttpMethod.Get, "/api/conflicts"),
            (HttpMethod.Get, "/api/conflicts/1"), (HttpMethod.Post, "/api/conflicts/1/resolve?keep=winner"), (HttpMethod.Get, "/api/search?tenant=acme&q=x"),
            (HttpMethod.Get, "/api/vectors"), (HttpMethod.Get, "/api/activity"), (HttpMethod.Get, "/api/feed"), (HttpMethod.Get, "/api/events/1"), (HttpMethod.Get, "/api/jobs/1"),
        ];
        (string, Action<HttpRequestMessage>)[] variants =
        [
            ("no token", _ => { }),
            ("wrong token", r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer wrong-" + AdminToken)),
            ("token prefix", r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer " + AdminToken[..^1])),
            ("basic scheme", r => r.Headers.TryAddWithoutValidation("Authorization", "Basic " + Convert.ToBase64String(B("admin:" + AdminToken)))),
            ("token as query", r => r.RequestUri = new Uri(r.RequestUri!.OriginalString + (r.RequestUri.OriginalString.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "token=" + AdminToken, UriKind.Relative)),
            ("forged cookie", r => r.Headers.TryAddWithoutValidation("Cookie", "eventsync_session=forged; session=" + AdminToken)),
            ("empty bearer", r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer ")),
        ];
        var cases = new List<AbuseCase>();
        foreach (var (method, path) in routes)
            foreach (var (name, apply) in variants)
                cases.Add(new AbuseCase("admin_auth", $"{method} {path}: {name}", () =>
                {
                    var r = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
                    apply(r);
                    return r;
                }, 401, "unauthorized", Audited: false));
        cases.Add(new AbuseCase("admin_auth", "dashboard login with a wrong token", () => new HttpRequestMessage(HttpMethod.Post, "/dashboard/login")
        {
            Content = new FormUrlEncodedContent([new("token", "wrong")]),
        }, 401, null, Audited: false));
        return cases;
    }
}
