
namespace EventSync.Core.Configuration;

// The connections and document collections of the GitHub, Notion and website connectors.
public sealed partial class ConfigLoader
{
    private IReadOnlyDictionary<string, ConnectionOptions> _connections = new Dictionary<string, ConnectionOptions>();

    private ConnectionOptions? BindConnection(MapReader m, string name)
    {
        const string kinds = "use one of: github, notion, website";
        var kindText = m.String("kind", required: true, fix: kinds);
        ConnectionKind? kind = kindText switch { "github" => ConnectionKind.GitHub, "notion" => ConnectionKind.Notion, "website" => ConnectionKind.Website, _ => null };
        if (kindText is not null && kind is null)
            Problem(m.NodeOf("kind"), m.Path + ".kind", $"unknown connection kind '{kindText}'", kinds);
        var tokenKey = kind == ConnectionKind.Website ? "apiKey" : "token";
        var tokenFix = kind switch
        {
            ConnectionKind.GitHub => "set token: ${GH_PAT} (a token with contents:write on the repository)",
            ConnectionKind.Notion => "set token: ${NOTION_API_KEY} (the integration's secret)",
            _ => "set apiKey: ${WEBSITE_API_KEY}",
        };
        var token = m.String(tokenKey, required: kind is not null, fix: tokenFix);
        var defaultUrl = kind switch { ConnectionKind.GitHub => "https://api.github.com", ConnectionKind.Notion => "https://api.notion.com", _ => null };
        var urlKey = kind == ConnectionKind.Website ? "url" : "apiUrl";
        var urlText = m.String(urlKey, required: kind == ConnectionKind.Website, fix: "set url: ${WEBSITE_API_URL} (the website API's base URL)") ?? defaultUrl;
        Uri? url = null;
        if (urlText is not null && (!Uri.TryCreate(urlText, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https")))
        {
            Problem(m.NodeOf(urlKey), m.Path + "." + urlKey, $"'{urlText}' is not an absolute http(s) URL", "write it like https://api.example.com");
            url = null;
        }

        GitHubConnectionOptions? github = null;
        NotionConnectionOptions? notion = null;
        WebsiteConnectionOptions? website = null;
        switch (kind)
        {
            case ConnectionKind.GitHub:
                var repository = m.String("repository", required: true, fix: "set repository: owner/name");
                if (repository is not null && !RepositoryRegex().IsMatch(repository))
                    Problem(m.NodeOf("repository"), m.Path + ".repository", $"'{repository}' is not owner/name", "write repository: acme/docs");
                var gd = new GitHubConnectionOptions { Repository = "" };
                var author = m.Map("author");
                var writeInterval = m.Duration("writeInterval", gd.WriteInterval);
                if (writeInterval < TimeSpan.Zero || writeInterval > TimeSpan.FromMinutes(1))
                    Problem(m.NodeOf("writeInterval"), m.Path + ".writeInterval", "writeInterval must be from 0s to 1m", "GitHub asks for about 1s between writes: write writeInterval: 1s");
                github = new GitHubConnectionOptions
                {
                    Repository = repository ?? "", Branch = m.String("branch") ?? gd.Branch,
                    AuthorName = author?.String("name") ?? gd.AuthorName, AuthorEmail = author?.String("email") ?? gd.AuthorEmail,
                    WriteInterval = writeInterval,
                };
                author?.ReportUnknownKeys();
                break;
            case ConnectionKind.Notion:
                var nd = new NotionConnectionOptions();
                var version = m.String("version") ?? nd.Version;
                if (string.CompareOrdinal(version, "2025-09-03") < 0)
                    Problem(m.NodeOf("version"), m.Path + ".version", $"Notion-Version {version} predates data sources", "use 2025-09-03 or later: older versions break once a database gains a second data source");
                var rate = m.Double("requestsPerSecond", nd.RequestsPerSecond);
                if (rate is <= 0 or > 50)
                    Problem(m.NodeOf("requestsPerSecond"), m.Path + ".requestsPerSecond", "requestsPerSecond must be above 0 and at most 50", "Notion allows about 3 per second per integration: write requestsPerSecond: 3");
                var reconcile = m.Duration("reconcile", nd.Reconcile);
                if (reconcile < TimeSpan.FromSeconds(1))
                    Problem(m.NodeOf("reconcile"), m.Path + ".reconcile", "reconcile must be at least 1s", "write e.g. reconcile: 1m (webhooks do the real work)");
                notion = new NotionConnectionOptions { Version = version, RequestsPerSecond = rate, Reconcile = reconcile };
                break;
            case ConnectionKind.Website:
                var upsertText = m.String("upsert") ?? "put";
                WebsiteUpsert? upsert = upsertText switch { "put" => WebsiteUpsert.Put, "post" => WebsiteUpsert.Post, _ => null };
                if (upsert is null)
                    Problem(m.NodeOf("upsert"), m.Path + ".upsert", $"'{upsertText}' is not an upsert method", "write upsert: put (PUT {collection}/{id}) or upsert: post (POST {collection}, PUT on 409)");
                website = new WebsiteConnectionOptions { Upsert = upsert ?? WebsiteUpsert.Put };
                break;
        }
        _ = Ignore<object>(m, null, "repository", "branch", "author", "writeInterval", "version", "requestsPerSecond", "reconcile", "upsert", "token", "apiKey", "apiUrl", "url");
        if (kind is null || token is null || url is null) return null;
        return new ConnectionOptions { Name = name, Kind = kind.Value, ApiUrl = url, Token = token, GitHub = github, Notion = notion, Website = website };
    }

    private CollectionOptions? BindCollection(MapReader m, string name)
    {
        GitHubPlacementOptions? github = null;
        if (m.Map("github") is { } g)
        {
            var path = g.String("path", required: true, fix: "set path: a glob like agents/*.yaml or docs/**/*.md");
            if (path is not null)
            {
                var ext = Path.GetExtension(path).ToLowerInvariant();
                DocumentFormat? format = ext switch { ".md" or ".markdown" => DocumentFormat.Markdown, ".yaml" or ".yml" => DocumentFormat.Yaml, _ => null };
                if (format is null || path.StartsWith('/') || path.Contains("..", StringComparison.Ordinal))
                    Problem(g.NodeOf("path"), g.Path + ".path", $"'{path}' is not a relative glob ending in .md or .yaml", "write e.g. path: agents/*.yaml or path: docs/**/*.md");
                else github = new GitHubPlacementOptions { Path = path };
            }
            g.ReportUnknownKeys();
        }
        NotionPlacementOptions? notion = null;
        if (m.Map("notion") is { } n)
        {
            var dataSource = n.String("dataSource", required: true, fix: "set dataSource: ${AGENT_REGISTRY_DB_ID} (the data source id, from GET /v1/databases/{id})");
            var properties = new Dictionary<string, string>(StringComparer.Ordinal);
            if (n.Map("properties") is { } p)
            {
                foreach (var (field, child) in p.Entries())
                {
                    var notionName = p.String(field);
                    if (child is not null || notionName is null)
                        Problem(p.NodeOf(field), p.Path + "." + field, $"'{field}' must name one Notion property", $"write {field}: Property Name");
                    else properties[field] = notionName;
                }
                p.ReportUnknownKeys();
            }
            var policyText = n.String("newOptions") ?? "create";
            NewOptionPolicy? policy = policyText switch { "create" => NewOptionPolicy.Create, "reject" => NewOptionPolicy.Reject, _ => null };
            if (policy is null)
                Problem(n.NodeOf("newOptions"), n.Path + ".newOptions", $"'{policyText}' is not create or reject", "write newOptions: create (add unknown select options) or reject (park the job)");
            var keyProperty = n.String("keyProperty") ?? "GitHub Path";
            if (dataSource is not null)
                notion = new NotionPlacementOptions { DataSource = dataSource, KeyProperty = keyProperty, Properties = properties, NewOptions = policy ?? NewOptionPolicy.Create };
            n.ReportUnknownKeys();
        }
        WebsitePlacementOptions? website = null;
        if (m.Map("website") is { } w)
        {
            var collection = w.String("collection") ?? name;
            var resource = w.String("resource") ?? (collection.EndsWith('s') ? collection[..^1] : collection);
            if (!NameRegex().IsMatch(collection) || !NameRegex().IsMatch(resource))
                Problem(w.Node, w.Path, $"'{collection}' / '{resource}' are not URL-safe names", "use letters, digits, '-' and '_' for collection and resource");
            else website = new WebsitePlacementOptions { Collection = collection, Resource = resource };
            w.ReportUnknownKeys();
        }
        if (!m.Has("github") && !m.Has("notion") && !m.Has("website"))
        {
            Problem(m.Node, m.Path, $"collection '{name}' is placed nowhere", "add at least one of github: { path: ... }, notion: { dataSource: ... }, website: { collection: ... }");
            return null;
        }
        if (github is null && notion is null && website is null) return null; // their problems are reported
        return new CollectionOptions { Name = name, GitHub = github, Notion = notion, Website = website };
    }

    /// <summary>Cross-checks after everything is bound: references resolve and kinds agree.</summary>
    private void CheckConnectorReferences(IReadOnlyDictionary<string, SourceOptions> sources, IReadOnlyDictionary<string, SinkOptions> sinks, IReadOnlyList<FlowOptions> flows, IReadOnlyList<CollectionOptions> collections)
    {
        foreach (var s in sources.Values.Where(s => s.Connection is not null))
            if (!_connections.ContainsKey(s.Connection!))
                Problem(null, $"sources.{s.Name}.connection", $"connection '{s.Connection}' is not defined", "define it under connections: or remove the key");
        foreach (var s in sinks.Values.Where(s => s.Kind is SinkKind.GitHub or SinkKind.Notion or SinkKind.Website or SinkKind.GitHubDispatch))
        {
            var expected = s.Kind switch { SinkKind.Notion => ConnectionKind.Notion, SinkKind.Website => ConnectionKind.Website, _ => ConnectionKind.GitHub };
            if (s.Connection is null || !_connections.TryGetValue(s.Connection, out var c))
                Problem(null, $"sinks.{s.Name}.connection", $"connection '{s.Connection}' is not defined", $"define a {expected.ToString().ToLowerInvariant()} connection under connections: and name it here");
            else if (c.Kind != expected)
                Problem(null, $"sinks.{s.Name}.connection", $"connection '{s.Connection}' is a {c.Kind.ToString().ToLowerInvariant()} connection", $"a {s.Kind.ToString().ToLowerInvariant()} sink needs a {expected.ToString().ToLowerInvariant()} connection");
        }
        foreach (var f in flows)
        {
            if (!sinks.TryGetValue(f.To, out var sink) || sink.Kind is not (SinkKind.GitHub or SinkKind.Notion or SinkKind.Website)) continue;
            if (!sources.TryGetValue(f.From, out var source) || source.Connection is null)
                Problem(null, $"flows.{f.Name}.from", $"flow '{f.Name}' syncs documents into '{f.To}' but source '{f.From}' names no connection to read them from", $"add connection: <name> to sources.{f.From}");
            else if (_connections.TryGetValue(source.Connection, out var from) && sink.Connection is not null && _connections.TryGetValue(sink.Connection, out var to) && from.Kind == to.Kind)
                Problem(null, $"flows.{f.Name}", $"flow '{f.Name}' reads and writes {from.Kind.ToString().ToLowerInvariant()}", "a document flow goes from one system to another");
            if (collections.Count == 0)
                Problem(null, $"flows.{f.Name}", $"flow '{f.Name}' syncs documents but no collections are defined", "define collections: (which repository paths, Notion data sources and website collections hold documents)");
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    private static partial System.Text.RegularExpressions.Regex RepositoryRegex();

}
