using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace EventSync.Cli.Demo;

/// <summary>
/// A private PostgreSQL server for the demo's vector flow: initdb into a directory, pg_ctl start on a free loopback
/// port (the flags of scripts/pg-temp.sh), and on dispose pg_ctl stop and delete the directory. As root the server
/// runs as the <c>postgres</c> user, because PostgreSQL refuses to run as root.
/// </summary>
internal sealed class ThrowawayPostgres : IAsyncDisposable
{
    private const string User = "eventsync";
    private readonly string _bin;
    private readonly string _dir;
    private readonly bool _asPostgresUser;
    private bool _started;

    private ThrowawayPostgres(string bin, string dir, bool asPostgresUser, string version)
    {
        _bin = bin;
        _dir = dir;
        _asPostgresUser = asPostgresUser;
        Version = version;
    }

    public int Port { get; private set; }
    public int ProcessId { get; private set; }
    public string Version { get; }

    /// <summary>An Npgsql connection string for <paramref name="database"/> on this server.</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username={User};Database={database};Pooling=true;Maximum Pool Size=20";

    /// <summary>
    /// The directory holding initdb and pg_ctl: PATH first, then the newest /usr/lib/postgresql/*/bin. Null with the
    /// reason when there is none, or when running as root without a <c>postgres</c> user to run the server as.
    /// </summary>
    public static string? FindBinaries(out string whyNot)
    {
        whyNot = "";
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).ToList();
        if (Directory.Exists("/usr/lib/postgresql"))
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0)
                .Select(d => Path.Combine(d, "bin")));
        var bin = candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")));
        if (bin is null)
        {
            whyNot = "PostgreSQL server binaries (initdb, pg_ctl) are not installed (not on PATH, not in /usr/lib/postgresql/*/bin); "
                + "install them to see the vector flow (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql)";
            return null;
        }
        if (RunsAsRoot && !PostgresUserExists())
        {
            whyNot = "running as root, and PostgreSQL refuses to run as root while no 'postgres' user exists to run it as; run the demo as a normal user";
            return null;
        }
        return bin;
    }

    /// <summary>Initialises and starts a server in <paramref name="dir"/> (created; removed again on dispose).</summary>
    public static async Task<ThrowawayPostgres> StartAsync(string bin, string dir, CancellationToken ct)
    {
        Directory.CreateDirectory(dir);
        var asPostgres = RunsAsRoot;
        var versionText = (await RunAsync(Path.Combine(bin, "pg_ctl"), ["--version"], asPostgres: false, TimeSpan.FromSeconds(30), ct)).Trim();
        // "pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" → "15.18"
        var version = System.Text.RegularExpressions.Regex.Match(versionText, @"\d+(\.\d+)?").Value;
        var server = new ThrowawayPostgres(bin, dir, asPostgres, version.Length > 0 ? version : "?");
        try
        {
            if (asPostgres && !OperatingSystem.IsWindows())
            {
                // The server's user must reach its data directory: the demo directory is private (0700) to its owner.
                var parent = Path.GetDirectoryName(dir)!;
                File.SetUnixFileMode(parent, File.GetUnixFileMode(parent) | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute);
                await RunAsync("chown", ["postgres", dir], asPostgres: false, TimeSpan.FromSeconds(30), ct);
            }
            var data = Path.Combine(dir, "data");
            await server.RunPgAsync("initdb", ["-D", data, "-U", User, "--auth=trust", "-E", "UTF8", "--no-locale"], TimeSpan.FromMinutes(2), ct);
            server.Port = FreePort();
            server._started = true; // from here on, dispose tries a stop even if start fails half-way
            await server.RunPgAsync("pg_ctl", ["-D", data, "-l", Path.Combine(dir, "server.log"), "-w", "-t", "60",
                "-o", $"-p {server.Port.ToString(CultureInfo.InvariantCulture)} -k {dir} -c listen_addresses=127.0.0.1 -c max_connections=50", "start"], TimeSpan.FromSeconds(90), ct);
            var pidLine = (await File.ReadAllLinesAsync(Path.Combine(data, "postmaster.pid"), ct)).FirstOrDefault();
            server.ProcessId = int.TryParse(pidLine, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0;
            return server;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var log = Path.Combine(dir, "server.log");
            var tail = File.Exists(log) ? string.Join('\n', (await File.ReadAllLinesAsync(log, CancellationToken.None)).TakeLast(5)) : "";
            await server.DisposeAsync();
            throw new InvalidOperationException($"PostgreSQL did not start: {ex.Message}{(tail.Length > 0 ? "\n" + tail : "")}", ex);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates a database owned by the demo's user.</summary>
    public async Task CreateDatabaseAsync(string name, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Stops the server (fast shutdown, waiting for it) and deletes its directory. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_started)
        {
            _started = false;
            try
            {
                // Not the caller's token: this runs after Ctrl+C too, and must finish.
                await RunPgAsync("pg_ctl", ["-D", Path.Combine(_dir, "data"), "-m", "fast", "-w", "-t", "30", "stop"], TimeSpan.FromSeconds(40), CancellationToken.None);
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException or System.ComponentModel.Win32Exception or TimeoutException)
            {
                // Already gone (e.g. the start failed); the directory is removed regardless.
            }
        }
        try
        {
            if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The demo's directory removal retries this.
        }
    }

    private Task<string> RunPgAsync(string tool, IReadOnlyList<string> args, TimeSpan timeout, CancellationToken ct) =>
        RunAsync(Path.Combine(_bin, tool), args, _asPostgresUser, timeout, ct);

    /// <summary>Runs a tool to completion (or kills it at the timeout) and returns its output; non-zero exit throws.</summary>
    private static async Task<string> RunAsync(string file, IReadOnlyList<string> args, bool asPostgres, TimeSpan timeout, CancellationToken ct)
    {
        var info = new ProcessStartInfo(asPostgres ? "runuser" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (asPostgres)
            foreach (var a in new[] { "-u", "postgres", "--", file }) info.ArgumentList.Add(a);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (ct.IsCancellationRequested) throw;
            throw new TimeoutException($"{Path.GetFileName(file)} did not finish within {timeout.TotalSeconds:0} s");
        }
        var output = await stdout + await stderr;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args.Take(1))} exited with {process.ExitCode}: {output.Trim()}");
        return output;
    }

    private static bool RunsAsRoot => !OperatingSystem.IsWindows() && Environment.IsPrivilegedProcess;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool PostgresUserExists()
    {
        try
        {
            return File.ReadLines("/etc/passwd").Any(l => l.StartsWith("postgres:", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }
}
