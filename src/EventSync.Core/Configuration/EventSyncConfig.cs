namespace EventSync.Core.Configuration;

/// <summary>The whole validated configuration. Built only by <see cref="ConfigLoader"/>, so every instance is valid.</summary>
public sealed class EventSyncConfig
{
    public required StoreLocation Store { get; init; }
    public required ServerOptions Server { get; init; }
    public required IReadOnlyDictionary<string, SourceOptions> Sources { get; init; }
    public required IReadOnlyDictionary<string, SinkOptions> Sinks { get; init; }
    public required IReadOnlyList<FlowOptions> Flows { get; init; }
    public required WorkerOptions Workers { get; init; }
    public required RetentionOptions Retention { get; init; }
    public IReadOnlyDictionary<string, ConnectionOptions> Connections { get; init; } = new Dictionary<string, ConnectionOptions>();
    /// <summary>Document collections in match order: a repository path belongs to the first whose glob matches.</summary>
    public IReadOnlyList<CollectionOptions> Collections { get; init; } = [];
    public TelemetryOptions Telemetry { get; init; } = new();

    /// <summary>Where the configuration came from (a file path, or "defaults").</summary>
    public string Origin { get; init; } = "defaults";

    public FlowOptions? FindFlow(string name) => Flows.FirstOrDefault(f => f.Name == name);

    /// <summary>The same configuration with one flow only: what `eventsync run FLOW` routes and runs.</summary>
    public EventSyncConfig WithOnlyFlow(FlowOptions flow) => new()
    {
        Store = Store, Server = Server, Sources = Sources, Sinks = Sinks, Flows = [flow], Workers = Workers, Retention = Retention,
        Connections = Connections, Collections = Collections, Origin = Origin, Telemetry = Telemetry,
    };
}

public enum StoreKind { Sqlite, Postgres }

public sealed record StoreLocation(StoreKind Kind, string ConnectionString)
{
    public const string Default = "sqlite:./eventsync.db";

    public static bool TryParse(string value, out StoreLocation? location, out string error)
    {
        location = null;
        error = "";
        var colon = value.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon > 0 ? value[..colon].Trim().ToLowerInvariant() : "";
        var rest = colon > 0 ? value[(colon + 1)..].Trim() : "";
        switch (scheme)
        {
            case "sqlite" when rest.Length > 0:
                location = new StoreLocation(StoreKind.Sqlite, rest);
                return true;
            case "postgres" or "postgresql" when rest.Length > 0:
                location = new StoreLocation(StoreKind.Postgres, rest);
                return true;
            default:
                error = $"'{value}' is not a store location";
                return false;
        }
    }

    /// <summary>A description safe to print: PostgreSQL passwords are masked.</summary>
    public string Describe() => Kind == StoreKind.Sqlite
        ? $"sqlite:{ConnectionString}"
        : "postgres:" + System.Text.RegularExpressions.Regex.Replace(ConnectionString, "(?i)(password|pwd)\\s*=\\s*[^;]*", "$1=***");
}

public sealed class ServerOptions
{
    public IReadOnlyList<string> Urls { get; init; } = ["http://127.0.0.1:5080"];
    public string? AdminToken { get; init; }
    /// <summary>Most webhooks committed in one store transaction (group commit).</summary>
    public int IngestBatchSize { get; init; } = 512;
    public LogFormat LogFormat { get; init; } = LogFormat.Text;
}

public enum SourceKind { GitHub, Notion, Supabase, StandardWebhooks, Postgres, Website }

public sealed class SourceOptions
{
    public const long DefaultMaxBodyBytes = 5 * 1024 * 1024;

