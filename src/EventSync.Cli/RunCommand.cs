using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSync.Connectors;
using EventSync.Connectors.Sync;
using EventSync.Core.Configuration;
using EventSync.Core.Ingest;
using EventSync.Core.Storage;
using EventSync.Core.Work;
using EventSync.Server.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventSync.Cli;

/// <summary>
/// `eventsync run FLOW`: one sync inside a GitHub Actions workflow. The triggering event (GITHUB_EVENT_NAME,
/// GITHUB_EVENT_PATH) is recorded like a received webhook, or, for a flow from Notion, a reconciliation pass finds the
/// edits; the flow's jobs then run to completion (retries included) and a summary is appended to GITHUB_STEP_SUMMARY.
/// </summary>
internal static class RunCommand
{
    public static void Add(RootCommand root, Option<string?> configOption, TextWriter stdout, TextWriter stderr)
    {
        var flowArgument = new Argument<string>("flow") { Description = "The flow to run" };
        var timeoutOption = new Option<string>("--timeout") { Description = "Give up waiting for retries after this long", DefaultValueFactory = _ => "10m" };
        var run = new Command("run", "Run one flow once, as a GitHub Actions step (reads GITHUB_EVENT_NAME and GITHUB_EVENT_PATH, writes GITHUB_STEP_SUMMARY)");
        run.Arguments.Add(flowArgument);
        run.Options.Add(timeoutOption);
        run.SetAction((pr, ct) => CliApp.WithStore(pr, configOption, stderr, async (store, fullConfig, _) =>
        {
            var flow = fullConfig.FindFlow(pr.GetValue(flowArgument)!)
                ?? throw new ArgumentException($"flow '{pr.GetValue(flowArgument)}' is not configured; known flows: {string.Join(", ", fullConfig.Flows.Select(f => f.Name))}");
            if (!Durations.TryParse(pr.GetValue(timeoutOption)!, out var timeout) || timeout <= TimeSpan.Zero)
                throw new ArgumentException("--timeout must be a duration such as 10m");
            var config = fullConfig.WithOnlyFlow(flow);
            var time = TimeProvider.System;
            var started = time.GetUtcNow();
            var router = new FlowRouter(config);
            var source = config.Sources[flow.From];
            var trigger = await RecordTriggerAsync(config, source, store, router, time, ct);
            await stdout.WriteLineAsync($"eventsync run {flow.Name}: {trigger}");

            var sinks = SinkFactory.Create(config, NullLoggerFactory.Instance, store as Core.Vectors.IVectorStore ?? throw new InvalidOperationException("store has no vector support"), store, time);
            var dispatcher = new JobDispatcher(store, sinks, config, time, new WorkSignal(), NullLogger<JobDispatcher>.Instance, "run-" + Environment.ProcessId);
            var deadline = started + timeout;
            while (true)
            {
                await dispatcher.RunDueAsync(ct);
                var stats = (await store.GetQueueStatsAsync(ct)).FirstOrDefault(s => s.Flow == flow.Name);
                if (stats is null || stats.Pending + stats.Running == 0) break;
                var next = await store.NextDueAsync(time.GetUtcNow(), ct) ?? time.GetUtcNow().AddSeconds(1);
                if (next > deadline) throw new TimeoutException($"jobs of {flow.Name} are still waiting to retry after {pr.GetValue(timeoutOption)}; see `eventsync runs list --flow {flow.Name}`");
                var wait = next - time.GetUtcNow();
                if (wait > TimeSpan.Zero) await Task.Delay(wait, time, ct); // the next retry's due time: the store says when
            }

            var runs = await store.ListRunsAsync(new RunQuery(flow.Name, Since: started, Limit: 500), ct);
            var failed = runs.Where(r => r.Outcome is RunOutcomes.Parked or RunOutcomes.Failed).ToList();
            foreach (var r in runs.OrderBy(r => r.Id))
            {
                await stdout.WriteLineAsync($"  run {r.Id} job {r.JobId} attempt {r.Attempt}: {r.Outcome}{(r.Error is null ? "" : " - " + r.Error)}");
                foreach (var resource in JsonSerializer.Deserialize<string[]>(r.ResourcesJson) ?? []) await stdout.WriteLineAsync("    " + resource);
            }
            if (Environment.GetEnvironmentVariable("GITHUB_STEP_SUMMARY") is { Length: > 0 } summaryPath)
                await File.AppendAllTextAsync(summaryPath, Summary(flow, trigger, started, time.GetUtcNow(), runs), ct);
            var parked = (await store.ListJobsAsync(JobStatuses.Parked, flow.Name, 100, ct)).Count;
            return parked > 0 ? CliApp.Failure : CliApp.Ok;
        }, migrate: true, ct));
        root.Subcommands.Add(run);
    }

