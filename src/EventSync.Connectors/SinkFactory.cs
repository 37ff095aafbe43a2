using EventSync.Connectors.Embeddings;
using EventSync.Connectors.Logging;
using EventSync.Connectors.Sync;
using EventSync.Connectors.Vectors;
using EventSync.Connectors.Webhook;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;
using EventSync.Core.Vectors;
using Microsoft.Extensions.Logging;

namespace EventSync.Connectors;

public static class SinkFactory
{
    /// <param name="store">Needed by document sinks (GitHub, Notion, website) for links, agreed versions and conflicts.</param>
    public static IReadOnlyDictionary<string, ISink> Create(EventSyncConfig config, ILoggerFactory loggers, IVectorStore vectors, IEventStore? store = null, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        IReadOnlyDictionary<string, IDocumentSystem>? systems = null;
        IReadOnlyDictionary<string, IDocumentSystem> Systems() => systems ??= DocumentSystems.Create(config,
            store ?? throw new InvalidOperationException("document sinks need the event store"), time);
        return config.Sinks.Values.ToDictionary(s => s.Name, s => s.Kind switch
        {
            SinkKind.Webhook => (ISink)new WebhookSink(s),
            SinkKind.Log => new LogSink(s, loggers.CreateLogger("EventSync.Sinks." + s.Name)),
            SinkKind.Noop => new NoopSink(s),
            SinkKind.Vectors => new VectorSink(s, vectors, EmbedderFactory.Create(s.Vectors!.Embedder)),
            SinkKind.GitHub or SinkKind.Notion or SinkKind.Website => new DocumentSyncSink(s, config, Systems()[s.Connection!], Systems(), store!, time),
            SinkKind.GitHubDispatch => new GitHubDispatchSink(s, config.Connections[s.Connection!],
                DocumentSystems.GitHubClientFor(config.Connections[s.Connection!], new HttpClient { Timeout = s.Timeout }, time)),
            _ => throw new ArgumentOutOfRangeException(nameof(config)),
        });
    }
}
