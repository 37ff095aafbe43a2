using System.Diagnostics;
using System.Text.Json;
using EventSync.Core;
using EventSync.Core.Admin;
using EventSync.Core.Ingest;
using EventSync.Core.Storage;
using EventSync.Core.Telemetry;
using EventSync.Core.Work;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace EventSync.Server.Ingest;

/// <summary>
/// POST /hooks/{source}: rate limit, size limit, verify over the raw body, route, group-commit, then answer 202.
/// Every outcome lands in the delivery log; a rejected request creates no event and never marks its id as seen.
/// </summary>
public sealed class IngestEndpoint(SourceRegistry sources, IngestWriter writer, FlowRouter router, IEventStore store, TimeProvider time, ILogger<IngestEndpoint> logger)
{
    public async Task HandleAsync(HttpContext context, string sourceName)
    {
        using var activity = StartIngestActivity(context, sourceName);
        await HandleCoreAsync(context, sourceName, activity);
        activity?.SetTag("http.response.status_code", context.Response.StatusCode);
    }

    /// <summary>
    /// The ingest span: a child of the request's span (ASP.NET Core instrumentation) or, without one, of the sender's
    /// own traceparent, so the sender's trace continues through EventSync.
    /// </summary>
    private static Activity? StartIngestActivity(HttpContext context, string sourceName)
    {
        if (!EventSyncTelemetry.Source.HasListeners()) return null;
        ActivityContext parent = default;
        if (Activity.Current is null && context.Request.Headers.TryGetValue("traceparent", out var traceparent))
            ActivityContext.TryParse(traceparent.ToString(), context.Request.Headers["tracestate"].ToString(), isRemote: true, out parent);
        var activity = EventSyncTelemetry.Source.StartActivity("eventsync.ingest " + (sourceName.Length > 64 ? sourceName[..64] : sourceName), ActivityKind.Internal, parent);
        activity?.SetTag(EventSyncTelemetry.Tags.Source, sourceName.Length > 64 ? sourceName[..64] : sourceName);
        return activity;
    }

    private static void Count(string source, string outcome, string? code = null, Activity? activity = null)
    {
        var tags = new TagList { { EventSyncTelemetry.Tags.Source, source }, { EventSyncTelemetry.Tags.Outcome, outcome } };
        if (code is not null) tags.Add(EventSyncTelemetry.Tags.Code, code);
        EventSyncTelemetry.EventsReceived.Add(1, tags);
        activity?.SetTag(EventSyncTelemetry.Tags.Outcome, outcome);
        if (code is not null) activity?.SetTag(EventSyncTelemetry.Tags.Code, code);
    }

    private async Task HandleCoreAsync(HttpContext context, string sourceName, Activity? activity)
    {
        var now = time.GetUtcNow();
        var remote = context.Connection.RemoteIpAddress?.ToString();
        var source = sources.Find(sourceName);
        if (source is null)
        {
            await RejectAsync(context, Truncate(sourceName, 64)!, null, 404, "unknown_source", $"no source named '{Truncate(sourceName, 64)}' is configured; POST to /hooks/<name> for a name under sources:", 0, now, remote);
            return;
        }
        if (source.Limiter is { } limiter)
        {
            using var lease = limiter.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                context.Response.Headers.RetryAfter = "1";
                await RejectAsync(context, source.Options.Name, Delivery(context), 429, "rate_limited", $"more than {source.Options.RateLimit.PerSecond} requests/s for this source; retry after the Retry-After delay", 0, now, remote);
                return;
            }
        }

