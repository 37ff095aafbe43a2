using System.Globalization;
using System.Text.Json.Nodes;

namespace EventSync.Emulators.Notion;

/// <summary>POST /v1/data_sources/{id}/query: filters, sorts and cursor paging over the minute-rounded timestamps.</summary>
public sealed partial class NotionEmulator
{
    private JsonObject QueryDataSource(string id, JsonObject body)
    {
        lock (_gate)
        {
            if (!_dataSources.TryGetValue(id, out var ds)) throw NotFound(id, "data_source");
            foreach (var key in body.Select(p => p.Key))
                if (key is not ("filter" or "sorts" or "start_cursor" or "page_size" or "filter_properties" or "result_type"))
                    throw Invalid($"body failed validation: body.{key} should be not present.");
            var pageSize = MaxPageSize;
            if (body["page_size"] is { } sizeNode && (sizeNode is not JsonValue sv || !sv.TryGetValue<int>(out pageSize) || pageSize is < 1 or > MaxPageSize))
                throw Invalid($"body failed validation: body.page_size should be a number between 1 and {MaxPageSize}, instead was `{sizeNode.ToJsonString()}`.");
            var filter = body["filter"] is null ? (_ => true) : Filter(ds, body["filter"], "body.filter", 0);
            var ordered = Sort(ds, body["sorts"], _pages.Values.Where(p => p.DataSourceId == ds.Id && !p.InTrash).Where(filter)).ToList();

            var start = 0;
            if (body["start_cursor"] is { } cursorNode)
            {
                var cursor = cursorNode is JsonValue cv && cv.TryGetValue<string>(out var c) ? Dashed(c) : "";
                start = ordered.FindIndex(p => p.Id == cursor);
                if (start < 0) throw Invalid($"The start_cursor provided is invalid: {cursorNode.ToJsonString()}");
            }
            var slice = ordered.Skip(start).Take(pageSize).ToList();
            var next = start + slice.Count < ordered.Count ? ordered[start + slice.Count].Id : null;
            return ListJson(slice.Select(p => (JsonNode)PageJson(p)), next, "page_or_data_source");
        }
    }

    private Func<PageRecord, bool> Filter(DataSourceRecord ds, JsonNode? node, string path, int depth)
    {
        if (node is not JsonObject filter) throw Invalid($"body failed validation: {path} should be an object.");
        foreach (var compound in new[] { "and", "or" })
        {
            if (filter[compound] is null) continue;
            if (filter[compound] is not JsonArray parts) throw Invalid($"body failed validation: {path}.{compound} should be an array.");
            if (depth >= 2) throw Invalid($"body failed validation: {path}.{compound}: filters nest at most two levels deep.");
            if (parts.Count > 100) throw Invalid($"body failed validation: {path}.{compound}.length should be ≤ `100`, instead was `{parts.Count}`.");
            var compiled = parts.Select((p, i) => Filter(ds, p, $"{path}.{compound}[{i}]", depth + 1)).ToList();
            return compound == "and" ? page => compiled.All(f => f(page)) : page => compiled.Any(f => f(page));
        }
        if (filter["timestamp"] is JsonValue tsValue && tsValue.TryGetValue<string>(out var timestamp))
        {
            if (timestamp is not ("last_edited_time" or "created_time"))
                throw Invalid($"body failed validation: {path}.timestamp should be `created_time` or `last_edited_time`, instead was `{timestamp}`.");
            var condition = DateCondition(filter[timestamp], $"{path}.{timestamp}");
            return timestamp == "created_time" ? page => condition(Minute(page.Created)) : page => condition(Minute(page.LastEdited));
        }
        if (filter["property"] is JsonValue propValue && propValue.TryGetValue<string>(out var property))
        {
            var schema = ds.Properties.FirstOrDefault(p => p.Name == property) ?? ds.Properties.FirstOrDefault(p => p.Id == property)
                ?? throw Invalid($"Could not find property with name or id: {property}");
            var typeKey = filter.Select(p => p.Key).FirstOrDefault(k => k != "property")
                ?? throw Invalid($"body failed validation: {path} should have a condition for {property}.");
            var expected = schema.Type is "created_time" or "last_edited_time" ? "date" : schema.Type;
            if (typeKey != expected && !(typeKey == "status" && schema.Type == "select"))
                throw Invalid($"body failed validation: {path}: {property} is a {schema.Type} property, the filter is for {typeKey}.");
            if (filter[typeKey] is not JsonObject condition || condition.Count != 1)
                throw Invalid($"body failed validation: {path}.{typeKey} should hold exactly one condition.");
            return PropertyCondition(schema, condition, $"{path}.{typeKey}");
        }
        throw Invalid($"body failed validation: {path} should be a property filter, a timestamp filter, or an and/or compound.");
    }

