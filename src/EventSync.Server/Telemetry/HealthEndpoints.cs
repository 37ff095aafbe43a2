using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Core.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EventSync.Server.Telemetry;

/// <summary>/healthz (the process answers) and /readyz (the store answers; each sink's health). No token: they hold no secrets.</summary>
public static class HealthEndpoints
{
    public static void Map(WebApplication app)
    {
        // Resolving the gauges here creates them with the app, before any exporter or listener collects.
        app.Services.GetRequiredService<QueueGauges>();
        app.MapGet("/healthz", () => Results.Json(new { status = "alive" }));
        app.MapGet("/readyz", async (IEventStore store, EventSyncConfig config, TimeProvider time, CancellationToken ct) =>
        {
            try
            {
                await store.PingAsync(ct);
                var sinks = await SinkHealth.EvaluateAsync(store, config, time.GetUtcNow(), ct);
                return Results.Json(new ReadyBody("ready", store.Description, null, sinks));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // Only the exception's type: its message can hold a connection string.
                return Results.Json(new ReadyBody("unavailable", store.Description, ex.GetType().Name, []), statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });
    }

    private sealed record ReadyBody(string Status, string Store, string? Error, IReadOnlyList<SinkStatusView> Sinks);
}
