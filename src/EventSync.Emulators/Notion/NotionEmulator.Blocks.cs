using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace EventSync.Emulators.Notion;

/// <summary>Block trees: append with Notion's per-request limits, paged listing, update and trash.</summary>
public sealed partial class NotionEmulator
{
    /// <summary>Block types the emulator knows, and whether their payload carries a rich_text array.</summary>
    private static readonly Dictionary<string, bool> BlockTypes = new(StringComparer.Ordinal)
    {
        ["paragraph"] = true, ["heading_1"] = true, ["heading_2"] = true, ["heading_3"] = true, ["bulleted_list_item"] = true,
        ["numbered_list_item"] = true, ["to_do"] = true, ["toggle"] = true, ["quote"] = true, ["callout"] = true, ["code"] = true,
        ["divider"] = false, ["equation"] = false, ["bookmark"] = false, ["embed"] = false, ["image"] = false,
        ["table_of_contents"] = false, ["table"] = false, ["table_row"] = false,
    };

    private static readonly HashSet<string> CanHaveChildren = new(StringComparer.Ordinal)
    {
        "paragraph", "bulleted_list_item", "numbered_list_item", "to_do", "toggle", "quote", "callout", "table",
        "heading_1", "heading_2", "heading_3", // only when is_toggleable, checked below
    };

    /// <summary>Parses a request's children array with Notion's per-request limits: 100 a level, 2 levels, 1000 blocks in all.</summary>
    private static List<BlockInput> ParseBlocks(JsonNode? node, string path)
    {
        var count = 0;
        return ParseLevel(node, path, 1, ref count);
    }