    private Func<PageRecord, bool> PropertyCondition(PropertySchema schema, JsonObject condition, string path)
    {
        var (op, operand) = condition.First();
        string Text(PageRecord page) => Value(page, schema) switch
        {
            JsonArray parts => string.Concat(parts.Select(p => p?["plain_text"]?.GetValue<string>() ?? "")),
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonObject o => o["name"]?.GetValue<string>() ?? "",
            _ => "",
        };
        string Operand() => operand is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw Invalid($"body failed validation: {path}.{op} should be a string.");
        bool Flag() => operand is JsonValue v && v.TryGetValue<bool>(out var b) ? b : throw Invalid($"body failed validation: {path}.{op} should be a boolean.");

        switch (schema.Type)
        {
            case "title" or "rich_text" or "url" or "email" or "phone_number" or "select" or "status":
                switch (op)
                {
                    case "equals": { var s = Operand(); return page => Text(page) == s; }
                    case "does_not_equal": { var s = Operand(); return page => Text(page) != s; }
                    case "contains" when schema.Type is not ("select" or "status"): { var s = Operand(); return page => Text(page).Contains(s, StringComparison.OrdinalIgnoreCase); }
                    case "does_not_contain" when schema.Type is not ("select" or "status"): { var s = Operand(); return page => !Text(page).Contains(s, StringComparison.OrdinalIgnoreCase); }
                    case "starts_with" when schema.Type is not ("select" or "status"): { var s = Operand(); return page => Text(page).StartsWith(s, StringComparison.OrdinalIgnoreCase); }
                    case "ends_with" when schema.Type is not ("select" or "status"): { var s = Operand(); return page => Text(page).EndsWith(s, StringComparison.OrdinalIgnoreCase); }
                    case "is_empty": return page => Text(page).Length == 0;
                    case "is_not_empty": return page => Text(page).Length > 0;
                }
                break;
            case "checkbox":
                switch (op)
                {
                    case "equals": { var b = Flag(); return page => (Value(page, schema) is JsonValue v && v.GetValue<bool>()) == b; }
                    case "does_not_equal": { var b = Flag(); return page => (Value(page, schema) is JsonValue v && v.GetValue<bool>()) != b; }
                }
                break;
            case "multi_select":
                string[] Names(PageRecord page) => Value(page, schema) is JsonArray a ? a.Select(o => o!["name"]!.GetValue<string>()).ToArray() : [];
                switch (op)
                {
                    case "contains": { var s = Operand(); return page => Names(page).Contains(s); }
                    case "does_not_contain": { var s = Operand(); return page => !Names(page).Contains(s); }
                    case "is_empty": return page => Names(page).Length == 0;
                    case "is_not_empty": return page => Names(page).Length > 0;
                }
                break;
            case "number":
                double? Number(PageRecord page) => Value(page, schema) is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;
                double Limit() => operand is JsonValue v && v.TryGetValue<double>(out var d) ? d : throw Invalid($"body failed validation: {path}.{op} should be a number.");
                switch (op)
                {
                    case "equals": { var n = Limit(); return page => Number(page) == n; }
                    case "does_not_equal": { var n = Limit(); return page => Number(page) != n; }
                    case "greater_than": { var n = Limit(); return page => Number(page) > n; }
                    case "less_than": { var n = Limit(); return page => Number(page) < n; }
                    case "greater_than_or_equal_to": { var n = Limit(); return page => Number(page) >= n; }
                    case "less_than_or_equal_to": { var n = Limit(); return page => Number(page) <= n; }
                    case "is_empty": return page => Number(page) is null;
                    case "is_not_empty": return page => Number(page) is not null;
                }
                break;
            case "date" or "created_time" or "last_edited_time":
                var dateCondition = DateCondition(condition, path);
                return page => schema.Type switch
                {
                    "created_time" => dateCondition(Minute(page.Created)),
                    "last_edited_time" => dateCondition(Minute(page.LastEdited)),
                    _ => Value(page, schema)?["start"] is JsonValue sv && DateTimeOffset.TryParse(sv.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? dateCondition(t) : dateCondition(null),
                };
        }
        throw Invalid($"body failed validation: {path}.{op} is not a filter condition the emulator supports for {schema.Type}.");
    }

    private static JsonNode? Value(PageRecord page, PropertySchema schema) =>
        page.Values.TryGetValue(schema.Id, out var v) ? v : EmptyValue(schema.Type);

    /// <summary>A date condition (equals, before, after, on_or_before, on_or_after, is_empty, is_not_empty, past_week) over an instant.</summary>
    private Func<DateTimeOffset?, bool> DateCondition(JsonNode? node, string path)
    {
        if (node is not JsonObject condition || condition.Count != 1) throw Invalid($"body failed validation: {path} should hold exactly one date condition.");
        var (op, operand) = condition.First();
        if (op is "is_empty") return t => t is null;
        if (op is "is_not_empty") return t => t is not null;
        if (op is "past_week")
        {
            var now = _options.Time.GetUtcNow();
            return t => t is { } v && v >= now.AddDays(-7) && v <= now;
        }
        if (operand is not JsonValue value || !value.TryGetValue<string>(out var text)
            || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var limit))
            throw Invalid($"body failed validation: {path}.{op} should be a valid ISO 8601 date string, instead was `{operand?.ToJsonString() ?? "undefined"}`.");
        var dateOnly = !text.Contains('T', StringComparison.Ordinal);
        return op switch
        {
            "equals" => dateOnly ? t => t is { } v && v.UtcDateTime.Date == limit.UtcDateTime.Date : t => t == limit,
            "before" => t => t < limit,
            "after" => t => t > limit,
            "on_or_before" => t => t <= limit,
            "on_or_after" => t => t >= limit,
            _ => throw Invalid($"body failed validation: {path}.{op} is not a date condition."),
        };
    }

