using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EventSync.Core.Ingest;
using EventSync.Core.Storage;
using EventSync.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EventSync.Tests.Abuse;

/// <summary>
/// The hostile corpus against the real server, one server per source kind, with valid signed deliveries interleaved
/// that must keep getting 202. Afterwards: every case got its status and error code, the delivery log holds one entry
/// per webhook request (rejections audited, no secret in it), the events are exactly the valid ones, /readyz is 200.
/// </summary>
public sealed class HostileBarrageTests(ITestOutputHelper output)
{
    private const string DripId = "drip-slow-body";

    public static TheoryData<string> Kinds => new(KindSetup.All.Select(k => k.Kind));

    private static Task<TestServer> StartAsync(KindSetup k) => TestServer.StartAsync($"""
        server: {"{"} adminToken: {HostileCorpus.AdminToken} {"}"}
        sources:
          {KindSetup.Source}: {k.SourceYaml}
        sinks:
          out: {"{"} kind: noop {"}"}
        flows:
          - {k.FlowYaml}
        """, runWorkers: false);

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Hostile_requests_get_their_status_and_audit_entry_and_no_event_while_valid_traffic_keeps_flowing(string kind)
    {
        var k = KindSetup.Get(kind);
        await using var server = await StartAsync(k);
        var sentSecrets = new HashSet<string>(k.Secrets, StringComparer.Ordinal) { HostileCorpus.AdminToken };
        var failures = new List<string>();
        var perCategory = new SortedDictionary<string, (int Tried, int Passed)>(StringComparer.Ordinal);
        void Count(string category, bool passed)
        {
            perCategory.TryGetValue(category, out var c);
            perCategory[category] = (c.Tried + 1, c.Passed + (passed ? 1 : 0));
        }

        var accepted = 0;
        async Task SendValidAsync(int i)
        {
            var request = k.Valid(i, out _);
            Remember(request, sentSecrets);
            HttpResponseMessage response;
            try
            {
                response = await server.Http.SendAsync(request);
            }
            catch (HttpRequestException ex)
            {
                failures.Add($"valid delivery {i} during the barrage: no answer ({ex.Message})");
                Count("valid_during_barrage", false);
                return;
            }
            using var answer = response;
            var text = await response.Content.ReadAsStringAsync();
            var ok = response.StatusCode == HttpStatusCode.Accepted && !JsonDocument.Parse(text).RootElement.GetProperty("duplicate").GetBoolean();
            if (ok) accepted++;
            else failures.Add($"valid delivery {i} during the barrage: {(int)response.StatusCode} {text}");
            Count("valid_during_barrage", ok);
        }

        // The first valid delivery, kept byte for byte so the corpus can replay it exactly.
        var firstBody = Encoding.UTF8.GetBytes(k.ValidBody(0));
        var firstHeaders = k.Sign(firstBody, $"valid-{k.Kind}-0", TimeSpan.Zero);
        Remember(k.Request(firstBody, firstHeaders), sentSecrets);
        using (var first = await server.Http.SendAsync(k.Request(firstBody, firstHeaders)))
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        accepted++;

        var cases = HostileCorpus.For(k, () => k.Request(firstBody, firstHeaders)).ToList();
        if (kind == "standard-webhooks") cases.AddRange(HostileCorpus.Admin());
        var drip = kind == "standard-webhooks" ? SlowDripAsync(server.Address) : null;

        var validIndex = 1;
        for (var i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            var problem = await RunCaseAsync(server, c, sentSecrets);
            Count(c.Category, problem is null);
            if (problem is not null) failures.Add($"[{c.Category}] {c.Name}: {problem}");
            if (i % 3 == 2) await SendValidAsync(validIndex++);
        }
        await SendValidAsync(validIndex++);

        if (drip is not null)
        {
            var (cut, detail, elapsed) = await drip;
            Count("slow_drip_body", cut);
            if (!cut) failures.Add($"[slow_drip_body] {detail}");
            output.WriteLine($"slow drip: {detail} after {elapsed.TotalSeconds:0.0} s");
            await SendValidAsync(validIndex++); // still serving after the cut
        }

        // The store: exactly the valid events, one log line per webhook request, rejections with their status.
        var events = await server.Store.ListEventsAsync(new EventQuery(Limit: 100_000), CancellationToken.None);
        var deliveries = (await server.Store.ListDeliveriesAsync(new DeliveryQuery(Limit: 100_000), CancellationToken.None))
            .Where(d => d.DeliveryId != DripId).ToList();
        var audited = cases.Where(c => c.Audited).ToList();
        Check("audit", events.Count == accepted, $"{events.Count} events stored, {accepted} valid deliveries accepted", failures, Count);
        Check("audit", deliveries.Count == accepted + audited.Count, $"{deliveries.Count} delivery-log entries, expected {accepted} accepted + {audited.Count} hostile", failures, Count);
        var expectedStatuses = audited.Where(c => !c.Duplicate).Select(c => c.Status).Order().ToList();
        var loggedStatuses = deliveries.Where(d => d.Outcome == DeliveryOutcomes.Rejected).Select(d => d.Status).Order().ToList();
        Check("audit", expectedStatuses.SequenceEqual(loggedStatuses), $"rejections logged with statuses [{string.Join(",", loggedStatuses)}], expected [{string.Join(",", expectedStatuses)}]", failures, Count);
        Check("audit", deliveries.Count(d => d.Outcome == DeliveryOutcomes.Duplicate) == audited.Count(c => c.Duplicate), "replays logged as duplicates", failures, Count);
        Check("audit", deliveries.All(d => d.EventId is null == (d.Outcome == DeliveryOutcomes.Rejected)), "rejections point at no event, accepted deliveries and replays at theirs", failures, Count);
        foreach (var secret in sentSecrets)
        {
            var leak = deliveries.FirstOrDefault(d => Contains(d.Reason, secret) || Contains(d.DeliveryId, secret) || Contains(d.Source, secret));
            Check("no_secret_leak", leak is null, $"delivery {leak?.Id} contains a secret or signature", failures, Count);
            var stored = events.FirstOrDefault(e => Contains(e.HeadersJson, secret));
            Check("no_secret_leak", stored is null, $"event {stored?.Id} keeps a secret or signature in its headers", failures, Count);
        }

        using (var ready = await server.Http.GetAsync("/readyz"))
            Check("health_after", ready.StatusCode == HttpStatusCode.OK, $"/readyz answered {(int)ready.StatusCode}", failures, Count);
        using (var alive = await server.Http.GetAsync("/healthz"))
            Check("health_after", alive.StatusCode == HttpStatusCode.OK, $"/healthz answered {(int)alive.StatusCode}", failures, Count);

        foreach (var (category, (tried, passed)) in perCategory) AbuseReport.Record(category, tried, passed);
        output.WriteLine($"abuse suite, source kind {kind}: {cases.Count} hostile cases, {validIndex} valid deliveries (seed {AbuseSeed.Value})");
        output.WriteLine(AbuseReport.Format(perCategory.Select(kv => (kv.Key, kv.Value.Tried, kv.Value.Passed))));
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n" + string.Join("\n", failures));
    }

