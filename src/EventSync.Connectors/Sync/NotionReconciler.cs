using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSync.Connectors.Notion;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Core.Work;
using Microsoft.Extensions.Logging;

namespace EventSync.Connectors.Sync;

/// <summary>
/// Notion's webhooks are hints that can be late, merged or lost, so each notion source also reconciles: it queries its
/// data sources for pages edited since a persisted watermark minus one minute (Notion rounds edit times down to the
/// minute) and records each (page, edit time) it has not seen as an event, which the flows turn into jobs like any
/// webhook. Duplicates of what a webhook already brought are harmless: the job finds nothing to change and writes nothing.
/// </summary>
public sealed partial class NotionReconciler(SourceOptions source, ConnectionOptions connection, NotionClient client, IEventStore store, FlowRouter router, WorkSignal signal, TimeProvider time, ILogger logger)
{
    public const string EventType = "page.reconciled";

    public SourceOptions Source => source;
    private static readonly TimeSpan Rounding = TimeSpan.FromMinutes(1);

    public async Task RunAsync(IReadOnlyList<CollectionOptions> collections, CancellationToken cancellationToken)
    {
        var interval = connection.Notion!.Reconcile;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var found = await ReconcileOnceAsync(collections, cancellationToken);
                if (found > 0) LogReconciled(logger, source.Name, found);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { return; }
            catch (Exception e) when (e is Http.ApiException or Http.ApiThrottledException or HttpRequestException)
            {
                LogFailed(logger, e, source.Name);
            }
            try { await Task.Delay(interval, time, cancellationToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>One pass over every data source of the collections; returns how many new (page, edit) events it recorded.</summary>
    public async Task<int> ReconcileOnceAsync(IReadOnlyList<CollectionOptions> collections, CancellationToken cancellationToken)
    {
        var recorded = 0;
        foreach (var dataSource in collections.Where(c => c.Notion is not null).Select(c => c.Notion!.DataSource).Distinct())
        {
            var stateName = "watermark:" + DocumentCatalog.NormalizeUuid(dataSource);
            var watermark = await store.GetSourceStateAsync(source.Name, stateName, cancellationToken) is { } w
                ? DateTimeOffset.Parse(w, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal) : DateTimeOffset.MinValue;
            var since = watermark == DateTimeOffset.MinValue ? DateTimeOffset.UnixEpoch : watermark - Rounding;
            var pages = await client.QueryEditedSinceAsync(dataSource, since, cancellationToken);
            var now = time.GetUtcNow();
            var writes = new List<IngestWrite>();
            var newest = watermark;
            foreach (var page in pages)
            {
                var id = NotionClient.NormalizeId(page["id"]!.GetValue<string>());
                var edited = page["last_edited_time"]?.GetValue<string>() ?? "";
                if (DateTimeOffset.TryParse(edited, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && at > newest) newest = at;
                var payload = JsonSerializer.SerializeToUtf8Bytes(new JsonObject
                {
                    ["type"] = EventType, ["timestamp"] = edited,
                    ["entity"] = new JsonObject { ["id"] = id, ["type"] = "page" },
                    ["data"] = new JsonObject { ["parent"] = new JsonObject { ["type"] = "data_source", ["data_source_id"] = DocumentCatalog.NormalizeUuid(dataSource) } },
                });
                var deliveryId = $"reconcile-{id}-{edited}";
                using var doc = JsonDocument.Parse(payload);
                var jobs = router.Route(source.Name, EventType, deliveryId, doc.RootElement);
                writes.Add(new IngestWrite(
                    new DeliveryRecord(now, source.Name, deliveryId, 202, DeliveryOutcomes.Accepted, "reconciliation", payload.Length, "reconcile"),
                    // The dedup key is the page and its edit time: the next pass (watermark - 1 min) records nothing twice.
                    new NewEvent(source.Name, $"reconcile:{id}:{edited}", deliveryId, EventType, jobs.Count > 0 ? jobs[0].EntityKey : id, now, "{}", payload),
                    jobs));
            }
            if (writes.Count > 0)
            {
                var results = await store.IngestAsync(writes, cancellationToken);
                recorded += results.Count(r => !r.Duplicate);
                signal.PulseFor(writes, results);
            }
            if (newest > watermark)
                await store.SetSourceStateAsync(source.Name, stateName, newest.ToString("O", CultureInfo.InvariantCulture), now, cancellationToken);
        }
        return recorded;
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Source {Source}: reconciliation found {Count} page edits")]
    private static partial void LogReconciled(ILogger logger, string source, int count);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Source {Source}: reconciliation pass failed; the next pass retries")]
    private static partial void LogFailed(ILogger logger, Exception exception, string source);
}
