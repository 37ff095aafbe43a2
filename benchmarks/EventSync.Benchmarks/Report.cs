using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Npgsql;

namespace EventSync.Benchmarks;

public sealed record MachineInfo(int Cores, string Cpu, string Os, string Runtime, string? Postgres)
{
    public static async Task<MachineInfo> DescribeAsync(string? postgres, CancellationToken ct)
    {
        string? pgVersion = null;
        if (postgres is not null)
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(postgres) { Pooling = false }.ConnectionString);
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand("SHOW server_version", connection);
            pgVersion = "PostgreSQL " + await command.ExecuteScalarAsync(ct);
        }
        return new MachineInfo(Environment.ProcessorCount, ProcValue("/proc/cpuinfo", "model name", ':') ?? RuntimeInformation.ProcessArchitecture.ToString(),
            ProcValue("/etc/os-release", "PRETTY_NAME", '=')?.Trim('"') ?? RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, pgVersion);
    }

    private static string? ProcValue(string file, string key, char separator)
    {
        if (!File.Exists(file)) return null;
        var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        return line?[(line.IndexOf(separator, StringComparison.Ordinal) + 1)..].Trim();
    }
}

/// <summary>Renders the results as a markdown table (each figure beside its reference and target) plus the details behind it.</summary>
public static class Report
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static string Markdown(Results r)
    {
        var sb = new StringBuilder();
        var m = r.Machine;
        sb.AppendLine(C, $"Machine: {m.Cores} cores ({m.Cpu}), {m.Os}, {m.Runtime}{(m.Postgres is null ? "" : ", " + m.Postgres)}. ");
        sb.AppendLine(C, $"Run: {r.Mode}, {r.Started:yyyy-MM-dd HH:mm} UTC, {(r.Finished - r.Started).TotalMinutes:0.0} min, load average {r.LoadAverageBefore} before and {r.LoadAverageAfter} after; {r.BodyBytes}-byte signed Standard Webhooks, closed loop with {r.Concurrency} HTTP/1.1 connections; the load generator runs on the same cores as the server.");
        if (r.ConfigOverrides.Count > 0)
            sb.AppendLine(C, $"Configuration overrides inherited by every serve process: {string.Join(", ", r.ConfigOverrides)}. ");
        sb.AppendLine();
        sb.AppendLine("| Measure | Backend | Result | Reference | vs reference | Target | vs target |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        var reference = r.Reference;
        if (reference is not null)
        {
            Row(sb, "Reference (a): bare Kestrel + signature check, closed loop", "—", Throughput(reference.Throughput), "", "", "", "");
            Row(sb, $"Reference (a): bare Kestrel latency at {reference.LatencyRate:#,0}/s offered (open loop)", "—", Latency(reference.Latency), "", "", "", "");
        }
        foreach (var b in r.Backends)
        {
            if (b.Commit is { } commit)
                Row(sb, $"Reference (b): one-row durable commits ({b.Durability})", b.Name, $"{commit.PerSecond:#,0} commits/s (p50 {commit.Latency.P50Ms:0.00} ms, p99 {commit.Latency.P99Ms:0.00} ms)", "", "", "", "");
            if (b.Ingest is { } ingest)
            {
                var rate = ingest.Load.AcceptedPerSecond;
                Row(sb, "Ingest throughput (202s/s)", b.Name, Throughput(ingest.Load),
                    reference is null ? "" : $"bare Kestrel {reference.Throughput.AcceptedPerSecond:#,0}/s", reference is null ? "" : Ratio(rate / reference.Throughput.AcceptedPerSecond),
                    $"≥ {Targets.IngestPerSecond:#,0}/s", Verdict(rate / Targets.IngestPerSecond, higherIsBetter: true));
                if (b.Commit is { } c)
                    Row(sb, "Ingest throughput vs one commit per webhook", b.Name, $"{rate:#,0}/s", $"{c.PerSecond:#,0} commits/s", Ratio(rate / c.PerSecond), "", "");
            }
            if (b.IngestNoFlow is { } bare)
                Row(sb, "Diagnostic: ingest with no flow (no jobs, no workers)", b.Name, Throughput(bare.Load),
                    b.Ingest is null ? "" : $"with the flow {b.Ingest.Load.AcceptedPerSecond:#,0}/s", b.Ingest is null ? "" : Ratio(bare.Load.AcceptedPerSecond / b.Ingest.Load.AcceptedPerSecond), "", "");
            if (b.Latency is { } latency)
                Row(sb, $"Ack latency at {latency.Rate:#,0}/s offered (open loop)", b.Name, Latency(latency.Load),
                    reference is null ? "" : $"bare Kestrel p99 {reference.Latency.Latency.P99Ms:0.0} ms", reference is null ? "" : Ratio(latency.Load.Latency.P99Ms / reference.Latency.Latency.P99Ms),
                    $"p99 < {Targets.LatencyP99Ms:0} ms", Verdict(latency.Load.Latency.P99Ms / Targets.LatencyP99Ms, higherIsBetter: false));
            if (b.Drain is { } drain)
                Row(sb, $"Drain {drain.Jobs:#,0} distinct-key jobs, noop sink", b.Name, $"{drain.JobsPerSecond:#,0} jobs/s ({drain.WallJobsPerSecond:#,0}/s incl. start-up)", "", "",
                    $"≥ {Targets.DrainJobsPerSecond:#,0} jobs/s", Verdict(drain.JobsPerSecond / Targets.DrainJobsPerSecond, higherIsBetter: true));
            if (b.Memory is { } memory)
                Row(sb, $"Serve RSS, {memory.Rate:#,0}/s for {memory.Seconds:0} s", b.Name, $"steady {Mb(memory.SteadyRss)} · peak {Mb(memory.PeakRss)} · after {Mb(memory.AfterRss)} (idle {Mb(memory.IdleRss)})", "", "",
                    $"steady < {Targets.SteadyRssMb:0} MB", Verdict(memory.SteadyRss / 1048576.0 / Targets.SteadyRssMb, higherIsBetter: false));
        }
        sb.AppendLine();
        Details(sb, r);
        return sb.ToString();
    }

    private static void Details(StringBuilder sb, Results r)
    {
        sb.AppendLine("Details:");
        if (r.Reference is { } reference)
            sb.AppendLine(C, $"- reference (a): CPU {Cpu(reference.Cpu)}; latency run non-202: {reference.Latency.RejectedText}");
        foreach (var b in r.Backends)
        {
            if (b.Ingest is { } i)
                sb.AppendLine(C, $"- {b.Name} ingest: {i.Load.Accepted:#,0} acknowledged in {i.Load.Seconds:0.0} s, non-202: {i.Load.RejectedText}; stored events {i.Stored:#,0} = acknowledged {i.AckedTotal:#,0} (incl. warm-up): {(i.Stored == i.AckedTotal ? "yes" : "NO")}; jobs still queued at the end: {i.PendingAfter:#,0}; CPU {Cpu(i.Cpu)}");
            if (b.IngestNoFlow is { } n)
                sb.AppendLine(C, $"- {b.Name} ingest, no flow: {n.Load.Accepted:#,0} acknowledged in {n.Load.Seconds:0.0} s, non-202: {n.Load.RejectedText}; stored {n.Stored:#,0} of {n.AckedTotal:#,0} acknowledged; CPU {Cpu(n.Cpu)}");
            if (b.Latency is { } l)
                sb.AppendLine(C, $"- {b.Name} latency: {l.Load.Latency.Count:#,0} requests, p90 {l.Load.Latency.P90Ms:0.0} ms, mean {l.Load.Latency.MeanMs:0.0} ms, non-202: {l.Load.RejectedText}, worst pacer lag {l.Load.MaxPacerLagMs:0.0} ms");
            if (b.Memory is { } m)
                sb.AppendLine(C, $"- {b.Name} memory: {m.Load.Accepted:#,0} acknowledged at {m.Load.Accepted / m.Seconds:#,0}/s, non-202: {m.Load.RejectedText}, p99 {m.Load.Latency.P99Ms:0.0} ms; backlog when the after-load RSS was taken: {m.BacklogAfter:#,0} jobs; RSS every 5 s: {string.Join(" ", m.Samples.Where((_, n) => n % 20 == 19).Select(p => Mb(p.RssBytes).Replace(" MB", "", StringComparison.Ordinal)))} MB");
            if (b.Drain is { } d)
                sb.AppendLine(C, $"- {b.Name} drain: preload {d.PreloadSeconds:0.0} s through IEventStore; {d.Done:#,0} done, {d.Parked:#,0} parked, {d.Runs:#,0} runs; first run start to last run end {d.EngineSeconds:0.00} s; launch to empty queue {d.WallSeconds:0.00} s; CPU {Cpu(d.Cpu)}");
        }
        sb.AppendLine(r.Problems.Count == 0 ? "- problems: none" : "- PROBLEMS:");
        foreach (var p in r.Problems) sb.AppendLine("  - " + p);
    }

    private static void Row(StringBuilder sb, params string[] cells) => sb.AppendLine("| " + string.Join(" | ", cells.Select(c => c.Length == 0 ? "—" : c)) + " |");

    private static string Throughput(LoadResult load) =>
        string.Create(C, $"{load.AcceptedPerSecond:#,0}/s (p50 {load.Latency.P50Ms:0.0} ms, p99 {load.Latency.P99Ms:0.0} ms; non-202: {load.Rejected})");

    private static string Latency(LoadResult load) =>
        string.Create(C, $"p50 {load.Latency.P50Ms:0.0} ms, p99 {load.Latency.P99Ms:0.0} ms, max {load.Latency.MaxMs:0.0} ms (non-202: {load.Rejected})");

    private static string Ratio(double ratio) => double.IsFinite(ratio) ? string.Create(C, $"{ratio:0.00}×") : "";

    private static string Verdict(double ratio, bool higherIsBetter) =>
        !double.IsFinite(ratio) ? "" : string.Create(C, $"{ratio:0.00}× {((higherIsBetter ? ratio >= 1 : ratio < 1) ? "met" : "**missed**")}");

    private static string Mb(long bytes) => string.Create(C, $"{bytes / 1048576.0:0} MB");

    private static string Cpu(CpuSplit cpu) =>
        string.Create(C, $"server {cpu.ServerCores:0.00} cores, load generator {cpu.LoadGeneratorCores:0.00}{(cpu.DatabaseCores is { } d ? $", PostgreSQL {d:0.00}" : "")}, other processes {cpu.OtherCores:0.00}");
}
