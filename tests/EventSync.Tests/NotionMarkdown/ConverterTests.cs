using System.Text.Json.Nodes;
using Md = EventSync.Connectors.Notion.Markdown.NotionMarkdown;

namespace EventSync.Tests.NotionMarkdown;

public sealed class ConverterTests
{
    private static JsonObject Single(string markdown)
    {
        var blocks = Md.ToBlocks(markdown);
        Assert.Single(blocks);
        return blocks[0];
    }

    private static JsonArray RichText(JsonObject block) => (JsonArray)block[block["type"]!.GetValue<string>()]!["rich_text"]!;

    private static void AssertRoundTrip(string markdown) => Assert.Equal(markdown, Md.Canonicalize(markdown));

    /// <summary>blocks -> markdown -> blocks gives the same blocks once both sides are normalized.</summary>
    private static string AssertBlocksRoundTrip(params JsonObject[] blocks)
    {
        var markdown = Md.ToMarkdown(blocks);
        var back = Md.ToBlocks(markdown);
        Assert.Equal(Json(Md.Normalize(blocks)), Json(Md.Normalize(back)));
        return markdown;
    }

    private static string Json(IEnumerable<JsonObject> blocks) => new JsonArray(blocks.Select(b => (JsonNode?)b.DeepClone()).ToArray()).ToJsonString();

    [Theory]
    [InlineData("# One\n", "heading_1")]
    [InlineData("## Two\n", "heading_2")]
    [InlineData("### Three\n", "heading_3")]
    [InlineData("Plain text.\n", "paragraph")]
    [InlineData("---\n", "divider")]
    [InlineData("> Quoted.\n", "quote")]
    [InlineData("- item\n", "bulleted_list_item")]
    [InlineData("1. item\n", "numbered_list_item")]
    [InlineData("- [ ] task\n", "to_do")]
    public void Maps_each_supported_block_and_writes_it_back(string markdown, string type)
    {
        Assert.Equal(type, Single(markdown)["type"]!.GetValue<string>());
        AssertRoundTrip(markdown);
    }

    [Fact]
    public void Inline_formatting_becomes_annotations_and_links()
    {
        var text = RichText(Single("a **b** *c* ~~d~~ `e` [f](https://x.test/f)\n"));
        JsonObject Run(string content) => text.OfType<JsonObject>().Single(e => e["text"]!["content"]!.GetValue<string>() == content);
        Assert.True(Run("b")["annotations"]!["bold"]!.GetValue<bool>());
        Assert.True(Run("c")["annotations"]!["italic"]!.GetValue<bool>());
        Assert.True(Run("d")["annotations"]!["strikethrough"]!.GetValue<bool>());
        Assert.True(Run("e")["annotations"]!["code"]!.GetValue<bool>());
        Assert.Equal("https://x.test/f", Run("f")["text"]!["link"]!["url"]!.GetValue<string>());
        AssertRoundTrip("a **b** *c* ~~d~~ `e` [f](https://x.test/f)\n");
    }

    [Fact]
    public void Non_canonical_markdown_is_canonicalized_idempotently()
    {
        var canonical = Md.Canonicalize("Title\n=====\n\n* a\n+ b\n\n__bold__ _it_\n\n3) x\n4) y\n\n***\n");
        Assert.Equal("# Title\n\n- a\n- b\n\n**bold** *it*\n\n1. x\n2. y\n\n---\n", canonical);
        Assert.Equal(canonical, Md.Canonicalize(canonical));
    }

    [Fact]
    public void Nested_lists_and_todos_keep_their_depth()
    {
        const string markdown = "- a\n  - b\n    - [x] c\n      1. d\n- e\n";
        var top = Md.ToBlocks(markdown);
        Assert.Equal(2, top.Count);
        var b = (JsonObject)top[0]["bulleted_list_item"]!["children"]![0]!;
        var c = (JsonObject)b["bulleted_list_item"]!["children"]![0]!;
        Assert.Equal("to_do", c["type"]!.GetValue<string>());
        Assert.True(c["to_do"]!["checked"]!.GetValue<bool>());
        Assert.Equal("numbered_list_item", c["to_do"]!["children"]![0]!["type"]!.GetValue<string>());
        AssertRoundTrip(markdown);
    }

