using System.Text.Json.Nodes;
using EventSync.Connectors.GitHub;
using EventSync.Connectors.Http;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;

namespace EventSync.Connectors.Sync;

/// <summary>
/// Sends a repository_dispatch (e.g. notion-webhook) so GitHub Actions workflows downstream run on the event: the
/// intermediary the original design asked for. client_payload carries what caused it, within GitHub's 10 keys.
/// </summary>
public sealed class GitHubDispatchSink(SinkOptions options, ConnectionOptions connection, GitHubClient client) : ISink
{
    public string Name => options.Name;

    public async Task<SinkResult> DeliverAsync(SinkDelivery delivery, CancellationToken cancellationToken)
    {
        var latest = delivery.Latest;
        var payload = new JsonObject
        {
            ["source"] = latest.Source, ["event_type"] = latest.EventType, ["entity"] = delivery.EntityKey, ["flow"] = delivery.Flow,
            ["event_ids"] = new JsonArray(delivery.Events.Select(e => (JsonNode)e.Id).ToArray()), ["delivery_id"] = latest.DeliveryId,
            ["idempotency_key"] = delivery.IdempotencyKey,
        };
        try
        {
            await client.DispatchAsync(connection.GitHub!.Repository, options.EventType!, payload, cancellationToken);
            return SinkResult.Success($"github:{connection.GitHub.Repository} repository_dispatch {options.EventType}");
        }
        catch (ApiThrottledException e) { return SinkResult.Throttled(e.RetryAfter, e.Message); }
        catch (ApiException e) { return e.Retryable ? SinkResult.Retryable(e.Message) : SinkResult.Permanent(e.Message); }
        catch (HttpRequestException e) { return SinkResult.Retryable($"{e.Message} (network)"); }
    }
}
