using System.Text;
using System.Text.Json.Nodes;

namespace EventSync.Connectors.Notion.Markdown;

/// <summary>
/// Notion blocks (normalized, within limits) -> canonical markdown. Each top-level block is written at a fallback
/// level: 0 = plain markdown, 1 = every formatted rich-text run as a notion span, 2 = the block as a JSON comment.
/// </summary>
internal static class MarkdownWriter
{
    public const int JsonLevel = 2;

    private static readonly HashSet<string> ListTypes = ["bulleted_list_item", "numbered_list_item", "to_do"];

    public static bool IsListItem(JsonObject block) => ListTypes.Contains(BlockModel.TypeOf(block));

    /// <summary>
    /// The separator between two sibling blocks: items of one list stay tight (bullets and to-dos share a list),
    /// everything else gets a blank line.
    /// </summary>
    public static string Separator(JsonObject previous, JsonObject next) =>
        IsListItem(previous) && IsListItem(next) &&
        (BlockModel.TypeOf(previous) == "numbered_list_item") == (BlockModel.TypeOf(next) == "numbered_list_item")
            ? "\n" : "\n\n";

    /// <summary>Writes sibling blocks; <paramref name="levels"/> gives each one's fallback level.</summary>
    public static List<string> WriteSiblings(IReadOnlyList<JsonObject> blocks, Func<int, int> levels)
    {
        var chunks = new List<string>(blocks.Count);
        var number = 0;
        for (var i = 0; i < blocks.Count; i++)
        {
            number = BlockModel.TypeOf(blocks[i]) == "numbered_list_item" ? number + 1 : 0;
            chunks.Add(WriteBlock(blocks[i], levels(i), number));
        }
        return chunks;
    }

    private static string WriteChildren(IEnumerable<JsonObject> children, int level)
    {
        var list = children.ToList();
        var chunks = WriteSiblings(list, _ => level);
        var builder = new StringBuilder();
        for (var i = 0; i < chunks.Count; i++)
        {
            if (i > 0) builder.Append(Separator(list[i - 1], list[i]));
            builder.Append(chunks[i]);
        }
        return builder.ToString();
    }

    public static string WriteBlock(JsonObject block, int level, int number)
    {
        if (level >= JsonLevel) return JsonComment(block);
        return TryWrite(block, level, number) ?? JsonComment(block);
    }

    public static string JsonComment(JsonObject block)
    {
        // The default encoder escapes < > & and non-ASCII, so "-->" cannot occur; "--" is escaped as well because
        // older HTML comment rules forbid it inside a comment.
        var json = block.ToJsonString().Replace("--", "-\\u002D", StringComparison.Ordinal);
        return "<!-- notion:" + json + " -->";
    }

    /// <summary>The markdown form of a block, or null when the block has none.</summary>
    private static string? TryWrite(JsonObject block, int level, int number)
    {
        var type = BlockModel.TypeOf(block);
        var body = BlockModel.Body(block);
        var children = BlockModel.Children(body).ToList();
        var keys = body.Select(p => p.Key).ToHashSet();
        bool Only(params string[] allowed) => keys.IsSubsetOf(allowed);
        switch (type)
        {
            case "paragraph" when Only("rich_text"):
                var richText = BlockModel.RichText(body);
                return richText.Count == 0 ? "<br>" : RichTextWriter.Write(richText, level, RichTextWriter.Context.Paragraph);
            case "heading_1" or "heading_2" or "heading_3" when Only("rich_text"):
                var hashes = new string('#', type[^1] - '0');
                var heading = RichTextWriter.Write(BlockModel.RichText(body), level, RichTextWriter.Context.Heading);
                return heading.Length == 0 ? hashes : hashes + " " + heading;
            case "divider" when keys.Count == 0:
                return "---";
            case "code" when Only("rich_text", "language", "caption"):
                return Code(body);
            case "image" when Only("caption", "type", "external") && body["type"]?.GetValue<string>() == "external" &&
                              body["external"] is JsonObject external && external.Count == 1 && external["url"] is JsonValue:
                var alt = RichTextWriter.Write(BlockModel.RichText(body, "caption"), level, RichTextWriter.Context.Table);
                return "![" + alt + "](" + RichTextWriter.Destination(external["url"]!.GetValue<string>()) + ")";
            case "bulleted_list_item" when Only("rich_text", "children"):
                return ListItem("- ", "  ", body, children, level);
            case "numbered_list_item" when Only("rich_text", "children"):
                var marker = number.ToString(System.Globalization.CultureInfo.InvariantCulture) + ". ";
                return ListItem(marker, new string(' ', marker.Length), body, children, level);
            case "to_do" when Only("rich_text", "checked", "children") && body["checked"] is JsonValue checkedValue:
                return ListItem(checkedValue.GetValue<bool>() ? "- [x] " : "- [ ] ", "  ", body, children, level);
            case "quote" when Only("rich_text", "children"):
                return Quote(null, body, children, level);
            case "callout" when Only("rich_text", "icon", "color", "children"):
                var icon = body["icon"] as JsonObject;
                var kind = icon is { Count: 2 } && icon["type"]?.GetValue<string>() == "emoji"
                    ? Callouts.KindFor(icon["emoji"]?.GetValue<string>(), body["color"]?.GetValue<string>())
                    : null;
                return kind is null ? null : Quote("[!" + kind + "]", body, children, level);
            case "table" when Only("table_width", "has_column_header", "has_row_header", "children"):
                return Table(body, children, level);
            default:
                return null;
        }
    }

