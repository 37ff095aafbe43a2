using System.Net;
using System.Text.Json;
using EventSync.Cli;
using EventSync.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace EventSync.Tests.Cli;

/// <summary>The eventsync command line: exit codes (0 ok, 1 failure, 2 usage), tables, and stable JSON.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = TempDirectory.Create();

    public void Dispose() => TempDirectory.Delete(_dir);

    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private string Write(string yaml)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N")[..8] + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private string LogFlowConfig() => Write($$"""
        store: sqlite:{{Path.Combine(_dir, "cli.db")}}
        sources:
          orders: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
        sinks:
          audit: { kind: log }
        flows:
          - { name: orders-to-log, from: orders, key: $.id, to: audit }
        """);

    [Fact]
    public async Task Config_validate_reports_each_problem_with_its_line_and_fix_and_exits_1()
    {
        var bad = Write("""
            store: sqlite:./x.db
            sources:
              gh: { kind: github, secret: ${CLI_TEST_UNSET_SECRET} }
            sinks:
              out: { kind: webhook }
            flows:
              - { name: f, from: gh, key: $.id, to: nowhere, colour: blue }
            """);
        var (exit, stdout, stderr) = await Run("config", "validate", "-c", bad);
        Assert.Equal(CliApp.Failure, exit);
        Assert.Equal("", stdout);
        Assert.Contains("CLI_TEST_UNSET_SECRET", stderr, StringComparison.Ordinal);
        Assert.Contains("colour", stderr, StringComparison.Ordinal);
        Assert.Contains("nowhere", stderr, StringComparison.Ordinal);
        Assert.Matches(@":3:\d+", stderr); // the unset variable's line

        var (jsonExit, json, _) = await Run("config", "validate", "-c", bad, "--json");
        Assert.Equal(CliApp.Failure, jsonExit);
        using var doc = JsonDocument.Parse(json);
        Assert.False(doc.RootElement.GetProperty("valid").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("problems").GetArrayLength() >= 4);

        var (okExit, ok, _) = await Run("config", "validate", "-c", LogFlowConfig());
        Assert.Equal(CliApp.Ok, okExit);
        Assert.Contains("valid (1 sources, 1 sinks, 1 flows", ok, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_errors_exit_2_with_a_hint()
    {
        var config = LogFlowConfig();
        foreach (var args in new[]
        {
            new[] { "runs", "list", "--bogus" },
            ["frobnicate"],
            ["dead", "replay", "-c", config],
            ["dead", "replay", "7", "--all", "-c", config],
            ["runs", "list", "--since", "last tuesday", "-c", config],
            ["runs", "show", "not-a-number"],
            ["trigger", "no-such-flow", "-c", config],
        })
        {
            var (exit, _, stderr) = await Run(args);
            Assert.True(exit == CliApp.Usage, $"{string.Join(' ', args)} exited {exit}: {stderr}");
            Assert.StartsWith("error:", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Commands_against_the_store_print_tables_and_stable_json()
    {
        var config = LogFlowConfig();
        Assert.Equal(CliApp.Ok, (await Run("migrate", "-c", config)).Exit);

        var (exit, triggered, _) = await Run("trigger", "orders-to-log", "--entity", "o-42", "-c", config, "--json");
        Assert.Equal(CliApp.Ok, exit);
        using (var doc = JsonDocument.Parse(triggered))
            Assert.Equal("o-42", doc.RootElement.GetProperty("entity").GetString());

        var (_, events, _) = await Run("events", "list", "-c", config, "--json");
        using (var doc = JsonDocument.Parse(events))
        {
            var e = Assert.Single(doc.RootElement.EnumerateArray());
            Assert.Equal("trigger", e.GetProperty("type").GetString());
            Assert.Equal("o-42", e.GetProperty("entity").GetString());
        }

        var (_, status, _) = await Run("status", "-c", config);
        Assert.Matches(@"orders-to-log\s+orders\s+audit\s+\S+\s+1\s", status);

        var (_, table, _) = await Run("dead", "list", "-c", config);
        Assert.Contains("(no dead letters)", table, StringComparison.Ordinal);
        var (missingExit, _, missing) = await Run("runs", "show", "999", "-c", config);
        Assert.Equal(CliApp.Failure, missingExit);
        Assert.Contains("runs list", missing, StringComparison.Ordinal);
        var (notDeadExit, _, notDead) = await Run("dead", "replay", "999", "-c", config);
        Assert.Equal(CliApp.Failure, notDeadExit);
        Assert.Contains("dead list", notDead, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dead_letters_are_listed_shown_replayed_and_deleted_from_the_cli()
    {
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = _ => Results.Json(new { error = "name is required" }, statusCode: 422);
        var flows = $$"""
            sources:
              orders: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
            sinks:
              relay: { kind: webhook, url: "{{receiver.Url}}", secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD" }
            flows:
              - { name: relay-orders, from: orders, key: $.id, to: relay }
            workers: { pollInterval: 100ms }
            """;
        await using var server = await TestServer.StartAsync(flows);
        var config = Write($"store: sqlite:{server.Config.Store.ConnectionString}\n{flows}");
        foreach (var id in new[] { "a", "b" })
            Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("orders", "msg_" + id, $$"""{"id":"o-{{id}}"}""")).StatusCode);

        JsonElement[] dead = [];
        await Wait.UntilAsync(async () =>
        {
            var (_, json, _) = await Run("dead", "list", "-c", config, "--json");
            dead = JsonSerializer.Deserialize<JsonElement[]>(json)!;
            return dead.Length == 2;
        }, TimeSpan.FromSeconds(20), "both jobs parked by the 422");
        Assert.All(dead, d => Assert.Contains("422", d.GetProperty("lastError").GetString(), StringComparison.Ordinal));

        var (_, runs, _) = await Run("runs", "list", "--flow", "relay-orders", "--status", "parked", "-c", config, "--json");
        var runId = JsonSerializer.Deserialize<JsonElement[]>(runs)![0].GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (showExit, shown, _) = await Run("runs", "show", runId, "-c", config);
        Assert.Equal(CliApp.Ok, showExit);
        Assert.Contains("outcome   parked", shown, StringComparison.Ordinal);
        Assert.Contains("name is required", shown, StringComparison.Ordinal);

        var first = dead[0].GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var second = dead[1].GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(CliApp.Ok, (await Run("dead", "delete", first, "-c", config)).Exit);
        receiver.Respond = _ => Results.Ok();
        var (replayExit, replayed, _) = await Run("dead", "replay", "--all", "-c", config, "--json");
        Assert.Equal(CliApp.Ok, replayExit);
        using (var doc = JsonDocument.Parse(replayed))
            Assert.Equal(1, doc.RootElement.GetProperty("replayed").GetInt32());
        await Wait.UntilAsync(() => receiver.Requests.Count(r => r.Entity == dead[1].GetProperty("entityKey").GetString()) == 2, TimeSpan.FromSeconds(20), $"replayed job {second} delivered");
        Assert.Contains("(no dead letters)", (await Run("dead", "list", "-c", config)).Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_refuses_an_invalid_configuration_and_a_public_address_without_a_token()
    {
        var (exit, _, stderr) = await ServeProcess.RunAsync("serve", "-c", Write("sources:\n  x: { kind: carrier-pigeon }\n"));
        Assert.Equal(CliApp.Failure, exit);
        Assert.Contains("carrier-pigeon", stderr, StringComparison.Ordinal);

        var (publicExit, _, publicError) = await ServeProcess.RunAsync("serve", "-c", LogFlowConfig(), "--urls", "http://0.0.0.0:0");
        Assert.Equal(CliApp.Failure, publicExit);
        Assert.Contains("adminToken", publicError, StringComparison.Ordinal);
    }
}
