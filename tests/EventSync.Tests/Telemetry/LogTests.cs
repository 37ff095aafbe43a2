using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EventSync.Core.Telemetry;
using EventSync.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace EventSync.Tests.Telemetry;

/// <summary>The real `eventsync serve` (child process), its console output captured: structured lines, no secrets.</summary>
public sealed class LogTests
{
    private const string AdminToken = "admin-token-0f3e9a7c5b1d2468";
    private const string SupabaseSecret = "supabase-shared-7Kq2xVw9";
    private const string WrongBearer = "wrong-bearer-Zt5mQ8rLp3";
    private const string HandshakeToken = "secret_handshakeTok3nXyZ1234567890abcdefABCDEF";
    private const string SinkSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    private const string UrlToken = "urlTokenQ7w8e9r0";

    [Theory]
    [InlineData("json")]
    [InlineData("text")]
    public async Task Ingest_with_secrets_everywhere_leaves_none_in_the_log_and_json_lines_parse(string format)
    {
        await using var receiver = await Receiver.StartAsync();
        // A careless receiver that echoes the signature it got in its error body (which ends up in the run's error).
        receiver.Respond = r => Results.Text("rejected signature " + r.Signature, statusCode: 500);
        var dir = TempDirectory.Create();
        try
        {
            var config = Path.Combine(dir, "eventsync.yaml");
            await File.WriteAllTextAsync(config, $$"""
                store: sqlite:{{Path.Combine(dir, "eventsync.db")}}
                server: { adminToken: {{AdminToken}}, logFormat: {{format}} }
                sources:
                  orders: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
                  supa: { kind: supabase, sharedSecret: {{SupabaseSecret}} }
                  notes: { kind: notion }
                sinks:
                  relay: { kind: webhook, url: "{{receiver.Url}}?token={{UrlToken}}", secret: "{{SinkSecret}}" }
                flows:
                  - { name: relay-orders, from: orders, key: $.id, to: relay, retry: { schedule: [100ms] } }
                workers: { pollInterval: 100ms }
                """);
            await using var serve = await ServeProcess.StartAsync(config);
            using var http = new HttpClient { BaseAddress = serve.Address };

            Assert.Equal(HttpStatusCode.Accepted, (await http.SendAsync(SignedRequests.Standard("orders", "msg_log1", """{"id":"o-1"}"""))).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(SignedRequests.Standard("orders", "msg_log2", """{"id":"o-2"}""", secret: SinkSecret))).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(Supabase("Bearer " + WrongBearer))).StatusCode);
            Assert.Equal(HttpStatusCode.Accepted, (await http.SendAsync(Supabase("Bearer " + SupabaseSecret))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(SignedRequests.Raw("notes", Encoding.UTF8.GetBytes($$"""{"verification_token":"{{HandshakeToken}}"}""")))).StatusCode);
            using (var bad = new HttpRequestMessage(HttpMethod.Get, "/api/status"))
            {
                bad.Headers.Authorization = new AuthenticationHeaderValue("Bearer", WrongBearer);
                Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(bad)).StatusCode);
            }

            // Two attempts, each answered with the echoed signature, then the job is parked (logged with its reason).
            await Wait.UntilAsync(() => serve.Output.Contains("parked", StringComparison.Ordinal) && receiver.Requests.Count == 2, TimeSpan.FromSeconds(30), "the job to be parked");
            var output = serve.Output;
            var secrets = new[]
            {
                TestServer.OrdersSecret, TestServer.OrdersSecret["whsec_".Length..], SinkSecret["whsec_".Length..], AdminToken, SupabaseSecret, WrongBearer, HandshakeToken, UrlToken,
            }.Concat(receiver.Requests.Select(r => r.Signature!).Select(s => s["v1,".Length..]));
            foreach (var secret in secrets) Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
            Assert.Contains(Redaction.Mask, output, StringComparison.Ordinal); // the URL token and the echoed signature were there to mask

            var lines = output.Split('\n');
            // The console logger marks text entries "info:", "warn:", "fail:"; other lines are the CLI's own startup banner.
            var textEntries = lines.Where(l => TextEntry(l)).ToList();
            if (format == "json")
            {
                Assert.Empty(textEntries);
                var parked = 0;
                var logLines = lines.Where(l => l.StartsWith('{')).ToList();
                Assert.NotEmpty(logLines);
                foreach (var line in logLines)
                {
                    using var doc = JsonDocument.Parse(line); // one JSON object per line
                    var root = doc.RootElement;
                    Assert.True(root.TryGetProperty("EventId", out var id) && root.TryGetProperty("LogLevel", out _) && root.TryGetProperty("Category", out _) && root.TryGetProperty("Message", out _), line);
                    if (id.GetInt32() == 2002) parked++;
                }
                Assert.Equal(1, parked);
            }
            else
            {
                Assert.DoesNotContain(lines, l => l.StartsWith('{'));
                Assert.Contains(textEntries, l => l.Contains("[2002]", StringComparison.Ordinal) && l.Contains("relay-orders", StringComparison.Ordinal));
            }
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    private static readonly string[] TextLevels = ["trce:", "dbug:", "info:", "warn:", "fail:", "crit:"];

    private static bool TextEntry(string line) => TextLevels.Any(level => line.Contains(level, StringComparison.Ordinal));

    private static HttpRequestMessage Supabase(string authorization) =>
        SignedRequests.Raw("supa", """{"type":"INSERT","table":"t","schema":"public","record":{"id":1},"old_record":null}"""u8.ToArray(), headers: [("Authorization", authorization)]);
}
