using System.Text.Json;
using EventSync.Cli;

namespace EventSync.Tests.Cli;

/// <summary>
/// Progress of long operations. Tests capture stdout (not a terminal), so they see the plain form: a counter line
/// every N items and one at the end, on stdout, or on stderr with --json so stdout stays pure JSON.
/// </summary>
public sealed class ProgressTests
{
    [Fact]
    public async Task Plain_progress_prints_a_counter_line_every_step_and_at_the_end()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var result = await CliProgress.RunAsync("replay", "dead letters", 5, json: false, stdout, stderr, progress =>
        {
            for (var i = 1; i <= 5; i++) progress.Report(i);
            return Task.FromResult("done");
        }, step: 2);

        Assert.Equal("done", result);
        Assert.Equal(["replay: 2/5 dead letters", "replay: 4/5 dead letters", "replay: 5/5 dead letters"], Lines(stdout));
        Assert.Equal("", stderr.ToString());
    }

    [Fact]
    public async Task Plain_progress_without_a_total_counts_and_grows_a_total_that_was_too_small()
    {
        using var unknown = new StringWriter();
        await CliProgress.RunAsync("reconcile", "rows", null, json: false, unknown, TextWriter.Null, progress =>
        {
            for (var i = 1; i <= 3; i++) progress.Report(i);
            return Task.FromResult(0);
        }, step: 3);
        Assert.Equal(["reconcile: 3 rows"], Lines(unknown));

        using var grown = new StringWriter();
        await CliProgress.RunAsync("replay", "dead letters", 2, json: false, grown, TextWriter.Null, progress =>
        {
            for (var i = 1; i <= 3; i++) progress.Report(i); // a job parked while replaying
            return Task.FromResult(0);
        }, step: 100);
        Assert.Equal(["replay: 3/3 dead letters"], Lines(grown));
    }

    [Fact]
    public async Task With_json_progress_goes_to_stderr_and_stdout_holds_only_the_answer()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        await CliProgress.RunAsync("reconcile", "rows", null, json: true, stdout, stderr, progress =>
        {
            progress.Report(1);
            progress.Report(2);
            return Task.FromResult(0);
        }, step: 1);
        Assert.Equal("", stdout.ToString());
        Assert.Equal(["reconcile: 1 rows", "reconcile: 2 rows"], Lines(stderr));
    }

    [Fact]
    public async Task Dead_replay_all_reports_progress_in_plain_form_and_keeps_json_pure()
    {
        using var world = await CliStore.CreateAsync(deadLetters: 3);
        var (exit, stdout, _) = await CliStore.RunAsync("dead", "replay", "--all", "-c", world.ConfigPath);
        Assert.Equal(CliApp.Ok, exit);
        Assert.Equal(["replay: 3/3 dead letters", "replayed 3 dead letter(s)"], Lines(stdout));
        Assert.DoesNotContain('\r', stdout);

        // Another store with two dead letters, replayed with --json: the counter moves to stderr.
        using var again = await CliStore.CreateAsync(deadLetters: 2);
        var (jsonExit, json, progress) = await CliStore.RunAsync("dead", "replay", "--all", "-c", again.ConfigPath, "--json");
        Assert.Equal(CliApp.Ok, jsonExit);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(2, doc.RootElement.GetProperty("replayed").GetInt32());
        Assert.Contains("replay: 2/2 dead letters", progress, StringComparison.Ordinal);
    }

    private static string[] Lines(StringWriter writer) => Lines(writer.ToString());

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
