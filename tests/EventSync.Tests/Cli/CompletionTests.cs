using System.Diagnostics;
using EventSync.Cli;

namespace EventSync.Tests.Cli;

/// <summary>
/// Shell completion: the CLI answers System.CommandLine's `[suggest:POSITION] "partial line"` directive, and
/// `eventsync completion bash|zsh|pwsh` prints the script that asks it.
/// </summary>
public sealed class CompletionTests
{
    [Theory]
    [InlineData("", "runs", "vectors")]                       // nothing typed: every command
    [InlineData("ru", "runs", "run")]                         // a partial command
    [InlineData("runs ", "list", "show")]                     // subcommands of a command
    [InlineData("dead replay --", "--all", "--flow")]         // options of a subcommand
    [InlineData("runs list --status ", "parked", "lease-lost")] // values of an option with a fixed set
    [InlineData("completion ", "bash", "pwsh")]
    public async Task The_suggest_directive_completes_a_partial_command_line(string line, string expected, string alsoExpected)
    {
        var (exit, stdout, stderr) = await CliStore.RunAsync($"[suggest:{line.Length}]", line);
        Assert.True(exit == CliApp.Ok, stderr);
        var suggestions = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(expected, suggestions);
        Assert.Contains(alsoExpected, suggestions);
    }

    [Fact]
    public async Task Suggestions_are_only_those_that_fit_the_partial_word()
    {
        var (_, stdout, _) = await CliStore.RunAsync("[suggest:13]", "runs list --f");
        Assert.Equal(["--flow"], stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Theory]
    [InlineData("bash", "complete -o default -F _eventsync_complete eventsync")]
    [InlineData("zsh", "compdef _eventsync eventsync")]
    [InlineData("pwsh", "Register-ArgumentCompleter -Native -CommandName eventsync")]
    public async Task Each_script_names_the_binary_and_asks_the_suggest_directive(string shell, string registration)
    {
        var (exit, script, stderr) = await CliStore.RunAsync("completion", shell);
        Assert.True(exit == CliApp.Ok, stderr);
        Assert.Contains(registration, script, StringComparison.Ordinal);
        Assert.Contains("[suggest:", script, StringComparison.Ordinal);
        Assert.Equal(CompletionCommand.Script(shell), script);
    }

    [Fact]
    public async Task An_unknown_shell_is_a_usage_error_that_lists_the_shells()
    {
        var (exit, stdout, stderr) = await CliStore.RunAsync("completion", "fish");
        Assert.Equal(CliApp.Usage, exit);
        Assert.Equal("", stdout);
        Assert.Contains("bash", stderr, StringComparison.Ordinal);
        Assert.Contains("eventsync completion --help", stderr, StringComparison.Ordinal);
    }

    /// <summary>The bash script for real: sourced into bash, asked as bash asks on Tab, against the built eventsync binary.</summary>
    [Fact]
    public async Task The_bash_script_completes_in_bash_against_the_real_binary()
    {
        var binary = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "eventsync.exe" : "eventsync");
        if (!File.Exists("/bin/bash") || !File.Exists(binary)) return; // Windows or no apphost: nothing to drive
        var dir = Directory.CreateTempSubdirectory("eventsync-completion-").FullName;
        try
        {
            var script = Path.Combine(dir, "eventsync.bash");
            await File.WriteAllTextAsync(script, CompletionCommand.Script("bash"));
            const string probe = """
                source "$1"
                ask() { COMP_LINE="$1"; COMP_POINT=${#1}; read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _eventsync_complete; echo "$1 => ${COMPREPLY[*]}"; }
                ask "eventsync runs li"
                ask "eventsync dead replay --a"
                ask "eventsync vectors "
                """;
            var info = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "-c", probe, "probe", script }) info.ArgumentList.Add(a);
            info.Environment["PATH"] = AppContext.BaseDirectory + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
            using var bash = Process.Start(info)!;
            var stdout = bash.StandardOutput.ReadToEndAsync();
            var stderr = bash.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await bash.WaitForExitAsync(cts.Token);
            var output = await stdout;
            Assert.True(bash.ExitCode == 0, await stderr);
            Assert.Contains("eventsync runs li => list", output, StringComparison.Ordinal);
            Assert.Contains("eventsync dead replay --a => --all", output, StringComparison.Ordinal);
            Assert.Matches("eventsync vectors  => .*reconcile.*reindex.*status", output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
