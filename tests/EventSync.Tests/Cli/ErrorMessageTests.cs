using EventSync.Cli;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.Cli;

/// <summary>Common mistakes: each gets its exit code (1 failure, 2 usage) and one message that says how to fix it.</summary>
public sealed class ErrorMessageTests : IDisposable
{
    private readonly string _dir = TempDirectory.Create();

    public void Dispose() => TempDirectory.Delete(_dir);

    public static TheoryData<string, string[], int, string[]> Mistakes() => new()
    {
        // what, arguments ({config} = a valid configuration), exit code, what the message must name
        { "unknown flow", ["trigger", "no-such-flow", "-c", "{config}"], CliApp.Usage, ["no-such-flow", "known flows: orders-to-log"] },
        { "missing id", ["runs", "show", "-c", "{config}"], CliApp.Usage, ["missing", "eventsync runs show --help"] },
        { "neither id nor --all", ["dead", "replay", "-c", "{config}"], CliApp.Usage, ["give a dead letter id or --all"] },
        { "no such run", ["runs", "show", "999", "-c", "{config}"], CliApp.Failure, ["no run 999", "eventsync runs list"] },
        { "no such dead letter", ["dead", "delete", "999", "-c", "{config}"], CliApp.Failure, ["eventsync dead list"] },
        { "no such conflict", ["conflicts", "show", "999", "-c", "{config}"], CliApp.Failure, ["no conflict 999", "eventsync conflicts list"] },
        { "bad --since", ["runs", "list", "--since", "last tuesday", "-c", "{config}"], CliApp.Usage, ["last tuesday", "1h", "ISO 8601"] },
        { "bad --status", ["runs", "list", "--status", "broken", "-c", "{config}"], CliApp.Usage, ["broken", "parked", "eventsync runs list --help"] },
        { "bad --limit", ["dead", "list", "--limit", "0", "-c", "{config}"], CliApp.Usage, ["--limit must be 1 to 100000, not 0"] },
        { "unknown option", ["events", "list", "--sorce", "github"], CliApp.Usage, ["--sorce", "eventsync events list --help"] },
        { "unknown command", ["frobnicate"], CliApp.Usage, ["frobnicate", "eventsync --help"] },
        { "store unreachable (PostgreSQL)", ["status", "-c", "{unreachable-postgres}"], CliApp.Failure, ["cannot open the store", "Password=***", "PostgreSQL is running"] },
        { "store unreachable (SQLite)", ["dead", "list", "-c", "{unwritable-sqlite}"], CliApp.Failure, ["cannot open the store", "point `store`"] },
        { "invalid config", ["status", "-c", "{invalid}"], CliApp.Failure, ["'to' is required", "Fix:", "eventsync config validate"] },
        { "missing config file", ["status", "-c", "{missing}"], CliApp.Failure, ["does not exist", "Fix:"] },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public async Task A_common_mistake_gets_its_exit_code_and_a_message_naming_the_fix(string what, string[] args, int exitCode, string[] mentions)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["{config}"] = Write("config", $"store: sqlite:{Path.Combine(_dir, "cli.db")}\nsources:\n  orders: {{ kind: standard-webhooks, secret: {TestServer.OrdersSecret} }}\nsinks:\n  audit: {{ kind: log }}\nflows:\n  - {{ name: orders-to-log, from: orders, key: $.id, to: audit }}\n"),
            // Port 1 on loopback: nothing listens, so the connection is refused at once.
            ["{unreachable-postgres}"] = Write("pg", "store: postgres:Host=127.0.0.1;Port=1;Database=eventsync;Username=eventsync;Password=hunter2-secret;Timeout=5\n"),
            // A file where the store's directory would have to be.
            ["{unwritable-sqlite}"] = Write("sqlite", $"store: sqlite:{Path.Combine(_dir, "config.yaml", "sub", "x.db")}\n"),
            ["{invalid}"] = Write("invalid", "sources:\n  orders: { kind: standard-webhooks, secret: " + TestServer.OrdersSecret + " }\nflows:\n  - { name: f, from: orders }\n"),
            ["{missing}"] = Path.Combine(_dir, "nope.yaml"),
        };
        var (exit, stdout, stderr) = await CliStore.RunAsync([.. args.Select(a => files.GetValueOrDefault(a, a))]);

        Assert.True(exit == exitCode, $"{what}: exited {exit}, expected {exitCode}; stderr: {stderr}");
        Assert.Equal("", stdout);
        foreach (var m in mentions) Assert.True(stderr.Contains(m, StringComparison.Ordinal), $"{what}: the message does not mention '{m}':\n{stderr}");
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal); // never a stack trace
        Assert.DoesNotContain("hunter2-secret", stderr, StringComparison.Ordinal); // nor a password
    }

    private string Write(string name, string yaml)
    {
        var path = Path.Combine(_dir, name + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }
}
