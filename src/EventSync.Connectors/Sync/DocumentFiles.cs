using System.Text;
using System.Text.Json.Nodes;
using EventSync.Core.Configuration;
using YamlDotNet.Serialization;

namespace EventSync.Connectors.Sync;

/// <summary>
/// Repository files as documents. Markdown: optional YAML front matter (the fields) and the body. YAML: every top-level
/// key is a field, except <c>body</c>, which holds the document body (so a Notion page's content survives in an
/// agents/*.yaml file).
/// </summary>
public static class DocumentFiles
{
    private const string YamlBodyKey = "body";
    private static readonly IDeserializer Reader = new DeserializerBuilder().Build();
    private static readonly ISerializer Writer = new SerializerBuilder().DisableAliases().Build();

    /// <exception cref="FormatException">The file is not valid YAML / front matter; the message says where.</exception>
    public static SyncDocument Read(string text, DocumentFormat format, DateTimeOffset? editedAt = null)
    {
        var (frontMatter, body) = format == DocumentFormat.Markdown ? SplitFrontMatter(text) : (text, "");
        var fields = ParseMapping(frontMatter);
        if (format == DocumentFormat.Yaml && fields.Remove(YamlBodyKey, out var yamlBody)) body = SyncDocument.Display(yamlBody);
        return new SyncDocument(fields, body, editedAt);
    }

    /// <summary>
    /// The file for a document. Parts that did not change keep the existing file's exact text (its key order, quoting
    /// and body formatting), so a sync rewrites only what changed.
    /// </summary>
    public static string Write(SyncDocument document, DocumentFormat format, string? existingText)
    {
        var existing = existingText is null ? null : TryRead(existingText, format);
        var existingFields = existingText is null ? null : ParseMappingOrNull(format == DocumentFormat.Markdown ? SplitFrontMatter(existingText).FrontMatter : existingText);
        var fieldsSame = existing is not null && existing.Fields.Count == document.Fields.Count && existing.Fields.All(p => document.Fields.TryGetValue(p.Key, out var v) && SyncDocument.ValueEquals(v, p.Value));
        var bodySame = existing is not null && existing.Body == document.Body;
        if (fieldsSame && bodySame) return existingText!;

        var ordered = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var key in existingFields?.Keys ?? Enumerable.Empty<string>())
            if (document.Fields.TryGetValue(key, out var v)) ordered[key] = ToPlain(v);
        foreach (var (key, v) in document.Fields)
            if (!ordered.ContainsKey(key)) ordered[key] = ToPlain(v);

        if (format == DocumentFormat.Yaml)
        {
            if (document.Body.Length > 0) ordered[YamlBodyKey] = document.Body;
            return Writer.Serialize(ordered);
        }
        var (rawFrontMatter, rawBody) = existingText is null ? ("", "") : SplitFrontMatter(existingText);
        var body = bodySame ? rawBody.TrimStart('\n') : document.Body;
        var sb = new StringBuilder();
        if (ordered.Count > 0)
            sb.Append("---\n").Append(fieldsSame ? rawFrontMatter.TrimEnd('\n') + "\n" : Writer.Serialize(ordered)).Append("---\n\n");
        sb.Append(body);
        return sb.ToString();
    }

    private static SyncDocument? TryRead(string text, DocumentFormat format)
    {
        try { return Read(text, format); }
        catch (FormatException) { return null; }
    }

    private static (string FrontMatter, string Body) SplitFrontMatter(string text)
    {
        text = text.Replace("\r\n", "\n", StringComparison.Ordinal);
        if (!text.StartsWith("---\n", StringComparison.Ordinal)) return ("", text);
        var end = text.IndexOf("\n---\n", 3, StringComparison.Ordinal);
        var endAtEof = end < 0 && text.EndsWith("\n---", StringComparison.Ordinal);
        if (end < 0 && !endAtEof) return ("", text);
        return endAtEof ? (text[4..^3], "") : (text[4..(end + 1)], text[(end + 5)..]);
    }

    private static Dictionary<string, JsonNode?> ParseMapping(string yaml) =>
        ParseMappingOrNull(yaml) ?? throw new FormatException("the YAML is not a mapping of keys to values");

    private static Dictionary<string, JsonNode?>? ParseMappingOrNull(string yaml)
    {
        if (string.IsNullOrWhiteSpace(yaml)) return new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        object? root;
        try { root = Reader.Deserialize<object?>(yaml); }
        catch (YamlDotNet.Core.YamlException e) { throw new FormatException($"invalid YAML at line {e.Start.Line}, column {e.Start.Column}: {e.Message}", e); }
        if (root is null) return new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        if (root is not IDictionary<object, object?> map) return null;
        return map.ToDictionary(p => p.Key.ToString() ?? "", p => ToNode(p.Value), StringComparer.Ordinal);
    }

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        IDictionary<object, object?> map => new JsonObject(map.Select(p => KeyValuePair.Create(p.Key.ToString() ?? "", ToNode(p.Value)))),
        IEnumerable<object?> list => new JsonArray(list.Select(ToNode).ToArray()),
        _ => JsonValue.Create(value.ToString()),
    };

    private static object? ToPlain(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(p => p.Key, p => ToPlain(p.Value)),
        JsonArray a => a.Select(ToPlain).ToList(),
        _ => SyncDocument.Display(node),
    };
}
