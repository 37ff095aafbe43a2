using System.Globalization;
using System.Text.Json;
using EventSync.Cli;

namespace EventSync.Tests.Cli;

/// <summary>
/// `--json` everywhere: every command that answers with data prints exactly one JSON document on stdout (no table,
/// no progress text), so scripts can pipe it to jq. A new command must join one of the lists below.
/// </summary>
public sealed class JsonOutputTests
{
    /// <summary>Commands that print no data answer, with why; every other leaf command is run with --json below.</summary>
    private static readonly Dictionary<string, string> NotData = new(StringComparer.Ordinal)
    {
        ["serve"] = "a server: prints its addresses and runs until stopped",
        ["mcp"] = "stdout is the MCP protocol channel (JSON-RPC)",
        ["emulate github"] = "an emulator: runs until stopped",
        ["emulate notion"] = "an emulator: runs until stopped",
        ["emulate website"] = "an emulator: runs until stopped",
        ["completion"] = "prints a shell script",
        ["demo"] = "a story for people: numbered steps, then runs until stopped",
        ["pg install"] = "prints SQL (--print) or changes a user's database",
        ["pg uninstall"] = "prints SQL (--print) or changes a user's database",
        ["run"] = "a GitHub Actions step: writes a step summary",
        ["search"] = "needs a vector flow on PostgreSQL: Vectors/ReindexTests parse its --json",
        ["vectors reconcile"] = "needs a vector flow on PostgreSQL: Vectors/ReindexTests parse its --json",
        ["vectors reindex"] = "needs a vector flow on PostgreSQL; same code path as vectors reconcile",
        ["conflicts resolve"] = "writes into a connected system; SyncCommands prints {resolved, resolution}",
    };

    [Fact]
    public async Task Every_data_command_prints_one_JSON_document_on_stdout()
    {
        using var world = await CliStore.CreateAsync(deadLetters: 3);
        var c = world.ConfigPath;
        var (_, runsJson, _) = await CliStore.RunAsync("runs", "list", "-c", c, "--json");
        var runId = JsonDocument.Parse(runsJson).RootElement[0].GetProperty("id").GetInt64().ToString(CultureInfo.InvariantCulture);
        var (_, deadJson, _) = await CliStore.RunAsync("dead", "list", "-c", c, "--json");
        var deadIds = JsonDocument.Parse(deadJson).RootElement.EnumerateArray().Select(d => d.GetProperty("id").GetInt64().ToString(CultureInfo.InvariantCulture)).ToList();
        var conflict = world.ConflictId.ToString(CultureInfo.InvariantCulture);

        // In order: the replays and the delete come after the reads that expect three dead letters.
        var commands = new (string Command, string[] Args, JsonValueKind Kind)[]
        {
            ("migrate", [], JsonValueKind.Object),
            ("config validate", [], JsonValueKind.Object),
            ("sources", [], JsonValueKind.Array),
            ("status", [], JsonValueKind.Object),
            ("events list", ["--payload"], JsonValueKind.Array),
            ("runs list", ["--status", "parked"], JsonValueKind.Array),
            ("runs show", [runId], JsonValueKind.Object),
            ("dead list", [], JsonValueKind.Array),
            ("conflicts list", ["--status", "all"], JsonValueKind.Array),
            ("conflicts show", [conflict], JsonValueKind.Object),
            ("vectors status", [], JsonValueKind.Array),
            ("trigger", [CliStore.Flow, "--entity", "order-x"], JsonValueKind.Object),
            ("dead replay", [deadIds[0]], JsonValueKind.Object),
            ("dead delete", [deadIds[1]], JsonValueKind.Object),
            ("dead replay", ["--all"], JsonValueKind.Object),
        };

        var leaves = await CliCommandsAsync([]);
        var untested = leaves.Where(l => !NotData.ContainsKey(l) && commands.All(x => x.Command != l)).ToList();
        Assert.True(untested.Count == 0, "commands neither checked for --json nor listed in NotData: " + string.Join(", ", untested));
        Assert.Empty(NotData.Keys.Except(leaves)); // no stale entries

        foreach (var (command, args, kind) in commands)
        {
            var (exit, stdout, stderr) = await CliStore.RunAsync([.. command.Split(' '), .. args, "-c", c, "--json"]);
            Assert.True(exit == CliApp.Ok, $"{command} exited {exit}: {stderr}");
            using var doc = ParseWhole(stdout, command);
            Assert.True(doc.RootElement.ValueKind == kind, $"{command} --json printed a {doc.RootElement.ValueKind}, expected {kind}: {stdout}");
        }

        // Values that matter to scripts, spot-checked: the seeded data really came through.
        var (_, status, _) = await CliStore.RunAsync("status", "-c", c, "--json");
        Assert.Equal(CliStore.Flow, JsonDocument.Parse(status).RootElement.GetProperty("flows")[0].GetProperty("name").GetString());
        var (_, shown, _) = await CliStore.RunAsync("conflicts", "show", conflict, "-c", c, "--json");
        Assert.Equal("retired", JsonDocument.Parse(shown).RootElement.GetProperty("targetValue").GetString());
    }

    [Fact]
    public async Task A_failing_command_with_json_prints_nothing_on_stdout_and_the_error_on_stderr()
    {
        using var world = await CliStore.CreateAsync(deadLetters: 0);
        var (exit, stdout, stderr) = await CliStore.RunAsync("runs", "show", "424242", "-c", world.ConfigPath, "--json");
        Assert.Equal(CliApp.Failure, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith("error:", stderr, StringComparison.Ordinal);
    }

    /// <summary>Parses the whole output as one document: trailing text (a progress line, a second table) fails.</summary>
    private static JsonDocument ParseWhole(string stdout, string command)
    {
        try
        {
            return JsonDocument.Parse(stdout);
        }
        catch (JsonException ex)
        {
            throw new Xunit.Sdk.XunitException($"{command} --json printed something that is not one JSON document ({ex.Message}):\n{stdout}");
        }
    }

    /// <summary>The CLI's leaf commands ("serve", "runs list", ...) read from its own --help output.</summary>
    internal static async Task<List<string>> CliCommandsAsync(string[] path)
    {
        var (exit, stdout, _) = await CliStore.RunAsync([.. path, "--help"]);
        Assert.Equal(CliApp.Ok, exit);
        var names = stdout.Split('\n').SkipWhile(l => !l.StartsWith("Commands:", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal)).Select(l => l.Trim().Split(' ')[0]).ToList();
        if (names.Count == 0) return [string.Join(' ', path)];
        var all = new List<string>();
        foreach (var n in names) all.AddRange(await CliCommandsAsync([.. path, n]));
        return all;
    }
}
