using EventSync.Connectors;
using EventSync.Connectors.Sync;
using EventSync.Connectors.Vectors;
using EventSync.Core.Vectors;
using EventSync.Core;
using EventSync.Core.Admin;
using EventSync.Core.Configuration;
using EventSync.Core.Ingest;
using EventSync.Core.Storage;
using EventSync.Core.Work;
using EventSync.Server.Admin;
using EventSync.Server.Ingest;
using EventSync.Server.Telemetry;
using EventSync.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventSync.Server.Hosting;

/// <summary>Builds the one process that receives webhooks, stores them and runs the flows.</summary>
public static class EventSyncServer
{
    /// <summary>
    /// Opens and migrates the store (so a broken store refuses to start), then builds the web host.
    /// <paramref name="urlsOverride"/> replaces server.urls (tests bind 127.0.0.1:0).
    /// </summary>
    public static async Task<WebApplication> BuildAsync(EventSyncConfig config, ServerBuildOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ServerBuildOptions();
        // No appsettings.json reload: its watcher would watch the working directory, where eventsync.db and its WAL
        // change thousands of times a second (a file-watch thread burned ~7% of serve's CPU under load).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.AddEventSyncConsole(config.Server.LogFormat);
        builder.Logging.SetMinimumLevel(options.MinimumLogLevel);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        builder.WebHost.UseUrls([.. options.Urls ?? config.Server.Urls]);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // Per-source limits are applied per request; this is only the ceiling.
            k.Limits.MaxRequestBodySize = config.Sources.Values.Select(s => s.MaxBodyBytes).DefaultIfEmpty(SourceOptions.DefaultMaxBodyBytes).Max();
            k.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        });
        builder.Host.ConfigureHostOptions(h => h.ShutdownTimeout = TimeSpan.FromSeconds(15));

        var time = options.Time ?? TimeProvider.System;
        var store = options.Store ?? EventStoreFactory.Open(config.Store);
        await store.MigrateAsync(cancellationToken);

        var services = builder.Services;
        services.AddSingleton(config);
        services.AddSingleton(time);
        services.AddSingleton(store);
        services.AddSingleton<WorkSignal>();
        services.AddSingleton(new FlowRouter(config));
        services.AddSingleton(sp => new IngestWriter(store, sp.GetRequiredService<WorkSignal>(), sp.GetRequiredService<ILogger<IngestWriter>>(), config.Server.IngestBatchSize));
        services.AddSingleton(sp => new SourceRegistry(config.Sources.Values.ToDictionary(s => s.Name, s => new SourceRuntime(s, time))));
        services.AddSingleton<IngestEndpoint>();
        services.AddSingleton(sp => new AdminOperations(store, config, time));
        var vectors = store as IVectorStore ?? throw new InvalidOperationException($"{store.Description} does not hold vector indexes");
        services.AddSingleton(vectors);
        services.AddSingleton(sp => SinkFactory.Create(config, sp.GetRequiredService<ILoggerFactory>(), vectors, store, time));
        services.AddSingleton(sp => new ConflictResolver(store, DocumentSystems.Create(config, store, time), new DocumentCatalog(config.Collections), time));
        services.AddSingleton(sp => new VectorService(config, store, vectors, sp.GetRequiredService<IReadOnlyDictionary<string, Core.Sinks.ISink>>(), time));
        services.AddSingleton(sp => new JobDispatcher(store, sp.GetRequiredService<IReadOnlyDictionary<string, Core.Sinks.ISink>>(), config, time,
            sp.GetRequiredService<WorkSignal>(), sp.GetRequiredService<ILogger<JobDispatcher>>(), options.WorkerId));
        services.AddEventSyncTelemetry(config.Telemetry);
        services.AddQueueGauges();
        if (options.RunWorkers) services.AddHostedService<DispatcherService>();
        services.AddHostedService<RetentionService>();
        if (options.RunWorkers && config.Sources.Values.Any(src => src.Capture is not null)) services.AddHostedService<CaptureService>();
        if (options.RunWorkers && config.Sources.Values.Any(src => src.Kind == SourceKind.Notion && src.Connection is not null)) services.AddHostedService<ReconcileService>();

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("EventSync");
        logger.StoreReady(store.Description, await store.SchemaVersionAsync(cancellationToken));
        foreach (var source in app.Services.GetRequiredService<SourceRegistry>().All)
            await source.LoadStateAsync(store, cancellationToken);

        app.MapPost("/hooks/{source}", (HttpContext context, string source, IngestEndpoint endpoint) => endpoint.HandleAsync(context, source));
        HealthEndpoints.Map(app);
        AdminApi.Map(app, config);
        Dashboard.DashboardEndpoints.Map(app, config);
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            app.Services.GetRequiredService<IngestWriter>().DisposeAsync().AsTask().GetAwaiter().GetResult();
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        });
        return app;
    }
}

public sealed class ServerBuildOptions
{
    public IReadOnlyList<string>? Urls { get; init; }
    public TimeProvider? Time { get; init; }
    public IEventStore? Store { get; init; }
    public bool RunWorkers { get; init; } = true;
    public string? WorkerId { get; init; }
    public LogLevel MinimumLogLevel { get; init; } = LogLevel.Information;
}
