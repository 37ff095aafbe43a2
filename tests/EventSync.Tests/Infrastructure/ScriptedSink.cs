using System.Collections.Concurrent;
using EventSync.Core.Sinks;

namespace EventSync.Tests.Infrastructure;

/// <summary>A sink whose answers the test scripts, recording every delivery and any concurrent run of one key.</summary>
public sealed class ScriptedSink(string name = "out") : ISink
{
    private readonly ConcurrentQueue<Func<SinkDelivery, SinkResult>> _script = new();
    private readonly ConcurrentDictionary<string, int> _inFlight = new();

    public string Name { get; } = name;
    public ConcurrentQueue<SinkDelivery> Deliveries { get; } = new();
    public int ConcurrentSameKey;

    public ScriptedSink Then(params SinkResult[] results)
    {
        foreach (var r in results) _script.Enqueue(_ => r);
        return this;
    }

    public Task<SinkResult> DeliverAsync(SinkDelivery delivery, CancellationToken cancellationToken)
    {
        var key = delivery.Flow + "/" + delivery.EntityKey;
        if (_inFlight.AddOrUpdate(key, 1, (_, n) => n + 1) > 1) Interlocked.Increment(ref ConcurrentSameKey);
        try
        {
            Deliveries.Enqueue(delivery);
            return Task.FromResult(_script.TryDequeue(out var next) ? next(delivery) : SinkResult.Success("ok"));
        }
        finally
        {
            _inFlight.AddOrUpdate(key, 0, (_, n) => n - 1);
        }
    }
}
