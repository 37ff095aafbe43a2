using EventSync.Connectors.GitHub;
using EventSync.Connectors.Notion;
using EventSync.Connectors.Website;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;

namespace EventSync.Connectors.Sync;

/// <summary>The document systems of a configuration, one per connection, each over its own API client.</summary>
public static class DocumentSystems
{
    public static IReadOnlyDictionary<string, IDocumentSystem> Create(EventSyncConfig config, IEventStore store, TimeProvider time, Func<HttpClient>? httpFactory = null)
    {
        var catalog = new DocumentCatalog(config.Collections);
        var systems = new Dictionary<string, IDocumentSystem>(StringComparer.Ordinal);
        foreach (var c in config.Connections.Values)
        {
            var http = httpFactory?.Invoke() ?? new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
            systems[c.Name] = c.Kind switch
            {
                ConnectionKind.GitHub => new GitHubDocuments(c, GitHubClientFor(c, http, time), catalog, store, time),
                ConnectionKind.Notion => new NotionDocuments(c, NotionClientFor(c, http, time), catalog, store),
                _ => new WebsiteDocuments(c, new WebsiteClient(http, new WebsiteClientOptions
                {
                    BaseUrl = c.ApiUrl, ApiKey = c.Token, Time = time,
                    UpsertMethod = c.Website!.Upsert == WebsiteUpsert.Post ? WebsiteUpsertMethod.Post : WebsiteUpsertMethod.Put,
                }), catalog, store),
            };
        }
        return systems;
    }

    public static GitHubClient GitHubClientFor(ConnectionOptions c, HttpClient http, TimeProvider time) =>
        new(http, new GitHubClientOptions { ApiUrl = c.ApiUrl, Token = c.Token, MinWriteInterval = c.GitHub!.WriteInterval, Time = time });

    public static NotionClient NotionClientFor(ConnectionOptions c, HttpClient http, TimeProvider time) =>
        new(http, new NotionClientOptions { ApiUrl = c.ApiUrl, Token = c.Token, Version = c.Notion!.Version, RequestsPerSecond = c.Notion.RequestsPerSecond, Time = time });
}
