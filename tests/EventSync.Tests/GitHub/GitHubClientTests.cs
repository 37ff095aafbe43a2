using System.Net;
using System.Text.Json.Nodes;
using EventSync.Connectors.GitHub;
using EventSync.Connectors.Http;
using EventSync.Emulators.GitHub;

namespace EventSync.Tests.GitHub;

public sealed class GitHubClientTests
{
    private const string Repo = GitHubFixture.Repo;
    private const string CommitRoute = "POST /repos/{owner}/{repo}/git/commits";
    private const string BlobRoute = "POST /repos/{owner}/{repo}/git/blobs";
    private const string RefRoute = "PATCH /repos/{owner}/{repo}/git/refs/{ref}";
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly GitIdentity Bot = new("EventSync", "bot@eventsync.dev");

    private static Dictionary<string, string?> Files(params (string Path, string? Content)[] files) => files.ToDictionary(f => f.Path, f => f.Content);

    private static string Describe(GitChangeSet set) => string.Join(", ", set.Changes.Select(c => $"{c.Kind}:{c.PreviousPath}>{c.Path}"));

    [Fact]
    public async Task Changes_from_compare_cover_add_modify_delete_and_rename()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var before = await gh.Emulator.PushAsync(Repo, "main", Files(("keep.md", "k"), ("edit.md", "v1"), ("gone.md", "g"), ("old/name.md", "moved")), "one");
        var after = await gh.Emulator.PushAsync(Repo, "main", Files(("edit.md", "v2"), ("gone.md", null), ("old/name.md", null), ("new/name.md", "moved"), ("add.md", "a")), "two");

        var changes = await gh.Client.GetChangesAsync(Repo, before, after, Ct);

