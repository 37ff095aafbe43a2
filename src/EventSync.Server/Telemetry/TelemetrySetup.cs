using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Core.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EventSync.Server.Telemetry;

/// <summary>Logging format and the OpenTelemetry SDK: traces and metrics exported over OTLP when an endpoint is configured.</summary>
public static class TelemetrySetup
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Console logging as configured: one text line per entry, or one JSON object per line (with trace and span ids).</summary>
    public static void AddEventSyncConsole(this ILoggingBuilder logging, LogFormat format)
    {
        logging.ClearProviders();
        if (format == LogFormat.Json)
        {
            logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
            logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.UseUtcTimestamp = true;
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }
    }

    /// <summary>
    /// Adds the OpenTelemetry SDK when telemetry.otlpEndpoint or OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise nothing
    /// (the ActivitySource and Meter still work for in-process listeners). Returns whether export is on.
    /// </summary>
    public static bool AddEventSyncTelemetry(this IServiceCollection services, TelemetryOptions options, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var configured = options.OtlpEndpoint;
        if (configured is null && string.IsNullOrWhiteSpace(environment(EndpointVariable))) return false;

        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(options.ServiceName))
            .WithTracing(t => t
                .AddSource(EventSyncTelemetry.Name)
                // Probes and the admin API are not the product's traffic; a trace per probe would drown the webhooks.
                .AddAspNetCoreInstrumentation(o => o.Filter = context => context.Request.Path.StartsWithSegments("/hooks", StringComparison.Ordinal))
                .AddHttpClientInstrumentation()
                .AddOtlpExporter(o => Configure(o, configured, options.OtlpProtocol, "v1/traces")))
            .WithMetrics(m => m
                .AddMeter(EventSyncTelemetry.Name)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddOtlpExporter(o => Configure(o, configured, options.OtlpProtocol, "v1/metrics")));
        return true;
    }

    /// <summary>
    /// The configured endpoint is a base URL like the standard variable's; the SDK takes a programmatic one as the
    /// full URL, so the signal's path is appended here. With only the variable set, the SDK applies it (and
    /// OTEL_EXPORTER_OTLP_PROTOCOL) the standard way.
    /// </summary>
    private static void Configure(OtlpExporterOptions o, Uri? endpoint, OtlpProtocol protocol, string signalPath)
    {
        if (endpoint is null) return;
        o.Protocol = protocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
        o.Endpoint = protocol == OtlpProtocol.Grpc ? endpoint : new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + signalPath);
    }

    /// <summary>Registers the queue gauges (jobs by state, freshness lag); resolve once at start so they exist before the first scrape.</summary>
    public static IServiceCollection AddQueueGauges(this IServiceCollection services) =>
        services.AddSingleton(sp => new QueueGauges(sp.GetRequiredService<IEventStore>(), sp.GetRequiredService<TimeProvider>()));
}
