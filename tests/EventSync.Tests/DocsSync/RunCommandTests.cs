using System.Text.Json.Nodes;
using EventSync.Cli;
using EventSync.Emulators.GitHub;
using EventSync.Emulators.Notion;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.DocsSync;

/// <summary>`eventsync run FLOW` as a GitHub Actions step runs it: event from GITHUB_EVENT_PATH, summary to GITHUB_STEP_SUMMARY.</summary>
[Collection(nameof(ProcessEnvironment))]
public sealed class RunCommandTests
{
    [Fact]
    public async Task Run_syncs_the_workflow_event_and_writes_a_job_summary()
    {
        await using var github = await GitHubEmulator.StartAsync(new GitHubEmulatorOptions { Token = "ghp_test" });
        await using var notion = await NotionEmulator.StartAsync(new NotionEmulatorOptions { RequestsPerSecond = 1000, Burst = 1000 });
        github.CreateRepository("acme/docs");
        var head = await github.PushAsync("acme/docs", "main", new Dictionary<string, string?> { ["agents/scout.yaml"] = "name: Scout\nstatus: active\n" }, "add scout");
        var (_, agents) = notion.CreateDatabase("Agent Registry", EmulateCommand.AgentRegistrySchema);
        var dir = TempDirectory.Create();
        try
        {
            var config = Path.Combine(dir, "eventsync.yaml");
            await File.WriteAllTextAsync(config, $$"""
                store: sqlite:{{Path.Combine(dir, "run.db")}}
                connections:
                  github: { kind: github, repository: acme/docs, token: ghp_test, apiUrl: "{{github.BaseUrl}}", writeInterval: 0s }
                  notion: { kind: notion, token: {{notion.Options.Token}}, apiUrl: "{{notion.BaseUrl}}", requestsPerSecond: 50 }
                collections:
                  agents:
                    github: { path: agents/*.yaml }
                    notion: { dataSource: {{agents}}, properties: { name: Name, status: Status } }
                sources:
                  github: { kind: github, connection: github }
                  notion: { kind: notion, connection: notion }
                sinks:
                  notion: { kind: notion, connection: notion }
                  github: { kind: github, connection: github }
                flows:
                  - { name: github-to-notion, from: github, events: [push], branches: [main], key: $.repository.full_name, to: notion }
                  - { name: notion-to-github, from: notion, events: ["page.*"], key: $.entity.id, to: github }
                """);
            var eventPath = Path.Combine(dir, "event.json");
            await File.WriteAllTextAsync(eventPath, new JsonObject
            {
                ["ref"] = "refs/heads/main", ["before"] = new string('0', 40), ["after"] = head, ["created"] = true, ["deleted"] = false,
                ["repository"] = new JsonObject { ["full_name"] = "acme/docs" }, ["head_commit"] = new JsonObject { ["id"] = head, ["author"] = new JsonObject { ["name"] = "octocat" } },
            }.ToJsonString());
            var summary = Path.Combine(dir, "summary.md");
            using var env = ProcessEnvironment.Set(("GITHUB_EVENT_NAME", "push"), ("GITHUB_EVENT_PATH", eventPath), ("GITHUB_STEP_SUMMARY", summary), ("GITHUB_RUN_ID", "42"));

            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Assert.Equal(0, await CliApp.RunAsync(["run", "github-to-notion", "-c", config], stdout, stderr));
            var page = Assert.Single(notion.Pages(agents));
            Assert.Equal("Scout", DocsSyncWorld.Property(page, "Name"));
            var text = await File.ReadAllTextAsync(summary);
            Assert.Contains("## EventSync: github-to-notion", text, StringComparison.Ordinal);
            Assert.Contains("notion:page/", text, StringComparison.Ordinal);
            Assert.Contains(head, text, StringComparison.Ordinal); // event metadata: the pushed sha

            Assert.Equal(0, await CliApp.RunAsync(["conflicts", "list", "-c", config], stdout, stderr));
            Assert.Contains("(no conflicts)", stdout.ToString(), StringComparison.Ordinal);

            // A flow from Notion runs a reconciliation pass instead of reading the workflow's event.
            notion.CreatePageAsUser(agents, new JsonObject
            {
                ["Name"] = new JsonObject { ["title"] = new JsonArray(new JsonObject { ["text"] = new JsonObject { ["content"] = "Planner" } }) },
                ["Status"] = new JsonObject { ["select"] = new JsonObject { ["name"] = "draft" } },
            });
            using (ProcessEnvironment.Set(("GITHUB_EVENT_NAME", "repository_dispatch")))
                Assert.Equal(0, await CliApp.RunAsync(["run", "notion-to-github", "-c", config], stdout, stderr));
            Assert.Contains("status: draft", github.ReadFile("acme/docs", "main", "agents/planner.yaml"), StringComparison.Ordinal);
            Assert.Contains("reconciliation of notion found", await File.ReadAllTextAsync(summary), StringComparison.Ordinal);

            // Outside Actions the command says what it needs.
            using var none = ProcessEnvironment.Set(("GITHUB_EVENT_NAME", null), ("GITHUB_EVENT_PATH", null));
            var err = new StringWriter();
            Assert.Equal(2, await CliApp.RunAsync(["run", "github-to-notion", "-c", config], new StringWriter(), err));
            Assert.Contains("GITHUB_EVENT_NAME", err.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }
}

/// <summary>Tests that set process environment variables run one at a time (xunit collection).</summary>
[CollectionDefinition(nameof(ProcessEnvironment), DisableParallelization = true)]
public sealed class ProcessEnvironment : IDisposable
{
    private readonly (string Name, string? Old)[] _saved;

    private ProcessEnvironment((string Name, string? Value)[] values)
    {
        _saved = values.Select(v => (v.Name, Environment.GetEnvironmentVariable(v.Name))).ToArray();
        foreach (var (name, value) in values) Environment.SetEnvironmentVariable(name, value);
    }

    public static ProcessEnvironment Set(params (string Name, string? Value)[] values) => new(values);

    public void Dispose()
    {
        foreach (var (name, old) in _saved) Environment.SetEnvironmentVariable(name, old);
    }
}
