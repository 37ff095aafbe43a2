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
                IngestRow("Ingest throughput, jobs running meanwhile (202s/s)", ingest);
                if (b.Commit is { } c)
                    Row(sb, "Ingest throughput vs one commit per webhook", b.Name, $"{ingest.Load.AcceptedPerSecond:#,0}/s", $"{c.PerSecond:#,0} commits/s", Ratio(ingest.Load.AcceptedPerSecond / c.PerSecond), "", "");
            }
            if (b.IngestAck is { } ack) IngestRow("Ingest throughput, acknowledgement path (each job committed with its event, run later)", ack);
            if (b.IngestNoFlow is { } bare)
                Row(sb, "Diagnostic: ingest with no flow (no jobs, no workers)", b.Name, Throughput(bare.Load),
                    b.Ingest is null ? "" : $"with the flow {b.Ingest.Load.AcceptedPerSecond:#,0}/s", b.Ingest is null ? "" : Ratio(bare.Load.AcceptedPerSecond / b.Ingest.Load.AcceptedPerSecond), "", "");
            if (b.Sustained is { } sustained) SustainedRow($"Ingest sustained at {sustained.Rate:#,0}/s offered (open loop, {sustained.Seconds:0} s), jobs running meanwhile", sustained);
            if (b.SustainedAck is { } sustainedAck) SustainedRow($"Ingest sustained at {sustainedAck.Rate:#,0}/s offered (open loop, {sustainedAck.Seconds:0} s), acknowledgement path (jobs run later)", sustainedAck);
            if (b.Latency is { } latency) LatencyRow($"Ack latency at {latency.Rate:#,0}/s offered (open loop)", latency);
            if (b.LatencyAck is { } latencyAck) LatencyRow($"Ack latency at {latencyAck.Rate:#,0}/s offered, acknowledgement path (jobs run later)", latencyAck);
            if (b.Drain is { } drain)
                Row(sb, $"Drain {drain.Jobs:#,0} distinct-key jobs, noop sink", b.Name, $"{drain.JobsPerSecond:#,0} jobs/s ({drain.WallJobsPerSecond:#,0}/s incl. start-up)", "", "",
                    $"≥ {Targets.DrainJobsPerSecond:#,0} jobs/s", Verdict(drain.JobsPerSecond / Targets.DrainJobsPerSecond, higherIsBetter: true));
            if (b.Drain2 is { } drain2)
                Row(sb, $"Drain {drain2.Jobs:#,0} distinct-key jobs, noop sink, 2 serve processes", b.Name, $"{drain2.JobsPerSecond:#,0} jobs/s ({drain2.WallJobsPerSecond:#,0}/s incl. start-up)",
                    b.Drain is null ? "" : $"1 process {b.Drain.JobsPerSecond:#,0} jobs/s", b.Drain is null ? "" : Ratio(drain2.JobsPerSecond / b.Drain.JobsPerSecond), "", "");
            foreach (var (g, ours) in new[] { (b.Graphile1, b.Drain), (b.Graphile2, b.Drain2) })
            {
                if (g is null) continue;
                Row(sb, $"Queue reference: graphile-worker, {g.Jobs:#,0} no-op jobs, {g.Processes} process{(g.Processes == 1 ? "" : "es")} × concurrency {g.Concurrency}", b.Name, $"{g.JobsPerSecond:#,0} jobs/s", "", "", "", "");
                if (ours is not null)
                    Row(sb, $"Drain, {g.Processes} serve process{(g.Processes == 1 ? "" : "es")} vs graphile-worker, {g.Processes} process{(g.Processes == 1 ? "" : "es")}", b.Name, $"{ours.JobsPerSecond:#,0} jobs/s",
                        $"graphile-worker {g.JobsPerSecond:#,0} jobs/s", Ratio(ours.JobsPerSecond / g.JobsPerSecond), "ahead of it (> 1×)", Verdict(ours.JobsPerSecond / g.JobsPerSecond, higherIsBetter: true));
            }
            if (b.Relay is { } relay)
                Row(sb, $"Relay freshness at {relay.Rate:#,0}/s, webhook sent → webhook sink's call received", b.Name,
                    $"p50 {relay.Freshness.P50Ms:0.0} ms, p99 {relay.Freshness.P99Ms:0.0} ms, max {relay.Freshness.MaxMs:0.0} ms ({relay.Delivered:#,0} of {relay.Load.Accepted:#,0} delivered)",
                    reference is null ? "" : $"bare Kestrel ack p50 {reference.Latency.Latency.P50Ms:0.0} ms", reference is null ? "" : Ratio(relay.Freshness.P50Ms / reference.Latency.Latency.P50Ms), "", "");
            if (b.Memory is { } memory)
                Row(sb, $"Serve RSS, {memory.Rate:#,0}/s for {memory.Seconds:0} s", b.Name, $"steady {Mb(memory.SteadyRss)} · peak {Mb(memory.PeakRss)} · after {Mb(memory.AfterRss)} (idle {Mb(memory.IdleRss)})", "", "",
                    $"steady < {Targets.SteadyRssMb:0} MB", Verdict(memory.SteadyRss / 1048576.0 / Targets.SteadyRssMb, higherIsBetter: false));

            void IngestRow(string label, IngestRun run) =>
                Row(sb, label, b.Name, Throughput(run.Load),
                    reference is null ? "" : $"bare Kestrel {reference.Throughput.AcceptedPerSecond:#,0}/s", reference is null ? "" : Ratio(run.Load.AcceptedPerSecond / reference.Throughput.AcceptedPerSecond),
                    $"≥ {Targets.IngestPerSecond:#,0}/s", Verdict(run.Load.AcceptedPerSecond / Targets.IngestPerSecond, higherIsBetter: true));

            void SustainedRow(string label, SustainedRun run) =>
                Row(sb, label, b.Name,
                    string.Create(C, $"{(run.KeptUp ? "kept up" : "fell behind")}: {run.AcknowledgedPerSecond:#,0}/s acknowledged of {run.Rate:#,0}/s offered, the last answer {run.LastAnswerLateSeconds:0.00} s after the last send (p50 {run.Load.Latency.P50Ms:0.0} ms, p99 {run.Load.Latency.P99Ms:0.0} ms, max {run.Load.Latency.MaxMs:0.0} ms; non-202: {run.Load.Rejected})"),
                    "", "", $"≥ {Targets.IngestPerSecond:#,0}/s sustained", Verdict(run.SustainedPerSecond / Targets.IngestPerSecond, higherIsBetter: true));

            void LatencyRow(string label, LatencyRun run) =>
                Row(sb, label, b.Name, Latency(run.Load),
                    reference is null ? "" : $"bare Kestrel p99 {reference.Latency.Latency.P99Ms:0.0} ms", reference is null ? "" : Ratio(run.Load.Latency.P99Ms / reference.Latency.Latency.P99Ms),
                    $"p99 < {Targets.LatencyP99Ms:0} ms", Verdict(run.Load.Latency.P99Ms / Targets.LatencyP99Ms, higherIsBetter: false));
        }
        GlobalRows(sb, r.Global);
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
            if (b.Ingest is { } i) IngestDetail("ingest", i, "jobs still queued at the end");
            if (b.IngestAck is { } k) IngestDetail("ingest, acknowledgement path", k, "jobs waiting to run at the end");
            if (b.Sustained is { } su) SustainedDetail("sustained", su, "jobs still queued at the end");
            if (b.SustainedAck is { } sa) SustainedDetail("sustained, acknowledgement path", sa, "jobs waiting to run at the end");
            if (b.IngestNoFlow is { } n)
                sb.AppendLine(C, $"- {b.Name} ingest, no flow: {n.Load.Accepted:#,0} acknowledged in {n.Load.Seconds:0.0} s, non-202: {n.Load.RejectedText}; stored {n.Stored:#,0} of {n.AckedTotal:#,0} acknowledged; CPU {Cpu(n.Cpu)}");
            if (b.Latency is { } l)
                sb.AppendLine(C, $"- {b.Name} latency: {l.Load.Latency.Count:#,0} requests, p90 {l.Load.Latency.P90Ms:0.0} ms, mean {l.Load.Latency.MeanMs:0.0} ms, non-202: {l.Load.RejectedText}, worst pacer lag {l.Load.MaxPacerLagMs:0.0} ms");
            if (b.Memory is { } m)
                sb.AppendLine(C, $"- {b.Name} memory: {m.Load.Accepted:#,0} acknowledged at {m.Load.Accepted / m.Seconds:#,0}/s, non-202: {m.Load.RejectedText}, p99 {m.Load.Latency.P99Ms:0.0} ms; backlog when the after-load RSS was taken: {m.BacklogAfter:#,0} jobs; RSS every 5 s: {string.Join(" ", m.Samples.Where((_, n) => n % 20 == 19).Select(p => Mb(p.RssBytes).Replace(" MB", "", StringComparison.Ordinal)))} MB");
            if (b.Drain is { } d)
                sb.AppendLine(C, $"- {b.Name} drain: preload {d.PreloadSeconds:0.0} s through IEventStore; {d.Done:#,0} done, {d.Parked:#,0} parked, {d.Runs:#,0} runs; first run start to last run end {d.EngineSeconds:0.00} s; launch to empty queue {d.WallSeconds:0.00} s; CPU {Cpu(d.Cpu)}");

            void SustainedDetail(string what, SustainedRun run, string pending) =>
                sb.AppendLine(C, $"- {b.Name} {what}: {run.Load.Accepted + run.Load.Rejected:#,0} sent at {run.Rate:#,0}/s over {run.Seconds:0} s, answered by {run.Load.Seconds:0.00} s, non-202: {run.Load.RejectedText}, p90 {run.Load.Latency.P90Ms:0.0} ms, worst pacer lag {run.Load.MaxPacerLagMs:0.0} ms; stored events {run.Stored:#,0} = acknowledged {run.AckedTotal:#,0} (incl. warm-up): {(run.Stored == run.AckedTotal ? "yes" : "NO")}; {pending}: {run.PendingAfter:#,0}; CPU {Cpu(run.Cpu)}");

            void IngestDetail(string what, IngestRun run, string pending) =>
                sb.AppendLine(C, $"- {b.Name} {what}: {run.Load.Accepted:#,0} acknowledged in {run.Load.Seconds:0.0} s, non-202: {run.Load.RejectedText}; stored events {run.Stored:#,0} = acknowledged {run.AckedTotal:#,0} (incl. warm-up): {(run.Stored == run.AckedTotal ? "yes" : "NO")}; {pending}: {run.PendingAfter:#,0}; CPU {Cpu(run.Cpu)}");
        }
        foreach (var b in r.Backends)
        {
            if (b.Drain2 is { } d2)
                sb.AppendLine(C, $"- {b.Name} drain, 2 processes: {d2.Done:#,0} done, {d2.Parked:#,0} parked, {d2.Runs:#,0} runs; first run start to last run end {d2.EngineSeconds:0.00} s; CPU {Cpu(d2.Cpu)}");
            foreach (var g in new[] { b.Graphile1, b.Graphile2 })
                if (g is not null)
                    sb.AppendLine(C, $"- {b.Name} graphile-worker, {g.Processes} process(es): {g.Done:#,0} of {g.Jobs:#,0} jobs ran; first start to last finish {g.Seconds:0.00} s; queued with graphile_worker.add_jobs in {g.SetupSeconds:0.0} s (incl. its migrations)");
            if (b.Relay is { } rl)
                sb.AppendLine(C, $"- {b.Name} relay: {rl.Load.Accepted:#,0} webhooks acknowledged at {rl.Rate:#,0}/s for {rl.Seconds:0} s (ack p99 {rl.Load.Latency.P99Ms:0.0} ms, non-202: {rl.Load.RejectedText}); delivered {rl.Delivered:#,0}, missing {rl.Missing:#,0}; freshness p90 {rl.Freshness.P90Ms:0.0} ms, mean {rl.Freshness.MeanMs:0.0} ms");
        }
        if (r.Global.EmbeddingCost is { } e)
            sb.AppendLine(C, $"- embedding cost: {e.Rows:#,0} rows backfilled with {e.BackfillCalls:#,0} calls; then {e.Updates:#,0} updates in {e.Bursts} bursts ({e.TextChanges:#,0} change the embedded text, the rest only a column outside the template) → {e.Calls:#,0} embedding requests, {e.Inputs:#,0} inputs, {e.Runs:#,0} job runs, {e.Problems} not succeeded");
        if (r.Global.DocsCost is { } dc)
        {
            foreach (var round in dc.Rounds)
                sb.AppendLine(C, $"- GitHub → Notion, {round.What}: {round.GitHubRequests:#,0} GitHub + {round.NotionRequests:#,0} Notion requests ({round.Throttled} answered 429), {round.Runs} job run(s)");
            sb.AppendLine(C, $"- Notion requests by endpoint (all rounds): {string.Join(", ", dc.NotionByEndpoint.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}"))}");
        }
        if (r.Global.NotionRate is { } nr)
            sb.AppendLine(C, $"- Notion rate limit: {nr.Documents} documents in one push; emulator {nr.AllowedPerSecond:0}/s, burst {nr.Burst}; client paced at {nr.ClientPerSecond:0}/s; {nr.Accepted:#,0} requests answered and {nr.Throttled:#,0} answered 429 in {nr.Seconds:0.0} s (first to last request); most in any one second: {nr.MaxPerSecond}; failed runs {nr.FailedRuns}, parked jobs {nr.Parked}");
        foreach (var note in r.Notes) sb.AppendLine("- note: " + note);
        sb.AppendLine(r.Problems.Count == 0 ? "- problems: none" : "- PROBLEMS:");
        foreach (var p in r.Problems) sb.AppendLine("  - " + p);
    }

    private static void GlobalRows(StringBuilder sb, GlobalResults g)
    {
        if (g.EmbeddingCost is { } e)
            Row(sb, $"Embedding calls per 1,000 row updates ({e.Bursts} bursts; 3 of every 4 updates change the embedded text)", "sqlite store, postgres source",
                $"{e.CallsPer1000:#,0.#} requests ({e.InputsPer1000:#,0.#} inputs embedded)", "one call per update: 1,000", Ratio(e.CallsPer1000 / 1000), "", "");
        if (g.DocsCost is { } d)
            foreach (var round in d.Rounds)
                Row(sb, $"API calls per synced document, GitHub → Notion: {round.What}", "sqlite", $"{round.PerDocument:0.0} ({round.GitHubRequests:#,0} GitHub + {round.NotionRequests:#,0} Notion requests)", "", "", "", "");
        if (g.NotionRate is { } n)
        {
            Row(sb, $"Notion request rate under its limit ({n.AllowedPerSecond:0}/s, burst {n.Burst}; 429 beyond), {n.Documents} documents", "sqlite",
                $"{n.AchievedPerSecond:0.00} requests/s answered over {n.Seconds:0.0} s ({n.Throttled:#,0} answered 429)",
                $"allowed {n.AllowedInWindow / Math.Max(n.Seconds, 1e-9):0.00}/s ({n.Burst} + {n.AllowedPerSecond:0}/s × {n.Seconds:0.0} s)", Ratio(n.Ratio),
                $"≥ {Targets.NotionRateRatio:0%} of allowed", Verdict(n.Ratio / Targets.NotionRateRatio, higherIsBetter: true));
            Row(sb, "Failed jobs under Notion's rate limit", "sqlite", $"{n.FailedRuns} failed runs, {n.Parked} parked", "", "", "0", n.FailedRuns + n.Parked == 0 ? "met" : "**missed**");
        }
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
