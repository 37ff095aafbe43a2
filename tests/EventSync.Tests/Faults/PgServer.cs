using System.Diagnostics;
using EventSync.Tests.Infrastructure;
using Npgsql;

namespace EventSync.Tests.Faults;

/// <summary>
/// Stops and starts the throwaway PostgreSQL server that scripts/pg-temp.sh started (PG_TEMP_DIR, PG_TEMP_BIN,
/// PG_TEMP_PORT), with the same options, so a test can take the database away under a running serve.
/// </summary>
public static class PgServer
{
    private static string Variable(string name) =>
        Environment.GetEnvironmentVariable(name)
        ?? throw new InvalidOperationException($"{name} is not set: run the tests with ./test.sh (or `source scripts/pg-temp.sh && pg_temp_start`), which starts the PostgreSQL server these tests restart.");

    private static string DataDirectory => Path.Combine(Variable("PG_TEMP_DIR"), "data");

    /// <summary>Fast shutdown: every session is told to go, as in a restart by an operator or a failover.</summary>
    public static async Task StopAsync()
    {
        await PgCtlAsync("-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop");
        // This process's pooled sessions died with the server; the tests' own queries must not trip over them.
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Starts it again on the same port with the options pg-temp.sh uses.</summary>
    public static Task StartAsync()
    {
        var dir = Variable("PG_TEMP_DIR");
        var options = $"-p {Variable("PG_TEMP_PORT")} -k {dir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on -c synchronous_commit=on";
        return PgCtlAsync("-D", DataDirectory, "-l", Path.Combine(dir, "server.log"), "-w", "-t", "60", "-o", options, "start");
    }

    public static async Task<bool> IsRunningAsync()
    {
        try
        {
            await using var connection = new NpgsqlConnection(TestPostgres.AdminConnectionString + ";Pooling=false;Timeout=5");
            await connection.OpenAsync();
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    /// <summary>For finally blocks: every other test needs this server, so it must be up whatever happened.</summary>
    public static async Task EnsureRunningAsync()
    {
        if (await IsRunningAsync()) return;
        await StartAsync();
        await Wait.UntilAsync(IsRunningAsync, TimeSpan.FromSeconds(60), "PostgreSQL to accept connections again");
    }

    private static async Task PgCtlAsync(params string[] args)
    {
        var pgCtl = Path.Combine(Variable("PG_TEMP_BIN"), "pg_ctl");
        // As root the server must run as the postgres user, exactly as pg-temp.sh starts it.
        var asRoot = Environment.UserName == "root";
        var info = new ProcessStartInfo(asRoot ? "runuser" : pgCtl) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", pgCtl }) info.ArgumentList.Add(a);
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"pg_ctl {string.Join(' ', args)} exited with {process.ExitCode}: {await stdout}{await stderr}");
    }
}

/// <summary>Runs <c>eventsync serve</c> with SIGXFSZ ignored, so a file size limit makes writes fail (EFBIG) instead of killing it.</summary>
public static class FileSizeLimit
{
    public static void IgnoreSignal(ProcessStartInfo info)
    {
        var original = new List<string> { info.FileName };
        original.AddRange(info.ArgumentList);
        info.FileName = "bash";
        info.ArgumentList.Clear();
        // An ignored signal stays ignored across exec; .NET installs no handler of its own for SIGXFSZ.
        foreach (var a in new[] { "-c", "trap '' XFSZ; exec \"$@\"", "bash" }) info.ArgumentList.Add(a);
        foreach (var a in original) info.ArgumentList.Add(a);
    }

    /// <summary>Sets the soft RLIMIT_FSIZE of a running process (the hard limit stays unlimited, so it can be raised again).</summary>
    public static async Task SetAsync(int pid, string soft)
    {
        var info = new ProcessStartInfo("prlimit") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--pid", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), $"--fsize={soft}:unlimited" }) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0) throw new InvalidOperationException($"prlimit --pid {pid} --fsize={soft}: {await stderr}");
    }
}
