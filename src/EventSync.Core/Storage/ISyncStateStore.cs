namespace EventSync.Core.Storage;

/// <summary>
/// What two-way document sync remembers: one link per document and system (GitHub path, Notion page id, website id
/// all resolve to one document id), the last agreed version of a document per pair of systems (the base of three-way
/// merges and of echo suppression), and the conflict records that keep every losing edit.
/// </summary>
public interface ISyncStateStore
{
    /// <summary>
    /// Holds the documents until the returned handle is disposed, so two flows (in this process or, on PostgreSQL, in
    /// any process sharing the store) never merge one document at the same time. Locks are taken in one order: no deadlock.
    /// </summary>
    Task<IAsyncDisposable> LockDocumentsAsync(IReadOnlyCollection<string> documentIds, CancellationToken cancellationToken);

    Task<IReadOnlyList<DocumentLink>> GetLinksAsync(string documentId, CancellationToken cancellationToken);

    /// <summary>The document an external id belongs to in a system, or null when it is not linked.</summary>
    Task<string?> FindDocumentAsync(string system, string externalId, CancellationToken cancellationToken);

    /// <summary>Links (or re-links, after a rename) a document to its id in a system; an older holder of that external id loses it.</summary>
    Task SetLinkAsync(string documentId, string system, string externalId, DateTimeOffset now, CancellationToken cancellationToken);

    Task RemoveLinkAsync(string documentId, string system, CancellationToken cancellationToken);

    /// <summary>The snapshot (JSON) both systems of <paramref name="pair"/> last agreed on for a document.</summary>
    Task<string?> GetBaseAsync(string documentId, string pair, CancellationToken cancellationToken);

    Task SetBaseAsync(string documentId, string pair, string snapshot, DateTimeOffset now, CancellationToken cancellationToken);

    Task<long> AddConflictAsync(ConflictRecord conflict, CancellationToken cancellationToken);

    Task<IReadOnlyList<ConflictRecord>> ListConflictsAsync(string? status, int limit, CancellationToken cancellationToken);

    Task<ConflictRecord?> GetConflictAsync(long id, CancellationToken cancellationToken);

    /// <summary>Marks an open conflict resolved; false when it does not exist or was already resolved.</summary>
    Task<bool> ResolveConflictAsync(long id, string resolution, DateTimeOffset now, CancellationToken cancellationToken);
}

public sealed record DocumentLink(string DocumentId, string System, string ExternalId, DateTimeOffset UpdatedAt);

public static class ConflictStatuses
{
    public const string Open = "open";
    public const string Resolved = "resolved";
}

/// <summary>
/// Both systems changed one field of a document since they last agreed. The winner (by the flow's policy) was written;
/// the loser is kept here, with the base, until an operator settles it.
/// </summary>
public sealed record ConflictRecord(
    long Id,
    string DocumentId,
    string Field,
    string Flow,
    long JobId,
    string SourceSystem,
    string TargetSystem,
    string? BaseValue,
    string? SourceValue,
    string? TargetValue,
    string Winner,
    string Policy,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ResolvedAt = null,
    string? Resolution = null);
