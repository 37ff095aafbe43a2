using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSync.Connectors.GitHub;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;

namespace EventSync.Connectors.Sync;

/// <summary>
/// The repository side: documents are files on one branch. Changes come from the compare API between the last synced
/// commit and the pushed one (never from the push payload's file lists); writes are one commit per job.
/// </summary>
public sealed class GitHubDocuments(ConnectionOptions connection, GitHubClient client, DocumentCatalog catalog, IEventStore store, TimeProvider time) : IDocumentSystem
{
    private readonly GitHubConnectionOptions _options = connection.GitHub!;

    public string Name => connection.Name;
    public ConnectionKind Kind => ConnectionKind.GitHub;
    public string Repository => _options.Repository;
    public string Branch => _options.Branch;

    public bool Places(CollectionOptions collection) => collection.GitHub is not null;

    public bool Holds(CollectionOptions collection, string field) => true;

    public async Task<HeldDocument?> ReadAsync(DocumentRef document, CancellationToken cancellationToken)
    {
        var path = document.ExternalId ?? DocumentCatalog.PathFor(document.Collection, document.Slug);
        var file = await client.GetFileAsync(_options.Repository, path, _options.Branch, cancellationToken);
        if (file is null) return null;
        return new HeldDocument(Parse(file.Text, document.Collection, path), path, file.Text);
    }

    private static SyncDocument Parse(string text, CollectionOptions collection, string path)
    {
        try { return DocumentFiles.Read(text, collection.GitHub!.Format); }
        catch (FormatException e) { throw new DocumentSyncException($"{path}: {e.Message}; fix the file in the repository"); }
    }

    private string CursorName(string flow) => $"flow:{flow}:github:{_options.Repository}:{_options.Branch}";

    public async Task<IReadOnlyList<SourceChange>> ChangesAsync(FlowOptions flow, SinkDelivery delivery, CancellationToken cancellationToken)
    {
        var pushes = delivery.Events.Where(e => e.EventType == "push").Select(e => (Event: e, Json: JsonNode.Parse(e.Payload)!.AsObject())).ToList();
        var changes = new List<SourceChange>();
        foreach (var release in delivery.Events.Where(e => e.EventType.StartsWith("release.", StringComparison.Ordinal)))
            if (ReleaseChange(release) is { } r) changes.Add(r);
        if (pushes.Count == 0) return changes;

        var newest = pushes[^1].Json;
        if (newest["deleted"]?.GetValue<bool>() == true) return changes; // a deleted branch leaves the documents where they are
        var head = newest["after"]?.GetValue<string>() ?? throw new DocumentSyncException("push event without 'after'");
        var baseSha = await store.GetCursorAsync(CursorName(flow.Name), cancellationToken) ?? pushes[0].Json["before"]?.GetValue<string>();
        if (baseSha is not null && baseSha.All(c => c == '0')) baseSha = null;
        var diff = await client.GetChangesAsync(_options.Repository, baseSha, head, cancellationToken);
        foreach (var file in diff.Changes)
        {
            if (!DocumentCatalog.IsSafePath(file.Path) || (file.PreviousPath is not null && !DocumentCatalog.IsSafePath(file.PreviousPath)))
                throw new DocumentSyncException($"refusing unsafe repository path '{file.Path}'");
            if (!PathGlob.MatchesAny(flow.Paths, file.Path) && (file.PreviousPath is null || !PathGlob.MatchesAny(flow.Paths, file.PreviousPath))) continue;
            var located = catalog.LocatePath(file.Path);
            if (file.Kind == GitChangeKind.Removed)
            {
                if (located is { } gone) changes.Add(new SourceChange(gone.Collection, gone.Slug, file.Path, null, Detail: "removed"));
                continue;
            }
            if (located is not { } at)
            {
                // Renamed out of every collection: the document is gone from the repository's point of view.
                if (file.PreviousPath is not null && catalog.LocatePath(file.PreviousPath) is { } old)
                    changes.Add(new SourceChange(old.Collection, old.Slug, file.PreviousPath, null, Detail: "renamed away"));
                continue;
            }
            var content = await client.GetFileAsync(_options.Repository, file.Path, diff.HeadSha, cancellationToken);
            if (content is null) continue; // gone again at the head we read: a later push will say so
            var author = newest["head_commit"]?["timestamp"]?.GetValue<string>();
            var edited = DateTimeOffset.TryParse(author, out var t) ? t : (DateTimeOffset?)null;
            var doc = DocumentFiles.Read(content.Text, at.Collection.GitHub!.Format, edited);
            changes.Add(new SourceChange(at.Collection, at.Slug, file.Path, doc, file.Kind == GitChangeKind.Renamed ? file.PreviousPath : null, file.Kind.ToString().ToLowerInvariant()));
        }
        return changes;
    }