    private static void Check(string category, bool ok, string what, List<string> failures, Action<string, bool> count)
    {
        count(category, ok);
        if (!ok) failures.Add($"[{category}] {what}");
    }

    private static bool Contains(string? text, string secret) => text is not null && text.Contains(secret, StringComparison.Ordinal);

    /// <summary>Signature and secret header values sent (long enough to be meaningful) must never come back.</summary>
    private static void Remember(HttpRequestMessage request, HashSet<string> secrets)
    {
        foreach (var (name, values) in request.Headers)
        {
            if (!SourceVerifier.SecretHeaders.Contains(name.ToLowerInvariant())) continue;
            foreach (var value in values)
            {
                var v = value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? value[7..] : value;
                if (v.Length >= 16) secrets.Add(v);
            }
        }
    }

    /// <summary>Sends one case; null when it got the answer it must get, else what went wrong.</summary>
    private static async Task<string?> RunCaseAsync(TestServer server, AbuseCase c, HashSet<string> secrets)
    {
        using var request = c.Build();
        Remember(request, secrets);
        if (c.Status == 413)
        {
            // As real senders of big bodies do: wait for 100-continue (the server refuses before any body is sent),
            // and never reuse a connection the server may close after refusing an unread body.
            request.Headers.ExpectContinue = true;
            request.Headers.ConnectionClose = true;
        }
        HttpResponseMessage response;
        try
        {
            response = await server.Http.SendAsync(request);
        }
        catch (HttpRequestException ex)
        {
            return $"no answer ({ex.Message})";
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            if ((int)response.StatusCode != c.Status) return $"answered {(int)response.StatusCode}, expected {c.Status}: {Clip(text)}";
            if (secrets.FirstOrDefault(s => text.Contains(s, StringComparison.Ordinal)) is not null) return "the answer contains a secret or signature";
            if (c.Duplicate)
                return JsonDocument.Parse(text).RootElement.GetProperty("duplicate").GetBoolean() ? null : "a replay was not recognised as a duplicate: " + Clip(text);
            if (c.Code is null) return null;
            try
            {
                var root = JsonDocument.Parse(text).RootElement;
                if (root.GetProperty("error").GetString() != c.Code) return $"error code {root.GetProperty("error").GetString()}, expected {c.Code}: {Clip(text)}";
                if (string.IsNullOrWhiteSpace(root.GetProperty("message").GetString())) return "no message saying how to fix it";
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                return $"answer is not {{error, message}} JSON: {Clip(text)}";
            }
            return null;
        }
    }