        var max = source.Options.MaxBodyBytes;
        if (context.Request.ContentLength > max)
        {
            await RejectAsync(context, source.Options.Name, Delivery(context), 413, "payload_too_large", $"the body is {context.Request.ContentLength} bytes; this source accepts at most {max} (raise sources.{source.Options.Name}.maxBodySize)", 0, now, remote);
            return;
        }
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false }) sizeFeature.MaxRequestBodySize = max;

        byte[] body;
        try
        {
            body = await ReadBodyAsync(context.Request, max, context.RequestAborted);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == 413)
        {
            await RejectAsync(context, source.Options.Name, Delivery(context), 413, "payload_too_large", $"the body exceeds {max} bytes (raise sources.{source.Options.Name}.maxBodySize)", 0, now, remote);
            return;
        }
        catch (BadHttpRequestException ex)
        {
            await RejectAsync(context, source.Options.Name, Delivery(context), ex.StatusCode, "bad_request", "the request body could not be read: " + ex.Message, 0, now, remote);
            return;
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in context.Request.Headers) headers[name] = values.ToString();
        var request = new IncomingRequest(source.Options.Name, context.Request.ContentType, body, headers, remote);
        var decision = source.Verifier.Verify(request);
        switch (decision)
        {
            case IngestDecision.Reject reject:
                await RejectAsync(context, source.Options.Name, reject.DeliveryId ?? Delivery(context), reject.Status, reject.Code, reject.Message, body.Length, now, remote);
                return;
            case IngestDecision.NotionHandshake handshake:
                await HandshakeAsync(context, source, handshake.Token, body.Length, now, remote);
                return;
            case IngestDecision.Accept accept:
                IReadOnlyList<JobRequest> jobs;
                using (accept) jobs = accept.RouteToFlows ? router.Route(source.Options.Name, accept.EventType, accept.DeliveryId, accept.Root) : [];
                var entity = jobs.Count > 0 ? jobs[0].EntityKey : null;
                var write = new IngestWrite(
                    new DeliveryRecord(now, source.Options.Name, accept.DeliveryId, 202, DeliveryOutcomes.Accepted, null, body.Length, remote),
                    new NewEvent(source.Options.Name, accept.DedupKey, accept.DeliveryId, accept.EventType, entity, now, source.Verifier.SanitizedHeadersJson(request, EventSyncTelemetry.TraceparentOf(activity ?? Activity.Current)), accept.Payload),
                    jobs);
                IngestResult result;
                try
                {
                    result = await writer.WriteAsync(write, context.RequestAborted);
                }
                catch (StoreUnavailableException)
                {
                    Count(source.Options.Name, "unavailable", "store_unavailable", activity);
                    context.Response.Headers.RetryAfter = "5";
                    await WriteErrorAsync(context, 503, "store_unavailable", "the event could not be stored durably, so it was not accepted; retry later");
                    return;
                }
                Count(source.Options.Name, result.Duplicate ? DeliveryOutcomes.Duplicate : DeliveryOutcomes.Accepted, activity: activity);
                if (result.EventId is { } eventId) activity?.SetTag(EventSyncTelemetry.Tags.EventId, eventId);
                activity?.SetTag(EventSyncTelemetry.Tags.EventType, accept.EventType);
                context.Response.StatusCode = 202;
                await context.Response.WriteAsJsonAsync(new AcceptedBody(result.EventId, result.Duplicate, result.Duplicate ? 0 : result.JobsTouched, accept.DeliveryId), IngestJson.Default.AcceptedBody, cancellationToken: context.RequestAborted);
                return;
        }
    }

    private async Task HandshakeAsync(HttpContext context, SourceRuntime source, string token, int bytes, DateTimeOffset now, string? remote)
    {
        await store.SetSourceStateAsync(source.Options.Name, AdminOperations.NotionTokenState, token, now, context.RequestAborted);
        source.RememberNotionToken(token);
        // Shown on purpose: the operator must paste it into Notion to activate the subscription (see `eventsync sources`).
        if (source.Options.VerificationToken is null) logger.NotionVerificationToken(source.Options.Name);
        await LogAsync(new DeliveryRecord(now, source.Options.Name, null, 200, DeliveryOutcomes.Handshake, "Notion verification request; token stored for `eventsync sources`", bytes, remote), context.RequestAborted);
        Count(source.Options.Name, DeliveryOutcomes.Handshake, activity: Activity.Current);
        context.Response.StatusCode = 200;
        await context.Response.WriteAsJsonAsync(new HandshakeBody(true, "verification token received; run `eventsync sources` to see it"), IngestJson.Default.HandshakeBody, cancellationToken: context.RequestAborted);
    }

    private async Task RejectAsync(HttpContext context, string source, string? delivery, int status, string code, string message, int bytes, DateTimeOffset now, string? remote)
    {
        logger.DeliveryRejected(source, delivery, status, code);
        Count(source, DeliveryOutcomes.Rejected, code, Activity.Current);
        await LogAsync(new DeliveryRecord(now, source, Truncate(delivery, 200), status, DeliveryOutcomes.Rejected, $"{code}: {message}", bytes, remote), context.RequestAborted);
        await WriteErrorAsync(context, status, code, message);
    }

    private async Task LogAsync(DeliveryRecord record, CancellationToken ct)
    {
        try
        {
            await writer.WriteAsync(new IngestWrite(record), ct);
        }
        catch (StoreUnavailableException)
        {
            // The answer matters more than the audit line when the store is down; the failure itself is logged.
        }
    }

    private static Task WriteErrorAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new ErrorBody(code, message), IngestJson.Default.ErrorBody, cancellationToken: context.RequestAborted);
    }

    private static string? Delivery(HttpContext context)
    {
        var h = context.Request.Headers;
        var id = h["X-GitHub-Delivery"].ToString();
        if (id.Length == 0) id = h["webhook-id"].ToString();
        return id.Length == 0 ? null : id;
    }

    /// <summary>
    /// The whole body as one array. With a Content-Length (Kestrel holds the body to it) the array is allocated once at
    /// that size and read into directly; chunked bodies go through a pooled buffer.
    /// </summary>
    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, long max, CancellationToken ct)
    {
        if (request.ContentLength is { } length and >= 0)
        {
            var body = new byte[length]; // length <= max: checked before reading
            var filled = 0;
            int read;
            while (filled < body.Length && (read = await request.Body.ReadAsync(body.AsMemory(filled), ct)) > 0) filled += read;
            if (filled < body.Length) throw new BadHttpRequestException($"the body ended after {filled} of {length} bytes", 400);
            return body;
        }
        using var buffer = new MemoryStream();
        var chunk = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
            {
                if (buffer.Length + read > max) throw new BadHttpRequestException("body too large", 413);
                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(chunk);
        }
        return buffer.ToArray();
    }

    private static string? Truncate(string? s, int n) => s is null || s.Length <= n ? s : s[..n];
}

public sealed record AcceptedBody(long? EventId, bool Duplicate, int Jobs, string DeliveryId);

public sealed record ErrorBody(string Error, string Message);

public sealed record HandshakeBody(bool Ok, string Message);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[System.Text.Json.Serialization.JsonSerializable(typeof(AcceptedBody))]
[System.Text.Json.Serialization.JsonSerializable(typeof(ErrorBody))]
[System.Text.Json.Serialization.JsonSerializable(typeof(HandshakeBody))]
internal sealed partial class IngestJson : System.Text.Json.Serialization.JsonSerializerContext;
