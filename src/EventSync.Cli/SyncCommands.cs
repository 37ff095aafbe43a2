using System.CommandLine;
using System.Globalization;
using EventSync.Connectors.Sync;
using EventSync.Core.Admin;
using EventSync.Core.Storage;

namespace EventSync.Cli;

/// <summary>`conflicts list|show|resolve`: the losing sides of two-way edits, kept until an operator settles them.</summary>
internal static class SyncCommands
{
    public static void Add(RootCommand root, Option<string?> configOption, Option<bool> jsonOption, TextWriter stdout, TextWriter stderr)
    {
        var conflicts = new Command("conflicts", "Fields both systems changed since they last agreed: the winner was written, the loser is kept here");
        var statusOption = new Option<string>("--status") { Description = "open, resolved or all", DefaultValueFactory = _ => "open" };
        var limitOption = new Option<int>("--limit") { Description = "Most rows to show", DefaultValueFactory = _ => 50 };
        CliErrors.ValidateLimit(limitOption);
        var list = new Command("list", "List conflicts, newest first");
        list.Options.Add(statusOption);
        list.Options.Add(limitOption);
        list.SetAction((pr, ct) => CliApp.WithStore(pr, configOption, stderr, async (store, _, _) =>
        {
            var status = pr.GetValue(statusOption);
            if (status is not ("open" or "resolved" or "all")) throw new ArgumentException($"--status must be open, resolved or all, not '{status}'");
            var rows = await store.ListConflictsAsync(status == "all" ? null : status, pr.GetValue(limitOption), ct);
            if (pr.GetValue(jsonOption)) await stdout.WriteLineAsync(AdminOperations.ToJson(rows));
            else TableWriter.Write(stdout, ["id", "created", "document", "field", "flow", "winner", "loser value", "status"],
                rows.Select(c => new[]
                {
                    c.Id.ToString(CultureInfo.InvariantCulture), c.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), c.DocumentId, c.Field, c.Flow, c.Winner,
                    Short(c.Winner == c.SourceSystem ? c.TargetValue : c.SourceValue), c.Status,
                }), "(no conflicts)");
            return CliApp.Ok;
        }, migrate: true, ct));
        conflicts.Subcommands.Add(list);

        var idArgument = new Argument<long>("id") { Description = "The conflict's id (from `eventsync conflicts list`)" };
        var show = new Command("show", "Show both versions of a conflict and its base");
        show.Arguments.Add(idArgument);
        show.SetAction((pr, ct) => CliApp.WithStore(pr, configOption, stderr, async (store, _, _) =>
        {
            var c = await store.GetConflictAsync(pr.GetValue(idArgument), ct) ?? throw new KeyNotFoundException($"no conflict {pr.GetValue(idArgument)}; see `eventsync conflicts list`");
            if (pr.GetValue(jsonOption)) { await stdout.WriteLineAsync(AdminOperations.ToJson(c)); return CliApp.Ok; }
            await stdout.WriteLineAsync($"conflict {c.Id} on {c.DocumentId}, field {c.Field} ({c.Status}{(c.Resolution is null ? "" : ": " + c.Resolution)})");
            await stdout.WriteLineAsync($"flow {c.Flow}, job {c.JobId}; policy {c.Policy}; {c.Winner} won");
            await stdout.WriteLineAsync($"--- base (last agreed)\n{c.BaseValue}\n--- {c.SourceSystem} (source)\n{c.SourceValue}\n--- {c.TargetSystem} (target)\n{c.TargetValue}");
            return CliApp.Ok;
        }, migrate: true, ct));
        conflicts.Subcommands.Add(show);

        var keepOption = new Option<string?>("--keep") { Description = "winner (close it; the winner is already written) or loser (write the losing version back)" };
        var valueOption = new Option<string?>("--value") { Description = "Write this value instead of either version" };
        var resolve = new Command("resolve", "Settle a conflict: keep the winner, restore the loser, or write a new value");
        resolve.Arguments.Add(idArgument);
        resolve.Options.Add(keepOption);
        resolve.Options.Add(valueOption);
        resolve.SetAction((pr, ct) => CliApp.WithStore(pr, configOption, stderr, async (store, config, _) =>
        {
            var keep = pr.GetValue(keepOption);
            var value = pr.GetValue(valueOption);
            ConflictChoice choice = (keep, value) switch
            {
                ("winner", null) => ConflictChoice.Winner,
                ("loser", null) => ConflictChoice.Loser,
                (null, not null) => ConflictChoice.Value,
                _ => throw new ArgumentException("say what to keep: --keep winner, --keep loser, or --value TEXT"),
            };
            var resolver = new ConflictResolver(store, DocumentSystems.Create(config, store, TimeProvider.System), new DocumentCatalog(config.Collections), TimeProvider.System);
            var id = pr.GetValue(idArgument);
            var resolution = await resolver.ResolveAsync(id, choice, value, ct);
            await stdout.WriteLineAsync(pr.GetValue(jsonOption) ? AdminOperations.ToJson(new { resolved = id, resolution }) : $"conflict {id} resolved: {resolution}");
            return CliApp.Ok;
        }, migrate: true, ct));
        conflicts.Subcommands.Add(resolve);
        root.Subcommands.Add(conflicts);
    }

    private static string Short(string? text) => text is null ? "" : text.Length > 40 ? text[..37].ReplaceLineEndings(" ") + "..." : text.ReplaceLineEndings(" ");
}
