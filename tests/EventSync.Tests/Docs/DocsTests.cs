using System.Reflection;
using System.Text.RegularExpressions;
using EventSync.Cli;
using EventSync.Core.Configuration;

namespace EventSync.Tests.Docs;

/// <summary>
/// Keeps README.md, docs/ and samples/ true to the code: samples and documented YAML load, the configuration
/// reference lists exactly the keys the loader accepts, and the README lists exactly the CLI's commands.
/// </summary>
public sealed partial class DocsTests
{
    private static readonly string Root = FindRoot();
    private static readonly string ConfigurationDoc = Path.Combine(Root, "docs", "configuration.md");

    /// <summary>Values for the ${VAR} references in samples and documented YAML (valid for the keys they fill).</summary>
    private static readonly Dictionary<string, string?> SampleEnvironment = new(StringComparer.Ordinal)
    {
        ["EVENTSYNC_ADMIN_TOKEN"] = "0123456789abcdef0123456789abcdef",
        ["EVENTSYNC_DB_PASSWORD"] = "sample-password",
        ["GITHUB_WEBHOOK_SECRET"] = "It's a Secret to Everybody",
        ["NOTION_WEBHOOK_TOKEN"] = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl",
        ["SUPABASE_WEBHOOK_SECRET"] = "supabase-shared-secret",
        ["ORDERS_WEBHOOK_SECRET"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ["RELAY_SIGNING_SECRET"] = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        ["APP_DATABASE_URL"] = "postgres://app:secret@127.0.0.1:5432/app",
        ["GITHUB_REPOSITORY"] = "acme/docs",
        ["GH_PAT"] = "ghp_sample",
        ["NOTION_API_KEY"] = "ntn_sample",
        ["AGENT_REGISTRY_DB_ID"] = "1f8e6c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        ["ARCHITECTURE_CATALOG_DB_ID"] = "2a9f7d3b-4c5e-4f6a-9b0c-1d2e3f4a5b6c",
        ["WEBSITE_API_URL"] = "https://www.example.com",
        ["WEBSITE_API_KEY"] = "website-sample-key",
        ["WEBSITE_WEBHOOK_SECRET"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    };

    /// <summary>Option properties whose YAML key is not the camelCase property name.</summary>
    private static readonly Dictionary<string, string> YamlNames = new(StringComparer.Ordinal)
    {
        ["sources.<name>.secretHeader"] = "sources.<name>.header",
        ["sources.<name>.maxBodyBytes"] = "sources.<name>.maxBodySize",
        ["sources.<name>.capture.connection"] = "sources.<name>.connection",
        ["sources.<name>.capture.table"] = "sources.<name>.table",
        ["sources.<name>.capture.outboxSchema"] = "sources.<name>.outboxSchema",
        ["sources.<name>.capture.pollInterval"] = "sources.<name>.pollInterval",
        ["sinks.<name>.vectors.database"] = "sinks.<name>.database",
        ["sinks.<name>.vectors.table"] = "sinks.<name>.table",
        ["sinks.<name>.vectors.keyColumn"] = "sinks.<name>.key",
        ["sinks.<name>.vectors.tenantColumn"] = "sinks.<name>.tenantColumn",
        ["sinks.<name>.vectors.template"] = "sinks.<name>.template",
        ["sinks.<name>.vectors.writeThroughTable"] = "sinks.<name>.writeThrough",
        ["sinks.<name>.vectors.chunkSize"] = "sinks.<name>.chunk.size",
        ["sinks.<name>.vectors.chunkOverlap"] = "sinks.<name>.chunk.overlap",
        ["sinks.<name>.vectors.embedder.kind"] = "sinks.<name>.embedder.kind",
        ["sinks.<name>.vectors.embedder.model"] = "sinks.<name>.embedder.model",
        ["sinks.<name>.vectors.embedder.dimensions"] = "sinks.<name>.embedder.dimensions",
        ["sinks.<name>.vectors.embedder.baseUrl"] = "sinks.<name>.embedder.baseUrl",
        ["sinks.<name>.vectors.embedder.apiKeyEnv"] = "sinks.<name>.embedder.apiKeyEnv",
        ["sinks.<name>.vectors.embedder.batchSize"] = "sinks.<name>.embedder.batchSize",
        ["sinks.<name>.vectors.embedder.sendDimensions"] = "sinks.<name>.embedder.sendDimensions",
        ["connections.<name>.gitHub.repository"] = "connections.<name>.repository",
        ["connections.<name>.gitHub.branch"] = "connections.<name>.branch",
        ["connections.<name>.gitHub.authorName"] = "connections.<name>.author.name",
        ["connections.<name>.gitHub.authorEmail"] = "connections.<name>.author.email",
        ["connections.<name>.gitHub.writeInterval"] = "connections.<name>.writeInterval",
        ["connections.<name>.notion.version"] = "connections.<name>.version",
        ["connections.<name>.notion.requestsPerSecond"] = "connections.<name>.requestsPerSecond",
        ["connections.<name>.notion.reconcile"] = "connections.<name>.reconcile",
        ["connections.<name>.website.upsert"] = "connections.<name>.upsert",
        ["collections[].gitHub.path"] = "collections.<name>.github.path",
        ["collections[].notion.dataSource"] = "collections.<name>.notion.dataSource",
        ["collections[].notion.keyProperty"] = "collections.<name>.notion.keyProperty",
        ["collections[].notion.properties"] = "collections.<name>.notion.properties",
        ["collections[].notion.newOptions"] = "collections.<name>.notion.newOptions",
        ["collections[].website.collection"] = "collections.<name>.website.collection",
        ["collections[].website.resource"] = "collections.<name>.website.resource",
    };

    /// <summary>Option properties that are not YAML keys: the origin, and names that are the mapping's key.</summary>
    private static readonly HashSet<(Type, string)> NotKeys =
    [
        (typeof(EventSyncConfig), nameof(EventSyncConfig.Origin)),
        (typeof(SourceOptions), nameof(SourceOptions.Name)),
        (typeof(SinkOptions), nameof(SinkOptions.Name)),
        (typeof(EmbedderOptions), nameof(EmbedderOptions.ApiKey)),
        (typeof(ConnectionOptions), nameof(ConnectionOptions.Name)),
        (typeof(CollectionOptions), nameof(CollectionOptions.Name)),
    ];

    public static TheoryData<string> Samples()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Root, "samples"), "eventsync.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(Root, file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void A_sample_configuration_loads_without_problems(string sample)
    {
        var path = Path.Combine(Root, sample);
        AssertReferencesSupplied(File.ReadAllText(path), sample);
        var (config, problems) = ConfigLoader.TryLoad(path, SampleEnvironment);
        Assert.True(problems.Count == 0, $"{sample}:{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
        Assert.NotEmpty(config!.Flows);
    }

    [Fact]
    public void Every_YAML_block_in_the_documentation_loads_without_problems()
    {
        var blocks = new List<(string File, string Yaml)>();
        foreach (var file in DocumentationFiles())
            foreach (Match m in YamlBlockRegex().Matches(File.ReadAllText(file)))
                blocks.Add((Path.GetRelativePath(Root, file), m.Groups[1].Value));
        Assert.NotEmpty(blocks);
        foreach (var (file, yaml) in blocks)
        {
            AssertReferencesSupplied(yaml, file);
            var (_, problems) = ConfigLoader.TryParse(yaml, SampleEnvironment, file);
            Assert.True(problems.Count == 0, $"a YAML block in {file}:{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
        }
    }

    [Fact]
    public void Every_key_of_the_option_model_is_in_the_configuration_reference()
    {
        var documented = DocumentedKeys().ToHashSet(StringComparer.Ordinal);
        var missing = ModelKeys().Where(k => !documented.Contains(k)).ToList();
        Assert.True(missing.Count == 0, "docs/configuration.md has no table row for: " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_key_of_the_option_model_is_accepted_by_the_loader()
    {
        // Also proves YamlNames right: a renamed key would be an unknown key here.
        var rejected = ModelKeys().Where(k => !Accepts(k, out _)).ToList();
        Assert.True(rejected.Count == 0, "the loader rejects these keys derived from the option classes (update YamlNames?): " + string.Join(", ", rejected));
    }

    [Fact]
    public void Every_documented_key_is_accepted_by_the_loader()
    {
        var keys = DocumentedKeys();
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
        var rejected = keys.Select(k => (Key: k, Accepted: Accepts(k, out var why), Why: why)).Where(r => !r.Accepted).ToList();
        Assert.True(rejected.Count == 0, "docs/configuration.md documents keys the loader rejects: " + string.Join("; ", rejected.Select(r => $"{r.Key} ({r.Why})")));
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("store.path")]
    [InlineData("server.adminTokn")]
    [InlineData("sources.<name>.maxBodyBytes")]
    [InlineData("sources.<name>.secretHeader")]
    [InlineData("sources.<name>.rateLimit.perMinute")]
    [InlineData("sinks.<name>.retries")]
    [InlineData("flows[].retry.attempts")]
    [InlineData("workers.leaseTime")]
    [InlineData("retention.dead")]
    public void The_key_probe_rejects_keys_the_loader_does_not_know(string key) => Assert.False(Accepts(key, out _), key);

    [Fact]
    public void The_README_lists_exactly_the_CLI_commands()
    {
        var actual = CliCommands([]).ToHashSet(StringComparer.Ordinal);
        var readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        var documented = ReadmeCommandRegex().Matches(readme).Select(m => m.Groups[1].Value.Trim()).ToHashSet(StringComparer.Ordinal);
        var undocumented = actual.Except(documented).Order(StringComparer.Ordinal).ToList();
        var unknown = documented.Except(actual).Order(StringComparer.Ordinal).ToList();
        Assert.True(undocumented.Count + unknown.Count == 0,
            $"README.md misses the commands [{string.Join(", ", undocumented)}] and shows commands the CLI does not have [{string.Join(", ", unknown)}]");
    }

    // ---------------------------------------------------------------- helpers

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EventSync.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no EventSync.sln above {AppContext.BaseDirectory}");
    }

    private static IEnumerable<string> DocumentationFiles() =>
        Directory.EnumerateFiles(Path.Combine(Root, "docs"), "*.md").Prepend(Path.Combine(Root, "README.md"));

    private static void AssertReferencesSupplied(string yaml, string where)
    {
        var unsupplied = ReferenceRegex().Matches(yaml).Where(m => !m.Groups[2].Success).Select(m => m.Groups[1].Value)
            .Where(v => !SampleEnvironment.ContainsKey(v)).Distinct().ToList();
        Assert.True(unsupplied.Count == 0, $"{where} uses ${{VAR}} without a default for {string.Join(", ", unsupplied)}: add a valid value to DocsTests.SampleEnvironment");
    }

    /// <summary>
    /// The YAML keys of the option classes, as dotted paths (sources.&lt;name&gt;.kind, flows[].retry.schedule):
    /// every settable property, camelCase, recursing into the *Options classes.
    /// </summary>
    private static List<string> ModelKeys()
    {
        var keys = new List<string>();
        Walk(typeof(EventSyncConfig), "");
        return keys;

        void Walk(Type type, string prefix)
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (property.SetMethod is not { IsPublic: true } || NotKeys.Contains((type, property.Name))) continue;
                var path = prefix + char.ToLowerInvariant(property.Name[0]) + property.Name[1..];
                var t = property.PropertyType;
                if (GenericArgument(t, typeof(IReadOnlyDictionary<,>), 1) is { } entry && IsOptions(entry)) Walk(entry, path + ".<name>.");
                else if (GenericArgument(t, typeof(IReadOnlyList<>), 0) is { } item && IsOptions(item)) Walk(item, path + "[].");
                else if (IsOptions(t)) Walk(t, path + ".");
                else keys.Add(YamlNames.GetValueOrDefault(path, path));
            }
        }

        static bool IsOptions(Type t) => t.IsClass && t.Namespace == typeof(EventSyncConfig).Namespace && t.Name.EndsWith("Options", StringComparison.Ordinal);

        static Type? GenericArgument(Type t, Type definition, int index) =>
            t.IsGenericType && t.GetGenericTypeDefinition() == definition ? t.GetGenericArguments()[index] : null;
    }

    /// <summary>The first cells of every table in docs/configuration.md whose header's first cell is "Key".</summary>
    private static List<string> DocumentedKeys()
    {
        var keys = new List<string>();
        var inTable = false;
        var keyTable = false;
        foreach (var raw in File.ReadLines(ConfigurationDoc))
        {
            var line = raw.Trim();
            if (!line.StartsWith('|'))
            {
                inTable = false;
                continue;
            }
            var first = line.Trim('|').Split('|')[0].Trim();
            if (!inTable)
            {
                inTable = true;
                keyTable = first == "Key";
                continue;
            }
            if (!keyTable || first.StartsWith("---", StringComparison.Ordinal)) continue;
            var key = KeyCellRegex().Match(first);
            Assert.True(key.Success, $"a row of a Key table in docs/configuration.md does not start with a `key`: {line}");
            keys.Add(key.Groups[1].Value);
        }
        Assert.NotEmpty(keys);
        return keys;
    }

    /// <summary>
    /// Whether the loader knows <paramref name="key"/>: a YAML document setting only that key gets no "unknown key"
    /// problem and no complaint about the key's parents (which would mean it was never read).
    /// </summary>
    private static bool Accepts(string key, out string why)
    {
        var segments = key.Split('.');
        var yaml = "probe-value";
        foreach (var segment in segments.Reverse())
        {
            var name = segment == "<name>" ? "probe" : segment.Replace("[]", "", StringComparison.Ordinal);
            yaml = segment.EndsWith("[]", StringComparison.Ordinal) ? $"{{ {name}: [ {yaml} ] }}" : $"{{ {name}: {yaml} }}";
        }
        var concrete = key.Replace("<name>", "probe", StringComparison.Ordinal).Replace("[]", "[0]", StringComparison.Ordinal);
        var parents = Enumerable.Range(1, concrete.Length - 1).Where(i => concrete[i] is '.' or '[').Select(i => concrete[..i]).ToHashSet(StringComparer.Ordinal);
        var (_, problems) = ConfigLoader.TryParse(yaml, new Dictionary<string, string?>(), "probe");
        var bad = problems.FirstOrDefault(p => p.Message.StartsWith("unknown key", StringComparison.Ordinal) || parents.Contains(p.Path));
        why = bad?.ToString() ?? "";
        return bad is null;
    }

    /// <summary>The CLI's leaf commands ("serve", "runs list", ...) read from its own --help output.</summary>
    private static List<string> CliCommands(string[] path)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        Assert.Equal(0, CliApp.RunAsync([.. path, "--help"], stdout, stderr).GetAwaiter().GetResult());
        var names = stdout.ToString().Split('\n').SkipWhile(l => !l.StartsWith("Commands:", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal)).Select(l => l.Trim().Split(' ')[0]).ToList();
        return names.Count == 0 ? [string.Join(' ', path)] : names.SelectMany(n => CliCommands([.. path, n])).ToList();
    }

    [GeneratedRegex(@"```yaml\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex YamlBlockRegex();

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")]
    private static partial Regex ReferenceRegex();

    [GeneratedRegex("^`([^`]+)`$")]
    private static partial Regex KeyCellRegex();

    /// <summary>"`eventsync runs list [--flow F]`" in a README table row → "runs list".</summary>
    [GeneratedRegex(@"`eventsync((?: [a-z]+)+)(?=[ `])")]
    private static partial Regex ReadmeCommandRegex();
}
