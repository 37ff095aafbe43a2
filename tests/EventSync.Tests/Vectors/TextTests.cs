using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Vectors;

namespace EventSync.Tests.Vectors;

public sealed class TextTests
{
    [Fact]
    public void Templates_read_columns_and_paths_into_jsonb_and_render_missing_values_empty()
    {
        Assert.True(TextTemplate.TryParse("{{name}}\n{{caracteristicas.location}} ({{caracteristicas.value}}) {{tags}}{{missing.deep}}", out var template, out _));
        using var row = JsonDocument.Parse("""{"name":"Atacama","caracteristicas":{"location":"Chile","value":120},"tags":["pv","storage"],"price":5}""");
        Assert.Equal("Atacama\nChile (120) pv, storage", template!.Render(row.RootElement));
        Assert.Equal(["name", "caracteristicas", "tags", "missing"], template.Columns);
        // A json column stored as text reads like jsonb.
        using var textual = JsonDocument.Parse("""{"name":"X","caracteristicas":"{\"location\":\"Lima\"}"}""");
        Assert.StartsWith("X\nLima", template.Render(textual.RootElement), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no placeholders")]
    [InlineData("{{name}} and {{broken")]
    [InlineData("{{ bad-name }}")]
    public void Malformed_templates_are_refused_with_a_reason(string source)
    {
        Assert.False(TextTemplate.TryParse(source, out _, out var error));
        Assert.NotEmpty(error);
    }

    [Fact]
    public void Long_text_is_chunked_at_boundaries_with_overlap_and_short_text_is_one_chunk()
    {
        var chunker = new TextChunker(Size: 200, Overlap: 40);
        Assert.Equal(["short text"], chunker.Split("  short text  "));
        Assert.Empty(chunker.Split("   "));
        var words = string.Join(' ', Enumerable.Range(0, 400).Select(i => $"word{i}"));
        var chunks = chunker.Split(words);
        Assert.All(chunks, c => Assert.True(c.Length <= 200, $"{c.Length} characters"));
        Assert.All(chunks, c => Assert.Matches(@"^word\d+( word\d+)*$", c)); // never cut inside a word
        for (var i = 1; i < chunks.Count; i++) // neighbours share words: each chunk starts inside the previous one
            Assert.Contains(" " + chunks[i].Split(' ')[0] + " ", " " + chunks[i - 1] + " ", StringComparison.Ordinal);
        Assert.Contains("word399", chunks[^1], StringComparison.Ordinal);
        // A single unbreakable run still terminates, cut at the size.
        Assert.All(chunker.Split(new string('x', 1000)), c => Assert.True(c.Length <= 200));
    }

    [Fact]
    public void Key_paths_with_alternatives_take_the_first_present()
    {
        var path = JsonPath.Parse("$.record.id | $.old_record.id");
        using var insert = JsonDocument.Parse("""{"type":"INSERT","record":{"id":7},"old_record":null}""");
        using var delete = JsonDocument.Parse("""{"type":"DELETE","record":null,"old_record":{"id":8}}""");
        Assert.Equal("7", path.Evaluate(insert.RootElement));
        Assert.Equal("8", path.Evaluate(delete.RootElement));
        Assert.False(JsonPath.TryParse("$.a | b", out _));
    }
}
