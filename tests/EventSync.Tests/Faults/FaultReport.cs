using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace EventSync.Tests.Faults;

/// <summary>
/// Counts of the fault suite: each test records (category, cases tried, cases passed) into
/// <c>.artifacts/faults/summary.json</c> at the repository root and prints a line, so CI output and BENCHMARKS.md
/// can quote how much was tried, not only that nothing failed. A case is one injected fault; it passes when the
/// test's end-state checks hold (nothing lost, no key run twice at once, keys and signatures right).
/// </summary>
public static class FaultReport
{
    private static readonly Lock Gate = new();
    private static readonly List<Entry> Entries = [];

    public sealed record Entry(string Category, string Case, int Tried, int Passed, double Seconds, string Detail);

    /// <summary>Starts a case; call <see cref="FaultCase.Pass"/> at the end of the test, or it is recorded as failed.</summary>
    public static FaultCase Begin(string category, string name, int tried, ITestOutputHelper output) => new(category, name, tried, output);

    /// <summary>Where the summary goes: .artifacts/faults under the repository root (the folder holding EventSync.sln).</summary>
    public static string SummaryPath
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            for (var i = 0; i < 12 && dir is not null && !File.Exists(Path.Combine(dir.FullName, "EventSync.sln")); i++) dir = dir.Parent;
            var root = dir is not null && File.Exists(Path.Combine(dir.FullName, "EventSync.sln")) ? dir.FullName : Path.GetTempPath();
            return Path.Combine(root, ".artifacts", "faults", "summary.json");
        }
    }

    internal static void Record(Entry entry, ITestOutputHelper output)
    {
        output.WriteLine($"fault suite: {entry.Category} / {entry.Case}: {entry.Passed}/{entry.Tried} passed in {entry.Seconds:0.0} s {entry.Detail}");
        lock (Gate)
        {
            Entries.Add(entry);
            var categories = Entries.GroupBy(e => e.Category).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new { category = g.Key, tried = g.Sum(e => e.Tried), passed = g.Sum(e => e.Passed) }).ToList();
            var summary = new
            {
                tried = Entries.Sum(e => e.Tried),
                passed = Entries.Sum(e => e.Passed),
                categories,
                cases = Entries.Select(e => new { category = e.Category, name = e.Case, tried = e.Tried, passed = e.Passed, seconds = Math.Round(e.Seconds, 1), detail = e.Detail }),
            };
            var path = SummaryPath;
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            // Rewritten whole after every case: the file always describes this run so far, even if a later case hangs.
            File.WriteAllText(path, JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
        }
    }
}

public sealed class FaultCase(string category, string name, int tried, ITestOutputHelper output) : IDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _passed;
    private bool _recorded;

    /// <summary>Free text for the report line (e.g. the random seed).</summary>
    public string Detail { get; set; } = "";

    public void Pass() => _passed = true;

    public void Dispose()
    {
        if (_recorded) return;
        _recorded = true;
        FaultReport.Record(new FaultReport.Entry(category, name, tried, _passed ? tried : 0, _clock.Elapsed.TotalSeconds, Detail), output);
    }
}

/// <summary>
/// The fault tests kill processes, restart the shared PostgreSQL server and fill disks: they run one at a time and
/// after every parallel test (xunit runs non-parallel collections last), so no other test sees those faults.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultTests
{
    public const string Name = "faults";
}
