using System.Collections.Concurrent;
using System.Net;
using System.Text;
using EventSync.Tests.Infrastructure;
using EventSync.Emulators;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EventSync.Tests.Telemetry;

// Process-wide listeners and the OTLP test's SDK see every span: these tests take turns.
[Collection(TelemetryCollection.Name)]
public sealed class OtlpExportTests
{
    [Fact]
    public async Task With_an_OTLP_endpoint_the_server_posts_its_spans_as_protobuf_to_v1_traces()
    {
        await using var collector = await Collector.StartAsync();
        await using var server = await TestServer.StartAsync($$"""
            sources:
              exported: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
            telemetry: { otlpEndpoint: "{{collector.BaseUrl}}", serviceName: otlp-test-service }
            """, runWorkers: false);

        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("exported", "msg_otlp", """{"id":"x"}""")).StatusCode);

        // The batch exporter sends on its own schedule; wait for a request that carries this server's span.
        await Wait.UntilAsync(() => collector.Requests.Any(r => r.Path == "/v1/traces" && Contains(r.Body, "eventsync.ingest exported")),
            TimeSpan.FromSeconds(60), "the exporter to post the ingest span to /v1/traces");
        var request = collector.Requests.First(r => r.Path == "/v1/traces" && Contains(r.Body, "eventsync.ingest exported"));
        Assert.Equal("application/x-protobuf", request.ContentType);
        Assert.True(Contains(request.Body, "otlp-test-service"), "the resource names the configured service");
        Assert.False(Contains(request.Body, TestServer.OrdersSecret["whsec_".Length..]), "no secret in exported spans");
    }

    private static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;

    /// <summary>A tiny OTLP/HTTP collector on loopback: records what the exporter posts and answers 200.</summary>
    private sealed class Collector : IAsyncDisposable
    {
        private readonly WebApplication _app;

        public sealed record Posted(string Path, string? ContentType, byte[] Body);

        private Collector(WebApplication app, Uri baseUrl, ConcurrentQueue<Posted> requests)
        {
            _app = app;
            BaseUrl = baseUrl;
            Requests = requests;
        }

        public Uri BaseUrl { get; }
        public ConcurrentQueue<Posted> Requests { get; }

        public static async Task<Collector> StartAsync()
        {
            var app = LoopbackApp.Create();
            var requests = new ConcurrentQueue<Posted>();
            app.MapPost("/v1/{signal}", async (HttpContext context) =>
            {
                using var buffer = new MemoryStream();
                await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
                requests.Enqueue(new Posted(context.Request.Path, context.Request.ContentType, buffer.ToArray()));
                return Results.Bytes([], "application/x-protobuf");
            });
            var address = await LoopbackApp.StartAsync(app, CancellationToken.None);
            return new Collector(app, address, requests);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
