using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSync.Connectors.Http;

namespace EventSync.Connectors.GitHub;

/// <summary>
/// The GitHub REST calls EventSync needs: branch heads, the files a push changed (from compare, or from the two trees when
/// compare cannot be trusted), file and tree reads, atomic multi-file commits through the Git Data API with
/// compare-and-swap retries, and repository dispatches. Rate limits become <see cref="ApiThrottledException"/> with the
/// wait GitHub asks for; the client never spins on a limit.
/// </summary>
public sealed class GitHubClient
{
    public const string System = "GitHub";
    public const int MaxEventTypeLength = 100;
    public const int MaxClientPayloadProperties = 10;
    /// <summary>Compare lists at most this many files; a full list may be truncated.</summary>
    public const int CompareFileCap = 300;
    public const int MaxCommitAttempts = 5;
    private const string ZeroSha = "0000000000000000000000000000000000000000";
    private const string NotFastForward = "Update is not a fast forward";
    private const int MaxSubtreeRequests = 10_000;

    private readonly HttpClient _http;
    private readonly GitHubClientOptions _options;
    private readonly Uri _root;
    private readonly Lock _gate = new();
    private DateTimeOffset _nextWriteSlot;
    private DateTimeOffset _blockedUntil;

    public GitHubClient(HttpClient http, GitHubClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.Token)) throw new ArgumentException("a token is required", nameof(options));
        _http = http;
        _options = options;
        _root = new Uri(options.ApiUrl.ToString().TrimEnd('/') + "/");
    }

    /// <summary>The branch's head commit, or null when the branch (or any commit) does not exist.</summary>
    public async Task<string?> GetBranchHeadAsync(string repo, string branch, CancellationToken ct)
    {
        var (status, json) = await SendAsync(HttpMethod.Get, $"{RepoPath(repo)}/git/ref/heads/{EscapePath(branch)}", null, ct, HttpStatusCode.NotFound, HttpStatusCode.Conflict);
        return status == HttpStatusCode.OK ? Str(json!["object"]?["sha"]) : null;
    }

    /// <summary>
    /// The files that differ between <paramref name="baseSha"/> (null or forty zeros on branch creation) and
    /// <paramref name="headSha"/>. Webhook file lists are never used: they can be empty or capped.
    /// </summary>
    public async Task<GitChangeSet> GetChangesAsync(string repo, string? baseSha, string headSha, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(headSha);
        if (baseSha is null || baseSha == ZeroSha)
            return new GitChangeSet(headSha, AllAdded(await GetTreeAsync(repo, headSha, ct)), GitChangeSource.HeadTree);
        if (baseSha == headSha) return new GitChangeSet(headSha, [], GitChangeSource.Compare);

        var (status, json) = await SendAsync(HttpMethod.Get, $"{RepoPath(repo)}/compare/{Uri.EscapeDataString(baseSha)}...{Uri.EscapeDataString(headSha)}", null, ct, HttpStatusCode.NotFound);
        if (status == HttpStatusCode.OK && json?["files"] is JsonArray files && Str(json["status"]) is "ahead" or "identical" && files.Count < CompareFileCap)
            return new GitChangeSet(headSha, FromCompare(files), GitChangeSource.Compare);

        // Diverged or behind (force push), possibly truncated, or unknown to compare: diff the trees themselves.
        var baseTree = await TryGetTreeAsync(repo, baseSha, ct);
        var headTree = await GetTreeAsync(repo, headSha, ct);
        if (baseTree is null) return new GitChangeSet(headSha, AllAdded(headTree), GitChangeSource.HeadTreeBaseUnknown);
        return new GitChangeSet(headSha, DiffTrees(baseTree, headTree), GitChangeSource.TreeDiff);
    }

    /// <summary>A file at a ref (branch, tag or commit), or null when there is no file at that path.</summary>
    public async Task<GitFile?> GetFileAsync(string repo, string path, string gitRef, CancellationToken ct)
    {
        var (status, json) = await SendAsync(HttpMethod.Get, $"{RepoPath(repo)}/contents/{EscapePath(path)}?ref={Uri.EscapeDataString(gitRef)}", null, ct, HttpStatusCode.NotFound);
        if (status == HttpStatusCode.NotFound || json is not JsonObject file || Str(file["type"]) != "file") return null;
        var sha = Str(file["sha"]) ?? throw Malformed("contents without sha");
        var size = file["size"]?.GetValue<long>() ?? -1;
        byte[] content;
        if (Str(file["encoding"]) == "base64") content = Base64(Str(file["content"]) ?? "");
        else
        {
            // Over 1 MB the contents API omits the content (encoding "none"); the blobs API serves up to 100 MB.
            var (_, blob) = await SendAsync(HttpMethod.Get, $"{RepoPath(repo)}/git/blobs/{sha}", null, ct);
            content = Base64(Str(blob!["content"]) ?? "");
        }
        if (size >= 0 && content.Length != size) throw Malformed($"{path}: {content.Length} bytes received, {size} announced");
        return new GitFile(Str(file["path"]) ?? path, content, sha);
    }

    /// <summary>Every file (blob) of the tree at a ref or commit, recursively.</summary>
    public async Task<IReadOnlyList<GitTreeEntry>> GetTreeAsync(string repo, string gitRef, CancellationToken ct) =>
        await TryGetTreeAsync(repo, gitRef, ct) ?? throw new ApiException(System, HttpStatusCode.NotFound, "Not Found", $"no tree for {gitRef} in {repo}", false);

    private async Task<IReadOnlyList<GitTreeEntry>?> TryGetTreeAsync(string repo, string gitRef, CancellationToken ct)
    {
        var (status, json) = await SendAsync(HttpMethod.Get, $"{RepoPath(repo)}/git/trees/{EscapePath(gitRef)}?recursive=1", null, ct, HttpStatusCode.NotFound, HttpStatusCode.UnprocessableEntity, HttpStatusCode.Conflict);
        if (status != HttpStatusCode.OK) return null;
        if (json?["truncated"]?.GetValue<bool>() != true) return BlobEntries(json!, "");
        // Over GitHub's recursive limit: walk the subtrees one request each.
        var entries = new List<GitTreeEntry>();
        var pending = new Queue<(string Sha, string Prefix)>();
        pending.Enqueue((Str(json["sha"])!, ""));
        for (var requests = 0; pending.Count > 0; requests++)
        {
            if (requests >= MaxSubtreeRequests) throw Malformed($"tree of {gitRef} has more than {MaxSubtreeRequests} directories");
            var (sha, prefix) = pending.Dequeue();
            var (_, level) = await SendAsync(HttpMethod.Get, $"{RepoPath(repo)}/git/trees/{sha}", null, ct);
            entries.AddRange(BlobEntries(level!, prefix));
            foreach (var sub in level!["tree"]!.AsArray().Where(e => Str(e!["type"]) == "tree"))
                pending.Enqueue((Str(sub!["sha"])!, prefix + Str(sub["path"]) + "/"));
        }
        return entries;
    }

    /// <summary>
    /// Writes <paramref name="writes"/> as one commit on <paramref name="branch"/> (blobs, a tree on the head's tree, a
    /// commit, a fast-forward ref update). When the branch moved meanwhile, re-reads it and rebuilds on the new head,
    /// reusing the uploaded blobs, up to <see cref="MaxCommitAttempts"/> times. Unchanged files and deletes of absent
    /// paths are skipped; when nothing would change, returns the current head without committing.
    /// </summary>
    public async Task<string> CommitAsync(string repo, string branch, IReadOnlyList<GitWrite> writes, string message, GitIdentity author, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(writes);
        ArgumentNullException.ThrowIfNull(author);
        ArgumentException.ThrowIfNullOrEmpty(message);
        // The last write of a path wins, as if applied in order.
        var finalWrites = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var write in writes)
        {
            if (!IsValidPath(write.Path)) throw new ArgumentException($"'{write.Path}' is not a valid repository path", nameof(writes));
            finalWrites[write.Path] = write.Content;
        }
        var uploaded = new HashSet<string>(StringComparer.Ordinal);
        for (var attempt = 1; attempt <= MaxCommitAttempts; attempt++)
        {
            var head = await GetBranchHeadAsync(repo, branch, ct)
                ?? throw new ApiException(System, HttpStatusCode.NotFound, "Not Found", $"branch {branch} does not exist in {repo}", false);
            var (_, commit) = await SendAsync(HttpMethod.Get, $"{RepoPath(repo)}/git/commits/{head}", null, ct);
            var baseTree = Str(commit!["tree"]?["sha"]) ?? throw Malformed("commit without tree");
            var files = (await GetTreeAsync(repo, baseTree, ct)).ToDictionary(e => e.Path, StringComparer.Ordinal);
            var knownBlobs = files.Values.Select(f => f.Sha).ToHashSet(StringComparer.Ordinal);

            var entries = new JsonArray();
            foreach (var (path, content) in finalWrites)
            {
                files.TryGetValue(path, out var existing);
                if (content is null)
                {
                    var isDirectory = existing is null && files.Keys.Any(k => k.StartsWith(path + "/", StringComparison.Ordinal));
                    if (existing is null && !isDirectory) continue;
                    entries.Add(new JsonObject { ["path"] = path, ["mode"] = existing?.Mode ?? "040000", ["type"] = existing is null ? "tree" : "blob", ["sha"] = null });
                    continue;
                }
                var bytes = Encoding.UTF8.GetBytes(content);
                var sha = BlobSha(bytes);
                if (existing?.Sha == sha) continue;
                if (!knownBlobs.Contains(sha) && !uploaded.Contains(sha))
                {
                    var (_, blob) = await SendAsync(HttpMethod.Post, $"{RepoPath(repo)}/git/blobs",
                        new JsonObject { ["content"] = Convert.ToBase64String(bytes), ["encoding"] = "base64" }, ct);
                    if (Str(blob!["sha"]) != sha) throw Malformed($"blob of {path} stored as {Str(blob["sha"])}, expected {sha}");
                    uploaded.Add(sha);
                }
                entries.Add(new JsonObject { ["path"] = path, ["mode"] = existing?.Mode ?? "100644", ["type"] = "blob", ["sha"] = sha });
            }
            if (entries.Count == 0) return head;

            var (_, tree) = await SendAsync(HttpMethod.Post, $"{RepoPath(repo)}/git/trees", new JsonObject { ["base_tree"] = baseTree, ["tree"] = entries }, ct);
            var newTree = Str(tree!["sha"]) ?? throw Malformed("tree without sha");
            if (newTree == baseTree) return head;
            var (_, created) = await SendAsync(HttpMethod.Post, $"{RepoPath(repo)}/git/commits", new JsonObject
            {
                ["message"] = message,
                ["tree"] = newTree,
                ["parents"] = new JsonArray(head),
                ["author"] = new JsonObject
                {
                    ["name"] = author.Name,
                    ["email"] = author.Email,
                    ["date"] = _options.Time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                },
            }, ct);
            var newCommit = Str(created!["sha"]) ?? throw Malformed("commit without sha");
            var (status, update) = await SendAsync(HttpMethod.Patch, $"{RepoPath(repo)}/git/refs/heads/{EscapePath(branch)}",
                new JsonObject { ["sha"] = newCommit, ["force"] = false }, ct, HttpStatusCode.UnprocessableEntity);
            if (status == HttpStatusCode.OK) return newCommit;
            var refusal = Str(update?["message"]) ?? "";
            if (refusal != NotFastForward) throw new ApiException(System, HttpStatusCode.UnprocessableEntity, refusal, Describe(update, refusal), false);
            // Someone else moved the branch between our read and our update: rebuild on the new head.
        }
        throw new ApiException(System, HttpStatusCode.Conflict, NotFastForward, $"{repo}@{branch} kept moving: gave up after {MaxCommitAttempts} attempts", true);
    }

    /// <summary>Triggers a <c>repository_dispatch</c> event. The event type and payload limits are checked before sending.</summary>
    public async Task DispatchAsync(string repo, string eventType, JsonObject? clientPayload, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(eventType)) throw new ArgumentException("event type is required", nameof(eventType));
        if (eventType.Length > MaxEventTypeLength)
            throw new ArgumentException($"event type is {eventType.Length} characters; GitHub allows at most {MaxEventTypeLength}", nameof(eventType));
        if (clientPayload is { Count: > MaxClientPayloadProperties })
            throw new ArgumentException($"client payload has {clientPayload.Count} top-level properties; GitHub allows at most {MaxClientPayloadProperties}", nameof(clientPayload));
        var body = new JsonObject { ["event_type"] = eventType };
        if (clientPayload is not null) body["client_payload"] = clientPayload.DeepClone();
        await SendAsync(HttpMethod.Post, $"{RepoPath(repo)}/dispatches", body, ct);
    }

    // ---- HTTP ----

    private async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpMethod method, string relative, JsonNode? body, CancellationToken ct, params HttpStatusCode[] tolerated)
    {
        if (method != HttpMethod.Get) await PaceWriteAsync(ct);
        ThrowIfBlocked();
        using var request = new HttpRequestMessage(method, new Uri(_root, relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.Token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.github+json"));
        request.Headers.TryAddWithoutValidation("X-GitHub-Api-Version", "2022-11-28");
        request.Headers.TryAddWithoutValidation("User-Agent", _options.UserAgent);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await _http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        JsonNode? json = null;
        if (text.Length > 0)
        {
            try
            {
                json = JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                // A proxy's HTML error page: the status still says what happened.
            }
        }
        var throttle = Throttle(response, json);
        if (throttle is not null) throw throttle;
        if (response.IsSuccessStatusCode || tolerated.Contains(response.StatusCode)) return (response.StatusCode, json);
        var message = Str(json?["message"]) ?? response.ReasonPhrase ?? "error";
        throw new ApiException(System, response.StatusCode, message, Describe(json, message), (int)response.StatusCode >= 500);
    }

    /// <summary>Reads the rate-limit headers; returns the exception to throw when GitHub refused for a limit.</summary>
    private ApiThrottledException? Throttle(HttpResponseMessage response, JsonNode? json)
    {
        var now = _options.Time.GetUtcNow();
        var remaining = Header(response, "x-ratelimit-remaining");
        DateTimeOffset? reset = long.TryParse(Header(response, "x-ratelimit-reset"), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch) ? DateTimeOffset.FromUnixTimeSeconds(epoch) : null;
        if (remaining == "0" && reset is { } until) Block(until);

        var status = (int)response.StatusCode;
        if (status is not (403 or 429)) return null;
        var message = Str(json?["message"]) ?? "rate limited";
        TimeSpan? wait = null;
        if (response.Headers.RetryAfter is { } retryAfter)
            wait = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - now : null);
        else if (remaining == "0" && reset is { } resetAt) wait = resetAt - now;
        else if (status == 429 || message.Contains("secondary rate limit", StringComparison.OrdinalIgnoreCase)) wait = TimeSpan.FromMinutes(1);
        if (wait is null) return null; // a plain 403: permission, not a limit
        if (wait < TimeSpan.FromSeconds(1)) wait = TimeSpan.FromSeconds(1);
        Block(now + wait.Value);
        return new ApiThrottledException(System, wait.Value, message);
    }

    private void Block(DateTimeOffset until)
    {
        lock (_gate) if (until > _blockedUntil) _blockedUntil = until;
    }

    /// <summary>Known to be over a limit: refuse locally rather than spend a request GitHub would refuse.</summary>
    private void ThrowIfBlocked()
    {
        var now = _options.Time.GetUtcNow();
        DateTimeOffset until;
        lock (_gate) until = _blockedUntil;
        if (until > now) throw new ApiThrottledException(System, until - now, "rate limit exhausted (from the last response's headers)");
    }

    /// <summary>Spaces mutating requests <see cref="GitHubClientOptions.MinWriteInterval"/> apart by reserving the next free slot.</summary>
    private async Task PaceWriteAsync(CancellationToken ct)
    {
        var interval = _options.MinWriteInterval;
        if (interval <= TimeSpan.Zero) return;
        var now = _options.Time.GetUtcNow();
        DateTimeOffset slot;
        lock (_gate)
        {
            slot = _nextWriteSlot > now ? _nextWriteSlot : now;
            _nextWriteSlot = slot + interval;
        }
        if (slot > now) await Task.Delay(slot - now, _options.Time, ct);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static string Describe(JsonNode? json, string message)
    {
        if (json?["errors"] is not JsonArray errors || errors.Count == 0) return message;
        var details = errors.Select(e => e is JsonObject o ? Str(o["message"]) ?? $"{Str(o["field"])} {Str(o["code"])}" : e?.ToJsonString());
        return message + ": " + string.Join("; ", details);
    }

    // ---- parsing and diffing ----

    private static List<GitFileChange> FromCompare(JsonArray files)
    {
        var changes = new List<GitFileChange>();
        foreach (var file in files)
        {
            var path = Str(file!["filename"]) ?? throw Malformed("compare file without filename");
            var sha = Str(file["sha"]);
            switch (Str(file["status"]))
            {
                case "added" or "copied": changes.Add(new GitFileChange(path, GitChangeKind.Added, null, sha)); break;
                case "removed": changes.Add(new GitFileChange(path, GitChangeKind.Removed, null, null)); break;
                case "modified" or "changed": changes.Add(new GitFileChange(path, GitChangeKind.Modified, null, sha)); break;
                case "renamed": changes.Add(new GitFileChange(path, GitChangeKind.Renamed, Str(file["previous_filename"]), sha)); break;
                case "unchanged": break;
                case var other: throw Malformed($"unknown compare status {other} for {path}");
            }
        }
        return changes;
    }

    private static List<GitFileChange> AllAdded(IReadOnlyList<GitTreeEntry> tree) =>
        tree.Select(e => new GitFileChange(e.Path, GitChangeKind.Added, null, e.Sha)).ToList();

    /// <summary>Path-by-path difference; a removed and an added path with the same blob is a rename, as GitHub reports it.</summary>
    private static List<GitFileChange> DiffTrees(IReadOnlyList<GitTreeEntry> before, IReadOnlyList<GitTreeEntry> after)
    {
        var old = before.ToDictionary(e => e.Path, StringComparer.Ordinal);
        var now = after.ToDictionary(e => e.Path, StringComparer.Ordinal);
        var changes = new List<GitFileChange>();
        var removed = old.Keys.Where(p => !now.ContainsKey(p)).Order(StringComparer.Ordinal).ToList();
        var added = now.Keys.Where(p => !old.ContainsKey(p)).Order(StringComparer.Ordinal).ToList();
        foreach (var (path, entry) in now)
        {
            if (old.TryGetValue(path, out var previous) && (previous.Sha != entry.Sha || previous.Mode != entry.Mode))
                changes.Add(new GitFileChange(path, GitChangeKind.Modified, null, entry.Sha));
        }
        var addedByBlob = added.GroupBy(p => now[p].Sha, StringComparer.Ordinal).ToDictionary(g => g.Key, g => new Queue<string>(g), StringComparer.Ordinal);
        foreach (var path in removed)
        {
            if (addedByBlob.TryGetValue(old[path].Sha, out var targets) && targets.Count > 0)
            {
                var target = targets.Dequeue();
                added.Remove(target);
                changes.Add(new GitFileChange(target, GitChangeKind.Renamed, path, now[target].Sha));
            }
            else changes.Add(new GitFileChange(path, GitChangeKind.Removed, null, null));
        }
        changes.AddRange(added.Select(p => new GitFileChange(p, GitChangeKind.Added, null, now[p].Sha)));
        changes.Sort((x, y) => StringComparer.Ordinal.Compare(x.Path, y.Path));
        return changes;
    }

    private static List<GitTreeEntry> BlobEntries(JsonNode tree, string prefix) =>
        (tree["tree"] as JsonArray ?? throw Malformed("tree without entries"))
            .Where(e => Str(e!["type"]) == "blob")
            .Select(e => new GitTreeEntry(prefix + Str(e!["path"]), Str(e["sha"])!, Str(e["mode"])!))
            .ToList();

    /// <summary>Git's blob id: SHA-1 of <c>"blob {length}\0"</c> and the bytes. Lets the client skip unchanged files and uploads.</summary>
    public static string BlobSha(ReadOnlySpan<byte> content)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha.AppendData(Encoding.ASCII.GetBytes($"blob {content.Length.ToString(CultureInfo.InvariantCulture)}\0"));
        sha.AppendData(content);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static bool IsValidPath(string path) =>
        !string.IsNullOrEmpty(path) && path.Split('/').All(s => s.Length > 0 && s is not ("." or "..") && !s.Equals(".git", StringComparison.OrdinalIgnoreCase));

    private static string RepoPath(string repo)
    {
        var parts = repo.Split('/');
        if (parts.Length != 2 || parts.Any(p => p.Length == 0)) throw new ArgumentException($"'{repo}' is not owner/name", nameof(repo));
        return $"repos/{Uri.EscapeDataString(parts[0])}/{Uri.EscapeDataString(parts[1])}";
    }

    /// <summary>Escapes each segment but keeps the slashes, as GitHub's routes for refs and paths expect.</summary>
    private static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    private static byte[] Base64(string text) => Convert.FromBase64String(text.Replace("\n", "", StringComparison.Ordinal));

    private static string? Str(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;

    private static ApiException Malformed(string message) => new(System, HttpStatusCode.OK, "unexpected response", message, false);
}