    private static string Clip(string s) => s.Length > 300 ? s[..300] + "…" : s;

    /// <summary>
    /// A body announced as 4000 bytes and sent at about 4 bytes/s on a raw socket: Kestrel's minimum body data rate
    /// (240 B/s after a 5 s grace) must cut it with 408 or by closing the connection, well before the sender is done.
    /// </summary>
    private static async Task<(bool Cut, string Detail, TimeSpan Elapsed)> SlowDripAsync(Uri address)
    {
        var clock = Stopwatch.StartNew();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, address.Port);
        var stream = client.GetStream();
        var head = $"POST /hooks/{KindSetup.Source} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n" +
                   $"webhook-id: {DripId}\r\nwebhook-timestamp: 1\r\nwebhook-signature: v1,x\r\n\r\n{{";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var buffer = new byte[4096];
        var read = stream.ReadAsync(buffer).AsTask();
        // Bounded: 4000 bytes would take ~17 minutes at this rate; the server must act within 60 s.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (!read.IsCompleted && !deadline.IsCancellationRequested)
            {
                await stream.WriteAsync(" "u8.ToArray(), deadline.Token);
                // The drip's pace is the attack itself, not synchronisation: the read task is what we wait on.
                await Task.WhenAny(read, Task.Delay(250, deadline.Token));
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            // The server closed the connection while we were still writing: that is the cut.
            if (deadline.IsCancellationRequested) return (false, "still open after 60 s", clock.Elapsed);
            return (true, "connection closed while sending", clock.Elapsed);
        }
        if (!read.IsCompleted) return (false, "still open after 60 s", clock.Elapsed);
        try
        {
            var n = await read;
            var answer = Encoding.ASCII.GetString(buffer, 0, n);
            return n == 0 ? (true, "connection closed", clock.Elapsed)
                : answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal) ? (true, "408 Request Timeout", clock.Elapsed)
                : (false, "answered " + answer.Split('\r')[0], clock.Elapsed);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            return (true, "connection reset", clock.Elapsed);
        }
    }
}
