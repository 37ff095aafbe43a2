using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Markdig;
using Markdig.Extensions.Alerts;
using Markdig.Extensions.Footnotes;
using Markdig.Extensions.Tables;
using Markdig.Extensions.TaskLists;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace EventSync.Connectors.Notion.Markdown;

/// <summary>Markdown -> Notion blocks, through Markdig's syntax tree.</summary>
internal static partial class MarkdownReader
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .UsePipeTables()
        .UseTaskLists()
        .UseEmphasisExtras(Markdig.Extensions.EmphasisExtras.EmphasisExtraOptions.Strikethrough)
        .UseAlertBlocks()
        .UseFootnotes()
        .UsePreciseSourceLocation()
        .Build();

    [GeneratedRegex(@"^<!-- notion:(\{.*\}) -->$", RegexOptions.Singleline)]
    private static partial Regex BlockComment();

    [GeneratedRegex(@"^<span data-notion='(\{[^']*\})'>$")]
    private static partial Regex SpanOpen();

    [GeneratedRegex(@"^<br\s*/?>$", RegexOptions.IgnoreCase)]
    private static partial Regex EmptyParagraph();

    /// <summary>Top-level blocks, each with the offset in <paramref name="markdown"/> where its source starts.</summary>
    public static List<(JsonObject Block, int Offset)> Read(string markdown)
    {
        var document = Markdig.Markdown.Parse(markdown, Pipeline);
        var reader = new Reader(markdown);
        var result = new List<(JsonObject, int)>();
        foreach (var block in document)
        {
            if (block is ListBlock list)
            {
                foreach (var item in list.OfType<ListItemBlock>()) result.Add((reader.ListItem(list, item), item.Span.Start));
            }
            else if (block is FootnoteGroup footnotes)
            {
                // Markdig gathers footnote definitions at the end; keep each verbatim, in source order.
                foreach (var footnote in footnotes.OrderBy(f => f.Span.Start)) result.Add((reader.Raw(footnote), footnote.Span.Start));
            }
            else if (block is LinkReferenceDefinitionGroup definitions)
            {
                foreach (var definition in Definitions(definitions)) result.Add((reader.Raw(definition), definition.Span.Start));
            }
            else
            {
                foreach (var converted in reader.Convert(block)) result.Add((converted, block.Span.Start));
            }
        }
        // Markdig moves footnotes and link definitions into groups; source order puts them back where they were.
        return result.Select((entry, index) => (entry, index)).OrderBy(p => p.entry.Item2).ThenBy(p => p.index).Select(p => p.entry).ToList();
    }

    /// <summary>
    /// Link reference definitions in source order. Markdig's group has no usable span of its own and also lists
    /// synthetic entries for footnotes, which are kept with the footnotes instead.
    /// </summary>
    private static IEnumerable<LinkReferenceDefinition> Definitions(LinkReferenceDefinitionGroup group) =>
        group.OfType<LinkReferenceDefinition>().Where(d => d is not FootnoteLinkReferenceDefinition).OrderBy(d => d.Span.Start);

    private sealed class Reader(string source)
    {
        public IEnumerable<JsonObject> Convert(Block block)
        {
            switch (block)
            {
                case ListBlock list:
                    foreach (var item in list.OfType<ListItemBlock>()) yield return ListItem(list, item);
                    break;
                case FootnoteGroup footnotes:
                    foreach (var footnote in footnotes.OrderBy(f => f.Span.Start)) yield return Raw(footnote);
                    break;
                case LinkReferenceDefinitionGroup definitions:
                    foreach (var definition in Definitions(definitions)) yield return Raw(definition);
                    break;
                default:
                    yield return ConvertSingle(block);
                    break;
            }
        }

        private JsonObject ConvertSingle(Block block)
        {
            switch (block)
            {
                case HeadingBlock { Level: >= 1 and <= 3 } heading:
                    return BlockModel.Block($"heading_{heading.Level}", new JsonObject { ["rich_text"] = Inlines(heading.Inline) });
                case ParagraphBlock paragraph:
                    return Paragraph(paragraph);
                case ThematicBreakBlock:
                    return BlockModel.Block("divider", []);
                case FencedCodeBlock fenced:
                    return Code(fenced, Info(fenced));
                case CodeBlock code:
                    return Code(code, "");
                case HtmlBlock html:
                    return Html(html);
                case AlertBlock alert:
                    return Callout(alert);
                case QuoteBlock quote:
                    return WithLeadingParagraph("quote", [], quote);
                case Table table:
                    return TableBlock(table);
                default:
                    return Raw(block);
            }
        }

        public JsonObject ListItem(ListBlock list, ListItemBlock item)
        {
            var type = list.IsOrdered ? "numbered_list_item" : "bulleted_list_item";
            var body = new JsonObject();
            if (item.Count > 0 && item[0] is ParagraphBlock first && first.Inline?.FirstChild is TaskList task)
            {
                type = "to_do";
                body["checked"] = task.Checked;
            }
            return WithLeadingParagraph(type, body, item);
        }

        /// <summary>A container whose first paragraph is the block's own text and whose other blocks are its children.</summary>
        private JsonObject WithLeadingParagraph(string type, JsonObject body, ContainerBlock container, Func<Inline?, Inline?>? skip = null)
        {
            var index = 0;
            JsonArray richText = [];
            if (container.Count > 0 && container[0] is ParagraphBlock paragraph)
            {
                var first = paragraph.Inline?.FirstChild;
                if (first is TaskList) first = SkipSpace(first.NextSibling);
                if (skip is not null) first = skip(first);
                richText = Inlines(first);
                index = 1;
            }
            var ordered = new JsonObject { ["rich_text"] = richText };
            foreach (var (key, value) in body) ordered[key] = value?.DeepClone();
            var children = new JsonArray();
            for (var i = index; i < container.Count; i++)
            {
                foreach (var child in Convert(container[i])) children.Add(child);
            }
            if (children.Count > 0) ordered["children"] = children;
            return BlockModel.Block(type, ordered);
        }

        private static Inline? SkipSpace(Inline? inline)
        {
            // The task marker's following space is kept in the literal that follows it.
            if (inline is LiteralInline literal && literal.Content.Length > 0 && literal.Content[literal.Content.Start] == ' ')
            {
                literal.Content = new Markdig.Helpers.StringSlice(literal.Content.Text, literal.Content.Start + 1, literal.Content.End);
            }
            return inline;
        }

        private JsonObject Callout(AlertBlock alert)
        {
            var kind = alert.Kind.ToString().ToUpperInvariant();
            var (emoji, color) = Callouts.ForKind(kind);
            var body = new JsonObject
            {
                ["icon"] = new JsonObject { ["type"] = "emoji", ["emoji"] = emoji },
                ["color"] = color,
            };
            // The kind marker sits alone on its line; the text starts after the line break.
            return WithLeadingParagraph("callout", body, alert, first => first is LineBreakInline ? first.NextSibling : first);
        }

        private JsonObject Paragraph(ParagraphBlock paragraph)
        {
            if (paragraph.Inline?.FirstChild is LinkInline { IsImage: true } image && image.NextSibling is null &&
                string.IsNullOrEmpty(image.Title) && !string.IsNullOrEmpty(image.Url))
            {
                var body = new JsonObject();
                var caption = Inlines(image.FirstChild);
                if (caption.Count > 0) body["caption"] = caption;
                body["type"] = "external";
                body["external"] = new JsonObject { ["url"] = image.Url };
                return BlockModel.Block("image", body);
            }
            return BlockModel.Block("paragraph", new JsonObject { ["rich_text"] = Inlines(paragraph.Inline) });
        }

        private static string Info(FencedCodeBlock fenced)
        {
            var info = fenced.Info ?? "";
            return string.IsNullOrEmpty(fenced.Arguments) ? info : info + " " + fenced.Arguments;
        }

        private static JsonObject Code(CodeBlock code, string info)
        {
            var content = CodeContent(code);
            var body = new JsonObject { ["rich_text"] = new JsonArray(TextElements(content)) };
            var language = info.Contains(' ', StringComparison.Ordinal) ? null : CodeLanguages.ToNotion(info);
            if (language is not null)
            {
                body["language"] = language;
            }
            else
            {
                var firstWord = info.Split(' ', 2)[0];
                body["language"] = CodeLanguages.ToNotion(firstWord) ?? CodeLanguages.PlainText;
                body["caption"] = new JsonArray(BlockModel.Text(BlockModel.LanguageCaptionPrefix + info));
            }
            return BlockModel.Block("code", body);
        }

        private static string CodeContent(LeafBlock block)
        {
            var lines = block.Lines;
            var builder = new StringBuilder();
            for (var i = 0; i < lines.Count; i++)
            {
                if (i > 0) builder.Append('\n');
                builder.Append(lines.Lines[i].Slice.ToString());
            }
            return builder.ToString();
        }

        private static JsonNode?[] TextElements(string content) =>
            content.Length == 0 ? [] : [BlockModel.Text(content)];

        private JsonObject Html(HtmlBlock html)
        {
            var content = CodeContent(html);
            var match = BlockComment().Match(content);
            if (match.Success)
            {
                try
                {
                    if (JsonNode.Parse(match.Groups[1].Value) is JsonObject block && block["type"] is not null) return block;
                }
                catch (System.Text.Json.JsonException)
                {
                    // Not ours after all: kept verbatim below.
                }
            }
            if (EmptyParagraph().IsMatch(content)) return BlockModel.Block("paragraph", new JsonObject { ["rich_text"] = new JsonArray() });
            return RawBlock(content);
        }

        private JsonObject TableBlock(Table table)
        {
            var rows = table.OfType<TableRow>().ToList();
            var width = rows.Count == 0 ? 0 : rows.Max(r => r.Count);
            var children = new JsonArray();
            foreach (var row in rows)
            {
                var cells = new JsonArray();
                foreach (var cell in row.OfType<TableCell>())
                {
                    var paragraph = cell.OfType<ParagraphBlock>().FirstOrDefault();
                    cells.Add(paragraph is null ? new JsonArray() : Inlines(paragraph.Inline));
                }
                while (cells.Count < width) cells.Add(new JsonArray());
                children.Add(BlockModel.Block("table_row", new JsonObject { ["cells"] = cells }));
            }
            return BlockModel.Block("table", new JsonObject
            {
                ["table_width"] = width,
                ["has_column_header"] = rows.Count > 0 && rows[0].IsHeader,
                ["has_row_header"] = false,
                ["children"] = children,
            });
        }

        public JsonObject Raw(Block block) => RawBlock(SourceOf(block));

        private static JsonObject RawBlock(string markdown) =>
            BlockModel.Block("code", new JsonObject
            {
                ["rich_text"] = new JsonArray(TextElements(markdown)),
                ["language"] = "markdown",
                ["caption"] = new JsonArray(BlockModel.Text(BlockModel.RawMarkdownCaption)),
            });

        /// <summary>The block's source text, with the indentation of its container taken off continuation lines.</summary>
        private string SourceOf(Block block)
        {
            var start = block.Span.Start;
            var end = block.Span.End;
            // Markdig leaves a footnote's own span unset; its definition starts at the beginning of its line.
            if (block is Footnote) start = end = LineStart(block.Line);
            if (block is ContainerBlock { Count: > 0 } container)
            {
                foreach (var child in container)
                {
                    if (child.Span.IsEmpty) continue;
                    start = Math.Min(start, child.Span.Start);
                    end = Math.Max(end, child.Span.End);
                }
            }
            start = Math.Clamp(start, 0, source.Length);
            end = Math.Clamp(end, start - 1, source.Length - 1);
            var text = source.Substring(start, end - start + 1).TrimEnd('\n');
            var lines = text.Split('\n');
            for (var i = 1; i < lines.Length; i++)
            {
                var strip = 0;
                while (strip < block.Column && strip < lines[i].Length && (lines[i][strip] is ' ' or '\t' or '>')) strip++;
                lines[i] = lines[i][strip..];
            }
            return string.Join('\n', lines);
        }

        private int LineStart(int line)
        {
            var offset = 0;
            for (var i = 0; i < line && offset < source.Length; i++)
            {
                var next = source.IndexOf('\n', offset);
                if (next < 0) return source.Length;
                offset = next + 1;
            }
            return offset;
        }

        private string SourceOf(Inline inline)
        {
            var span = inline.Span;
            if (span.IsEmpty || span.Start < 0 || span.End >= source.Length) return "";
            return source.Substring(span.Start, span.Length);
        }

        private JsonArray Inlines(ContainerInline? container) => Inlines(container?.FirstChild);

        private JsonArray Inlines(Inline? first)
        {
            var walker = new InlineWalker(this);
            walker.Walk(first, new Format());
            walker.Finish();
            return BlockModel.NormalizeRichText(new JsonArray(walker.Elements.Select(e => (JsonNode?)e).ToArray()));
        }

        private readonly record struct Format(bool Bold = false, bool Italic = false, bool Strike = false, bool Code = false, string? Link = null)
        {
            public JsonObject Annotations(string? color = null)
            {
                var annotations = new JsonObject();
                if (Bold) annotations["bold"] = true;
                if (Italic) annotations["italic"] = true;
                if (Strike) annotations["strikethrough"] = true;
                if (Code) annotations["code"] = true;
                if (color is not null) annotations["color"] = color;
                return annotations;
            }
        }

        private sealed class InlineWalker(Reader reader)
        {
            public List<JsonObject> Elements { get; } = [];
            private JsonObject? spanTemplate;
            private readonly StringBuilder spanText = new();

            public void Walk(Inline? first, Format format)
            {
                for (var inline = first; inline is not null; inline = inline.NextSibling)
                {
                    switch (inline)
                    {
                        case LiteralInline literal:
                            AddText(literal.Content.ToString(), format);
                            break;
                        case EmphasisInline emphasis when emphasis.DelimiterChar is '*' or '_' && emphasis.DelimiterCount is 1 or 2:
                            Walk(emphasis.FirstChild, emphasis.DelimiterCount == 2 ? format with { Bold = true } : format with { Italic = true });
                            break;
                        case EmphasisInline emphasis when emphasis.DelimiterChar == '~' && emphasis.DelimiterCount == 2:
                            Walk(emphasis.FirstChild, format with { Strike = true });
                            break;
                        case CodeInline code:
                            AddText(code.Content, format with { Code = true });
                            break;
                        case LineBreakInline:
                            AddText("\n", format);
                            break;
                        case HtmlEntityInline entity:
                            AddText(entity.Transcoded.ToString(), format);
                            break;
                        case AutolinkInline autolink:
                            AddText(autolink.Url, format with { Link = autolink.IsEmail ? "mailto:" + autolink.Url : autolink.Url });
                            break;
                        case LinkInline { IsImage: false } link when string.IsNullOrEmpty(link.Title) && !string.IsNullOrEmpty(link.Url) && format.Link is null:
                            Walk(link.FirstChild, format with { Link = link.Url });
                            break;
                        case HtmlInline html:
                            Html(html.Tag ?? "", format);
                            break;
                        default:
                            AddRaw(reader.SourceOf(inline), format);
                            break;
                    }
                }
            }

            private void Html(string tag, Format format)
            {
                var open = SpanOpen().Match(tag);
                if (open.Success)
                {
                    JsonObject? template = null;
                    try
                    {
                        template = JsonNode.Parse(open.Groups[1].Value) as JsonObject;
                    }
                    catch (System.Text.Json.JsonException)
                    {
                        template = null;
                    }
                    if (template is not null)
                    {
                        Finish();
                        spanTemplate = template;
                        return;
                    }
                }
                if (tag == "</span>" && spanTemplate is not null)
                {
                    Finish();
                    return;
                }
                AddRaw(tag, format);
            }

            /// <summary>Closes an open notion span: its JSON gives the element, the text between the tags its content.</summary>
            public void Finish()
            {
                if (spanTemplate is null) return;
                var element = spanTemplate;
                spanTemplate = null;
                if (BlockModel.IsPlainText(element))
                {
                    var text = element["text"] as JsonObject ?? [];
                    var rebuilt = new JsonObject { ["content"] = spanText.ToString() };
                    foreach (var (key, value) in text)
                    {
                        if (key != "content") rebuilt[key] = value?.DeepClone();
                    }
                    element["text"] = rebuilt;
                }
                spanText.Clear();
                Elements.Add(element);
            }

            private void AddText(string text, Format format)
            {
                if (text.Length == 0) return;
                if (spanTemplate is not null)
                {
                    spanText.Append(text);
                    return;
                }
                Elements.Add(BlockModel.Text(text, format.Annotations(), format.Link));
            }

            private void AddRaw(string markdown, Format format)
            {
                if (markdown.Length == 0) return;
                if (spanTemplate is not null)
                {
                    spanText.Append(markdown);
                    return;
                }
                Elements.Add(BlockModel.Text(markdown, (format with { Code = true }).Annotations(BlockModel.RawInlineColor), format.Link));
            }
        }
    }
}

/// <summary>GitHub alert kinds and the Notion callout icon and color each stands for.</summary>
internal static class Callouts
{
    public static readonly (string Kind, string Emoji, string Color)[] Kinds =
    [
        ("NOTE", "ℹ️", "blue_background"),
        ("TIP", "💡", "gray_background"),
        ("IMPORTANT", "❗", "purple_background"),
        ("WARNING", "⚠️", "yellow_background"),
        ("CAUTION", "🛑", "red_background"),
    ];

    public static (string Emoji, string Color) ForKind(string kind)
    {
        foreach (var entry in Kinds)
        {
            if (entry.Kind == kind) return (entry.Emoji, entry.Color);
        }
        return (Kinds[0].Emoji, Kinds[0].Color);
    }

    public static string? KindFor(string? emoji, string? color)
    {
        foreach (var entry in Kinds)
        {
            if (entry.Emoji == emoji && entry.Color == color) return entry.Kind;
        }
        return null;
    }
}
