using System.Text.Json.Nodes;
using EventSync.Connectors.Sync;
using EventSync.Core.Configuration;

namespace EventSync.Tests.DocsSync;

/// <summary>The pure parts of document sync: globs, ids, files, and the three-way merge.</summary>
public sealed class DocumentModelTests
{
    private static SyncDocument Doc(string body, params (string Key, string Value)[] fields) =>
        new(fields.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)JsonValue.Create(f.Value))), body);

    private static readonly Func<string, bool> All = _ => true;

    [Theory]
    [InlineData("docs/**/*.md", "docs/a.md", true)]
    [InlineData("docs/**/*.md", "docs/x/y/a.md", true)]
    [InlineData("docs/**/*.md", "docs/a.txt", false)]
    [InlineData("*.md", "README.md", true)]
    [InlineData("*.md", "docs/README.md", false)]
    [InlineData("agents/*.yaml", "agents/sub/a.yaml", false)]
    [InlineData("public/**", "public/img/logo.svg", true)]
    public void Globs_match_as_GitHub_Actions_path_filters_do(string glob, string path, bool expected) =>
        Assert.Equal(expected, new PathGlob(glob).IsMatch(path));

    [Theory]
    [InlineData("../etc/passwd")]
    [InlineData("docs/../../x.md")]
    [InlineData("/abs.md")]
    [InlineData("docs\\x.md")]
    [InlineData("docs//x.md")]
    [InlineData("docs/./x.md")]
    public void Unsafe_repository_paths_are_refused(string path) => Assert.False(DocumentCatalog.IsSafePath(path));

    [Fact]
    public void A_path_belongs_to_the_first_matching_collection_and_its_slug_round_trips_to_the_path()
    {
        var docs = new CollectionOptions { Name = "docs", GitHub = new GitHubPlacementOptions { Path = "docs/**/*.md" } };
        var pages = new CollectionOptions { Name = "pages", GitHub = new GitHubPlacementOptions { Path = "*.md" } };
        var catalog = new DocumentCatalog([docs, pages]);
        var (collection, slug) = catalog.LocatePath("docs/guides/setup.md")!.Value;
        Assert.Equal(("docs", "guides/setup"), (collection.Name, slug));
        Assert.Equal("docs/guides/setup.md", DocumentCatalog.PathFor(collection, slug));
        Assert.Equal("pages", catalog.LocatePath("README.md")!.Value.Collection.Name);
        Assert.Null(catalog.LocatePath("src/x.md"));
        Assert.Null(catalog.LocatePath("docs/../x.md"));
        Assert.Equal("guides--setup", DocumentCatalog.WebsiteId("guides/setup"));
        Assert.Equal("guides/setup", DocumentCatalog.SlugFromWebsiteId("guides--setup"));
        Assert.Equal("agent-registry-v2", DocumentCatalog.Slugify("  Agent Registry v2! "));
        Assert.Equal("1f8e6c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b", DocumentCatalog.NormalizeUuid("1F8E6C2A3B4D4E5F8A9B0C1D2E3F4A5B"));
    }

    [Fact]
    public void Files_keep_their_exact_text_where_nothing_changed_and_yaml_body_keys_hold_the_body()
    {
        const string md = "---\n# a comment\ntitle: 'Quoted'\ntags: [a, b]\n---\n\nBody *stays* as written.\n";
        var doc = DocumentFiles.Read(md, DocumentFormat.Markdown);
        Assert.Equal("Quoted", doc.Fields["title"].GetValue<string>());
        Assert.Equal(md, DocumentFiles.Write(doc, DocumentFormat.Markdown, md));

        var retitled = new SyncDocument(doc.Fields.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value.DeepClone())).Append(KeyValuePair.Create("status", (JsonNode?)"draft")), doc.Body);
        var written = DocumentFiles.Write(retitled, DocumentFormat.Markdown, md);
        Assert.EndsWith("---\n\nBody *stays* as written.\n", written, StringComparison.Ordinal); // body text untouched
        Assert.Equal("draft", DocumentFiles.Read(written, DocumentFormat.Markdown).Fields["status"].GetValue<string>());

        var yaml = DocumentFiles.Read("name: A\nbody: |\n  Hello\n", DocumentFormat.Yaml);
        Assert.Equal("Hello\n", yaml.Body);
        Assert.False(yaml.Fields.ContainsKey("body"));
        Assert.Throws<FormatException>(() => DocumentFiles.Read("---\n: : bad\n  - x\n---\nbody", DocumentFormat.Markdown));
    }

    [Fact]
    public void Only_what_the_source_changed_travels_and_what_the_target_changed_stays()
    {
        var baseDoc = Doc("Body\n", ("status", "active"), ("owner", "ana"));
        var source = Doc("Body\n", ("status", "retired"), ("owner", "ana"));
        var target = Doc("Body edited in target\n", ("status", "active"), ("owner", "ben"));
        var result = ThreeWayMerge.Merge(baseDoc, source, target, All, All, All);
        Assert.Empty(result.Conflicts);
        Assert.Equal("retired", result.Target.Fields["status"].GetValue<string>());
        Assert.Equal("ben", result.Target.Fields["owner"].GetValue<string>());
        Assert.Equal("Body edited in target\n", result.Target.Body);
        // The new base takes the source's change but not the target's, so the reverse flow still carries ben and the body.
        Assert.Equal("retired", result.NewBase.Fields["status"].GetValue<string>());
        Assert.Equal("ana", result.NewBase.Fields["owner"].GetValue<string>());
        Assert.Equal("Body\n", result.NewBase.Body);
    }

    [Fact]
    public void A_field_changed_differently_on_both_sides_is_a_conflict_decided_by_the_policy()
    {
        var baseDoc = Doc("B\n", ("status", "active"));
        var source = Doc("B\n", ("status", "retired"));
        var target = Doc("B\n", ("status", "paused"));
        var sourceWins = ThreeWayMerge.Merge(baseDoc, source, target, All, All, _ => true);
        var conflict = Assert.Single(sourceWins.Conflicts);
        Assert.Equal(("status", true, "paused"), (conflict.Field, conflict.SourceWon, conflict.Target!.GetValue<string>()));
        Assert.Equal("retired", sourceWins.Target.Fields["status"].GetValue<string>());
        var targetWins = ThreeWayMerge.Merge(baseDoc, source, target, All, All, _ => false);
        Assert.Equal("paused", targetWins.Target.Fields["status"].GetValue<string>());
        Assert.False(targetWins.TargetChanged);
        // The same change on both sides is no conflict.
        Assert.Empty(ThreeWayMerge.Merge(baseDoc, source, Doc("B\n", ("status", "retired")), All, All, All).Conflicts);
    }

    [Fact]
    public void Fields_a_system_cannot_hold_are_neither_changed_by_it_nor_written_to_it()
    {
        var baseDoc = Doc("B\n", ("status", "active"), ("capabilities", "search"));
        var fromNotion = Doc("B\n", ("status", "paused")); // Notion does not hold capabilities: its absence is no deletion
        var github = Doc("B\n", ("status", "active"), ("capabilities", "search"));
        var result = ThreeWayMerge.Merge(baseDoc, fromNotion, github, f => f != "capabilities", All, All);
        Assert.Equal("search", result.Target.Fields["capabilities"].GetValue<string>());
        Assert.Equal("paused", result.Target.Fields["status"].GetValue<string>());
    }

    [Fact]
    public void Values_compare_equal_across_YAML_Notion_and_JSON_spellings()
    {
        var a = new SyncDocument([KeyValuePair.Create("n", (JsonNode?)JsonValue.Create(3)), KeyValuePair.Create("b", (JsonNode?)JsonValue.Create(true)), KeyValuePair.Create("e", (JsonNode?)"")], "x");
        var b = new SyncDocument([KeyValuePair.Create("n", (JsonNode?)"3"), KeyValuePair.Create("b", (JsonNode?)"true")], "x\n");
        Assert.Equal(a.ToSnapshot(), b.ToSnapshot());
        Assert.Equal(a.Hash(), SyncDocument.FromSnapshot(b.ToSnapshot()).Hash());
    }
}
