using System.Text;
using System.Text.Json.Nodes;

namespace EventSync.Connectors.Notion;

/// <summary>Writing block trees of any size within Notion's per-request limits.</summary>
public sealed partial class NotionClient
{
    public const int MaxChildrenPerRequest = 100;
    public const int MaxBlocksPerRequest = 1000;
    public const int MaxTextLength = 2000;
    public const int MaxRichTextItems = 100;

    /// <summary>Block JSON per request, well under Notion's 500 KB so the envelope and properties never tip it over.</summary>
    private const int ByteBudget = 400_000;

    /// <summary>A block ready to send: its type object without children, text already split, and its prepared children.</summary>
    private sealed class PreparedBlock(string type, JsonObject payload, List<PreparedBlock> children)
    {
        public List<PreparedBlock> Children => children;
        public int Size { get; } = Encoding.UTF8.GetByteCount(payload.ToJsonString()) + (2 * type.Length) + 40;
        public bool IsLeaf => children.Count == 0;

        /// <summary>
        /// Children travel in the same request (the second of Notion's two levels) only when they are leaves and fit: then
        /// no id of theirs is needed. Deeper content is appended afterwards to the ids the API returns.
        /// </summary>
        public bool InlinesChildren => children.Count is > 0 and <= MaxChildrenPerRequest && children.TrueForAll(c => c.IsLeaf)
            && 1 + children.Count <= MaxBlocksPerRequest && Bytes(true) <= ByteBudget;

        public int Elements(bool inline) => 1 + (inline ? children.Count : 0);
        public long Bytes(bool inline) => Size + (inline ? children.Sum(c => (long)c.Size) : 0);

        public JsonObject Wire(bool inlineChildren)
        {
            var body = (JsonObject)payload.DeepClone();
            if (inlineChildren && children.Count > 0) body["children"] = new JsonArray(children.Select(c => (JsonNode)c.Wire(false)).ToArray());
            return new JsonObject { ["object"] = "block", ["type"] = type, [type] = body };
        }
    }

    /// <summary>Appends <paramref name="blocks"/> under <paramref name="parentId"/>, batch by batch, then each block's deeper content.</summary>
    private async Task WriteChildrenAsync(string parentId, List<PreparedBlock> blocks, CancellationToken ct)
    {
        var next = 0;
        while (next < blocks.Count)
        {
            var batch = new List<(PreparedBlock Block, bool Inline)>();
            long elements = 0, bytes = 0;
            while (next < blocks.Count && batch.Count < MaxChildrenPerRequest)
            {
                var block = blocks[next];
                var inline = block.InlinesChildren;
                if (batch.Count > 0 && (elements + block.Elements(inline) > MaxBlocksPerRequest || bytes + block.Bytes(inline) > ByteBudget)) break;
                batch.Add((block, inline));
                elements += block.Elements(inline);
                bytes += block.Bytes(inline);
                next++;
            }
            var body = new JsonObject { ["children"] = new JsonArray(batch.Select(b => (JsonNode)b.Block.Wire(b.Inline)).ToArray()) };
            var answer = (await SendAsync(HttpMethod.Patch, $"v1/blocks/{parentId}/children", body, Safe.No, ct))!;
            var created = Results(answer);
            if (created.Count != batch.Count) throw Unexpected($"appending {batch.Count} blocks returned {created.Count}");
            for (var i = 0; i < batch.Count; i++)
                if (!batch[i].Inline && !batch[i].Block.IsLeaf) await WriteChildrenAsync(Id(created[i]), batch[i].Block.Children, ct);
        }
    }

    /// <summary>How many leading blocks can travel with a page create (complete within two levels, within the limits).</summary>
    private static int InlinePrefix(List<PreparedBlock> blocks)
    {
        long elements = 0, bytes = 0;
        var count = 0;
        foreach (var block in blocks)
        {
            if (!block.IsLeaf && !block.InlinesChildren) break;
            if (count + 1 > MaxChildrenPerRequest || elements + block.Elements(true) > MaxBlocksPerRequest || bytes + block.Bytes(true) > ByteBudget) break;
            elements += block.Elements(true);
            bytes += block.Bytes(true);
            count++;
        }
        return count;
    }