    private static IEnumerable<PageRecord> Sort(DataSourceRecord ds, JsonNode? sortsNode, IEnumerable<PageRecord> pages)
    {
        if (sortsNode is null) return pages.OrderBy(p => p.Sequence);
        if (sortsNode is not JsonArray sorts) throw Invalid("body failed validation: body.sorts should be an array.");
        var keys = new List<(Func<PageRecord, IComparable?> Key, bool Descending)>();
        for (var i = 0; i < sorts.Count; i++)
        {
            if (sorts[i] is not JsonObject sort) throw Invalid($"body failed validation: body.sorts[{i}] should be an object.");
            var direction = sort["direction"]?.GetValue<string>() ?? "ascending";
            if (direction is not ("ascending" or "descending")) throw Invalid($"body failed validation: body.sorts[{i}].direction should be `ascending` or `descending`, instead was `{direction}`.");
            Func<PageRecord, IComparable?> key;
            if (sort["timestamp"]?.GetValue<string>() is { } timestamp)
                key = timestamp switch
                {
                    "last_edited_time" => p => Minute(p.LastEdited),
                    "created_time" => p => Minute(p.Created),
                    _ => throw Invalid($"body failed validation: body.sorts[{i}].timestamp should be `created_time` or `last_edited_time`, instead was `{timestamp}`."),
                };
            else if (sort["property"]?.GetValue<string>() is { } property)
            {
                var schema = ds.Properties.FirstOrDefault(p => p.Name == property) ?? ds.Properties.FirstOrDefault(p => p.Id == property)
                    ?? throw Invalid($"Could not find sort property with name or id: {property}");
                key = p => SortKey(p, schema);
            }
            else throw Invalid($"body failed validation: body.sorts[{i}] should have a timestamp or a property.");
            keys.Add((key, direction == "descending"));
        }
        var list = pages.ToList();
        list.Sort((a, b) =>
        {
            foreach (var (key, descending) in keys)
            {
                var (x, y) = (key(a), key(b));
                var c = x is null ? (y is null ? 0 : 1) : y is null ? -1 : x.CompareTo(y) * (descending ? -1 : 1); // empty values last
                if (c != 0) return c;
            }
            return a.Sequence.CompareTo(b.Sequence);
        });
        return list;
    }

    private static IComparable? SortKey(PageRecord page, PropertySchema schema) => schema.Type switch
    {
        "created_time" => Minute(page.Created),
        "last_edited_time" => Minute(page.LastEdited),
        _ => Value(page, schema) switch
        {
            JsonArray { Count: 0 } => null,
            JsonArray parts => string.Concat(parts.Select(p => p?["plain_text"]?.GetValue<string>() ?? p?["name"]?.GetValue<string>() ?? "")),
            JsonObject o when o["name"] is not null => o["name"]!.GetValue<string>(),
            JsonObject o when o["start"] is not null => o["start"]!.GetValue<string>(),
            JsonValue v when v.TryGetValue<bool>(out var b) => b,
            JsonValue v when v.TryGetValue<double>(out var d) => d,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            _ => null,
        },
    };
}
