namespace EventSync.Connectors.Sync;

/// <summary>
/// The one form a markdown body is compared and stored in: what it looks like after a trip through Notion, so a body
/// we wrote to Notion and read back equals the one we wrote (the heart of echo suppression).
/// </summary>
public static class BodyText
{
    public static string Normalize(string body)
    {
        var text = body.Replace("\r\n", "\n", StringComparison.Ordinal).Trim('\n');
        return text.Length == 0 ? "" : text + "\n";
    }
}
