using System.Net;
using System.Text.Json.Nodes;
using EventSync.Emulators.GitHub;

namespace EventSync.Tests.GitHub;

/// <summary>The emulator itself, over raw HTTP: the behaviour a client bug would run into.</summary>
public sealed class GitHubEmulatorTests
{
    private const string R = "repos/" + GitHubFixture.Repo;

    private static async Task<JsonNode> JsonAsync(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    [Fact]
    public async Task Object_ids_are_the_ones_git_computes()
    {
        var time = GitHubFixture.FakeTime();
        await using var gh = await GitHubFixture.StartAsync(time);
        // Expected ids from `git hash-object`, `git write-tree` and `git commit-tree` on the same content and dates.
        var head = await gh.Emulator.PushAsync(GitHubFixture.Repo, "main", new Dictionary<string, string?> { ["hello.txt"] = "hello\n", ["docs/guide.md"] = "# Guide\n" }, "first");
        Assert.Equal("89df6173be2f5f8d811d61fc896ad4cf421fa4ab", head);
        var commit = await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/git/commits/{head}"));
        Assert.Equal("fd95dd14da914c1d349156adf4831e73cc8f1108", commit["tree"]!["sha"]!.GetValue<string>());
        var tree = await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/git/trees/{head}?recursive=1"));
        var entries = tree["tree"]!.AsArray().Select(e => (e!["path"]!.GetValue<string>(), e["sha"]!.GetValue<string>(), e["mode"]!.GetValue<string>())).ToList();
        Assert.Contains(("hello.txt", "ce013625030ba8dba906f756967f9e9ca394464a", "100644"), entries);
        Assert.Contains(("docs", "a2cee25e07384988b388900d21dd2c9bd32ed487", "040000"), entries);
        var blob = await JsonAsync(await gh.RawAsync(HttpMethod.Post, $"{R}/git/blobs", """{"content":"aGVsbG8K","encoding":"base64"}"""));
        Assert.Equal("ce013625030ba8dba906f756967f9e9ca394464a", blob["sha"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_ref_moves_only_fast_forward_unless_forced()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var first = await gh.Emulator.PushAsync(GitHubFixture.Repo, "main", new Dictionary<string, string?> { ["a.md"] = "a" }, "one");
        var second = await gh.Emulator.PushAsync(GitHubFixture.Repo, "main", new Dictionary<string, string?> { ["a.md"] = "b" }, "two");

        var back = await gh.RawAsync(HttpMethod.Patch, $"{R}/git/refs/heads/main", $$"""{"sha":"{{first}}","force":false}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, back.StatusCode);
        Assert.Equal("Update is not a fast forward", (await JsonAsync(back))["message"]!.GetValue<string>());
        Assert.Equal(second, gh.Emulator.BranchHead(GitHubFixture.Repo, "main"));

        var forced = await gh.RawAsync(HttpMethod.Patch, $"{R}/git/refs/heads/main", $$"""{"sha":"{{first}}","force":true}""");
        Assert.Equal(HttpStatusCode.OK, forced.StatusCode);
        Assert.Equal(first, gh.Emulator.BranchHead(GitHubFixture.Repo, "main"));
        Assert.Equal(HttpStatusCode.NotFound, (await gh.RawAsync(HttpMethod.Get, $"{R}/git/ref/heads/nope")).StatusCode);
    }

    [Fact]
    public async Task Tree_creation_is_as_strict_as_GitHub()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var head = await gh.Emulator.PushAsync(GitHubFixture.Repo, "main", new Dictionary<string, string?> { ["a.md"] = "a", ["b.md"] = "b" }, "one");
        var baseTree = (await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/git/commits/{head}")))["tree"]!["sha"]!.GetValue<string>();

        var deleteMissing = await gh.RawAsync(HttpMethod.Post, $"{R}/git/trees", $$"""{"base_tree":"{{baseTree}}","tree":[{"path":"zzz.md","mode":"100644","type":"blob","sha":null}]}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, deleteMissing.StatusCode);
        var both = await gh.RawAsync(HttpMethod.Post, $"{R}/git/trees", $$"""{"base_tree":"{{baseTree}}","tree":[{"path":"a.md","mode":"100644","type":"blob","sha":"ce013625030ba8dba906f756967f9e9ca394464a","content":"x"}]}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, both.StatusCode);

        // Without base_tree the new tree holds only what is listed.
        var alone = await JsonAsync(await gh.RawAsync(HttpMethod.Post, $"{R}/git/trees", """{"tree":[{"path":"c/d.md","mode":"100644","type":"blob","content":"d"}]}"""));
        var full = await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/git/trees/{alone["sha"]!.GetValue<string>()}?recursive=1"));
        Assert.Equal(["c", "c/d.md"], full["tree"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()));

        var deleted = await JsonAsync(await gh.RawAsync(HttpMethod.Post, $"{R}/git/trees", $$"""{"base_tree":"{{baseTree}}","tree":[{"path":"a.md","mode":"100644","type":"blob","sha":null}]}"""));
        Assert.Equal(["b.md"], deleted["tree"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Compare_reports_status_merge_base_renames_and_404_for_an_unknown_base()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var one = await gh.Emulator.PushAsync(GitHubFixture.Repo, "main", new Dictionary<string, string?> { ["old.md"] = "same", ["x.md"] = "x" }, "one");
        var two = await gh.Emulator.PushAsync(GitHubFixture.Repo, "main", new Dictionary<string, string?> { ["old.md"] = null, ["new.md"] = "same", ["x.md"] = "x2" }, "two");

        var ahead = await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/compare/{one}...{two}"));
        Assert.Equal("ahead", ahead["status"]!.GetValue<string>());
        Assert.Equal(one, ahead["merge_base_commit"]!["sha"]!.GetValue<string>());
        Assert.Equal([two], ahead["commits"]!.AsArray().Select(c => c!["sha"]!.GetValue<string>()));
        var files = ahead["files"]!.AsArray().ToDictionary(f => f!["filename"]!.GetValue<string>(), f => f!);
        Assert.Equal("renamed", files["new.md"]["status"]!.GetValue<string>());
        Assert.Equal("old.md", files["new.md"]["previous_filename"]!.GetValue<string>());
        Assert.Equal("modified", files["x.md"]["status"]!.GetValue<string>());
        Assert.Equal(2, files.Count);

        var restCommit = await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/commits/main"));
        Assert.Equal(two, restCommit["sha"]!.GetValue<string>());
        Assert.Equal(2, restCommit["files"]!.AsArray().Count);
        Assert.Equal(one, restCommit["parents"]![0]!["sha"]!.GetValue<string>());

        Assert.Equal("behind", (await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/compare/{two}...{one}")))["status"]!.GetValue<string>());
        Assert.Equal("identical", (await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/compare/main...{two}")))["status"]!.GetValue<string>());
        var other = await gh.Emulator.ForcePushAsync(GitHubFixture.Repo, "main", one, new Dictionary<string, string?> { ["y.md"] = "y" }, "rewrite");
        Assert.Equal("diverged", (await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/compare/{two}...{other}")))["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await gh.RawAsync(HttpMethod.Get, $"{R}/compare/{new string('a', 40)}...{two}")).StatusCode);
    }

    [Fact]
    public async Task Compare_caps_files_at_300()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var one = await gh.Emulator.PushAsync(GitHubFixture.Repo, "main", new Dictionary<string, string?> { ["readme.md"] = "r" }, "one");
        var many = Enumerable.Range(0, 320).ToDictionary(i => $"pages/p{i:D3}.md", i => (string?)$"page {i}");
        var two = await gh.Emulator.PushAsync(GitHubFixture.Repo, "main", many, "many");
        var compare = await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/compare/{one}...{two}"));
        Assert.Equal(300, compare["files"]!.AsArray().Count);
    }

    [Fact]
    public async Task Every_response_carries_rate_limit_headers_and_auth_is_required()
    {
        await using var gh = await GitHubFixture.StartAsync();
        using var ok = await gh.RawAsync(HttpMethod.Get, R);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        foreach (var name in new[] { "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset", "x-ratelimit-resource" })
            Assert.True(ok.Headers.Contains(name), name);
        Assert.Equal("4999", ok.Headers.GetValues("x-ratelimit-remaining").Single());

        using var wrong = await gh.RawAsync(HttpMethod.Get, R, token: "nope");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("Bad credentials", (await JsonAsync(wrong))["message"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Unauthorized, (await gh.RawAsync(HttpMethod.Get, R, token: null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await gh.RawAsync(HttpMethod.Get, R, userAgent: null)).StatusCode);
        using var rate = await gh.RawAsync(HttpMethod.Get, "rate_limit", token: null);
        Assert.Equal(4999, (await JsonAsync(rate))["resources"]!["core"]!["remaining"]!.GetValue<int>());
    }

    [Fact]
    public async Task Contents_over_one_megabyte_come_without_content()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var big = new string('x', 1024 * 1024 + 10);
        await gh.Emulator.PushAsync(GitHubFixture.Repo, "main", new Dictionary<string, string?> { ["big.txt"] = big, ["small.txt"] = "hi" }, "files");
        var large = await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/contents/big.txt?ref=main"));
        Assert.Equal("none", large["encoding"]!.GetValue<string>());
        Assert.Equal("", large["content"]!.GetValue<string>());
        var small = await JsonAsync(await gh.RawAsync(HttpMethod.Get, $"{R}/contents/small.txt"));
        Assert.Equal("aGk=\n", small["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task Dispatch_limits_are_enforced_by_the_emulator()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await gh.Emulator.PushAsync(GitHubFixture.Repo, "main", new Dictionary<string, string?> { ["a.md"] = "a" }, "one");
        var longType = await gh.RawAsync(HttpMethod.Post, $"{R}/dispatches", $$"""{"event_type":"{{new string('e', 101)}}"}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, longType.StatusCode);
        var keys = string.Join(',', Enumerable.Range(0, 11).Select(i => $"\"k{i}\":{i}"));
        var tooMany = await gh.RawAsync(HttpMethod.Post, $"{R}/dispatches", """{"event_type":"sync","client_payload":{""" + keys + "}}");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooMany.StatusCode);
        var fine = await gh.RawAsync(HttpMethod.Post, $"{R}/dispatches", """{"event_type":"sync","client_payload":{"page":"p1"}}""");
        Assert.Equal(HttpStatusCode.NoContent, fine.StatusCode);
        var dispatch = Assert.Single(gh.Emulator.Dispatches);
        Assert.Equal("sync", dispatch.EventType);
        Assert.Equal("p1", dispatch.ClientPayload!["page"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_secondary_limit_refuses_the_81st_write_in_a_minute_with_retry_after()
    {
        var time = GitHubFixture.FakeTime();
        await using var gh = await GitHubFixture.StartAsync(time, contentCreationPerMinute: 3);
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.Created, (await gh.RawAsync(HttpMethod.Post, $"{R}/git/blobs", $$"""{"content":"b{{i}}"}""")).StatusCode);
        time.Advance(TimeSpan.FromSeconds(20));
        using var refused = await gh.RawAsync(HttpMethod.Post, $"{R}/git/blobs", """{"content":"b4"}""");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("40", refused.Headers.GetValues("retry-after").Single());
        Assert.Contains("secondary rate limit", (await JsonAsync(refused))["message"]!.GetValue<string>());
        time.Advance(TimeSpan.FromSeconds(40));
        Assert.Equal(HttpStatusCode.Created, (await gh.RawAsync(HttpMethod.Post, $"{R}/git/blobs", """{"content":"b4"}""")).StatusCode);
    }

    [Fact]
    public async Task Requests_are_counted_by_route()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await gh.Emulator.PushAsync(GitHubFixture.Repo, "feature/x", new Dictionary<string, string?> { ["a.md"] = "a" }, "one");
        await gh.RawAsync(HttpMethod.Get, $"{R}/git/ref/heads/feature/x");
        await gh.RawAsync(HttpMethod.Get, $"{R}/git/ref/heads/main");
        Assert.Equal(2, gh.Emulator.RequestCount("GET /repos/{owner}/{repo}/git/ref/{ref}"));
        Assert.Equal(HttpStatusCode.OK, (await gh.RawAsync(HttpMethod.Get, $"{R}/contents/a.md?ref=feature%2Fx")).StatusCode);
    }
}
