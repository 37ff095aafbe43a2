using System.CommandLine;
using System.ComponentModel;
using System.Data.Common;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using EventSync.Connectors;
using EventSync.Connectors.Vectors;
using EventSync.Core;
using EventSync.Core.Admin;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;
using EventSync.Core.Vectors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace EventSync.Cli;

/// <summary>
/// `eventsync mcp`: a Model Context Protocol server on stdin/stdout for AI assistants. Every tool and resource is
/// scoped to one tenant. Stdout carries only the protocol: the command writes nothing there itself, logs go to stderr,
/// and any stray Console.Out write is sent to stderr while the server runs.
/// </summary>
internal static partial class McpCommand
{
    public static void Add(RootCommand root, Option<string?> configOption, TextWriter stderr)
    {
        var command = new Command("mcp", "Model Context Protocol server on stdio: tenant-scoped search, sync status, resync and failures for AI assistants");
        command.SetAction((pr, ct) => CliApp.WithStore(pr, configOption, stderr, (store, config, token) => ServeAsync(store, config, token), migrate: true, ct));
        root.Subcommands.Add(command);
    }

    private static async Task<int> ServeAsync(IEventStore store, EventSyncConfig config, CancellationToken ct)
    {
        var stdout = Console.Out;
        Console.SetOut(Console.Error);
        try
        {
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
            builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            builder.Logging.SetMinimumLevel(LogLevel.Information);
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
            builder.Logging.AddFilter("ModelContextProtocol", LogLevel.Warning);
            builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);

            var vectorStore = (IVectorStore)store;
            var sinks = SinkFactory.Create(config, NullLoggerFactory.Instance, vectorStore);
            try
            {
                using var service = new VectorService(config, store, vectorStore, sinks, TimeProvider.System);
                var tools = new EventSyncMcpTools(service, new AdminOperations(store, config, TimeProvider.System), store, vectorStore, sinks);
                builder.Services
                    .AddMcpServer(o =>
                    {
                        o.ServerInfo = new Implementation { Name = "eventsync", Version = Assembly.GetExecutingAssembly().GetName().Version?.ToString() ?? "0.0.0" };
                        o.ServerInstructions = "EventSync vector sync. Every tool needs a tenant and answers only with that tenant's data.";
                    })
                    .WithStdioServerTransport()
                    .WithTools(tools)
                    .WithRequestFilters(f => f.AddCallToolFilter(next => async (request, token) =>
                    {
                        if (!EventSyncMcpTools.HasTenant(request.Params?.Arguments))
                            return Error(EventSyncMcpTools.TenantRequired);
                        try
                        {
                            return await next(request, token);
                        }
                        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or DbException or IOException)
                        {
                            // Expected failures (unknown flow, stale index, store down) reach the client as a readable tool error.
                            return Error(ex.Message);
                        }
                    }))
                    .WithListResourcesHandler(async (_, token) => new ListResourcesResult { Resources = [.. (await tools.TenantsAsync(token)).Select(StatusResource)] })
                    .WithReadResourceHandler(async (request, token) =>
                    {
                        var uri = request.Params?.Uri ?? "";
                        var match = StatusUri().Match(uri);
                        if (!match.Success) throw new McpProtocolException($"unknown resource '{uri}'; resources are eventsync://tenants/{{tenant}}/status", McpErrorCode.ResourceNotFound);
                        var json = AdminOperations.ToJson(await tools.StatusAsync(Uri.UnescapeDataString(match.Groups[1].Value), token));
                        return new ReadResourceResult { Contents = [new TextResourceContents { Uri = uri, MimeType = "application/json", Text = json }] };
                    });

                using var host = builder.Build();
                host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("EventSync.Mcp").McpStarted(
                    store.Description, config.Origin, string.Join(", ", service.VectorFlows.Select(f => f.Name)));
                // Returns when the client closes stdin (the stdio session ends and stops the host) or on SIGTERM/SIGINT.
                await host.RunAsync(ct);
                return CliApp.Ok;
            }
            finally
            {
                foreach (var sink in sinks.Values.OfType<IAsyncDisposable>()) await sink.DisposeAsync();
            }
        }
        finally
        {
            Console.SetOut(stdout);
        }
    }

    private static CallToolResult Error(string message) => new() { IsError = true, Content = [new TextContentBlock { Text = message }] };

    private static Resource StatusResource(string tenant) => new()
    {
        Uri = $"eventsync://tenants/{Uri.EscapeDataString(tenant)}/status",
        Name = $"{tenant} status",
        Description = $"Vector sync status of tenant {tenant}: rows, vectors, pending changes, oldest pending age and last error per vector flow",
        MimeType = "application/json",
    };

    [GeneratedRegex("^eventsync://tenants/([^/]+)/status$")]
    private static partial Regex StatusUri();
}

