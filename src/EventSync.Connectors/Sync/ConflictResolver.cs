using System.Text.Json.Nodes;
using EventSync.Core.Storage;

namespace EventSync.Connectors.Sync;

public enum ConflictChoice { Winner, Loser, Value }

/// <summary>
/// Settles a conflict record. Keeping the winner only closes it (the winner is already written). Keeping the loser, or a
/// new value, writes it into the conflict's target system; the reverse flow, if there is one, carries it back to the
/// source, because the target now differs from the version the two last agreed on.
/// </summary>
public sealed class ConflictResolver(ISyncStateStore state, IReadOnlyDictionary<string, IDocumentSystem> systems, DocumentCatalog catalog, TimeProvider time)
{
    public async Task<string> ResolveAsync(long id, ConflictChoice choice, string? value, CancellationToken cancellationToken)
    {
        var conflict = await state.GetConflictAsync(id, cancellationToken) ?? throw new ArgumentException($"conflict {id} does not exist; see `eventsync conflicts list`");
        if (conflict.Status != ConflictStatuses.Open) throw new ArgumentException($"conflict {id} is already resolved ({conflict.Resolution})");
        string resolution;
        if (choice == ConflictChoice.Winner)
            resolution = $"kept {conflict.Winner}'s version";
        else
        {
            if (conflict.Field == "$deleted")
                throw new ArgumentException($"conflict {id} kept an edited document that {conflict.SourceSystem} deleted; keep it with --keep winner, or delete it in {conflict.TargetSystem}");
            var loser = conflict.Winner == conflict.SourceSystem ? conflict.TargetValue : conflict.SourceValue;
            var text = choice == ConflictChoice.Value ? value ?? throw new ArgumentException("--value needs the text to keep") : loser;
            await WriteFieldAsync(conflict, text, cancellationToken);
            resolution = choice == ConflictChoice.Value ? "set a new value" : $"kept {(conflict.Winner == conflict.SourceSystem ? conflict.TargetSystem : conflict.SourceSystem)}'s version";
        }
        if (!await state.ResolveConflictAsync(id, resolution, time.GetUtcNow(), cancellationToken))
            throw new ArgumentException($"conflict {id} was resolved by someone else meanwhile");
        return resolution;
    }

    private async Task WriteFieldAsync(ConflictRecord conflict, string? text, CancellationToken ct)
    {
        if (!systems.TryGetValue(conflict.TargetSystem, out var target))
            throw new ArgumentException($"connection '{conflict.TargetSystem}' is no longer configured");
        var (collection, slug) = catalog.ParseDocumentId(conflict.DocumentId) ?? throw new ArgumentException($"document {conflict.DocumentId} belongs to no configured collection");
        var links = await state.GetLinksAsync(conflict.DocumentId, ct);
        var reference = new DocumentRef(conflict.DocumentId, collection, slug, links.FirstOrDefault(l => l.System == target.Name)?.ExternalId);
        var current = await target.ReadAsync(reference, ct) ?? throw new ArgumentException($"{conflict.DocumentId} no longer exists in {target.Name}");
        var fields = current.Document.Fields.ToDictionary(p => p.Key, p => (JsonNode?)p.Value.DeepClone());
        var body = current.Document.Body;
        if (conflict.Field == SyncDocument.BodyField) body = text ?? "";
        else fields[conflict.Field] = text is null ? null : ParseValue(text);
        var updated = new SyncDocument(fields, body);
        var context = new SyncContext("conflict-resolution", new Core.Sinks.SinkDelivery("conflict-resolution", conflict.DocumentId, conflict.JobId, 1, $"conflict_{conflict.Id}", [], time.GetUtcNow()));
        await target.WriteAsync([new DocumentWrite(reference with { ExternalId = current.ExternalId }, updated, current)], context, ct);
    }

    /// <summary>Values are stored as display text: JSON lists and objects come back as JSON, everything else as a string.</summary>
    private static JsonNode ParseValue(string text) =>
        text.StartsWith('[') || text.StartsWith('{') ? (JsonNode.Parse(text) ?? JsonValue.Create(text)) : JsonValue.Create(text);
}
