using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSync.Emulators.GitHub;

public sealed record GitHubEmulatorOptions
{
    /// <summary>Every request (except GET /rate_limit) must carry <c>Authorization: Bearer|token {Token}</c>.</summary>
    public required string Token { get; init; }
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    /// <summary>Clock of commits, webhooks and both rate limits.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>Primary limit of the token per hour (a personal access token gets 5000).</summary>
    public int RateLimitPerHour { get; init; } = 5000;
    /// <summary>Secondary limit on mutating requests (POST, PATCH, PUT, DELETE) per rolling minute.</summary>
    public int ContentCreationPerMinute { get; init; } = 80;
    /// <summary>The user the token belongs to: author of API commits without one, pusher of API ref updates.</summary>
    public string TokenOwner { get; init; } = "eventsync-bot";
}

/// <summary>A commit as tests assert on it.</summary>
public sealed record GitHubCommitInfo(string Sha, string Message, string AuthorName, string AuthorEmail, IReadOnlyList<string> Parents, string TreeSha, DateTimeOffset Date);

/// <summary>A call of POST /repos/{o}/{r}/dispatches that was accepted.</summary>
public sealed record GitHubDispatch(string Repository, string EventType, JsonObject? ClientPayload);

/// <summary>One webhook POST: <see cref="StatusCode"/> is null when the receiver could not be reached (then <see cref="Error"/> says why).</summary>
public sealed record GitHubWebhookDelivery(long HookId, string DeliveryId, string Event, Uri Url, int? StatusCode, string? Error, byte[] Body, IReadOnlyDictionary<string, string> Headers);

/// <summary>What a test hook sees of a request: method, route template (as in <see cref="GitHubEmulator.RequestCounts"/>) and path.</summary>
public sealed record GitHubRequestInfo(string Method, string Route, string Path);

/// <summary>
/// GitHub's REST API (the parts EventSync uses) on loopback over a real in-memory git object model: blobs, trees and commits
/// have git's SHA-1 ids, refs move only fast-forward unless forced, compare and contents follow GitHub's caps (250 commits,
/// 300 files, 1 MB), every response carries the x-ratelimit headers and both the primary and the content-creation limits
/// apply. Ref updates, releases and dispatches are delivered as signed webhooks in order, as GitHub sends them.
/// </summary>
public sealed partial class GitHubEmulator : IAsyncDisposable
{
    public const string ZeroSha = "0000000000000000000000000000000000000000";
    private const string DocsUrl = "https://docs.github.com/rest";
    private const int MaxContentsBytes = 1024 * 1024;

    private readonly WebApplication _app;
    private readonly GitHubEmulatorOptions _options;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Repository> _repositories = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _requestCounts = new(StringComparer.Ordinal);
    private readonly List<GitHubDispatch> _dispatches = [];
    private readonly Queue<DateTimeOffset> _recentWrites = new();
    private DateTimeOffset _windowReset;
    private int _usedInWindow;
    private int _throttleCount;
    private TimeSpan _throttleDelay;
    private int _failCount;
    private int _failStatus;
    private long _nextId = 700_000_000;

