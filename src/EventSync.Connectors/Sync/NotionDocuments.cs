using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSync.Connectors.Notion;
using EventSync.Connectors.Notion.Markdown;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;

namespace EventSync.Connectors.Sync;

/// <summary>
/// The Notion side: a collection is a data source; a document is a page whose mapped properties are the fields and whose
/// blocks are the body. Pages are found by link, else by the key property holding the repository path (so a retried
/// create finds the page the failed attempt made). Webhooks are only hints: every change is read back from the API.
/// </summary>
public sealed class NotionDocuments(ConnectionOptions connection, NotionClient client, DocumentCatalog catalog, ISyncStateStore state) : IDocumentSystem
{
    private readonly ConcurrentDictionary<string, JsonObject> _schemas = new(StringComparer.Ordinal);

    public string Name => connection.Name;
    public ConnectionKind Kind => ConnectionKind.Notion;

    public bool Places(CollectionOptions collection) => collection.Notion is not null;

    public bool Holds(CollectionOptions collection, string field) =>
        field == SyncDocument.BodyField || (collection.Notion?.Properties.ContainsKey(field) ?? false);

    public async Task<HeldDocument?> ReadAsync(DocumentRef document, CancellationToken cancellationToken)
    {
        var placement = document.Collection.Notion!;
        JsonObject? page = null;
        if (document.ExternalId is { } id) page = await client.GetPageAsync(id, cancellationToken);
        if (page is null)
        {
            var schema = await SchemaAsync(document.Collection, cancellationToken);
            var keyType = schema[placement.KeyProperty]!["type"]!.GetValue<string>();
            page = await client.FindPageAsync(placement.DataSource, placement.KeyProperty, keyType, await KeyValueAsync(document, cancellationToken), cancellationToken);
        }
        if (page is null || IsTrashed(page)) return null;
        return new HeldDocument(await ToDocumentAsync(document.Collection, page, cancellationToken), NotionClient.NormalizeId(page["id"]!.GetValue<string>()));
    }

    private static bool IsTrashed(JsonObject page) => page["in_trash"]?.GetValue<bool>() == true || page["archived"]?.GetValue<bool>() == true;

    /// <summary>The key property's value: the document's repository path (its GitHub link, else where it would be written), else its id.</summary>
    private async Task<string> KeyValueAsync(DocumentRef document, CancellationToken ct)
    {
        var links = await state.GetLinksAsync(document.DocumentId, ct);
        var path = links.FirstOrDefault(l => l.ExternalId.Contains('/', StringComparison.Ordinal) && !l.ExternalId.StartsWith("release:", StringComparison.Ordinal) && catalog.LocatePath(l.ExternalId) is not null)?.ExternalId;
        return path ?? (document.Collection.GitHub is not null ? DocumentCatalog.PathFor(document.Collection, document.Slug) : document.DocumentId);
    }

    private async Task<SyncDocument> ToDocumentAsync(CollectionOptions collection, JsonObject page, CancellationToken ct)
    {
        var properties = page["properties"]?.AsObject() ?? [];
        var fields = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (field, propertyName) in collection.Notion!.Properties)
            fields[field] = properties[propertyName] is JsonObject p ? ReadProperty(p) : null;
        var blocks = await client.GetBlocksAsync(page["id"]!.GetValue<string>(), ct);
        var edited = DateTimeOffset.TryParse(page["last_edited_time"]?.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : (DateTimeOffset?)null;
        return new SyncDocument(fields, NotionMarkdown.ToMarkdown(blocks), edited);
    }

    private static JsonNode? ReadProperty(JsonObject p)
    {
        var type = p["type"]?.GetValue<string>();
        var value = type is null ? null : p[type];
        return type switch
        {
            "title" or "rich_text" => value is JsonArray parts ? PlainText(parts) : null,
            "select" or "status" => value?["name"]?.DeepClone(),
            "multi_select" => value is JsonArray options ? new JsonArray(options.Select(o => o?["name"]?.DeepClone()).ToArray()) : null,
            "url" or "email" or "phone_number" or "number" or "checkbox" => value?.DeepClone(),
            "date" => value?["start"] is { } start ? JsonValue.Create(start.GetValue<string>() + (value["end"] is { } end && end.GetValueKind() == JsonValueKind.String ? "/" + end.GetValue<string>() : "")) : null,
            _ => null,
        };
    }

