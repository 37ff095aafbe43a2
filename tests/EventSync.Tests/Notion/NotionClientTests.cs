using System.Net;
using System.Text.Json.Nodes;
using EventSync.Connectors.Http;
using EventSync.Connectors.Notion;
using Microsoft.Extensions.Time.Testing;
using static EventSync.Tests.Notion.NotionHarness;

namespace EventSync.Tests.Notion;

/// <summary>The Notion client against the emulator over real loopback HTTP: pages, queries, blocks, validation.</summary>
public sealed class NotionClientTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Pages_are_created_found_updated_trashed_and_restored_and_queries_follow_cursors_past_100()
    {
        await using var h = await StartAsync();
        var client = h.Client();
        for (var i = 0; i < 230; i++)
            await client.CreatePageAsync(h.DataSourceId, AgentProperties($"Agent {i}", $"agent-{i}"), [], None);

        var all = await client.QueryAsync(h.DataSourceId, null, null, None);
        Assert.Equal(230, all.Select(p => p["id"]!.GetValue<string>()).Distinct().Count());
        Assert.Equal(3, h.Emulator.RequestsByEndpoint["POST /v1/data_sources/{id}/query"]); // 100 + 100 + 30

        var found = await client.FindPageAsync(h.DataSourceId, "Slug", "rich_text", "agent-117", None);
        Assert.NotNull(found);
        Assert.Equal("Agent 117", found!["properties"]!["Name"]!["title"]![0]!["plain_text"]!.GetValue<string>());
        Assert.Null(await client.FindPageAsync(h.DataSourceId, "Name", "title", "Agent 999", None));
        var id = found["id"]!.GetValue<string>();
        Assert.Equal(h.DataSourceId, found["parent"]!["data_source_id"]!.GetValue<string>());

        var updated = await client.UpdatePageAsync(id, new JsonObject
        {
            ["Status"] = new JsonObject { ["select"] = new JsonObject { ["name"] = "Retired" } },
            ["Active"] = new JsonObject { ["checkbox"] = true },
        }, None);
        Assert.Equal("Retired", updated["properties"]!["Status"]!["select"]!["name"]!.GetValue<string>());
        var schema = await client.GetDataSourceAsync(h.DataSourceId, None);
        Assert.Contains(schema["properties"]!["Status"]!["select"]!["options"]!.AsArray(), o => o!["name"]!.GetValue<string>() == "Retired"); // new option created

        var filter = new JsonObject
        {
            ["and"] = new JsonArray(
                new JsonObject { ["property"] = "Status", ["select"] = new JsonObject { ["equals"] = "Retired" } },
                new JsonObject { ["property"] = "Active", ["checkbox"] = new JsonObject { ["equals"] = true } }),
        };
        Assert.Equal([id], (await client.QueryAsync(h.DataSourceId, filter, null, None)).Select(p => p["id"]!.GetValue<string>()));

        await client.TrashPageAsync(id, None);
        Assert.True((await client.GetPageAsync(id, None))!["in_trash"]!.GetValue<bool>());
        Assert.Empty(await client.QueryAsync(h.DataSourceId, filter, null, None));
        await client.RestorePageAsync(id, None);
        Assert.Single(await client.QueryAsync(h.DataSourceId, filter, null, None));

        Assert.Null(await client.GetPageAsync(Guid.NewGuid().ToString("N"), None));
    }

    [Fact]
    public void Ids_are_normalised_from_dashless_dashed_and_url_forms()
    {
        const string Dashed = "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d";
        Assert.Equal(Dashed, NotionClient.NormalizeId("1A2B3C4D5E6F4A1B8C2D3E4F5A6B7C8D"));
        Assert.Equal(Dashed, NotionClient.NormalizeId(Dashed));
        Assert.Equal(Dashed, NotionClient.NormalizeId("https://www.notion.so/acme/Agent-Registry-1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d?pvs=4"));
        Assert.Throws<ArgumentException>(() => NotionClient.NormalizeId("not-an-id"));
    }

    [Fact]
    public async Task Last_edited_time_is_rounded_to_the_minute_so_an_after_watermark_misses_same_minute_edits_and_the_poller_needs_watermark_minus_one_minute()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 10, TimeSpan.Zero));
        await using var h = await StartAsync(time: time);
        var client = h.Client();
        var a = await client.CreatePageAsync(h.DataSourceId, AgentProperties("A", "a"), [], None);
        Assert.Equal("2026-03-01T12:00:00.000Z", a["last_edited_time"]!.GetValue<string>());
        var b = await client.CreatePageAsync(h.DataSourceId, AgentProperties("B", "b"), [], None);

        // The poller saw A and B at 12:00:10; B is edited later in the same minute.
        var watermark = DateTimeOffset.Parse(a["last_edited_time"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        time.Advance(TimeSpan.FromSeconds(40));
        await client.UpdatePageAsync(b["id"]!.GetValue<string>(), new JsonObject { ["Active"] = new JsonObject { ["checkbox"] = true } }, None);

        var after = await client.QueryAsync(h.DataSourceId, EditedFilter("after", watermark), null, None);
        Assert.Empty(after); // the edit at 12:00:50 reads 12:00:00: invisible to "after"
        var onOrAfter = await client.QueryEditedSinceAsync(h.DataSourceId, watermark, None);
        Assert.Contains(onOrAfter, p => p["id"]!.GetValue<string>() == b["id"]!.GetValue<string>());

        // A watermark taken from the clock (the poll time) must go back a minute: an edit after the poll is stamped before it.
        var pollTime = time.GetUtcNow(); // 12:00:50
        time.Advance(TimeSpan.FromSeconds(5));
        await client.UpdatePageAsync(a["id"]!.GetValue<string>(), new JsonObject { ["Active"] = new JsonObject { ["checkbox"] = true } }, None);
        Assert.Empty(await client.QueryEditedSinceAsync(h.DataSourceId, pollTime, None));
        var overlap = await client.QueryEditedSinceAsync(h.DataSourceId, pollTime - TimeSpan.FromMinutes(1), None);
        Assert.Contains(overlap, p => p["id"]!.GetValue<string>() == a["id"]!.GetValue<string>());

        time.Advance(TimeSpan.FromMinutes(3));
        await client.UpdatePageAsync(b["id"]!.GetValue<string>(), new JsonObject { ["Active"] = new JsonObject { ["checkbox"] = false } }, None);
        var ascending = await client.QueryEditedSinceAsync(h.DataSourceId, watermark, None);
        Assert.Equal([a["id"]!.GetValue<string>(), b["id"]!.GetValue<string>()], ascending.Select(p => p["id"]!.GetValue<string>()));
    }

    private static JsonObject EditedFilter(string op, DateTimeOffset at) => new()
    {
        ["timestamp"] = "last_edited_time", ["last_edited_time"] = new JsonObject { [op] = at.ToString("O", System.Globalization.CultureInfo.InvariantCulture) },
    };

    /// <summary>250 blocks, 4 levels: 10 toggles, 30 bullets, 90 numbered items, 120 paragraphs.</summary>
    private static List<JsonObject> DeepTree()
    {
        var level3 = 0;
        JsonObject Numbered(int i, int j, int k)
        {
            var leaves = level3++ < 30 ? 2 : 1;
            return Block("numbered_list_item", $"n{i}.{j}.{k}", Enumerable.Range(0, leaves).Select(l => Block("paragraph", $"p{i}.{j}.{k}.{l}")).ToArray());
        }
        return Enumerable.Range(0, 10).Select(i => Block("toggle", $"t{i}",
            Enumerable.Range(0, 3).Select(j => Block("bulleted_list_item", $"b{i}.{j}",
                Enumerable.Range(0, 3).Select(k => Numbered(i, j, k)).ToArray())).ToArray())).ToList();
    }

    /// <summary>Type, text and children: what must survive a write and a read.</summary>
    private static JsonArray Shape(IEnumerable<JsonNode?> blocks) => new(blocks.Select(b =>
    {
        var type = b!["type"]!.GetValue<string>();
        var text = string.Concat(b[type]!["rich_text"]!.AsArray().Select(r => r!["text"]!["content"]!.GetValue<string>()));
        var children = b[type]!["children"] is JsonArray c ? Shape(c) : [];
        return (JsonNode)new JsonObject { ["type"] = type, ["text"] = text, ["children"] = children };
    }).ToArray());

    private static int Count(JsonArray shape) => shape.Sum(b => 1 + Count(b!["children"]!.AsArray()));

    [Fact]
    public async Task Two_hundred_fifty_blocks_four_levels_deep_are_written_within_the_two_level_rule_and_read_back_equal()
    {
        await using var h = await StartAsync();
        var client = h.Client();
        var tree = DeepTree();
        Assert.Equal(250, Count(Shape(tree)));

        var page = await client.CreatePageAsync(h.DataSourceId, AgentProperties("Deep", "deep"), tree, None);
        var id = page["id"]!.GetValue<string>();

        var read = await client.GetBlocksAsync(id, None);
        Assert.True(JsonNode.DeepEquals(Shape(tree), Shape(read)));
        Assert.True(JsonNode.DeepEquals(Shape(tree), Shape(h.Emulator.GetBlocksTree(id))));

        // Replacing with what was read (the read shape) gives the same content, with the old blocks trashed.
        await client.ReplaceBlocksAsync(id, read, None);
        Assert.True(JsonNode.DeepEquals(Shape(tree), Shape(await client.GetBlocksAsync(id, None))));
        await client.ReplaceBlocksAsync(id, [Block("paragraph", "only this")], None);
        Assert.Equal("only this", Assert.Single(await client.GetBlocksAsync(id, None))["paragraph"]!["rich_text"]![0]!["plain_text"]!.GetValue<string>());
    }

    [Fact]
    public async Task Wide_content_is_split_into_requests_of_at_most_100_children_and_1000_blocks()
    {
        await using var h = await StartAsync();
        var client = h.Client();
        var page = await client.CreatePageAsync(h.DataSourceId, AgentProperties("Wide", "wide"), [], None);
        var id = page["id"]!.GetValue<string>();
        var blocks = Enumerable.Range(0, 450).Select(i => Block("paragraph", $"line {i}")).ToList();
        blocks.Add(Block("toggle", "many", Enumerable.Range(0, 150).Select(i => Block("to_do", $"item {i}")).ToArray()));
        blocks.AddRange(Enumerable.Range(0, 60).Select(i => Block("bulleted_list_item", $"b{i}", Enumerable.Range(0, 20).Select(j => Block("paragraph", $"c{i}.{j}")).ToArray())));

        await client.AppendBlocksAsync(id, blocks, None);

        Assert.True(JsonNode.DeepEquals(Shape(blocks), Shape(await client.GetBlocksAsync(id, None))));
        // Four requests of 100 paragraphs; then 50 paragraphs, the toggle and 45 bullets carrying their 20 children each
        // (996 blocks: a 46th bullet would pass 1000); then the last 15 bullets; then the toggle's 150 to-dos in two.
        Assert.Equal(8, h.Emulator.RequestsByEndpoint["PATCH /v1/blocks/{id}/children"]);
    }

    [Fact]
    public async Task Content_over_500_KB_goes_in_several_requests_each_within_the_size_limit()
    {
        await using var h = await StartAsync();
        var client = h.Client();
        // 200 paragraphs of 3 x 2000 characters: about 1.2 MB, so even 100 blocks (600 KB) would be refused.
        var blocks = Enumerable.Range(0, 200).Select(i => new JsonObject
        {
            ["type"] = "paragraph",
            ["paragraph"] = new JsonObject { ["rich_text"] = new JsonArray(Enumerable.Range(0, 3).Select(j => RichText(new string((char)('a' + j), 2000))[0]!.DeepClone()).ToArray()) },
        }).ToList();
        var page = await client.CreatePageAsync(h.DataSourceId, AgentProperties("Big", "big"), blocks, None);

        Assert.Equal(200, h.Emulator.GetBlocksTree(page["id"]!.GetValue<string>()).Count);
        Assert.True(h.Emulator.RequestsByEndpoint["PATCH /v1/blocks/{id}/children"] >= 2, "the rest of the content needs more requests after the create");
    }

    [Fact]
    public async Task The_emulator_accepts_archived_as_the_old_name_of_in_trash()
    {
        await using var h = await StartAsync();
        var page = await h.Client().CreatePageAsync(h.DataSourceId, AgentProperties("Old", "old"), [], None);
        var (status, body) = await h.RawAsync(HttpMethod.Patch, $"v1/pages/{page["id"]}", new JsonObject { ["archived"] = true });
        Assert.Equal(200, status);
        Assert.True(body["in_trash"]!.GetValue<bool>());
        Assert.Empty(await h.Client().QueryAsync(h.DataSourceId, null, null, None));
    }

    [Fact]
    public async Task A_5000_character_paragraph_is_split_into_rich_text_objects_of_at_most_2000_without_cutting_a_surrogate_pair()
    {
        await using var h = await StartAsync();
        var client = h.Client();
        var text = new string('a', 1999) + "😀" + new string('b', 2999); // the emoji straddles the 2000 mark
        Assert.Equal(5000, text.Length);
        var page = await client.CreatePageAsync(h.DataSourceId, new JsonObject { ["Name"] = Title(new string('T', 2500)), ["Slug"] = Text("long") },
            [Block("paragraph", text)], None);

        var paragraph = Assert.Single(await client.GetBlocksAsync(page["id"]!.GetValue<string>(), None));
        var parts = paragraph["paragraph"]!["rich_text"]!.AsArray().Select(r => r!["plain_text"]!.GetValue<string>()).ToList();
        Assert.Equal(3, parts.Count);
        Assert.All(parts, p => Assert.InRange(p.Length, 1, 2000));
        Assert.Equal(text, string.Concat(parts));
        Assert.Equal(2, page["properties"]!["Name"]!["title"]!.AsArray().Count);
    }

    [Fact]
    public async Task Validation_errors_surface_as_ApiException_with_Notions_code_and_are_not_retryable()
    {
        await using var h = await StartAsync();
        var client = h.Client();
        var page = await client.CreatePageAsync(h.DataSourceId, AgentProperties("V", "v"), [], None);
        var id = page["id"]!.GetValue<string>();

        var unknown = await Assert.ThrowsAsync<ApiException>(() => client.UpdatePageAsync(id, new JsonObject { ["Owner"] = Text("x") }, None));
        Assert.Equal((HttpStatusCode.BadRequest, "validation_error", false), (unknown.Status, unknown.Code, unknown.Retryable));
        Assert.Contains("Owner", unknown.Message, StringComparison.Ordinal);

        var wrongShape = await Assert.ThrowsAsync<ApiException>(() => client.UpdatePageAsync(id, new JsonObject { ["Slug"] = Title("x") }, None));
        Assert.Equal("validation_error", wrongShape.Code);
        Assert.Contains("Slug is expected to be rich_text", wrongShape.Message, StringComparison.Ordinal);

        var badUrl = await Assert.ThrowsAsync<ApiException>(() => client.UpdatePageAsync(id, new JsonObject { ["Source"] = new JsonObject { ["url"] = "https://x/" + new string('u', 2000) } }, None));
        Assert.Equal("validation_error", badUrl.Code);

        var missing = await Assert.ThrowsAsync<ApiException>(() => client.GetDataSourceAsync(Guid.NewGuid().ToString(), None));
        Assert.Equal((HttpStatusCode.NotFound, "object_not_found"), (missing.Status, missing.Code));

        var wrongToken = new NotionClient(h.Http, new NotionClientOptions { ApiUrl = h.Emulator.BaseUrl, Token = "ntn_wrong", RequestsPerSecond = 1000 });
        var unauthorized = await Assert.ThrowsAsync<ApiException>(() => wrongToken.GetDataSourceAsync(h.DataSourceId, None));
        Assert.Equal((HttpStatusCode.Unauthorized, "unauthorized", false), (unauthorized.Status, unauthorized.Code, unauthorized.Retryable));
    }

    [Fact]
    public async Task The_emulator_enforces_Notions_request_limits_that_the_client_works_within()
    {
        await using var h = await StartAsync();
        var page = await h.Client().CreatePageAsync(h.DataSourceId, AgentProperties("L", "l"), [], None);
        var path = $"v1/blocks/{page["id"]}/children";

        async Task<string> Rejected(JsonArray children)
        {
            var (status, body) = await h.RawAsync(HttpMethod.Patch, path, new JsonObject { ["children"] = children });
            Assert.Equal(400, status);
            Assert.Equal("validation_error", body["code"]!.GetValue<string>());
            return body["message"]!.GetValue<string>();
        }

        Assert.Contains("length should be ≤ `100`", await Rejected(new JsonArray(Enumerable.Range(0, 101).Select(i => (JsonNode)Block("paragraph", "x")).ToArray())), StringComparison.Ordinal);
        Assert.Contains("levels of nesting", await Rejected([Block("toggle", "1", Block("toggle", "2", Block("paragraph", "3")))]), StringComparison.Ordinal);
        Assert.Contains("text.content.length should be ≤ `2000`", await Rejected([Block("paragraph", new string('x', 2001))]), StringComparison.Ordinal);
        var richText = new JsonArray(Enumerable.Range(0, 101).Select(_ => (JsonNode)RichText("x")[0]!.DeepClone()).ToArray());
        Assert.Contains("rich_text.length should be ≤ `100`", await Rejected([new JsonObject { ["type"] = "paragraph", ["paragraph"] = new JsonObject { ["rich_text"] = richText } }]), StringComparison.Ordinal);
        Assert.Contains("1000 block elements", await Rejected(new JsonArray(Enumerable.Range(0, 11).Select(i =>
            (JsonNode)Block("toggle", "t", Enumerable.Range(0, 100).Select(j => Block("paragraph", "p")).ToArray())).ToArray())), StringComparison.Ordinal);
        Assert.Empty(h.Emulator.GetBlocksTree(page["id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_request_without_Notion_Version_is_rejected_and_an_unsupported_version_too()
    {
        await using var h = await StartAsync();
        var (status, body) = await h.RawAsync(HttpMethod.Get, $"v1/data_sources/{h.DataSourceId}", null, version: null);
        Assert.Equal(400, status);
        Assert.Equal("missing_version", body["code"]!.GetValue<string>());
        Assert.Equal("error", body["object"]!.GetValue<string>());

        var old = h.Client(o => o with { Version = "2022-06-28" });
        var e = await Assert.ThrowsAsync<ApiException>(() => old.GetDataSourceAsync(h.DataSourceId, None));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);

        var (ok, database) = await h.RawAsync(HttpMethod.Get, $"v1/databases/{h.DatabaseId.Replace("-", "", StringComparison.Ordinal)}", null);
        Assert.Equal(200, ok);
        Assert.Equal(h.DataSourceId, database["data_sources"]![0]!["id"]!.GetValue<string>());
    }
}
