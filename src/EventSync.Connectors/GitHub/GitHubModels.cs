using System.Text;

namespace EventSync.Connectors.GitHub;

public sealed record GitHubClientOptions
{
    // A record prints its members: keep the credential out of any log or exception that formats the options.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("ApiUrl = ").Append(ApiUrl).Append(", Token = ***");
        return true;
    }

    /// <summary>API root; https://HOST/api/v3 for GitHub Enterprise Server, the emulator's BaseUrl in tests.</summary>
    public Uri ApiUrl { get; init; } = new("https://api.github.com/");
    public required string Token { get; init; }
    /// <summary>GitHub refuses requests without a User-Agent.</summary>
    public string UserAgent { get; init; } = "EventSync";
    /// <summary>Least time between two mutating requests of this client: GitHub asks for at least 1 s in bulk writes.</summary>
    public TimeSpan MinWriteInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

public enum GitChangeKind { Added, Modified, Removed, Renamed }

/// <summary>One changed file; <see cref="BlobSha"/> is the new content's blob (null when removed).</summary>
public sealed record GitFileChange(string Path, GitChangeKind Kind, string? PreviousPath, string? BlobSha);

/// <summary>How the change set was computed, for logs and tests.</summary>
public enum GitChangeSource
{
    /// <summary>From GitHub's compare: base is an ancestor of head and fewer than 300 files changed.</summary>
    Compare,
    /// <summary>From diffing the two recursive trees (force push, truncated compare, unrelated histories).</summary>
    TreeDiff,
    /// <summary>No base (branch creation): every file of head is listed as added.</summary>
    HeadTree,
    /// <summary>The base commit is unknown to GitHub: every file of head is listed as added, and removals cannot be known.</summary>
    HeadTreeBaseUnknown,
}

public sealed record GitChangeSet(string HeadSha, IReadOnlyList<GitFileChange> Changes, GitChangeSource Source);

public sealed record GitFile(string Path, byte[] Content, string BlobSha)
{
    /// <summary>The content as UTF-8 text.</summary>
    public string Text => Encoding.UTF8.GetString(Content);
}

/// <summary>A file in a tree (blobs only): path, blob id and mode (100644, 100755, 120000).</summary>
public sealed record GitTreeEntry(string Path, string Sha, string Mode);

/// <summary>A file to write; null <see cref="Content"/> deletes the path.</summary>
public sealed record GitWrite(string Path, string? Content);

public sealed record GitIdentity(string Name, string Email);