    private static JsonValue PlainText(JsonArray parts)
    {
        var sb = new StringBuilder();
        foreach (var part in parts)
            sb.Append(part?["plain_text"]?.GetValue<string>() ?? part?["text"]?["content"]?.GetValue<string>() ?? "");
        return JsonValue.Create(sb.ToString());
    }

    /// <summary>The data source's properties by name, checked once against the collection's mapping (wrong names park the job with the fix).</summary>
    private async Task<JsonObject> SchemaAsync(CollectionOptions collection, CancellationToken ct)
    {
        var placement = collection.Notion!;
        if (_schemas.TryGetValue(placement.DataSource, out var cached)) return cached;
        var dataSource = await client.GetDataSourceAsync(placement.DataSource, ct);
        var properties = dataSource["properties"]?.AsObject() ?? [];
        foreach (var (field, name) in placement.Properties.Append(KeyValuePair.Create("(key)", placement.KeyProperty)))
            if (properties[name] is null)
                throw new DocumentSyncException($"collection '{collection.Name}' maps {field} to Notion property '{name}', which data source {placement.DataSource} does not have (it has: {string.Join(", ", properties.Select(p => p.Key))}); fix collections.{collection.Name}.notion");
        _schemas[placement.DataSource] = properties;
        return properties;
    }

