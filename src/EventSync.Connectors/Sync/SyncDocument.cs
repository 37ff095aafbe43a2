using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EventSync.Connectors.Sync;

/// <summary>
/// A document as one system holds it, in the system-neutral form every merge and comparison uses: named fields (a
/// string, or a list of strings; other YAML shapes kept as JSON) and a markdown body in canonical form.
/// </summary>
public sealed class SyncDocument
{
    /// <summary>The key under which the body takes part in merges, beside the fields.</summary>
    public const string BodyField = "$body";

    public SyncDocument(IEnumerable<KeyValuePair<string, JsonNode?>> fields, string body, DateTimeOffset? editedAt = null)
    {
        foreach (var (k, v) in fields)
            if (Normalize(v) is { } value) Fields[k] = value;
        Body = BodyText.Normalize(body);
        EditedAt = editedAt;
    }

    /// <summary>Fields in name order; absent and empty values are not stored, so "missing" and "empty" compare equal.</summary>
    public SortedDictionary<string, JsonNode> Fields { get; } = new(StringComparer.Ordinal);

    public string Body { get; }

    /// <summary>When the holding system last changed it, if it says: the tie-breaker of the "newest" conflict policy.</summary>
    public DateTimeOffset? EditedAt { get; }

    public string? Title => Fields.TryGetValue("title", out var t) ? t.ToString() : Fields.TryGetValue("name", out var n) ? n.ToString() : null;

    /// <summary>A field's value, or the body for <see cref="BodyField"/>.</summary>
    public JsonNode? Get(string field) => field == BodyField ? (Body.Length == 0 ? null : JsonValue.Create(Body)) : Fields.GetValueOrDefault(field);

    public IEnumerable<string> Names => Fields.Keys.Append(BodyField);

    /// <summary>Canonical JSON: the stored base of merges and the input of <see cref="Hash"/>.</summary>
    public string ToSnapshot()
    {
        var o = new JsonObject();
        var fields = new JsonObject();
        foreach (var (k, v) in Fields) fields[k] = v.DeepClone();
        o["fields"] = fields;
        o["body"] = Body;
        return o.ToJsonString();
    }

    public static SyncDocument FromSnapshot(string snapshot)
    {
        var o = JsonNode.Parse(snapshot)!.AsObject();
        return new SyncDocument(o["fields"]!.AsObject().Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())), o["body"]?.GetValue<string>() ?? "");
    }

    public string Hash() => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ToSnapshot())))[..32];

    public static bool ValueEquals(JsonNode? a, JsonNode? b) => JsonNode.DeepEquals(a, b);

    /// <summary>Scalars become strings ("3", "true") so YAML, Notion and JSON spellings of one value compare equal.</summary>
    public static JsonNode? Normalize(JsonNode? value)
    {
        switch (value)
        {
            case null: return null;
            case JsonValue v:
                var text = v.GetValueKind() switch
                {
                    JsonValueKind.String => v.GetValue<string>(),
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    JsonValueKind.Number => v.ToJsonString(),
                    _ => null,
                };
                return string.IsNullOrEmpty(text) ? null : JsonValue.Create(text);
            case JsonArray a:
                var items = new JsonArray();
                foreach (var item in a)
                    if (Normalize(item) is { } n) items.Add(n);
                return items.Count == 0 ? null : items;
            case JsonObject o:
                var copy = new JsonObject();
                foreach (var (k, v) in o.OrderBy(p => p.Key, StringComparer.Ordinal))
                    if (Normalize(v) is { } n) copy[k] = n;
                return copy.Count == 0 ? null : copy;
            default: return null;
        }
    }

    public static string Display(JsonNode? value) => value switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => value.ToJsonString(),
    };
}
