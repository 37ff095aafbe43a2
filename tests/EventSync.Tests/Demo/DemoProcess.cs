using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace EventSync.Tests.Demo;

/// <summary>`eventsync demo` as a child process (the real CLI the build copies next to the tests), with its output collected line by line.</summary>
public sealed class DemoProcess : IDisposable
{
    private static readonly string CliDll = Path.Combine(AppContext.BaseDirectory, "eventsync.dll");
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private DemoProcess(Process process) => _process = process;

    public int Id => _process.Id;
    public string Output => string.Join('\n', _lines);
    public IReadOnlyList<string> Lines => [.. _lines];

    /// <summary>Starts the demo; <paramref name="postgresBin"/> goes first on PATH so the demo finds those binaries.</summary>
    public static DemoProcess Start(IEnumerable<string> args, string? postgresBin = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(CliDll);
        info.ArgumentList.Add("demo");
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("EVENTSYNC_", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        if (postgresBin is not null) info.Environment["PATH"] = postgresBin + Path.PathSeparator + info.Environment["PATH"];
        var process = new Process { StartInfo = info };
        var self = new DemoProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) self._lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) self._lines.Enqueue("stderr: " + e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return self;
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"eventsync demo did not exit within {timeout.TotalSeconds:0} s:\n{Output}");
        }
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as a service manager (or Ctrl+C, as SIGINT) asks the demo to stop.</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
    }

    public static bool IsRunning(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            // Politely first, so a failed test does not leave a PostgreSQL server and a directory behind.
            if (!_process.HasExited)
            {
                using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
                kill.WaitForExit();
                _process.WaitForExit(TimeSpan.FromSeconds(60));
            }
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }
}