    [Theory]
    [InlineData("csharp", "c#", "csharp")]
    [InlineData("cs", "c#", "csharp")]
    [InlineData("js", "javascript", "javascript")]
    [InlineData("ts", "typescript", "typescript")]
    [InlineData("sh", "bash", "bash")]
    [InlineData("yml", "yaml", "yaml")]
    [InlineData("", "plain text", "")]
    public void Fence_names_map_to_notion_languages(string fence, string language, string canonicalFence)
    {
        var block = Single($"```{fence}\nx = 1\n```\n");
        Assert.Equal(language, block["code"]!["language"]!.GetValue<string>());
        Assert.Null(block["code"]!["caption"]);
        Assert.Equal($"```{canonicalFence}\nx = 1\n```\n", Md.Canonicalize($"```{fence}\nx = 1\n```\n"));
    }

    [Fact]
    public void A_language_notion_lacks_is_kept_in_the_caption()
    {
        const string markdown = "```terraform\nresource \"x\" \"y\" {}\n```\n";
        var block = Single(markdown);
        Assert.Equal("plain text", block["code"]!["language"]!.GetValue<string>());
        Assert.Equal("language: terraform", block["code"]!["caption"]![0]!["text"]!["content"]!.GetValue<string>());
        AssertRoundTrip(markdown);
        AssertRoundTrip("```python title=\"x.py\"\nprint(1)\n```\n");
    }

    [Fact]
    public void Code_containing_fences_gets_a_longer_fence()
    {
        AssertRoundTrip("````markdown\n```js\nx\n```\n````\n");
    }

    [Fact]
    public void Github_alerts_are_callouts()
    {
        const string markdown = "> [!WARNING]\n> Do not run this in production.\n>\n> - really\n";
        var block = Single(markdown);
        Assert.Equal("callout", block["type"]!.GetValue<string>());
        Assert.Equal("⚠️", block["callout"]!["icon"]!["emoji"]!.GetValue<string>());
        Assert.Equal("Do not run this in production.", RichText(block)[0]!["text"]!["content"]!.GetValue<string>());
        Assert.Single(block["callout"]!["children"]!.AsArray());
        AssertRoundTrip(markdown);
    }

    [Fact]
    public void Pipe_tables_are_tables_with_a_column_header()
    {
        const string markdown = "| Name | Type |\n| --- | --- |\n| `id` | **uuid** |\n| a \\| b |  |\n";
        var table = Single(markdown);
        Assert.Equal(2, table["table"]!["table_width"]!.GetValue<int>());
        Assert.True(table["table"]!["has_column_header"]!.GetValue<bool>());
        var rows = table["table"]!["children"]!.AsArray();
        Assert.Equal(3, rows.Count);
        Assert.Equal("a | b", rows[2]!["table_row"]!["cells"]![0]![0]!["text"]!["content"]!.GetValue<string>());
        AssertRoundTrip(markdown);
    }

    [Fact]
    public void A_lone_image_is_an_external_image_with_its_alt_as_caption()
    {
        var image = Single("![Architecture diagram](https://x.test/a.png)\n");
        Assert.Equal("external", image["image"]!["type"]!.GetValue<string>());
        Assert.Equal("https://x.test/a.png", image["image"]!["external"]!["url"]!.GetValue<string>());
        Assert.Equal("Architecture diagram", image["image"]!["caption"]![0]!["text"]!["content"]!.GetValue<string>());
        AssertRoundTrip("![Architecture diagram](https://x.test/a.png)\n");
    }

    [Theory]
    [InlineData("#### Deep heading\n")]
    [InlineData("<details>\n<summary>More</summary>\n\nHidden text.\n\n</details>\n")]
    [InlineData("Text[^1].\n\n[^1]: The note.\n")]
    [InlineData("Press <kbd>Ctrl</kbd>+<kbd>C</kbd>.\n")]
    [InlineData("[ref]: https://x.test \"Title\"\n\nSee [ref].\n")]
    [InlineData("Image ![i](https://x.test/i.png) inline.\n")]
    [InlineData("<!-- a comment -->\n")]
    public void Markdown_without_a_block_form_is_kept_verbatim(string markdown)
    {
        AssertRoundTrip(markdown);
        Assert.Empty(Limits.Violations(Md.ToBlocks(markdown)));
    }

    [Fact]
    public void An_h4_heading_is_a_raw_markdown_code_block()
    {
        var block = Single("#### Deep\n");
        Assert.Equal("code", block["type"]!.GetValue<string>());
        Assert.Equal("#### Deep", RichText(block)[0]!["text"]!["content"]!.GetValue<string>());
        Assert.Equal("eventsync:raw-markdown", block["code"]!["caption"]![0]!["text"]!["content"]!.GetValue<string>());
    }

