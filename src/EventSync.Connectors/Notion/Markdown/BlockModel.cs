using System.Text.Json.Nodes;

namespace EventSync.Connectors.Notion.Markdown;

/// <summary>
/// Shapes shared by the reader and the writer: the normalized form of blocks and rich text (what a comparison, a
/// content hash and the markdown writer look at) and the API size limits.
/// </summary>
internal static class BlockModel
{
    public const int MaxTextContentLength = 2000;
    public const int MaxRichTextElements = 100;

    /// <summary>Marks a code block that holds markdown the blocks cannot express, kept verbatim.</summary>
    public const string RawMarkdownCaption = "eventsync:raw-markdown";

    /// <summary>Caption prefix of a code block whose fence info string Notion's language enum cannot hold.</summary>
    public const string LanguageCaptionPrefix = "language: ";

    /// <summary>Annotations of a rich-text element that holds inline markdown kept verbatim (footnote refs, inline HTML).</summary>
    public const string RawInlineColor = "red";

    private static readonly string[] BlockMetadata =
    [
        "id", "parent", "created_time", "last_edited_time", "created_by", "last_edited_by", "has_children",
        "archived", "in_trash", "request_id",
    ];

    private static readonly string[] AnnotationFlags = ["bold", "italic", "strikethrough", "underline", "code"];

    public static JsonObject Block(string type, JsonObject body) =>
        new() { ["object"] = "block", ["type"] = type, [type] = body };

    public static JsonObject Text(string content, JsonObject? annotations = null, string? link = null)
    {
        var text = new JsonObject { ["content"] = content };
        if (link is not null) text["link"] = new JsonObject { ["url"] = link };
        var element = new JsonObject { ["type"] = "text", ["text"] = text };
        if (annotations is { Count: > 0 }) element["annotations"] = annotations;
        return element;
    }

    public static string TypeOf(JsonObject block) => block["type"]?.GetValue<string>() ?? "";

    public static JsonObject Body(JsonObject block) => block[TypeOf(block)] as JsonObject ?? [];

    public static JsonArray RichText(JsonObject body, string key = "rich_text") => body[key] as JsonArray ?? [];

    public static IEnumerable<JsonObject> Children(JsonObject body) =>
        (body["children"] as JsonArray ?? []).OfType<JsonObject>();

    /// <summary>
    /// The block minus what the API adds on read (ids, timestamps, has_children, plain_text, href, default
    /// annotations and colors), with adjacent rich-text runs of the same format joined.
    /// </summary>
    public static JsonObject NormalizeBlock(JsonObject block)
    {
        var type = TypeOf(block);
        var source = block[type] as JsonObject;
        var body = new JsonObject();
        if (source is not null)
        {
            foreach (var (key, value) in source)
            {
                switch (key)
                {
                    case "rich_text" or "caption" when value is JsonArray array:
                        var normalized = NormalizeRichText(array);
                        if (key == "caption" && normalized.Count == 0) continue;
                        body[key] = normalized;
                        break;
                    case "cells" when value is JsonArray cells:
                        body[key] = new JsonArray(cells.Select(c => (JsonNode?)NormalizeRichText(c as JsonArray ?? [])).ToArray());
                        break;
                    case "children" when value is JsonArray children:
                        if (children.Count == 0) continue;
                        body[key] = new JsonArray(children.OfType<JsonObject>().Select(c => (JsonNode?)NormalizeBlock(c)).ToArray());
                        break;
                    case "color" when value?.GetValueKind() == System.Text.Json.JsonValueKind.String && value.GetValue<string>() == "default":
                    case "is_toggleable" when value?.GetValueKind() == System.Text.Json.JsonValueKind.False:
                        continue;
                    default:
                        body[key] = value?.DeepClone();
                        break;
                }
            }
        }
        var result = new JsonObject { ["object"] = "block", ["type"] = type, [type] = body };
        foreach (var (key, value) in block)
        {
            if (key is "object" or "type" || key == type || BlockMetadata.Contains(key)) continue;
            result[key] = value?.DeepClone();
        }
        return result;
    }

    public static JsonArray NormalizeRichText(JsonArray elements)
    {
        var runs = new List<JsonObject>();
        foreach (var element in elements.OfType<JsonObject>())
        {
            var normalized = NormalizeElement(element);
            if (normalized is null) continue;
            foreach (var piece in SplitEdgeWhitespace(normalized)) Append(runs, piece);
        }
        return new JsonArray(runs.Select(r => (JsonNode?)r).ToArray());
    }