        Assert.Equal(GitChangeSource.Compare, changes.Source);
        Assert.Equal(after, changes.HeadSha);
        Assert.Equal("Added:>add.md, Modified:>edit.md, Removed:>gone.md, Renamed:old/name.md>new/name.md", Describe(changes));
        Assert.Equal(GitHubClient.BlobSha("v2"u8), changes.Changes.Single(c => c.Path == "edit.md").BlobSha);
        Assert.Null(changes.Changes.Single(c => c.Path == "gone.md").BlobSha);
    }

    [Fact]
    public async Task A_push_of_350_files_is_listed_completely_although_compare_stops_at_300()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var before = await gh.Emulator.PushAsync(Repo, "main", Files(("readme.md", "r")), "one");
        var many = Enumerable.Range(0, 350).ToDictionary(i => $"docs/page{i:D3}.md", i => (string?)$"# Page {i}\n");
        var after = await gh.Emulator.PushAsync(Repo, "main", many, "import");

        var changes = await gh.Client.GetChangesAsync(Repo, before, after, Ct);

        Assert.Equal(GitChangeSource.TreeDiff, changes.Source);
        Assert.Equal(350, changes.Changes.Count);
        Assert.All(changes.Changes, c => Assert.Equal(GitChangeKind.Added, c.Kind));
        Assert.Equal(many.Keys.Order(StringComparer.Ordinal), changes.Changes.Select(c => c.Path));
    }

    [Fact]
    public async Task Branch_creation_lists_the_head_tree_as_added()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var head = await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a"), ("dir/b.md", "b")), "one");
        foreach (var baseSha in new[] { null, GitHubEmulator.ZeroSha })
        {
            var changes = await gh.Client.GetChangesAsync(Repo, baseSha, head, Ct);
            Assert.Equal(GitChangeSource.HeadTree, changes.Source);
            Assert.Equal("Added:>a.md, Added:>dir/b.md", Describe(changes));
        }
    }

    [Fact]
    public async Task A_force_push_is_diffed_against_the_replaced_head_not_the_merge_base()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var root = await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        var discarded = await gh.Emulator.PushAsync(Repo, "main", Files(("wip.md", "wip"), ("a.md", "a2")), "wip");
        var rewritten = await gh.Emulator.ForcePushAsync(Repo, "main", root, Files(("b.md", "b")), "rewrite");

        var changes = await gh.Client.GetChangesAsync(Repo, discarded, rewritten, Ct);

        Assert.Equal(GitChangeSource.TreeDiff, changes.Source);
        // Compare would have said only "b.md added" (from the merge base); the receiver still holds wip.md and a2.
        Assert.Equal("Modified:>a.md, Added:>b.md, Removed:>wip.md", Describe(changes));
    }

    [Fact]
    public async Task An_unknown_base_lists_the_head_tree_and_says_so()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var head = await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        var changes = await gh.Client.GetChangesAsync(Repo, new string('b', 40), head, Ct);
        Assert.Equal(GitChangeSource.HeadTreeBaseUnknown, changes.Source);
        Assert.Equal("Added:>a.md", Describe(changes));
    }

    [Fact]
    public async Task Files_and_trees_are_read_including_files_over_one_megabyte()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var big = string.Concat(Enumerable.Repeat("line ü\n", 200_000));
        await gh.Emulator.PushAsync(Repo, "main", Files(("big.md", big), ("docs/ä b.md", "héllo")), "files");

        var small = await gh.Client.GetFileAsync(Repo, "docs/ä b.md", "main", Ct);
        Assert.Equal("héllo", small!.Text);
        Assert.Equal(GitHubClient.BlobSha("héllo"u8), small.BlobSha);
        var large = await gh.Client.GetFileAsync(Repo, "big.md", "main", Ct);
        Assert.Equal(big, large!.Text);
        Assert.Equal(1, gh.Emulator.RequestCount("GET /repos/{owner}/{repo}/git/blobs/{sha}"));
        Assert.Null(await gh.Client.GetFileAsync(Repo, "missing.md", "main", Ct));
        Assert.Null(await gh.Client.GetFileAsync(Repo, "docs", "main", Ct));

        var tree = await gh.Client.GetTreeAsync(Repo, "main", Ct);
        Assert.Equal(["big.md", "docs/ä b.md"], tree.Select(e => e.Path));
        Assert.All(tree, e => Assert.Equal("100644", e.Mode));
        Assert.Null(await gh.Client.GetBranchHeadAsync(Repo, "nope", Ct));
        Assert.Equal(gh.Emulator.BranchHead(Repo, "main"), await gh.Client.GetBranchHeadAsync(Repo, "main", Ct));
    }

    [Fact]
    public async Task A_commit_writes_and_deletes_in_one_commit_on_top_of_the_head()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var head = await gh.Emulator.PushAsync(Repo, "main", Files(("keep.md", "k"), ("edit.md", "v1"), ("gone.md", "g")), "one");

        var sha = await gh.Client.CommitAsync(Repo, "main", [new("edit.md", "v2"), new("gone.md", null), new("absent.md", null), new("new/page.md", "p")], "sync from Notion", Bot, Ct);

        Assert.Equal(sha, gh.Emulator.BranchHead(Repo, "main"));
        Assert.Equal(new Dictionary<string, string> { ["keep.md"] = "k", ["edit.md"] = "v2", ["new/page.md"] = "p" }, gh.Emulator.Files(Repo, "main"));
        var commit = gh.Emulator.Commits(Repo, "main")[0];
        Assert.Equal(("sync from Notion", "EventSync", "bot@eventsync.dev"), (commit.Message, commit.AuthorName, commit.AuthorEmail));
        Assert.Equal([head], commit.Parents);
        Assert.Equal(2, gh.Emulator.RequestCount(BlobRoute));
    }

    [Fact]
    public async Task A_commit_that_changes_nothing_returns_the_head_without_committing()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var head = await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "same")), "one");
        var sha = await gh.Client.CommitAsync(Repo, "main", [new("a.md", "same"), new("absent.md", null)], "noop", Bot, Ct);
        Assert.Equal(head, sha);
        Assert.Equal(0, gh.Emulator.RequestCount(CommitRoute));
        Assert.Equal(0, gh.Emulator.RequestCount(RefRoute));
        Assert.Single(gh.Emulator.Commits(Repo, "main"));
    }

    [Fact]
    public async Task A_push_landing_between_read_and_ref_update_is_kept_and_the_commit_is_rebuilt_on_it()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        var raced = 0;
        gh.Emulator.BeforeRequest = async request =>
        {
            if (request.Route == RefRoute && Interlocked.Exchange(ref raced, 1) == 0)
                await gh.Emulator.PushAsync(Repo, "main", Files(("human.md", "written by a person")), "human edit");
        };

        var sha = await gh.Client.CommitAsync(Repo, "main", [new("bot.md", "written by EventSync"), new("a.md", "a2")], "bot edit", Bot, Ct);

        var files = gh.Emulator.Files(Repo, "main");
        Assert.Equal("written by a person", files["human.md"]);
        Assert.Equal("written by EventSync", files["bot.md"]);
        Assert.Equal("a2", files["a.md"]);
        Assert.Equal(["bot edit", "human edit", "one"], gh.Emulator.Commits(Repo, "main").Select(c => c.Message));
        Assert.Equal(sha, gh.Emulator.BranchHead(Repo, "main"));
        Assert.Equal(2, gh.Emulator.RequestCount(RefRoute));
        Assert.Equal(2, gh.Emulator.RequestCount(BlobRoute)); // blobs uploaded once, reused by the second attempt
    }

    [Fact]
    public async Task A_branch_that_keeps_moving_makes_the_commit_give_up_after_five_attempts_as_retryable()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        var n = 0;
        gh.Emulator.BeforeRequest = async request =>
        {
            if (request.Route == RefRoute) await gh.Emulator.PushAsync(Repo, "main", Files(("human.md", $"edit {Interlocked.Increment(ref n)}")), "human");
        };
        var error = await Assert.ThrowsAsync<ApiException>(() => gh.Client.CommitAsync(Repo, "main", [new("bot.md", "b")], "bot", Bot, Ct));
        Assert.True(error.Retryable);
        Assert.Equal(GitHubClient.MaxCommitAttempts, gh.Emulator.RequestCount(RefRoute));
        Assert.DoesNotContain("bot.md", gh.Emulator.Files(Repo, "main").Keys);
    }

    [Fact]
    public async Task A_commit_to_a_missing_branch_fails_without_retrying()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        var error = await Assert.ThrowsAsync<ApiException>(() => gh.Client.CommitAsync(Repo, "nope", [new("b.md", "b")], "bot", Bot, Ct));
        Assert.Equal(HttpStatusCode.NotFound, error.Status);
        Assert.False(error.Retryable);
    }

    [Fact]
    public async Task A_wrong_token_is_a_permanent_401()
    {
        await using var gh = await GitHubFixture.StartAsync();
        var error = await Assert.ThrowsAsync<ApiException>(() => gh.NewClient("ghp_wrong").GetBranchHeadAsync(Repo, "main", Ct));
        Assert.Equal(HttpStatusCode.Unauthorized, error.Status);
        Assert.Equal("Bad credentials", error.Code);
        Assert.False(error.Retryable);
    }

    [Fact]
    public async Task Throttles_become_ApiThrottledException_with_the_wait_and_server_errors_are_retryable()
    {
        var time = GitHubFixture.FakeTime();
        await using var gh = await GitHubFixture.StartAsync(time);
        await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");

        gh.Emulator.ThrottleNext(1, TimeSpan.FromSeconds(7));
        var throttled = await Assert.ThrowsAsync<ApiThrottledException>(() => gh.Client.GetBranchHeadAsync(Repo, "main", Ct));
        Assert.Equal(TimeSpan.FromSeconds(7), throttled.RetryAfter);
        // Until the wait is over the client does not ask again.
        var before = gh.Emulator.TotalRequests;
        await Assert.ThrowsAsync<ApiThrottledException>(() => gh.Client.GetBranchHeadAsync(Repo, "main", Ct));
        Assert.Equal(before, gh.Emulator.TotalRequests);
        time.Advance(TimeSpan.FromSeconds(7));

        gh.Emulator.FailNext(1, 502);
        var failed = await Assert.ThrowsAsync<ApiException>(() => gh.Client.GetBranchHeadAsync(Repo, "main", Ct));
        Assert.True(failed.Retryable);
        Assert.Equal(HttpStatusCode.BadGateway, failed.Status);
        Assert.NotNull(await gh.Client.GetBranchHeadAsync(Repo, "main", Ct));
    }

    [Fact]
    public async Task The_primary_limit_waits_until_reset_and_is_then_respected_without_asking()
    {
        var time = GitHubFixture.FakeTime();
        await using var gh = await GitHubFixture.StartAsync(time, rateLimitPerHour: 3);
        await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        await gh.Client.GetBranchHeadAsync(Repo, "main", Ct);
        time.Advance(TimeSpan.FromMinutes(10));
        await gh.Client.GetBranchHeadAsync(Repo, "main", Ct);
        // The third answer says remaining 0: the client stops before GitHub has to refuse.
        await gh.Client.GetBranchHeadAsync(Repo, "main", Ct);
        var requests = gh.Emulator.TotalRequests;
        var local = await Assert.ThrowsAsync<ApiThrottledException>(() => gh.Client.GetBranchHeadAsync(Repo, "main", Ct));
        Assert.Equal(TimeSpan.FromMinutes(50), local.RetryAfter);
        Assert.Equal(requests, gh.Emulator.TotalRequests);

        // Another client that does not know yet gets GitHub's 403 and the same wait.
        var fresh = await Assert.ThrowsAsync<ApiThrottledException>(() => gh.NewClient().GetBranchHeadAsync(Repo, "main", Ct));
        Assert.Equal(TimeSpan.FromMinutes(50), fresh.RetryAfter);
        time.Advance(TimeSpan.FromMinutes(50));
        Assert.NotNull(await gh.Client.GetBranchHeadAsync(Repo, "main", Ct));
    }

    [Fact]
    public async Task Dispatch_checks_the_limits_before_sending()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        var tooMany = new JsonObject();
        for (var i = 0; i < 11; i++) tooMany["k" + i] = i;
        await Assert.ThrowsAsync<ArgumentException>(() => gh.Client.DispatchAsync(Repo, new string('e', 101), null, Ct));
        var error = await Assert.ThrowsAsync<ArgumentException>(() => gh.Client.DispatchAsync(Repo, "sync", tooMany, Ct));
        Assert.Contains("at most 10", error.Message);
        Assert.Equal(0, gh.Emulator.RequestCount("POST /repos/{owner}/{repo}/dispatches"));

        await gh.Client.DispatchAsync(Repo, new string('e', 100), new JsonObject { ["page"] = "p1" }, Ct);
        Assert.Equal("p1", Assert.Single(gh.Emulator.Dispatches).ClientPayload!["page"]!.GetValue<string>());
    }

    [Fact]
    public async Task Writes_are_paced_by_the_minimum_interval()
    {
        var time = GitHubFixture.FakeTime();
        await using var gh = await GitHubFixture.StartAsync(time);
        await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        var client = gh.NewClient(minWriteInterval: TimeSpan.FromSeconds(1));
        await client.DispatchAsync(Repo, "first", null, Ct);
        var second = client.DispatchAsync(Repo, "second", null, Ct);
        Assert.False(second.IsCompleted);
        Assert.Single(gh.Emulator.Dispatches);
        time.Advance(TimeSpan.FromSeconds(1));
        await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["first", "second"], gh.Emulator.Dispatches.Select(d => d.EventType));
    }
}