/// <summary>
/// The MCP tools. A tenant is mandatory everywhere; an entity's tenant is established from the index and the source
/// row, and an item whose tenant cannot be established (or that is moving between tenants) is left out.
/// </summary>
[McpServerToolType]
internal sealed class EventSyncMcpTools(VectorService service, AdminOperations ops, IEventStore events, IVectorStore vectors, IReadOnlyDictionary<string, ISink> sinks)
{
    public const string TenantRequired = "a tenant is required: every EventSync tool is scoped to one tenant; pass its id as 'tenant'";
    private const int Scan = 1000;

    public static bool HasTenant(IDictionary<string, JsonElement>? arguments) =>
        arguments is not null && arguments.TryGetValue("tenant", out var t) && t.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(t.GetString());

    [McpServerTool(Name = "search", ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("Semantic search in one tenant's vector index. Returns the best matching chunks: entity key, score (cosine similarity) and chunk content. Only the given tenant's rows are searched.")]
    public async Task<string> SearchAsync(
        [Description("Tenant id (required): the search never leaves this tenant")] string tenant,
        [Description("What to search for, in natural language")] string query,
        [Description("Most results (1-100)")] int top = 5,
        [Description("Vector flow; needed only when several exist")] string? flow = null,
        CancellationToken cancellationToken = default)
    {
        var result = await service.SearchAsync(flow, Tenant(tenant), query, Math.Clamp(top, 1, 100), cancellationToken);
        return AdminOperations.ToJson(new
        {
            result.Flow,
            result.Tenant,
            result.Model,
            Hits = result.Hits.Select(h => new { h.EntityKey, Score = Math.Round(h.Score, 4), h.Chunk, h.Content }),
        });
    }

    [McpServerTool(Name = "sync_status", ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("The tenant's vector sync status per vector flow: rows and vectors indexed, last update, pending changes and the age of the oldest, and the last error of the tenant's rows.")]
    public async Task<string> SyncStatusAsync(
        [Description("Tenant id (required)")] string tenant,
        CancellationToken cancellationToken = default) =>
        AdminOperations.ToJson(await StatusAsync(Tenant(tenant), cancellationToken));

    [McpServerTool(Name = "resync", Destructive = false, OpenWorld = false)]
    [Description("Queue a re-sync of one entity of the tenant, or of all the tenant's rows. For the whole tenant, the source table is read and one job is queued per row of this tenant (plus rows still indexed for it whose source row is gone or moved); no other tenant's rows are queued. A running `eventsync serve` processes the jobs; watch sync_status.")]
    public async Task<string> ResyncAsync(
        [Description("Tenant id (required)")] string tenant,
        [Description("Entity key to re-sync; omit to re-sync all the tenant's rows")] string? entity = null,
        CancellationToken cancellationToken = default)
    {
        tenant = Tenant(tenant);
        var queued = new List<object>();
        foreach (var flow in service.VectorFlows)
        {
            var keys = string.IsNullOrEmpty(entity)
                ? await TenantKeysAsync(flow, tenant, cancellationToken)
                : await OwnerAsync(flow, await ActiveIndexAsync(flow, cancellationToken), entity, cancellationToken) == tenant ? [entity] : [];
            foreach (var key in keys) await ops.TriggerAsync(flow.Name, key, "mcp", cancellationToken);
            if (keys.Count > 0) queued.Add(new { Flow = flow.Name, Entities = keys.Count });
        }
        if (!string.IsNullOrEmpty(entity) && queued.Count == 0)
            throw new McpException($"entity '{entity}' is not a row of tenant '{tenant}' in any vector flow");
        return AdminOperations.ToJson(new { Tenant = tenant, Entity = entity, Queued = queued, Note = "queued; a running `eventsync serve` syncs them" });
    }

    [McpServerTool(Name = "list_failures", ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("The tenant's sync failures in vector flows: dead letters (jobs parked after their retries ran out or a permanent error) and recent failed runs, with their errors. Items whose tenant cannot be established are left out.")]
    public async Task<string> ListFailuresAsync(
        [Description("Tenant id (required)")] string tenant,
        CancellationToken cancellationToken = default)
    {
        tenant = Tenant(tenant);
        var dead = new List<object>();
        var failed = new List<object>();
        foreach (var flow in service.VectorFlows)
        {
            var owners = new Owners(this, flow, await ActiveIndexAsync(flow, cancellationToken));
            foreach (var j in await ops.DeadLettersAsync(flow.Name, Scan, cancellationToken))
                if (await owners.OfAsync(j.EntityKey, cancellationToken) == tenant)
                    dead.Add(new { Flow = flow.Name, Job = j.Id, j.EntityKey, j.Attempts, ParkedAt = j.UpdatedAt, Error = j.LastError });
            foreach (var r in await ops.RunsAsync(new RunQuery(flow.Name, RunOutcomes.Failed, Limit: Scan), cancellationToken))
                if (await owners.OfAsync(r.EntityKey, cancellationToken) == tenant)
                    failed.Add(new { Flow = flow.Name, Run = r.Id, Job = r.JobId, r.EntityKey, r.Attempt, At = r.StartedAt, r.Error });
        }
        return AdminOperations.ToJson(new { Tenant = tenant, DeadLetters = dead, FailedRuns = failed });
    }

    /// <summary>Tenants with vectors in an active index (the resources list).</summary>
    public async Task<IReadOnlyList<string>> TenantsAsync(CancellationToken ct)
    {
        var tenants = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var flow in service.VectorFlows)
            if (await ActiveIndexAsync(flow, ct) is { } index)
                foreach (var t in await vectors.TenantStatsAsync(index.Id, ct)) tenants.Add(t.Tenant);
        return [.. tenants];
    }

    /// <summary>One tenant's status: flow-level settings, the tenant's own counts, and pending work and errors of its rows only.</summary>
    public async Task<TenantStatus> StatusAsync(string tenant, CancellationToken ct)
    {
        var flows = new List<TenantFlowStatus>();
        var now = DateTimeOffset.UtcNow;
        foreach (var f in await service.StatusAsync(tenant, ct))
        {
            var flow = service.Flow(f.Flow);
            var owners = new Owners(this, flow, await ActiveIndexAsync(flow, ct));
            string? lastError = null;
            foreach (var r in await events.ListRunsAsync(new RunQuery(Flow: flow.Name, Limit: 200), ct))
                if (r.Error is not null && await owners.OfAsync(r.EntityKey, ct) == tenant)
                {
                    lastError = r.Error;
                    break;
                }
            var stats = f.Tenants.FirstOrDefault(t => t.Tenant == tenant);
            flows.Add(new TenantFlowStatus(f.Flow, f.Model, f.Dimensions, f.Building, f.SettingsChanged, stats?.Rows ?? 0, stats?.Vectors ?? 0, stats?.LastUpdate,
                stats?.Pending ?? 0, f.Pending >= 10_000, Math.Round(stats?.OldestPendingSeconds ?? 0, 1), lastError));
        }
        return new TenantStatus(tenant, flows);
    }

    private static string Tenant(string? tenant) => string.IsNullOrWhiteSpace(tenant) ? throw new McpException(TenantRequired) : tenant;

    private VectorSink Sink(FlowOptions flow) => (VectorSink)sinks[flow.To];

    private async Task<VectorIndex?> ActiveIndexAsync(FlowOptions flow, CancellationToken ct) =>
        (await vectors.ListIndexesAsync(flow.Name, false, ct)).FirstOrDefault(i => i.State == VectorIndexStates.Active);

    /// <summary>
    /// The tenant an entity belongs to: its source row's tenant and the index's agree (or only one is known). Null when
    /// neither knows it, or while it moves between tenants, so such an item is shown to no one.
    /// </summary>
    private async Task<string?> OwnerAsync(FlowOptions flow, VectorIndex? index, string key, CancellationToken ct)
    {
        var indexed = index is null ? null : (await vectors.GetRowAsync(index.Id, key, ct))?.Tenant;
        string? source = null;
        try
        {
            if (await Sink(flow).ReadRowAsync(key, ct) is { } row)
            {
                using var doc = JsonDocument.Parse(row);
                source = Sink(flow).TenantOf(doc.RootElement);
            }
        }
        catch (DbException)
        {
            // Source database unreachable: the index alone decides.
        }
        return indexed is not null && source is not null && indexed != source ? null : source ?? indexed;
    }

    /// <summary>The keys to re-sync for a tenant: its source rows, and rows indexed for it whose source row is gone or moved.</summary>
    private async Task<List<string>> TenantKeysAsync(FlowOptions flow, string tenant, CancellationToken ct)
    {
        var sink = Sink(flow);
        var keys = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var (key, row) in sink.ReadAllRowsAsync(ct))
        {
            using var doc = JsonDocument.Parse(row);
            if (sink.TenantOf(doc.RootElement) == tenant && seen.Add(key)) keys.Add(key);
        }
        if (await ActiveIndexAsync(flow, ct) is { } index)
            foreach (var key in (await vectors.LoadTenantChangesAsync(index.Id, tenant, 0, ct)).ChangedEntities)
                if (!seen.Contains(key) && (await vectors.GetRowAsync(index.Id, key, ct))?.Tenant == tenant && seen.Add(key)) keys.Add(key);
        return keys;
    }

    /// <summary>Entity owners of one flow, looked up once per key within a call.</summary>
    private sealed class Owners(EventSyncMcpTools tools, FlowOptions flow, VectorIndex? index)
    {
        private readonly Dictionary<string, string?> _known = new(StringComparer.Ordinal);

        public async Task<string?> OfAsync(string key, CancellationToken ct)
        {
            if (!_known.TryGetValue(key, out var owner)) _known[key] = owner = await tools.OwnerAsync(flow, index, key, ct);
            return owner;
        }
    }
}

internal sealed record TenantStatus(string Tenant, IReadOnlyList<TenantFlowStatus> Flows);

internal sealed record TenantFlowStatus(string Flow, string? Model, int? Dimensions, bool Building, bool SettingsChanged, int Rows, int Vectors, DateTimeOffset? LastUpdate,
    int Pending, bool PendingCountCapped, double OldestPendingSeconds, string? LastError);
