using System.Globalization;
using System.Numerics.Tensors;
using System.Text;

namespace EventSync.Core.Vectors;

/// <summary>
/// A lexical embedder that needs no network and no model: words, word pairs and character trigrams are hashed
/// (feature hashing with a sign bit) into a fixed number of dimensions, weighted, and L2-normalised.
/// It finds texts that share words and word fragments; it does not understand synonyms or meaning.
/// Deterministic across processes and machines, so tests and the demo are repeatable.
/// </summary>
public sealed class LocalEmbedder : IEmbedder
{
    public const string ModelName = "eventsync-local-lexical-v1";

    public LocalEmbedder(int dimensions = 384)
    {
        if (dimensions is < 16 or > 4096) throw new ArgumentOutOfRangeException(nameof(dimensions), "the local embedder supports 16 to 4096 dimensions");
        Dimensions = dimensions;
    }

    public string Model => ModelName;
    public int Dimensions { get; }
    public int BatchSize => 256;

    public Task<IReadOnlyList<float[]>> EmbedAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken)
    {
        var result = new float[inputs.Count][];
        for (var i = 0; i < inputs.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            result[i] = Embed(inputs[i]);
        }
        return Task.FromResult<IReadOnlyList<float[]>>(result);
    }

    public float[] Embed(string text)
    {
        var vector = new float[Dimensions];
        var words = Words(text);
        for (var w = 0; w < words.Count; w++)
        {
            Add(vector, "w:" + words[w], 1.0f);
            if (w + 1 < words.Count) Add(vector, "b:" + words[w] + " " + words[w + 1], 0.5f);
            var padded = "^" + words[w] + "$";
            for (var c = 0; c + 3 <= padded.Length; c++) Add(vector, string.Concat("c:", padded.AsSpan(c, 3)), 0.25f);
        }
        var norm = TensorPrimitives.Norm(vector);
        if (norm > 0) TensorPrimitives.Divide(vector, norm, vector);
        return vector;
    }

    private void Add(float[] vector, string feature, float weight)
    {
        var hash = Fnv1a64(feature);
        var index = (int)(hash % (ulong)Dimensions);
        vector[index] += (hash & (1UL << 63)) == 0 ? weight : -weight;
    }

    private const string Accented = "àáâãäåāăąçćčďèéêëēėęěìíîïīįłñńňòóôõöøōőŕřśšşťùúûüūůűųýÿžźż";
    private const string Plain = "aaaaaaaaacccdeeeeeeeeiiiiiilnnnoooooooorrssstuuuuuuuuyyzzz";

    /// <summary>Strips the accent when normalisation could not (globalization-invariant mode has no decomposition data).</summary>
    private static char Fold(char ch)
    {
        var i = ch < 'à' ? -1 : Accented.IndexOf(ch, StringComparison.Ordinal);
        return i < 0 ? ch : Plain[i];
    }

    /// <summary>FNV-1a: tiny, stable across runtimes (string.GetHashCode is randomised per process).</summary>
    private static ulong Fnv1a64(string s)
    {
        var hash = 14695981039346656037UL;
        foreach (var ch in s)
        {
            hash = (hash ^ (byte)ch) * 1099511628211UL;
            hash = (hash ^ (byte)(ch >> 8)) * 1099511628211UL;
        }
        // Final avalanche so the low bits used for the index depend on every character.
        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        return hash;
    }

    /// <summary>Lower-cased letter/digit runs, accents removed, so "Café" and "cafe" meet.</summary>
    private static List<string> Words(string text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        foreach (var ch in text.Normalize(NormalizationForm.FormD))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(ch) == UnicodeCategory.NonSpacingMark) continue;
            if (char.IsLetterOrDigit(ch)) current.Append(Fold(char.ToLowerInvariant(ch)));
            else Flush();
        }
        Flush();
        return words;

        void Flush()
        {
            if (current.Length > 0) words.Add(current.ToString());
            current.Clear();
        }
    }
}
