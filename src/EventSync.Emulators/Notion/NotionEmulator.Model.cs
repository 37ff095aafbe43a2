using System.Globalization;
using System.Text.Json.Nodes;

namespace EventSync.Emulators.Notion;

/// <summary>The workspace: databases, their data sources and schemas, pages and block trees.</summary>
public sealed partial class NotionEmulator
{
    private readonly Dictionary<string, DatabaseRecord> _databases = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DataSourceRecord> _dataSources = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PageRecord> _pages = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BlockRecord> _blocks = new(StringComparer.Ordinal);
    private long _sequence;

    private sealed record Author(string Id, string Type);

    private Author Bot => new(_options.BotUserId, "bot");
    private Author Person => new(_options.PersonUserId, "person");

    private sealed class DatabaseRecord
    {
        public required string Id { get; init; }
        public required string Title { get; init; }
        public required string DataSourceId { get; init; }
        public required DateTimeOffset Created { get; init; }
    }

    private sealed class DataSourceRecord
    {
        public required string Id { get; init; }
        public required string DatabaseId { get; init; }
        public required string Name { get; init; }
        public required DateTimeOffset Created { get; init; }
        public List<PropertySchema> Properties { get; } = [];
    }

    private sealed class PropertySchema
    {
        public required string Id { get; init; }
        public required string Name { get; init; }
        public required string Type { get; init; }
        public List<SelectOption> Options { get; } = [];
    }

    private sealed record SelectOption(string Id, string Name, string Color);

    private sealed class PageRecord
    {
        public required string Id { get; init; }
        public required string DataSourceId { get; init; }
        public required string DatabaseId { get; init; }
        public required DateTimeOffset Created { get; init; }
        public required Author CreatedBy { get; init; }
        public required long Sequence { get; init; }
        public Dictionary<string, JsonNode?> Values { get; } = new(StringComparer.Ordinal); // by property id
        public List<string> Children { get; } = [];
        public bool InTrash { get; set; }
        public DateTimeOffset LastEdited { get; set; }
        public required Author LastEditedBy { get; set; }
    }

    private sealed class BlockRecord
    {
        public required string Id { get; init; }
        public required string ParentId { get; init; }
        public required bool ParentIsPage { get; init; }
        public required string PageId { get; init; }
        public required string Type { get; init; }
        public required JsonObject Payload { get; set; } // the type object without children
        public required DateTimeOffset Created { get; init; }
        public required Author CreatedBy { get; init; }
        public List<string> Children { get; } = [];
        public bool InTrash { get; set; }
        public DateTimeOffset LastEdited { get; set; }
        public required Author LastEditedBy { get; set; }
    }

    /// <summary>A block as parsed from a request, before it gets an id.</summary>
    private sealed record BlockInput(string Type, JsonObject Payload, IReadOnlyList<BlockInput> Children);

    /// <summary>
    /// Creates a database with one data source. <paramref name="propertyTypes"/> maps property names to Notion types
    /// (title, rich_text, select, multi_select, checkbox, url, number, date, email, phone_number, relation, people,
    /// status); exactly one must be the title.
    /// </summary>
    public (string DatabaseId, string DataSourceId) CreateDatabase(string title, IReadOnlyDictionary<string, string> propertyTypes)
    {
        ArgumentNullException.ThrowIfNull(propertyTypes);
        if (propertyTypes.Values.Count(t => t == "title") != 1) throw new ArgumentException("exactly one property must have the type title", nameof(propertyTypes));
        var unknown = propertyTypes.Where(p => !WritableTypes.Contains(p.Value) && !ReadOnlyTypes.Contains(p.Value)).Select(p => p.Key).ToList();
        if (unknown.Count > 0) throw new ArgumentException("unsupported property types: " + string.Join(", ", unknown), nameof(propertyTypes));
        lock (_gate)
        {
            var now = _options.Time.GetUtcNow();
            var database = new DatabaseRecord { Id = NewId(), Title = title, DataSourceId = NewId(), Created = now };
            var source = new DataSourceRecord { Id = database.DataSourceId, DatabaseId = database.Id, Name = title, Created = now };
            foreach (var (name, type) in propertyTypes)
                source.Properties.Add(new PropertySchema { Id = type == "title" ? "title" : NewPropertyId(source), Name = name, Type = type });
            _databases[database.Id] = database;
            _dataSources[source.Id] = source;
            return (database.Id, source.Id);
        }
    }