    public required string Name { get; init; }
    public required SourceKind Kind { get; init; }
    /// <summary>github: the webhook secret; standard-webhooks: the whsec_ secret.</summary>
    public string? Secret { get; init; }
    /// <summary>notion: the verification token (also the signing key). Optional until the handshake is done.</summary>
    public string? VerificationToken { get; init; }
    /// <summary>supabase: the shared secret expected in <see cref="SecretHeader"/>.</summary>
    public string? SharedSecret { get; init; }
    /// <summary>supabase: the header carrying the shared secret; "Authorization" means "Bearer &lt;secret&gt;".</summary>
    public string SecretHeader { get; init; } = "Authorization";
    public long MaxBodyBytes { get; init; } = DefaultMaxBodyBytes;
    public RateLimitOptions RateLimit { get; init; } = new();
    /// <summary>standard-webhooks: how far webhook-timestamp may be from now.</summary>
    public TimeSpan TimestampTolerance { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>postgres: the database whose outbox this source drains.</summary>
    public PostgresCaptureOptions? Capture { get; init; }
    /// <summary>The connection whose API holds what this source's events are about (github, notion, website).</summary>
    public string? Connection { get; init; }
}

/// <summary>A table captured through the transactional outbox that `eventsync pg install` puts in the user's database.</summary>
public sealed class PostgresCaptureOptions
{
    public required string Connection { get; init; }
    /// <summary>Schema-qualified table, e.g. public.projects.</summary>
    public required string Table { get; init; }
    /// <summary>Schema holding the outbox table and trigger function.</summary>
    public string OutboxSchema { get; init; } = "eventsync";
    /// <summary>Safety net only: NOTIFY wakes the drain at once; this catches a notification lost with a dropped connection.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMinutes(1);
}

public sealed class RateLimitOptions
{
    /// <summary>Sustained requests per second accepted for one source; 0 turns the limit off.</summary>
    public int PerSecond { get; init; } = 2000;
    /// <summary>Requests allowed in a burst above the sustained rate.</summary>
    public int Burst { get; init; } = 4000;
}

public enum SinkKind { Webhook, Log, Noop, Vectors, GitHub, Notion, Website, GitHubDispatch }

public sealed class SinkOptions
{
    public required string Name { get; init; }
    public required SinkKind Kind { get; init; }
    public Uri? Url { get; init; }
    public string? Secret { get; init; }
    /// <summary>Most jobs running against this sink at once.</summary>
    public int Concurrency { get; init; } = 8;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>vectors: what to embed and where to read it.</summary>
    public VectorSinkOptions? Vectors { get; init; }
    /// <summary>github, notion, website, github-dispatch: the connection written to.</summary>
    public string? Connection { get; init; }
    /// <summary>github-dispatch: the repository_dispatch event_type sent (e.g. notion-webhook).</summary>
    public string? EventType { get; init; }
}

/// <summary>Keeps a tenant-partitioned embedding index of a PostgreSQL table fresh; rows are re-read by key at run time.</summary>
public sealed class VectorSinkOptions
{
    /// <summary>Connection to the database holding <see cref="Table"/> (Npgsql keywords or a postgres:// URL).</summary>
    public required string Database { get; init; }
    public required string Table { get; init; }
    public string KeyColumn { get; init; } = "id";
    /// <summary>Column holding the tenant; without one every row belongs to tenant "default".</summary>
    public string? TenantColumn { get; init; }
    public required string Template { get; init; }
    public int ChunkSize { get; init; } = 1000;
    public int ChunkOverlap { get; init; } = 100;
    public EmbedderOptions Embedder { get; init; } = new();
    /// <summary>Also keep the vectors in this table of the user's database (pgvector's vector type when installed, else real[]).</summary>
    public string? WriteThroughTable { get; init; }
}

public enum EmbedderKind { Local, OpenAi }

public sealed class EmbedderOptions
{
    public EmbedderKind Kind { get; init; } = EmbedderKind.Local;
    public string? Model { get; init; }
    public int Dimensions { get; init; } = 384;
    /// <summary>openai: e.g. https://api.openai.com/v1, http://127.0.0.1:11434/v1 (Ollama).</summary>
    public Uri? BaseUrl { get; init; }
    /// <summary>openai: the environment variable holding the API key (the key itself never sits in the file).</summary>
    public string? ApiKeyEnv { get; init; }
    /// <summary>The key read from <see cref="ApiKeyEnv"/> when the configuration was loaded; never printed.</summary>
    public string? ApiKey { get; init; }
    public int BatchSize { get; init; } = 64;
    public bool SendDimensions { get; init; } = true;
}

public sealed class FlowOptions
{
    public required string Name { get; init; }
    public required string From { get; init; }
    public required IReadOnlyList<string> Events { get; init; }
    public required string Key { get; init; }
    public required string To { get; init; }
    public TimeSpan Settle { get; init; }
    /// <summary>A debounced job runs no later than this after its first event.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMinutes(5);
    public RetryOptions Retry { get; init; } = new();
    /// <summary>github sources: the branches whose pushes this flow takes (empty = all).</summary>
    public IReadOnlyList<string> Branches { get; init; } = [];
    /// <summary>github sources: path globs a change must touch (empty = all); files outside them are not synced.</summary>
    public IReadOnlyList<string> Paths { get; init; } = [];
    /// <summary>Which side wins when both changed the same field since the last sync; the loser is kept as a conflict record.</summary>
    public ConflictPreference Prefer { get; init; } = ConflictPreference.Newest;
}

public sealed class RetryOptions
{
    public IReadOnlyList<TimeSpan> Schedule { get; init; } = [TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8)];
    /// <summary>Each delay is scaled by a random factor in [1 - jitter, 1 + jitter].</summary>
    public double Jitter { get; init; } = 0.2;
    /// <summary>Attempts before parking: the first try plus one per scheduled delay.</summary>
    public int MaxAttempts => Schedule.Count + 1;
}

public sealed class WorkerOptions
{
    /// <summary>Most jobs running at once in one process, over all sinks.</summary>
    public int Concurrency { get; init; } = 32;
    /// <summary>How long a claimed job stays reserved without a renewal; a crashed worker's jobs return after this.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Fallback wake-up when no notification arrives (notifications wake the workers at once).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);
}

public sealed class RetentionOptions
{
    public TimeSpan Events { get; init; } = TimeSpan.FromDays(7);
    public TimeSpan Runs { get; init; } = TimeSpan.FromDays(7);
    public TimeSpan Deliveries { get; init; } = TimeSpan.FromDays(7);
    public TimeSpan PruneInterval { get; init; } = TimeSpan.FromMinutes(10);
}
