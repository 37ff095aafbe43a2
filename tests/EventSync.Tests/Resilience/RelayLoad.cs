using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;
using EventSync.Core.Sinks;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.Resilience;

/// <summary>
/// A relay flow driven like a real sender would: numbered signed deliveries, resent until acknowledged,
/// and checks on what the downstream receiver saw.
/// </summary>
public sealed class RelayLoad
{
    public const string Flow = "relay-orders";
    private const string SinkSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    private readonly int _keys;

    public RelayLoad(int events, int keys)
    {
        Events = events;
        _keys = keys;
    }

    public int Events { get; }
    /// <summary>Deliveries the server answered 202: from then on it owns them.</summary>
    public ConcurrentDictionary<string, bool> Acknowledged { get; } = new();

    public static string DeliveryId(int i) => $"evt-{i:D5}";

    /// <param name="retry">The relay flow's retry schedule (a YAML list).</param>
    /// <param name="extraSources">More entries under <c>sources:</c>, each line indented by two spaces.</param>
    /// <param name="extraFlows">More items of <c>flows:</c>, indented like the first.</param>
    public string WriteConfig(string dir, string store, Uri receiver, int sinkConcurrency, string retry = "[200ms, 400ms, 800ms, 1s, 1s, 1s]", string extraSources = "", string extraFlows = "")
    {
        var path = Path.Combine(dir, "eventsync.yaml");
        File.WriteAllText(path, $$"""
            store: {{store}}
            sources:
              orders: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}}, rateLimit: { perSecond: 0 } }
            {{extraSources}}
            sinks:
              relay: { kind: webhook, url: "{{receiver}}", secret: "{{SinkSecret}}", concurrency: {{sinkConcurrency}}, timeout: 10s }
            flows:
              - name: {{Flow}}
                from: orders
                events: ["*"]
                key: $.id
                to: relay
                retry: { schedule: {{retry}} }
            {{extraFlows}}
            workers: { lease: 2s, pollInterval: 200ms }
            """);
        return path;
    }

    /// <summary>Sends every not-yet-acknowledged delivery once; connection failures just leave it for the next round.</summary>
    public async Task SendPendingAsync(IReadOnlyList<Uri> servers, int parallel, CancellationToken cancellationToken, int? upTo = null)
    {
        using var clients = new ClientSet(servers);
        var pending = Enumerable.Range(0, Math.Min(upTo ?? Events, Events)).Where(i => !Acknowledged.ContainsKey(DeliveryId(i)));
        await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var json = $$"""{"id":"order-{{i % _keys}}","seq":{{i}},"note":"{{new string('x', 200)}}"}""";
            try
            {
                using var response = await clients.For(i).SendAsync(SignedRequests.Standard("orders", DeliveryId(i), json), ct);
                if (response.StatusCode == HttpStatusCode.Accepted) Acknowledged[DeliveryId(i)] = true;
            }
            catch (HttpRequestException)
            {
                // The server is down (killed on purpose); the sender retries later with the same webhook-id.
            }
        });
    }

    /// <summary>Delivery ids of every event the receiver has been told about (merged events included).</summary>
    public static HashSet<string> Delivered(Receiver receiver)
    {
        var seen = new HashSet<string>();
        foreach (var r in receiver.Requests)
        {
            using var doc = JsonDocument.Parse(r.Body);
            foreach (var e in doc.RootElement.GetProperty("data").GetProperty("events").EnumerateArray())
                seen.Add(e.GetProperty("deliveryId").GetString()!);
        }
        return seen;
    }

    public bool AllDelivered(Receiver receiver) => Delivered(receiver).Count(id => id.StartsWith("evt-", StringComparison.Ordinal)) >= Events;

    /// <summary>Every sink call is signed and carries the idempotency key of the state it delivers.</summary>
    public static void AssertSignedWithIdempotencyKeys(Receiver receiver)
    {
        var key = ConfigLoader.StandardWebhookSecret(SinkSecret)!;
        foreach (var r in receiver.Requests)
        {
            using var doc = JsonDocument.Parse(r.Body);
            var data = doc.RootElement.GetProperty("data");
            var latest = data.GetProperty("latest").GetProperty("id").GetInt64();
            Assert.Equal(SinkDelivery.IdempotencyKeyFor(data.GetProperty("flow").GetString()!, latest), r.WebhookId);
            Assert.Equal(SignatureCheck.Valid, StandardWebhookSignature.Verify(key, r.WebhookId, r.Timestamp, r.Signature, r.Body, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)));
        }
    }

    /// <summary>Jobs for one key run in order: the state a key's receiver sees never goes backwards.</summary>
    public static void AssertPerKeyOrder(Receiver receiver)
    {
        var last = new Dictionary<string, long>();
        foreach (var r in receiver.Requests)
        {
            using var doc = JsonDocument.Parse(r.Body);
            var latest = doc.RootElement.GetProperty("data").GetProperty("latest").GetProperty("id").GetInt64();
            if (last.TryGetValue(r.Entity, out var previous))
                Assert.True(latest >= previous, $"entity {r.Entity} received event {latest} after {previous}");
            last[r.Entity] = latest;
        }
    }

    private sealed class ClientSet(IReadOnlyList<Uri> servers) : IDisposable
    {
        private readonly HttpClient[] _clients = [.. servers.Select(s => new HttpClient { BaseAddress = s, Timeout = TimeSpan.FromSeconds(20) })];

        public HttpClient For(int i) => _clients[i % _clients.Length];

        public void Dispose()
        {
            foreach (var c in _clients) c.Dispose();
        }
    }
}
