using EventSync.Core.Configuration;
using EventSync.Core.Sinks;

namespace EventSync.Connectors.Sync;

/// <summary>A document as addressed in one sync: its id, collection and slug, and its id in the system if linked.</summary>
public sealed record DocumentRef(string DocumentId, CollectionOptions Collection, string Slug, string? ExternalId);

/// <summary>A document as a system holds it now: its neutral form, its id there, and the raw text where formatting matters.</summary>
public sealed record HeldDocument(SyncDocument Document, string ExternalId, string? RawText = null);

/// <summary>
/// A change a source system reports: the document's id there (and its previous id after a rename), its collection,
/// and its new content, or null when it was deleted.
/// </summary>
public sealed record SourceChange(CollectionOptions Collection, string Slug, string ExternalId, SyncDocument? Content, string? PreviousExternalId = null, string? Detail = null);

/// <summary>A write a sync asks of a target system: new content (null deletes), with what the system held before.</summary>
public sealed record DocumentWrite(DocumentRef Document, SyncDocument? Content, HeldDocument? Current);

/// <summary>What a batch of writes did: each document's (possibly new) id in the target, and resources for the run record.</summary>
public sealed record WriteOutcome(IReadOnlyDictionary<string, string> ExternalIds, IReadOnlyList<string> Resources);

/// <summary>The events of one job, what caused them and when, for commit trailers and idempotency keys.</summary>
public sealed record SyncContext(string Flow, SinkDelivery Delivery)
{
    public string Trailer => $"EventSync-Flow: {Flow}\nEventSync-Events: {string.Join(",", Delivery.Events.Select(e => e.Id))}";
}

/// <summary>
/// One system's side of document sync (GitHub, Notion, a website), over its API client. Reads documents, turns a
/// job's events into the changes they stand for, and writes documents.
/// </summary>
public interface IDocumentSystem
{
    /// <summary>The connection name: the system's name in links and conflict records.</summary>
    string Name { get; }

    ConnectionKind Kind { get; }

    bool Places(CollectionOptions collection);

    /// <summary>Whether the system can hold a field of a collection's documents (Notion holds only mapped properties).</summary>
    bool Holds(CollectionOptions collection, string field);

    Task<HeldDocument?> ReadAsync(DocumentRef document, CancellationToken cancellationToken);

    /// <summary>The changes a job's events stand for, read fresh from the system (webhooks are hints, the API is the truth).</summary>
    Task<IReadOnlyList<SourceChange>> ChangesAsync(FlowOptions flow, SinkDelivery delivery, CancellationToken cancellationToken);

    /// <summary>Called once the job's changes are all synced, to move any per-flow cursor (e.g. the last synced commit).</summary>
    Task CompleteAsync(FlowOptions flow, SinkDelivery delivery, CancellationToken cancellationToken);

    Task<WriteOutcome> WriteAsync(IReadOnlyList<DocumentWrite> writes, SyncContext context, CancellationToken cancellationToken);
}
