using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace EventSync.Tests.Infrastructure;

/// <summary>
/// The real <c>eventsync</c> CLI as a child process (the build copies eventsync.dll next to the tests), so crash tests
/// can kill -9 it and several processes can share one store.
/// </summary>
public sealed class ServeProcess : IAsyncDisposable
{
    private static readonly string CliDll = Path.Combine(AppContext.BaseDirectory, "eventsync.dll");
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServeProcess(Process process)
    {
        _process = process;
    }

    public Uri Address { get; private set; } = null!;
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public string Output => string.Join('\n', _output);

    /// <summary>Runs <c>eventsync serve -c config --urls http://127.0.0.1:0</c> and waits until it prints its bound address.</summary>
    /// <param name="adjust">Changes the start info before launch (e.g. a wrapper that sets a signal disposition).</param>
    public static async Task<ServeProcess> StartAsync(string configPath, TimeSpan? timeout = null, Action<ProcessStartInfo>? adjust = null)
    {
        var info = Cli("serve", "-c", configPath, "--urls", "http://127.0.0.1:0");
        adjust?.Invoke(info);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var self = new ServeProcess(process);
        process.OutputDataReceived += (_, e) => self.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => self.OnLine(e.Data);
        process.Exited += (_, _) => self._listening.TrySetException(new InvalidOperationException($"eventsync serve exited with {SafeExitCode(process)} before listening:\n{self.Output}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            self.Address = await self._listening.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
        }
        catch
        {
            await self.DisposeAsync();
            throw;
        }
        return self;
    }

    /// <summary>Runs one CLI command to completion and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using var process = Process.Start(Cli(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>SIGKILL: no shutdown hooks run, in-flight work is abandoned mid-way, exactly like a crash.</summary>
    public async Task KillHardAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillHardAsync();
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        _output.Enqueue(line);
        const string marker = "listening on ";
        if (line.StartsWith(marker, StringComparison.Ordinal)) _listening.TrySetResult(new Uri(line[marker.Length..].Trim()));
    }

    private static ProcessStartInfo Cli(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(CliDll);
        foreach (var a in args) info.ArgumentList.Add(a);
        // The children must not inherit a developer's overrides.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("EVENTSYNC_", StringComparison.Ordinal) && k != TestPostgres.Variable).ToList())
            info.Environment.Remove(key);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return info;
    }

    private static string SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }
}
