using EventSync.Core.Configuration;
using EventSync.Core.Vectors;

namespace EventSync.Connectors.Embeddings;

public static class EmbedderFactory
{
    /// <summary>Builds the configured embedder; the API key was read from the named environment variable at load time.</summary>
    public static IEmbedder Create(EmbedderOptions options) => options.Kind == EmbedderKind.Local
        ? new LocalEmbedder(options.Dimensions)
        : new OpenAiEmbedder(new OpenAiEmbedderOptions
        {
            BaseUrl = options.BaseUrl!, Model = options.Model!, Dimensions = options.Dimensions, BatchSize = options.BatchSize,
            ApiKey = options.ApiKey, ApiKeyEnv = options.ApiKeyEnv, SendDimensions = options.SendDimensions,
        });
}
