using EventSync.Connectors.Postgres;
using EventSync.Connectors.Sync;
using EventSync.Core;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Core.Work;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventSync.Server.Hosting;

/// <summary>Runs the job dispatcher for the life of the host.</summary>
public sealed class DispatcherService(JobDispatcher dispatcher) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => dispatcher.RunAsync(stoppingToken);
}

/// <summary>Deletes processed events, runs and log lines past their retention; dead letters stay.</summary>
public sealed class RetentionService(IEventStore store, EventSyncConfig config, TimeProvider time, ILogger<RetentionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var r = config.Retention;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var now = time.GetUtcNow();
                var pruned = await store.PruneAsync(now - r.Events, now - r.Runs, now - r.Deliveries, stoppingToken);
                if (pruned.Events + pruned.Runs + pruned.Deliveries + pruned.Jobs > 0)
                    logger.Pruned(pruned.Events, pruned.Runs, pruned.Deliveries, pruned.Jobs);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.PruneFailed(ex);
            }
            try
            {
                await Task.Delay(r.PruneInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

/// <summary>Runs one outbox capture loop per postgres source (change capture from the user's database).</summary>
public sealed class CaptureService(EventSyncConfig config, IEventStore store, FlowRouter router, WorkSignal signal, TimeProvider time, ILoggerFactory loggers) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(config.Sources.Values.Where(s => s.Capture is not null)
            .Select(s => new OutboxCapture(s, store, router, signal, time, loggers.CreateLogger("EventSync.Capture." + s.Name)).RunAsync(stoppingToken)));
}

/// <summary>Runs the reconciliation poller of each notion source that names a connection (webhooks are only hints).</summary>
public sealed class ReconcileService(EventSyncConfig config, IEventStore store, FlowRouter router, WorkSignal signal, TimeProvider time, ILoggerFactory loggers) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Reconcilers(config, store, router, signal, time, loggers).Select(r => r.RunAsync(config.Collections, stoppingToken)));

    public static IEnumerable<NotionReconciler> Reconcilers(EventSyncConfig config, IEventStore store, FlowRouter router, WorkSignal signal, TimeProvider time, ILoggerFactory loggers) =>
        config.Sources.Values
            .Where(s => s.Kind == SourceKind.Notion && s.Connection is not null && config.Connections.TryGetValue(s.Connection, out var c) && c.Kind == ConnectionKind.Notion)
            .Select(s => new NotionReconciler(s, config.Connections[s.Connection!],
                DocumentSystems.NotionClientFor(config.Connections[s.Connection!], new HttpClient { Timeout = TimeSpan.FromSeconds(60) }, time),
                store, router, signal, time, loggers.CreateLogger("EventSync.Reconcile." + s.Name)));
}
