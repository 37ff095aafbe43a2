using EventSync.Connectors.Embeddings;
using EventSync.Connectors.Logging;
using EventSync.Connectors.Vectors;
using EventSync.Connectors.Webhook;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Vectors;
using Microsoft.Extensions.Logging;

namespace EventSync.Connectors;

public static class SinkFactory
{
    public static IReadOnlyDictionary<string, ISink> Create(EventSyncConfig config, ILoggerFactory loggers, IVectorStore vectors) =>
        config.Sinks.Values.ToDictionary(s => s.Name, s => s.Kind switch
        {
            SinkKind.Webhook => (ISink)new WebhookSink(s),
            SinkKind.Log => new LogSink(s, loggers.CreateLogger("EventSync.Sinks." + s.Name)),
            SinkKind.Noop => new NoopSink(s),
            SinkKind.Vectors => new VectorSink(s, vectors, EmbedderFactory.Create(s.Vectors!.Embedder)),
            _ => throw new ArgumentOutOfRangeException(nameof(config)),
        });
}
