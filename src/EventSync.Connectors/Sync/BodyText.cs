using EventSync.Connectors.Notion.Markdown;

namespace EventSync.Connectors.Sync;

/// <summary>
/// The one form a markdown body is compared and stored in: what it looks like after a trip through Notion. A body we
/// wrote to Notion and read back then equals the one we wrote even when the file spelled it differently (<c>*</c>
/// bullets, <c>__bold__</c>), so an echo is recognised and a user's file is never rewritten just to reformat it.
/// </summary>
public static class BodyText
{
    public static string Normalize(string body)
    {
        var text = body.Replace("\r\n", "\n", StringComparison.Ordinal).Trim('\n');
        return text.Length == 0 ? "" : NotionMarkdown.Canonicalize(text + "\n");
    }
}