    public async Task<IReadOnlyList<SourceChange>> ChangesAsync(FlowOptions flow, SinkDelivery delivery, CancellationToken cancellationToken)
    {
        var changes = new List<SourceChange>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in delivery.Events.Reverse()) // newest first: one read per page, of its current state
        {
            var json = JsonNode.Parse(e.Payload) as JsonObject;
            if (json?["entity"]?["type"]?.GetValue<string>() != "page" || json["entity"]?["id"]?.GetValue<string>() is not { } rawId) continue;
            var pageId = NotionClient.NormalizeId(rawId);
            if (!seen.Add(pageId)) continue;
            var parentSource = json["data"]?["parent"]?["data_source_id"]?.GetValue<string>();
            var page = await client.GetPageAsync(pageId, cancellationToken);
            var dataSource = page?["parent"]?["data_source_id"]?.GetValue<string>() ?? parentSource;
            var linked = await state.FindDocumentAsync(Name, pageId, cancellationToken);
            var collection = (linked is null ? null : catalog.ParseDocumentId(linked)?.Collection) ?? (dataSource is null ? null : catalog.ByDataSource(dataSource));
            if (collection?.Notion is null) continue; // a page of a data source no collection places
            if (page is null || IsTrashed(page))
            {
                var slug = linked is null ? null : catalog.ParseDocumentId(linked)?.Slug;
                if (slug is not null) changes.Add(new SourceChange(collection, slug, pageId, null, Detail: "page trashed"));
                continue;
            }
            var document = await ToDocumentAsync(collection, page, cancellationToken);
            changes.Add(new SourceChange(collection, SlugFor(collection, page, document, linked), pageId, document, Detail: e.EventType));
        }
        return changes;
    }

    private string SlugFor(CollectionOptions collection, JsonObject page, SyncDocument document, string? linkedDocument)
    {
        if (linkedDocument is not null && catalog.ParseDocumentId(linkedDocument) is { } parsed) return parsed.Slug;
        if (page["properties"]?[collection.Notion!.KeyProperty] is JsonObject key && ReadProperty(key)?.ToString() is { Length: > 0 } path
            && catalog.LocatePath(path) is { } located && located.Collection == collection)
            return located.Slug;
        return DocumentCatalog.Slugify(document.Title ?? NotionClient.NormalizeId(page["id"]!.GetValue<string>()));
    }

    public Task CompleteAsync(FlowOptions flow, SinkDelivery delivery, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<WriteOutcome> WriteAsync(IReadOnlyList<DocumentWrite> writes, SyncContext context, CancellationToken cancellationToken)
    {
        var ids = new Dictionary<string, string>();
        var resources = new List<string>();
        foreach (var w in writes)
        {
            var collection = w.Document.Collection;
            if (w.Content is null)
            {
                await client.TrashPageAsync(w.Current!.ExternalId, cancellationToken);
                resources.Add($"notion:page/{w.Current.ExternalId} trashed ({w.Document.DocumentId})");
                continue;
            }
            var schema = await SchemaAsync(collection, cancellationToken);
            var properties = new JsonObject();
            foreach (var (field, name) in collection.Notion!.Properties)
            {
                var value = w.Content.Fields.GetValueOrDefault(field);
                if (w.Current is not null && SyncDocument.ValueEquals(value, w.Current.Document.Fields.GetValueOrDefault(field))) continue;
                properties[name] = WriteProperty(collection, field, name, schema[name]!.AsObject(), value);
            }
            if (w.Current is null)
            {
                var keyName = collection.Notion.KeyProperty;
                properties[keyName] = WriteProperty(collection, "(key)", keyName, schema[keyName]!.AsObject(), JsonValue.Create(await KeyValueAsync(w.Document, cancellationToken)));
                var page = await client.CreatePageAsync(collection.Notion.DataSource, properties, NotionMarkdown.ToBlocks(w.Content.Body), cancellationToken);
                var id = NotionClient.NormalizeId(page["id"]!.GetValue<string>());
                ids[w.Document.DocumentId] = id;
                resources.Add($"notion:page/{id} created ({w.Document.DocumentId})");
                continue;
            }
            ids[w.Document.DocumentId] = w.Current.ExternalId;
            if (properties.Count > 0) await client.UpdatePageAsync(w.Current.ExternalId, properties, cancellationToken);
            var bodyChanged = w.Content.Body != w.Current.Document.Body;
            if (bodyChanged) await client.ReplaceBlocksAsync(w.Current.ExternalId, NotionMarkdown.ToBlocks(w.Content.Body), cancellationToken);
            resources.Add($"notion:page/{w.Current.ExternalId} updated ({w.Document.DocumentId}: {properties.Count} properties{(bodyChanged ? ", body" : "")})");
        }
        return new WriteOutcome(ids, resources);
    }

    private static JsonNode? WriteProperty(CollectionOptions collection, string field, string name, JsonObject property, JsonNode? value)
    {
        var type = property["type"]?.GetValue<string>();
        var text = value is null ? null : SyncDocument.Display(value);
        switch (type)
        {
            case "title" or "rich_text":
                var parts = new JsonArray();
                for (var i = 0; text is not null && i < text.Length; i += 2000) // Notion's limit per rich-text object
                    parts.Add(new JsonObject { ["type"] = "text", ["text"] = new JsonObject { ["content"] = text.Substring(i, Math.Min(2000, text.Length - i)) } });
                return new JsonObject { [type] = parts };
            case "select" or "status":
                if (text is not null) CheckOption(collection, field, name, property, type, text);
                return new JsonObject { [type] = text is null ? null : new JsonObject { ["name"] = text } };
            case "multi_select":
                var names = value is JsonArray list ? list.Select(v => SyncDocument.Display(v)).ToList() : text is null ? [] : [text];
                foreach (var n in names) CheckOption(collection, field, name, property, type, n);
                return new JsonObject { ["multi_select"] = new JsonArray(names.Select(n => (JsonNode)new JsonObject { ["name"] = n }).ToArray()) };
            case "url" or "email" or "phone_number":
                return new JsonObject { [type] = text }; // clearing is null, never ""
            case "checkbox":
                return new JsonObject { ["checkbox"] = text is "true" or "yes" or "1" };
            case "number":
                if (text is null) return new JsonObject { ["number"] = null };
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                    throw new DocumentSyncException($"{collection.Name}: field {field} = '{text}' is not a number, but Notion property '{name}' is a number; fix the value");
                return new JsonObject { ["number"] = number };
            case "date":
                if (text is null) return new JsonObject { ["date"] = null };
                var range = text.Split('/', 2);
                var date = new JsonObject { ["start"] = range[0] };
                if (range.Length == 2) date["end"] = range[1];
                return new JsonObject { ["date"] = date };
            default:
                throw new DocumentSyncException($"{collection.Name}: Notion property '{name}' is of type '{type}', which EventSync does not write; map field {field} to a title, rich_text, select, multi_select, url, date, checkbox or number property");
        }
    }

    private static void CheckOption(CollectionOptions collection, string field, string name, JsonObject property, string type, string option)
    {
        if (collection.Notion!.NewOptions == NewOptionPolicy.Create) return;
        var options = property[type]?["options"] as JsonArray ?? [];
        if (!options.Any(o => o?["name"]?.GetValue<string>() == option))
            throw new DocumentSyncException($"{collection.Name}: field {field} = '{option}' is not an option of Notion property '{name}' (options: {string.Join(", ", options.Select(o => o?["name"]))}); add it in Notion or set collections.{collection.Name}.notion.newOptions: create");
    }
}
