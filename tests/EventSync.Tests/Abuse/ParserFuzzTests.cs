using System.Text;
using System.Text.Json.Nodes;
using EventSync.Core.Configuration;
using EventSync.Core.Ingest;
using EventSync.Core.Work;
using Xunit.Abstractions;

namespace EventSync.Tests.Abuse;

/// <summary>
/// Property-based style generators over every source kind's verifier and parser (and the flow router behind them):
/// random bodies and headers always get a decision, never an exception; valid signed random payloads are always
/// accepted. Fixed seed; EVENTSYNC_FUZZ_COUNT raises the count for long runs.
/// </summary>
public sealed class ParserFuzzTests(ITestOutputHelper output)
{
    private static readonly int Count = AbuseReport.FuzzCount(400);

    public static TheoryData<string> Kinds => new(KindSetup.All.Select(k => k.Kind));

    private static (SourceVerifier Verifier, FlowRouter Router) Build(KindSetup k)
    {
        var (config, problems) = ConfigLoader.TryParse($"""
            store: sqlite:unused.db
            sources:
              {KindSetup.Source}: {k.SourceYaml}
            sinks:
              out: {"{"} kind: noop {"}"}
            flows:
              - {k.FlowYaml}
            """, new Dictionary<string, string?>());
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        return (new SourceVerifier(config!.Sources[KindSetup.Source], TimeProvider.System), new FlowRouter(config));
    }

