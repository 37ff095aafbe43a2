using System.Text;
using System.Text.Json.Nodes;

namespace EventSync.Connectors.Notion.Markdown;

/// <summary>
/// Converts markdown documents to Notion blocks and back, losing nothing in either direction.
/// <para><b>Mapping.</b> <c>#</c>, <c>##</c>, <c>###</c> ↔ heading_1..3; paragraphs ↔ paragraph;
/// <c>**bold**</c>, <c>*italic*</c>, <c>~~strike~~</c>, <c>`code`</c>, <c>[text](url)</c> ↔ rich-text annotations
/// and text.link; <c>-</c> ↔ bulleted_list_item, <c>1.</c> ↔ numbered_list_item, <c>- [ ]</c>/<c>- [x]</c> ↔ to_do,
/// nested to any depth through <c>T.children</c>; fenced code ↔ code (fence names map to Notion's language enum,
/// e.g. csharp/cs/c# → "c#", js → "javascript", no name → "plain text"; an info string Notion cannot hold is
/// kept in the caption as <c>language: INFO</c> and written back as the fence's info string); <c>&gt;</c> ↔
/// quote (first paragraph = its text, the rest = children); GitHub alerts <c>&gt; [!NOTE]</c>, <c>[!TIP]</c>,
/// <c>[!IMPORTANT]</c>, <c>[!WARNING]</c>, <c>[!CAUTION]</c> ↔ callout with icon ℹ️/blue_background,
/// 💡/gray_background (Notion's default callout), ❗/purple_background, ⚠️/yellow_background,
/// 🛑/red_background; <c>---</c> ↔ divider; GFM pipe tables ↔ table with has_column_header and table_row
/// children (alignment is not kept); a paragraph that is only <c>![alt](url)</c> ↔ image {type: external} with
/// the alt text as caption; a line <c>&lt;br&gt;</c> ↔ an empty paragraph.</para>
/// <para><b>Kept verbatim.</b> Markdown the blocks cannot express (headings 4-6, HTML blocks, footnote
/// definitions, link reference definitions, anything else Markdig parses and this class does not map) becomes a
/// code block with language "markdown" and caption <c>eventsync:raw-markdown</c> holding the exact source,
/// written back unchanged. Such inline markdown (inline HTML, footnote references, images inside text, links with
/// a title) becomes a rich-text run with code and color "red" holding the exact source, written back unchanged.
/// Notion blocks with no markdown form (toggle, bookmark, embed, equation, column_list, child_page, synced_block,
/// unknown types, colored or toggleable headings, paragraphs with children, tables without a column header,
/// code with another caption, ...) are written as <c>&lt;!-- notion:{compact JSON of the normalized block} --&gt;</c>
/// on a line of its own, children included, and read back into the same block. A rich-text run markdown cannot
/// express (underline, color, mentions, equations, code spanning lines) is written as
/// <c>&lt;span data-notion='{its JSON without text.content}'&gt;text&lt;/span&gt;</c>.</para>
/// <para><b>Canonical form</b> (what <see cref="ToMarkdown"/> writes): ATX headings; <c>-</c> bullets;
/// ordered items numbered 1., 2., 3. within each list; children indented to the item's content column (2 spaces
/// under <c>-</c> and <c>- [ ]</c>, 3 under <c>1.</c>); <c>**bold**</c>, <c>*italic*</c>, <c>~~strike~~</c>; fenced
/// code with backticks (at least three); one blank line between blocks, none between items of a list; quotes with
/// <c>&gt; </c> on every line; tables as <c>| a | b |</c> with a <c>| --- |</c> delimiter row; a soft line break
/// inside a paragraph stands for a newline in the text (hard breaks read as one too); <c>\n</c> line ends and a
/// trailing newline. Text is escaped minimally: <c>\ * ` [ ] ~ |</c> always, <c>_</c> unless inside a word,
/// <c>&lt;</c> before a letter, <c>&amp;</c> before an entity, <c># &gt; - + =</c> and <c>1.</c> at the start of a
/// line, and spaces at line edges as <c>&amp;#32;</c>.</para>
/// <para><b>Guarantees.</b> <see cref="ToMarkdown"/> checks its own output: it parses what it wrote and, for any
/// top-level block that does not read back as the same block, falls back to spans and then to the JSON comment.
/// So blocks → markdown → blocks gives equal blocks (as compared by <see cref="Normalize"/>) and
/// <see cref="Canonicalize"/> is idempotent for any input. <see cref="ToBlocks"/> output respects the API's size
/// limits (text.content ≤ 2000 characters, split into several runs; ≤ 100 rich-text elements, split into several
/// paragraphs).</para>
/// </summary>
public static class NotionMarkdown
{
    /// <summary>
    /// Markdown body (no front matter) -> Notion block objects in the shape the API accepts for POST /v1/pages
    /// "children" and PATCH /v1/blocks/{id}/children. Nested blocks are in T.children at any depth.
    /// </summary>
    public static IReadOnlyList<JsonObject> ToBlocks(string markdown) =>
        BlockModel.EnforceLimits(MarkdownReader.Read(NormalizeLineEnds(markdown)).Select(b => b.Block));