    private static List<BlockInput> ParseLevel(JsonNode? node, string path, int depth, ref int count)
    {
        if (node is not JsonArray items) throw Invalid($"body failed validation: {path} should be an array, instead was `{node?.ToJsonString() ?? "undefined"}`.");
        if (items.Count > MaxChildrenPerRequest)
            throw Invalid($"body failed validation: {path}.length should be ≤ `{MaxChildrenPerRequest}`, instead was `{items.Count}`.");
        var result = new List<BlockInput>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var itemPath = $"{path}[{i}]";
            if (items[i] is not JsonObject item) throw Invalid($"body failed validation: {itemPath} should be an object.");
            var type = item["type"] is JsonValue tv && tv.TryGetValue<string>(out var t) ? t : item.Select(p => p.Key).FirstOrDefault(BlockTypes.ContainsKey);
            if (type is null || !BlockTypes.ContainsKey(type))
                throw Invalid($"body failed validation: {itemPath}.type should be a known block type, instead was `{type ?? "undefined"}`.");
            if (item[type] is not JsonObject payload) throw Invalid($"body failed validation: {itemPath}.{type} should be defined, instead was `undefined`.");
            if (++count > MaxBlocksPerRequest)
                throw Invalid($"body failed validation: a request may hold at most {MaxBlocksPerRequest} block elements.");
            List<BlockInput> children = [];
            if (payload["children"] is { } childNode)
            {
                var toggleable = payload["is_toggleable"] is JsonValue tg && tg.TryGetValue<bool>(out var isToggle) && isToggle;
                if (!CanHaveChildren.Contains(type) || (type.StartsWith("heading_", StringComparison.Ordinal) && !toggleable))
                    throw Invalid($"body failed validation: {itemPath}.{type}.children should be not present: a {type} block cannot have children.");
                if (depth >= MaxNestingPerRequest)
                    throw Invalid($"body failed validation: {itemPath}.{type}.children should be not present, instead was `{childNode.ToJsonString()[..Math.Min(40, childNode.ToJsonString().Length)]}...`: at most {MaxNestingPerRequest} levels of nesting in one request.");
                children = ParseLevel(childNode, $"{itemPath}.{type}.children", depth + 1, ref count);
            }
            result.Add(new BlockInput(type, NormalisePayload(type, payload, $"{itemPath}.{type}", allowChildren: true), children));
        }
        return result;
    }

    /// <summary>The stored type object: rich text normalised, URLs and captions checked, children removed.</summary>
    private static JsonObject NormalisePayload(string type, JsonObject payload, string path, bool allowChildren)
    {
        var result = new JsonObject();
        foreach (var (key, value) in payload)
        {
            switch (key)
            {
                case "children":
                    if (!allowChildren) throw Invalid($"body failed validation: {path}.children should be not present; append children instead.");
                    break;
                case "rich_text" or "caption":
                    result[key] = NormaliseRichText(value, $"{path}.{key}");
                    break;
                case "cells" when type == "table_row":
                    if (value is not JsonArray cells) throw Invalid($"body failed validation: {path}.cells should be an array.");
                    result[key] = new JsonArray(cells.Select((c, i) => (JsonNode)NormaliseRichText(c, $"{path}.cells[{i}]")).ToArray());
                    break;
                case "url":
                    if (value is JsonValue uv && uv.TryGetValue<string>(out var url) && url.Length > MaxTextLength)
                        throw Invalid($"body failed validation: {path}.url.length should be ≤ `{MaxTextLength}`, instead was `{url.Length}`.");
                    result[key] = value?.DeepClone();
                    break;
                case "expression":
                    if (value is JsonValue ev && ev.TryGetValue<string>(out var expression) && expression.Length > 1000)
                        throw Invalid($"body failed validation: {path}.expression.length should be ≤ `1000`, instead was `{expression.Length}`.");
                    result[key] = value?.DeepClone();
                    break;
                default:
                    result[key] = value?.DeepClone();
                    break;
            }
        }
        if (BlockTypes[type] && result["rich_text"] is null) throw Invalid($"body failed validation: {path}.rich_text should be defined, instead was `undefined`.");
        if (type == "code" && result["language"] is null) result["language"] = "plain text";
        if (type is "paragraph" or "heading_1" or "heading_2" or "heading_3" or "bulleted_list_item" or "numbered_list_item" or "to_do" or "toggle" or "quote" or "callout"
            && result["color"] is null) result["color"] = "default";
        if (type == "to_do" && result["checked"] is null) result["checked"] = false;
        return result;
    }

    /// <summary>Stores parsed blocks under a parent (page or block), at <paramref name="insertAt"/> or the end; returns the first level.</summary>
    private List<BlockRecord> AddBlocks(PageRecord page, string parentId, bool parentIsPage, List<string> siblings, IReadOnlyList<BlockInput> inputs,
        Author author, DateTimeOffset now, int? insertAt)
    {
        var created = new List<BlockRecord>(inputs.Count);
        var position = insertAt ?? siblings.Count;
        foreach (var input in inputs)
        {
            var block = new BlockRecord
            {
                Id = NewId(), ParentId = parentId, ParentIsPage = parentIsPage, PageId = page.Id, Type = input.Type, Payload = input.Payload,
                Created = now, CreatedBy = author, LastEdited = now, LastEditedBy = author,
            };
            _blocks[block.Id] = block;
            siblings.Insert(position++, block.Id);
            AddBlocks(page, block.Id, false, block.Children, input.Children, author, now, null);
            created.Add(block);
        }
        return created;
    }

    private JsonObject BlockJson(BlockRecord b)
    {
        var parent = b.ParentIsPage
            ? new JsonObject { ["type"] = "page_id", ["page_id"] = b.ParentId }
            : new JsonObject { ["type"] = "block_id", ["block_id"] = b.ParentId };
        return new JsonObject
        {
            ["object"] = "block", ["id"] = b.Id, ["parent"] = parent,
            ["created_time"] = Time(Minute(b.Created)), ["last_edited_time"] = Time(Minute(b.LastEdited)),
            ["created_by"] = User(b.CreatedBy), ["last_edited_by"] = User(b.LastEditedBy),
            ["has_children"] = b.Children.Any(c => !_blocks[c].InTrash), ["archived"] = b.InTrash, ["in_trash"] = b.InTrash,
            ["type"] = b.Type, [b.Type] = b.Payload.DeepClone(),
        };
    }

    /// <summary>The page or block an id names, with its child list; 404 when neither exists.</summary>
    private (PageRecord Page, List<string> Children, BlockRecord? Block) Container(string id)
    {
        if (_pages.TryGetValue(id, out var page)) return (page, page.Children, null);
        if (_blocks.TryGetValue(id, out var block)) return (_pages[block.PageId], block.Children, block);
        throw NotFound(id);
    }

    private JsonObject GetBlockObject(string id)
    {
        lock (_gate)
        {
            if (_blocks.TryGetValue(id, out var block)) return BlockJson(block);
            if (_pages.TryGetValue(id, out var page)) return PageAsBlockJson(page);
            throw NotFound(id);
        }
    }

    /// <summary>A page is also a block (child_page) to the blocks endpoints.</summary>
    private JsonObject PageAsBlockJson(PageRecord page) => new()
    {
        ["object"] = "block", ["id"] = page.Id, ["type"] = "child_page", ["has_children"] = page.Children.Any(c => !_blocks[c].InTrash),
        ["in_trash"] = page.InTrash, ["archived"] = page.InTrash, ["child_page"] = new JsonObject { ["title"] = "" },
    };

    private JsonObject ListChildren(string id, IQueryCollection query)
    {
        var pageSize = MaxPageSize;
        if (query.TryGetValue("page_size", out var sizeText) && (!int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize is < 1 or > MaxPageSize))
            throw Invalid($"body failed validation: page_size should be a number between 1 and {MaxPageSize}, instead was `{sizeText}`.");
        lock (_gate)
        {
            var (_, children, _) = Container(id);
            var live = children.Where(c => !_blocks[c].InTrash).ToList();
            var start = 0;
            if (query.TryGetValue("start_cursor", out var cursor))
            {
                start = live.IndexOf(Dashed(cursor.ToString()));
                if (start < 0) throw Invalid("The start_cursor provided is invalid: " + cursor);
            }
            var slice = live.Skip(start).Take(pageSize).ToList();
            var hasMore = start + slice.Count < live.Count;
            return ListJson(slice.Select(c => (JsonNode)BlockJson(_blocks[c])), hasMore ? live[start + slice.Count] : null, "block");
        }
    }

    private static JsonObject ListJson(IEnumerable<JsonNode> results, string? nextCursor, string type) => new()
    {
        ["object"] = "list", ["results"] = new JsonArray(results.ToArray()), ["next_cursor"] = nextCursor, ["has_more"] = nextCursor is not null,
        ["type"] = type, [type] = new JsonObject(), ["request_id"] = Guid.NewGuid().ToString(),
    };

    private JsonObject AppendChildren(string id, JsonObject body, Author author)
    {
        List<WebhookEvent> events = [];
        JsonObject result;
        lock (_gate)
        {
            var (page, siblings, block) = Container(id);
            if (page.InTrash || block?.InTrash == true) throw Invalid("Can't edit block that is archived. You must unarchive the block before editing.");
            if (body["position"] is not null) throw Invalid("body failed validation: body.position is only accepted from Notion-Version 2026-03-11; use after.");
            if (block is not null && !CanHaveChildren.Contains(block.Type))
                throw Invalid($"Block type {block.Type} does not support children.");
            var inputs = ParseBlocks(body["children"], "body.children");
            int? insertAt = null;
            if (body["after"] is JsonValue afterValue && afterValue.TryGetValue<string>(out var after))
            {
                var index = siblings.IndexOf(Dashed(after));
                if (index < 0) throw Invalid($"body failed validation: body.after `{after}` is not a child of {id}.");
                insertAt = index + 1;
            }
            var now = _options.Time.GetUtcNow();
            var created = AddBlocks(page, block?.Id ?? page.Id, block is null, siblings, inputs, author, now, insertAt);
            if (block is not null)
            {
                block.LastEdited = now;
                block.LastEditedBy = author;
            }
            Touch(page, author, now);
            events.Add(ContentEvent(page, author, created.Select(b => b.Id)));
            result = ListJson(created.Select(b => (JsonNode)BlockJson(b)), null, "block");
        }
        Publish(events);
        return result;
    }

    private JsonObject UpdateBlock(string id, JsonObject body, Author author)
    {
        List<WebhookEvent> events = [];
        JsonObject result;
        lock (_gate)
        {
            if (_pages.ContainsKey(id)) throw Invalid("Use PATCH /v1/pages to update a page.");
            if (!_blocks.TryGetValue(id, out var block)) throw NotFound(id);
            var trash = TrashFlag(body);
            var page = _pages[block.PageId];
            if (block.InTrash && trash != false) throw Invalid("Can't edit block that is archived. You must unarchive the block before editing.");
            foreach (var key in body.Select(p => p.Key))
                if (key != block.Type && key is not ("in_trash" or "archived" or "type"))
                    throw Invalid($"body failed validation: body.{key} is not valid for a {block.Type} block.");
            if (body[block.Type] is JsonObject payload)
            {
                var merged = (JsonObject)block.Payload.DeepClone();
                foreach (var (k, v) in NormalisePayload(block.Type, MergeForValidation(block.Payload, payload), $"body.{block.Type}", allowChildren: false))
                    merged[k] = v?.DeepClone();
                block.Payload = merged;
            }
            if (trash is { } inTrash) block.InTrash = inTrash;
            var now = _options.Time.GetUtcNow();
            block.LastEdited = now;
            block.LastEditedBy = author;
            Touch(page, author, now);
            events.Add(ContentEvent(page, author, [block.Id]));
            result = BlockJson(block);
        }
        Publish(events);
        return result;
    }

    private static JsonObject MergeForValidation(JsonObject current, JsonObject update)
    {
        var merged = (JsonObject)current.DeepClone();
        foreach (var (k, v) in update) merged[k] = v?.DeepClone();
        return merged;
    }

    private JsonObject DeleteBlock(string id, Author author)
    {
        List<WebhookEvent> events = [];
        JsonObject result;
        lock (_gate)
        {
            var now = _options.Time.GetUtcNow();
            if (_pages.TryGetValue(id, out var trashedPage))
            {
                if (!trashedPage.InTrash) events.Add(PageEvent("page.deleted", trashedPage, author));
                trashedPage.InTrash = true;
                Touch(trashedPage, author, now);
                result = PageAsBlockJson(trashedPage);
            }
            else
            {
                if (!_blocks.TryGetValue(id, out var block)) throw NotFound(id);
                if (block.InTrash) throw Invalid("Can't edit block that is archived. You must unarchive the block before editing.");
                block.InTrash = true;
                block.LastEdited = now;
                block.LastEditedBy = author;
                var page = _pages[block.PageId];
                Touch(page, author, now);
                events.Add(ContentEvent(page, author, [block.Id]));
                result = BlockJson(block);
            }
        }
        Publish(events);
        return result;
    }
}
