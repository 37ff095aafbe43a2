using System.Text.Encodings.Web;
using System.Text.Json;
using EventSync.Core.Admin;
using EventSync.Core.Configuration;
using EventSync.Core.Ingest;
using EventSync.Core.Storage;
using EventSync.Server.Admin;
using EventSync.Server.Ingest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EventSync.Server.Dashboard;

/// <summary>
/// The web dashboard at <c>/</c>: one HTML shell, one script and one stylesheet embedded in the binary, reading the
/// admin API. When <c>server.adminToken</c> is set, the shell is replaced by a login form whose token becomes an
/// HttpOnly, SameSite=Strict session cookie that the API accepts as well as the Bearer header.
/// </summary>
public static class DashboardEndpoints
{
    private const string LoginError = "That is not the server's admin token (server.adminToken in the configuration, or its environment override). Check it and try again.";

    public static void Map(IEndpointRouteBuilder app, EventSyncConfig config)
    {
        var assets = new DashboardAssets();
        var token = config.Server.AdminToken;
        // The shell is static apart from whether there is a session to end.
        var shell = assets.Text("index.html").Replace("{{session}}", token is null ? "" :
            """<form method="post" action="/dashboard/logout" class="logout"><button type="submit">Log out</button></form>""", StringComparison.Ordinal);
        var login = assets.Text("login.html");

        app.MapGet("/", (HttpContext http) =>
            token is not null && !AdminApi.Authorized(http.Request, token) ? Html(http, login.Replace("{{error}}", "", StringComparison.Ordinal), 200) : Html(http, shell, 200));
        // Only the script and stylesheet: the HTML pages are served above, behind the login.
        app.MapGet("/dashboard/{name}", (HttpContext http, string name) =>
            name.EndsWith(".html", StringComparison.Ordinal) || assets.Find(name) is not { } asset ? Results.NotFound().ExecuteAsync(http) : DashboardAssets.WriteAsync(http, asset));
        app.MapPost("/dashboard/login", async (HttpContext http, CancellationToken ct) =>
        {
            if (token is null) return Results.Redirect("/", permanent: false, preserveMethod: false);
            var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(ct) : null;
            if (!DashboardAuth.TokenMatches(form?["token"].ToString(), token))
                return Html(http, login.Replace("{{error}}", $"""<p class="error" role="alert">{HtmlEncoder.Default.Encode(LoginError)}</p>""", StringComparison.Ordinal), 401);
            DashboardAuth.SetSessionCookie(http.Response, token, http.Request.IsHttps);
            return SeeOther("/");
        });
        app.MapPost("/dashboard/logout", (HttpContext http) =>
        {
            DashboardAuth.ClearSessionCookie(http.Response, http.Request.IsHttps);
            return SeeOther("/");
        });

        var api = app.MapGroup("/api").AddEndpointFilter(async (context, next) =>
        {
            if (token is not null && !AdminApi.Authorized(context.HttpContext.Request, token))
            {
                context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
                return Results.Json(new ErrorBody("unauthorized", "send 'Authorization: Bearer <server.adminToken>' or log in at /"), statusCode: 401);
            }
            return await next(context);
        });
        api.MapGet("/activity", ActivityAsync);
        api.MapGet("/feed", async (IEventStore store, long? after, string? source, string? type, string? entity, int? limit, CancellationToken ct) =>
        {
            var events = await Activity(store).ListEventsAfterAsync(after ?? 0, new EventQuery(source, type, entity, Limit: Math.Clamp(limit ?? 100, 1, 1000)), ct);
            return Results.Json(events.Select(e => EventView.From(e, false)).ToList(), AdminOperations.Json);
        });
        api.MapGet("/events/{id:long}", async (IEventStore store, long id, CancellationToken ct) =>
        {
            var activity = Activity(store);
            if (await activity.GetEventAsync(id, ct) is not { } stored) return NotFound($"no event {id}; see GET /api/events");
            var view = EventView.From(stored with { HeadersJson = WithoutSecrets(stored.HeadersJson) }, true);
            var jobs = await activity.ListEventJobsAsync(id, 100, ct);
            var runs = await activity.ListJobRunsAsync(jobs.Select(j => j.Id).ToList(), 200, ct);
            return Results.Json(new EventDetailView(view, jobs, runs), AdminOperations.Json);
        });
        api.MapGet("/jobs/{id:long}", async (IEventStore store, long id, CancellationToken ct) =>
        {
            if (await store.GetJobAsync(id, ct) is not { } job) return NotFound($"no job {id}");
            // Follow retries and replays to the job the work continues as, so a page can show where it stands now.
            var current = job;
            for (var hop = 0; hop < 1000 && current.MergedInto is { } next && await store.GetJobAsync(next, ct) is { } nextJob; hop++) current = nextJob;
            var runs = await store.ListRunsAsync(new RunQuery(JobId: id, Limit: 200), ct);
            return Results.Json(new JobDetailView(job, current, runs), AdminOperations.Json);
        });
    }

