using EventSync.Core.Vectors;

namespace EventSync.Tests.Embeddings;

public sealed class LocalEmbedderTests
{
    [Fact]
    public void The_same_text_gives_the_same_vector_in_any_instance()
    {
        var a = new LocalEmbedder(256).Embed("Invoice 42 for ACME Corp, due in March");
        var b = new LocalEmbedder(256).Embed("Invoice 42 for ACME Corp, due in March");
        Assert.Equal(a, b);
    }

    [Theory]
    [InlineData("one")]
    [InlineData("a longer text with many words, some of them repeated: words, words, words")]
    public void Vectors_have_unit_length(string text)
    {
        Assert.Equal(1.0, Norm(new LocalEmbedder().Embed(text)), 4);
    }

    [Fact]
    public void A_text_is_nearer_to_one_sharing_words_than_to_an_unrelated_one()
    {
        var embedder = new LocalEmbedder();
        var query = embedder.Embed("refund for a damaged parcel");
        var related = embedder.Embed("customer asks for a refund because the parcel arrived damaged");
        var unrelated = embedder.Embed("quarterly board meeting agenda and minutes");
        Assert.True(Dot(query, related) > Dot(query, unrelated) + 0.2, $"related {Dot(query, related):0.###}, unrelated {Dot(query, unrelated):0.###}");
    }

    [Fact]
    public void Accents_and_case_are_folded()
    {
        var embedder = new LocalEmbedder();
        Assert.Equal(embedder.Embed("cafe creme"), embedder.Embed("Café Crème"));
    }

    [Fact]
    public async Task Dimensions_are_respected_and_bounded()
    {
        var embedder = new LocalEmbedder(100);
        Assert.Equal(100, embedder.Dimensions);
        var vectors = await embedder.EmbedAsync(["alpha", "beta", "gamma"], CancellationToken.None);
        Assert.Equal(3, vectors.Count);
        Assert.All(vectors, v => Assert.Equal(100, v.Length));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalEmbedder(8));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalEmbedder(5000));
    }

    internal static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();

    internal static double Norm(float[] v) => Math.Sqrt(Dot(v, v));
}