    /// <summary>Records what triggered this run as an event of the flow's source; returns a one-line description.</summary>
    private static async Task<string> RecordTriggerAsync(EventSyncConfig config, SourceOptions source, IEventStore store, FlowRouter router, TimeProvider time, CancellationToken ct)
    {
        if (source.Kind == SourceKind.Notion)
        {
            var reconciler = ReconcileService.Reconcilers(config, store, router, new WorkSignal(), time, NullLoggerFactory.Instance).FirstOrDefault(r => r.Source.Name == source.Name)
                ?? throw new ArgumentException($"source '{source.Name}' names no notion connection to reconcile from; add connection: to it");
            var found = await reconciler.ReconcileOnceAsync(config.Collections, ct);
            return $"reconciliation of {source.Name} found {found} page edits";
        }
        var name = Environment.GetEnvironmentVariable("GITHUB_EVENT_NAME");
        var path = Environment.GetEnvironmentVariable("GITHUB_EVENT_PATH");
        if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(path))
            throw new ArgumentException("GITHUB_EVENT_NAME and GITHUB_EVENT_PATH are not set: `eventsync run` runs inside a GitHub Actions job (use `eventsync serve` elsewhere)");
        var payload = await File.ReadAllBytesAsync(path, ct);
        if (!SourceVerifier.TryParseObject(payload, out var root, out var error)) throw new ArgumentException($"{path} is not a JSON event: {error}");
        // A website's repository_dispatch reaches Actions as the dispatch event; its client_payload is the website's notice.
        if (source.Kind == SourceKind.Website && name == "repository_dispatch")
        {
            var node = JsonNode.Parse(payload)!;
            payload = JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["event_type"] = node["action"]?.DeepClone(), ["client_payload"] = node["client_payload"]?.DeepClone() });
            root = JsonDocument.Parse(payload).RootElement.Clone();
        }
        var action = root.TryGetProperty("action", out var a) && a.ValueKind == JsonValueKind.String && source.Kind == SourceKind.GitHub ? "." + a.GetString() : "";
        var type = source.Kind == SourceKind.Website ? root.GetProperty("event_type").GetString() ?? "website-update" : name + action;
        var runId = $"actions-{Environment.GetEnvironmentVariable("GITHUB_RUN_ID") ?? "local"}-{Environment.GetEnvironmentVariable("GITHUB_RUN_ATTEMPT") ?? "1"}";
        var now = time.GetUtcNow();
        var jobs = router.Route(source.Name, type, runId, root);
        await store.IngestAsync([new IngestWrite(
            new DeliveryRecord(now, source.Name, runId, 202, DeliveryOutcomes.Accepted, "GitHub Actions event", payload.Length, "actions"),
            new NewEvent(source.Name, runId, runId, type, jobs.Count > 0 ? jobs[0].EntityKey : null, now, "{}", payload), jobs)], ct);
        return jobs.Count == 0 ? $"{type} event matches no filter of the flow; nothing to do" : $"{type} event recorded, {jobs.Count} job(s)";
    }

    private static string Summary(FlowOptions flow, string trigger, DateTimeOffset started, DateTimeOffset finished, IReadOnlyList<RunRecord> runs)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"## EventSync: {flow.Name}\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"- Trigger: {trigger}\n- Started: {started:u}\n- Finished: {finished:u}\n");
        foreach (var r in runs.OrderBy(r => r.Id))
        {
            var meta = JsonNode.Parse(r.TriggerJson);
            sb.Append(CultureInfo.InvariantCulture, $"\n### Run {r.Id}: {r.Outcome} (attempt {r.Attempt}, {(r.FinishedAt - r.StartedAt).TotalMilliseconds:0} ms)\n\n");
            sb.Append(CultureInfo.InvariantCulture, $"- Event metadata: `{meta?.ToJsonString()}`\n");
            if (r.Error is not null) sb.Append(CultureInfo.InvariantCulture, $"- Failure: {r.Error}\n");
            foreach (var resource in JsonSerializer.Deserialize<string[]>(r.ResourcesJson) ?? []) sb.Append(CultureInfo.InvariantCulture, $"- {resource}\n");
        }
        if (runs.Count == 0) sb.Append("\nNo document needed syncing.\n");
        return sb.ToString();
    }
}