    private GitHubEmulator(WebApplication app, GitHubEmulatorOptions options)
    {
        _app = app;
        _options = options;
        _webhookClient = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>The API root: what a client uses instead of https://api.github.com.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Called for every authorised request within the limits, before it is handled: tests use it to land a concurrent push at a chosen moment.</summary>
    public Func<GitHubRequestInfo, Task>? BeforeRequest { get; set; }

    /// <summary>Send push webhooks with empty added/removed/modified lists, as GitHub does for very large commits.</summary>
    public bool OmitPushFileLists { get; set; }

    /// <summary>Requests per route template, e.g. <c>POST /repos/{owner}/{repo}/git/blobs</c>, whatever the answer.</summary>
    public IReadOnlyDictionary<string, int> RequestCounts
    {
        get { lock (_gate) return new Dictionary<string, int>(_requestCounts, StringComparer.Ordinal); }
    }

    public int RequestCount(string route)
    {
        lock (_gate) return _requestCounts.GetValueOrDefault(route);
    }

    public int TotalRequests
    {
        get { lock (_gate) return _requestCounts.Values.Sum(); }
    }

    public IReadOnlyList<GitHubDispatch> Dispatches
    {
        get { lock (_gate) return _dispatches.ToList(); }
    }

    /// <summary>The next <paramref name="count"/> authorised requests get 429 with <c>retry-after</c> (whole seconds).</summary>
    public void ThrottleNext(int count, TimeSpan retryAfter)
    {
        lock (_gate)
        {
            _throttleCount = count;
            _throttleDelay = retryAfter;
        }
    }

    /// <summary>The next <paramref name="count"/> authorised requests get <paramref name="status"/> with a GitHub error body.</summary>
    public void FailNext(int count, int status)
    {
        lock (_gate)
        {
            _failCount = count;
            _failStatus = status;
        }
    }

    public static async Task<GitHubEmulator> StartAsync(GitHubEmulatorOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.Token)) throw new ArgumentException("a token is required", nameof(options));
        var app = LoopbackApp.Create(options.Port);
        var emulator = new GitHubEmulator(app, options);
        app.Run(emulator.HandleAsync);
        emulator.BaseUrl = await LoopbackApp.StartAsync(app, ct);
        emulator.StartWebhookLoop();
        return emulator;
    }

    /// <summary>Creates an empty repository (no commits, no branches: the first push creates the default branch).</summary>
    public void CreateRepository(string fullName, string defaultBranch = "main")
    {
        var parts = fullName.Split('/');
        if (parts.Length != 2 || parts.Any(p => p.Length == 0)) throw new ArgumentException("expected owner/name", nameof(fullName));
        lock (_gate)
        {
            if (_repositories.ContainsKey(fullName)) throw new InvalidOperationException($"repository {fullName} exists");
            _repositories[fullName] = new Repository(++_nextId, parts[0], parts[1], defaultBranch, Now());
        }
    }

    // ---- helpers that simulate a person pushing: same object model, same webhooks ----

    /// <summary>Commits <paramref name="files"/> (null = delete) on top of the branch (or of the default branch when the branch is new) and moves it: one push.</summary>
    public Task<string> PushAsync(string repo, string branch, IReadOnlyDictionary<string, string?> files, string message, string author = "octocat", CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var repository = Repo(repo);
            var refName = "refs/heads/" + branch;
            var parent = repository.Refs.GetValueOrDefault(refName) ?? repository.Refs.GetValueOrDefault("refs/heads/" + repository.DefaultBranch);
            var sha = CommitFiles(repository, parent, files, message, author);
            MoveRef(repository, refName, sha, author);
            return Task.FromResult(sha);
        }
    }

    /// <summary>Rewrites history: a new commit on <paramref name="parentSha"/> (typically older than the head) becomes the branch head, as <c>git push --force</c>.</summary>
    public Task<string> ForcePushAsync(string repo, string branch, string parentSha, IReadOnlyDictionary<string, string?> files, string message, string author = "octocat", CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var repository = Repo(repo);
            if (repository.Objects.GetCommit(parentSha) is null) throw new ArgumentException($"no commit {parentSha}", nameof(parentSha));
            var sha = CommitFiles(repository, parentSha, files, message, author);
            MoveRef(repository, "refs/heads/" + branch, sha, author);
            return Task.FromResult(sha);
        }
    }

    /// <summary>Publishes a release of the default branch's head (creating the lightweight tag when absent) and returns the tagged commit.</summary>
    public Task<string> PublishReleaseAsync(string repo, string tag, string name, string body, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var repository = Repo(repo);
            var tagRef = "refs/tags/" + tag;
            var target = repository.Refs.GetValueOrDefault(tagRef)
                ?? repository.Refs.GetValueOrDefault("refs/heads/" + repository.DefaultBranch)
                ?? throw new InvalidOperationException($"{repo} has no commits to tag");
            repository.Refs[tagRef] = target;
            var release = new Release(++_nextId, tag, name, body, repository.DefaultBranch, Now());
            repository.Releases.Add(release);
            // A release published without a draft fires created, published and released, in that order here.
            foreach (var action in new[] { "created", "published", "released" })
            {
                var payload = new JsonObject
                {
                    ["action"] = action,
                    ["release"] = ReleaseJson(repository, release),
                    ["repository"] = RepositoryJson(repository, forPush: false),
                    ["sender"] = UserJson(_options.TokenOwner),
                };
                EnqueueEvent(repository, "release", payload);
            }
            return Task.FromResult(target);
        }
    }

    public string? ReadFile(string repo, string branch, string path)
    {
        lock (_gate)
        {
            var repository = Repo(repo);
            if (!repository.Refs.TryGetValue("refs/heads/" + branch, out var head)) return null;
            var files = repository.Objects.Flatten(repository.Objects.GetCommit(head)!.TreeSha);
            return files.TryGetValue(path, out var file) ? Encoding.UTF8.GetString(repository.Objects.GetBlob(file.Sha)!) : null;
        }
    }

    /// <summary>Every file of the branch as UTF-8 text (empty when the branch does not exist).</summary>
    public IReadOnlyDictionary<string, string> Files(string repo, string branch)
    {
        lock (_gate)
        {
            var repository = Repo(repo);
            if (!repository.Refs.TryGetValue("refs/heads/" + branch, out var head)) return new Dictionary<string, string>();
            return repository.Objects.Flatten(repository.Objects.GetCommit(head)!.TreeSha)
                .ToDictionary(f => f.Key, f => Encoding.UTF8.GetString(repository.Objects.GetBlob(f.Value.Sha) ?? []), StringComparer.Ordinal);
        }
    }

    public string? BranchHead(string repo, string branch)
    {
        lock (_gate) return Repo(repo).Refs.GetValueOrDefault("refs/heads/" + branch);
    }

    /// <summary>The branch's history, newest first (children before parents).</summary>
    public IReadOnlyList<GitHubCommitInfo> Commits(string repo, string branch)
    {
        lock (_gate)
        {
            var repository = Repo(repo);
            if (!repository.Refs.TryGetValue("refs/heads/" + branch, out var head)) return [];
            var commits = repository.Objects.Between([], head);
            commits.Reverse();
            return commits.Select(c => new GitHubCommitInfo(c.Sha, c.Message, c.Author.Name, c.Author.Email, c.Parents, c.TreeSha, c.Author.Date)).ToList();
        }
    }

    // ---- object model operations (under _gate) ----

    private Repository Repo(string fullName) =>
        _repositories.TryGetValue(fullName, out var repository) ? repository : throw new ArgumentException($"no repository {fullName}", nameof(fullName));

    private DateTimeOffset Now()
    {
        var now = _options.Time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
    }

    private GitSignature Signature(string login) => new(login, login + "@users.noreply.github.com", Now());

    private string CommitFiles(Repository repository, string? parent, IReadOnlyDictionary<string, string?> changes, string message, string author)
    {
        var objects = repository.Objects;
        var files = parent is null ? new SortedDictionary<string, GitFileEntry>(StringComparer.Ordinal) : objects.Flatten(objects.GetCommit(parent)!.TreeSha);
        foreach (var (path, content) in changes)
        {
            if (ValidatePath(path) is { } problem) throw new ArgumentException(problem, nameof(changes));
            if (content is null)
            {
                if (!RemovePath(files, path)) throw new ArgumentException($"cannot delete {path}: no such file", nameof(changes));
                continue;
            }
            SetPath(files, path, new GitFileEntry(files.GetValueOrDefault(path)?.Mode ?? "100644", objects.PutBlob(Encoding.UTF8.GetBytes(content))));
        }
        var tree = objects.BuildTree(files);
        var signature = Signature(author);
        return objects.PutCommit(tree, parent is null ? [] : [parent], signature, signature, message);
    }

    /// <summary>Removes a file, or every file under a directory; false when neither exists.</summary>
    private static bool RemovePath(SortedDictionary<string, GitFileEntry> files, string path)
    {
        if (files.Remove(path)) return true;
        var under = files.Keys.Where(k => k.StartsWith(path + "/", StringComparison.Ordinal)).ToList();
        foreach (var key in under) files.Remove(key);
        return under.Count > 0;
    }

    /// <summary>Puts a file at <paramref name="path"/>, replacing a directory there or files where its parent directories would be.</summary>
    private static void SetPath(SortedDictionary<string, GitFileEntry> files, string path, GitFileEntry entry)
    {
        foreach (var key in files.Keys.Where(k => k.StartsWith(path + "/", StringComparison.Ordinal)).ToList()) files.Remove(key);
        for (var slash = path.IndexOf('/', StringComparison.Ordinal); slash > 0; slash = path.IndexOf('/', slash + 1)) files.Remove(path[..slash]);
        files[path] = entry;
    }

    private static string? ValidatePath(string path)
    {
        if (string.IsNullOrEmpty(path)) return "path is empty";
        var segments = path.Split('/');
        if (segments.Any(s => s.Length == 0 || s is "." or ".." || s.Equals(".git", StringComparison.OrdinalIgnoreCase) || s.Contains('\0', StringComparison.Ordinal)))
            return $"path {path} is not a valid git path";
        return null;
    }

    /// <summary>Sets (or deletes, with null) a ref and queues the push webhook GitHub would send for it.</summary>
    private void MoveRef(Repository repository, string refName, string? newSha, string pusher)
    {
        var before = repository.Refs.GetValueOrDefault(refName);
        if (before == newSha) return;
        var otherHeads = repository.Refs.Where(r => r.Key != refName).Select(r => r.Value).ToList();
        if (newSha is null) repository.Refs.Remove(refName);
        else repository.Refs[refName] = newSha;
        repository.PushedAt = Now();
        EnqueueEvent(repository, "push", PushPayload(repository, refName, before, newSha, otherHeads, pusher));
    }

    private JsonObject PushPayload(Repository repository, string refName, string? before, string? after, List<string> otherHeads, string pusher)
    {
        var objects = repository.Objects;
        var created = before is null;
        var deleted = after is null;
        var forced = !created && !deleted && !objects.Ancestors(after!).Contains(before!);
        var commits = new JsonArray();
        JsonObject? headCommit = null;
        if (!deleted)
        {
            var onOtherRefs = new HashSet<string>(StringComparer.Ordinal);
            foreach (var head in otherHeads) onOtherRefs.UnionWith(objects.Ancestors(head));
            // New to this ref: after's history minus what the ref had; on creation minus what other refs already had.
            var fresh = objects.Between(created ? otherHeads : [before!], after!);
            foreach (var commit in fresh.TakeLast(2048)) commits.Add(PushCommitJson(repository, commit, distinct: !onOtherRefs.Contains(commit.Sha)));
            headCommit = PushCommitJson(repository, objects.GetCommit(after!)!, distinct: !onOtherRefs.Contains(after!));
        }
        var shortBefore = (before ?? ZeroSha)[..12];
        var shortAfter = (after ?? ZeroSha)[..12];
        var name = refName.StartsWith("refs/heads/", StringComparison.Ordinal) ? refName["refs/heads/".Length..] : refName;
        return new JsonObject
        {
            ["ref"] = refName,
            ["before"] = before ?? ZeroSha,
            ["after"] = after ?? ZeroSha,
            ["repository"] = RepositoryJson(repository, forPush: true),
            ["pusher"] = new JsonObject { ["name"] = pusher, ["email"] = pusher + "@users.noreply.github.com" },
            ["sender"] = UserJson(pusher),
            ["created"] = created,
            ["deleted"] = deleted,
            ["forced"] = forced,
            ["base_ref"] = null,
            ["compare"] = created
                ? $"https://github.com/{repository.FullName}/compare/{name}"
                : $"https://github.com/{repository.FullName}/compare/{shortBefore}...{shortAfter}",
            ["commits"] = commits,
            ["head_commit"] = headCommit,
        };
    }

    private JsonObject PushCommitJson(Repository repository, GitCommitObject commit, bool distinct)
    {
        var objects = repository.Objects;
        var parentTree = commit.Parents.Count > 0 ? objects.GetCommit(commit.Parents[0])!.TreeSha : GitObjectStore.EmptyTreeSha;
        var added = new JsonArray();
        var removed = new JsonArray();
        var modified = new JsonArray();
        if (!OmitPushFileLists)
        {
            foreach (var change in TreeDiff.Compute(objects.Flatten(parentTree), objects.Flatten(commit.TreeSha), detectRenames: false))
            {
                var list = change.Status switch { "added" => added, "removed" => removed, _ => modified };
                list.Add(change.Path);
            }
        }
        return new JsonObject
        {
            ["id"] = commit.Sha,
            ["tree_id"] = commit.TreeSha,
            ["distinct"] = distinct,
            ["message"] = commit.Message,
            ["timestamp"] = Iso(commit.Author.Date),
            ["url"] = $"https://github.com/{repository.FullName}/commit/{commit.Sha}",
            ["author"] = PersonJson(commit.Author),
            ["committer"] = PersonJson(commit.Committer),
            ["added"] = added,
            ["removed"] = removed,
            ["modified"] = modified,
        };
    }

    private static JsonObject PersonJson(GitSignature signature)
    {
        var person = new JsonObject { ["name"] = signature.Name, ["email"] = signature.Email };
        if (signature.Email.EndsWith("@users.noreply.github.com", StringComparison.Ordinal)) person["username"] = signature.Email[..signature.Email.IndexOf('@', StringComparison.Ordinal)];
        return person;
    }

    private JsonObject UserJson(string login) => new()
    {
        ["login"] = login,
        ["id"] = StableId(login),
        ["node_id"] = "U_" + login,
        ["type"] = "User",
        ["html_url"] = "https://github.com/" + login,
        ["site_admin"] = false,
    };

    private static long StableId(string text)
    {
        long hash = 17;
        foreach (var c in text) hash = unchecked(hash * 31 + c);
        return Math.Abs(hash % 90_000_000) + 10_000_000;
    }

    private JsonObject RepositoryJson(Repository repository, bool forPush)
    {
        var owner = UserJson(repository.Owner);
        var json = new JsonObject
        {
            ["id"] = repository.Id,
            ["node_id"] = "R_" + repository.Id.ToString(CultureInfo.InvariantCulture),
            ["name"] = repository.Name,
            ["full_name"] = repository.FullName,
            ["private"] = true,
            ["owner"] = owner,
            ["html_url"] = "https://github.com/" + repository.FullName,
            ["url"] = ApiUrl($"repos/{repository.FullName}"),
            ["default_branch"] = repository.DefaultBranch,
        };
        if (forPush)
        {
            // Push payloads carry the owner's name and epoch-second timestamps, unlike the REST shape.
            owner["name"] = repository.Owner;
            owner["email"] = null;
            json["master_branch"] = repository.DefaultBranch;
            json["created_at"] = repository.CreatedAt.ToUnixTimeSeconds();
            json["pushed_at"] = (repository.PushedAt ?? repository.CreatedAt).ToUnixTimeSeconds();
        }
        else
        {
            json["created_at"] = Iso(repository.CreatedAt);
            json["pushed_at"] = Iso(repository.PushedAt ?? repository.CreatedAt);
        }
        return json;
    }

    private JsonObject ReleaseJson(Repository repository, Release release)
    {
        var id = release.Id.ToString(CultureInfo.InvariantCulture);
        return new JsonObject
        {
            ["url"] = ApiUrl($"repos/{repository.FullName}/releases/{id}"),
            ["assets_url"] = ApiUrl($"repos/{repository.FullName}/releases/{id}/assets"),
            ["upload_url"] = $"https://uploads.github.com/repos/{repository.FullName}/releases/{id}/assets{{?name,label}}",
            ["html_url"] = $"https://github.com/{repository.FullName}/releases/tag/{release.Tag}",
            ["id"] = release.Id,
            ["node_id"] = "RE_" + id,
            ["tag_name"] = release.Tag,
            ["target_commitish"] = release.Target,
            ["name"] = release.Name,
            ["draft"] = false,
            ["prerelease"] = false,
            ["author"] = UserJson(_options.TokenOwner),
            ["created_at"] = Iso(release.PublishedAt),
            ["published_at"] = Iso(release.PublishedAt),
            ["assets"] = new JsonArray(),
            ["tarball_url"] = ApiUrl($"repos/{repository.FullName}/tarball/{release.Tag}"),
            ["zipball_url"] = ApiUrl($"repos/{repository.FullName}/zipball/{release.Tag}"),
            ["body"] = release.Body,
        };
    }

    private string ApiUrl(string relative) => new Uri(BaseUrl, relative).ToString();

    private static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private sealed class Repository(long id, string owner, string name, string defaultBranch, DateTimeOffset createdAt)
    {
        public long Id { get; } = id;
        public string Owner { get; } = owner;
        public string Name { get; } = name;
        public string FullName => Owner + "/" + Name;
        public string DefaultBranch { get; } = defaultBranch;
        public DateTimeOffset CreatedAt { get; } = createdAt;
        public DateTimeOffset? PushedAt { get; set; }
        public GitObjectStore Objects { get; } = new();
        public SortedDictionary<string, string> Refs { get; } = new(StringComparer.Ordinal);
        public List<Release> Releases { get; } = [];
        public List<Webhook> Hooks { get; } = [];
    }

    private sealed record Release(long Id, string Tag, string Name, string Body, string Target, DateTimeOffset PublishedAt);

    public async ValueTask DisposeAsync()
    {
        await StopWebhookLoopAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _webhookClient.Dispose();
    }

    private static string Json(JsonNode node) => node.ToJsonString(JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
