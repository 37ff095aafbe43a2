using System.Globalization;
using System.Text.RegularExpressions;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.Demo;

/// <summary>
/// `eventsync demo` end to end through the real CLI in a child process: the story's steps all succeed, and nothing it
/// started (the temporary directory, the throwaway PostgreSQL server) outlives it, whether it ends by itself or on a signal.
/// </summary>
public sealed partial class DemoCommandTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    /// <summary>Where the test script found the PostgreSQL binaries (scripts/pg-temp.sh exports it).</summary>
    private static string PostgresBin =>
        Environment.GetEnvironmentVariable("PG_TEMP_BIN")
        ?? throw new InvalidOperationException("PG_TEMP_BIN is not set: run the tests with ./test.sh, which finds the PostgreSQL binaries and exports it.");

    [Fact]
    public async Task With_PostgreSQL_every_step_succeeds_and_the_directory_and_the_server_are_gone_afterwards()
    {
        using var demo = DemoProcess.Start(["--exit-when-done", "--port", "0"], PostgresBin);
        var exit = await demo.WaitForExitAsync(Patience);
        var output = demo.Output;

        Assert.True(exit == 0, $"exit code {exit}:\n{output}");
        AssertSteps(demo.Lines, ok: 6, skipped: 0);
        Assert.Contains("Summary: 6 ok, 0 failed, 0 skipped", output, StringComparison.Ordinal);
        // What each step tells the user to look at.
        Assert.Contains("Notion: page \"Scout\" in Agent Registry", output, StringComparison.Ordinal);
        Assert.Matches(new Regex(@"GitHub: commit [0-9a-f]{7} by EventSync: .* sets status: paused"), output);
        Assert.Matches(new Regex(@"top hit row \d+, score"), output);
        Assert.Matches(new Regex(@"job \d+ was parked: .*500"), output);
        Assert.Contains("the partner verified EventSync's signature and got order ord_1001", output, StringComparison.Ordinal);

        var pid = PostgresPid(output);
        await Wait.UntilAsync(() => !DemoProcess.IsRunning(pid), TimeSpan.FromSeconds(30), $"PostgreSQL (pid {pid}) to be gone");
        Assert.False(Directory.Exists(WorkingDirectory(output)), "the demo's directory was removed");
    }

    [Fact]
    public async Task Without_PostgreSQL_the_vector_step_is_skipped_with_the_reason_and_the_rest_succeeds()
    {
        using var demo = DemoProcess.Start(["--exit-when-done", "--port", "0", "--no-postgres"]);
        var exit = await demo.WaitForExitAsync(Patience);
        var output = demo.Output;

        Assert.True(exit == 0, $"exit code {exit}:\n{output}");
        AssertSteps(demo.Lines, ok: 5, skipped: 1);
        Assert.Contains("skipped: the vector flow needs PostgreSQL: --no-postgres was given", output, StringComparison.Ordinal);
        Assert.Contains("Summary: 5 ok, 0 failed, 1 skipped", output, StringComparison.Ordinal);
        Assert.DoesNotContain(demo.Lines, l => PostgresLine().IsMatch(l));
        Assert.False(Directory.Exists(WorkingDirectory(output)), "the demo's directory was removed");
    }

    [Fact]
    public async Task Left_running_it_serves_until_told_to_stop_and_then_cleans_up()
    {
        using var demo = DemoProcess.Start(["--port", "0"], PostgresBin);
        await Wait.UntilAsync(() => demo.Lines.Any(l => l.Contains("Dashboard: ", StringComparison.Ordinal)) || demo.Lines.Any(l => l.StartsWith("stderr: ", StringComparison.Ordinal)),
            Patience, "the demo to print its dashboard URL");
        var output = demo.Output;
        Assert.Contains("Summary: 6 ok, 0 failed, 0 skipped", output, StringComparison.Ordinal);
        var dashboard = new Uri(Regex.Match(output, @"Dashboard: (\S+)").Groups[1].Value);
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
            Assert.True((await http.GetAsync(new Uri(dashboard, "readyz"))).IsSuccessStatusCode, "the server stays up after the story");
        var directory = WorkingDirectory(output);
        var pid = PostgresPid(output);
        Assert.True(Directory.Exists(directory));
        Assert.True(DemoProcess.IsRunning(pid));

        await demo.TerminateAsync();
        await demo.WaitForExitAsync(TimeSpan.FromSeconds(90));
        Assert.Contains("stopped; working directory removed", demo.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(directory), "the demo's directory was removed");
        await Wait.UntilAsync(() => !DemoProcess.IsRunning(pid), TimeSpan.FromSeconds(30), $"PostgreSQL (pid {pid}) to be gone");
    }

    /// <summary>Every step is announced as [n/6] and ends in exactly one of ok / skipped (never FAILED).</summary>
    private static void AssertSteps(IReadOnlyList<string> lines, int ok, int skipped)
    {
        var headings = lines.Select(l => StepHeading().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, 6), headings);
        Assert.Equal(ok, lines.Count(l => l.TrimStart().StartsWith("ok in ", StringComparison.Ordinal)));
        Assert.Equal(skipped, lines.Count(l => l.TrimStart().StartsWith("skipped: ", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("FAILED", StringComparison.Ordinal));
    }

    private static string WorkingDirectory(string output)
    {
        var match = Regex.Match(output, @"working directory\s+(\S+) \(removed on exit\)");
        Assert.True(match.Success, "the demo names its working directory:\n" + output);
        return match.Groups[1].Value;
    }

    private static int PostgresPid(string output)
    {
        var match = PostgresLine().Match(output);
        Assert.True(match.Success, "the demo started PostgreSQL and printed its pid:\n" + output);
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^\[(\d+)/6\] ")]
    private static partial Regex StepHeading();

    [GeneratedRegex(@"PostgreSQL [0-9.]+\s+127\.0\.0\.1:\d+ \(pid (\d+)\)")]
    private static partial Regex PostgresLine();
}
