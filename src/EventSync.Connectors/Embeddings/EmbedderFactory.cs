using EventSync.Core.Configuration;
using EventSync.Core.Vectors;

namespace EventSync.Connectors.Embeddings;

public static class EmbedderFactory
{
    /// <summary>Builds the configured embedder; an OpenAI-compatible key is read from the named environment variable, never from the file.</summary>
    public static IEmbedder Create(EmbedderOptions options, IReadOnlyDictionary<string, string?>? environment = null)
    {
        if (options.Kind == EmbedderKind.Local) return new LocalEmbedder(options.Dimensions);
        string? key = null;
        if (options.ApiKeyEnv is { } name)
        {
            key = environment is null ? Environment.GetEnvironmentVariable(name) : environment.GetValueOrDefault(name);
            if (string.IsNullOrEmpty(key)) throw new InvalidOperationException($"environment variable {name} (embedder.apiKeyEnv) is not set; export it with the API key");
        }
        return new OpenAiEmbedder(new OpenAiEmbedderOptions
        {
            BaseUrl = options.BaseUrl!, Model = options.Model!, Dimensions = options.Dimensions, BatchSize = options.BatchSize, ApiKey = key, SendDimensions = options.SendDimensions,
        });
    }
}
