using System.Text.Json.Nodes;
using EventSync.Core.Signatures;
using EventSync.Emulators.GitHub;
using EventSync.Tests.Infrastructure;

namespace EventSync.Tests.GitHub;

public sealed class GitHubWebhookTests
{
    private const string Repo = GitHubFixture.Repo;
    private const string Secret = "It's a Secret to Everybody";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static Dictionary<string, string?> Files(params (string Path, string? Content)[] files) => files.ToDictionary(f => f.Path, f => f.Content);

    private static async Task<List<(IReadOnlyDictionary<string, string> Headers, JsonNode Payload)>> DrainAsync(GitHubEmulator emulator, HookReceiver receiver, int expected)
    {
        await emulator.WebhooksIdleAsync(CancellationToken.None).WaitAsync(Timeout);
        await Wait.UntilAsync(() => receiver.Received.Count >= expected, Timeout, $"{expected} webhooks");
        return receiver.Received.Select(h => (h.Headers, JsonNode.Parse(h.Body)!)).ToList();
    }

    private static string[] Strings(JsonNode? array) => array!.AsArray().Select(n => n!.GetValue<string>()).ToArray();

    [Fact]
    public async Task Push_deliveries_are_signed_over_the_raw_body_and_carry_GitHub_headers()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await using var receiver = await HookReceiver.StartAsync();
        var hookId = gh.Emulator.AddWebhook(Repo, receiver.Url, Secret, "push");
        var head = await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a"), ("docs/b.md", "b")), "first");

        await DrainAsync(gh.Emulator, receiver, 1);
        var hook = Assert.Single(receiver.Received);
        Assert.Equal(SignatureCheck.Valid, HmacSha256Hex.Verify(hook.Body, Secret, hook.Headers["X-Hub-Signature-256"]));
        Assert.Equal(SignatureCheck.Mismatch, HmacSha256Hex.Verify(hook.Body, "another secret", hook.Headers["X-Hub-Signature-256"]));
        Assert.Equal("push", hook.Headers["X-GitHub-Event"]);
        Assert.True(Guid.TryParse(hook.Headers["X-GitHub-Delivery"], out _));
        Assert.Equal(hookId.ToString(System.Globalization.CultureInfo.InvariantCulture), hook.Headers["X-GitHub-Hook-ID"]);
        Assert.StartsWith("GitHub-Hookshot/", hook.Headers["User-Agent"]);
        Assert.StartsWith("application/json", hook.Headers["Content-Type"]);

