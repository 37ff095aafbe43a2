using System.CommandLine;
using System.Globalization;
using EventSync.Core.Admin;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Server.Hosting;
using EventSync.Storage;
using Microsoft.Extensions.Hosting;

namespace EventSync.Cli;

/// <summary>The eventsync command line. Exit codes: 0 ok, 1 failure, 2 usage error.</summary>
public static class CliApp
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var configOption = new Option<string?>("--config", "-c") { Description = "Configuration file (default ./eventsync.yaml; built-in defaults when absent)", Recursive = true };
        var jsonOption = new Option<bool>("--json") { Description = "Print stable JSON for scripts instead of a table", Recursive = true };
        var limitOption = new Option<int>("--limit") { Description = "Most rows to show", DefaultValueFactory = _ => 50 };
        CliErrors.ValidateLimit(limitOption);
        var root = new RootCommand("EventSync: signed webhooks in, durable jobs out, every sync traceable to its event.");
        root.Options.Add(configOption);
        root.Options.Add(jsonOption);

        var urlsOption = new Option<string[]>("--urls") { Description = "Listen addresses, overriding server.urls (e.g. http://127.0.0.1:5080)", AllowMultipleArgumentsPerToken = true };
        var serve = new Command("serve", "Receive webhooks, store them and run the configured flows");
        serve.Options.Add(urlsOption);
        serve.SetAction((pr, ct) => Guard(stderr, async () =>
        {
            var config = LoadConfig(pr.GetValue(configOption), stderr);
            if (config is null) return Failure;
            var urls = pr.GetValue(urlsOption) is { Length: > 0 } u ? u : null;
            if (urls is not null && config.Server.AdminToken is null && urls.Any(x => !ConfigLoader.IsLoopbackUrl(x)))
            {
                await stderr.WriteLineAsync("error: refusing to listen on a non-loopback address without server.adminToken; set it or bind to 127.0.0.1");
                return Failure;
            }
            await using var app = await EventSyncServer.BuildAsync(config, new ServerBuildOptions { Urls = urls }, ct);
            await stdout.WriteLineAsync($"eventsync serve: store {config.Store.Describe()}; config {config.Origin}");
            foreach (var s in config.Sources.Values) await stdout.WriteLineAsync($"  source {s.Name} ({AdminOperations.KindName(s.Kind)}): POST /hooks/{s.Name}");
            await app.StartAsync(ct);
            // Printed after the sockets are bound, so scripts (and tests using port 0) can read the real address.
            foreach (var address in app.Urls) await stdout.WriteLineAsync($"listening on {address}");
            await app.WaitForShutdownAsync(ct);
            return Ok;
        }));
        root.Subcommands.Add(serve);

        var migrate = new Command("migrate", "Create or upgrade the store's schema");
        migrate.SetAction((pr, ct) => WithStore(pr, configOption, stderr, async (store, _, _) =>
        {
            var version = await store.SchemaVersionAsync(ct);
            await stdout.WriteLineAsync(pr.GetValue(jsonOption) ? AdminOperations.ToJson(new { store = store.Description, schemaVersion = version }) : $"{store.Description}: schema at version {version}");
            return Ok;
        }, migrate: true, ct));
        root.Subcommands.Add(migrate);

        var configCommand = new Command("config", "Configuration tools");
        var validate = new Command("validate", "Check the configuration and print every problem with its location and fix");
        validate.SetAction(pr =>
        {
            var (config, problems) = ConfigLoader.TryLoad(pr.GetValue(configOption));
            if (pr.GetValue(jsonOption))
            {
                stdout.WriteLine(AdminOperations.ToJson(new { valid = problems.Count == 0, problems }));
                return problems.Count == 0 ? Ok : Failure;
            }
            foreach (var p in problems) stderr.WriteLine(p.ToString());
            if (problems.Count > 0)
            {
                stderr.WriteLine($"{problems.Count} problem(s) found.");
                return Failure;
            }
            stdout.WriteLine($"{config!.Origin}: valid ({config.Sources.Count} sources, {config.Sinks.Count} sinks, {config.Flows.Count} flows; store {config.Store.Describe()})");
            return Ok;
        });
        configCommand.Subcommands.Add(validate);
        root.Subcommands.Add(configCommand);

        var sources = new Command("sources", "List sources, their endpoints, and Notion verification tokens waiting to be pasted");
        sources.SetAction((pr, ct) => WithOps(pr, configOption, stderr, async ops =>
        {
            var list = await ops.SourcesAsync(ct);
            if (pr.GetValue(jsonOption)) await stdout.WriteLineAsync(AdminOperations.ToJson(list));
            else
            {
                TableWriter.Write(stdout, ["name", "kind", "endpoint", "flows", "status"], list.Select(s => new[] { s.Name, s.Kind, s.Endpoint, string.Join(",", s.Flows), s.Status }));
                foreach (var s in list.Where(s => s.PendingVerificationToken is not null))
                    await stdout.WriteLineAsync($"\nNotion verification token for '{s.Name}': {s.PendingVerificationToken}\n  paste it into the subscription in Notion, then set sources.{s.Name}.verificationToken");
            }
            return Ok;
        }, ct));
        root.Subcommands.Add(sources);

        var events = new Command("events", "Received events");
        var eventsList = new Command("list", "List events, newest first");
        var sourceOption = new Option<string?>("--source") { Description = "Only this source" };
        var typeOption = new Option<string?>("--type") { Description = "Only this event type" };
        var entityOption = new Option<string?>("--entity") { Description = "Only this entity key" };
        var payloadOption = new Option<bool>("--payload") { Description = "Include payloads (JSON output)" };
        foreach (var o in new Option[] { sourceOption, typeOption, entityOption, limitOption, payloadOption }) eventsList.Options.Add(o);
        eventsList.SetAction((pr, ct) => WithOps(pr, configOption, stderr, async ops =>
        {
            var list = await ops.EventsAsync(new EventQuery(pr.GetValue(sourceOption), pr.GetValue(typeOption), pr.GetValue(entityOption), Limit: pr.GetValue(limitOption)), pr.GetValue(payloadOption), ct);
            if (pr.GetValue(jsonOption)) await stdout.WriteLineAsync(AdminOperations.ToJson(list));
            else TableWriter.Write(stdout, ["id", "received", "source", "type", "entity", "delivery", "bytes"],
                list.Select(e => new[] { e.Id.ToString(CultureInfo.InvariantCulture), Time(e.ReceivedAt), e.Source, e.Type, e.Entity, e.DeliveryId, e.PayloadBytes.ToString(CultureInfo.InvariantCulture) }), "(no events)");
            return Ok;
        }, ct));
        events.Subcommands.Add(eventsList);
        root.Subcommands.Add(events);

        var runs = new Command("runs", "Sync runs: one per attempt of a job");
        var runsList = new Command("list", "List runs, newest first");
        var flowOption = new Option<string?>("--flow") { Description = "Only this flow" };
        var statusOption = new Option<string?>("--status") { Description = "Only this outcome: succeeded, failed, throttled, parked, abandoned, lease-lost" };
        statusOption.AcceptOnlyFromAmong(RunOutcomes.Succeeded, RunOutcomes.Failed, RunOutcomes.Throttled, RunOutcomes.Parked, RunOutcomes.Abandoned, RunOutcomes.LeaseLost);
        var sinceOption = new Option<string?>("--since") { Description = "Only runs started in this recent window (e.g. 1h, 30m) or since an ISO time" };
        foreach (var o in new Option[] { flowOption, statusOption, sinceOption, limitOption }) runsList.Options.Add(o);
        runsList.SetAction((pr, ct) => WithOps(pr, configOption, stderr, async ops =>
        {
            if (!TryParseSince(pr.GetValue(sinceOption), out var since))
            {
                await stderr.WriteLineAsync($"error: --since '{pr.GetValue(sinceOption)}' is neither a duration (1h, 30m) nor an ISO 8601 time");
                return Usage;
            }
            var list = await ops.RunsAsync(new RunQuery(pr.GetValue(flowOption), pr.GetValue(statusOption), since, Limit: pr.GetValue(limitOption)), ct);
            if (pr.GetValue(jsonOption)) await stdout.WriteLineAsync(AdminOperations.ToJson(list));
            else TableWriter.Write(stdout, ["id", "started", "flow", "entity", "attempt", "outcome", "ms", "error"],
                list.Select(r => new[] { r.Id.ToString(CultureInfo.InvariantCulture), Time(r.StartedAt), r.Flow, r.EntityKey, r.Attempt.ToString(CultureInfo.InvariantCulture), r.Outcome,
                    ((long)(r.FinishedAt - r.StartedAt).TotalMilliseconds).ToString(CultureInfo.InvariantCulture), r.Error }), "(no runs)");
            return Ok;
        }, ct));
        var runIdArgument = new Argument<long>("id") { Description = "Run id (from runs list)" };
        var runsShow = new Command("show", "Show one run: its trigger, what it did, and every attempt of its job");
        runsShow.Arguments.Add(runIdArgument);
        runsShow.SetAction((pr, ct) => WithOps(pr, configOption, stderr, async ops =>
        {
            var run = await ops.RunAsync(pr.GetValue(runIdArgument), ct);
            if (run is null)
            {
                await stderr.WriteLineAsync($"error: no run {pr.GetValue(runIdArgument)}; see `eventsync runs list`");
                return Failure;
            }
            if (pr.GetValue(jsonOption))
            {
                await stdout.WriteLineAsync(AdminOperations.ToJson(run));
                return Ok;
            }
            var r = run.Run;
            await stdout.WriteLineAsync($"Run {r.Id}  flow {r.Flow}  entity {r.EntityKey}  sink {r.Sink}");
            await stdout.WriteLineAsync($"  outcome   {r.Outcome}{(r.Error is null ? "" : " — " + r.Error)}");
            await stdout.WriteLineAsync($"  attempt   {r.Attempt} by {r.Worker}, {Time(r.StartedAt)} → {Time(r.FinishedAt)} ({(long)(r.FinishedAt - r.StartedAt).TotalMilliseconds} ms)");
            await stdout.WriteLineAsync($"  job       {r.JobId} ({run.Job?.Status ?? "pruned"}{(run.Job?.MergedInto is { } m ? ", continued as job " + m : "")})");
            await stdout.WriteLineAsync($"  trigger   {run.Events.Count} event(s): " + string.Join(", ", run.Events.TakeLast(10).Select(e => $"#{e.Id} {e.Source}/{e.Type} ({e.DeliveryId})")));
            if (run.Trigger.TryGetProperty("metadata", out var meta))
                foreach (var p in meta.EnumerateObject()) await stdout.WriteLineAsync($"            {p.Name} = {p.Value}");
            await stdout.WriteLineAsync($"  resources {string.Join(", ", run.Resources.EnumerateArray().Select(x => x.GetString()))}");
            await stdout.WriteLineAsync("  attempts");
            foreach (var a in run.Attempts)
                await stdout.WriteLineAsync($"    #{a.Attempt} {Time(a.StartedAt)} {a.Outcome} {(long)(a.FinishedAt - a.StartedAt).TotalMilliseconds} ms {a.Error}");
            return Ok;
        }, ct));
        runs.Subcommands.Add(runsList);
        runs.Subcommands.Add(runsShow);
        root.Subcommands.Add(runs);

        var dead = new Command("dead", "Dead letters: jobs parked after their retries ran out or a permanent failure");
        var deadList = new Command("list", "List dead letters");
        deadList.Options.Add(flowOption);
        deadList.Options.Add(limitOption);
        deadList.SetAction((pr, ct) => WithOps(pr, configOption, stderr, async ops =>
        {
            var list = await ops.DeadLettersAsync(pr.GetValue(flowOption), pr.GetValue(limitOption), ct);
            if (pr.GetValue(jsonOption)) await stdout.WriteLineAsync(AdminOperations.ToJson(list));
            else TableWriter.Write(stdout, ["job", "parked", "flow", "entity", "attempts", "events", "reason"],
                list.Select(j => new[] { j.Id.ToString(CultureInfo.InvariantCulture), Time(j.UpdatedAt), j.Flow, j.EntityKey, j.Attempts.ToString(CultureInfo.InvariantCulture), j.EventCount.ToString(CultureInfo.InvariantCulture), j.LastError }), "(no dead letters)");
            return Ok;
        }, ct));
        var deadIdArgument = new Argument<long?>("id") { Description = "Dead letter (job) id", Arity = ArgumentArity.ZeroOrOne };
        var allOption = new Option<bool>("--all") { Description = "Replay every dead letter (of --flow, if given)" };
        var deadReplay = new Command("replay", "Queue dead letters again with fresh attempts");
        deadReplay.Arguments.Add(deadIdArgument);
        deadReplay.Options.Add(allOption);
        deadReplay.Options.Add(flowOption);
        deadReplay.SetAction((pr, ct) => WithOps(pr, configOption, stderr, async ops =>
        {
            var id = pr.GetValue(deadIdArgument);
            var all = pr.GetValue(allOption);
            if (id is null == !all)
            {
                await stderr.WriteLineAsync("error: give a dead letter id or --all (not both)");
                return Usage;
            }
            if (all)
            {
                var flow = pr.GetValue(flowOption);
                var total = (await ops.StatusAsync(ct)).Flows.Where(f => flow is null || f.Name == flow).Sum(f => (long)f.Parked);
                var n = await CliProgress.RunAsync("replay", "dead letters", total, pr.GetValue(jsonOption), stdout, stderr,
                    progress => ops.ReplayAllAsync(flow, new Reporter<(int Done, int Total)>(p => progress.Report(p.Done)), ct));
                if (pr.GetValue(jsonOption)) await stdout.WriteLineAsync(AdminOperations.ToJson(new { replayed = n }));
                else await stdout.WriteLineAsync($"replayed {n} dead letter(s)");
                return Ok;
            }
            var pending = await ops.ReplayAsync(id!.Value, ct);
            if (pending is null)
            {
                await stderr.WriteLineAsync($"error: job {id} is not a dead letter; see `eventsync dead list`");
                return Failure;
            }
            await stdout.WriteLineAsync(pr.GetValue(jsonOption) ? AdminOperations.ToJson(new { replayed = id, pendingJob = pending }) : $"dead letter {id} queued again as job {pending}");
            return Ok;
        }, ct));
        var deadDeleteId = new Argument<long>("id") { Description = "Dead letter (job) id" };
        var deadDelete = new Command("delete", "Discard a dead letter");
        deadDelete.Arguments.Add(deadDeleteId);
        deadDelete.SetAction((pr, ct) => WithOps(pr, configOption, stderr, async ops =>
        {
            var id = pr.GetValue(deadDeleteId);
            if (!await ops.DeleteDeadLetterAsync(id, ct))
            {
                await stderr.WriteLineAsync($"error: job {id} is not a dead letter; see `eventsync dead list`");
                return Failure;
            }
            await stdout.WriteLineAsync(pr.GetValue(jsonOption) ? AdminOperations.ToJson(new { deleted = id }) : $"dead letter {id} deleted");
            return Ok;
        }, ct));
        dead.Subcommands.Add(deadList);
        dead.Subcommands.Add(deadReplay);
        dead.Subcommands.Add(deadDelete);
        root.Subcommands.Add(dead);

        var flowArgument = new Argument<string>("flow") { Description = "Flow name" };
        var entityKeyOption = new Option<string?>("--entity") { Description = "Entity key to sync (default: the whole flow, key '*')" };
        var trigger = new Command("trigger", "Run a flow now, like re-running a workflow by hand");
        trigger.Arguments.Add(flowArgument);
        trigger.Options.Add(entityKeyOption);
        trigger.SetAction((pr, ct) => WithOps(pr, configOption, stderr, async ops =>
        {
            var result = await ops.TriggerAsync(pr.GetValue(flowArgument)!, pr.GetValue(entityKeyOption), "cli:" + Environment.UserName, ct);
            await stdout.WriteLineAsync(pr.GetValue(jsonOption) ? AdminOperations.ToJson(result) : $"queued {result.Flow} for entity {result.Entity} (event {result.EventId})");
            return Ok;
        }, ct));
        root.Subcommands.Add(trigger);

        var status = new Command("status", "Queue depth, freshness lag and state per flow");
        status.SetAction((pr, ct) => WithOps(pr, configOption, stderr, async ops =>
        {
            var s = await ops.StatusAsync(ct);
            if (pr.GetValue(jsonOption)) await stdout.WriteLineAsync(AdminOperations.ToJson(s));
            else
            {
                await stdout.WriteLineAsync($"store {s.Store} (schema v{s.SchemaVersion})");
                TableWriter.Write(stdout, ["flow", "from", "to", "state", "pending", "running", "dead", "lag s"],
                    s.Flows.Select(f => new[] { f.Name, f.From, f.To, f.State, f.Pending.ToString(CultureInfo.InvariantCulture), f.Running.ToString(CultureInfo.InvariantCulture), f.Parked.ToString(CultureInfo.InvariantCulture), f.OldestPendingSeconds.ToString("0.0", CultureInfo.InvariantCulture) }), "(no flows configured)");
                await StatusSinks.WriteAsync(stdout, s);
            }
            return Ok;
        }, ct));
        root.Subcommands.Add(status);
        VectorCommands.Add(root, configOption, jsonOption, stdout, stderr);
        McpCommand.Add(root, configOption, stderr);
        SyncCommands.Add(root, configOption, jsonOption, stdout, stderr);
        RunCommand.Add(root, configOption, stdout, stderr);
        EmulateCommand.Add(root, stdout, stderr);
        CompletionCommand.Add(root, stdout);
        Demo.DemoCommand.Add(root, stdout, stderr);

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) await stderr.WriteLineAsync("error: " + e.Message);
            await stderr.WriteLineAsync(CliErrors.UsageHint(parse));
            return Usage;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr });
    }

    private static EventSyncConfig? LoadConfig(string? path, TextWriter stderr)
    {
        var (config, problems) = ConfigLoader.TryLoad(path);
        if (problems.Count == 0) return config;
        foreach (var p in problems) stderr.WriteLine(p.ToString());
        stderr.WriteLine($"The configuration is invalid ({problems.Count} problem(s)); fix them and run `eventsync config validate`.");
        return null;
    }

    private static Task<int> WithOps(ParseResult pr, Option<string?> configOption, TextWriter stderr, Func<AdminOperations, Task<int>> action, CancellationToken ct) =>
        WithStore(pr, configOption, stderr, (store, config, _) => action(new AdminOperations(store, config, TimeProvider.System)), migrate: true, ct);

    internal static Task<int> WithStore(ParseResult pr, Option<string?> configOption, TextWriter stderr, Func<IEventStore, EventSyncConfig, CancellationToken, Task<int>> action, bool migrate, CancellationToken ct) =>
        Guard(stderr, async () =>
        {
            var config = LoadConfig(pr.GetValue(configOption), stderr);
            if (config is null) return Failure;
            await using var store = await CliErrors.OpenStoreAsync(config, migrate, ct);
            return await action(store, config, ct);
        });

    /// <summary>Turns expected failures into a one-line message and exit code 1, never a stack trace.</summary>
    internal static async Task<int> Guard(TextWriter stderr, Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (OperationCanceledException)
        {
            return Failure;
        }
        catch (ArgumentException ex)
        {
            await stderr.WriteLineAsync("error: " + ex.Message);
            return Usage;
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or IOException or UnauthorizedAccessException or InvalidOperationException or System.Net.Sockets.SocketException or KeyNotFoundException)
        {
            await stderr.WriteLineAsync($"error: {ex.Message}");
            return Failure;
        }
    }

    private static bool TryParseSince(string? text, out DateTimeOffset? since)
    {
        since = null;
        if (string.IsNullOrEmpty(text)) return true;
        if (Durations.TryParse(text, out var window))
        {
            since = DateTimeOffset.UtcNow - window;
            return true;
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            since = at;
            return true;
        }
        return false;
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
}
