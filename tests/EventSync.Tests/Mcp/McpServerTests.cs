using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using EventSync.Core.Admin;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Storage;
using EventSync.Tests.Infrastructure;
using EventSync.Tests.Vectors;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace EventSync.Tests.Mcp;

/// <summary>
/// `eventsync mcp` as a real stdio child process driven by the official MCP client: rows in a real PostgreSQL
/// database, indexed by `eventsync vectors reconcile`, searched and inspected per tenant; no tool answers with
/// another tenant's data, and stdout carries nothing but the protocol.
/// </summary>
public sealed class McpServerTests : IAsyncLifetime
{
    private static readonly string CliDll = Path.Combine(AppContext.BaseDirectory, "eventsync.dll");
    private static readonly string[] AcmeRows = ["1", "2"];
    private static readonly string[] GlobexRows = ["3", "4"];
    private static readonly string[] AcmeErrors = ["embedding failed for 1", "embedding failed for 2"];
    private ProjectsDatabase _db = null!;
    private string _dir = null!;
    private string _config = null!;

    public async Task InitializeAsync()
    {
        _db = await ProjectsDatabase.CreateAsync();
        _dir = TempDirectory.Create();
        _config = Path.Combine(_dir, "eventsync.yaml");
        await File.WriteAllTextAsync(_config, $"store: sqlite:{Path.Combine(_dir, "eventsync.db")}\n" + _db.Yaml());
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        TempDirectory.Delete(_dir);
    }

