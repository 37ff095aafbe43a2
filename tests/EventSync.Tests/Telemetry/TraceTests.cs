using System.Diagnostics;
using System.Net;
using EventSync.Core.Telemetry;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.Telemetry;

// Process-wide listeners and the OTLP test's SDK see every span: these tests take turns.
[Collection(TelemetryCollection.Name)]
public sealed class TraceTests
{
    private const string SinkSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    [Fact]
    public async Task One_trace_runs_from_the_webhook_through_the_job_to_the_sinks_HTTP_call_and_links_merged_events()
    {
        using var capture = new TelemetryCapture();
        await using var receiver = await Receiver.StartAsync();
        await using var server = await TestServer.StartAsync($$"""
            sources:
              traced: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
            sinks:
              traced-relay: { kind: webhook, url: "{{receiver.Url}}", secret: "{{SinkSecret}}" }
            flows:
              - { name: traced-flow, from: traced, key: $.id, to: traced-relay, settle: 3s }
            workers: { pollInterval: 100ms }
            """);

        // Two events for one entity within the settle window coalesce into one job.
        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("traced", "msg_t1", """{"id":"o-7","n":1}""")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("traced", "msg_t2", """{"id":"o-7","n":2}""")).StatusCode);
        await Wait.UntilAsync(() => JobSpan(capture) is not null && receiver.Requests.Count == 1, TimeSpan.FromSeconds(30), "the job span of traced-flow");

        var ingests = capture.Spans.Where(s => s.Source.Name == EventSyncTelemetry.Name && s.OperationName == "eventsync.ingest traced").ToList();
        Assert.Equal(2, ingests.Count);
        var job = JobSpan(capture)!;
        Assert.Equal(1, Assert.Single(capture.Spans, s => s.OperationName.StartsWith("eventsync.job traced-flow", StringComparison.Ordinal)).GetTagItem(EventSyncTelemetry.Tags.Attempt));

        // The newest event's ingest span is the job's parent (same trace); the older one is a link.
        var newest = ingests.Single(s => s.TraceId == job.TraceId);
        Assert.Equal(newest.SpanId, job.ParentSpanId);
        var older = ingests.Single(s => s != newest);
        Assert.NotEqual(older.TraceId, newest.TraceId);
        var link = Assert.Single(job.Links);
        Assert.Equal(older.TraceId, link.Context.TraceId);
        Assert.Equal(older.SpanId, link.Context.SpanId);

        // The ingest span sits under the request's server span, which continues the sender's trace.
        var serverSpan = capture.Spans.Single(s => s.Source.Name == "Microsoft.AspNetCore" && s.SpanId == newest.ParentSpanId);
        Assert.Equal(ActivityKind.Server, serverSpan.Kind);

        // The sink's POST is a child of the job span.
        await Wait.UntilAsync(() => capture.Spans.Any(s => s.Source.Name == "System.Net.Http" && s.ParentSpanId == job.SpanId), TimeSpan.FromSeconds(10), "the sink's HTTP span");
        var http = capture.Spans.Single(s => s.Source.Name == "System.Net.Http" && s.ParentSpanId == job.SpanId);
        Assert.Equal(job.TraceId, http.TraceId);
        Assert.Equal(ActivityKind.Client, http.Kind);

        // Tags name the work, never secrets or payloads.
        Assert.Equal("traced-flow", job.GetTagItem(EventSyncTelemetry.Tags.Flow));
        Assert.Equal("o-7", job.GetTagItem(EventSyncTelemetry.Tags.EntityKey));
        Assert.Equal("succeeded", job.GetTagItem(EventSyncTelemetry.Tags.Outcome));
        Assert.Equal(2, job.GetTagItem(EventSyncTelemetry.Tags.EventCount));
        foreach (var span in ingests.Append(job))
            foreach (var tag in span.TagObjects)
            {
                var text = tag.Value?.ToString() ?? "";
                Assert.DoesNotContain(TestServer.OrdersSecret["whsec_".Length..], text, StringComparison.Ordinal);
                Assert.DoesNotContain(SinkSecret["whsec_".Length..], text, StringComparison.Ordinal);
                Assert.DoesNotContain("\"n\":", text, StringComparison.Ordinal);
            }
    }

    [Fact]
    public async Task A_senders_traceparent_stays_the_parent_and_the_event_keeps_it()
    {
        using var capture = new TelemetryCapture();
        await using var server = await TestServer.StartAsync($$"""
            sources:
              sent-trace: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
            """, runWorkers: false);
        var senderTrace = ActivityTraceId.CreateRandom();
        var senderSpan = ActivitySpanId.CreateRandom();
        using var request = SignedRequests.Standard("sent-trace", "msg_tp", """{"id":"x"}""");
        // Sent from a client without instrumentation of its own: the header is the sender's.
        using var plain = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator() }) { BaseAddress = server.Address };
        request.Headers.TryAddWithoutValidation("traceparent", $"00-{senderTrace}-{senderSpan}-01");
        Assert.Equal(HttpStatusCode.Accepted, (await plain.SendAsync(request)).StatusCode);

        await Wait.UntilAsync(() => capture.Spans.Any(s => s.OperationName == "eventsync.ingest sent-trace"), TimeSpan.FromSeconds(10), "the ingest span");
        var ingest = capture.Spans.Single(s => s.OperationName == "eventsync.ingest sent-trace");
        Assert.True(senderTrace == ingest.TraceId, $"ingest trace {ingest.TraceId}, parent {ingest.ParentId}; sender {senderTrace}");

        var stored = Assert.Single(await server.Store.ListEventsAsync(new EventSync.Core.Storage.EventQuery(Source: "sent-trace"), CancellationToken.None));
        var context = EventSyncTelemetry.TraceContextOf(stored.HeadersJson);
        Assert.NotNull(context);
        Assert.Equal(ingest.TraceId, context.Value.TraceId);
        Assert.Equal(ingest.SpanId, context.Value.SpanId);
        Assert.Contains($"00-{senderTrace}-{senderSpan}-01", stored.HeadersJson, StringComparison.Ordinal); // the sender's header, as sent
    }

    private static Activity? JobSpan(TelemetryCapture capture) =>
        capture.Spans.FirstOrDefault(s => s.Source.Name == EventSyncTelemetry.Name && s.OperationName == "eventsync.job traced-flow");
}
