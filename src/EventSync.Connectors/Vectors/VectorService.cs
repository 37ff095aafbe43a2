using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;
using EventSync.Core.Vectors;

namespace EventSync.Connectors.Vectors;

/// <summary>Search, status, reindex and reconcile for vector flows: one implementation behind the CLI, the admin API and MCP.</summary>
public sealed class VectorService(EventSyncConfig config, IEventStore events, IVectorStore vectors, IReadOnlyDictionary<string, ISink> sinks, TimeProvider time) : IDisposable
{
    private readonly VectorSearch _search = new(vectors);

    public IReadOnlyList<FlowOptions> VectorFlows => config.Flows.Where(f => sinks.TryGetValue(f.To, out var s) && s is VectorSink).ToList();

    public FlowOptions Flow(string? name)
    {
        var flows = VectorFlows;
        if (name is null)
            return flows.Count == 1 ? flows[0] : throw new ArgumentException(flows.Count == 0
                ? "no flow writes to a vectors sink; add one (see docs/configuration.md)"
                : $"several vector flows exist; name one with --flow ({string.Join(", ", flows.Select(f => f.Name))})");
        return flows.FirstOrDefault(f => f.Name == name) ?? throw new ArgumentException($"'{name}' is not a vector flow; vector flows: {string.Join(", ", flows.Select(f => f.Name))}");
    }

    private VectorSink Sink(FlowOptions flow) => (VectorSink)sinks[flow.To];

