using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace EventSync.Emulators.GitHub;

public sealed partial class GitHubEmulator
{
    private static readonly string[] SupportedApiVersions = ["2022-11-28", "2026-03-10"];
    private static readonly string[] FileModes = ["100644", "100755", "120000"];

    /// <summary>A GitHub error answer: <c>{"message", "documentation_url", "status"}</c> plus optional validation errors.</summary>
    private sealed class GitHubError(int status, string message, JsonArray? errors = null) : Exception(message)
    {
        public int Status { get; } = status;
        public JsonArray? Errors { get; } = errors;
        public List<KeyValuePair<string, string>> Headers { get; } = [];
    }

    private sealed record Reply(int Status, JsonNode? Body);

    private delegate Reply Handler(Repository repository, JsonNode? body, IQueryCollection query);

    private sealed record RouteMatch(string Route, string? Repo, Handler? Handler, bool NeedsBody);

    private async Task HandleAsync(HttpContext context)
    {
        var method = context.Request.Method;
        var path = context.Request.Path.Value ?? "/";
        var match = Match(method, path.Trim('/').Split('/').Select(s => s.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase)).ToArray());
        lock (_gate) _requestCounts[match.Route] = _requestCounts.GetValueOrDefault(match.Route) + 1;
        context.Response.Headers["x-github-request-id"] = Guid.NewGuid().ToString("N")[..16].ToUpperInvariant();
        context.Response.Headers["x-github-api-version-selected"] = "2022-11-28";
        try
        {
            if (match.Route == "GET /rate_limit")
            {
                await WriteAsync(context, new Reply(200, RateLimitJson()));
                return;
            }
            Admit(context, IsMutation(method));
            if (BeforeRequest is { } hook) await hook(new GitHubRequestInfo(method, match.Route, path));
            if (match.Handler is null) throw new GitHubError(404, "Not Found");
            JsonNode? body = null;
            if (match.NeedsBody) body = await ReadBodyAsync(context);
            Reply reply;
            lock (_gate)
            {
                if (!_repositories.TryGetValue(match.Repo!, out var repository)) throw new GitHubError(404, "Not Found");
                reply = match.Handler(repository, body, context.Request.Query);
            }
            await WriteAsync(context, reply);
        }
        catch (GitHubError error)
        {
            foreach (var (name, value) in error.Headers) context.Response.Headers[name] = value;
            var json = new JsonObject { ["message"] = error.Message };
            if (error.Errors is not null) json["errors"] = error.Errors;
            json["documentation_url"] = DocsUrl;
            json["status"] = error.Status.ToString(CultureInfo.InvariantCulture);
            await WriteAsync(context, new Reply(error.Status, json));
        }
    }

    private static bool IsMutation(string method) => method is "POST" or "PATCH" or "PUT" or "DELETE";

    /// <summary>Authentication, headers, injected faults, then the primary and secondary limits, in GitHub's order of refusal.</summary>
    private void Admit(HttpContext context, bool mutation)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.Length == 0) throw new GitHubError(401, "Requires authentication");
        var space = authorization.IndexOf(' ', StringComparison.Ordinal);
        var scheme = space > 0 ? authorization[..space] : "";
        var token = space > 0 ? authorization[(space + 1)..].Trim() : "";
        if (!(scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) || scheme.Equals("token", StringComparison.OrdinalIgnoreCase)) || token != _options.Token)
            throw new GitHubError(401, "Bad credentials");
        if (string.IsNullOrWhiteSpace(context.Request.Headers.UserAgent.ToString()))
            throw new GitHubError(403, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.");
        var version = context.Request.Headers["X-GitHub-Api-Version"].ToString();
        if (version.Length > 0 && !SupportedApiVersions.Contains(version))
            throw new GitHubError(400, $"API version {version} is not supported.");

        lock (_gate)
        {
            if (_throttleCount > 0)
            {
                _throttleCount--;
                var seconds = Math.Max(1, (int)Math.Ceiling(_throttleDelay.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                throw new GitHubError(429, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.") { Headers = { new("retry-after", seconds) } };
            }
            if (_failCount > 0)
            {
                _failCount--;
                throw new GitHubError(_failStatus, _failStatus >= 500 ? "Server Error" : $"Emulated failure ({_failStatus.ToString(CultureInfo.InvariantCulture)})");
            }
            var now = _options.Time.GetUtcNow();
            RollWindow(now);
            if (_usedInWindow >= _options.RateLimitPerHour)
            {
                throw new GitHubError(403, $"API rate limit exceeded for user ID {StableId(_options.TokenOwner).ToString(CultureInfo.InvariantCulture)}. If you reach out to GitHub Support for help, please include the request ID.");
            }
            if (mutation)
            {
                while (_recentWrites.Count > 0 && now - _recentWrites.Peek() >= TimeSpan.FromMinutes(1)) _recentWrites.Dequeue();
                if (_recentWrites.Count >= _options.ContentCreationPerMinute)
                {
                    var wait = Math.Max(1, (int)Math.Ceiling((_recentWrites.Peek() + TimeSpan.FromMinutes(1) - now).TotalSeconds));
                    throw new GitHubError(403, "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.")
                    {
                        Headers = { new("retry-after", wait.ToString(CultureInfo.InvariantCulture)) },
                    };
                }
                _recentWrites.Enqueue(now);
            }
            _usedInWindow++;
        }
    }

    private void RollWindow(DateTimeOffset now)
    {
        if (now < _windowReset) return;
        _windowReset = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + 3600);
        _usedInWindow = 0;
    }

    private void AddRateLimitHeaders(HttpResponse response)
    {
        lock (_gate)
        {
            RollWindow(_options.Time.GetUtcNow());
            var limit = _options.RateLimitPerHour;
            response.Headers["x-ratelimit-limit"] = limit.ToString(CultureInfo.InvariantCulture);
            response.Headers["x-ratelimit-remaining"] = Math.Max(0, limit - _usedInWindow).ToString(CultureInfo.InvariantCulture);
            response.Headers["x-ratelimit-used"] = Math.Min(limit, _usedInWindow).ToString(CultureInfo.InvariantCulture);
            response.Headers["x-ratelimit-reset"] = _windowReset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            response.Headers["x-ratelimit-resource"] = "core";
        }
    }

    private JsonObject RateLimitJson()
    {
        lock (_gate)
        {
            RollWindow(_options.Time.GetUtcNow());
            JsonObject Core() => new()
            {
                ["limit"] = _options.RateLimitPerHour,
                ["used"] = Math.Min(_options.RateLimitPerHour, _usedInWindow),
                ["remaining"] = Math.Max(0, _options.RateLimitPerHour - _usedInWindow),
                ["reset"] = _windowReset.ToUnixTimeSeconds(),
            };
            return new JsonObject { ["resources"] = new JsonObject { ["core"] = Core() }, ["rate"] = Core() };
        }
    }

    private async Task WriteAsync(HttpContext context, Reply reply)
    {
        AddRateLimitHeaders(context.Response);
        context.Response.StatusCode = reply.Status;
        if (reply.Body is null) return;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(Json(reply.Body), context.RequestAborted);
    }

    private static async Task<JsonNode?> ReadBodyAsync(HttpContext context)
    {
        try
        {
            return await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException)
        {
            throw new GitHubError(400, "Problems parsing JSON");
        }
    }

    private RouteMatch Match(string method, string[] s)
    {
        if (s is ["rate_limit"] && method == "GET") return new RouteMatch("GET /rate_limit", null, null, false);
        if (s.Length < 3 || s[0] != "repos") return new RouteMatch($"{method} (unknown)", null, null, false);
        var repo = s[1] + "/" + s[2];
        var rest = s[3..];
        string Tail(int from) => string.Join('/', rest[from..]);
        const string R = "/repos/{owner}/{repo}";
        RouteMatch M(string route, Handler handler, bool body = false) => new($"{method} {R}{route}", repo, handler, body);
        return (method, rest) switch
        {
            ("GET", []) => M("", (r, _, _) => new Reply(200, RepositoryJson(r, forPush: false))),
            ("GET", ["git", "ref", _, ..]) => M("/git/ref/{ref}", (r, _, _) => GetRef(r, "refs/" + Tail(2))),
            ("GET", ["git", "refs", _, ..]) => M("/git/refs/{ref}", (r, _, _) => ListRefs(r, "refs/" + Tail(2))),
            ("POST", ["git", "refs"]) => M("/git/refs", (r, b, _) => CreateRef(r, b), body: true),
            ("PATCH", ["git", "refs", _, ..]) => M("/git/refs/{ref}", (r, b, _) => UpdateRef(r, "refs/" + Tail(2), b), body: true),
            ("DELETE", ["git", "refs", _, ..]) => M("/git/refs/{ref}", (r, _, _) => DeleteRef(r, "refs/" + Tail(2))),
            ("GET", ["git", "commits", var sha]) => M("/git/commits/{sha}", (r, _, _) => new Reply(200, GitCommitJson(r, CommitOr404(r, sha)))),
            ("POST", ["git", "commits"]) => M("/git/commits", (r, b, _) => CreateCommit(r, b), body: true),
            ("GET", ["git", "trees", _, ..]) => M("/git/trees/{sha}", (r, _, q) => GetTree(r, Tail(2), q["recursive"].ToString())),
            ("POST", ["git", "trees"]) => M("/git/trees", (r, b, _) => CreateTree(r, b), body: true),
            ("GET", ["git", "blobs", var sha]) => M("/git/blobs/{sha}", (r, _, _) => GetBlob(r, sha)),
            ("POST", ["git", "blobs"]) => M("/git/blobs", (r, b, _) => CreateBlob(r, b), body: true),
            ("GET", ["commits", _, ..]) => M("/commits/{ref}", (r, _, _) => GetRestCommit(r, Tail(1))),
            ("GET", ["compare", _, ..]) => M("/compare/{basehead}", (r, _, _) => Compare(r, Tail(1))),
            ("GET", ["contents", ..]) => M("/contents/{path}", (r, _, q) => GetContents(r, Tail(1), q["ref"].ToString())),
            ("POST", ["dispatches"]) => M("/dispatches", (r, b, _) => Dispatch(r, b), body: true),
            _ => new RouteMatch($"{method} {R}/(unknown)", repo, null, false),
        };
    }

    // ---- refs ----

    private JsonObject RefJson(Repository repository, string refName, string sha) => new()
    {
        ["ref"] = refName,
        ["node_id"] = "REF_" + refName,
        ["url"] = ApiUrl($"repos/{repository.FullName}/git/{refName}"),
        ["object"] = new JsonObject { ["sha"] = sha, ["type"] = "commit", ["url"] = ApiUrl($"repos/{repository.FullName}/git/commits/{sha}") },
    };

    private static void RequireCommits(Repository repository)
    {
        if (repository.Refs.Count == 0) throw new GitHubError(409, "Git Repository is empty.");
    }

    private Reply GetRef(Repository repository, string refName)
    {
        RequireCommits(repository);
        return repository.Refs.TryGetValue(refName, out var sha) ? new Reply(200, RefJson(repository, refName, sha)) : throw new GitHubError(404, "Not Found");
    }

    /// <summary>GitHub's plural form: the exact ref as an object, else every ref starting with the name as an array.</summary>
    private Reply ListRefs(Repository repository, string prefix)
    {
        RequireCommits(repository);
        if (repository.Refs.TryGetValue(prefix, out var exact)) return new Reply(200, RefJson(repository, prefix, exact));
        var matches = repository.Refs.Where(r => r.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(r => (JsonNode)RefJson(repository, r.Key, r.Value)).ToArray();
        return matches.Length == 0 ? throw new GitHubError(404, "Not Found") : new Reply(200, new JsonArray(matches));
    }

    private Reply CreateRef(Repository repository, JsonNode? body)
    {
        var refName = RequiredString(body, "ref");
        var sha = RequiredString(body, "sha");
        if (!refName.StartsWith("refs/", StringComparison.Ordinal) || refName.Count(c => c == '/') < 2 || ValidatePath(refName) is not null)
            throw new GitHubError(422, "Reference name is invalid");
        if (repository.Objects.GetCommit(sha) is null) throw new GitHubError(422, "Object does not exist");
        if (repository.Refs.ContainsKey(refName)) throw new GitHubError(422, "Reference already exists");
        MoveRef(repository, refName, sha, _options.TokenOwner);
        return new Reply(201, RefJson(repository, refName, sha));
    }

    private Reply UpdateRef(Repository repository, string refName, JsonNode? body)
    {
        var sha = RequiredString(body, "sha");
        var force = body?["force"] is JsonValue f && f.TryGetValue<bool>(out var forced) && forced;
        if (!repository.Refs.TryGetValue(refName, out var current)) throw new GitHubError(422, "Reference does not exist");
        if (repository.Objects.GetCommit(sha) is null) throw new GitHubError(422, "Object does not exist");
        if (!force && !repository.Objects.Ancestors(sha).Contains(current)) throw new GitHubError(422, "Update is not a fast forward");
        MoveRef(repository, refName, sha, _options.TokenOwner);
        return new Reply(200, RefJson(repository, refName, sha));
    }

    private Reply DeleteRef(Repository repository, string refName)
    {
        if (!repository.Refs.ContainsKey(refName)) throw new GitHubError(422, "Reference does not exist");
        MoveRef(repository, refName, null, _options.TokenOwner);
        return new Reply(204, null);
    }

    /// <summary>A full commit id, branch, tag or full ref name; null when unknown.</summary>
    private static string? ResolveCommit(Repository repository, string rev)
    {
        if (rev.Length == 40 && repository.Objects.GetCommit(rev.ToLowerInvariant()) is not null) return rev.ToLowerInvariant();
        return repository.Refs.GetValueOrDefault("refs/heads/" + rev)
            ?? repository.Refs.GetValueOrDefault("refs/tags/" + rev)
            ?? (rev.StartsWith("refs/", StringComparison.Ordinal) ? repository.Refs.GetValueOrDefault(rev) : null);
    }

    private static GitCommitObject CommitOr404(Repository repository, string sha) =>
        repository.Objects.GetCommit(sha) ?? throw new GitHubError(404, "Not Found");

    // ---- commits ----

    private JsonObject GitCommitJson(Repository repository, GitCommitObject commit) => new()
    {
        ["sha"] = commit.Sha,
        ["node_id"] = "C_" + commit.Sha,
        ["url"] = ApiUrl($"repos/{repository.FullName}/git/commits/{commit.Sha}"),
        ["html_url"] = $"https://github.com/{repository.FullName}/commit/{commit.Sha}",
        ["author"] = SignatureJson(commit.Author),
        ["committer"] = SignatureJson(commit.Committer),
        ["tree"] = new JsonObject { ["sha"] = commit.TreeSha, ["url"] = ApiUrl($"repos/{repository.FullName}/git/trees/{commit.TreeSha}") },
        ["message"] = commit.Message,
        ["parents"] = new JsonArray(commit.Parents.Select(p => (JsonNode)new JsonObject
        {
            ["sha"] = p,
            ["url"] = ApiUrl($"repos/{repository.FullName}/git/commits/{p}"),
            ["html_url"] = $"https://github.com/{repository.FullName}/commit/{p}",
        }).ToArray()),
        ["verification"] = new JsonObject { ["verified"] = false, ["reason"] = "unsigned", ["signature"] = null, ["payload"] = null },
    };

    private static JsonObject SignatureJson(GitSignature s) => new() { ["name"] = s.Name, ["email"] = s.Email, ["date"] = Iso(s.Date) };

    private Reply CreateCommit(Repository repository, JsonNode? body)
    {
        var message = RequiredString(body, "message");
        var tree = RequiredString(body, "tree");
        if (repository.Objects.GetTree(tree) is null) throw Invalid("tree", $"{tree} is not a valid tree");
        var parents = new List<string>();
        if (body?["parents"] is JsonArray parentArray)
        {
            foreach (var parent in parentArray)
            {
                var sha = parent is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw Invalid("parents", "parents must be commit ids");
                if (repository.Objects.GetCommit(sha) is null) throw Invalid("parents", $"{sha} is not a valid commit");
                parents.Add(sha);
            }
        }
        else if (body?["parents"] is not null) throw Invalid("parents", "parents must be an array");
        var author = ReadSignature(body?["author"], "author") ?? Signature(_options.TokenOwner);
        var committer = ReadSignature(body?["committer"], "committer") ?? author;
        var sha1 = repository.Objects.PutCommit(tree, parents, author, committer, message);
        return new Reply(201, GitCommitJson(repository, repository.Objects.GetCommit(sha1)!));
    }

    private GitSignature? ReadSignature(JsonNode? node, string field)
    {
        if (node is null) return null;
        if (node is not JsonObject o) throw Invalid(field, $"{field} must be an object");
        var name = o["name"]?.GetValue<string>();
        var email = o["email"]?.GetValue<string>();
        if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(email)) throw Invalid(field, $"{field} needs name and email");
        var date = Now();
        if (o["date"] is JsonValue d && d.TryGetValue<string>(out var text))
        {
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out date)) throw Invalid(field, $"{field}.date is not an ISO 8601 time");
            date = date.ToUniversalTime();
        }
        return new GitSignature(name, email, date);
    }

    private Reply GetRestCommit(Repository repository, string rev)
    {
        var sha = ResolveCommit(repository, rev) ?? throw new GitHubError(422, $"No commit found for SHA: {rev}");
        var commit = repository.Objects.GetCommit(sha)!;
        var parentTree = commit.Parents.Count > 0 ? repository.Objects.GetCommit(commit.Parents[0])!.TreeSha : GitObjectStore.EmptyTreeSha;
        var json = RestCommitJson(repository, commit);
        var (files, additions, deletions) = FilesJson(repository, parentTree, commit.TreeSha);
        json["stats"] = new JsonObject { ["total"] = additions + deletions, ["additions"] = additions, ["deletions"] = deletions };
        json["files"] = files;
        return new Reply(200, json);
    }

    private JsonObject RestCommitJson(Repository repository, GitCommitObject commit) => new()
    {
        ["sha"] = commit.Sha,
        ["node_id"] = "C_" + commit.Sha,
        ["commit"] = new JsonObject
        {
            ["author"] = SignatureJson(commit.Author),
            ["committer"] = SignatureJson(commit.Committer),
            ["message"] = commit.Message,
            ["tree"] = new JsonObject { ["sha"] = commit.TreeSha, ["url"] = ApiUrl($"repos/{repository.FullName}/git/trees/{commit.TreeSha}") },
            ["url"] = ApiUrl($"repos/{repository.FullName}/git/commits/{commit.Sha}"),
            ["comment_count"] = 0,
        },
        ["url"] = ApiUrl($"repos/{repository.FullName}/commits/{commit.Sha}"),
        ["html_url"] = $"https://github.com/{repository.FullName}/commit/{commit.Sha}",
        ["author"] = null,
        ["committer"] = null,
        ["parents"] = new JsonArray(commit.Parents.Select(p => (JsonNode)new JsonObject { ["sha"] = p, ["url"] = ApiUrl($"repos/{repository.FullName}/commits/{p}") }).ToArray()),
    };

    /// <summary>GitHub's <c>files</c> list between two trees, renames detected, capped at 300 entries.</summary>
    private (JsonArray Files, int Additions, int Deletions) FilesJson(Repository repository, string fromTree, string toTree)
    {
        var objects = repository.Objects;
        var files = new JsonArray();
        int totalAdded = 0, totalDeleted = 0;
        foreach (var change in TreeDiff.Compute(objects.Flatten(fromTree), objects.Flatten(toTree), detectRenames: true).Take(300))
        {
            var oldLines = change.Old is null ? [] : Lines(objects.GetBlob(change.Old.Sha));
            var newLines = change.New is null ? [] : Lines(objects.GetBlob(change.New.Sha));
            // Line counts from a multiset difference: close to a diff's for the edits tests make.
            var remaining = oldLines.GroupBy(l => l, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            var additions = 0;
            foreach (var line in newLines)
            {
                if (remaining.TryGetValue(line, out var n) && n > 0) remaining[line] = n - 1;
                else additions++;
            }
            var deletions = remaining.Values.Sum();
            totalAdded += additions;
            totalDeleted += deletions;
            var sha = (change.New ?? change.Old)!.Sha;
            var file = new JsonObject
            {
                ["sha"] = sha,
                ["filename"] = change.Path,
                ["status"] = change.Status,
                ["additions"] = additions,
                ["deletions"] = deletions,
                ["changes"] = additions + deletions,
                ["blob_url"] = $"https://github.com/{repository.FullName}/blob/{sha}/{change.Path}",
                ["raw_url"] = $"https://github.com/{repository.FullName}/raw/{sha}/{change.Path}",
                ["contents_url"] = ApiUrl($"repos/{repository.FullName}/contents/{change.Path}"),
            };
            if (change.PreviousPath is not null) file["previous_filename"] = change.PreviousPath;
            files.Add(file);
        }
        return (files, totalAdded, totalDeleted);
    }

    private static string[] Lines(byte[]? blob) => blob is null || blob.Length == 0 ? [] : Encoding.UTF8.GetString(blob).TrimEnd('\n').Split('\n');

    // ---- compare ----

    private Reply Compare(Repository repository, string basehead)
    {
        var dots = basehead.IndexOf("...", StringComparison.Ordinal);
        if (dots <= 0 || dots + 3 >= basehead.Length) throw new GitHubError(404, "Not Found");
        var baseRev = basehead[..dots];
        var headRev = basehead[(dots + 3)..];
        var baseSha = ResolveCommit(repository, baseRev) ?? throw new GitHubError(404, "Not Found");
        var headSha = ResolveCommit(repository, headRev) ?? throw new GitHubError(404, "Not Found");
        var objects = repository.Objects;
        var mergeBase = objects.MergeBase(baseSha, headSha) ?? throw new GitHubError(404, $"No common ancestor between {baseRev} and {headRev}.");
        var ahead = objects.Between([baseSha], headSha);
        var behindBy = objects.Between([headSha], baseSha).Count;
        var status = baseSha == headSha ? "identical" : behindBy == 0 ? "ahead" : ahead.Count == 0 ? "behind" : "diverged";
        // Three-dot semantics: files are the changes from the merge base to head, not from base.
        var (files, _, _) = FilesJson(repository, objects.GetCommit(mergeBase)!.TreeSha, objects.GetCommit(headSha)!.TreeSha);
        return new Reply(200, new JsonObject
        {
            ["url"] = ApiUrl($"repos/{repository.FullName}/compare/{basehead}"),
            ["html_url"] = $"https://github.com/{repository.FullName}/compare/{basehead}",
            ["permalink_url"] = $"https://github.com/{repository.FullName}/compare/{repository.Owner}:{baseSha[..7]}...{repository.Owner}:{headSha[..7]}",
            ["diff_url"] = $"https://github.com/{repository.FullName}/compare/{basehead}.diff",
            ["patch_url"] = $"https://github.com/{repository.FullName}/compare/{basehead}.patch",
            ["base_commit"] = RestCommitJson(repository, objects.GetCommit(baseSha)!),
            ["merge_base_commit"] = RestCommitJson(repository, objects.GetCommit(mergeBase)!),
            ["status"] = status,
            ["ahead_by"] = ahead.Count,
            ["behind_by"] = behindBy,
            ["total_commits"] = ahead.Count,
            ["commits"] = new JsonArray(ahead.TakeLast(250).Select(c => (JsonNode)RestCommitJson(repository, c)).ToArray()),
            ["files"] = files,
        });
    }

    // ---- trees and blobs ----

    private Reply GetTree(Repository repository, string treeish, string recursive)
    {
        var objects = repository.Objects;
        var treeSha = objects.GetTree(treeish) is not null ? treeish
            : ResolveCommit(repository, treeish) is { } commit ? objects.GetCommit(commit)!.TreeSha
            : throw new GitHubError(404, "Not Found");
        // GitHub treats any value of recursive as true, except absence.
        return new Reply(200, TreeJson(repository, treeSha, recursive.Length > 0));
    }

    private JsonObject TreeJson(Repository repository, string treeSha, bool recursive)
    {
        var entries = new JsonArray();
        void Walk(string sha, string prefix, int depth)
        {
            foreach (var entry in repository.Objects.GetTree(sha)!)
            {
                var json = new JsonObject { ["path"] = prefix + entry.Name, ["mode"] = entry.Mode, ["type"] = entry.Type, ["sha"] = entry.Sha };
                if (entry.Type == "blob") json["size"] = repository.Objects.GetBlob(entry.Sha)?.Length ?? 0;
                json["url"] = ApiUrl($"repos/{repository.FullName}/git/{entry.Type}s/{entry.Sha}");
                entries.Add(json);
                if (recursive && entry.Type == "tree" && depth < 64) Walk(entry.Sha, prefix + entry.Name + "/", depth + 1);
            }
        }
        Walk(treeSha, "", 0);
        return new JsonObject { ["sha"] = treeSha, ["url"] = ApiUrl($"repos/{repository.FullName}/git/trees/{treeSha}"), ["tree"] = entries, ["truncated"] = false };
    }

    private Reply CreateTree(Repository repository, JsonNode? body)
    {
        var objects = repository.Objects;
        if (body?["tree"] is not JsonArray entries) throw Invalid("tree", "tree is a required array");
        SortedDictionary<string, GitFileEntry> files;
        if (body["base_tree"] is JsonValue baseValue && baseValue.TryGetValue<string>(out var baseTree))
        {
            if (objects.GetTree(baseTree) is null) throw new GitHubError(422, "base_tree is not a valid tree oid");
            files = objects.Flatten(baseTree);
        }
        else files = new SortedDictionary<string, GitFileEntry>(StringComparer.Ordinal);

        foreach (var node in entries)
        {
            if (node is not JsonObject entry) throw Invalid("tree", "tree entries must be objects");
            var path = entry["path"] is JsonValue p && p.TryGetValue<string>(out var ps) ? ps : throw Invalid("tree.path", "path is required");
            if (ValidatePath(path) is { } problem) throw Invalid("tree.path", problem);
            var mode = entry["mode"] is JsonValue m && m.TryGetValue<string>(out var ms) ? ms : throw Invalid("tree.mode", "mode is required");
            if (!FileModes.Contains(mode) && mode is not ("040000" or "160000")) throw Invalid("tree.mode", $"mode {mode} is not one of 100644, 100755, 040000, 160000, 120000");
            var type = entry["type"] is JsonValue t && t.TryGetValue<string>(out var ts) ? ts : GitObjectStore.TypeOfMode(mode);
            if (type != GitObjectStore.TypeOfMode(mode)) throw Invalid("tree.type", $"type {type} does not match mode {mode}");
            var hasSha = entry.ContainsKey("sha");
            var hasContent = entry["content"] is not null;
            if (hasSha && hasContent) throw new GitHubError(422, "Must supply either tree.sha or tree.content, not both");
            if (hasContent)
            {
                if (type != "blob") throw Invalid("tree.content", "content is only for blobs");
                var content = entry["content"]!.GetValue<string>();
                SetPath(files, path, new GitFileEntry(mode, objects.PutBlob(Encoding.UTF8.GetBytes(content))));
                continue;
            }
            if (!hasSha) throw new GitHubError(422, "Must supply either tree.sha or tree.content");
            if (entry["sha"] is null)
            {
                // Deleting a path the base tree does not have is an error on GitHub, with this unhelpful message.
                if (!RemovePath(files, path)) throw new GitHubError(422, "GitRPC::BadObjectState");
                continue;
            }
            var sha = entry["sha"]!.GetValue<string>();
            switch (type)
            {
                case "blob" when objects.IsBlob(sha):
                    SetPath(files, path, new GitFileEntry(mode, sha));
                    break;
                case "tree" when objects.GetTree(sha) is not null:
                    RemovePath(files, path);
                    foreach (var key in files.Keys.Where(k => path.StartsWith(k + "/", StringComparison.Ordinal)).ToList()) files.Remove(key);
                    foreach (var (sub, file) in objects.Flatten(sha)) files[path + "/" + sub] = file;
                    break;
                case "commit":
                    SetPath(files, path, new GitFileEntry(mode, sha));
                    break;
                default:
                    throw new GitHubError(422, $"tree.sha {sha} is not a valid {type}");
            }
        }
        var treeSha = objects.BuildTree(files);
        return new Reply(201, TreeJson(repository, treeSha, recursive: false));
    }

    private Reply GetBlob(Repository repository, string sha)
    {
        var blob = repository.Objects.GetBlob(sha) ?? throw new GitHubError(404, "Not Found");
        return new Reply(200, new JsonObject
        {
            ["sha"] = sha,
            ["node_id"] = "B_" + sha,
            ["size"] = blob.Length,
            ["url"] = ApiUrl($"repos/{repository.FullName}/git/blobs/{sha}"),
            ["content"] = Base64Lines(blob),
            ["encoding"] = "base64",
        });
    }

    private Reply CreateBlob(Repository repository, JsonNode? body)
    {
        var content = body?["content"] is JsonValue c && c.TryGetValue<string>(out var text) ? text : throw Invalid("content", "content is required");
        var encoding = body["encoding"] is JsonValue e && e.TryGetValue<string>(out var enc) ? enc : "utf-8";
        byte[] bytes;
        switch (encoding)
        {
            case "utf-8":
                bytes = Encoding.UTF8.GetBytes(content);
                break;
            case "base64":
                try
                {
                    bytes = Convert.FromBase64String(content);
                }
                catch (FormatException)
                {
                    throw Invalid("content", "content is not valid base64");
                }
                break;
            default:
                throw Invalid("encoding", $"encoding {encoding} is not one of utf-8, base64");
        }
        var sha = repository.Objects.PutBlob(bytes);
        return new Reply(201, new JsonObject { ["sha"] = sha, ["url"] = ApiUrl($"repos/{repository.FullName}/git/blobs/{sha}") });
    }

    /// <summary>Base64 broken into 60-character lines, as GitHub sends it.</summary>
    private static string Base64Lines(byte[] bytes)
    {
        var text = Convert.ToBase64String(bytes);
        var lines = new StringBuilder(text.Length + text.Length / 60 + 1);
        for (var i = 0; i < text.Length; i += 60) lines.Append(text, i, Math.Min(60, text.Length - i)).Append('\n');
        return lines.ToString();
    }

    // ---- contents ----

    private Reply GetContents(Repository repository, string path, string gitRef)
    {
        RequireCommits(repository);
        var rev = gitRef.Length > 0 ? gitRef : repository.DefaultBranch;
        var commit = ResolveCommit(repository, rev) ?? throw new GitHubError(404, $"No commit found for the ref {rev}");
        var files = repository.Objects.Flatten(repository.Objects.GetCommit(commit)!.TreeSha);
        path = path.Trim('/');
        if (path.Length > 0 && files.TryGetValue(path, out var file))
        {
            var blob = repository.Objects.GetBlob(file.Sha) ?? [];
            var json = ContentEntryJson(repository, path, "file", file.Sha, blob.Length, rev);
            // Above 1 MB the JSON form still answers but without the content: clients must use the blobs API.
            var small = blob.Length <= MaxContentsBytes;
            json["content"] = small ? Base64Lines(blob) : "";
            json["encoding"] = small ? "base64" : "none";
            return new Reply(200, json);
        }
        var prefix = path.Length == 0 ? "" : path + "/";
        var children = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var (key, entry) in files)
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var rest = key[prefix.Length..];
            var slash = rest.IndexOf('/', StringComparison.Ordinal);
            var name = slash < 0 ? rest : rest[..slash];
            if (children.ContainsKey(name)) continue;
            children[name] = slash < 0
                ? ContentEntryJson(repository, prefix + name, "file", entry.Sha, repository.Objects.GetBlob(entry.Sha)?.Length ?? 0, rev)
                : ContentEntryJson(repository, prefix + name, "dir", "", 0, rev);
        }
        if (children.Count == 0) throw new GitHubError(404, "Not Found");
        return new Reply(200, new JsonArray(children.Values.Select(c => (JsonNode)c).ToArray()));
    }

    private JsonObject ContentEntryJson(Repository repository, string path, string type, string sha, int size, string rev)
    {
        var url = ApiUrl($"repos/{repository.FullName}/contents/{path}?ref={Uri.EscapeDataString(rev)}");
        return new JsonObject
        {
            ["type"] = type,
            ["size"] = size,
            ["name"] = path[(path.LastIndexOf('/') + 1)..],
            ["path"] = path,
            ["sha"] = sha,
            ["url"] = url,
            ["git_url"] = type == "file" ? ApiUrl($"repos/{repository.FullName}/git/blobs/{sha}") : null,
            ["html_url"] = $"https://github.com/{repository.FullName}/{(type == "file" ? "blob" : "tree")}/{rev}/{path}",
            ["download_url"] = type == "file" ? $"https://raw.githubusercontent.com/{repository.FullName}/{rev}/{path}" : null,
        };
    }

    // ---- dispatches ----

    private Reply Dispatch(Repository repository, JsonNode? body)
    {
        if (body?["event_type"] is not JsonValue eventValue || !eventValue.TryGetValue<string>(out var eventType) || eventType.Length == 0)
            throw new GitHubError(422, "Invalid request.\n\n\"event_type\" wasn't supplied.");
        if (eventType.Length > 100) throw new GitHubError(422, "Invalid request.\n\nevent_type is too long (maximum is 100 characters).");
        JsonObject? payload = null;
        if (body["client_payload"] is { } payloadNode)
        {
            payload = payloadNode as JsonObject ?? throw new GitHubError(422, "Invalid request.\n\nFor 'properties/client_payload', " + payloadNode.ToJsonString() + " is not an object.");
            if (payload.Count > 10)
                throw new GitHubError(422, $"Invalid request.\n\nNo more than 10 properties are allowed; {payload.Count.ToString(CultureInfo.InvariantCulture)} were supplied.");
        }
        _dispatches.Add(new GitHubDispatch(repository.FullName, eventType, payload?.DeepClone().AsObject()));
        EnqueueEvent(repository, "repository_dispatch", new JsonObject
        {
            ["action"] = eventType,
            ["branch"] = repository.DefaultBranch,
            ["client_payload"] = payload?.DeepClone(),
            ["repository"] = RepositoryJson(repository, forPush: false),
            ["sender"] = UserJson(_options.TokenOwner),
        });
        return new Reply(204, null);
    }

    // ---- validation helpers ----

    private static string RequiredString(JsonNode? body, string field) =>
        body?[field] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : throw Invalid(field, $"{field} is required");

    private static GitHubError Invalid(string field, string message) =>
        new(422, "Validation Failed", new JsonArray(new JsonObject { ["resource"] = "Git", ["field"] = field, ["code"] = "invalid", ["message"] = message }));
}