    private static JsonObject? NormalizeElement(JsonObject element)
    {
        var type = element["type"]?.GetValue<string>() ?? (element["text"] is not null ? "text" : "");
        var annotations = NormalizeAnnotations(element["annotations"] as JsonObject);
        if (type == "text")
        {
            var text = element["text"] as JsonObject;
            var content = text?["content"]?.GetValue<string>() ?? "";
            if (content.Length == 0) return null;
            var url = (text?["link"] as JsonObject)?["url"]?.GetValue<string>();
            return Text(content, annotations, string.IsNullOrEmpty(url) ? null : url);
        }
        var result = new JsonObject { ["type"] = type };
        foreach (var (key, value) in element)
        {
            if (key is "type" or "annotations" or "href") continue;
            result[key] = value?.DeepClone();
        }
        if (annotations.Count > 0) result["annotations"] = annotations;
        return result;
    }

    private static JsonObject NormalizeAnnotations(JsonObject? annotations)
    {
        var result = new JsonObject();
        if (annotations is null) return result;
        foreach (var flag in AnnotationFlags)
        {
            if (annotations[flag]?.GetValueKind() == System.Text.Json.JsonValueKind.True) result[flag] = true;
        }
        var color = annotations["color"]?.GetValue<string>();
        if (color is not null && color != "default") result["color"] = color;
        foreach (var (key, value) in annotations)
        {
            // Annotations Notion may add later are kept, so nothing read is lost.
            if (AnnotationFlags.Contains(key) || key == "color") continue;
            result[key] = value?.DeepClone();
        }
        return result;
    }

    /// <summary>
    /// Bold, italic and strikethrough on leading or trailing whitespace are invisible and markdown cannot place a
    /// delimiter next to whitespace, so they are dropped from it.
    /// </summary>
    private static IEnumerable<JsonObject> SplitEdgeWhitespace(JsonObject element)
    {
        var annotations = element["annotations"] as JsonObject;
        if (!IsPlainText(element) || annotations is null || Flag(annotations, "code") ||
            !(Flag(annotations, "bold") || Flag(annotations, "italic") || Flag(annotations, "strikethrough")))
        {
            yield return element;
            yield break;
        }
        var content = Content(element);
        var start = 0;
        while (start < content.Length && char.IsWhiteSpace(content[start])) start++;
        var end = content.Length;
        while (end > start && char.IsWhiteSpace(content[end - 1])) end--;
        if (start == 0 && end == content.Length)
        {
            yield return element;
            yield break;
        }
        var bare = (JsonObject)annotations.DeepClone();
        bare.Remove("bold");
        bare.Remove("italic");
        bare.Remove("strikethrough");
        var link = Link(element);
        if (start > 0) yield return Text(content[..start], (JsonObject)bare.DeepClone(), link);
        if (end > start) yield return Text(content[start..end], (JsonObject)annotations.DeepClone(), link);
        if (end < content.Length) yield return Text(content[end..], (JsonObject)bare.DeepClone(), link);
    }

    private static void Append(List<JsonObject> runs, JsonObject element)
    {
        if (runs.Count > 0 && SameFormat(runs[^1], element))
        {
            var last = runs[^1];
            runs[^1] = Text(Content(last) + Content(element), last["annotations"]?.DeepClone() as JsonObject, Link(last));
            return;
        }
        runs.Add(element);
    }

    public static bool IsPlainText(JsonObject element) => element["type"]?.GetValue<string>() == "text";

    public static string Content(JsonObject element) => element["text"]?["content"]?.GetValue<string>() ?? "";

    public static string? Link(JsonObject element) => element["text"]?["link"]?["url"]?.GetValue<string>();

    public static bool Flag(JsonObject? annotations, string name) =>
        annotations?[name]?.GetValueKind() == System.Text.Json.JsonValueKind.True;

    public static bool SameFormat(JsonObject a, JsonObject b) =>
        IsPlainText(a) && IsPlainText(b) && Link(a) == Link(b) &&
        JsonNode.DeepEquals(a["annotations"] ?? new JsonObject(), b["annotations"] ?? new JsonObject());

