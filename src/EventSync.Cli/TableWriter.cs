namespace EventSync.Cli;

/// <summary>Plain aligned text tables: readable in a terminal, in CI logs and when piped.</summary>
internal static class TableWriter
{
    public static void Write(TextWriter output, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string?>> rows, string empty = "(none)")
    {
        var data = rows.Select(r => r.Select(c => Clean(c ?? "")).ToArray()).ToList();
        if (data.Count == 0)
        {
            output.WriteLine(empty);
            return;
        }
        var widths = headers.Select((h, i) => Math.Max(h.Length, data.Max(r => r[i].Length))).ToArray();
        output.WriteLine(string.Join("  ", headers.Select((h, i) => h.ToUpperInvariant().PadRight(widths[i]))).TrimEnd());
        foreach (var row in data)
            output.WriteLine(string.Join("  ", row.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
    }

    private static string Clean(string s)
    {
        s = s.ReplaceLineEndings(" ");
        return s.Length > 80 ? s[..79] + "…" : s;
    }
}
