using System.Text;
using EventSync.Core.Configuration;

namespace EventSync.Connectors.Sync;

/// <summary>Where a document of a collection lives in each system, and its one id across them ("agents/agent-123").</summary>
public sealed class DocumentCatalog(IReadOnlyList<CollectionOptions> collections)
{
    private readonly (CollectionOptions Collection, PathGlob Glob)[] _globs = collections
        .Where(c => c.GitHub is not null).Select(c => (c, new PathGlob(c.GitHub!.Path))).ToArray();

    public IReadOnlyList<CollectionOptions> Collections { get; } = collections;

    public CollectionOptions? Find(string name) => Collections.FirstOrDefault(c => c.Name == name);

    public static string DocumentId(CollectionOptions collection, string slug) => $"{collection.Name}/{slug}";

    /// <summary>The collection and slug of a document id, or null for an id of no configured collection.</summary>
    public (CollectionOptions Collection, string Slug)? ParseDocumentId(string documentId)
    {
        var slash = documentId.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || Find(documentId[..slash]) is not { } c) return null;
        return (c, documentId[(slash + 1)..]);
    }

    /// <summary>The collection a repository path belongs to (the first whose glob matches) and the document's slug.</summary>
    public (CollectionOptions Collection, string Slug)? LocatePath(string path)
    {
        if (!IsSafePath(path)) return null;
        foreach (var (c, glob) in _globs)
            if (glob.IsMatch(path))
            {
                var rest = path[glob.Prefix.Length..];
                var dot = rest.LastIndexOf('.');
                return (c, dot > 0 ? rest[..dot] : rest);
            }
        return null;
    }

    /// <summary>The repository path a document of the collection gets when it is first written to GitHub.</summary>
    public static string PathFor(CollectionOptions collection, string slug)
    {
        var glob = new PathGlob(collection.GitHub!.Path);
        return glob.Prefix + slug + Path.GetExtension(collection.GitHub.Path);
    }

    public CollectionOptions? ByDataSource(string dataSourceId) =>
        Collections.FirstOrDefault(c => c.Notion is { } n && NormalizeUuid(n.DataSource) == NormalizeUuid(dataSourceId));

    public CollectionOptions? ByWebsiteResource(string resource) =>
        Collections.FirstOrDefault(c => c.Website is { } w && (w.Resource == resource || w.Collection == resource));

    /// <summary>Website ids are one URL segment: the slug's '/' becomes "--".</summary>
    public static string WebsiteId(string slug) => slug.Replace("/", "--", StringComparison.Ordinal);

    public static string SlugFromWebsiteId(string id) => id.Replace("--", "/", StringComparison.Ordinal);

    /// <summary>A file-name-safe slug from a title: "Agent Registry v2!" -> "agent-registry-v2".</summary>
    public static string Slugify(string title)
    {
        var sb = new StringBuilder();
        foreach (var ch in title.Trim().ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(ch)) sb.Append(ch);
            else if (sb.Length > 0 && sb[^1] != '-') sb.Append('-');
        }
        var slug = sb.ToString().Trim('-');
        return slug.Length == 0 ? "untitled" : slug.Length > 80 ? slug[..80].TrimEnd('-') : slug;
    }

    /// <summary>Relative, no "..", no backslashes or control characters: a path from a webhook can never escape the repository.</summary>
    public static bool IsSafePath(string path) =>
        path.Length is > 0 and < 1024 && !path.StartsWith('/') && !path.Contains('\\', StringComparison.Ordinal) && !path.Any(char.IsControl)
        && path.Split('/').All(segment => segment.Length > 0 && segment is not ("." or ".."));

    public static string NormalizeUuid(string id)
    {
        var hex = new string(id.Where(char.IsAsciiHexDigit).ToArray()).ToLowerInvariant();
        if (hex.Length < 32) return id.ToLowerInvariant();
        hex = hex[^32..];
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }
}
