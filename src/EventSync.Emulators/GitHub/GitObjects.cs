using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EventSync.Emulators.GitHub;

/// <summary>A tree entry as git stores it; <see cref="Mode"/> is the API spelling (040000 for trees).</summary>
public sealed record GitObjectEntry(string Name, string Mode, string Type, string Sha);

/// <summary>A signature line of a commit: who and when.</summary>
public sealed record GitSignature(string Name, string Email, DateTimeOffset Date);

public sealed record GitCommitObject(string Sha, string TreeSha, IReadOnlyList<string> Parents, GitSignature Author, GitSignature Committer, string Message);

/// <summary>A file in a flattened tree: its blob and mode.</summary>
public sealed record GitFileEntry(string Mode, string Sha);

/// <summary>
/// Content-addressed git objects with real SHA-1 ids: <c>sha1("blob N\0" + bytes)</c>, trees in git's binary format and
/// order, commits in git's text format. Not thread-safe: the emulator serialises access.
/// </summary>
internal sealed class GitObjectStore
{
    public const string EmptyTreeSha = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

    private readonly Dictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyList<GitObjectEntry>> _trees = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GitCommitObject> _commits = new(StringComparer.Ordinal);

    public GitObjectStore() => _trees[EmptyTreeSha] = [];

    public static string BlobSha(ReadOnlySpan<byte> content) => Hash("blob", content);

    public string PutBlob(byte[] content)
    {
        var sha = BlobSha(content);
        _blobs.TryAdd(sha, content);
        return sha;
    }

    public byte[]? GetBlob(string sha) => _blobs.GetValueOrDefault(sha);

    public IReadOnlyList<GitObjectEntry>? GetTree(string sha) => _trees.GetValueOrDefault(sha);

    public GitCommitObject? GetCommit(string sha) => _commits.GetValueOrDefault(sha);

    public bool IsBlob(string sha) => _blobs.ContainsKey(sha);

    public string PutTree(IEnumerable<GitObjectEntry> entries)
    {
        // Git orders entries by name bytes, comparing a tree's name as if it ended in '/'.
        var sorted = entries.OrderBy(e => e.Type == "tree" ? e.Name + "/" : e.Name, StringComparer.Ordinal).ToList();
        using var body = new MemoryStream();
        foreach (var entry in sorted)
        {
            var mode = entry.Mode == "040000" ? "40000" : entry.Mode;
            var head = Encoding.UTF8.GetBytes($"{mode} {entry.Name}\0");
            body.Write(head);
            body.Write(Convert.FromHexString(entry.Sha));
        }
        var sha = Hash("tree", body.ToArray());
        _trees.TryAdd(sha, sorted);
        return sha;
    }

    public string PutCommit(string treeSha, IReadOnlyList<string> parents, GitSignature author, GitSignature committer, string message)
    {
        var text = new StringBuilder();
        text.Append("tree ").Append(treeSha).Append('\n');
        foreach (var parent in parents) text.Append("parent ").Append(parent).Append('\n');
        text.Append("author ").Append(SignatureLine(author)).Append('\n');
        text.Append("committer ").Append(SignatureLine(committer)).Append('\n');
        text.Append('\n').Append(message);
        var sha = Hash("commit", Encoding.UTF8.GetBytes(text.ToString()));
        _commits.TryAdd(sha, new GitCommitObject(sha, treeSha, parents, author, committer, message));
        return sha;
    }

    /// <summary>Every file (blobs, symlinks, submodules) under a tree, by full path.</summary>
    public SortedDictionary<string, GitFileEntry> Flatten(string treeSha)
    {
        var files = new SortedDictionary<string, GitFileEntry>(StringComparer.Ordinal);
        Flatten(treeSha, "", files, depth: 0);
        return files;
    }

    private void Flatten(string treeSha, string prefix, SortedDictionary<string, GitFileEntry> files, int depth)
    {
        if (depth > 64) throw new InvalidOperationException("tree nesting deeper than 64 levels");
        foreach (var entry in _trees[treeSha])
        {
            if (entry.Type == "tree") Flatten(entry.Sha, prefix + entry.Name + "/", files, depth + 1);
            else files[prefix + entry.Name] = new GitFileEntry(entry.Mode, entry.Sha);
        }
    }

    /// <summary>Writes the nested trees for a flat path map and returns the root tree's id.</summary>
    public string BuildTree(IReadOnlyDictionary<string, GitFileEntry> files) => BuildTree(files.Select(f => (f.Key.Split('/'), f.Value)).ToList(), 0);

    private string BuildTree(List<(string[] Segments, GitFileEntry File)> files, int level)
    {
        var entries = new List<GitObjectEntry>();
        foreach (var group in files.GroupBy(f => f.Segments[level], StringComparer.Ordinal))
        {
            var items = group.ToList();
            var leaf = items.FirstOrDefault(i => i.Segments.Length == level + 1);
            if (leaf.Segments is not null)
            {
                entries.Add(new GitObjectEntry(group.Key, leaf.File.Mode, TypeOfMode(leaf.File.Mode), leaf.File.Sha));
                continue;
            }
            entries.Add(new GitObjectEntry(group.Key, "040000", "tree", BuildTree(items, level + 1)));
        }
        return PutTree(entries);
    }

