using System.Text;
using System.Text.RegularExpressions;

namespace EventSync.Connectors.Sync;

/// <summary>
/// Repository path globs as GitHub Actions writes them: <c>*</c> matches within one path segment, <c>**</c> any number
/// of segments, <c>?</c> one character. Paths are always relative and use '/'.
/// </summary>
public sealed class PathGlob
{
    private readonly Regex _regex;

    public PathGlob(string pattern)
    {
        Pattern = pattern;
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                // "**/" also matches no directory at all, so docs/**/*.md covers docs/a.md.
                var slash = i + 2 < pattern.Length && pattern[i + 2] == '/';
                sb.Append(slash ? "(?:.*/)?" : ".*");
                i += slash ? 2 : 1;
            }
            else if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else sb.Append(Regex.Escape(c.ToString()));
        }
        _regex = new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant);
        var firstWildcard = pattern.IndexOfAny(['*', '?']);
        var literal = firstWildcard < 0 ? pattern : pattern[..firstWildcard];
        Prefix = literal[..(literal.LastIndexOf('/') + 1)];
    }

    public string Pattern { get; }

    /// <summary>The directory part before the first wildcard ("docs/" for docs/**/*.md, "" for *.md).</summary>
    public string Prefix { get; }

    public bool IsMatch(string path) => _regex.IsMatch(path);

    public static bool MatchesAny(IReadOnlyList<string> globs, string path) => globs.Count == 0 || globs.Any(g => new PathGlob(g).IsMatch(path));
}