    [Fact]
    public void Long_text_is_split_into_runs_of_at_most_2000_characters_and_joined_back()
    {
        var paragraph = string.Concat(Enumerable.Range(0, 700).Select(i => $"word{i} ")).TrimEnd() + "😀 tail.\n";
        Assert.True(paragraph.Length > 4000);
        var block = Single(paragraph);
        Assert.True(RichText(block).Count >= 2);
        Assert.Empty(Limits.Violations([block]));
        AssertRoundTrip(paragraph);
    }

    [Fact]
    public void Emoji_are_never_split_at_the_2000_character_boundary()
    {
        var paragraph = new string('a', 1999) + "😀" + new string('b', 10) + "\n";
        Assert.Empty(Limits.Violations(Md.ToBlocks(paragraph)));
        AssertRoundTrip(paragraph);
    }

    [Fact]
    public void A_paragraph_with_more_than_100_runs_is_split_into_paragraphs()
    {
        var paragraph = string.Join(" ", Enumerable.Range(0, 120).Select(i => $"**b{i}**")) + "\n";
        var blocks = Md.ToBlocks(paragraph);
        Assert.True(blocks.Count >= 2);
        Assert.All(blocks, b => Assert.Equal("paragraph", b["type"]!.GetValue<string>()));
        Assert.Empty(Limits.Violations(blocks));
        var canonical = Md.Canonicalize(paragraph);
        Assert.Equal(canonical, Md.Canonicalize(canonical));
    }

    [Fact]
    public void Special_characters_in_text_survive_both_ways()
    {
        AssertRoundTrip("Use \\*args, a_b\\_, snake_case, 2 < 3 & 5 \\&amp; \\[x\\] \\`tick\\` \\~ \\| pipe.\n");
        AssertRoundTrip("\\# not a heading\n\\- not a list\n2024\\. not a list\n\\> not a quote\n");
        AssertBlocksRoundTrip(Paragraph("**not bold** _x_ <b> &copy; # - 1. > | ` ~ \\ [a](b)"));
        AssertBlocksRoundTrip(Paragraph("  leading and trailing spaces  "));
        AssertBlocksRoundTrip(Paragraph("line one\n\nline three\n- four"));
    }