    public static string TypeOfMode(string mode) => mode switch
    {
        "040000" => "tree",
        "160000" => "commit",
        _ => "blob",
    };

    /// <summary>All commits reachable from <paramref name="sha"/> (itself included).</summary>
    public HashSet<string> Ancestors(string sha)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        stack.Push(sha);
        while (stack.Count > 0)
        {
            var current = stack.Pop();
            if (!seen.Add(current)) continue;
            foreach (var parent in _commits[current].Parents) stack.Push(parent);
        }
        return seen;
    }

    /// <summary>The best common ancestor, or null for unrelated histories.</summary>
    public string? MergeBase(string a, string b)
    {
        var common = Ancestors(a);
        common.IntersectWith(Ancestors(b));
        // A best common ancestor is one that no other common ancestor descends from.
        var notBest = new HashSet<string>(StringComparer.Ordinal);
        // Newest first: the first candidate usually marks all others, so each later one is skipped at once.
        foreach (var candidate in common.OrderByDescending(c => _commits[c].Committer.Date))
        {
            if (notBest.Contains(candidate)) continue;
            foreach (var ancestor in Ancestors(candidate))
                if (ancestor != candidate) notBest.Add(ancestor);
        }
        return common.Where(c => !notBest.Contains(c)).OrderByDescending(c => _commits[c].Committer.Date).ThenBy(c => c, StringComparer.Ordinal).FirstOrDefault();
    }

    /// <summary>Commits reachable from <paramref name="head"/> but not from any of <paramref name="excluded"/>, parents before children.</summary>
    public List<GitCommitObject> Between(IEnumerable<string> excluded, string head)
    {
        var hidden = new HashSet<string>(StringComparer.Ordinal);
        foreach (var sha in excluded) hidden.UnionWith(Ancestors(sha));
        var ordered = new List<GitCommitObject>();
        var visited = new HashSet<string>(StringComparer.Ordinal);
        // Iterative post-order: a commit is emitted after all of its parents.
        var stack = new Stack<(string Sha, bool Expanded)>();
        stack.Push((head, false));
        while (stack.Count > 0)
        {
            var (sha, expanded) = stack.Pop();
            if (hidden.Contains(sha)) continue;
            if (expanded)
            {
                ordered.Add(_commits[sha]);
                continue;
            }
            if (!visited.Add(sha)) continue;
            stack.Push((sha, true));
            foreach (var parent in _commits[sha].Parents.Reverse()) if (!visited.Contains(parent)) stack.Push((parent, false));
        }
        return ordered;
    }

    private static string SignatureLine(GitSignature s) =>
        $"{s.Name} <{s.Email}> {s.Date.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)} +0000";

    private static string Hash(string type, ReadOnlySpan<byte> content)
    {
        var header = Encoding.ASCII.GetBytes($"{type} {content.Length.ToString(CultureInfo.InvariantCulture)}\0");
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha.AppendData(header);
        sha.AppendData(content);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}

/// <summary>The difference between two flattened trees, GitHub-style: a removed and an added path with the same blob is a rename.</summary>
internal static class TreeDiff
{
    public sealed record Change(string Path, string Status, string? PreviousPath, GitFileEntry? Old, GitFileEntry? New);

    public static List<Change> Compute(IReadOnlyDictionary<string, GitFileEntry> before, IReadOnlyDictionary<string, GitFileEntry> after, bool detectRenames)
    {
        var changes = new List<Change>();
        var removed = new List<string>();
        var added = new List<string>();
        foreach (var (path, old) in before)
        {
            if (!after.TryGetValue(path, out var now)) removed.Add(path);
            else if (now.Sha != old.Sha) changes.Add(new Change(path, "modified", null, old, now));
            else if (now.Mode != old.Mode) changes.Add(new Change(path, "changed", null, old, now));
        }
        foreach (var path in after.Keys) if (!before.ContainsKey(path)) added.Add(path);
        if (detectRenames)
        {
            var addedByBlob = added.GroupBy(p => after[p].Sha, StringComparer.Ordinal).ToDictionary(g => g.Key, g => new Queue<string>(g), StringComparer.Ordinal);
            foreach (var path in removed.ToList())
            {
                if (!addedByBlob.TryGetValue(before[path].Sha, out var targets) || targets.Count == 0) continue;
                var target = targets.Dequeue();
                removed.Remove(path);
                added.Remove(target);
                changes.Add(new Change(target, "renamed", path, before[path], after[target]));
            }
        }
        changes.AddRange(removed.Select(p => new Change(p, "removed", null, before[p], null)));
        changes.AddRange(added.Select(p => new Change(p, "added", null, null, after[p])));
        changes.Sort((x, y) => StringComparer.Ordinal.Compare(x.Path, y.Path));
        return changes;
    }
}
