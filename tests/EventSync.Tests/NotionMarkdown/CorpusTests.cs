using System.Text.Json.Nodes;
using Md = EventSync.Connectors.Notion.Markdown.NotionMarkdown;

namespace EventSync.Tests.NotionMarkdown;

/// <summary>Realistic documentation pages in canonical form: each must survive markdown -> blocks -> markdown exactly.</summary>
public sealed class CorpusTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "NotionMarkdown", "Corpus");

    private static List<string> Names() =>
        Directory.GetFiles(Folder, "*.md").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();

    public static TheoryData<string> Documents()
    {
        var data = new TheoryData<string>();
        foreach (var name in Names()) data.Add(name);
        return data;
    }

    private static string Read(string name) => File.ReadAllText(Path.Combine(Folder, name));

    [Theory]
    [MemberData(nameof(Documents))]
    public void Round_trips_exactly(string name)
    {
        var markdown = Read(name);
        Assert.Equal(markdown, Md.ToMarkdown(Md.ToBlocks(markdown)));
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Blocks_respect_the_api_limits(string name)
    {
        var blocks = Md.ToBlocks(Read(name));
        Assert.Empty(Limits.Violations(blocks));
    }

    [Fact]
    public void The_corpus_covers_what_the_issue_asks_for()
    {
        var names = Names();
        Assert.True(names.Count >= 30, $"{names.Count} documents");
        var all = names.ToDictionary(n => n, Read);
        var blocks = all.ToDictionary(p => p.Key, p => Md.ToBlocks(p.Value));

        Assert.Contains(blocks.Values, b => Limits.CountBlocks(b) > 100 && b.Count > 100);
        Assert.Contains(blocks.Values, b => b.Any(block => block["paragraph"]?["rich_text"] is JsonArray text && text.Count > 1));
        Assert.Contains(all.Values, md => md.Split("\n\n").Any(paragraph => paragraph.Length > 2000 && !paragraph.Contains('\n', StringComparison.Ordinal)));
        Assert.Contains(all.Values, md => md.Contains("日本語", StringComparison.Ordinal) && md.Contains("🚀", StringComparison.Ordinal));
        Assert.Contains(all.Values, md => md.Contains("\n    - ", StringComparison.Ordinal));
        Assert.Contains(all.Values, md => md.Contains("<details>", StringComparison.Ordinal));
        Assert.Contains(all.Values, md => md.Contains("\n#### ", StringComparison.Ordinal));
        Assert.Contains(all.Values, md => md.Contains("[^", StringComparison.Ordinal));
        Assert.Contains(all.Values, md => md.Contains("- [ ] ", StringComparison.Ordinal));
        Assert.Contains(all.Values, md => md.Contains("> [!", StringComparison.Ordinal));
        Assert.Contains(all.Values, md => md.Contains("| --- |", StringComparison.Ordinal));
    }
}
