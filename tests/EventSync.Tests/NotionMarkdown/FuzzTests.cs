using System.Globalization;
using System.Text.Json.Nodes;
using Md = EventSync.Connectors.Notion.Markdown.NotionMarkdown;

namespace EventSync.Tests.NotionMarkdown;

public sealed class FuzzTests
{
    private const int Seed = 20250601;
    private const int DefaultCount = 500;

    /// <summary>EVENTSYNC_FUZZ_COUNT raises the number of documents for long runs.</summary>
    private static int Count =>
        int.TryParse(Environment.GetEnvironmentVariable("EVENTSYNC_FUZZ_COUNT"), NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0
            ? count
            : DefaultCount;

    private static string Json(IEnumerable<JsonObject> blocks) =>
        new JsonArray(blocks.Select(b => (JsonNode?)b.DeepClone()).ToArray()).ToJsonString();

    [Fact]
    public void Random_documents_canonicalize_idempotently_within_the_limits()
    {
        var documents = new RandomDocuments(Seed);
        for (var i = 0; i < Count; i++)
        {
            var markdown = documents.Next();
            var context = $"document {i} (seed {Seed}):\n{markdown}";
            var blocks = Md.ToBlocks(markdown);
            Assert.True(Limits.Violations(blocks).Count == 0, string.Join("\n", Limits.Violations(blocks)) + "\n" + context);

            var canonical = Md.ToMarkdown(blocks);
            var again = Md.Canonicalize(canonical);
            Assert.True(canonical == again, $"not idempotent\n--- canonical:\n{canonical}\n--- again:\n{again}\n--- {context}");

            var reread = Md.ToBlocks(canonical);
            Assert.True(Limits.Violations(reread).Count == 0, string.Join("\n", Limits.Violations(reread)) + "\n" + context);
            Assert.True(Json(Md.Normalize(blocks)) == Json(Md.Normalize(reread)), $"blocks changed through markdown\n--- canonical:\n{canonical}\n--- {context}");
        }
    }

    [Fact]
    public void The_generator_is_deterministic_for_a_seed()
    {
        var a = new RandomDocuments(Seed);
        var b = new RandomDocuments(Seed);
        for (var i = 0; i < 5; i++) Assert.Equal(a.Next(), b.Next());
    }
}