    /// <summary>A page as GET /v1/pages returns it (trashed pages too), or null.</summary>
    public JsonObject? GetPage(string pageId)
    {
        lock (_gate) return _pages.TryGetValue(Dashed(pageId), out var page) ? PageJson(page) : null;
    }

    /// <summary>Every page of a data source, trashed ones included (see in_trash), in creation order.</summary>
    public IReadOnlyList<JsonObject> Pages(string dataSourceId)
    {
        var id = Dashed(dataSourceId);
        lock (_gate) return _pages.Values.Where(p => p.DataSourceId == id).OrderBy(p => p.Sequence).Select(PageJson).ToList();
    }

    /// <summary>The live content of a page in the nested write shape: {type, [type]: {..., children?}}; no ids, no trashed blocks.</summary>
    public JsonArray GetBlocksTree(string pageId)
    {
        lock (_gate)
        {
            var id = Dashed(pageId);
            if (!_pages.TryGetValue(id, out var page)) throw new KeyNotFoundException("no page " + pageId);
            return Tree(page.Children);
        }
    }

    private JsonArray Tree(IEnumerable<string> children)
    {
        var array = new JsonArray();
        foreach (var block in children.Select(c => _blocks[c]).Where(b => !b.InTrash))
        {
            var payload = (JsonObject)block.Payload.DeepClone();
            var nested = Tree(block.Children);
            if (nested.Count > 0) payload["children"] = nested;
            array.Add(new JsonObject { ["type"] = block.Type, [block.Type] = payload });
        }
        return array;
    }

    private static string Dashed(string id) =>
        Guid.TryParseExact(id, "N", out var g) || Guid.TryParseExact(id, "D", out g) ? g.ToString("D") : id;

    private static string NewId() => Guid.NewGuid().ToString("D");

