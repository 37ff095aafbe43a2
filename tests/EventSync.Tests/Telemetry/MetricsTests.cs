using System.Net;
using EventSync.Core.Storage;
using EventSync.Core.Telemetry;
using EventSync.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace EventSync.Tests.Telemetry;

// Process-wide listeners and the OTLP test's SDK see every span: these tests take turns.
[Collection(TelemetryCollection.Name)]
public sealed class MetricsTests
{
    private const string SinkSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    private static readonly (string, object) Flow = (EventSyncTelemetry.Tags.Flow, "metered-flow");

    [Fact]
    public async Task Receipts_runs_retries_pauses_dead_letters_and_queue_gauges_are_measured()
    {
        using var capture = new TelemetryCapture();
        await using var receiver = await Receiver.StartAsync();
        var calls = 0;
        // o-1: 500, then 429 with Retry-After (a pause), then 200. o-2: 422, parked at once.
        receiver.Respond = r => r.Entity == "o-2" ? Results.StatusCode(422) : Interlocked.Increment(ref calls) switch
        {
            1 => Results.StatusCode(500),
            2 => new RetryAfterResult(1),
            _ => Results.Ok(),
        };
        await using var server = await TestServer.StartAsync($$"""
            sources:
              metered: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
            sinks:
              metered-relay: { kind: webhook, url: "{{receiver.Url}}", secret: "{{SinkSecret}}", concurrency: 1 }
            flows:
              - { name: metered-flow, from: metered, key: $.id, to: metered-relay, retry: { schedule: [100ms, 100ms] } }
            workers: { pollInterval: 100ms }
            """);
        var source = (EventSyncTelemetry.Tags.Source, (object)"metered");

        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("metered", "msg_1", """{"id":"o-1"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("metered", "msg_1", """{"id":"o-1"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("metered", "msg_2", """{"id":"o-2"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.PostStandardAsync("metered", "msg_3", """{"id":"o-3"}""", secret: "whsec_" + Convert.ToBase64String(new byte[32]))).StatusCode);

        Assert.Equal(2, capture.Sum("eventsync.events.received", source, (EventSyncTelemetry.Tags.Outcome, "accepted")));
        Assert.Equal(1, capture.Sum("eventsync.events.received", source, (EventSyncTelemetry.Tags.Outcome, "duplicate")));
        var rejected = Assert.Single(capture.Matching("eventsync.events.received", source, (EventSyncTelemetry.Tags.Outcome, "rejected")));
        Assert.Equal("invalid_signature", rejected.Tags[EventSyncTelemetry.Tags.Code]);

        await Wait.UntilAsync(() => capture.Sum("eventsync.runs", Flow, (EventSyncTelemetry.Tags.Outcome, "succeeded")) == 1
                                    && capture.Sum("eventsync.runs", Flow, (EventSyncTelemetry.Tags.Outcome, "parked")) == 1,
            TimeSpan.FromSeconds(30), "o-1 to succeed after a failure and a pause, and o-2 to park");
        Assert.Equal(1, capture.Sum("eventsync.runs", Flow, (EventSyncTelemetry.Tags.Outcome, "failed")));
        Assert.Equal(1, capture.Sum("eventsync.runs", Flow, (EventSyncTelemetry.Tags.Outcome, "throttled")));
        Assert.Equal(1, capture.Sum("eventsync.retries", Flow));
        Assert.Equal(1, capture.Sum("eventsync.dead_letters", Flow));
        Assert.Equal(1, capture.Sum("eventsync.sink.pauses", (EventSyncTelemetry.Tags.Sink, "metered-relay")));
        var durations = capture.Matching("eventsync.run.duration", Flow).ToList();
        Assert.Equal(4, durations.Count);
        Assert.All(durations, d => Assert.True(d.Value >= 0));

        // The gauges read the store's queue stats: one dead letter, nothing pending.
        await Wait.UntilAsync(() =>
        {
            capture.Observe();
            // A snapshot may predate o-1's success by up to the cache interval: wait for one after it.
            return capture.Matching("eventsync.jobs", Flow, (EventSyncTelemetry.Tags.State, "parked")).LastOrDefault()?.Value == 1
                   && capture.Matching("eventsync.jobs", Flow, (EventSyncTelemetry.Tags.State, "pending")).LastOrDefault()?.Value == 0
                   && capture.Matching("eventsync.jobs", Flow, (EventSyncTelemetry.Tags.State, "running")).LastOrDefault()?.Value == 0;
        }, TimeSpan.FromSeconds(30), "the gauges to show the dead letter and nothing waiting");
        Assert.Equal(0, capture.Matching("eventsync.freshness.lag", Flow).Last().Value);
    }

    [Fact]
    public async Task Queue_gauges_query_the_store_at_most_once_per_interval_and_report_the_lag()
    {
        await using var store = await TestStore.CreateAsync(EventSync.Core.Configuration.StoreKind.Sqlite);
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero));
        var now = time.GetUtcNow();
        await store.Store.IngestAsync([new IngestWrite(
            new DeliveryRecord(now, "gauged", "d1", 202, DeliveryOutcomes.Accepted, null, 2, null),
            new NewEvent("gauged", "d1", "d1", "t", "k", now, "{}", "{}"u8.ToArray()),
            [new JobRequest("gauged-flow", "k", "s", TimeSpan.Zero, TimeSpan.Zero)])], CancellationToken.None);
        using var capture = new TelemetryCapture();
        using var gauges = new QueueGauges(store.Store, time, TimeSpan.FromSeconds(5));
        var flow = (EventSyncTelemetry.Tags.Flow, (object)"gauged-flow");

        time.Advance(TimeSpan.FromSeconds(30));
        capture.Observe();
        capture.Observe();
        Assert.Equal(1, gauges.Queries);
        Assert.Equal(1, capture.Matching("eventsync.jobs", flow, (EventSyncTelemetry.Tags.State, "pending")).Last().Value);
        Assert.Equal(30, capture.Matching("eventsync.freshness.lag", flow).Last().Value, 3);

        time.Advance(TimeSpan.FromSeconds(6));
        capture.Observe();
        Assert.Equal(2, gauges.Queries);
        Assert.Equal(36, capture.Matching("eventsync.freshness.lag", flow).Last().Value, 3);
    }

    private sealed class RetryAfterResult(int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = 429;
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        }
    }
}
