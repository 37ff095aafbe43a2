using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EventSync.Benchmarks;

/// <summary>
/// A server under test as a child process (eventsync serve or the reference server) on 127.0.0.1: started, waited on
/// through its readiness URL (never a fixed sleep), measured through /proc, stopped with SIGTERM and, failing that, killed.
/// Every child is registered so the tool can kill them all if it is interrupted.
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<int, Process> Live = new();
    private readonly Process _process;
    private readonly StreamWriter _log;

    private ChildProcess(Process process, StreamWriter log, Uri address, string logPath, string pidFile)
    {
        _process = process;
        _log = log;
        Address = address;
        LogPath = logPath;
        PidFile = pidFile;
    }

    public Uri Address { get; }
    public string LogPath { get; }
    private string PidFile { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts <c>dotnet {arguments}</c> (the arguments get <c>--urls</c> appended with a free loopback port) and waits
    /// until GET {readyPath} answers 200, the process exits, or <paramref name="timeout"/> passes.
    /// </summary>
    public static async Task<ChildProcess> StartAsync(string name, IReadOnlyList<string> arguments, string workDir, string readyPath, TimeSpan timeout, CancellationToken ct)
    {
        var port = FreePort();
        var address = new Uri($"http://127.0.0.1:{port}");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workDir,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(address.ToString().TrimEnd('/'));
        info.Environment["DOTNET_NOLOGO"] = "1";

        var logPath = Path.Combine(workDir, name + ".log");
        var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => WriteLine(log, e.Data);
        process.ErrorDataReceived += (_, e) => WriteLine(log, e.Data);
        process.Start();
        Live[process.Id] = process;
        // run.sh kills whatever is listed here if the tool itself dies without cleaning up.
        var pidFile = Path.Combine(workDir, $"child-{process.Id}.pid");
        await File.WriteAllTextAsync(pidFile, process.Id.ToString(CultureInfo.InvariantCulture), ct);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var child = new ChildProcess(process, log, address, logPath, pidFile);
        try
        {
            await child.WaitReadyAsync(readyPath, timeout, ct);
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }
        return child;
    }

    private static void WriteLine(StreamWriter log, string? line)
    {
        if (line is null) return;
        lock (log) log.WriteLine(line);
    }

    private async Task WaitReadyAsync(string readyPath, TimeSpan timeout, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            ct.ThrowIfCancellationRequested();
            if (_process.HasExited)
                throw new BenchmarkException($"{Path.GetFileNameWithoutExtension(LogPath)} exited with code {_process.ExitCode} before it was ready:\n{Tail()}");
            try
            {
                using var response = await http.GetAsync(new Uri(readyPath, UriKind.Relative), ct);
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                // A slow answer during start-up; ask again.
            }
            await Task.Delay(50, ct);
        }
        throw new BenchmarkException($"{Path.GetFileNameWithoutExtension(LogPath)} was not ready within {timeout.TotalSeconds:0} s:\n{Tail()}");
    }

    /// <summary>The last lines of the child's output, for error messages.</summary>
    public string Tail(int lines = 30)
    {
        lock (_log) _log.Flush();
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "(no output)";
        }
    }

    /// <summary>Resident memory now and at its peak (VmRSS, VmHWM), in bytes.</summary>
    public MemorySample Memory() => ProcFs.Memory(Pid);

    /// <summary>User + system CPU time used so far.</summary>
    public TimeSpan CpuTime() => ProcFs.CpuTime(Pid);

    /// <summary>SIGTERM, then wait up to <paramref name="grace"/> for a clean exit; kill if it does not come.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (!_process.HasExited)
        {
            _ = SendSignal(_process.Id, SigTerm);
            using var wait = new CancellationTokenSource(grace);
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                Kill(_process);
                await _process.WaitForExitAsync(CancellationToken.None);
            }
        }
        Live.TryRemove(_process.Id, out _);
        File.Delete(PidFile);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(TimeSpan.FromSeconds(20));
        }
        finally
        {
            _process.Dispose();
            lock (_log) _log.Dispose();
        }
    }

    /// <summary>Kills every child still running (on Ctrl-C, SIGTERM or an unexpected exit of the tool).</summary>
    public static void KillAll()
    {
        foreach (var (pid, process) in Live)
        {
            Kill(process);
            Live.TryRemove(pid, out _);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}

public readonly record struct MemorySample(long RssBytes, long PeakRssBytes);

/// <summary>Reads a process's memory and CPU from /proc (Linux).</summary>
public static class ProcFs
{
    /// <summary>Clock ticks per second for /proc/*/stat times; 100 on every mainstream Linux (sysconf(_SC_CLK_TCK)).</summary>
    private const double ClockTicks = 100.0;

    public static MemorySample Memory(int pid)
    {
        long rss = 0, hwm = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kilobytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kilobytes(line);
        }
        return new MemorySample(rss, hwm);
    }

    private static long Kilobytes(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

    public static TimeSpan CpuTime(int pid)
    {
        var fields = StatFields(pid);
        return fields is null ? TimeSpan.Zero : Cpu(fields);
    }

    private static TimeSpan Cpu(string[] stat) =>
        TimeSpan.FromSeconds((long.Parse(stat[11], CultureInfo.InvariantCulture) + long.Parse(stat[12], CultureInfo.InvariantCulture)) / ClockTicks);

    /// <summary>CPU time the whole machine spent busy (all processes, all cores), from /proc/stat.</summary>
    public static TimeSpan SystemBusyTime()
    {
        // cpu  user nice system idle iowait irq softirq steal ...
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long Field(int i) => long.Parse(f[i], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds((Field(1) + Field(2) + Field(3) + Field(6) + Field(7) + Field(8)) / ClockTicks);
    }

    /// <summary>The 1-, 5- and 15-minute load averages.</summary>
    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    /// <summary>CPU time of a process and all its direct children (a PostgreSQL postmaster and its backends).</summary>
    public static TimeSpan TreeCpuTime(int rootPid)
    {
        var total = CpuTime(rootPid);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == rootPid) continue;
            var fields = StatFields(pid);
            if (fields is not null && fields[1] == rootPid.ToString(CultureInfo.InvariantCulture))
                total += Cpu(fields);
        }
        return total;
    }

    /// <summary>The fields of /proc/pid/stat after the command name: [0] is state, [1] ppid, [11] utime, [12] stime.</summary>
    private static string[]? StatFields(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var close = text.LastIndexOf(')');
            return text[(close + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}

public sealed class BenchmarkException(string message) : Exception(message);
