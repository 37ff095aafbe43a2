using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace EventSync.Tests.Website;

/// <summary>The GitHub Actions samples in samples/github-actions: valid YAML, legal triggers, one known flow each, only the documented secrets.</summary>
public sealed partial class WorkflowSampleTests
{
    private static readonly string[] Flows = ["github-to-notion", "github-to-website", "notion-to-website", "notion-to-github"];
    private static readonly string[] Secrets = ["GH_PAT", "NOTION_API_KEY", "WEBSITE_API_KEY", "WEBSITE_API_URL", "AGENT_REGISTRY_DB_ID", "ARCHITECTURE_CATALOG_DB_ID"];
    private static readonly string WorkflowDirectory = Path.Combine(FindRoot(), "samples", "github-actions");

    public static TheoryData<string> Workflows() => new(WorkflowFiles());

    private static IEnumerable<string> WorkflowFiles() =>
        Directory.EnumerateFiles(WorkflowDirectory, "*.yml").Order(StringComparer.Ordinal).Select(file => Path.GetFileName(file)!);

    [Fact]
    public void Every_flow_has_exactly_one_workflow()
    {
        var flows = WorkflowFiles().Select(file => FlowsOf(Load(file))).ToList();

        Assert.Equal(4, flows.Count);
        Assert.All(flows, f => Assert.Single(f));
        Assert.Equal(Flows.Order(StringComparer.Ordinal), flows.Select(f => f.Single()).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Workflows))]
    public void No_trigger_filters_with_both_a_list_and_its_ignore_list(string file)
    {
        var on = Map(Load(file), "on");
        Assert.NotEmpty(on.Children);
        foreach (var (trigger, settings) in on.Children)
        {
            if (settings is not YamlMappingNode filters) continue;
            foreach (var filter in new[] { "paths", "branches", "tags" })
            {
                Assert.False(filters.Children.ContainsKey(filter) && filters.Children.ContainsKey(filter + "-ignore"),
                    $"{file}: on.{trigger} has both {filter} and {filter}-ignore, which GitHub rejects");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Workflows))]
    public void Each_job_sets_up_dotnet_10_and_runs_one_known_flow_with_the_sample_configuration(string file)
    {
        var jobs = Map(Load(file), "jobs");
        Assert.NotEmpty(jobs.Children);
        foreach (var (name, job) in jobs.Children)
        {
            var steps = ((YamlSequenceNode)((YamlMappingNode)job)["steps"]).Children.Cast<YamlMappingNode>().ToList();
            Assert.Contains(steps, s => Scalar(s, "uses") == "actions/checkout@v4");
            var dotnet = Assert.Single(steps, s => Scalar(s, "uses") == "actions/setup-dotnet@v4");
            Assert.Equal("10.0.x", Scalar((YamlMappingNode)dotnet["with"], "dotnet-version"));
            var run = Assert.Single(steps.Select(s => Scalar(s, "run")).OfType<string>().Select(r => RunRegex().Match(r)), m => m.Success);
            Assert.True(Flows.Contains(run.Groups["flow"].Value), $"{file}: job {name} runs unknown flow '{run.Groups["flow"].Value}'");
            Assert.Equal("samples/docs-sync/eventsync.yaml", run.Groups["config"].Value);
        }
    }

    [Theory]
    [MemberData(nameof(Workflows))]
    public void Only_the_documented_secrets_are_used_and_the_token_is_read_only(string file)
    {
        var text = File.ReadAllText(Path.Combine(WorkflowDirectory, file));
        var used = SecretRegex().Matches(text).Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.NotEmpty(used);
        Assert.All(used, secret => Assert.Contains(secret, Secrets));

        var permissions = Map(Load(file), "permissions");
        Assert.All(permissions.Children, p => Assert.Equal("read", ((YamlScalarNode)p.Value).Value));
        Assert.DoesNotContain("write-all", text, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Workflows))]
    public void A_flow_wide_concurrency_group_never_cancels_a_running_sync(string file)
    {
        var root = Load(file);
        var concurrency = Map(root, "concurrency");
        var flow = FlowsOf(root).Single();
        Assert.Equal("eventsync-" + flow, Scalar(concurrency, "group"));
        Assert.Equal("false", Scalar(concurrency, "cancel-in-progress"));
    }

    [Fact]
    public void The_sample_checker_sees_a_bad_workflow()
    {
        var bad = Parse("""
            on:
              push:
                paths: ['docs/**']
                paths-ignore: ['docs/drafts/**']
            jobs:
              sync:
                steps:
                  - run: ./eventsync run github-to-slack --config x.yaml
                    env: { TOKEN: "${{ secrets.GITHUB_TOKEN }}" }
            """);
        var push = (YamlMappingNode)Map(bad, "on")["push"];
        Assert.True(push.Children.ContainsKey("paths") && push.Children.ContainsKey("paths-ignore"));
        Assert.DoesNotContain(FlowsOf(bad).Single(), Flows);
        Assert.DoesNotContain(SecretRegex().Match("${{ secrets.GITHUB_TOKEN }}").Groups[1].Value, Secrets);
    }

    private static List<string> FlowsOf(YamlMappingNode root) =>
        Map(root, "jobs").Children.Values.Cast<YamlMappingNode>()
            .SelectMany(job => ((YamlSequenceNode)job["steps"]).Children.Cast<YamlMappingNode>())
            .Select(step => Scalar(step, "run")).OfType<string>()
            .Select(run => RunRegex().Match(run)).Where(m => m.Success).Select(m => m.Groups["flow"].Value).ToList();

    private static YamlMappingNode Load(string file) => Parse(File.ReadAllText(Path.Combine(WorkflowDirectory, file)));

    private static YamlMappingNode Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return (YamlMappingNode)Assert.Single(stream.Documents).RootNode;
    }

    private static YamlMappingNode Map(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlMappingNode map ? map : throw new Xunit.Sdk.XunitException($"no mapping '{key}'");

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode scalar ? scalar.Value : null;

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EventSync.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no EventSync.sln above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"\./eventsync run (?<flow>[a-z0-9-]+) --config (?<config>\S+)")]
    private static partial Regex RunRegex();

    [GeneratedRegex(@"secrets\.([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex SecretRegex();
}