    private static JsonObject Paragraph(string content) => new()
    {
        ["object"] = "block",
        ["type"] = "paragraph",
        ["paragraph"] = new JsonObject { ["rich_text"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = new JsonObject { ["content"] = content } }) },
    };

    /// <summary>A page as GET /v1/blocks/{id}/children returns it (recursively), with ids, timestamps and full annotations.</summary>
    private const string ReadPage = """
    [
      {"object":"block","id":"a1","parent":{"type":"page_id","page_id":"p"},"created_time":"2025-01-01T00:00:00.000Z","last_edited_time":"2025-01-01T00:00:00.000Z","created_by":{"object":"user","id":"u"},"last_edited_by":{"object":"user","id":"u"},"has_children":false,"archived":false,"in_trash":false,"type":"heading_1","heading_1":{"rich_text":[{"type":"text","text":{"content":"Runbook","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"Runbook","href":null}],"is_toggleable":false,"color":"default"}},
      {"object":"block","id":"a2","has_children":false,"type":"paragraph","paragraph":{"rich_text":[
        {"type":"text","text":{"content":"Call ","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"Call ","href":null},
        {"type":"text","text":{"content":"on-call","link":{"url":"https://x.test/oncall"}},"annotations":{"bold":true,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"on-call","href":"https://x.test/oncall"},
        {"type":"text","text":{"content":" now","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":true,"code":false,"color":"default"},"plain_text":" now","href":null},
        {"type":"text","text":{"content":" (red)","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"red_background"},"plain_text":" (red)","href":null},
        {"type":"mention","mention":{"type":"date","date":{"start":"2025-03-01","end":null,"time_zone":null}},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"2025-03-01","href":null},
        {"type":"equation","equation":{"expression":"e=mc^2"},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"e=mc^2","href":null}
      ],"color":"default"}},
      {"object":"block","id":"a3","has_children":true,"type":"to_do","to_do":{"rich_text":[{"type":"text","text":{"content":"Check the dashboard","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"Check the dashboard","href":null}],"checked":true,"color":"default","children":[
        {"object":"block","id":"a4","has_children":false,"type":"bulleted_list_item","bulleted_list_item":{"rich_text":[{"type":"text","text":{"content":"latency","link":null},"annotations":{"bold":false,"italic":true,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"latency","href":null}],"color":"default"}}
      ]}},
      {"object":"block","id":"a5","has_children":true,"type":"toggle","toggle":{"rich_text":[{"type":"text","text":{"content":"Details","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"Details","href":null}],"color":"default","children":[
        {"object":"block","id":"a6","has_children":false,"type":"paragraph","paragraph":{"rich_text":[{"type":"text","text":{"content":"Hidden","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"Hidden","href":null}],"color":"default"}}
      ]}},
      {"object":"block","id":"a7","has_children":false,"type":"bookmark","bookmark":{"caption":[],"url":"https://x.test/b"}},
      {"object":"block","id":"a8","has_children":false,"type":"equation","equation":{"expression":"a^2+b^2=c^2"}},
      {"object":"block","id":"a9","has_children":false,"type":"paragraph","paragraph":{"rich_text":[],"color":"default"}},
      {"object":"block","id":"b1","has_children":false,"type":"callout","callout":{"rich_text":[{"type":"text","text":{"content":"Default callout","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"Default callout","href":null}],"icon":{"type":"emoji","emoji":"💡"},"color":"gray_background"}},
      {"object":"block","id":"b2","has_children":false,"type":"callout","callout":{"rich_text":[],"icon":{"type":"emoji","emoji":"🔥"},"color":"orange_background"}},
      {"object":"block","id":"b3","has_children":false,"type":"heading_2","heading_2":{"rich_text":[{"type":"text","text":{"content":"Colored","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"Colored","href":null}],"is_toggleable":false,"color":"blue"}},
      {"object":"block","id":"b4","has_children":false,"type":"code","code":{"caption":[{"type":"text","text":{"content":"Figure 1","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"Figure 1","href":null}],"rich_text":[{"type":"text","text":{"content":"SELECT 1;","link":null},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"SELECT 1;","href":null}],"language":"sql"}},
      {"object":"block","id":"b5","has_children":false,"type":"image","image":{"caption":[],"type":"file","file":{"url":"https://s3.test/x.png","expiry_time":"2025-01-01T01:00:00.000Z"}}},
      {"object":"block","id":"b6","has_children":false,"type":"some_future_block","some_future_block":{"value":42}},
      {"object":"block","id":"b7","has_children":false,"type":"table","table":{"table_width":2,"has_column_header":false,"has_row_header":false,"children":[
        {"object":"block","id":"b8","type":"table_row","table_row":{"cells":[[{"type":"text","text":{"content":"k","link":null},"plain_text":"k","href":null}],[]]}}
      ]}}
    ]
    """;

    private static JsonObject[] ReadBlocks() => JsonNode.Parse(ReadPage)!.AsArray().Select(b => (JsonObject)b!).ToArray();

    [Fact]
    public void Blocks_read_from_the_api_survive_markdown_and_back()
    {
        var markdown = AssertBlocksRoundTrip(ReadBlocks());
        Assert.StartsWith("# Runbook\n\nCall [**on-call**](https://x.test/oncall)<span data-notion=", markdown, StringComparison.Ordinal);
        Assert.Contains("- [x] Check the dashboard\n  - *latency*\n", markdown, StringComparison.Ordinal);
        Assert.Contains("<!-- notion:{\"object\":\"block\",\"type\":\"toggle\"", markdown, StringComparison.Ordinal);
        Assert.Contains("\n<br>\n", markdown, StringComparison.Ordinal);
        Assert.Contains("> [!TIP]\n> Default callout\n", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("\"id\"", markdown, StringComparison.Ordinal);
        Assert.Equal(markdown, Md.Canonicalize(markdown));
    }

    [Fact]
    public void Normalize_ignores_read_only_fields_but_not_content()
    {
        var read = ReadBlocks();
        var written = Md.ToBlocks(Md.ToMarkdown(read));
        Assert.Equal(Json(Md.Normalize(read)), Json(Md.Normalize(written)));
        var changed = (JsonObject)read[0].DeepClone();
        changed["heading_1"]!["rich_text"]![0]!["text"]!["content"] = "Runbook!";
        Assert.NotEqual(Json(Md.Normalize([read[0]])), Json(Md.Normalize([changed])));
    }

    [Fact]
    public void Written_blocks_carry_no_read_only_fields()
    {
        var json = Json(Md.ToBlocks(Md.ToMarkdown(ReadBlocks())));
        Assert.DoesNotContain("\"id\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("created_time", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\"href\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_input_gives_no_blocks_and_empty_markdown()
    {
        Assert.Empty(Md.ToBlocks(""));
        Assert.Equal("", Md.ToMarkdown([]));
        Assert.Equal("", Md.Canonicalize("\n\n  \n"));
    }

    [Fact]
    public void Crlf_line_ends_are_read_as_lf()
    {
        Assert.Equal("# A\n\nb\nc\n", Md.Canonicalize("# A\r\n\r\nb\r\nc\r\n"));
    }
}
