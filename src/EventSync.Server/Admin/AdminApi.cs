using System.Security.Cryptography;
using System.Text;
using EventSync.Connectors.Sync;
using EventSync.Connectors.Vectors;
using EventSync.Core.Admin;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Core.Vectors;
using EventSync.Server.Ingest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EventSync.Server.Admin;

/// <summary>The admin HTTP API under /api: the CLI's operations over HTTP, behind the admin bearer token.</summary>
public static class AdminApi
{
    public static void Map(IEndpointRouteBuilder app, EventSyncConfig config)
    {
        var api = app.MapGroup("/api").AddEndpointFilter(async (context, next) =>
        {
            var token = config.Server.AdminToken;
            if (token is not null && !Authorized(context.HttpContext.Request, token))
            {
                context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
                return Results.Json(new ErrorBody("unauthorized", "send 'Authorization: Bearer <server.adminToken>'"), statusCode: 401);
            }
            return await next(context);
        });

        api.MapGet("/status", (AdminOperations ops, CancellationToken ct) => Ok(ops.StatusAsync(ct)));
        api.MapGet("/sources", (AdminOperations ops, CancellationToken ct) => Ok(ops.SourcesAsync(ct)));
        api.MapGet("/events", (AdminOperations ops, string? source, string? type, string? entity, DateTimeOffset? since, long? before, int? limit, bool? payload, CancellationToken ct) =>
            Ok(ops.EventsAsync(new EventQuery(source, type, entity, since, before, Limit(limit)), payload ?? false, ct)));
        api.MapGet("/runs", (AdminOperations ops, string? flow, string? status, DateTimeOffset? since, long? before, int? limit, CancellationToken ct) =>
            Ok(ops.RunsAsync(new RunQuery(flow, status, since, null, before, Limit(limit)), ct)));
        api.MapGet("/runs/{id:long}", async (AdminOperations ops, long id, CancellationToken ct) =>
            await ops.RunAsync(id, ct) is { } run ? Results.Json(run, AdminOperations.Json) : NotFound($"no run {id}"));
        api.MapGet("/deliveries", (IEventStore store, string? source, string? outcome, DateTimeOffset? since, int? limit, CancellationToken ct) =>
            Ok(store.ListDeliveriesAsync(new DeliveryQuery(source, outcome, since, Limit(limit)), ct)));
        api.MapGet("/dead", (AdminOperations ops, string? flow, int? limit, CancellationToken ct) => Ok(ops.DeadLettersAsync(flow, Limit(limit), ct)));
        api.MapPost("/dead/{id:long}/replay", async (AdminOperations ops, long id, CancellationToken ct) =>
            await ops.ReplayAsync(id, ct) is { } jobId ? Results.Json(new { replayed = id, pendingJob = jobId }, AdminOperations.Json) : NotFound($"job {id} is not a dead letter"));
        api.MapPost("/dead/replay", async (AdminOperations ops, string? flow, CancellationToken ct) =>
            Results.Json(new { replayed = await ops.ReplayAllAsync(flow, null, ct) }, AdminOperations.Json));
        api.MapDelete("/dead/{id:long}", async (AdminOperations ops, long id, CancellationToken ct) =>
            await ops.DeleteDeadLetterAsync(id, ct) ? Results.Json(new { deleted = id }, AdminOperations.Json) : NotFound($"job {id} is not a dead letter"));
        api.MapPost("/flows/{flow}/trigger", async (AdminOperations ops, string flow, string? entity, HttpContext http, CancellationToken ct) =>
        {
            if (config.FindFlow(flow) is null) return NotFound($"flow '{flow}' is not configured; known flows: {string.Join(", ", config.Flows.Select(f => f.Name))}");
            var result = await ops.TriggerAsync(flow, entity, "api:" + http.Connection.RemoteIpAddress, ct);
            return Results.Json(result, AdminOperations.Json, statusCode: 202);
        });
        api.MapGet("/conflicts", (IEventStore store, string? status, int? limit, CancellationToken ct) =>
            Ok(store.ListConflictsAsync(status switch { null => ConflictStatuses.Open, "all" => null, _ => status }, Limit(limit), ct)));
        api.MapGet("/conflicts/{id:long}", async (IEventStore store, long id, CancellationToken ct) =>
            await store.GetConflictAsync(id, ct) is { } c ? Results.Json(c, AdminOperations.Json) : NotFound($"no conflict {id}"));
        api.MapPost("/conflicts/{id:long}/resolve", async (ConflictResolver resolver, long id, string? keep, string? value, CancellationToken ct) =>
        {
            ConflictChoice? choice = (keep, value) switch { ("winner", null) => ConflictChoice.Winner, ("loser", null) => ConflictChoice.Loser, (null, not null) => ConflictChoice.Value, _ => null };
            if (choice is null) return Results.Json(new ErrorBody("bad_request", "say what to keep: ?keep=winner, ?keep=loser or ?value=TEXT"), statusCode: 400);
            try
            {
                return Results.Json(new { resolved = id, resolution = await resolver.ResolveAsync(id, choice.Value, value, ct) }, AdminOperations.Json);
            }
            catch (ArgumentException ex)
            {
                return Results.Json(new ErrorBody("conflict_not_resolvable", ex.Message), statusCode: 409);
            }
        });
        MapVectors(api);
    }

    /// <summary>Vector search and status; every search names its tenant (no cross-tenant query exists).</summary>
    public static void MapVectors(RouteGroupBuilder api)
    {
        api.MapGet("/search", async (VectorService vectors, HttpContext http, string? q, string? tenant, string? flow, int? top, CancellationToken ct) =>
        {
            if (string.IsNullOrWhiteSpace(tenant)) return Results.Json(new ErrorBody("tenant_required", "add ?tenant=<id>: every search is scoped to one tenant"), statusCode: 400);
            if (string.IsNullOrWhiteSpace(q)) return Results.Json(new ErrorBody("query_required", "add ?q=<text to search for>"), statusCode: 400);
            try
            {
                return Results.Json(await vectors.SearchAsync(flow, tenant, q, Math.Clamp(top ?? 5, 1, 100), ct), AdminOperations.Json);
            }
            catch (ArgumentException ex)
            {
                return Results.Json(new ErrorBody("bad_request", ex.Message), statusCode: 400);
            }
            catch (EmbeddingThrottledException ex)
            {
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(ex.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Results.Json(new ErrorBody("embedder_throttled", "the embedding provider asked to wait before embedding the query; retry after the Retry-After delay"), statusCode: 503);
            }
            catch (EmbeddingFailedException ex)
            {
                return Results.Json(new ErrorBody("embedder_failed", "the query could not be embedded: " + ex.Message), statusCode: 502);
            }
            catch (InvalidOperationException ex)
            {
                return Results.Json(new ErrorBody("index_unavailable", ex.Message), statusCode: 409);
            }
        });
        api.MapGet("/vectors", (VectorService vectors, string? tenant, CancellationToken ct) => Ok(vectors.StatusAsync(tenant, ct)));
    }

    private static int Limit(int? limit) => Math.Clamp(limit ?? 50, 1, 1000);

    private static async Task<IResult> Ok<T>(Task<T> value) => Results.Json(await value, AdminOperations.Json);

    private static IResult NotFound(string message) => Results.Json(new ErrorBody("not_found", message), statusCode: 404);

    public static bool Authorized(HttpRequest request, string token)
    {
        if (Dashboard.DashboardAuth.HasSessionCookie(request, token)) return true;
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return false;
        // Hash both sides so the comparison is constant-time regardless of length.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(header[7..].Trim())), SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }
}