    /// <summary>
    /// Applies the API's size limits: text.content of at most 2000 characters (never splitting a surrogate pair)
    /// and, for paragraphs, at most 100 rich-text elements (the paragraph is split into several).
    /// </summary>
    public static List<JsonObject> EnforceLimits(IEnumerable<JsonObject> blocks)
    {
        var result = new List<JsonObject>();
        foreach (var block in blocks)
        {
            var type = TypeOf(block);
            if (block[type] is not JsonObject body)
            {
                result.Add(block);
                continue;
            }
            foreach (var key in new[] { "rich_text", "caption" })
            {
                if (body[key] is JsonArray array) body[key] = SplitLongRuns(array);
            }
            if (body["cells"] is JsonArray cells)
            {
                body["cells"] = new JsonArray(cells.Select(c => (JsonNode?)CollapseOverflow(SplitLongRuns(c as JsonArray ?? []))).ToArray());
            }
            if (body["caption"] is JsonArray caption) body["caption"] = CollapseOverflow(caption);
            if (body["children"] is JsonArray children)
            {
                body["children"] = new JsonArray(EnforceLimits(children.OfType<JsonObject>().Select(c => (JsonObject)c.DeepClone())).Select(c => (JsonNode?)c).ToArray());
            }
            if (type == "paragraph" && body["rich_text"] is JsonArray { Count: > MaxRichTextElements } long_)
            {
                var elements = long_.Select(e => e?.DeepClone()).ToList();
                for (var offset = 0; offset < elements.Count; offset += MaxRichTextElements)
                {
                    var piece = (JsonObject)body.DeepClone();
                    piece["rich_text"] = new JsonArray(elements.Skip(offset).Take(MaxRichTextElements).Select(e => e?.DeepClone()).ToArray());
                    // Children stay with the last piece: they followed the end of the paragraph.
                    if (offset + MaxRichTextElements < elements.Count) piece.Remove("children");
                    var split = (JsonObject)block.DeepClone();
                    split[type] = piece;
                    result.Add(split);
                }
                continue;
            }
            if (body["rich_text"] is JsonArray { Count: > MaxRichTextElements } overlong)
            {
                // The block keeps the first 100 runs; the rest follow as paragraphs, inside it when it can hold
                // children (list items, quotes, callouts, toggles), after it otherwise.
                var elements = overlong.Select(e => e?.DeepClone()).ToList();
                body["rich_text"] = new JsonArray(elements.Take(MaxRichTextElements).ToArray());
                var overflow = new List<JsonObject>();
                for (var offset = MaxRichTextElements; offset < elements.Count; offset += MaxRichTextElements)
                {
                    overflow.Add(Block("paragraph", new JsonObject { ["rich_text"] = new JsonArray(elements.Skip(offset).Take(MaxRichTextElements).Select(e => e?.DeepClone()).ToArray()) }));
                }
                if (type.StartsWith("heading_", StringComparison.Ordinal) || type is "code")
                {
                    result.Add(block);
                    result.AddRange(overflow);
                    continue;
                }
                var existing = (body["children"] as JsonArray ?? []).Select(c => c?.DeepClone());
                body["children"] = new JsonArray(overflow.Select(o => (JsonNode?)o).Concat(existing).ToArray());
            }
            result.Add(block);
        }
        return result;
    }

    /// <summary>
    /// A table cell or caption cannot be split into blocks: past the 100th element, the runs are kept as their
    /// markdown in raw-markdown runs, which read back into the same runs and collapse the same way again.
    /// </summary>
    private static JsonArray CollapseOverflow(JsonArray elements)
    {
        if (elements.Count <= MaxRichTextElements) return elements;
        var keep = MaxRichTextElements - 1;
        while (true)
        {
            var rest = new JsonArray(elements.Skip(keep).Select(e => e?.DeepClone()).ToArray());
            var raw = SplitLongRuns(new JsonArray(Text(RichTextWriter.Write(rest, 0, RichTextWriter.Context.Table), new JsonObject { ["code"] = true, ["color"] = RawInlineColor })));
            if (keep + raw.Count <= MaxRichTextElements || keep == 0)
            {
                return new JsonArray(elements.Take(keep).Select(e => e?.DeepClone()).Concat(raw.Select(e => e?.DeepClone())).ToArray());
            }
            keep--;
        }
    }

    private static JsonArray SplitLongRuns(JsonArray elements)
    {
        var result = new JsonArray();
        foreach (var node in elements)
        {
            if (node is not JsonObject element || !IsPlainText(element) || Content(element).Length <= MaxTextContentLength)
            {
                result.Add(node?.DeepClone());
                continue;
            }
            var content = Content(element);
            var start = 0;
            while (start < content.Length)
            {
                var length = Math.Min(MaxTextContentLength, content.Length - start);
                if (start + length < content.Length && char.IsHighSurrogate(content[start + length - 1])) length--;
                var piece = (JsonObject)element.DeepClone();
                piece["text"]!["content"] = content.Substring(start, length);
                result.Add(piece);
                start += length;
            }
        }
        return result;
    }
}
