namespace EventSync.Core.Configuration;

public enum ConnectionKind { GitHub, Notion, Website }

/// <summary>
/// An account on an external system (its API address and credentials). Sources read from it (to fetch what a webhook
/// only hints at) and sinks write to it, so one connection serves both directions of a two-way sync.
/// </summary>
public sealed class ConnectionOptions
{
    public required string Name { get; init; }
    public required ConnectionKind Kind { get; init; }
    /// <summary>API root; defaults to the public service (https://api.github.com, https://api.notion.com).</summary>
    public required Uri ApiUrl { get; init; }
    /// <summary>github: a token (GH_PAT); notion: the integration token; website: the API key. Never printed.</summary>
    public required string Token { get; init; }
    public GitHubConnectionOptions? GitHub { get; init; }
    public NotionConnectionOptions? Notion { get; init; }
    public WebsiteConnectionOptions? Website { get; init; }
}

public sealed class GitHubConnectionOptions
{
    /// <summary>owner/name of the repository this connection syncs.</summary>
    public required string Repository { get; init; }
    public string Branch { get; init; } = "main";
    public string AuthorName { get; init; } = "EventSync";
    public string AuthorEmail { get; init; } = "eventsync@users.noreply.github.com";
    /// <summary>Least time between two mutating requests: GitHub asks integrations to leave a second between them.</summary>
    public TimeSpan WriteInterval { get; init; } = TimeSpan.FromSeconds(1);
}

public sealed class NotionConnectionOptions
{
    /// <summary>Pinned API version: 2025-09-03 is the first with data sources (databases.query is deprecated).</summary>
    public string Version { get; init; } = "2025-09-03";
    /// <summary>Client-side pacing below Notion's average of 3 requests per second per integration.</summary>
    public double RequestsPerSecond { get; init; } = 3;
    /// <summary>How often the reconciliation poller looks for edits whose webhooks were late, merged or lost.</summary>
    public TimeSpan Reconcile { get; init; } = TimeSpan.FromMinutes(1);
}

public enum WebsiteUpsert { Put, Post }

public sealed class WebsiteConnectionOptions
{
    public WebsiteUpsert Upsert { get; init; } = WebsiteUpsert.Put;
}

/// <summary>
/// One kind of document and where it lives in each system: files under a path in the repository, pages of a Notion
/// data source, resources of a website collection. A document is linked across the systems by its id.
/// </summary>
public sealed class CollectionOptions
{
    public required string Name { get; init; }
    public GitHubPlacementOptions? GitHub { get; init; }
    public NotionPlacementOptions? Notion { get; init; }
    public WebsitePlacementOptions? Website { get; init; }
}

public enum DocumentFormat { Markdown, Yaml }

public sealed class GitHubPlacementOptions
{
    /// <summary>A glob such as agents/*.yaml or docs/**/*.md: the files of this collection.</summary>
    public required string Path { get; init; }

    /// <summary>By the glob's extension: .md files are markdown with front matter, .yaml files are mappings.</summary>
    public DocumentFormat Format => System.IO.Path.GetExtension(Path).ToLowerInvariant() is ".yaml" or ".yml" ? DocumentFormat.Yaml : DocumentFormat.Markdown;
}

public enum NewOptionPolicy { Create, Reject }

public sealed class NotionPlacementOptions
{
    public required string DataSource { get; init; }
    /// <summary>The page property holding the document's repository path: how a page finds its file (upsert key).</summary>
    public string KeyProperty { get; init; } = "GitHub Path";
    /// <summary>Document field -> Notion property name. The title property is mapped from the field "title" unless listed.</summary>
    public required IReadOnlyDictionary<string, string> Properties { get; init; }
    /// <summary>A select value Notion does not know yet: create the option, or park the job with a clear error.</summary>
    public NewOptionPolicy NewOptions { get; init; } = NewOptionPolicy.Create;
}

public sealed class WebsitePlacementOptions
{
    /// <summary>The API collection (URL segment), e.g. agents.</summary>
    public required string Collection { get; init; }
    /// <summary>The name the website uses in its events, e.g. agent.</summary>
    public required string Resource { get; init; }
}

public enum ConflictPreference { Newest, GitHub, Notion, Website }
