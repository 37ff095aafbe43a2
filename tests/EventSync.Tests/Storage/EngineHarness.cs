using System.Text;
using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;
using EventSync.Core.Work;
using EventSync.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EventSync.Tests.Storage;

/// <summary>A real store, the real router and dispatcher, a scripted sink and a fake clock: the engine without the web.</summary>
public sealed class EngineHarness : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TestStore _testStore;
    private int _sequence;

    private EngineHarness(TestStore store, EventSyncConfig config, ScriptedSink sink)
    {
        _testStore = store;
        Config = config;
        Sink = sink;
        Router = new FlowRouter(config);
        Dispatcher = NewDispatcher("worker-1");
    }

    public FakeTimeProvider Time { get; } = new(Start);
    public EventSyncConfig Config { get; }
    public ScriptedSink Sink { get; }
    public FlowRouter Router { get; }
    public JobDispatcher Dispatcher { get; }
    public IEventStore Store => _testStore.Store;
    public StoreLocation Location => _testStore.Location;

    public static async Task<EngineHarness> CreateAsync(StoreKind kind, string settle = "0s", string maxWait = "5m", string retry = "[2s, 4s, 8s]", string workers = "{ lease: 30s }")
    {
        var yaml = $$"""
            sources:
              orders: { kind: standard-webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }
            sinks:
              out: { kind: log, concurrency: 4 }
            flows:
              - name: relay
                from: orders
                key: $.id
                to: out
                settle: {{settle}}
                maxWait: {{maxWait}}
                retry: { schedule: {{retry}}, jitter: 0 }
            workers: {{workers}}
            """;
        var (config, problems) = ConfigLoader.TryParse(yaml);
        Assert.Empty(problems);
        return new EngineHarness(await TestStore.CreateAsync(kind), config!, new ScriptedSink());
    }

    public JobDispatcher NewDispatcher(string workerId) =>
        new(Store, new Dictionary<string, ISink> { ["out"] = Sink }, Config, Time, new WorkSignal(), NullLogger<JobDispatcher>.Instance, workerId, new Random(7));

    /// <summary>Ingests one event through the router, as the HTTP endpoint does.</summary>
    public async Task<IngestResult> IngestAsync(string entity, string? dedupKey = null, object? extra = null) =>
        (await Store.IngestAsync([Write(entity, dedupKey, extra)], CancellationToken.None))[0];

    /// <summary>One accepted event as the HTTP endpoint hands it to the store, with the jobs the router gives it.</summary>
    public IngestWrite Write(string entity, string? dedupKey = null, object? extra = null)
    {
        var id = dedupKey ?? $"msg_{Interlocked.Increment(ref _sequence)}";
        var payload = JsonSerializer.SerializeToUtf8Bytes(new { id = entity, seq = id, extra });
        using var doc = JsonDocument.Parse(payload);
        var now = Time.GetUtcNow();
        var jobs = Router.Route("orders", "order.updated", id, doc.RootElement);
        return new IngestWrite(new DeliveryRecord(now, "orders", id, 202, DeliveryOutcomes.Accepted, null, payload.Length, "127.0.0.1"),
            new NewEvent("orders", id, id, "order.updated", entity, now, "{}", payload), jobs);
    }

    public Task<int> RunDueAsync() => Dispatcher.RunDueAsync(CancellationToken.None);

    public void Advance(TimeSpan by) => Time.Advance(by);

    public Task<IReadOnlyList<JobInfo>> JobsAsync(string? status = null) => Store.ListJobsAsync(status, null, 1000, CancellationToken.None);

    public async Task<IReadOnlyList<RunRecord>> RunsAsync() =>
        (await Store.ListRunsAsync(new RunQuery(Limit: 1000), CancellationToken.None)).OrderBy(r => r.Id).ToList();

    public static string PayloadSeq(SinkDelivery d) => JsonDocument.Parse(Encoding.UTF8.GetString(d.Latest.Payload)).RootElement.GetProperty("seq").GetString()!;

    public ValueTask DisposeAsync() => _testStore.DisposeAsync();
}
