using System.Diagnostics;
using System.Text.Json;
using Npgsql;

namespace EventSync.Benchmarks;

/// <summary>The queue reference: graphile-worker (a PostgreSQL job queue for Node) draining as many no-op jobs on the same server.</summary>
public sealed partial class Suite
{
    /// <summary>Jobs in flight per worker process: the same as serve's (workers.concurrency and the noop sink's concurrency).</summary>
    private const int QueueConcurrency = 128;

    private static readonly string GraphileScript = Path.Combine(AppContext.BaseDirectory, "graphile", "bench.mjs");

    private async Task GraphileStepsAsync(Backend backend, BackendResults r, CancellationToken ct)
    {
        if (options.GraphileModules is not { } modules || !Directory.Exists(Path.Combine(modules, "node_modules", "graphile-worker")))
        {
            var why = options.GraphileMissing ?? (options.GraphileModules is null ? "no --graphile directory given" : $"graphile-worker is not installed under {options.GraphileModules}");
            results.Notes.Add($"graphile-worker reference not measured: {why}");
            await progress.WriteLineAsync($"[{backend.Name}] graphile-worker: skipped ({why})");
            return;
        }
        await StepAsync(backend.Name, "graphile-worker, 1 process", async () => r.Graphile1 = await GraphileAsync(backend, modules, 1, ct), ct);
        await StepAsync(backend.Name, "graphile-worker, 2 processes", async () => r.Graphile2 = await GraphileAsync(backend, modules, 2, ct), ct);
    }

    private async Task<GraphileRun> GraphileAsync(Backend backend, string modules, int processes, CancellationToken ct)
    {
        var jobs = options.DrainJobs ?? Sizes.DrainJobs;
        await using var store = await backend.CreateStoreAsync($"graphile{processes}", ct);
        var url = NodeUrl(store.Location.ConnectionString);
        var setup = Stopwatch.StartNew();
        var added = await ChildProcess.RunToEndAsync("node", [GraphileScript, "setup", modules, url, jobs.ToString(System.Globalization.CultureInfo.InvariantCulture)], options.WorkDir, TimeSpan.FromMinutes(5), ct);
        if (added.ExitCode != 0) throw new BenchmarkException($"graphile-worker setup failed ({added.ExitCode}): {added.Output}");
        var setupSeconds = setup.Elapsed.TotalSeconds;
        // At least 100 jobs/s, or the run is reported as failed rather than waited on forever.
        var timeout = TimeSpan.FromSeconds(Math.Max(60, jobs / 100.0));
        var workers = Enumerable.Range(0, processes).Select(_ => ChildProcess.RunToEndAsync("node",
            [GraphileScript, "work", modules, url, QueueConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture), ((int)timeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)],
            options.WorkDir, timeout + TimeSpan.FromSeconds(30), ct)).ToList();
        var outputs = await Task.WhenAll(workers);
        long done = 0, first = long.MaxValue, last = 0;
        foreach (var o in outputs)
        {
            var line = o.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith('{'));
            if (o.ExitCode != 0 || line is null) throw new BenchmarkException($"a graphile-worker process failed ({o.ExitCode}): {o.Output}");
            using var doc = JsonDocument.Parse(line);
            var n = doc.RootElement.GetProperty("done").GetInt64();
            done += n;
            if (n > 0)
            {
                first = Math.Min(first, doc.RootElement.GetProperty("first").GetInt64());
                last = Math.Max(last, doc.RootElement.GetProperty("last").GetInt64());
            }
        }
        // Same check as ours: every job ran once.
        if (done != jobs) results.Problems.Add($"graphile-worker ({processes} processes): {jobs} jobs queued, {done} ran");
        return new GraphileRun(processes, QueueConcurrency, jobs, done, done > 0 ? (last - first) / 1000.0 : 0, setupSeconds);
    }

    /// <summary>node-postgres takes a URL; the store's Npgsql connection string says the same.</summary>
    private static string NodeUrl(string npgsql)
    {
        var b = new NpgsqlConnectionStringBuilder(npgsql);
        var auth = Uri.EscapeDataString(b.Username ?? "postgres") + (string.IsNullOrEmpty(b.Password) ? "" : ":" + Uri.EscapeDataString(b.Password));
        return $"postgres://{auth}@{b.Host}:{b.Port}/{Uri.EscapeDataString(b.Database ?? "postgres")}";
    }
}