    private static string? Code(JsonObject body)
    {
        var richText = BlockModel.RichText(body);
        if (richText.OfType<JsonObject>().Any(e => !BlockModel.IsPlainText(e) || e["annotations"] is not null || BlockModel.Link(e) is not null)) return null;
        var content = string.Concat(richText.OfType<JsonObject>().Select(BlockModel.Content));
        var caption = BlockModel.RichText(body, "caption");
        string? captionText = null;
        if (caption.Count > 0)
        {
            if (caption.Count != 1 || caption[0] is not JsonObject only || only.Count != 2 || BlockModel.Link(only) is not null) return null;
            captionText = BlockModel.Content(only);
        }
        if (captionText == BlockModel.RawMarkdownCaption) return content;

        string? info;
        if (captionText is null)
        {
            info = CodeLanguages.ToFenceName(body["language"]?.GetValue<string>() ?? CodeLanguages.PlainText);
        }
        else if (captionText.StartsWith(BlockModel.LanguageCaptionPrefix, StringComparison.Ordinal))
        {
            info = captionText[BlockModel.LanguageCaptionPrefix.Length..];
        }
        else
        {
            return null;
        }
        if (info is null || info.Contains('\n', StringComparison.Ordinal)) return null;

        var fenceChar = info.Contains('`', StringComparison.Ordinal) ? '~' : '`';
        var longest = LongestRun(content, fenceChar);
        var fence = new string(fenceChar, Math.Max(3, longest + 1));
        return content.Length == 0 ? fence + info + "\n" + fence : fence + info + "\n" + content + "\n" + fence;
    }

    public static int LongestRun(string text, char c)
    {
        int longest = 0, current = 0;
        foreach (var ch in text)
        {
            current = ch == c ? current + 1 : 0;
            longest = Math.Max(longest, current);
        }
        return longest;
    }

    private static string ListItem(string marker, string indent, JsonObject body, List<JsonObject> children, int level)
    {
        var text = RichTextWriter.Write(BlockModel.RichText(body), level, RichTextWriter.Context.Paragraph);
        var builder = new StringBuilder();
        builder.Append(text.Length == 0 ? marker.TrimEnd() : marker + Indent(text, indent, firstLine: false));
        if (children.Count > 0)
        {
            builder.Append(text.Length == 0 || IsListItem(children[0]) ? "\n" : "\n\n");
            builder.Append(Indent(WriteChildren(children, level), indent, firstLine: true));
        }
        return builder.ToString();
    }

    private static string Quote(string? kindLine, JsonObject body, List<JsonObject> children, int level)
    {
        var parts = new List<string>();
        var text = RichTextWriter.Write(BlockModel.RichText(body), level, RichTextWriter.Context.Paragraph);
        var inner = new StringBuilder(text);
        if (children.Count > 0)
        {
            if (text.Length > 0) inner.Append("\n\n");
            inner.Append(WriteChildren(children, level));
        }
        if (kindLine is not null) parts.Add(kindLine);
        if (inner.Length > 0) parts.AddRange(inner.ToString().Split('\n'));
        if (parts.Count == 0) return ">";
        return string.Join('\n', parts.Select(line => line.Length == 0 ? ">" : "> " + line));
    }

    private static string? Table(JsonObject body, List<JsonObject> rows, int level)
    {
        if (body["has_column_header"]?.GetValueKind() != System.Text.Json.JsonValueKind.True) return null;
        if (body["has_row_header"]?.GetValueKind() == System.Text.Json.JsonValueKind.True) return null;
        var width = body["table_width"]?.GetValue<int>() ?? 0;
        if (width < 1 || rows.Count == 0) return null;
        var lines = new List<string>();
        foreach (var row in rows)
        {
            var rowBody = BlockModel.Body(row);
            if (BlockModel.TypeOf(row) != "table_row" || rowBody.Count != 1 || rowBody["cells"] is not JsonArray cells || cells.Count != width) return null;
            var rendered = cells.Select(c => RichTextWriter.Write(c as JsonArray ?? [], level, RichTextWriter.Context.Table)).ToList();
            if (rendered.Any(c => c.Contains('\n', StringComparison.Ordinal))) return null;
            lines.Add("| " + string.Join(" | ", rendered) + " |");
            if (lines.Count == 1) lines.Add("|" + string.Concat(Enumerable.Repeat(" --- |", width)));
        }
        return string.Join('\n', lines);
    }

    /// <summary>Indents every non-empty line (the first one too when <paramref name="firstLine"/>).</summary>
    private static string Indent(string text, string indent, bool firstLine)
    {
        var lines = text.Split('\n');
        for (var i = firstLine ? 0 : 1; i < lines.Length; i++)
        {
            if (lines[i].Length > 0) lines[i] = indent + lines[i];
        }
        return string.Join('\n', lines);
    }
}
