using System.Globalization;
using System.Text.Json.Nodes;
using EventSync.Connectors.Website;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;

namespace EventSync.Connectors.Sync;

/// <summary>
/// The website side: a collection is an API collection; a document is a JSON resource {id, resource, document,
/// path, title, fields, body, hash}. Inbound events name a resource and id; the resource is fetched, never trusted
/// from the event.
/// </summary>
public sealed class WebsiteDocuments(ConnectionOptions connection, WebsiteClient client, DocumentCatalog catalog, ISyncStateStore state) : IDocumentSystem
{
    public string Name => connection.Name;
    public ConnectionKind Kind => ConnectionKind.Website;

    public bool Places(CollectionOptions collection) => collection.Website is not null;

    public bool Holds(CollectionOptions collection, string field) => true;

    public async Task<HeldDocument?> ReadAsync(DocumentRef document, CancellationToken cancellationToken)
    {
        var id = document.ExternalId is { } ext ? ext[(ext.IndexOf('/', StringComparison.Ordinal) + 1)..] : DocumentCatalog.WebsiteId(document.Slug);
        var json = await client.GetAsync(document.Collection.Website!.Collection, id, cancellationToken);
        return json is null ? null : new HeldDocument(ToDocument(json), $"{document.Collection.Website.Collection}/{id}");
    }

    private static SyncDocument ToDocument(JsonObject json)
    {
        var fields = (json["fields"] as JsonObject ?? []).Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone()));
        var edited = DateTimeOffset.TryParse(json["updatedAt"]?.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : (DateTimeOffset?)null;
        return new SyncDocument(fields, json["body"]?.ToString() ?? "", edited);
    }

    public async Task<IReadOnlyList<SourceChange>> ChangesAsync(FlowOptions flow, SinkDelivery delivery, CancellationToken cancellationToken)
    {
        var changes = new List<SourceChange>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in delivery.Events.Reverse())
        {
            var payload = JsonNode.Parse(e.Payload)?["client_payload"];
            if (payload?["resource"]?.ToString() is not { } resource || payload["id"]?.ToString() is not { } id) continue;
            if (catalog.ByWebsiteResource(resource) is not { Website: { } placement } collection)
                throw new DocumentSyncException($"the website sent resource '{resource}', which no collection places (collections.*.website.resource); add one or stop the website sending it");
            if (id.Length is 0 or > 200 || id.Contains('/', StringComparison.Ordinal) || id.Contains("..", StringComparison.Ordinal))
                throw new DocumentSyncException($"the website sent an unusable id '{id}'");
            var externalId = $"{placement.Collection}/{id}";
            if (!seen.Add(externalId)) continue;
            var json = await client.GetAsync(placement.Collection, id, cancellationToken);
            var linked = await state.FindDocumentAsync(Name, externalId, cancellationToken);
            var slug = (linked is null ? null : catalog.ParseDocumentId(linked)?.Slug) ?? DocumentCatalog.SlugFromWebsiteId(id);
            changes.Add(new SourceChange(collection, slug, externalId, json is null ? null : ToDocument(json), Detail: payload["action"]?.ToString()));
        }
        return changes;
    }

    public Task CompleteAsync(FlowOptions flow, SinkDelivery delivery, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<WriteOutcome> WriteAsync(IReadOnlyList<DocumentWrite> writes, SyncContext context, CancellationToken cancellationToken)
    {
        var ids = new Dictionary<string, string>();
        var resources = new List<string>();
        foreach (var w in writes)
        {
            var placement = w.Document.Collection.Website!;
            var id = w.Current?.ExternalId is { } ext ? ext[(ext.IndexOf('/', StringComparison.Ordinal) + 1)..] : DocumentCatalog.WebsiteId(w.Document.Slug);
            // Stable per job state and document, so a retried attempt is recognised by the site.
            var key = $"{context.Delivery.IdempotencyKey}:{w.Document.DocumentId}";
            if (w.Content is null)
            {
                await client.DeleteAsync(placement.Collection, id, key, cancellationToken);
                resources.Add($"website:{placement.Collection}/{id} deleted");
                continue;
            }
            var links = await state.GetLinksAsync(w.Document.DocumentId, cancellationToken);
            var path = links.FirstOrDefault(l => catalog.LocatePath(l.ExternalId) is not null)?.ExternalId
                ?? (w.Document.Collection.GitHub is not null ? DocumentCatalog.PathFor(w.Document.Collection, w.Document.Slug) : null);
            var fields = new JsonObject();
            foreach (var (k, v) in w.Content.Fields) fields[k] = v.DeepClone();
            var json = new JsonObject
            {
                ["id"] = id, ["resource"] = placement.Resource, ["document"] = w.Document.DocumentId, ["path"] = path,
                ["title"] = w.Content.Title, ["fields"] = fields, ["body"] = w.Content.Body, ["hash"] = w.Content.Hash(),
            };
            await client.UpsertAsync(placement.Collection, id, json, key, cancellationToken);
            ids[w.Document.DocumentId] = $"{placement.Collection}/{id}";
            resources.Add($"website:{placement.Collection}/{id} {(w.Current is null ? "created" : "updated")}");
        }
        return new WriteOutcome(ids, resources);
    }
}
