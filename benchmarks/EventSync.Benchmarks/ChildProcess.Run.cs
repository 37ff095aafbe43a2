using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace EventSync.Benchmarks;

/// <summary>A finished command: its exit code and what it printed.</summary>
public sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => (Stdout + "\n" + Stderr).Trim();
}

public sealed partial class ChildProcess
{
    /// <summary>
    /// Runs <paramref name="file"/> to its end (a CLI command, a node script) with a bound: killed after
    /// <paramref name="timeout"/> or on cancellation, and registered so an interrupted tool kills it too.
    /// </summary>
    public static async Task<CommandResult> RunToEndAsync(string file, IReadOnlyList<string> arguments, string workDir, TimeSpan timeout, CancellationToken ct)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workDir,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = new Process { StartInfo = info };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.Start();
        Live[process.Id] = process;
        var pidFile = Path.Combine(workDir, $"child-{process.Id}.pid");
        await File.WriteAllTextAsync(pidFile, process.Id.ToString(CultureInfo.InvariantCulture), CancellationToken.None);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bound.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(bound.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                Kill(process);
                await process.WaitForExitAsync(CancellationToken.None);
                throw new BenchmarkException($"{Path.GetFileName(file)} {string.Join(' ', arguments.Take(2))} did not finish within {timeout.TotalSeconds:0} s:\n{Last(stderr)}\n{Last(stdout)}");
            }
            await process.WaitForExitAsync(CancellationToken.None); // flushes the output events
            lock (stdout) lock (stderr) return new CommandResult(process.ExitCode, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Kill(process);
            Live.TryRemove(process.Id, out _);
            File.Delete(pidFile);
        }
    }

    private static string Last(StringBuilder text)
    {
        lock (text) return string.Join('\n', text.ToString().Split('\n').TakeLast(20));
    }
}