    private static string NewPropertyId(DataSourceRecord source)
    {
        // Notion's property ids are short and URL-encoded (e.g. "M%3BBw"); unique within the data source.
        for (var i = 0; ; i++)
        {
            var id = Uri.EscapeDataString(Guid.NewGuid().ToString("N")[..4].Replace('a', ';'));
            if (source.Properties.All(p => p.Id != id) || i > 100) return id;
        }
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Notion rounds created_time and last_edited_time down to the minute.</summary>
    private static DateTimeOffset Minute(DateTimeOffset t) => new(t.Ticks - t.Ticks % TimeSpan.TicksPerMinute, t.Offset);

    private static JsonObject User(Author author) => new() { ["object"] = "user", ["id"] = author.Id };

    private static JsonArray PlainTitle(string text) =>
        [new JsonObject
        {
            ["type"] = "text", ["text"] = new JsonObject { ["content"] = text, ["link"] = null }, ["annotations"] = DefaultAnnotations(),
            ["plain_text"] = text, ["href"] = null,
        }];

    private JsonObject GetDatabase(string id)
    {
        lock (_gate)
        {
            if (!_databases.TryGetValue(id, out var db)) throw NotFound(id, "database");
            return new JsonObject
            {
                ["object"] = "database", ["id"] = db.Id, ["title"] = PlainTitle(db.Title), ["description"] = new JsonArray(),
                ["parent"] = new JsonObject { ["type"] = "workspace", ["workspace"] = true }, ["is_inline"] = false, ["in_trash"] = false,
                ["created_time"] = Time(Minute(db.Created)), ["last_edited_time"] = Time(Minute(db.Created)),
                ["data_sources"] = new JsonArray(new JsonObject { ["id"] = db.DataSourceId, ["name"] = db.Title }),
                ["icon"] = null, ["cover"] = null, ["url"] = "https://www.notion.so/" + db.Id.Replace("-", "", StringComparison.Ordinal),
            };
        }
    }

    private JsonObject GetDataSource(string id)
    {
        lock (_gate)
        {
            if (!_dataSources.TryGetValue(id, out var ds)) throw NotFound(id, "data_source");
            var properties = new JsonObject();
            foreach (var p in ds.Properties)
            {
                var config = new JsonObject();
                if (p.Type is "select" or "multi_select" or "status")
                    config["options"] = new JsonArray(p.Options.Select(o => (JsonNode)OptionJson(o)).ToArray());
                properties[p.Name] = new JsonObject { ["id"] = p.Id, ["name"] = p.Name, ["type"] = p.Type, [p.Type] = config };
            }
            return new JsonObject
            {
                ["object"] = "data_source", ["id"] = ds.Id, ["title"] = PlainTitle(ds.Name), ["description"] = new JsonArray(),
                ["parent"] = new JsonObject { ["type"] = "database_id", ["database_id"] = ds.DatabaseId },
                ["database_parent"] = new JsonObject { ["type"] = "workspace", ["workspace"] = true },
                ["created_time"] = Time(Minute(ds.Created)), ["last_edited_time"] = Time(Minute(ds.Created)),
                ["in_trash"] = false, ["archived"] = false, ["properties"] = properties,
            };
        }
    }

    private static JsonObject OptionJson(SelectOption o) => new() { ["id"] = o.Id, ["name"] = o.Name, ["color"] = o.Color };

    private JsonObject PageJson(PageRecord page)
    {
        var ds = _dataSources[page.DataSourceId];
        var properties = new JsonObject();
        foreach (var p in ds.Properties)
        {
            var value = p.Type switch
            {
                "created_time" => Time(Minute(page.Created)),
                "last_edited_time" => Time(Minute(page.LastEdited)),
                "created_by" => User(page.CreatedBy),
                "last_edited_by" => User(page.LastEditedBy),
                _ => page.Values.TryGetValue(p.Id, out var v) ? v?.DeepClone() : EmptyValue(p.Type),
            };
            properties[p.Name] = new JsonObject { ["id"] = p.Id, ["type"] = p.Type, [p.Type] = value };
        }
        return new JsonObject
        {
            ["object"] = "page", ["id"] = page.Id,
            ["created_time"] = Time(Minute(page.Created)), ["last_edited_time"] = Time(Minute(page.LastEdited)),
            ["created_by"] = User(page.CreatedBy), ["last_edited_by"] = User(page.LastEditedBy),
            ["cover"] = null, ["icon"] = null,
            ["parent"] = new JsonObject { ["type"] = "data_source_id", ["data_source_id"] = page.DataSourceId, ["database_id"] = page.DatabaseId },
            ["archived"] = page.InTrash, ["in_trash"] = page.InTrash, ["is_locked"] = false,
            ["properties"] = properties,
            ["url"] = "https://www.notion.so/" + page.Id.Replace("-", "", StringComparison.Ordinal), ["public_url"] = null,
        };
    }

    private static JsonNode? EmptyValue(string type) => type switch
    {
        "title" or "rich_text" or "multi_select" or "relation" or "people" or "files" => new JsonArray(),
        "checkbox" => false,
        _ => null,
    };

    private JsonObject GetPageObject(string id)
    {
        lock (_gate) return _pages.TryGetValue(id, out var page) ? PageJson(page) : throw NotFound(id, "page");
    }

    private JsonObject CreatePage(JsonObject body, Author author)
    {
        List<WebhookEvent> events = [];
        JsonObject result;
        lock (_gate)
        {
            var parent = body["parent"] as JsonObject ?? throw Invalid("body failed validation: body.parent should be defined, instead was `undefined`.");
            string dataSourceId;
            if (parent["data_source_id"] is JsonValue dsValue && dsValue.TryGetValue<string>(out var dsRaw)) dataSourceId = Dashed(dsRaw);
            else if (parent["database_id"] is JsonValue dbValue && dbValue.TryGetValue<string>(out var dbRaw) && _databases.TryGetValue(Dashed(dbRaw), out var db))
                dataSourceId = db.DataSourceId; // accepted while the database has a single data source
            else throw Invalid("body failed validation: body.parent.data_source_id should be defined, instead was `undefined`.");
            if (!_dataSources.TryGetValue(dataSourceId, out var ds)) throw NotFound(dataSourceId, "data_source");

            var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
            if (body["properties"] is JsonObject properties) ApplyProperties(ds, properties, values, "body.properties");
            else if (body["properties"] is not null) throw Invalid("body failed validation: body.properties should be an object.");
            var children = body["children"] is null ? [] : ParseBlocks(body["children"], "body.children");

            var now = _options.Time.GetUtcNow();
            var page = new PageRecord
            {
                Id = NewId(), DataSourceId = ds.Id, DatabaseId = ds.DatabaseId, Created = now, CreatedBy = author, LastEdited = now,
                LastEditedBy = author, Sequence = ++_sequence,
            };
            foreach (var (k, v) in values) page.Values[k] = v;
            _pages[page.Id] = page;
            AddBlocks(page, page.Id, true, page.Children, children, author, now, null);
            events.Add(PageEvent("page.created", page, author));
            result = PageJson(page);
        }
        Publish(events);
        return result;
    }

    private JsonObject UpdatePage(string id, JsonObject body, Author author)
    {
        List<WebhookEvent> events = [];
        JsonObject result;
        lock (_gate)
        {
            if (!_pages.TryGetValue(id, out var page)) throw NotFound(id, "page");
            var ds = _dataSources[page.DataSourceId];
            foreach (var key in body.Select(p => p.Key))
                if (key is not ("properties" or "in_trash" or "archived" or "icon" or "cover" or "is_locked"))
                    throw Invalid($"body failed validation: body.{key} is not a recognised page field.");
            var trash = TrashFlag(body);
            if (page.InTrash && trash != false && body["properties"] is JsonObject { Count: > 0 })
                throw Invalid("Can't edit block that is archived. You must unarchive the block before editing.");
            var values = new Dictionary<string, JsonNode?>(page.Values, StringComparer.Ordinal);
            var changed = body["properties"] is JsonObject properties ? ApplyProperties(ds, properties, values, "body.properties") : [];
            var now = _options.Time.GetUtcNow();
            foreach (var (k, v) in values) page.Values[k] = v;
            if (trash is { } inTrash && inTrash != page.InTrash)
            {
                page.InTrash = inTrash;
                events.Add(PageEvent(inTrash ? "page.deleted" : "page.undeleted", page, author));
            }
            if (changed.Count > 0) events.Add(PageEvent("page.properties_updated", page, author, changed));
            Touch(page, author, now);
            result = PageJson(page);
        }
        Publish(events);
        return result;
    }

    private static bool? TrashFlag(JsonObject body)
    {
        // "archived" is the pre-2024 name of in_trash; Notion still accepts it up to 2025-09-03.
        foreach (var name in new[] { "in_trash", "archived" })
        {
            if (body[name] is null) continue;
            if (body[name] is JsonValue v && v.TryGetValue<bool>(out var flag)) return flag;
            throw Invalid($"body failed validation: body.{name} should be a boolean.");
        }
        return null;
    }

    private void Touch(PageRecord page, Author author, DateTimeOffset now)
    {
        page.LastEdited = now;
        page.LastEditedBy = author;
    }

    /// <summary>Validates property values against the schema and stores the normalised read shape; returns the changed property ids.</summary>
    private List<string> ApplyProperties(DataSourceRecord ds, JsonObject input, Dictionary<string, JsonNode?> values, string path)
    {
        var changed = new List<string>();
        foreach (var (key, raw) in input)
        {
            var schema = ds.Properties.FirstOrDefault(p => p.Name == key) ?? ds.Properties.FirstOrDefault(p => p.Id == key)
                ?? throw Invalid($"{key} is not a property that exists.");
            if (ReadOnlyTypes.Contains(schema.Type)) throw Invalid($"{key} is a {schema.Type} property and cannot be updated.");
            if (raw is not JsonObject value || value[schema.Type] is null && !value.ContainsKey(schema.Type))
                throw Invalid($"{key} is expected to be {schema.Type}.");
            foreach (var k in value.Select(p => p.Key))
                if (k != schema.Type && k is not ("id" or "type")) throw Invalid($"{key} is expected to be {schema.Type}.");
            var normalised = NormaliseValue(schema, value[schema.Type], $"{path}.{key}.{schema.Type}", key);
            values.TryGetValue(schema.Id, out var old);
            values[schema.Id] = normalised;
            if (!JsonNode.DeepEquals(old ?? EmptyValue(schema.Type), normalised)) changed.Add(schema.Id);
        }
        return changed;
    }

    private static readonly HashSet<string> WritableTypes = new(StringComparer.Ordinal)
    {
        "title", "rich_text", "select", "multi_select", "status", "checkbox", "url", "number", "date", "email", "phone_number", "relation", "people",
    };

    private static readonly HashSet<string> ReadOnlyTypes = new(StringComparer.Ordinal)
    {
        "created_time", "last_edited_time", "created_by", "last_edited_by", "formula", "rollup", "unique_id",
    };

    private JsonNode? NormaliseValue(PropertySchema schema, JsonNode? value, string path, string name)
    {
        switch (schema.Type)
        {
            case "title" or "rich_text":
                return NormaliseRichText(value, path);
            case "select" or "status":
                return value is null ? null : Option(schema, value, path, name);
            case "multi_select":
                if (value is not JsonArray items) throw Invalid($"{name} is expected to be multi_select.");
                if (items.Count > MaxArrayLength) throw Invalid($"body failed validation: {path}.length should be ≤ `{MaxArrayLength}`, instead was `{items.Count}`.");
                return new JsonArray(items.Select((item, i) => (JsonNode)Option(schema, item, $"{path}[{i}]", name)).DistinctBy(o => o["id"]!.GetValue<string>()).ToArray());
            case "checkbox":
                return value is JsonValue cb && cb.TryGetValue<bool>(out var flag) ? flag : throw Invalid($"{name} is expected to be checkbox.");
            case "number":
                return value is null ? null : value is JsonValue n && n.TryGetValue<double>(out var number) ? number : throw Invalid($"{name} is expected to be number.");
            case "url" or "email" or "phone_number":
                if (value is null) return null;
                if (value is not JsonValue s || !s.TryGetValue<string>(out var text)) throw Invalid($"{name} is expected to be {schema.Type}.");
                var limit = schema.Type == "url" ? MaxTextLength : 200;
                if (text.Length > limit) throw Invalid($"body failed validation: {path}.length should be ≤ `{limit}`, instead was `{text.Length}`.");
                if (schema.Type == "url" && text.Length == 0) throw Invalid($"body failed validation: {path} should be a non-empty string or null; clear a url with null.");
                return text;
            case "date":
                if (value is null) return null;
                if (value is not JsonObject date || date["start"] is not JsonValue start || !start.TryGetValue<string>(out var startText)
                    || !DateTimeOffset.TryParse(startText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _))
                    throw Invalid($"{name} is expected to be date.");
                return new JsonObject { ["start"] = startText, ["end"] = date["end"]?.DeepClone(), ["time_zone"] = date["time_zone"]?.DeepClone() };
            case "relation" or "people":
                if (value is not JsonArray refs || refs.Any(r => r is not JsonObject o || o["id"] is not JsonValue)) throw Invalid($"{name} is expected to be {schema.Type}.");
                if (refs.Count > MaxArrayLength) throw Invalid($"body failed validation: {path}.length should be ≤ `{MaxArrayLength}`, instead was `{refs.Count}`.");
                return new JsonArray(refs.Select(r => (JsonNode)new JsonObject { ["id"] = Dashed(r!["id"]!.GetValue<string>()) }).ToArray());
            default:
                throw Invalid($"{name} is expected to be {schema.Type}.");
        }
    }

    /// <summary>A select option by name (created when new, as Notion does for select and multi_select) or by id.</summary>
    private static JsonObject Option(PropertySchema schema, JsonNode? value, string path, string name)
    {
        if (value is not JsonObject o) throw Invalid($"{name} is expected to be {schema.Type}.");
        if (o["name"] is JsonValue nv && nv.TryGetValue<string>(out var optionName))
        {
            if (optionName.Contains(',', StringComparison.Ordinal)) throw Invalid($"body failed validation: {path}.name must not contain commas.");
            if (optionName.Length > 100) throw Invalid($"body failed validation: {path}.name.length should be ≤ `100`, instead was `{optionName.Length}`.");
            var option = schema.Options.FirstOrDefault(x => x.Name == optionName);
            if (option is null)
            {
                if (schema.Type == "status") throw Invalid($"Invalid status option. Status option \"{optionName}\" does not exist.");
                option = new SelectOption(Guid.NewGuid().ToString("N")[..8], optionName, "default");
                schema.Options.Add(option);
            }
            return OptionJson(option);
        }
        if (o["id"] is JsonValue iv && iv.TryGetValue<string>(out var optionId))
            return OptionJson(schema.Options.FirstOrDefault(x => x.Id == optionId) ?? throw Invalid($"body failed validation: {path}.id `{optionId}` is not an option of {name}."));
        throw Invalid($"{name} is expected to be {schema.Type}.");
    }

    private static JsonObject DefaultAnnotations() => new()
    {
        ["bold"] = false, ["italic"] = false, ["strikethrough"] = false, ["underline"] = false, ["code"] = false, ["color"] = "default",
    };

    /// <summary>Checks a rich-text array against Notion's limits and returns it in the read shape (annotations, plain_text, href).</summary>
    private static JsonArray NormaliseRichText(JsonNode? value, string path)
    {
        if (value is not JsonArray items) throw Invalid($"body failed validation: {path} should be an array, instead was `{value?.ToJsonString() ?? "undefined"}`.");
        if (items.Count > MaxArrayLength) throw Invalid($"body failed validation: {path}.length should be ≤ `{MaxArrayLength}`, instead was `{items.Count}`.");
        var result = new JsonArray();
        for (var i = 0; i < items.Count; i++)
        {
            var itemPath = $"{path}[{i}]";
            if (items[i] is not JsonObject item) throw Invalid($"body failed validation: {itemPath} should be an object.");
            var type = item["type"]?.GetValue<string>() ?? (item["equation"] is not null ? "equation" : "text");
            var annotations = DefaultAnnotations();
            if (item["annotations"] is JsonObject given)
                foreach (var (k, v) in given)
                {
                    if (!annotations.ContainsKey(k)) throw Invalid($"body failed validation: {itemPath}.annotations.{k} is not a known annotation.");
                    annotations[k] = v?.DeepClone();
                }
            if (type == "text")
            {
                if (item["text"] is not JsonObject text || text["content"] is not JsonValue cv || !cv.TryGetValue<string>(out var content))
                    throw Invalid($"body failed validation: {itemPath}.text.content should be a string.");
                if (content.Length > MaxTextLength)
                    throw Invalid($"body failed validation: {itemPath}.text.content.length should be ≤ `{MaxTextLength}`, instead was `{content.Length}`.");
                string? url = null;
                if (text["link"] is JsonObject link)
                {
                    url = link["url"]?.GetValue<string>() ?? throw Invalid($"body failed validation: {itemPath}.text.link.url should be defined.");
                    if (url.Length > MaxTextLength)
                        throw Invalid($"body failed validation: {itemPath}.text.link.url.length should be ≤ `{MaxTextLength}`, instead was `{url.Length}`.");
                }
                result.Add(new JsonObject
                {
                    ["type"] = "text",
                    ["text"] = new JsonObject { ["content"] = content, ["link"] = url is null ? null : new JsonObject { ["url"] = url } },
                    ["annotations"] = annotations, ["plain_text"] = content, ["href"] = url,
                });
            }
            else if (type == "equation")
            {
                var expression = item["equation"]?["expression"]?.GetValue<string>() ?? throw Invalid($"body failed validation: {itemPath}.equation.expression should be a string.");
                if (expression.Length > 1000) throw Invalid($"body failed validation: {itemPath}.equation.expression.length should be ≤ `1000`, instead was `{expression.Length}`.");
                result.Add(new JsonObject
                {
                    ["type"] = "equation", ["equation"] = new JsonObject { ["expression"] = expression }, ["annotations"] = annotations,
                    ["plain_text"] = expression, ["href"] = null,
                });
            }
            else throw Invalid($"body failed validation: {itemPath}.type should be `text` or `equation` in the emulator, instead was `{type}`.");
        }
        return result;
    }
}
