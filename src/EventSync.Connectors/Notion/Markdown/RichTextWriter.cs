using System.Text;
using System.Text.Json.Nodes;

namespace EventSync.Connectors.Notion.Markdown;

/// <summary>Rich text -> inline markdown: emphasis delimiters opened and closed across runs, text escaped.</summary>
internal static class RichTextWriter
{
    public enum Context { Paragraph, Heading, Table }

    private enum Marker { Link, Bold, Italic, Strike }

    private enum Kind { Markdown, Raw, Span }

    public static string Write(JsonArray richText, int level, Context context)
    {
        var elements = BlockModel.NormalizeRichText(richText).OfType<JsonObject>().ToList();
        var kinds = elements.Select(e => KindOf(e, level)).ToList();
        var markers = elements.Select((e, i) => kinds[i] == Kind.Span ? [] : MarkersOf(e)).ToList();
        var output = new StringBuilder();
        var stack = new List<(Marker Marker, string? Url)>();
        for (var i = 0; i < elements.Count; i++)
        {
            var element = elements[i];
            var wanted = markers[i];
            // Close from the top of the stack down to the lowest marker this run does not carry.
            var keep = 0;
            while (keep < stack.Count && wanted.Contains(stack[keep])) keep++;
            while (stack.Count > keep)
            {
                output.Append(Closer(stack[^1]));
                stack.RemoveAt(stack.Count - 1);
            }
            // Open the missing ones, longest-lived outermost, so later runs can close them in order.
            var missing = wanted.Where(m => !stack.Contains(m))
                .OrderByDescending(m => RunLength(markers, i, m)).ThenBy(m => m.Marker).ToList();
            foreach (var marker in missing)
            {
                output.Append(Opener(marker));
                stack.Add(marker);
            }
            var isLast = i == elements.Count - 1;
            switch (kinds[i])
            {
                case Kind.Raw:
                    output.Append(BlockModel.Content(element));
                    break;
                case Kind.Span:
                    var template = (JsonObject)element.DeepClone();
                    var visible = BlockModel.IsPlainText(element) ? BlockModel.Content(element) : element["plain_text"]?.GetValue<string>() ?? "";
                    if (template["text"] is JsonObject text) text.Remove("content");
                    output.Append("<span data-notion='").Append(template.ToJsonString()).Append("'>");
                    AppendText(output, visible, isLast, context);
                    output.Append("</span>");
                    break;
                default:
                    if (element["annotations"]?["code"] is not null) AppendCode(output, BlockModel.Content(element));
                    else AppendText(output, BlockModel.Content(element), isLast, context);
                    break;
            }
        }
        while (stack.Count > 0)
        {
            output.Append(Closer(stack[^1]));
            stack.RemoveAt(stack.Count - 1);
        }
        return output.ToString();
    }

    private static Kind KindOf(JsonObject element, int level)
    {
        if (!BlockModel.IsPlainText(element)) return Kind.Span;
        var annotations = element["annotations"] as JsonObject;
        var color = annotations?["color"]?.GetValue<string>();
        var code = BlockModel.Flag(annotations, "code");
        if (BlockModel.Flag(annotations, "underline")) return Kind.Span;
        if (annotations is not null && annotations.Any(p => p.Key is not ("bold" or "italic" or "strikethrough" or "code" or "color"))) return Kind.Span;
        if (color is not null) return level == 0 && code && color == BlockModel.RawInlineColor ? Kind.Raw : Kind.Span;
        if (code && BlockModel.Content(element).Contains('\n', StringComparison.Ordinal)) return Kind.Span;
        if (level > 0 && (annotations is not null || BlockModel.Link(element) is not null)) return Kind.Span;
        return Kind.Markdown;
    }

    private static List<(Marker Marker, string? Url)> MarkersOf(JsonObject element)
    {
        var annotations = element["annotations"] as JsonObject;
        var result = new List<(Marker, string?)>();
        var link = BlockModel.Link(element);
        if (link is not null) result.Add((Marker.Link, link));
        if (BlockModel.Flag(annotations, "bold")) result.Add((Marker.Bold, null));
        if (BlockModel.Flag(annotations, "italic")) result.Add((Marker.Italic, null));
        if (BlockModel.Flag(annotations, "strikethrough")) result.Add((Marker.Strike, null));
        return result;
    }

    private static int RunLength(List<List<(Marker, string?)>> markers, int start, (Marker, string?) marker)
    {
        var length = 0;
        while (start + length < markers.Count && markers[start + length].Contains(marker)) length++;
        return length;
    }

    private static string Opener((Marker Marker, string? Url) marker) => marker.Marker switch
    {
        Marker.Link => "[",
        Marker.Bold => "**",
        Marker.Italic => "*",
        _ => "~~",
    };

