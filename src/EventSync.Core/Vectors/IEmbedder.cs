namespace EventSync.Core.Vectors;

/// <summary>Turns texts into vectors. Implementations: the built-in lexical <see cref="LocalEmbedder"/> and an OpenAI-compatible client.</summary>
public interface IEmbedder
{
    /// <summary>Names the model; stored with every vector so a different model can never be mixed into an index.</summary>
    string Model { get; }

    int Dimensions { get; }

    /// <summary>Most inputs sent in one call.</summary>
    int BatchSize { get; }

    /// <summary>
    /// One vector per input, each exactly <see cref="Dimensions"/> long.
    /// Throws <see cref="EmbeddingThrottledException"/> when the provider asks to wait, <see cref="EmbeddingFailedException"/> otherwise.
    /// </summary>
    Task<IReadOnlyList<float[]>> EmbedAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken);
}

/// <summary>The provider answered 429/503 with a delay: a pause, not a failure.</summary>
public sealed class EmbeddingThrottledException(TimeSpan retryAfter, string message) : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>The provider failed; <see cref="Retryable"/> says whether trying again can help.</summary>
public sealed class EmbeddingFailedException(string message, bool retryable, Exception? inner = null) : Exception(message, inner)
{
    public bool Retryable { get; } = retryable;
}
