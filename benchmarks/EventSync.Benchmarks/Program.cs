using System.Runtime.InteropServices;
using System.Text.Json;

namespace EventSync.Benchmarks;

/// <summary>
/// The EventSync engine benchmarks (see benchmarks/run.sh). Also the reference server, when started as
/// <c>ref-server --urls URL</c>. Exit codes: 0 measured (targets are reported, not enforced), 1 a measurement failed
/// or found a correctness problem, 2 usage error.
/// </summary>
public static class Program
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"could not delete {directory}: {ex.Message}");
        }
    }

    /// <summary>EVENTSYNC_SECTION__KEY variables change serve's configuration (see ConfigLoader); the report names them.</summary>
    private static List<string> ConfigOverrides() =>
        [.. Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("EVENTSYNC_", StringComparison.Ordinal) && k.Contains("__", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(k => k.Contains("SECRET", StringComparison.OrdinalIgnoreCase) || k.Contains("TOKEN", StringComparison.OrdinalIgnoreCase) ? k + "=***" : k + "=" + Environment.GetEnvironmentVariable(k))];

    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "ref-server") return await ReferenceServer.RunAsync(args[1..]);
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(BenchOptions.Usage);
            return 0;
        }
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message + "\n\n" + BenchOptions.Usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        void Interrupt(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
            ChildProcess.KillAll();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => ChildProcess.KillAll();

        try
        {
            var results = new Results
            {
                Machine = await MachineInfo.DescribeAsync(options.Backends.Contains("postgres") ? options.Postgres : null, stop.Token),
                Mode = options.Quick ? "quick (--quick)" : "full size",
                Concurrency = options.Concurrency,
                BodyBytes = options.BodyBytes,
                ConfigOverrides = ConfigOverrides(),
            };
            await Console.Error.WriteLineAsync($"EventSync benchmarks, {results.Mode}: {options.CliDll}; work dir {options.WorkDir}");
            await new Suite(options, results, Console.Error).RunAsync(stop.Token);
            results.Finished = DateTimeOffset.UtcNow;
            results.LoadAverageAfter = ProcFs.LoadAverage();

            var markdown = Report.Markdown(results);
            Console.WriteLine(markdown);
            if (options.MarkdownPath is { } md) await File.WriteAllTextAsync(md, markdown, CancellationToken.None);
            if (options.JsonPath is { } json) await File.WriteAllTextAsync(json, JsonSerializer.Serialize(results, Json), CancellationToken.None);
            return results.Problems.Count == 0 ? 0 : 1;
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            // Whatever the interrupted step threw (its server was just killed), the answer is the same.
            await Console.Error.WriteLineAsync("interrupted");
            return 130;
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
        finally
        {
            ChildProcess.KillAll();
            if (options.OwnsWorkDir) TryDelete(options.WorkDir);
        }
    }
}
