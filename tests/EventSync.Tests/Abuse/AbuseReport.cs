using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EventSync.Tests.Abuse;

/// <summary>
/// Counts of the abuse suite per category (cases tried, passed), shared by its test classes, printed into the test
/// output and rewritten to .artifacts/abuse/summary.json after every recording so a partial run still leaves counts.
/// </summary>
internal static class AbuseReport
{
    private static readonly Lock Gate = new();
    private static readonly SortedDictionary<string, (int Tried, int Passed)> Counts = new(StringComparer.Ordinal);

    /// <summary>EVENTSYNC_FUZZ_COUNT scales every generator (the NotionMarkdown fuzz convention); the seed is fixed.</summary>
    public static int FuzzCount(int defaultCount) =>
        int.TryParse(Environment.GetEnvironmentVariable("EVENTSYNC_FUZZ_COUNT"), NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0
            ? count
            : defaultCount;

    public static void Record(string category, int tried, int passed)
    {
        lock (Gate)
        {
            Counts.TryGetValue(category, out var c);
            Counts[category] = (c.Tried + tried, c.Passed + passed);
            Write();
        }
    }

    public static string Format(IEnumerable<(string Category, int Tried, int Passed)> rows)
    {
        var sb = new StringBuilder();
        foreach (var (category, tried, passed) in rows)
            sb.Append(CultureInfo.InvariantCulture, $"{category,-28} {passed,6}/{tried,-6}\n");
        return sb.ToString();
    }

    private static void Write()
    {
        var path = Path.Combine(RepositoryRoot(), ".artifacts", "abuse", "summary.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var summary = new
        {
            seed = AbuseSeed.Value,
            fuzzCount = Environment.GetEnvironmentVariable("EVENTSYNC_FUZZ_COUNT"),
            tried = Counts.Values.Sum(c => c.Tried),
            passed = Counts.Values.Sum(c => c.Passed),
            categories = Counts.ToDictionary(kv => kv.Key, kv => new { tried = kv.Value.Tried, passed = kv.Value.Passed }),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        for (var i = 0; i < 10 && dir is not null; i++, dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props"))) return dir.FullName;
        return AppContext.BaseDirectory;
    }
}

internal static class AbuseSeed
{
    /// <summary>Fixed so CI runs are reproducible; a failure message names the case index with it.</summary>
    public const int Value = 20250907;
}
