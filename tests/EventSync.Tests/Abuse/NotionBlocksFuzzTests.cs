using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;
using Md = EventSync.Connectors.Notion.Markdown.NotionMarkdown;

namespace EventSync.Tests.Abuse;

/// <summary>
/// The other direction of the converter fuzz (NotionMarkdown/FuzzTests goes markdown → blocks): random Notion blocks,
/// including types and annotations markdown cannot express and hostile text, → markdown must never throw, must come
/// back as the same blocks, and must already be canonical. Raw character soup as markdown must never throw either.
/// </summary>
public sealed class NotionBlocksFuzzTests(ITestOutputHelper output)
{
    private static readonly int Count = AbuseReport.FuzzCount(300);

    private static readonly string[] Types =
        ["paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item", "numbered_list_item", "to_do", "quote", "code", "divider", "callout", "toggle", "equation", "bookmark", "unsupported_kind"];

    private static readonly string[] Soup =
        ["*", "_", "`", "#", ">", "-", "+", "1.", "|", "[", "]", "(", ")", "!", "<", ">", "&", "\\", "~", "<!--", "-->", "```", "\n", "\n\n", "  ", "\t", "a", "word", "é", "🚀", "\u200b", "\u0000", "\r", "notion:", "eventsync:raw-markdown", "{\"x\":1}"];

    private static string Text(Random random)
    {
        var sb = new StringBuilder();
        for (var n = random.Next(1, 8); n > 0; n--) sb.Append(Soup[random.Next(Soup.Length)]);
        return sb.ToString();
    }

    private static JsonArray RichText(Random random)
    {
        var runs = new JsonArray();
        for (var n = random.Next(1, 4); n > 0; n--)
        {
            var run = new JsonObject { ["type"] = "text", ["text"] = new JsonObject { ["content"] = Text(random), ["link"] = random.Next(6) == 0 ? new JsonObject { ["url"] = "https://x.test/" + random.Next(9) } : null } };
            if (random.Next(2) == 0)
                run["annotations"] = new JsonObject
                {
                    ["bold"] = random.Next(3) == 0, ["italic"] = random.Next(3) == 0, ["strikethrough"] = random.Next(4) == 0,
                    ["underline"] = random.Next(5) == 0, ["code"] = random.Next(5) == 0, ["color"] = random.Next(5) == 0 ? "red" : "default",
                };
            runs.Add(run);
        }
        return runs;
    }

    private static JsonObject Block(Random random, int depth)
    {
        var type = Types[random.Next(Types.Length)];
        var body = type switch
        {
            "divider" => new JsonObject(),
            "code" => new JsonObject { ["rich_text"] = RichText(random), ["language"] = random.Next(3) == 0 ? "not a language" : "python" },
            "to_do" => new JsonObject { ["rich_text"] = RichText(random), ["checked"] = random.Next(2) == 0 },
            "equation" => new JsonObject { ["expression"] = Text(random) },
            "bookmark" => new JsonObject { ["url"] = "https://b.test/" + random.Next(99), ["caption"] = new JsonArray() },
            "unsupported_kind" => new JsonObject { ["whatever"] = Text(random) },
            _ => new JsonObject { ["rich_text"] = RichText(random) },
        };
        if (depth < 2 && type is "bulleted_list_item" or "numbered_list_item" or "toggle" or "to_do" or "quote" or "callout" && random.Next(3) == 0)
            body["children"] = new JsonArray(Enumerable.Range(0, random.Next(1, 3)).Select(_ => (JsonNode)Block(random, depth + 1)).ToArray());
        return new JsonObject { ["object"] = "block", ["type"] = type, [type] = body };
    }

    private static string Json(IEnumerable<JsonObject> blocks) => new JsonArray(blocks.Select(b => (JsonNode?)b.DeepClone()).ToArray()).ToJsonString();

    [Fact]
    public void Random_blocks_convert_to_canonical_markdown_and_back_unchanged()
    {
        var random = new Random(AbuseSeed.Value);
        var passed = 0;
        for (var i = 0; i < Count; i++)
        {
            var blocks = Enumerable.Range(0, random.Next(1, 8)).Select(_ => Block(random, 0)).ToList();
            var context = $"document {i} (seed {AbuseSeed.Value}): {Json(blocks)}";
            string markdown;
            try
            {
                markdown = Md.ToMarkdown(blocks);
            }
            catch (Exception ex)
            {
                AbuseReport.Record("fuzz_blocks_to_markdown", i + 1, passed);
                Assert.Fail($"{ex.GetType().Name}: {ex.Message}\n{context}");
                return;
            }
            var back = Md.ToBlocks(markdown);
            var sameBlocks = Json(Md.Normalize(back)) == Json(Md.Normalize(blocks));
            var canonical = Md.Canonicalize(markdown) == markdown;
            if (!sameBlocks || !canonical)
            {
                AbuseReport.Record("fuzz_blocks_to_markdown", i + 1, passed);
                Assert.Fail($"{(canonical ? "" : "not canonical; ")}{(sameBlocks ? "" : "blocks changed; ")}\n--- markdown:\n{markdown}\n--- {context}");
            }
            passed++;
        }
        AbuseReport.Record("fuzz_blocks_to_markdown", Count, passed);
        output.WriteLine($"{Count} random block documents round-tripped (seed {AbuseSeed.Value})");
    }

    [Fact]
    public void Markdown_character_soup_never_throws_and_canonicalizes_idempotently()
    {
        var random = new Random(AbuseSeed.Value + 1);
        var passed = 0;
        for (var i = 0; i < Count; i++)
        {
            var sb = new StringBuilder();
            for (var n = random.Next(1, 60); n > 0; n--) sb.Append(Soup[random.Next(Soup.Length)]);
            var markdown = sb.ToString();
            string canonical;
            try
            {
                canonical = Md.Canonicalize(markdown);
            }
            catch (Exception ex)
            {
                AbuseReport.Record("fuzz_markdown_soup", i + 1, passed);
                Assert.Fail($"{ex.GetType().Name}: {ex.Message}\ncase {i} (seed {AbuseSeed.Value}): {System.Text.Json.JsonSerializer.Serialize(markdown)}");
                return;
            }
            if (Md.Canonicalize(canonical) != canonical)
            {
                AbuseReport.Record("fuzz_markdown_soup", i + 1, passed);
                Assert.Fail($"not idempotent, case {i} (seed {AbuseSeed.Value}): {System.Text.Json.JsonSerializer.Serialize(markdown)}\n--- canonical:\n{canonical}");
            }
            passed++;
        }
        AbuseReport.Record("fuzz_markdown_soup", Count, passed);
        output.WriteLine($"{Count} markdown soups canonicalized (seed {AbuseSeed.Value})");
    }
}
