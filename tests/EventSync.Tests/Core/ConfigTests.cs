using EventSync.Core.Configuration;

namespace EventSync.Tests.Core;

public sealed class ConfigTests
{
    private const string Valid = """
        store: sqlite:./x.db
        server: { urls: http://127.0.0.1:5080, adminToken: ${ADMIN_TOKEN} }
        sources:
          github: { kind: github, secret: ${GITHUB_WEBHOOK_SECRET} }
          notion: { kind: notion }
          supabase: { kind: supabase, sharedSecret: s3cret-s3cret }
          orders: { kind: standard-webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, maxBodySize: 1MiB }
        sinks:
          relay: { kind: webhook, url: http://127.0.0.1:9000/in, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }
        flows:
          - name: relay-orders
            from: orders
            events: ["*"]
            key: $.id
            to: relay
            settle: 500ms
            retry: { schedule: [2s, 4s, 8s] }
        """;

    private static readonly Dictionary<string, string?> Env = new() { ["ADMIN_TOKEN"] = "0123456789abcdef0123", ["GITHUB_WEBHOOK_SECRET"] = "gh-secret" };

    [Fact]
    public void The_documented_shape_loads_with_typed_values()
    {
        var (config, problems) = ConfigLoader.TryParse(Valid, Env);
        Assert.Empty(problems);
        Assert.Equal(StoreKind.Sqlite, config!.Store.Kind);
        Assert.Equal("gh-secret", config.Sources["github"].Secret);
        Assert.Equal(1024 * 1024, config.Sources["orders"].MaxBodyBytes);
        var flow = Assert.Single(config.Flows);
        Assert.Equal(TimeSpan.FromMilliseconds(500), flow.Settle);
        Assert.Equal([TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8)], flow.Retry.Schedule);
        Assert.Equal(4, flow.Retry.MaxAttempts);
    }

    [Fact]
    public void No_file_means_defaults()
    {
        var (config, problems) = ConfigLoader.TryParse("", new Dictionary<string, string?>());
        Assert.Empty(problems);
        Assert.Equal(new StoreLocation(StoreKind.Sqlite, "./eventsync.db"), config!.Store);
        Assert.Equal(["http://127.0.0.1:5080"], config.Server.Urls);
    }

    [Fact]
    public void An_unset_variable_is_an_error_that_names_it()
    {
        var (_, problems) = ConfigLoader.TryParse(Valid, new Dictionary<string, string?> { ["ADMIN_TOKEN"] = "0123456789abcdef0123" });
        var p = Assert.Single(problems);
        Assert.Contains("GITHUB_WEBHOOK_SECRET", p.Message, StringComparison.Ordinal);
        Assert.Equal(4, p.Line);
        Assert.Contains("export GITHUB_WEBHOOK_SECRET", p.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_variables_override_keys_the_dotnet_way()
    {
        var env = new Dictionary<string, string?>(Env)
        {
            ["EVENTSYNC_STORE"] = "postgres:Host=db;Database=x;Username=u;Password=hunter2",
            ["EVENTSYNC_SOURCES__ORDERS__MAXBODYSIZE"] = "2MiB",
            ["EVENTSYNC_FLOWS__0__SETTLE"] = "3s",
            ["EVENTSYNC_ADMIN_TOKEN"] = "not-a-config-key",
        };
        var (config, problems) = ConfigLoader.TryParse(Valid, env);
        Assert.Empty(problems);
        Assert.Equal(StoreKind.Postgres, config!.Store.Kind);
        Assert.DoesNotContain("hunter2", config.Store.Describe(), StringComparison.Ordinal);
        Assert.Equal(2 * 1024 * 1024, config.Sources["orders"].MaxBodyBytes);
        Assert.Equal(TimeSpan.FromSeconds(3), config.Flows[0].Settle);
    }

    [Fact]
    public void Every_problem_is_reported_with_its_location_and_a_fix()
    {
        const string yaml = """
            store: mysql://nope
            sources:
              gh: { kind: gitlab }
              orders: { kind: standard-webhooks, secret: whsec_short }
            sinks:
              relay: { kind: webhook, url: not-a-url }
            flows:
              - name: f1
                from: missing-source
                to: missing-sink
                settle: soon
                maxWait: 1s
                key: id
                retry: { schedule: [2s, -1s], jitter: 2 }
                pathz: [docs/**]
            """;
        var (config, problems) = ConfigLoader.TryParse(yaml, new Dictionary<string, string?>(), "bad.yaml");
        Assert.Null(config);
        var text = string.Join('\n', problems.Select(p => p.ToString()));
        foreach (var expected in new[] { "store:", "unknown source kind 'gitlab'", "whsec_", "not an absolute http(s) URL", "source 'missing-source' is not defined",
                     "sink 'missing-sink' is not defined", "'soon' is not a duration", "'id' is not a supported JSON path", "'-1s' is not a positive duration",
                     "jitter must be", "unknown key 'pathz'" })
            Assert.Contains(expected, text, StringComparison.Ordinal);
        Assert.All(problems, p => Assert.False(string.IsNullOrWhiteSpace(p.Fix)));
        Assert.Contains(problems, p => p.Line == 9 && p.Path == "flows[0].from");
        Assert.StartsWith("bad.yaml:", problems[0].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_overrides_reach_camel_case_keys_that_the_file_does_not_set()
    {
        var env = new Dictionary<string, string?>(Env)
        {
            ["EVENTSYNC_SERVER__ADMINTOKEN"] = "0123456789abcdef0123",
            ["EVENTSYNC_WORKERS__POLLINTERVAL"] = "250ms",
            ["EVENTSYNC_FLOWS__0__MAXWAIT"] = "2m",
        };
        var (config, problems) = ConfigLoader.TryParse(Valid, env);
        Assert.Empty(problems);
        Assert.Equal("0123456789abcdef0123", config!.Server.AdminToken);
        Assert.Equal(TimeSpan.FromMilliseconds(250), config.Workers.PollInterval);
        Assert.Equal(TimeSpan.FromMinutes(2), config.Flows[0].MaxWait);
    }

    [Theory]
    [InlineData("sources: { s: { kind: github, secret: x, maxBodySize: 2000x } }", "sources.s.maxBodySize")]
    [InlineData("sources: { s: { kind: github, secret: x, maxBodySize: 12 MB of stuff } }", "sources.s.maxBodySize")]
    [InlineData("retention: { events: 0s }", "retention.events")]
    [InlineData("retention: { pruneInterval: 0s }", "retention.pruneInterval")]
    [InlineData("sinks: { out: { kind: webhook, url: http://127.0.0.1:9/in } }", "sinks.out.secret")]
    public void Values_that_would_misbehave_at_run_time_are_refused(string yaml, string path)
    {
        var (config, problems) = ConfigLoader.TryParse(yaml, new Dictionary<string, string?>());
        Assert.Null(config);
        Assert.Contains(problems, p => p.Path == path);
    }

    [Fact]
    public void A_missing_file_is_reported_under_its_own_name()
    {
        var (_, problems) = ConfigLoader.TryLoad("/nonexistent/eventsync.yaml", new Dictionary<string, string?>());
        Assert.StartsWith("/nonexistent/eventsync.yaml", Assert.Single(problems).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_public_address_without_an_admin_token_is_refused()
    {
        var (_, problems) = ConfigLoader.TryParse("server: { urls: http://0.0.0.0:5080 }", new Dictionary<string, string?>());
        Assert.Contains(problems, p => p.Path == "server.urls" && p.Message.Contains("admin token", StringComparison.Ordinal));
    }

    [Fact]
    public void Invalid_yaml_is_reported_with_a_position()
    {
        var (_, problems) = ConfigLoader.TryParse("sources:\n  a: { kind: github\n", new Dictionary<string, string?>());
        var p = Assert.Single(problems);
        Assert.Contains("invalid YAML", p.Message, StringComparison.Ordinal);
        Assert.True(p.Line > 0);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("2s", 2000)]
    [InlineData("1.5m", 90_000)]
    [InlineData("00:00:03", 3000)]
    [InlineData("1d", 86_400_000)]
    public void Durations_parse(string text, int ms)
    {
        Assert.True(Durations.TryParse(text, out var d));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), d);
    }
}