    /// <summary>
    /// Accepts blocks in the write shape or as read by <see cref="GetBlocksAsync"/> (ids and metadata are ignored), splits
    /// rich-text content over 2000 characters into several objects, and continues a block whose rich text exceeds 100
    /// objects in further blocks of the same type.
    /// </summary>
    private static List<PreparedBlock> Prepare(IEnumerable<JsonObject> blocks)
    {
        var result = new List<PreparedBlock>();
        foreach (var block in blocks)
        {
            ArgumentNullException.ThrowIfNull(block);
            var type = block["type"]?.GetValue<string>()
                ?? block.Where(p => p.Value is JsonObject && p.Key is not ("parent" or "created_by" or "last_edited_by")).Select(p => p.Key).FirstOrDefault()
                ?? throw new ArgumentException("a block needs a type: {\"type\": \"paragraph\", \"paragraph\": {...}}", nameof(blocks));
            if (block[type] is not JsonObject payload) throw new ArgumentException($"a {type} block needs a \"{type}\" object", nameof(blocks));

            var copy = new JsonObject();
            JsonArray? nested = null;
            foreach (var (key, value) in payload)
            {
                if (key == "children") nested = value as JsonArray;
                else copy[key] = value?.DeepClone();
            }
            foreach (var key in new[] { "rich_text", "caption" })
                if (copy[key] is JsonArray text) copy[key] = SplitRichText(text);
            if (copy["cells"] is JsonArray cells)
                copy["cells"] = new JsonArray(cells.Select(c => (JsonNode)(c is JsonArray cell ? SplitRichText(cell) : new JsonArray())).ToArray());
            var children = nested is null ? [] : Prepare(nested.OfType<JsonObject>());

            if (copy["rich_text"] is JsonArray { Count: > MaxRichTextItems } long_)
            {
                var parts = long_.Chunk(MaxRichTextItems).ToList();
                for (var i = 0; i < parts.Count; i++)
                {
                    var part = (JsonObject)copy.DeepClone();
                    part["rich_text"] = new JsonArray(parts[i].Select(n => n!.DeepClone()).ToArray());
                    result.Add(new PreparedBlock(type, part, i == 0 ? children : []));
                }
            }
            else result.Add(new PreparedBlock(type, copy, children));
        }
        return result;
    }

    /// <summary>Splits every text object whose content exceeds 2000 characters into several with the same annotations and link.</summary>
    private static JsonArray SplitRichText(JsonArray items)
    {
        var result = new JsonArray();
        foreach (var item in items)
        {
            if (item is JsonObject o && o["type"]?.GetValue<string>() is null or "text" && o["text"]?["content"] is JsonValue cv
                && cv.TryGetValue<string>(out var content) && content.Length > MaxTextLength)
            {
                foreach (var piece in Pieces(content))
                {
                    var copy = (JsonObject)o.DeepClone();
                    copy["text"]!["content"] = piece;
                    if (copy["plain_text"] is not null) copy["plain_text"] = piece;
                    result.Add(copy);
                }
            }
            else result.Add(item?.DeepClone());
        }
        return result;
    }

    /// <summary>Pieces of at most 2000 UTF-16 units (Notion counts like JavaScript), never cutting a surrogate pair.</summary>
    private static IEnumerable<string> Pieces(string text)
    {
        var start = 0;
        while (start < text.Length)
        {
            var length = Math.Min(MaxTextLength, text.Length - start);
            if (start + length < text.Length && char.IsHighSurrogate(text[start + length - 1])) length--;
            yield return text.Substring(start, length);
            start += length;
        }
    }

    /// <summary>Property values with long title / rich_text content split like block text.</summary>
    private static JsonObject SplitPropertyText(JsonObject properties)
    {
        var result = new JsonObject();
        foreach (var (name, value) in properties)
        {
            if (value is JsonObject property)
            {
                var copy = (JsonObject)property.DeepClone();
                foreach (var key in new[] { "title", "rich_text" })
                    if (copy[key] is JsonArray text) copy[key] = SplitRichText(text);
                result[name] = copy;
            }
            else result[name] = value?.DeepClone();
        }
        return result;
    }
}
