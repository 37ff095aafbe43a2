using EventSync.Connectors.Http;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;

namespace EventSync.Connectors.Sync;

/// <summary>
/// The sink of every document flow (GitHub -> Notion, Notion -> GitHub, ... -> website): reads what the job's events
/// changed in the source system, resolves each document through its links, merges it three-way into the target
/// against the version the two systems last agreed on, writes only what differs, and records conflicts. A change
/// equal to what the target already holds writes nothing: that is what makes echo loops impossible.
/// </summary>
public sealed class DocumentSyncSink(
    SinkOptions options, EventSyncConfig config, IDocumentSystem target, IReadOnlyDictionary<string, IDocumentSystem> systems,
    ISyncStateStore state, TimeProvider time) : ISink
{
    public string Name => options.Name;

    public async Task<SinkResult> DeliverAsync(SinkDelivery delivery, CancellationToken cancellationToken)
    {
        var flow = config.FindFlow(delivery.Flow);
        if (flow is null || !config.Sources.TryGetValue(flow.From, out var sourceOptions) || sourceOptions.Connection is null || !systems.TryGetValue(sourceOptions.Connection, out var source))
            return SinkResult.Permanent($"flow '{delivery.Flow}' has no source connection to read documents from; check the configuration");
        try
        {
            var changes = await source.ChangesAsync(flow, delivery, cancellationToken);
            var resources = new List<string>();
            var resolved = new List<(SourceChange Change, string DocumentId)>();
            foreach (var change in changes)
            {
                if (!target.Places(change.Collection))
                    resources.Add($"skipped {change.Collection.Name}/{change.Slug}: {target.Name} has no place for collection '{change.Collection.Name}'");
                else
                    resolved.Add((change, await ResolveAsync(source, change, cancellationToken)));
            }
            await using (await state.LockDocumentsAsync(resolved.Select(r => r.DocumentId).ToHashSet(StringComparer.Ordinal), cancellationToken))
            {
                var plans = new List<Plan>();
                foreach (var (change, documentId) in resolved)
                    plans.Add(await PlanAsync(flow, source, change, documentId, delivery, cancellationToken));
                var writes = plans.Where(p => p.Write is not null).Select(p => p.Write!).ToList();
                WriteOutcome outcome = writes.Count > 0
                    ? await target.WriteAsync(writes, new SyncContext(flow.Name, delivery), cancellationToken)
                    : new WriteOutcome(new Dictionary<string, string>(), []);
                resources.AddRange(outcome.Resources);
                var now = time.GetUtcNow();
                foreach (var plan in plans)
                {
                    foreach (var conflict in plan.Conflicts)
                        resources.Add($"conflict #{await state.AddConflictAsync(conflict with { CreatedAt = now }, cancellationToken)} on {plan.DocumentId} {conflict.Field}: {conflict.Winner} kept");
                    if (plan.Write is { Content: null })
                    {
                        await state.RemoveLinkAsync(plan.DocumentId, target.Name, cancellationToken);
                        await state.RemoveLinkAsync(plan.DocumentId, source.Name, cancellationToken);
                        await state.SetBaseAsync(plan.DocumentId, plan.Pair, plan.NewBase.ToSnapshot(), now, cancellationToken);
                        continue;
                    }
                    var externalId = outcome.ExternalIds.GetValueOrDefault(plan.DocumentId) ?? plan.TargetExternalId;
                    if (externalId is not null) await state.SetLinkAsync(plan.DocumentId, target.Name, externalId, now, cancellationToken);
                    await state.SetBaseAsync(plan.DocumentId, plan.Pair, plan.NewBase.ToSnapshot(), now, cancellationToken);
                    if (plan.Write is null && plan.Note is not null) resources.Add(plan.Note);
                }
            }
            await source.CompleteAsync(flow, delivery, cancellationToken);
            if (resources.Count == 0) resources.Add("no document changes");
            return new SinkResult(SinkStatus.Succeeded, Resources: resources);
        }
        catch (ApiThrottledException e)
        {
            return SinkResult.Throttled(e.RetryAfter, e.Message);
        }
        catch (ApiException e)
        {
            return e.Retryable ? SinkResult.Retryable(e.Message) : SinkResult.Permanent(e.Message);
        }
        catch (DocumentSyncException e)
        {
            return SinkResult.Permanent(e.Message);
        }
        catch (HttpRequestException e)
        {
            return SinkResult.Retryable($"{e.Message} (network)");
        }
    }

    private sealed record Plan(string DocumentId, string Pair, SyncDocument NewBase, DocumentWrite? Write, string? TargetExternalId, IReadOnlyList<ConflictRecord> Conflicts, string? Note);

    /// <summary>The document a change is about: by its link (also its pre-rename id), else the id its collection and slug give.</summary>
    private async Task<string> ResolveAsync(IDocumentSystem source, SourceChange change, CancellationToken ct) =>
        await state.FindDocumentAsync(source.Name, change.ExternalId, ct)
        ?? (change.PreviousExternalId is null ? null : await state.FindDocumentAsync(source.Name, change.PreviousExternalId, ct))
        ?? DocumentCatalog.DocumentId(change.Collection, change.Slug);

    private async Task<Plan> PlanAsync(FlowOptions flow, IDocumentSystem source, SourceChange change, string documentId, SinkDelivery delivery, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var parsed = new DocumentCatalog(config.Collections).ParseDocumentId(documentId);
        var (collection, slug) = parsed ?? (change.Collection, change.Slug);
        if (change.Content is not null)
            await state.SetLinkAsync(documentId, source.Name, change.ExternalId, now, ct); // before any create in the target (one identity, always)

        var links = await state.GetLinksAsync(documentId, ct);
        var targetId = links.FirstOrDefault(l => l.System == target.Name)?.ExternalId;
        var reference = new DocumentRef(documentId, collection, slug, targetId);
        var current = await target.ReadAsync(reference, ct);
        var pair = Pair(source.Name, target.Name);
        var baseSnapshot = await state.GetBaseAsync(documentId, pair, ct);
        var baseDoc = baseSnapshot is null ? null : SyncDocument.FromSnapshot(baseSnapshot);

        if (change.Content is null)
        {
            if (current is null)
                return new Plan(documentId, pair, baseDoc ?? Empty, null, null, [], $"{documentId}: deleted in {source.Name}, already absent in {target.Name}");
            // The target changed the document since the pair last agreed: deleting would lose that edit.
            var targetEdited = baseDoc is null || current.Document.ToSnapshot() != Restrict(baseDoc, collection).ToSnapshot();
            if (targetEdited)
            {
                var conflict = Conflict(flow, delivery, documentId, "$deleted", baseDoc, null, current.Document, sourceWon: false, source);
                return new Plan(documentId, pair, baseDoc ?? Empty, null, current.ExternalId, [conflict], $"{documentId}: deleted in {source.Name} but edited in {target.Name}; kept");
            }
            return new Plan(documentId, pair, Empty, new DocumentWrite(reference with { ExternalId = current.ExternalId }, null, current), current.ExternalId, [], null);
        }

        var merge = ThreeWayMerge.Merge(baseDoc, change.Content, current?.Document,
            f => source.Holds(collection, f), f => target.Holds(collection, f), f => SourceWins(flow, source, change.Content, current?.Document));
        var conflicts = merge.Conflicts.Select(c => Conflict(flow, delivery, documentId, c.Field, baseDoc, c.Source, c.Target, c.SourceWon, source, c.Base)).ToList();
        if (!merge.TargetChanged)
            return new Plan(documentId, pair, merge.NewBase, null, current?.ExternalId, conflicts, $"{documentId}: {target.Name} already up to date");
        return new Plan(documentId, pair, merge.NewBase, new DocumentWrite(reference with { ExternalId = current?.ExternalId ?? targetId }, merge.Target, current), current?.ExternalId ?? targetId, conflicts, null);
    }

    private static readonly SyncDocument Empty = new([], "");

    private SyncDocument Restrict(SyncDocument document, CollectionOptions collection) =>
        new(document.Fields.Where(p => target.Holds(collection, p.Key)).Select(p => KeyValuePair.Create(p.Key, (System.Text.Json.Nodes.JsonNode?)p.Value)),
            target.Holds(collection, SyncDocument.BodyField) ? document.Body : "");

    private bool SourceWins(FlowOptions flow, IDocumentSystem source, SyncDocument incoming, SyncDocument? current) => flow.Prefer switch
    {
        ConflictPreference.GitHub => source.Kind == ConnectionKind.GitHub || target.Kind != ConnectionKind.GitHub,
        ConflictPreference.Notion => source.Kind == ConnectionKind.Notion || target.Kind != ConnectionKind.Notion,
        ConflictPreference.Website => source.Kind == ConnectionKind.Website || target.Kind != ConnectionKind.Website,
        _ => current?.EditedAt is not { } t || incoming.EditedAt is not { } s || s >= t,
    };

    private ConflictRecord Conflict(FlowOptions flow, SinkDelivery delivery, string documentId, string field, SyncDocument? baseDoc,
        System.Text.Json.Nodes.JsonNode? sourceValue, object? targetValue, bool sourceWon, IDocumentSystem source, System.Text.Json.Nodes.JsonNode? baseValue = null) =>
        new(0, documentId, field, flow.Name, delivery.JobId, source.Name, target.Name,
            baseValue is not null ? SyncDocument.Display(baseValue) : field == "$deleted" ? baseDoc?.ToSnapshot() : null,
            SyncDocument.Display(sourceValue),
            targetValue switch { SyncDocument d => d.ToSnapshot(), System.Text.Json.Nodes.JsonNode n => SyncDocument.Display(n), _ => null },
            sourceWon ? source.Name : target.Name, flow.Prefer.ToString().ToLowerInvariant(), ConflictStatuses.Open, default);

    public static string Pair(string a, string b) => string.CompareOrdinal(a, b) < 0 ? $"{a}|{b}" : $"{b}|{a}";

}

/// <summary>A document cannot be synced as configured (a mapping names a missing property, a path is unsafe): parks the job with the reason.</summary>
public sealed class DocumentSyncException(string message) : Exception(message);