    /// <summary>
    /// Blocks as read from the API (children attached in T.children) -> canonical markdown. Extra fields of read
    /// blocks (ids, timestamps, plain_text, href, default annotations) are ignored.
    /// </summary>
    public static string ToMarkdown(IReadOnlyList<JsonObject> blocks)
    {
        var normalized = BlockModel.EnforceLimits(blocks.Select(BlockModel.NormalizeBlock))
            .Select(BlockModel.NormalizeBlock).ToList();
        var levels = new int[normalized.Count];
        var markdown = Render(normalized, levels, out var offsets);
        // Levels only rise, at most JsonLevel times per block, so this bound is never the reason to stop.
        var maxPasses = (normalized.Count * MarkdownWriter.JsonLevel) + 1;
        for (var pass = 0; pass < maxPasses; pass++)
        {
            var mismatched = Mismatches(normalized, markdown, offsets);
            if (mismatched.Count == 0) return markdown;
            foreach (var index in mismatched) levels[index] = Math.Min(MarkdownWriter.JsonLevel, levels[index] + 1);
            markdown = Render(normalized, levels, out offsets);
        }
        return markdown;
    }

    /// <summary>ToMarkdown(ToBlocks(markdown)): the form a document takes after a trip through Notion. Idempotent.</summary>
    public static string Canonicalize(string markdown) => ToMarkdown(ToBlocks(markdown));

    /// <summary>
    /// Blocks as they are compared: without ids, timestamps, has_children, plain_text of text runs, href, default
    /// annotations and colors; adjacent runs of the same format joined; whitespace at the edges of bold, italic
    /// and struck runs unformatted.
    /// </summary>
    public static IReadOnlyList<JsonObject> Normalize(IReadOnlyList<JsonObject> blocks) =>
        blocks.Select(BlockModel.NormalizeBlock).ToList();

    private static string NormalizeLineEnds(string markdown) =>
        markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');

    private static string Render(List<JsonObject> blocks, int[] levels, out int[] offsets)
    {
        var chunks = MarkdownWriter.WriteSiblings(blocks, i => levels[i]);
        offsets = new int[chunks.Count];
        var builder = new StringBuilder();
        for (var i = 0; i < chunks.Count; i++)
        {
            if (i > 0) builder.Append(MarkdownWriter.Separator(blocks[i - 1], blocks[i]));
            offsets[i] = builder.Length;
            builder.Append(chunks[i]);
        }
        if (builder.Length > 0) builder.Append('\n');
        return builder.ToString();
    }

    /// <summary>
    /// Indexes of blocks that do not read back as themselves. A block whose source was swallowed by a broken
    /// predecessor (it read back as nothing, right after a mismatch) is not blamed.
    /// </summary>
    private static List<int> Mismatches(List<JsonObject> expected, string markdown, int[] offsets)
    {
        var groups = new List<JsonObject>[expected.Count];
        for (var i = 0; i < groups.Length; i++) groups[i] = [];
        foreach (var (block, offset) in MarkdownReader.Read(markdown))
        {
            var index = Array.BinarySearch(offsets, offset);
            if (index < 0) index = Math.Max(0, ~index - 1);
            if (index < groups.Length) groups[index].AddRange(BlockModel.EnforceLimits([block]));
        }
        var result = new List<int>();
        var previousMismatched = false;
        for (var i = 0; i < expected.Count; i++)
        {
            var actual = groups[i].Select(BlockModel.NormalizeBlock).ToList();
            var same = actual.Count == 1 && JsonNode.DeepEquals(actual[0], expected[i]);
            if (!same && (groups[i].Count > 0 || !previousMismatched)) result.Add(i);
            previousMismatched = !same;
        }
        return result;
    }
}
