using System.Text.Json.Nodes;

namespace EventSync.Tests.NotionMarkdown;

/// <summary>Checks blocks against the Notion API's size limits and shape for writes.</summary>
internal static class Limits
{
    public const int MaxContent = 2000;
    public const int MaxElements = 100;

    /// <summary>Every violation, with the path of the block; empty when the blocks are valid.</summary>
    public static List<string> Violations(IEnumerable<JsonObject> blocks, string path = "")
    {
        var problems = new List<string>();
        var index = 0;
        foreach (var block in blocks)
        {
            var here = $"{path}/{index++}";
            var type = block["type"]?.GetValue<string>();
            if (block["object"]?.GetValue<string>() != "block") problems.Add($"{here}: object is not \"block\"");
            if (type is null || block[type] is not JsonObject body)
            {
                problems.Add($"{here}: no body for type {type}");
                continue;
            }
            foreach (var key in new[] { "rich_text", "caption" })
            {
                if (body[key] is JsonArray array) CheckRichText(array, $"{here}.{type}.{key}", problems);
            }
            if (body["cells"] is JsonArray cells)
            {
                for (var c = 0; c < cells.Count; c++) CheckRichText(cells[c] as JsonArray ?? [], $"{here}.cells[{c}]", problems);
            }
            if (body["children"] is JsonArray children)
            {
                if (children.Count > 1000) problems.Add($"{here}: {children.Count} children");
                problems.AddRange(Violations(children.OfType<JsonObject>(), here));
            }
        }
        return problems;
    }

    private static void CheckRichText(JsonArray array, string path, List<string> problems)
    {
        if (array.Count > MaxElements) problems.Add($"{path}: {array.Count} rich-text elements");
        foreach (var element in array.OfType<JsonObject>())
        {
            var content = element["text"]?["content"]?.GetValue<string>();
            if (content is { Length: > MaxContent }) problems.Add($"{path}: text.content of {content.Length} characters");
            if (content is { Length: > 0 } && char.IsHighSurrogate(content[^1])) problems.Add($"{path}: split inside a surrogate pair");
        }
    }

    public static int CountBlocks(IEnumerable<JsonObject> blocks) =>
        blocks.Sum(b => 1 + CountBlocks((b[b["type"]!.GetValue<string>()]?["children"] as JsonArray ?? []).OfType<JsonObject>()));
}