    private static string Closer((Marker Marker, string? Url) marker) => marker.Marker switch
    {
        Marker.Link => "](" + Destination(marker.Url ?? "") + ")",
        Marker.Bold => "**",
        Marker.Italic => "*",
        _ => "~~",
    };

    /// <summary>A link destination: bare when it can be, in angle brackets when it holds spaces.</summary>
    public static string Destination(string url)
    {
        var builder = new StringBuilder();
        var angle = url.Length == 0 || url.Any(c => c is ' ' || char.IsControl(c));
        if (angle) builder.Append('<');
        for (var i = 0; i < url.Length; i++)
        {
            var c = url[i];
            if (c is '\\' or '<' or '>' || (!angle && c is '(' or ')') || (c == '&' && EntityFollows(url, i))) builder.Append('\\');
            builder.Append(c);
        }
        if (angle) builder.Append('>');
        return builder.ToString();
    }

    private static void AppendCode(StringBuilder output, string content)
    {
        var fence = new string('`', MarkdownWriter.LongestRun(content, '`') + 1);
        var pad = content.StartsWith('`') || content.EndsWith('`') ||
                  (content.Length > 1 && content[0] == ' ' && content[^1] == ' ' && content.Trim(' ').Length > 0);
        output.Append(fence);
        if (pad) output.Append(' ');
        output.Append(content);
        if (pad) output.Append(' ');
        output.Append(fence);
    }

    private static bool EntityFollows(string text, int ampersand)
    {
        var i = ampersand + 1;
        if (i < text.Length && text[i] == '#') i++;
        var start = i;
        while (i < text.Length && char.IsAsciiLetterOrDigit(text[i])) i++;
        return i > start && i < text.Length && text[i] == ';';
    }

    /// <summary>
    /// Escapes text so Markdig reads back exactly these characters: punctuation that would start inline syntax,
    /// characters that would start a block at the beginning of a line, and whitespace at line edges (kept as an
    /// entity because a parser strips it).
    /// </summary>
    private static void AppendText(StringBuilder output, string text, bool lastRun, Context context)
    {
        var lineStart = output.Length == 0 || output[^1] == '\n';
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n')
            {
                output.Append('\n');
                // An empty line would end the paragraph: a backslash hard break keeps it a line of its own.
                if (i + 1 < text.Length && text[i + 1] == '\n') output.Append('\\');
                lineStart = true;
                continue;
            }
            var atLineEnd = i + 1 == text.Length ? lastRun : text[i + 1] == '\n';
            if (c is ' ' or '\t' && (lineStart || atLineEnd))
            {
                output.Append(c == ' ' ? "&#32;" : "&#9;");
                lineStart = false;
                continue;
            }
            // Only paragraph-like text has line starts of its own; heading and cell text follows the markers.
            if (lineStart && context == Context.Paragraph)
            {
                lineStart = false;
                var next = i + 1 < text.Length ? text[i + 1] : '\n';
                var blockStart = c switch
                {
                    '>' => true,
                    '#' or '+' => next is ' ' or '\t' or '\n' || (c == '#' && next == '#'),
                    '-' or '=' => next is ' ' or '\t' or '\n' or '-' or '=',
                    _ => false,
                };
                if (blockStart)
                {
                    output.Append('\\').Append(c);
                    continue;
                }
                if (char.IsAsciiDigit(c))
                {
                    var end = i;
                    while (end < text.Length && end - i < 10 && char.IsAsciiDigit(text[end])) end++;
                    output.Append(text, i, end - i);
                    var after = end + 1 < text.Length ? text[end + 1] : '\n';
                    if (end < text.Length && text[end] is '.' or ')' && after is ' ' or '\t' or '\n')
                    {
                        output.Append('\\').Append(text[end]);
                        end++;
                    }
                    i = end - 1;
                    continue;
                }
            }
            lineStart = false;
            switch (c)
            {
                case '\\' or '*' or '`' or '[' or ']' or '~' or '|':
                    output.Append('\\').Append(c);
                    break;
                case '_':
                    var before = i > 0 ? text[i - 1] : '\0';
                    var after = i + 1 < text.Length ? text[i + 1] : '\0';
                    if (!(char.IsLetterOrDigit(before) && char.IsLetterOrDigit(after))) output.Append('\\');
                    output.Append(c);
                    break;
                case '<':
                    var next = i + 1 < text.Length ? text[i + 1] : '\0';
                    if (next == '\0' || char.IsAsciiLetter(next) || next is '/' or '!' or '?') output.Append('\\');
                    output.Append(c);
                    break;
                case '&':
                    if (EntityFollows(text, i)) output.Append('\\');
                    output.Append(c);
                    break;
                case '#' when context == Context.Heading && i == text.Length - 1 && lastRun:
                    output.Append("\\#");
                    break;
                default:
                    output.Append(c);
                    break;
            }
        }
    }
}
