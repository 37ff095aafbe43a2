using EventSync.Cli;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;
using EventSync.Core.Work;
using EventSync.Storage;
using EventSync.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventSync.Tests.Cli;

/// <summary>
/// A configuration and a real SQLite store with something in every table the CLI reads: events (from `trigger`),
/// runs and dead letters (the jobs parked by a sink that refuses them), and an open conflict.
/// </summary>
public sealed class CliStore : IDisposable
{
    public const string Flow = "orders-to-log";
    private readonly string _dir = TempDirectory.Create();

    private CliStore()
    {
        ConfigPath = Path.Combine(_dir, "eventsync.yaml");
        File.WriteAllText(ConfigPath, $$"""
            store: sqlite:{{Path.Combine(_dir, "cli.db")}}
            sources:
              orders: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
            sinks:
              audit: { kind: log }
            flows:
              - { name: {{Flow}}, from: orders, key: $.id, to: audit, retry: { schedule: [] } }
            """);
    }

    public string ConfigPath { get; }
    public string Directory => _dir;
    public long ConflictId { get; private set; }

    /// <summary>Triggers <paramref name="deadLetters"/> entities and parks each of their jobs with a permanent failure.</summary>
    public static async Task<CliStore> CreateAsync(int deadLetters)
    {
        var self = new CliStore();
        try
        {
            await self.FillAsync(deadLetters);
            return self;
        }
        catch
        {
            self.Dispose();
            throw;
        }
    }

    private async Task FillAsync(int deadLetters)
    {
        for (var i = 0; i < deadLetters; i++)
        {
            var (exit, _, stderr) = await RunAsync("trigger", Flow, "--entity", $"order-{i}", "-c", ConfigPath);
            Assert.True(exit == CliApp.Ok, stderr);
        }
        var (config, problems) = ConfigLoader.TryLoad(ConfigPath);
        Assert.Empty(problems);
        await using var store = EventStoreFactory.Open(config!.Store);
        await store.MigrateAsync(CancellationToken.None);
        var refusing = new ScriptedSink("audit");
        for (var i = 0; i < deadLetters; i++) refusing.Then(SinkResult.Permanent("422: name is required"));
        var dispatcher = new JobDispatcher(store, new Dictionary<string, ISink> { ["audit"] = refusing }, config, TimeProvider.System, new WorkSignal(), NullLogger<JobDispatcher>.Instance, "cli-test");
        await Wait.UntilAsync(async () =>
        {
            await dispatcher.RunDueAsync(CancellationToken.None);
            return (await store.ListJobsAsync(JobStatuses.Parked, Flow, 1000, CancellationToken.None)).Count == deadLetters;
        }, TimeSpan.FromSeconds(30), $"{deadLetters} jobs parked");
        ConflictId = await ((ISyncStateStore)store).AddConflictAsync(new ConflictRecord(0, "agents/scout", "Status", "notion-to-github", 1, "notion", "github",
            "draft", "live", "retired", "notion", "newest", ConflictStatuses.Open, DateTimeOffset.UtcNow), CancellationToken.None);
    }

    public static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    public void Dispose() => TempDirectory.Delete(_dir);
}
