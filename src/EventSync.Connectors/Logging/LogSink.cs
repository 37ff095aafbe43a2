using EventSync.Core;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using Microsoft.Extensions.Logging;

namespace EventSync.Connectors.Logging;

/// <summary>Writes each job to the log: for trying a flow before wiring a real destination.</summary>
public sealed class LogSink(SinkOptions options, ILogger logger) : ISink
{
    public string Name => options.Name;

    public Task<SinkResult> DeliverAsync(SinkDelivery delivery, CancellationToken cancellationToken)
    {
        logger.LogSinkDelivery(Name, delivery.JobId, delivery.Flow, delivery.EntityKey, delivery.Events.Count, delivery.IdempotencyKey);
        return Task.FromResult(SinkResult.Success($"log:{Name}"));
    }
}

/// <summary>Accepts every job and does nothing: the drain benchmark's sink, measuring the engine alone.</summary>
public sealed class NoopSink(SinkOptions options) : ISink
{
    private static readonly Task<SinkResult> Done = Task.FromResult(SinkResult.Success());

    public string Name => options.Name;

    public Task<SinkResult> DeliverAsync(SinkDelivery delivery, CancellationToken cancellationToken) => Done;
}