    /// <summary>A published release becomes a document of the collection placed at website resource "release", if one is configured.</summary>
    private SourceChange? ReleaseChange(StoredEvent e)
    {
        if (e.EventType != "release.published" || catalog.ByWebsiteResource("release") is not { } collection) return null;
        var release = JsonNode.Parse(e.Payload)?["release"];
        var tag = release?["tag_name"]?.GetValue<string>();
        if (tag is null) return null;
        var fields = new Dictionary<string, JsonNode?>
        {
            ["title"] = release!["name"]?.DeepClone() ?? tag, ["tag"] = tag, ["published_at"] = release["published_at"]?.DeepClone(),
            ["url"] = release["html_url"]?.DeepClone(), ["prerelease"] = release["prerelease"]?.DeepClone(),
        };
        return new SourceChange(collection, DocumentCatalog.Slugify(tag), "release:" + tag, new SyncDocument(fields, release["body"]?.GetValue<string>() ?? ""), Detail: "release published");
    }

    public async Task CompleteAsync(FlowOptions flow, SinkDelivery delivery, CancellationToken cancellationToken)
    {
        var newest = delivery.Events.LastOrDefault(e => e.EventType == "push");
        if (newest is null) return;
        using var json = JsonDocument.Parse(newest.Payload);
        if (json.RootElement.TryGetProperty("after", out var after) && after.GetString() is { } head && !head.All(c => c == '0'))
            await store.SetCursorAsync(CursorName(flow.Name), head, time.GetUtcNow(), cancellationToken);
    }

    public async Task<WriteOutcome> WriteAsync(IReadOnlyList<DocumentWrite> writes, SyncContext context, CancellationToken cancellationToken)
    {
        var files = new List<GitWrite>();
        var ids = new Dictionary<string, string>();
        var touched = new List<string>();
        foreach (var w in writes)
        {
            var path = w.Document.ExternalId ?? DocumentCatalog.PathFor(w.Document.Collection, w.Document.Slug);
            if (!DocumentCatalog.IsSafePath(path)) throw new DocumentSyncException($"refusing unsafe repository path '{path}'");
            files.Add(new GitWrite(path, w.Content is null ? null : DocumentFiles.Write(w.Content, w.Document.Collection.GitHub!.Format, w.Current?.RawText)));
            ids[w.Document.DocumentId] = path;
            touched.Add(path);
        }
        var message = new StringBuilder()
            .Append(writes.Count == 1 ? $"Sync {touched[0]}" : $"Sync {writes.Count} documents")
            .Append(" from ").Append(context.Flow).Append("\n\n")
            .AppendJoin('\n', touched.Select(p => "- " + p)).Append("\n\n")
            .Append(context.Trailer).Append("\nEventSync-Written-By: eventsync").ToString();
        var sha = await client.CommitAsync(_options.Repository, _options.Branch, files, message, new GitIdentity(_options.AuthorName, _options.AuthorEmail), cancellationToken);
        return new WriteOutcome(ids, touched.Select(p => $"github:{_options.Repository}@{sha[..Math.Min(7, sha.Length)]}:{p}").ToList());
    }
}