    private static IncomingRequest Incoming(byte[] body, IEnumerable<(string Name, string Value)> headers, string? contentType = "application/json")
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers) map[name] = map.TryGetValue(name, out var v) ? v + ", " + value : value;
        return new IncomingRequest(KindSetup.Source, contentType, body, map, "127.0.0.1");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Random_bodies_and_headers_always_get_a_decision(string kind)
    {
        var k = KindSetup.Get(kind);
        var (verifier, router) = Build(k);
        var random = new Random(AbuseSeed.Value ^ kind.GetHashCode(StringComparison.Ordinal) & 0x7fff);
        var decisions = new Dictionary<string, int>(StringComparer.Ordinal);
        var passed = 0;
        for (var i = 0; i < Count; i++)
        {
            var body = RandomBody(random, k, i);
            var signed = random.Next(3) > 0;
            var headers = signed ? k.Sign(body, $"fuzz-{i}", TimeSpan.Zero) : [];
            headers = MutateHeaders(random, headers);
            var contentType = random.Next(10) switch { 0 => null, 1 => "text/plain", 2 => "application/x-www-form-urlencoded", 3 => "application/vnd.x+json; charset=utf-8", _ => "application/json" };
            var request = Incoming(body, headers, contentType);
            var context = $"case {i} (seed {AbuseSeed.Value}, kind {kind}): body {Convert.ToBase64String(body.Length > 200 ? body[..200] : body)}, headers {string.Join("; ", headers.Select(h => h.Name + "=" + h.Value))}";
            IngestDecision decision;
            try
            {
                decision = verifier.Verify(request);
                if (decision is IngestDecision.Accept accept && accept.RouteToFlows)
                    _ = router.Route(KindSetup.Source, accept.EventType, accept.DeliveryId, accept.Root);
                _ = verifier.SanitizedHeadersJson(request);
            }
            catch (Exception ex)
            {
                AbuseReport.Record("fuzz_parser_no_throw", i + 1, i);
                Assert.Fail($"{ex.GetType().Name}: {ex.Message}\n{context}");
                return;
            }
            var label = decision switch
            {
                IngestDecision.Reject r => $"{r.Status} {r.Code}",
                IngestDecision.Accept => "202 accepted",
                _ => "200 handshake",
            };
            decisions[label] = decisions.GetValueOrDefault(label) + 1;
            if (decision is IngestDecision.Reject reject)
                Assert.True(reject.Status is >= 400 and < 500 && reject.Message.Length > 0 && !k.Secrets.Any(s => reject.Message.Contains(s, StringComparison.Ordinal)), $"{label}: {reject.Message}\n{context}");
            passed++;
        }
        AbuseReport.Record("fuzz_parser_no_throw", Count, passed);
        output.WriteLine($"{kind}: {Count} random requests (seed {AbuseSeed.Value}): " + string.Join(", ", decisions.OrderByDescending(d => d.Value).Select(d => $"{d.Key} ×{d.Value}")));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Valid_signed_random_payloads_are_always_accepted(string kind)
    {
        var k = KindSetup.Get(kind);
        var (verifier, router) = Build(k);
        var random = new Random(AbuseSeed.Value + kind.Length);
        var passed = 0;
        for (var i = 0; i < Count; i++)
        {
            var payload = ValidPayload(random, kind);
            var body = Encoding.UTF8.GetBytes(payload.ToJsonString());
            var id = RandomText(random, 1, 40, ascii: true);
            var request = Incoming(body, k.Sign(body, id, TimeSpan.FromSeconds(random.Next(-240, 240))));
            var decision = verifier.Verify(request);
            var accepted = decision is IngestDecision.Accept;
            if (decision is IngestDecision.Accept accept) _ = router.Route(KindSetup.Source, accept.EventType, accept.DeliveryId, accept.Root);
            if (!accepted)
            {
                AbuseReport.Record("fuzz_valid_accepted", i + 1, passed);
                Assert.Fail($"case {i} (seed {AbuseSeed.Value}, kind {kind}) was not accepted: {decision}\n{payload.ToJsonString()}\nid {id}");
            }
            passed++;
        }
        AbuseReport.Record("fuzz_valid_accepted", Count, passed);
        output.WriteLine($"{kind}: {Count} valid signed random payloads accepted (seed {AbuseSeed.Value})");
    }

    private static byte[] RandomBody(Random random, KindSetup k, int i)
    {
        var valid = Encoding.UTF8.GetBytes(k.ValidBody(i));
        switch (random.Next(6))
        {
            case 0: // random bytes
            {
                var bytes = new byte[random.Next(0, 300)];
                random.NextBytes(bytes);
                return bytes;
            }
            case 1: // truncated
                return valid[..random.Next(valid.Length + 1)];
            case 2: // byte flips
            {
                var copy = valid.ToArray();
                for (var n = random.Next(1, 6); n > 0; n--) copy[random.Next(copy.Length)] = (byte)random.Next(256);
                return copy;
            }
            case 3: // random JSON value of any shape
                return Encoding.UTF8.GetBytes(RandomJson(random, 0)?.ToJsonString() ?? "null");
            case 4: // the valid shape with random field values
            {
                var node = JsonNode.Parse(valid)!.AsObject();
                foreach (var name in node.Select(p => p.Key).ToList())
                    if (random.Next(2) == 0) node[name] = RandomJson(random, 2);
                return Encoding.UTF8.GetBytes(node.ToJsonString());
            }
            default: // form-encoded, sometimes carrying the valid body
                return Encoding.UTF8.GetBytes(random.Next(2) == 0 ? "payload=" + Uri.EscapeDataString(k.ValidBody(i)) : RandomText(random, 0, 80, ascii: false));
        }
    }

    private static List<(string Name, string Value)> MutateHeaders(Random random, List<(string Name, string Value)> headers)
    {
        string[] names = ["X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256", "X-Notion-Signature", "webhook-id", "webhook-timestamp", "webhook-signature", "Authorization", "X-GitHub-Hook-ID", "Idempotency-Key"];
        var result = headers.ToList();
        for (var n = random.Next(0, 4); n > 0; n--)
        {
            switch (random.Next(4))
            {
                case 0 when result.Count > 0: result.RemoveAt(random.Next(result.Count)); break;
                case 1 when result.Count > 0:
                    var at = random.Next(result.Count);
                    result[at] = (result[at].Name, RandomHeaderValue(random));
                    break;
                default: result.Add((names[random.Next(names.Length)], RandomHeaderValue(random))); break;
            }
        }
        return result;
    }

    private static string RandomHeaderValue(Random random) => random.Next(6) switch
    {
        0 => "",
        1 => "sha256=" + new string('f', random.Next(60, 70)),
        2 => "v1," + Convert.ToBase64String(new byte[random.Next(30, 34)]),
        3 => random.NextInt64(-99999999999, 99999999999).ToString(System.Globalization.CultureInfo.InvariantCulture),
        4 => "Bearer " + RandomText(random, 0, 40, ascii: true),
        _ => RandomText(random, 0, 120, ascii: false),
    };

    private static string RandomText(Random random, int min, int max, bool ascii)
    {
        var sb = new StringBuilder();
        var length = random.Next(min, max + 1);
        while (sb.Length < length)
        {
            if (ascii) sb.Append((char)random.Next(0x21, 0x7f));
            else
            {
                var cp = random.Next(5) switch { 0 => random.Next(0x20, 0x7f), 1 => random.Next(0xa0, 0x800), 2 => random.Next(0x800, 0xd800), 3 => random.Next(0x10000, 0x10ffff), _ => random.Next(0, 0x20) };
                sb.Append(char.ConvertFromUtf32(cp));
            }
        }
        return sb.ToString();
    }

    private static JsonNode? RandomJson(Random random, int depth) => random.Next(depth > 4 ? 5 : 8) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(2) == 0),
        2 => JsonValue.Create(random.NextDouble() * Math.Pow(10, random.Next(-5, 20)) * (random.Next(2) == 0 ? -1 : 1)),
        3 or 4 => JsonValue.Create(RandomText(random, 0, 30, ascii: false)),
        5 => new JsonArray(Enumerable.Range(0, random.Next(4)).Select(_ => RandomJson(random, depth + 1)).ToArray()),
        _ => RandomObject(random, depth + 1),
    };

    private static JsonObject RandomObject(Random random, int depth)
    {
        var o = new JsonObject();
        for (var n = random.Next(5); n > 0; n--) o[RandomText(random, 1, 12, ascii: random.Next(2) == 0)] = RandomJson(random, depth + 1);
        return o;
    }

    /// <summary>A random payload that has what the kind requires, with anything else around it.</summary>
    private static JsonObject ValidPayload(Random random, string kind)
    {
        var o = RandomObject(random, 2);
        string Text() => RandomText(random, 1, 40, ascii: random.Next(2) == 0);
        switch (kind)
        {
            case "notion":
                o["id"] = Text();
                o["type"] = Text();
                o.Remove("verification_token");
                break;
            case "supabase":
                o["type"] = new[] { "INSERT", "UPDATE", "DELETE" }[random.Next(3)];
                o["table"] = Text();
                o["schema"] = Text();
                break;
            case "website":
                o["event_type"] = Text();
                o["client_payload"] = new JsonObject { ["resource"] = Text(), ["id"] = Text(), ["action"] = RandomJson(random, 3) };
                break;
            case "github":
                o["repository"] = new JsonObject { ["full_name"] = Text() };
                break;
        }
        return o;
    }
}
