using System.Text.RegularExpressions;
using EventSync.Core.Configuration;

namespace EventSync.Tests.Cli;

/// <summary>
/// samples/deploy: the Dockerfile and the systemd unit keep their essentials (no Docker engine or systemd runs here,
/// so they are parsed, not run), and agree with the sample configuration they ship.
/// </summary>
public sealed partial class DeploySamplesTests
{
    private static readonly string Deploy = Path.Combine(FindRoot(), "samples", "deploy");

    [Fact]
    public void The_systemd_unit_runs_eventsync_serve_as_a_dedicated_user_with_restarts_and_hardening()
    {
        var unit = ParseUnit(File.ReadAllLines(Path.Combine(Deploy, "eventsync.service")));
        var service = unit["Service"];

        Assert.Matches(@"(^|/)eventsync serve\b", Single(service, "ExecStart"));
        Assert.Contains("-c /etc/eventsync/eventsync.yaml", Single(service, "ExecStart"), StringComparison.Ordinal);
        Assert.Equal("on-failure", Single(service, "Restart"));
        Assert.True(Single(service, "User") is { Length: > 0 } user && user != "root" && user != "0", "User must be a dedicated account");
        Assert.StartsWith("/etc/eventsync/", Single(service, "EnvironmentFile"), StringComparison.Ordinal);
        Assert.Equal("yes", Single(service, "NoNewPrivileges"));
        Assert.Equal("strict", Single(service, "ProtectSystem"));
        Assert.Contains(StoreDirectory(), Single(service, "ReadWritePaths").Split(' '));
        Assert.DoesNotContain("MemoryDenyWriteExecute", service.Keys); // breaks the .NET JIT
        Assert.Equal("multi-user.target", Single(unit["Install"], "WantedBy"));
    }

    [Fact]
    public void The_Dockerfile_builds_with_the_sdk_and_runs_as_a_non_root_user_with_a_healthcheck_and_a_volume()
    {
        var lines = Instructions(File.ReadAllText(Path.Combine(Deploy, "Dockerfile")));
        var froms = lines.Where(l => l.Op == "FROM").Select(l => l.Args).ToList();
        Assert.Equal(2, froms.Count);
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:10.0", froms[0], StringComparison.Ordinal);
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:10.0", froms[1], StringComparison.Ordinal);

        // Only the final stage matters for what runs.
        var runtime = lines.SkipWhile(l => l.Args != froms[1]).ToList();
        var user = Assert.Single(runtime, l => l.Op == "USER").Args;
        Assert.DoesNotMatch(@"^(root|0)(:|$)", user);
        Assert.Contains(runtime, l => l.Op == "HEALTHCHECK" && l.Args.Contains("/healthz", StringComparison.Ordinal));
        var defaultPort = new Uri(new ServerOptions().Urls[0]).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(runtime, l => l.Op == "EXPOSE" && l.Args.Split(' ').Contains(defaultPort));
        Assert.Contains(runtime, l => l.Op == "VOLUME" && l.Args.Contains(StoreDirectory(), StringComparison.Ordinal));
        var command = string.Join(' ', runtime.Where(l => l.Op is "ENTRYPOINT" or "CMD").Select(l => l.Args));
        Assert.Contains("\"serve\"", command, StringComparison.Ordinal);
        // Listening beyond loopback inside the container: the URL comes from the environment, the token from the file's ${VAR}.
        Assert.Contains(runtime, l => l.Op == "ENV" && l.Args.Contains("EVENTSYNC_SERVER__URLS=http://0.0.0.0:" + defaultPort, StringComparison.Ordinal));

        // Everything it copies from the repository exists.
        foreach (var copy in lines.Where(l => l.Op == "COPY" && !l.Args.StartsWith("--from", StringComparison.Ordinal)))
            foreach (var source in copy.Args.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1))
                Assert.True(Path.Exists(Path.Combine(FindRoot(), source)), $"COPY {source}: no such file in the repository");
    }

    [Fact]
    public void The_env_file_example_supplies_every_variable_the_sample_configuration_needs()
    {
        var yaml = File.ReadAllText(Path.Combine(Deploy, "eventsync.yaml"));
        var needed = ReferenceRegex().Matches(yaml).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        var supplied = File.ReadAllLines(Path.Combine(Deploy, "eventsync.env.example"))
            .Where(l => l.Contains('=', StringComparison.Ordinal) && !l.TrimStart().StartsWith('#')).Select(l => l[..l.IndexOf('=', StringComparison.Ordinal)].Trim()).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(needed);
        Assert.Empty(needed.Except(supplied));
    }

    /// <summary>The directory of the sample's SQLite store: the volume and the unit's writable path.</summary>
    private static string StoreDirectory()
    {
        var store = Regex.Match(File.ReadAllText(Path.Combine(Deploy, "eventsync.yaml")), @"^store:\s*sqlite:(\S+)", RegexOptions.Multiline);
        Assert.True(store.Success, "samples/deploy/eventsync.yaml names a sqlite store");
        return Path.GetDirectoryName(store.Groups[1].Value)!;
    }

    private static string Single(Dictionary<string, List<string>> section, string key)
    {
        Assert.True(section.TryGetValue(key, out var values), $"the unit has no {key}=");
        return Assert.Single(values!);
    }

    /// <summary>systemd's format: [Section] headers, Key=Value lines (a key may repeat), # and ; comments.</summary>
    private static Dictionary<string, Dictionary<string, List<string>>> ParseUnit(string[] lines)
    {
        var unit = new Dictionary<string, Dictionary<string, List<string>>>(StringComparer.Ordinal);
        Dictionary<string, List<string>>? current = null;
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                current = new Dictionary<string, List<string>>(StringComparer.Ordinal);
                unit[line[1..^1]] = current;
                continue;
            }
            Assert.NotNull(current);
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            Assert.True(eq > 0, $"not a Key=Value line: {line}");
            var key = line[..eq].Trim();
            if (!current.TryGetValue(key, out var values)) current[key] = values = [];
            values.Add(line[(eq + 1)..].Trim());
        }
        return unit;
    }

    /// <summary>Dockerfile instructions with continuation lines joined and comments dropped.</summary>
    private static List<(string Op, string Args)> Instructions(string dockerfile)
    {
        var joined = Regex.Replace(Regex.Replace(dockerfile, @"(?m)^\s*#.*\n", ""), @"\\\r?\n", " ");
        return joined.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' ', 2))
            .Select(p => (p[0].ToUpperInvariant(), Regex.Replace(p.Length > 1 ? p[1] : "", @"\s+", " ").Trim()))
            .ToList();
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EventSync.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no EventSync.sln above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")]
    private static partial Regex ReferenceRegex();
}