    /// <summary>Top matches within one tenant. The tenant is mandatory: no interface can search across tenants.</summary>
    public async Task<SearchResult> SearchAsync(string? flowName, string tenant, string query, int top, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(tenant)) throw new ArgumentException("a tenant is required: every search is scoped to one tenant");
        if (string.IsNullOrWhiteSpace(query)) throw new ArgumentException("the query text is empty");
        var flow = Flow(flowName);
        var sink = Sink(flow);
        // A reindex can switch (and empty the old index) between choosing the index and reading it: search the new one then.
        for (var attempt = 1; ; attempt++)
        {
            var index = await ActiveIndexAsync(flow, sink, ct);
            // Queries are embedded like the index they search: until a reindex switches, that may be the previous model.
            var embedder = sink.EmbedderFor(index) ?? throw new InvalidOperationException(
                $"the active index of {flow.Name} was built with {index.Settings.EmbedderKind} {index.Settings.Model}/{index.Settings.Dimensions}, which the configuration no longer reaches; run `eventsync vectors reindex --flow {flow.Name}` to switch");
            var embedded = await embedder.EmbedAsync([query], ct);
            var hits = await _search.SearchAsync(index, tenant, embedded[0], top, ct);
            if (attempt < 3 && hits.Count < top && (await ActiveIndexAsync(flow, sink, ct)).Id != index.Id) continue;
            return new SearchResult(flow.Name, tenant, index.Settings.Model, hits);
        }
    }

    private async Task<VectorIndex> ActiveIndexAsync(FlowOptions flow, VectorSink sink, CancellationToken ct) =>
        (await vectors.ListIndexesAsync(flow.Name, false, ct)).FirstOrDefault(i => i.State == VectorIndexStates.Active)
        ?? await sink.IndexAsync(flow.Name, time.GetUtcNow(), ct);

    public async Task<IReadOnlyList<VectorFlowStatus>> StatusAsync(string? tenant, CancellationToken ct)
    {
        var queue = (await events.GetQueueStatsAsync(ct)).ToDictionary(q => q.Flow);
        var now = time.GetUtcNow();
        var result = new List<VectorFlowStatus>();
        foreach (var flow in VectorFlows)
        {
            var indexes = await vectors.ListIndexesAsync(flow.Name, false, ct);
            var active = indexes.FirstOrDefault(i => i.State == VectorIndexStates.Active);
            var stats = active is null ? [] : await vectors.TenantStatsAsync(active.Id, ct);
            var backlog = await PendingByTenantAsync(flow, active, now, ct);
            var tenants = stats.Select(t => t.Tenant).Union(backlog.Keys).Where(t => tenant is null || t == tenant).Order(StringComparer.Ordinal)
                .Select(t =>
                {
                    var s = stats.FirstOrDefault(x => x.Tenant == t);
                    var b = backlog.GetValueOrDefault(t);
                    return new VectorTenantStatus(t, s?.Rows ?? 0, s?.Vectors ?? 0, b.Pending, b.OldestSeconds, s?.LastUpdate);
                }).ToList();
            var lastError = (await events.ListRunsAsync(new RunQuery(Flow: flow.Name, Limit: 1), ct)).FirstOrDefault(r => r.Error is not null)?.Error;
            queue.TryGetValue(flow.Name, out var q);
            result.Add(new VectorFlowStatus(flow.Name, active?.Settings.Model, active?.Settings.Dimensions,
                indexes.Any(i => i.State == VectorIndexStates.Building), Sink(flow).Settings.Fingerprint != active?.Settings.Fingerprint,
                q?.Pending ?? 0, q?.OldestPendingSince is { } since ? (now - since).TotalSeconds : 0, lastError, tenants));
        }
        return result;
    }

    /// <summary>
    /// Pending changes per tenant, attributed from each queued job's newest event, else from where the entity is
    /// indexed (a manual trigger names no tenant); "?" when neither knows.
    /// </summary>
    private async Task<Dictionary<string, (int Pending, double OldestSeconds)>> PendingByTenantAsync(FlowOptions flow, VectorIndex? active, DateTimeOffset now, CancellationToken ct)
    {
        var sink = Sink(flow);
        var result = new Dictionary<string, (int, double)>(StringComparer.Ordinal);
        foreach (var job in await events.ListQueuedJobsAsync(flow.Name, 10_000, ct))
        {
            string? tenant = null;
            if (job.LatestPayload.Length > 0)
            {
                using var payload = JsonDocument.Parse(job.LatestPayload);
                tenant = sink.TenantOfEvent(payload.RootElement);
            }
            if (tenant is null && active is not null) tenant = (await vectors.GetRowAsync(active.Id, job.EntityKey, ct))?.Tenant;
            tenant ??= "?";
            var (pending, oldest) = result.GetValueOrDefault(tenant);
            result[tenant] = (pending + 1, Math.Max(oldest, (now - job.CreatedAt).TotalSeconds));
        }
        return result;
    }

    /// <summary>
    /// Compares every source row with the index by content hash and repairs drift: missing and stale rows are
    /// embedded, orphans removed. After a settings change (model, template, chunking) it fills a new index for them
    /// beside the active one and switches to it when complete; searches use the old one until then.
    /// </summary>
    public async Task<ReconcileReport> ReconcileAsync(string? flowName, IProgress<int>? progress, CancellationToken ct)
    {
        var flow = Flow(flowName);
        var sink = Sink(flow);
        var index = await sink.IndexAsync(flow.Name, time.GetUtcNow(), ct);
        var stored = new Dictionary<string, string>(await vectors.ListRowHashesAsync(index.Id, ct), StringComparer.Ordinal);
        int seen = 0, added = 0, updated = 0, unchanged = 0, removed = 0, failed = 0;
        var errors = new List<string>();
        await foreach (var (key, row) in sink.ReadAllRowsAsync(ct))
        {
            var had = stored.Remove(key);
            var result = await sink.SyncAsync(index, key, row, time.GetUtcNow(), ct);
            if (result.Status != SinkStatus.Succeeded)
            {
                failed++;
                if (errors.Count < 10) errors.Add($"{key}: {result.Error}");
            }
            else if (result.Resources?.FirstOrDefault()?.Contains("unchanged", StringComparison.Ordinal) == true) unchanged++;
            else if (had) updated++;
            else added++;
            progress?.Report(++seen);
        }
        foreach (var orphan in stored.Keys)
            if (await vectors.DeleteRowAsync(index.Id, orphan, time.GetUtcNow(), ct)) removed++;
        var switched = false;
        if (index.State == VectorIndexStates.Building && failed == 0)
        {
            await vectors.ActivateIndexAsync(index.Id, time.GetUtcNow(), ct);
            _search.Forget(index.Id);
            switched = true;
        }
        return new ReconcileReport(flow.Name, index.Id, seen, added, updated, unchanged, removed, failed, switched, errors);
    }

    public void Dispose()
    {
        _search.Dispose();
    }
}

public sealed record SearchResult(string Flow, string Tenant, string Model, IReadOnlyList<SearchHit> Hits);

public sealed record VectorFlowStatus(string Flow, string? Model, int? Dimensions, bool Building, bool SettingsChanged, int Pending, double OldestPendingSeconds, string? LastError, IReadOnlyList<VectorTenantStatus> Tenants);

public sealed record VectorTenantStatus(string Tenant, int Rows, int Vectors, int Pending, double OldestPendingSeconds, DateTimeOffset? LastUpdate);

public sealed record ReconcileReport(string Flow, long IndexId, int Rows, int Added, int Updated, int Unchanged, int Removed, int Failed, bool Switched, IReadOnlyList<string> Errors);
