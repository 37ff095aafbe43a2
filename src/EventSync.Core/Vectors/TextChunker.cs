namespace EventSync.Core.Vectors;

/// <summary>
/// Splits long text into overlapping chunks of at most <c>size</c> characters, preferring to cut at paragraph,
/// sentence or word boundaries so a chunk does not end mid-word.
/// </summary>
public sealed record TextChunker(int Size = 1000, int Overlap = 100)
{
    /// <summary>Part of the content hash: a change of chunking re-embeds, exactly like a change of text.</summary>
    public string Settings => $"chunk:{Size}/{Overlap}";

    public IReadOnlyList<string> Split(string text)
    {
        text = text.Trim();
        if (text.Length == 0) return [];
        if (text.Length <= Size) return [text];
        var chunks = new List<string>();
        var start = 0;
        // Bounded: each round starts later than the last (Overlap is validated to be under Size / 2).
        while (start < text.Length)
        {
            var end = Math.Min(start + Size, text.Length);
            if (end < text.Length) end = BestCut(text, start, end);
            chunks.Add(text[start..end].Trim());
            if (end >= text.Length) break;
            var next = Math.Max(end - Overlap, start + 1);
            var wordStart = text.IndexOf(' ', next, end - next);
            start = wordStart >= 0 && Overlap > 0 ? wordStart + 1 : next;
        }
        return chunks.Where(c => c.Length > 0).ToList();
    }

    private int BestCut(string text, int start, int end)
    {
        var min = start + Math.Max(Size / 2, 1);
        foreach (var boundary in new[] { "\n\n", ". ", "\n", " " })
        {
            var at = text.LastIndexOf(boundary, end - 1, end - min, StringComparison.Ordinal);
            if (at > min) return at + boundary.Length;
        }
        return end;
    }
}