    private static async Task<IResult> ActivityAsync(IEventStore store, AdminOperations ops, int? minutes, CancellationToken ct)
    {
        var span = Math.Clamp(minutes ?? 60, 1, 24 * 60);
        var status = await ops.StatusAsync(ct);
        // Buckets end at the next whole minute so a bucket is a clock minute and counts stay put between polls.
        var end = new DateTimeOffset(status.Now.UtcTicks - status.Now.UtcTicks % TimeSpan.TicksPerMinute, TimeSpan.Zero).AddMinutes(1);
        var start = end.AddMinutes(-span);
        var activity = Activity(store);
        var counts = await activity.GetActivityAsync(start, end, TimeSpan.FromMinutes(1), ct);
        var retrying = await activity.CountRetryingAsync(ct);
        var flows = status.Flows.Select(f =>
        {
            int[] events = new int[span], runs = new int[span], failed = new int[span];
            foreach (var c in counts.Where(c => c.Flow == f.Name && c.Bucket >= 0 && c.Bucket < span))
            {
                events[c.Bucket] = c.Events;
                runs[c.Bucket] = c.Runs;
                failed[c.Bucket] = c.FailedRuns;
            }
            var retries = retrying.GetValueOrDefault(f.Name);
            var state = f.SinkPausedUntil is not null ? "paused" : f.Parked > 0 ? "failing" : retries > 0 ? "retrying" : "healthy";
            return new FlowActivityView(f.Name, f.From, f.To, state, f.Pending, f.Running, f.Parked, retries, f.OldestPendingSeconds, f.SinkPausedUntil, events, runs, failed);
        }).ToList();
        return Results.Json(new ActivityView(status.Now, start, 60, span, flows), AdminOperations.Json);
    }

    private static IActivityStore Activity(IEventStore store) =>
        store as IActivityStore ?? throw new InvalidOperationException($"{store.Description} cannot answer dashboard queries");

    /// <summary>Headers are stored without secrets already; filtering again keeps an older row from ever showing one.</summary>
    private static string WithoutSecrets(string headersJson)
    {
        try
        {
            using var doc = JsonDocument.Parse(headersJson);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return "{}";
            var kept = doc.RootElement.EnumerateObject()
                .Where(p => !SourceVerifier.SecretHeaders.Contains(p.Name, StringComparer.OrdinalIgnoreCase) && !p.Name.Contains("secret", StringComparison.OrdinalIgnoreCase) && !p.Name.Contains("token", StringComparison.OrdinalIgnoreCase))
                .ToDictionary(p => p.Name, p => p.Value.Clone());
            return JsonSerializer.Serialize(kept);
        }
        catch (JsonException)
        {
            return "{}";
        }
    }

    private static IResult Html(HttpContext http, string html, int status)
    {
        DashboardAssets.SecurityHeaders(http.Response);
        http.Response.Headers.CacheControl = "no-store";
        return Results.Content(html, "text/html; charset=utf-8", statusCode: status);
    }

    private static IResult SeeOther(string location) => new SeeOtherResult(location);

    private static IResult NotFound(string message) => Results.Json(new ErrorBody("not_found", message), statusCode: 404);

    /// <summary>303 so the browser follows a form POST with a GET.</summary>
    private sealed class SeeOtherResult(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
            httpContext.Response.Headers.Location = location;
            return Task.CompletedTask;
        }
    }
}

public sealed record FlowActivityView(string Name, string From, string To, string State, int Pending, int Running, int Parked, int Retrying, double OldestPendingSeconds,
    DateTimeOffset? SinkPausedUntil, IReadOnlyList<int> Events, IReadOnlyList<int> Runs, IReadOnlyList<int> FailedRuns);

/// <summary>Per-minute series for the last <c>Buckets</c> minutes; index 0 starts at <c>From</c>.</summary>
public sealed record ActivityView(DateTimeOffset Now, DateTimeOffset From, int BucketSeconds, int Buckets, IReadOnlyList<FlowActivityView> Flows);

public sealed record EventDetailView(EventView Event, IReadOnlyList<JobInfo> Jobs, IReadOnlyList<RunRecord> Runs);

public sealed record JobDetailView(JobInfo Job, JobInfo Current, IReadOnlyList<RunRecord> Runs);