    [Fact]
    public async Task Tools_and_resources_answer_for_one_tenant_only()
    {
        await _db.ExecAsync("""
            INSERT INTO projects (tenant_id, name, description, caracteristicas) VALUES
              ('acme', 'Solar farm in Atacama', 'Photovoltaic plant with battery storage', '{"location": "Chile"}'),
              ('acme', 'Harbour crane upgrade', 'Electrification of container cranes', '{"location": "Valparaiso"}'),
              ('globex', 'Solar rooftop programme', 'Photovoltaic panels on schools', '{"location": "Lima"}'),
              ('globex', 'Wind farm repowering', 'Larger turbines on the old towers', '{"location": "Patagonia"}');
            """);
        var (code, stdout, stderr) = await ServeProcess.RunAsync("vectors", "reconcile", "-c", _config);
        Assert.True(code == 0, stdout + stderr);
        await RecordFailuresAsync();

        var logs = new ConcurrentQueue<string>();
        await using var client = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "eventsync",
            Command = "dotnet",
            Arguments = [CliDll, "mcp", "-c", _config],
            EnvironmentVariables = ChildEnvironment(),
            StandardErrorLines = logs.Enqueue,
        }));

        var tools = await client.ListToolsAsync();
        Assert.Equal(["list_failures", "resync", "search", "sync_status"], tools.Select(t => t.Name).Order(StringComparer.Ordinal));

        // Search: only the tenant's rows, however well another tenant's rows match.
        var acme = await CallAsync(client, "search", new() { ["tenant"] = "acme", ["query"] = "solar photovoltaic panels" });
        var acmeHits = acme.GetProperty("hits").EnumerateArray().ToList();
        Assert.Equal("1", acmeHits[0].GetProperty("entityKey").GetString());
        Assert.All(acmeHits, h => Assert.Contains(h.GetProperty("entityKey").GetString(), AcmeRows));
        Assert.Contains("Atacama", acmeHits[0].GetProperty("content").GetString(), StringComparison.Ordinal);
        var globex = await CallAsync(client, "search", new() { ["tenant"] = "globex", ["query"] = "Atacama harbour crane Chile", ["top"] = 10 });
        Assert.All(globex.GetProperty("hits").EnumerateArray(), h => Assert.Contains(h.GetProperty("entityKey").GetString(), GlobexRows));
        Assert.Empty((await CallAsync(client, "search", new() { ["tenant"] = "initech", ["query"] = "solar" })).GetProperty("hits").EnumerateArray());

        // Tenant values that try to escape their scope: never a row of any tenant, on every tool (a tool error is fine).
        foreach (var hostile in new[] { "acme' OR '1'='1", "*", "%", "ACME", " acme", "acme%", "globex;--", "acme\u0000", "../globex", "{\"$ne\":null}" })
        {
            var search = await client.CallToolAsync("search", new Dictionary<string, object?> { ["tenant"] = hostile, ["query"] = "solar photovoltaic Atacama harbour crane" });
            if (search.IsError is not true) Assert.Empty(JsonDocument.Parse(Text(search)).RootElement.GetProperty("hits").EnumerateArray());
            var failuresOf = await client.CallToolAsync("list_failures", new Dictionary<string, object?> { ["tenant"] = hostile });
            if (failuresOf.IsError is not true) Assert.DoesNotContain("entityKey", Text(failuresOf), StringComparison.Ordinal);
            var resynced = await client.CallToolAsync("resync", new Dictionary<string, object?> { ["tenant"] = hostile, ["entity"] = "1" });
            Assert.True(resynced.IsError is true, $"resync for tenant '{hostile}' of acme's row 1 was accepted: {Text(resynced)}");
        }

        // A tenant is mandatory on every tool: missing or blank is a tool error with a clear message.
        foreach (var (tool, args) in new (string, Dictionary<string, object?>)[]
                 {
                     ("search", new() { ["query"] = "solar" }), ("search", new() { ["tenant"] = "  ", ["query"] = "solar" }),
                     ("sync_status", new()), ("resync", new() { ["entity"] = "1" }), ("list_failures", new() { ["tenant"] = "" }),
                 })
        {
            var error = await client.CallToolAsync(tool, args);
            Assert.True(error.IsError is true, tool);
            Assert.Contains("a tenant is required", Text(error), StringComparison.Ordinal);
        }

        // Status: the tenant's own counts, pending work and last error; nothing of globex's.
        var status = (await CallAsync(client, "sync_status", new() { ["tenant"] = "acme" })).GetProperty("flows")[0];
        Assert.Equal("projects", status.GetProperty("flow").GetString());
        Assert.Equal(2, status.GetProperty("rows").GetInt32());
        Assert.True(status.GetProperty("vectors").GetInt32() >= 2);
        Assert.Equal(1, status.GetProperty("pending").GetInt32()); // entity 2's retry; globex's entity 4 is not counted
        Assert.Contains(status.GetProperty("lastError").GetString(), AcmeErrors);
        Assert.DoesNotContain("globex", status.ToString(), StringComparison.Ordinal);

        // Failures: dead letters and failed runs of the tenant's entities; an entity of no known tenant is shown to no one.
        var failures = await CallAsync(client, "list_failures", new() { ["tenant"] = "acme" });
        Assert.Equal(["1"], Keys(failures.GetProperty("deadLetters")));
        Assert.Equal(["2"], Keys(failures.GetProperty("failedRuns")));
        var theirs = await CallAsync(client, "list_failures", new() { ["tenant"] = "globex" });
        Assert.Equal(["3"], Keys(theirs.GetProperty("deadLetters")));
        Assert.Equal(["4"], Keys(theirs.GetProperty("failedRuns")));
        Assert.DoesNotContain("999", failures.ToString() + theirs, StringComparison.Ordinal);

        // Resync: another tenant's entity is refused (as if it did not exist); the tenant's own rows are queued, only them.
        var refused = await client.CallToolAsync("resync", new Dictionary<string, object?> { ["tenant"] = "acme", ["entity"] = "3" });
        Assert.True(refused.IsError is true);
        Assert.Contains("not a row of tenant 'acme'", Text(refused), StringComparison.Ordinal);
        var one = await CallAsync(client, "resync", new() { ["tenant"] = "acme", ["entity"] = "1" });
        Assert.Equal(1, one.GetProperty("queued")[0].GetProperty("entities").GetInt32());
        var all = await CallAsync(client, "resync", new() { ["tenant"] = "acme" });
        Assert.Equal(2, all.GetProperty("queued")[0].GetProperty("entities").GetInt32());
        Assert.True((await CallAsync(client, "sync_status", new() { ["tenant"] = "acme" })).GetProperty("flows")[0].GetProperty("pending").GetInt32() >= 2);
        Assert.Equal(1, (await CallAsync(client, "sync_status", new() { ["tenant"] = "globex" })).GetProperty("flows")[0].GetProperty("pending").GetInt32());

        // Resources: one status document per tenant of the active index.
        var resources = await client.ListResourcesAsync();
        Assert.Equal(["eventsync://tenants/acme/status", "eventsync://tenants/globex/status"], resources.Select(r => r.Uri).Order(StringComparer.Ordinal));
        var read = await client.ReadResourceAsync("eventsync://tenants/globex/status");
        var document = JsonDocument.Parse(Assert.IsType<TextResourceContents>(Assert.Single(read.Contents)).Text).RootElement;
        Assert.Equal("globex", document.GetProperty("tenant").GetString());
        Assert.Equal(2, document.GetProperty("flows")[0].GetProperty("rows").GetInt32());

        // The client parsed every stdout line as protocol; the log line went to stderr.
        Assert.Contains(logs, l => l.Contains("eventsync mcp: store sqlite:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Stdout_carries_only_protocol_and_closing_stdin_exits_0()
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        foreach (var a in new[] { CliDll, "mcp", "-c", _config }) info.ArgumentList.Add(a);
        foreach (var (key, value) in ChildEnvironment())
            if (value is null) info.Environment.Remove(key);
            else info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        foreach (var message in new[]
                 {
                     """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}""",
                     """{"jsonrpc":"2.0","method":"notifications/initialized"}""",
                     """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search","arguments":{"query":"solar"}}}""",
                     """{"jsonrpc":"2.0","id":3,"method":"resources/list"}""",
                 })
            await process.StandardInput.WriteLineAsync(message);
        await process.StandardInput.FlushAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var lines = new List<string>();
        while (lines.Count < 3 && await process.StandardOutput.ReadLineAsync(cts.Token) is { } line) lines.Add(line);
        // The session is answered; closing stdin ends it, and the process exits cleanly without another byte on stdout.
        process.StandardInput.Close();
        var rest = await process.StandardOutput.ReadToEndAsync(cts.Token);
        await process.WaitForExitAsync(cts.Token);
        var errors = await stderr;
        Assert.True(process.ExitCode == 0, errors);
        Assert.Equal("", rest.Trim());
        Assert.Equal(3, lines.Count);
        var answers = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(answers, a => Assert.Equal("2.0", a.GetProperty("jsonrpc").GetString()));
        Assert.Equal([1, 2, 3], answers.Select(a => a.GetProperty("id").GetInt32()).Order());
        var toolError = answers.Single(a => a.GetProperty("id").GetInt32() == 2).GetProperty("result");
        Assert.True(toolError.GetProperty("isError").GetBoolean());
        Assert.Contains("eventsync mcp: store", errors, StringComparison.Ordinal);
    }

    /// <summary>Parks jobs of entities 1 (acme), 3 (globex) and 999 (no tenant), and fails one attempt of 2 (acme) and 4 (globex).</summary>
    private async Task RecordFailuresAsync()
    {
        var (config, problems) = ConfigLoader.TryLoad(_config, new Dictionary<string, string?>());
        Assert.Empty(problems);
        await using var store = EventStoreFactory.Open(config!.Store);
        var ops = new AdminOperations(store, config, TimeProvider.System);
        foreach (var key in new[] { "1", "2", "3", "4", "999" }) await ops.TriggerAsync("projects", key, "test", CancellationToken.None);
        var now = DateTimeOffset.UtcNow;
        var claimed = await store.ClaimJobsAsync("test-worker", 10, now, TimeSpan.FromMinutes(5), CancellationToken.None);
        Assert.Equal(5, claimed.Count);
        var completions = claimed.Select(c =>
        {
            var park = c.Job.EntityKey is "1" or "3" or "999";
            var error = "embedding failed for " + c.Job.EntityKey;
            var run = new RunRecord(0, c.Job.Id, c.Job.Flow, c.Job.EntityKey, c.Job.Sink, c.Job.Attempts, "test-worker", now, now,
                park ? RunOutcomes.Parked : RunOutcomes.Failed, error, "{}", "[]");
            return new JobCompletion(c.Job.Id, "test-worker", park ? JobOutcome.Park : JobOutcome.Retry, park ? null : now.AddHours(1), error, run);
        }).ToList();
        Assert.All(await store.CompleteJobsAsync(completions, CancellationToken.None), Assert.True);
    }

    /// <summary>As for ServeProcess: the child must not inherit a developer's EVENTSYNC_ overrides.</summary>
    private static Dictionary<string, string?> ChildEnvironment()
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal) { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" };
        foreach (var key in Environment.GetEnvironmentVariables().Keys.Cast<string>())
            if (key.StartsWith("EVENTSYNC_", StringComparison.Ordinal) && key != TestPostgres.Variable) env[key] = null;
        return env;
    }

    private static async Task<JsonElement> CallAsync(McpClient client, string tool, Dictionary<string, object?> args)
    {
        var result = await client.CallToolAsync(tool, args);
        Assert.False(result.IsError is true, Text(result));
        return JsonDocument.Parse(Text(result)).RootElement;
    }

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));

    private static List<string?> Keys(JsonElement items) => [.. items.EnumerateArray().Select(i => i.GetProperty("entityKey").GetString()).Order(StringComparer.Ordinal)];
}
