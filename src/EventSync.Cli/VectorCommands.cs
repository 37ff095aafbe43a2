using System.CommandLine;
using System.Globalization;
using EventSync.Connectors;
using EventSync.Connectors.Postgres;
using EventSync.Connectors.Vectors;
using EventSync.Core.Admin;
using EventSync.Core.Vectors;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventSync.Cli;

/// <summary>`pg install|uninstall`, `search`, `vectors status|reconcile|reindex`.</summary>
internal static class VectorCommands
{
    public static void Add(RootCommand root, Option<string?> configOption, Option<bool> jsonOption, TextWriter stdout, TextWriter stderr)
    {
        root.Subcommands.Add(Pg(stdout, stderr));
        root.Subcommands.Add(Search(configOption, jsonOption, stdout, stderr));
        root.Subcommands.Add(Vectors(configOption, jsonOption, stdout, stderr));
    }

    private static Command Pg(TextWriter stdout, TextWriter stderr)
    {
        var connection = new Option<string>("--connection") { Description = "The database to capture from (postgres:// URL or Host=...;Database=...)", Required = true };
        var table = new Option<string>("--table") { Description = "Schema-qualified table, e.g. public.projects", Required = true };
        var key = new Option<string>("--key") { Description = "Key column", DefaultValueFactory = _ => "id" };
        var tenant = new Option<string?>("--tenant-column") { Description = "Column holding the tenant id" };
        var columns = new Option<string?>("--columns") { Description = "Only changes to these columns (comma-separated) enqueue work" };
        var schema = new Option<string>("--schema") { Description = "Schema for the outbox and trigger function", DefaultValueFactory = _ => "eventsync" };
        var print = new Option<bool>("--print") { Description = "Print the SQL instead of running it" };
        var pg = new Command("pg", "Change capture in a PostgreSQL/Supabase database (transactional outbox + trigger)");
        foreach (var (name, description, install) in new[] { ("install", "Install (or update) the outbox and the capture trigger on a table", true), ("uninstall", "Remove the capture trigger (and the outbox when no table uses it)", false) })
        {
            var command = new Command(name, description);
            foreach (var o in new Option[] { connection, table, key, tenant, columns, schema, print }) command.Options.Add(o);
            command.SetAction((pr, ct) => CliApp.Guard(stderr, async () =>
            {
                var qualified = pr.GetValue(table)!;
                if (!qualified.Contains('.', StringComparison.Ordinal)) qualified = "public." + qualified;
                var target = new CaptureTarget(qualified, pr.GetValue(key)!, pr.GetValue(tenant),
                    pr.GetValue(columns)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), pr.GetValue(schema)!);
                var sql = install ? OutboxInstaller.InstallSql(target) : OutboxInstaller.UninstallSql(target);
                if (pr.GetValue(print))
                {
                    await stdout.WriteLineAsync(sql);
                    return CliApp.Ok;
                }
                await OutboxInstaller.ExecuteAsync(pr.GetValue(connection)!, sql, ct);
                await stdout.WriteLineAsync(install
                    ? $"capturing {qualified} on {PgConnection.Describe(pr.GetValue(connection)!)}: outbox {target.OutboxSchema}.outbox, trigger {OutboxInstaller.TriggerName}, channel {OutboxInstaller.Channel}"
                    : $"capture removed from {qualified}");
                return CliApp.Ok;
            }));
            pg.Subcommands.Add(command);
        }
        return pg;
    }

    private static Command Search(Option<string?> configOption, Option<bool> jsonOption, TextWriter stdout, TextWriter stderr)
    {
        var text = new Argument<string>("text") { Description = "What to search for" };
        var tenant = new Option<string>("--tenant") { Description = "Tenant to search in (required: searches never cross tenants)", Required = true };
        var top = new Option<int>("--top") { Description = "Most results", DefaultValueFactory = _ => 5 };
        var flow = new Option<string?>("--flow") { Description = "Vector flow (needed when several exist)" };
        var command = new Command("search", "Semantic search in one tenant's vector index");
        command.Arguments.Add(text);
        foreach (var o in new Option[] { tenant, top, flow }) command.Options.Add(o);
        command.SetAction((pr, ct) => WithVectors(pr, configOption, stderr, async service =>
        {
            var result = await service.SearchAsync(pr.GetValue(flow), pr.GetValue(tenant)!, pr.GetValue(text)!, Math.Clamp(pr.GetValue(top), 1, 100), ct);
            if (pr.GetValue(jsonOption)) await stdout.WriteLineAsync(AdminOperations.ToJson(result));
            else TableWriter.Write(stdout, ["score", "entity", "chunk", "content"],
                result.Hits.Select(h => new[] { h.Score.ToString("0.000", CultureInfo.InvariantCulture), h.EntityKey, h.Chunk.ToString(CultureInfo.InvariantCulture), Excerpt(h.Content) }), "(no matches)");
            return CliApp.Ok;
        }, ct));
        return command;
    }

    private static Command Vectors(Option<string?> configOption, Option<bool> jsonOption, TextWriter stdout, TextWriter stderr)
    {
        var vectors = new Command("vectors", "Vector indexes: status, drift repair, rebuild after a model or template change");
        var tenant = new Option<string?>("--tenant") { Description = "Only this tenant" };
        var status = new Command("status", "Per flow and tenant: rows, vectors, pending changes, oldest pending age, last error");
        status.Options.Add(tenant);
        status.SetAction((pr, ct) => WithVectors(pr, configOption, stderr, async service =>
        {
            var list = await service.StatusAsync(pr.GetValue(tenant), ct);
            if (pr.GetValue(jsonOption))
            {
                await stdout.WriteLineAsync(AdminOperations.ToJson(list));
                return CliApp.Ok;
            }
            foreach (var f in list)
            {
                await stdout.WriteLineAsync($"{f.Flow}: model {f.Model ?? "(no index yet)"}/{f.Dimensions}, pending {f.Pending}, oldest pending {f.OldestPendingSeconds:0.0} s{(f.SettingsChanged ? ", settings changed: run `eventsync vectors reindex --flow " + f.Flow + "`" : "")}{(f.LastError is null ? "" : ", last error: " + f.LastError)}");
                TableWriter.Write(stdout, ["tenant", "rows", "vectors", "pending", "oldest pending s", "last update"],
                    f.Tenants.Select(t => new[] { t.Tenant, t.Rows.ToString(CultureInfo.InvariantCulture), t.Vectors.ToString(CultureInfo.InvariantCulture), t.Pending.ToString(CultureInfo.InvariantCulture),
                        t.OldestPendingSeconds.ToString("0.0", CultureInfo.InvariantCulture), t.LastUpdate?.UtcDateTime.ToString("u", CultureInfo.InvariantCulture) ?? "" }), "(no vectors)");
            }
            return CliApp.Ok;
        }, ct));
        vectors.Subcommands.Add(status);

        var flow = new Option<string?>("--flow") { Description = "Vector flow (needed when several exist)" };
        foreach (var (name, description) in new[] { ("reconcile", "Compare source rows with the index by content hash and repair drift (missing, stale, orphaned)"), ("reindex", "Build the index for the configured model/template beside the old one and switch when complete") })
        {
            var command = new Command(name, description);
            command.Options.Add(flow);
            command.SetAction((pr, ct) => WithVectors(pr, configOption, stderr, async service =>
            {
                var json = pr.GetValue(jsonOption);
                var report = await CliProgress.RunAsync(name, "rows", null, json, stdout, stderr,
                    progress => service.ReconcileAsync(pr.GetValue(flow), new Reporter<int>(n => progress.Report(n)), ct));
                if (json) await stdout.WriteLineAsync(AdminOperations.ToJson(report));
                else
                {
                    await stdout.WriteLineAsync($"{report.Flow}: {report.Rows} rows checked; {report.Added} added, {report.Updated} re-embedded, {report.Unchanged} unchanged, {report.Removed} orphans removed, {report.Failed} failed{(report.Switched ? "; switched to the new index" : "")}");
                    foreach (var e in report.Errors) await stdout.WriteLineAsync("  " + e);
                }
                return report.Failed == 0 ? CliApp.Ok : CliApp.Failure;
            }, ct));
            vectors.Subcommands.Add(command);
        }
        return vectors;
    }

    private static Task<int> WithVectors(ParseResult pr, Option<string?> configOption, TextWriter stderr, Func<VectorService, Task<int>> action, CancellationToken ct) =>
        CliApp.WithStore(pr, configOption, stderr, async (store, config, _) =>
        {
            var vectorStore = (IVectorStore)store;
            var sinks = SinkFactory.Create(config, NullLoggerFactory.Instance, vectorStore);
            try
            {
                using var service = new VectorService(config, store, vectorStore, sinks, TimeProvider.System);
                return await action(service);
            }
            finally
            {
                foreach (var sink in sinks.Values.OfType<IAsyncDisposable>()) await sink.DisposeAsync();
            }
        }, migrate: true, ct);

    private static string Excerpt(string s)
    {
        var line = s.ReplaceLineEndings(" ");
        return line.Length > 80 ? line[..80] + "…" : line;
    }
}