        var payload = JsonNode.Parse(hook.Body)!;
        Assert.Equal("refs/heads/main", payload["ref"]!.GetValue<string>());
        Assert.Equal(GitHubEmulator.ZeroSha, payload["before"]!.GetValue<string>());
        Assert.Equal(head, payload["after"]!.GetValue<string>());
        Assert.True(payload["created"]!.GetValue<bool>());
        Assert.False(payload["forced"]!.GetValue<bool>());
        Assert.Equal("acme/docs", payload["repository"]!["full_name"]!.GetValue<string>());
        Assert.Equal("main", payload["repository"]!["default_branch"]!.GetValue<string>());
        Assert.Equal("octocat", payload["pusher"]!["name"]!.GetValue<string>());
        var commit = Assert.Single(payload["commits"]!.AsArray())!;
        Assert.Equal(head, commit["id"]!.GetValue<string>());
        Assert.Equal(["a.md", "docs/b.md"], Strings(commit["added"]));
        Assert.Equal(head, payload["head_commit"]!["id"]!.GetValue<string>());
        Assert.Equal(200, Assert.Single(gh.Emulator.Deliveries).StatusCode);
    }

    [Fact]
    public async Task Pushes_arrive_in_order_with_before_after_chain_and_a_force_push_is_marked()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await using var receiver = await HookReceiver.StartAsync();
        gh.Emulator.AddWebhook(Repo, receiver.Url, Secret);
        var one = await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        var two = await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a2"), ("b.md", "b")), "two");
        var three = await gh.Emulator.PushAsync(Repo, "main", Files(("b.md", null)), "three");
        var forced = await gh.Emulator.ForcePushAsync(Repo, "main", one, Files(("c.md", "c")), "rewrite");

        var pushes = (await DrainAsync(gh.Emulator, receiver, 4)).Select(p => p.Payload).ToList();
        Assert.Equal([one, two, three, forced], pushes.Select(p => p["after"]!.GetValue<string>()));
        Assert.Equal([GitHubEmulator.ZeroSha, one, two, three], pushes.Select(p => p["before"]!.GetValue<string>()));
        Assert.Equal(["a.md"], Strings(pushes[1]["commits"]![0]!["modified"]));
        Assert.Equal(["b.md"], Strings(pushes[1]["commits"]![0]!["added"]));
        Assert.Equal(["b.md"], Strings(pushes[2]["commits"]![0]!["removed"]));
        Assert.Equal([false, false, false, true], pushes.Select(p => p["forced"]!.GetValue<bool>()));
        Assert.Equal(forced, Assert.Single(pushes[3]["commits"]!.AsArray())!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Huge_commits_can_come_with_empty_file_lists()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await using var receiver = await HookReceiver.StartAsync();
        gh.Emulator.AddWebhook(Repo, receiver.Url, Secret);
        gh.Emulator.OmitPushFileLists = true;
        await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        var commit = (await DrainAsync(gh.Emulator, receiver, 1))[0].Payload["commits"]![0]!;
        Assert.Empty(commit["added"]!.AsArray());
        Assert.Empty(commit["modified"]!.AsArray());
    }

    [Fact]
    public async Task Api_ref_updates_releases_and_dispatches_are_delivered_to_subscribed_hooks()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await using var receiver = await HookReceiver.StartAsync();
        await using var pushOnly = await HookReceiver.StartAsync();
        await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        gh.Emulator.AddWebhook(Repo, receiver.Url, Secret, "*");
        gh.Emulator.AddWebhook(Repo, pushOnly.Url, "other", "push");

        var sha = await gh.Client.CommitAsync(Repo, "main", [new("b.md", "b")], "api commit", new("Bot", "bot@example.com"), CancellationToken.None);
        await gh.Emulator.PublishReleaseAsync(Repo, "v1.0", "First", "notes");
        await gh.Client.DispatchAsync(Repo, "docs-sync", new JsonObject { ["page"] = "p1" }, CancellationToken.None);

        var all = await DrainAsync(gh.Emulator, receiver, 5);
        Assert.Equal(["push", "release", "release", "release", "repository_dispatch"], all.Select(h => h.Headers["X-GitHub-Event"]));
        Assert.Equal(sha, all[0].Payload["after"]!.GetValue<string>());
        Assert.Equal("eventsync-bot", all[0].Payload["pusher"]!["name"]!.GetValue<string>());
        Assert.Equal(["created", "published", "released"], all.Skip(1).Take(3).Select(h => h.Payload["action"]!.GetValue<string>()));
        Assert.Equal("v1.0", all[2].Payload["release"]!["tag_name"]!.GetValue<string>());
        Assert.Equal("docs-sync", all[4].Payload["action"]!.GetValue<string>());
        Assert.Equal("main", all[4].Payload["branch"]!.GetValue<string>());
        Assert.Equal("p1", all[4].Payload["client_payload"]!["page"]!.GetValue<string>());

        var push = Assert.Single(pushOnly.Received);
        // One event, one GUID, whichever hook receives it; each hook signs with its own secret.
        Assert.Equal(all[0].Headers["X-GitHub-Delivery"], push.Headers["X-GitHub-Delivery"]);
        Assert.Equal(SignatureCheck.Valid, HmacSha256Hex.Verify(push.Body, "other", push.Headers["X-Hub-Signature-256"]));
    }

    [Fact]
    public async Task Failed_deliveries_are_recorded_with_the_receivers_status()
    {
        await using var gh = await GitHubFixture.StartAsync();
        await using var receiver = await HookReceiver.StartAsync();
        receiver.Status = 500;
        gh.Emulator.AddWebhook(Repo, receiver.Url, Secret);
        await gh.Emulator.PushAsync(Repo, "main", Files(("a.md", "a")), "one");
        await DrainAsync(gh.Emulator, receiver, 1);
        Assert.Equal(500, Assert.Single(gh.Emulator.Deliveries).StatusCode);
    }
}
