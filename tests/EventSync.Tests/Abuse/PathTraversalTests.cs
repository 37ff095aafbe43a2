using EventSync.Connectors.Sync;
using EventSync.Tests.DocsSync;

namespace EventSync.Tests.Abuse;

/// <summary>
/// Repository paths from GitHub are data from outside: a push whose compare lists a path escaping the repository
/// parks the job with the reason and writes nothing to Notion or the website.
/// </summary>
public sealed class PathTraversalTests
{
    public static TheoryData<string> Paths => new() { "../x.md", "docs/../../etc/passwd", "agents/./scout.yaml", "docs//twice.md" };

    /// <summary>
    /// The GitHub emulator (like GitHub) refuses to hold such a path, so no compare can list one end to end; what is
    /// checked here is that refusal, with nothing written anywhere, and the product's own guard below.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public async Task A_push_with_an_unsafe_path_cannot_reach_the_sync_and_touches_nothing(string path)
    {
        await using var w = await DocsSyncWorld.StartAsync(["github-to-notion", "github-to-website"]);
        var before = w.Writes();
        var refused = await Record.ExceptionAsync(() => w.PushAsync(new() { [path] = "# escaped\n" }));
        await w.SettleAsync();
        var after = w.Writes();
        var ok = refused is ArgumentException && after == before && (await w.FailedRunsAsync()).Count == 0;
        AbuseReport.Record("path_traversal", 1, ok ? 1 : 0);
        Assert.IsType<ArgumentException>(refused);
        Assert.Equal(before, after);
    }

    [Theory]
    [InlineData("../x.md")]
    [InlineData("docs/../../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("docs\\..\\x.md")]
    [InlineData("docs/\u0000.md")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("agents/./scout.yaml")]
    public void The_guard_GitHubDocuments_applies_to_every_compared_path_refuses_paths_that_escape(string path)
    {
        var safe = DocumentCatalog.IsSafePath(path);
        AbuseReport.Record("path_traversal", 1, safe ? 0 : 1);
        Assert.False(safe);
    }
}
