using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace EventSync.Core.Configuration;

/// <summary>
/// Reads eventsync.yaml: ${ENV} substitution, EVENTSYNC_SECTION__KEY environment overrides (the .NET convention),
/// typed binding and validation. Every problem is collected with its location, so one run reports them all.
/// </summary>
public sealed partial class ConfigLoader
{
    public const string DefaultPath = "eventsync.yaml";
    public const string EnvironmentPrefix = "EVENTSYNC_";
    private static readonly string[] TopLevelKeys = ["store", "server", "connections", "collections", "sources", "sinks", "flows", "workers", "retention", "telemetry"];

    private readonly List<ConfigProblem> _problems = [];
    private readonly IReadOnlyDictionary<string, string?> _environment;
    private string _file = "defaults";

    private ConfigLoader(IReadOnlyDictionary<string, string?> environment) => _environment = environment;

    /// <summary>Loads and validates; throws <see cref="ConfigException"/> listing every problem.</summary>
    public static EventSyncConfig Load(string? path, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var (config, problems) = TryLoad(path, environment);
        return problems.Count > 0 ? throw new ConfigException(problems) : config!;
    }

    /// <summary>
    /// Loads from <paramref name="path"/>; a null path means ./eventsync.yaml if it exists, else the defaults
    /// (an explicitly named file must exist).
    /// </summary>
    public static (EventSyncConfig? Config, IReadOnlyList<ConfigProblem> Problems) TryLoad(string? path, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var loader = new ConfigLoader(environment ?? ReadEnvironment());
        string? text = null;
        var file = path ?? DefaultPath;
        if (File.Exists(file))
        {
            text = File.ReadAllText(file);
            loader._file = file;
        }
        else if (path is not null)
        {
            loader._file = path;
            loader.Problem(null, "", "the configuration file does not exist", "create it (see docs/configuration.md) or pass the right --config path");
            return (null, loader._problems);
        }
        var config = loader.Parse(text);
        return (loader._problems.Count == 0 ? config : null, loader._problems);
    }

    public static (EventSyncConfig? Config, IReadOnlyList<ConfigProblem> Problems) TryParse(string yaml, IReadOnlyDictionary<string, string?>? environment = null, string origin = "inline")
    {
        var loader = new ConfigLoader(environment ?? new Dictionary<string, string?>()) { _file = origin };
        var config = loader.Parse(yaml);
        return (loader._problems.Count == 0 ? config : null, loader._problems);
    }

    private static Dictionary<string, string?> ReadEnvironment()
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            env[(string)e.Key] = (string?)e.Value;
        return env;
    }

    private EventSyncConfig? Parse(string? text)
    {
        var root = new YamlMappingNode();
        if (!string.IsNullOrWhiteSpace(text))
        {
            try
            {
                var stream = new YamlStream();
                stream.Load(new StringReader(ProtectReferences(text)));
                if (stream.Documents.Count > 0)
                {
                    if (stream.Documents[0].RootNode is YamlMappingNode map) root = map;
                    else if (stream.Documents[0].RootNode is not YamlScalarNode { Value: null or "" })
                        Problem(stream.Documents[0].RootNode, "", "the file must be a mapping of keys (store, server, sources, sinks, flows ...)", "start the file with 'store:' or 'sources:' at column 1");
                }
            }
            catch (YamlException ex)
            {
                _problems.Add(new ConfigProblem(_file, (int)ex.Start.Line, (int)ex.Start.Column, "", "invalid YAML: " + (ex.InnerException?.Message ?? ex.Message), "correct the YAML syntax at this position (indentation, quotes, colons)"));
                return null;
            }
        }
        ApplyEnvironmentOverrides(root);
        return Bind(root);
    }

    /// <summary>EVENTSYNC_SOURCES__GITHUB__SECRET=x sets sources.github.secret; list items by index (FLOWS__0__SETTLE).</summary>
    private void ApplyEnvironmentOverrides(YamlMappingNode root)
    {
        foreach (var (name, value) in _environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (value is null || !name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase)) continue;
            var segments = name[EnvironmentPrefix.Length..].Split("__", StringSplitOptions.RemoveEmptyEntries);
            if (segments.Length == 0 || !TopLevelKeys.Contains(segments[0], StringComparer.OrdinalIgnoreCase)) continue;
            YamlNode node = root;
            for (var i = 0; i < segments.Length; i++)
            {
                var last = i == segments.Length - 1;
                if (node is YamlMappingNode map)
                {
                    var key = map.Children.Keys.OfType<YamlScalarNode>().FirstOrDefault(k => string.Equals(k.Value, segments[i], StringComparison.OrdinalIgnoreCase))
                              ?? new YamlScalarNode(segments[i].ToLowerInvariant());
                    if (last) { map.Children[key] = new YamlScalarNode(value); break; }
                    if (!map.Children.TryGetValue(key, out var child) || child is YamlScalarNode)
                        map.Children[key] = child = new YamlMappingNode();
                    node = child;
                }
                else if (node is YamlSequenceNode seq && int.TryParse(segments[i], NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < seq.Children.Count)
                {
                    if (last) { seq.Children[index] = new YamlScalarNode(value); break; }
                    node = seq.Children[index];
                }
                else
                {
                    Problem(null, string.Join('.', segments[..(i + 1)]), $"environment override {name} does not match the configuration's shape", $"unset {name} or name an existing key or list index");
                    break;
                }
            }
        }
    }

    private EventSyncConfig? Bind(YamlMappingNode root)
    {
        var top = new MapReader(this, root, "");
        var storeText = top.String("store") ?? StoreLocation.Default;
        StoreLocation? store = null;
        if (!StoreLocation.TryParse(storeText, out store, out var storeError))
            Problem(top.NodeOf("store"), "store", storeError, "write sqlite:./eventsync.db or postgres:Host=...;Database=...;Username=...");

        var server = BindServer(top.Map("server"));
        _connections = BindNamed(top.Map("connections"), "connections", BindConnection);
        var collections = BindNamed(top.Map("collections"), "collections", BindCollection).Values.ToList();
        var sources = BindNamed(top.Map("sources"), "sources", BindSource);
        var sinks = BindNamed(top.Map("sinks"), "sinks", BindSink);
        var flows = new List<FlowOptions>();
        foreach (var (item, path) in top.List("flows"))
        {
            var flow = BindFlow(item, path, sources, sinks);
            if (flow is null) continue;
            if (flows.Any(f => f.Name == flow.Name))
                Problem(item.Node, path + ".name", $"flow name '{flow.Name}' is used twice", "give every flow a unique name");
            flows.Add(flow);
        }
        var workers = BindWorkers(top.Map("workers"));
        var retention = BindRetention(top.Map("retention"));
        var telemetry = BindTelemetry(top.Map("telemetry"));
        top.ReportUnknownKeys();
        CheckConnectorReferences(sources, sinks, flows, collections);

        if (server is not null && server.AdminToken is null)
        {
            foreach (var url in server.Urls)
                if (!IsLoopbackUrl(url))
                    Problem(top.NodeOf("server"), "server.urls", $"'{url}' is not a loopback address and no admin token is set", "set server.adminToken (e.g. adminToken: ${EVENTSYNC_ADMIN_TOKEN}) or bind to 127.0.0.1");
        }

        if (_problems.Count > 0) return null;
        return new EventSyncConfig
        {
            Store = store!, Server = server!, Sources = sources, Sinks = sinks, Flows = flows,
            Workers = workers!, Retention = retention!, Origin = _file, Connections = _connections, Collections = collections,
            Telemetry = telemetry,
        };
    }

    public static bool IsLoopbackUrl(string url)
    {
        if (!Uri.TryCreate(url.Replace("://*", "://wildcard", StringComparison.Ordinal).Replace("://+", "://wildcard", StringComparison.Ordinal), UriKind.Absolute, out var uri)) return false;
        return uri.IsLoopback || uri.Host is "localhost";
    }

    private ServerOptions? BindServer(MapReader? m)
    {
        if (m is null) return new ServerOptions();
        var defaults = new ServerOptions();
        var urls = m.StringOrList("urls") ?? defaults.Urls;
        foreach (var url in urls)
            if (!Uri.TryCreate(url.Replace("://*", "://wildcard", StringComparison.Ordinal).Replace("://+", "://wildcard", StringComparison.Ordinal), UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
                Problem(m.NodeOf("urls"), m.Path + ".urls", $"'{url}' is not an http(s) URL", "write it like http://127.0.0.1:5080");
        var token = m.String("adminToken");
        if (token is { Length: > 0 and < 16 })
            Problem(m.NodeOf("adminToken"), m.Path + ".adminToken", "the admin token is shorter than 16 characters", "use a long random value, e.g. from `openssl rand -hex 32`");
        var batch = m.Int("ingestBatchSize", defaults.IngestBatchSize, 1, 10_000);
        var logFormat = BindLogFormat(m);
        m.ReportUnknownKeys();
        return new ServerOptions { Urls = urls, AdminToken = string.IsNullOrEmpty(token) ? null : token, IngestBatchSize = batch, LogFormat = logFormat };
    }

    private Dictionary<string, T> BindNamed<T>(MapReader? m, string section, Func<MapReader, string, T?> bind) where T : class
    {
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        if (m is null) return result;
        foreach (var (name, child) in m.Entries())
        {
            if (!NameRegex().IsMatch(name))
            {
                Problem(child?.Node, $"{section}.{name}", $"'{name}' is not a valid name", "use letters, digits, '-' and '_' only (it appears in URLs and CLI arguments)");
                continue;
            }
            if (child is null)
            {
                Problem(m.NodeOf(name), $"{section}.{name}", "expected a mapping with at least 'kind'", $"write {name}: {{ kind: ... }}");
                continue;
            }
            var value = bind(child, name);
            child.ReportUnknownKeys();
            if (value is not null) result[name] = value;
        }
        m.ReportUnknownKeys();
        return result;
    }

    private SourceOptions? BindSource(MapReader m, string name)
    {
        const string sourceKinds = "use one of: github, notion, supabase, standard-webhooks, postgres, website";
        var kindText = m.String("kind", required: true, fix: sourceKinds);
        SourceKind? kind = kindText switch
        {
            "github" => SourceKind.GitHub,
            "notion" => SourceKind.Notion,
            "supabase" => SourceKind.Supabase,
            "standard-webhooks" => SourceKind.StandardWebhooks,
            "postgres" => SourceKind.Postgres,
            "website" => SourceKind.Website,
            null => null,
            _ => null,
        };
        if (kindText is not null && kind is null)
            Problem(m.NodeOf("kind"), m.Path + ".kind", $"unknown source kind '{kindText}'", sourceKinds);
        var defaults = new SourceOptions { Name = name, Kind = SourceKind.GitHub };
        // A github source with a connection may run without a secret: it is then used only by `eventsync run` and rejects webhooks.
        var secret = m.String("secret", required: kind is SourceKind.StandardWebhooks || (kind is SourceKind.GitHub && !m.Has("connection")),
            fix: "set the secret you configured at the sender, e.g. secret: ${GITHUB_WEBHOOK_SECRET}");
        var verificationToken = m.String("verificationToken");
        var sharedSecret = m.String("sharedSecret", required: kind is SourceKind.Supabase,
            fix: "set sharedSecret and send it from the database webhook as 'Authorization: Bearer <secret>'");
        var header = m.String("header") ?? defaults.SecretHeader;
        var maxBody = m.ByteSize("maxBodySize", defaults.MaxBodyBytes, 1024, 100L * 1024 * 1024);
        var tolerance = m.Duration("timestampTolerance", defaults.TimestampTolerance);
        var rateLimit = new RateLimitOptions();
        if (m.Map("rateLimit") is { } rl)
        {
            rateLimit = new RateLimitOptions { PerSecond = rl.Int("perSecond", rateLimit.PerSecond, 0, 1_000_000), Burst = rl.Int("burst", rateLimit.Burst, 1, 10_000_000) };
            rl.ReportUnknownKeys();
        }
        if (kind is SourceKind.StandardWebhooks or SourceKind.Website && secret is not null && StandardWebhookSecret(secret) is null)
            Problem(m.NodeOf("secret"), m.Path + ".secret", "the secret is not a whsec_ base64 key of 24 to 64 bytes", "copy the secret exactly as the sender shows it (whsec_...)");
        if (kind == SourceKind.Notion && verificationToken is not null && !verificationToken.StartsWith("secret_", StringComparison.Ordinal))
            Problem(m.NodeOf("verificationToken"), m.Path + ".verificationToken", "a Notion verification token starts with 'secret_'", "paste the token shown by `eventsync sources` after Notion's handshake");
        var capture = kind == SourceKind.Postgres ? BindCapture(m) : Ignore<PostgresCaptureOptions>(m, null, "connection", "table", "outboxSchema", "pollInterval");
        var connection = kind is SourceKind.GitHub or SourceKind.Notion or SourceKind.Website ? m.String("connection") : null; // postgres: a database (Capture)
        if (kind is null) return null;
        return new SourceOptions
        {
            Connection = connection,
            Name = name, Kind = kind.Value, Secret = secret, VerificationToken = verificationToken, SharedSecret = sharedSecret,
            SecretHeader = header, MaxBodyBytes = maxBody, TimestampTolerance = tolerance, RateLimit = rateLimit, Capture = capture,
        };
    }

    private PostgresCaptureOptions? BindCapture(MapReader m)
    {
        var defaults = new PostgresCaptureOptions { Connection = "", Table = "" };
        var connection = m.String("connection", required: true, fix: "set connection: ${APP_DATABASE_URL} (a postgres:// URL or Host=...;Database=...;Username=...)");
        var table = SqlName(m, "table", required: true, qualified: true);
        var schema = SqlName(m, "outboxSchema", required: false, qualified: false) ?? defaults.OutboxSchema;
        var poll = m.Duration("pollInterval", defaults.PollInterval);
        if (poll < TimeSpan.FromSeconds(1))
            Problem(m.NodeOf("pollInterval"), m.Path + ".pollInterval", "the safety poll must be at least 1s (notifications do the real work)", "write e.g. pollInterval: 1m");
        if (connection is null || table is null) return null;
        return new PostgresCaptureOptions { Connection = connection, Table = table.Contains('.', StringComparison.Ordinal) ? table : "public." + table, OutboxSchema = schema, PollInterval = poll };
    }

    /// <summary>Keys of another kind are accepted and ignored (documented), not reported as unknown.</summary>
    private static T? Ignore<T>(MapReader m, T? value, params string[] keys) where T : class
    {
        foreach (var key in keys) m.NodeOf(key);
        return value;
    }

    /// <summary>A table or column name: plain identifiers only, so it can be quoted into SQL safely.</summary>
    private string? SqlName(MapReader m, string key, bool required, bool qualified)
    {
        var value = m.String(key, required: required, fix: $"set {key}: {(qualified ? "public.projects" : "tenant_id")}");
        if (value is null) return null;
        var regex = qualified ? QualifiedNameRegex() : IdentifierRegex();
        if (regex.IsMatch(value)) return value;
        Problem(m.NodeOf(key), m.Path + "." + key, $"'{value}' is not a plain SQL name", qualified ? "write schema.table with letters, digits and _ (e.g. public.projects)" : "use letters, digits and _ only, starting with a letter or _");
        return null;
    }

    /// <summary>Decodes a Standard Webhooks secret (with or without whsec_); null when it is not a valid key.</summary>
    public static byte[]? StandardWebhookSecret(string secret)
    {
        var b64 = secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret[6..] : secret;
        var buffer = new byte[b64.Length];
        if (!Convert.TryFromBase64String(b64, buffer, out var n) || n < 24 || n > 64) return null;
        return buffer[..n];
    }

    private SinkOptions? BindSink(MapReader m, string name)
    {
        const string sinkKinds = "use one of: webhook, log, noop, vectors, github, notion, website, github-dispatch";
        var kindText = m.String("kind", required: true, fix: sinkKinds);
        SinkKind? kind = kindText switch
        {
            "webhook" => SinkKind.Webhook, "log" => SinkKind.Log, "noop" => SinkKind.Noop, "vectors" => SinkKind.Vectors,
            "github" => SinkKind.GitHub, "notion" => SinkKind.Notion, "website" => SinkKind.Website, "github-dispatch" => SinkKind.GitHubDispatch, _ => null,
        };
        if (kindText is not null && kind is null)
            Problem(m.NodeOf("kind"), m.Path + ".kind", $"unknown sink kind '{kindText}'", sinkKinds);
        var defaults = new SinkOptions { Name = name, Kind = SinkKind.Log };
        var urlText = m.String("url", required: kind == SinkKind.Webhook, fix: "set url: http://host:port/path");
        Uri? url = null;
        if (urlText is not null && (!Uri.TryCreate(urlText, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https")))
            Problem(m.NodeOf("url"), m.Path + ".url", $"'{urlText}' is not an absolute http(s) URL", "write it like https://example.com/hooks/in");
        var secret = m.String("secret", required: kind == SinkKind.Webhook, fix: "every webhook sink signs its requests (Standard Webhooks): add secret: whsec_... (generate one: echo whsec_$(openssl rand -base64 32))");
        if (secret is not null && StandardWebhookSecret(secret) is null)
            Problem(m.NodeOf("secret"), m.Path + ".secret", "the signing secret is not a whsec_ base64 key of 24 to 64 bytes", "generate one: echo whsec_$(openssl rand -base64 32)");
        var concurrency = m.Int("concurrency", defaults.Concurrency, 1, 1024);
        var timeout = m.Duration("timeout", defaults.Timeout);
        if (timeout <= TimeSpan.Zero)
            Problem(m.NodeOf("timeout"), m.Path + ".timeout", "the timeout must be positive", "write e.g. timeout: 30s");
        var vectors = kind == SinkKind.Vectors ? BindVectors(m) : Ignore<VectorSinkOptions>(m, null, "database", "table", "key", "tenantColumn", "template", "chunk", "embedder", "writeThrough");
        var isConnector = kind is SinkKind.GitHub or SinkKind.Notion or SinkKind.Website or SinkKind.GitHubDispatch;
        var connection = isConnector ? m.String("connection", required: true, fix: "name the connection this sink writes to, e.g. connection: github") : Ignore<string>(m, null, "connection");
        var eventType = kind == SinkKind.GitHubDispatch ? m.String("eventType", required: true, fix: "set eventType: notion-webhook (what the workflow's repository_dispatch types list)") : Ignore<string>(m, null, "eventType");
        if (eventType is { Length: > 100 })
            Problem(m.NodeOf("eventType"), m.Path + ".eventType", "GitHub limits event_type to 100 characters", "use a shorter event type");
        if (kind is null) return null;
        return new SinkOptions { Name = name, Kind = kind.Value, Url = url, Secret = secret, Concurrency = concurrency, Timeout = timeout, Vectors = vectors, Connection = connection, EventType = eventType };
    }

    private VectorSinkOptions? BindVectors(MapReader m)
    {
        var database = m.String("database", required: true, fix: "set database: ${APP_DATABASE_URL}, the database whose rows are embedded");
        var table = SqlName(m, "table", required: true, qualified: true);
        var keyColumn = SqlName(m, "key", required: false, qualified: false) ?? "id";
        var tenantColumn = SqlName(m, "tenantColumn", required: false, qualified: false);
        var writeThrough = SqlName(m, "writeThrough", required: false, qualified: true);
        var template = m.String("template", required: true, fix: "write template: \"{{name}}\\n{{description}}\" naming the columns to embed");
        if (template is not null && !Vectors.TextTemplate.TryParse(template, out _, out var templateError))
            Problem(m.NodeOf("template"), m.Path + ".template", templateError, "write placeholders as {{column}} or {{jsonb_column.key}}");
        var chunk = m.Map("chunk");
        var size = chunk?.Int("size", 1000, 100, 100_000) ?? 1000;
        var overlap = chunk?.Int("overlap", 100, 0, 50_000) ?? 100;
        if (overlap * 2 >= size)
            Problem(chunk?.NodeOf("overlap"), m.Path + ".chunk.overlap", $"the overlap ({overlap}) must be under half the chunk size ({size})", "write e.g. chunk: { size: 1000, overlap: 100 }");
        chunk?.ReportUnknownKeys();
        var embedder = BindEmbedder(m.Map("embedder"), m.Path + ".embedder");
        if (database is null || table is null || template is null) return null;
        return new VectorSinkOptions
        {
            Database = database, Table = table.Contains('.', StringComparison.Ordinal) ? table : "public." + table, KeyColumn = keyColumn, TenantColumn = tenantColumn,
            Template = template, ChunkSize = size, ChunkOverlap = overlap, Embedder = embedder,
            WriteThroughTable = writeThrough is null || writeThrough.Contains('.', StringComparison.Ordinal) ? writeThrough : "public." + writeThrough,
        };
    }

    private EmbedderOptions BindEmbedder(MapReader? m, string path)
    {
        var d = new EmbedderOptions();
        if (m is null) return d;
        var kindText = m.String("kind") ?? "local";
        EmbedderKind? kind = kindText switch { "local" => EmbedderKind.Local, "openai" => EmbedderKind.OpenAi, _ => null };
        if (kind is null) Problem(m.NodeOf("kind"), path + ".kind", $"unknown embedder kind '{kindText}'", "use local (built in, lexical) or openai (any OpenAI-compatible /v1/embeddings server)");
        var model = m.String("model", required: kind == EmbedderKind.OpenAi, fix: "set model: text-embedding-3-small (or the model your server serves)");
        var dimensions = m.Int("dimensions", d.Dimensions, 16, 8192);
        var baseText = m.String("baseUrl", required: kind == EmbedderKind.OpenAi, fix: "set baseUrl: https://api.openai.com/v1 (Ollama: http://127.0.0.1:11434/v1)");
        Uri? baseUrl = null;
        if (baseText is not null && (!Uri.TryCreate(baseText, UriKind.Absolute, out baseUrl) || baseUrl.Scheme is not ("http" or "https")))
            Problem(m.NodeOf("baseUrl"), path + ".baseUrl", $"'{baseText}' is not an absolute http(s) URL", "write it like https://api.openai.com/v1");
        var apiKeyEnv = m.String("apiKeyEnv");
        if (apiKeyEnv is not null && !EnvironmentNameRegex().IsMatch(apiKeyEnv))
            Problem(m.NodeOf("apiKeyEnv"), path + ".apiKeyEnv", $"'{apiKeyEnv}' is not an environment variable name", "name the variable, e.g. apiKeyEnv: OPENAI_API_KEY (never the key itself)");
        string? apiKey = null;
        if (apiKeyEnv is not null && EnvironmentNameRegex().IsMatch(apiKeyEnv) && (!_environment.TryGetValue(apiKeyEnv, out apiKey) || string.IsNullOrEmpty(apiKey)))
            Problem(m.NodeOf("apiKeyEnv"), path + ".apiKeyEnv", $"environment variable {apiKeyEnv} is not set", $"export {apiKeyEnv}=<your API key> before starting");
        var batch = m.Int("batchSize", d.BatchSize, 1, 2048);
        var sendDimensions = m.Bool("sendDimensions", d.SendDimensions);
        m.ReportUnknownKeys();
        return new EmbedderOptions
        {
            Kind = kind ?? EmbedderKind.Local, Model = model, Dimensions = dimensions, BaseUrl = baseUrl, ApiKeyEnv = apiKeyEnv, ApiKey = apiKey, BatchSize = batch, SendDimensions = sendDimensions,
        };
    }

    private FlowOptions? BindFlow(MapReader m, string path, IReadOnlyDictionary<string, SourceOptions> sources, IReadOnlyDictionary<string, SinkOptions> sinks)
    {
        var name = m.String("name", required: true, fix: "give the flow a name, e.g. name: relay-orders");
        if (name is not null && !NameRegex().IsMatch(name))
            Problem(m.NodeOf("name"), path + ".name", $"'{name}' is not a valid flow name", "use letters, digits, '-' and '_' only");
        var from = m.String("from", required: true, fix: "name the source this flow reads, one of: " + string.Join(", ", sources.Keys));
        if (from is not null && !sources.ContainsKey(from))
            Problem(m.NodeOf("from"), path + ".from", $"source '{from}' is not defined", sources.Count == 0 ? "define it under sources:" : "define it under sources: or use one of: " + string.Join(", ", sources.Keys));
        var to = m.String("to", required: true, fix: "name the sink this flow writes to, one of: " + string.Join(", ", sinks.Keys));
        if (to is not null && !sinks.ContainsKey(to))
            Problem(m.NodeOf("to"), path + ".to", $"sink '{to}' is not defined", sinks.Count == 0 ? "define it under sinks:" : "define it under sinks: or use one of: " + string.Join(", ", sinks.Keys));
        var events = m.StringOrList("events") ?? ["*"];
        if (events.Count == 0 || events.Any(string.IsNullOrWhiteSpace))
            Problem(m.NodeOf("events"), path + ".events", "the event list is empty", "write events: [\"*\"] or name event types such as push, release, INSERT");
        var key = m.String("key") ?? "$.id";
        if (!JsonPath.TryParse(key, out _))
            Problem(m.NodeOf("key"), path + ".key", $"'{key}' is not a supported JSON path", "write a path like $.id, $.record.id or $.items[0].id");
        // Supabase database webhooks can arrive before the row is visible to other sessions; the system we replace
        // waited 20 s after an INSERT, so that path keeps it as its default (outbox capture needs none).
        var settleDefault = from is not null && sources.TryGetValue(from, out var source) && source.Kind == SourceKind.Supabase ? TimeSpan.FromSeconds(20) : TimeSpan.Zero;
        var settle = m.Duration("settle", settleDefault);
        var maxWait = m.Duration("maxWait", settle > TimeSpan.FromMinutes(5) ? settle : TimeSpan.FromMinutes(5));
        if (maxWait < settle)
            Problem(m.NodeOf("maxWait"), path + ".maxWait", $"maxWait ({Durations.Format(maxWait)}) is shorter than settle ({Durations.Format(settle)})", "make maxWait at least as long as settle");
        var retry = new RetryOptions();
        if (m.Map("retry") is { } r)
        {
            var schedule = new List<TimeSpan>();
            foreach (var (item, itemPath, node) in r.ScalarList("schedule"))
            {
                if (Durations.TryParse(item, out var d) && d > TimeSpan.Zero) schedule.Add(d);
                else Problem(node, itemPath, $"'{item}' is not a positive duration", "write durations like 2s, 500ms, 5m");
            }
            var jitter = r.Double("jitter", retry.Jitter);
            if (jitter is < 0 or >= 1)
                Problem(r.NodeOf("jitter"), r.Path + ".jitter", "jitter must be at least 0 and below 1", "write e.g. jitter: 0.2 (±20%)");
            retry = new RetryOptions { Schedule = r.Has("schedule") ? schedule : retry.Schedule, Jitter = jitter };
            r.ReportUnknownKeys();
        }
        var branches = m.StringOrList("branches") ?? [];
        var paths = m.StringOrList("paths") ?? [];
        if (m.Has("ignorePaths"))
            Problem(m.NodeOf("ignorePaths"), path + ".ignorePaths", "only include filters are supported", "list the paths to sync under paths: (GitHub itself rejects paths together with paths-ignore)");
        foreach (var glob in paths.Where(p => p.StartsWith('/') || p.Contains("..", StringComparison.Ordinal)))
            Problem(m.NodeOf("paths"), path + ".paths", $"'{glob}' is not a relative glob", "write globs relative to the repository root, e.g. docs/** or *.md");
        var preferText = m.String("prefer") ?? "newest";
        ConflictPreference? prefer = preferText switch { "newest" => ConflictPreference.Newest, "github" => ConflictPreference.GitHub, "notion" => ConflictPreference.Notion, "website" => ConflictPreference.Website, _ => null };
        if (prefer is null)
            Problem(m.NodeOf("prefer"), path + ".prefer", $"'{preferText}' is not a conflict preference", "write prefer: newest, github, notion or website");
        m.ReportUnknownKeys();
        if (name is null || from is null || to is null) return null;
        return new FlowOptions
        {
            Name = name, From = from, To = to, Events = events, Key = key, Settle = settle, MaxWait = maxWait, Retry = retry,
            Branches = branches, Paths = paths, Prefer = prefer ?? ConflictPreference.Newest,
        };
    }

    private WorkerOptions? BindWorkers(MapReader? m)
    {
        var d = new WorkerOptions();
        if (m is null) return d;
        var result = new WorkerOptions
        {
            Concurrency = m.Int("concurrency", d.Concurrency, 1, 1024),
            Lease = m.Duration("lease", d.Lease),
            PollInterval = m.Duration("pollInterval", d.PollInterval),
        };
        if (result.Lease < TimeSpan.FromSeconds(1))
            Problem(m.NodeOf("lease"), m.Path + ".lease", "the lease must be at least 1s", "write e.g. lease: 30s (longer than a sink call normally takes)");
        if (result.PollInterval <= TimeSpan.Zero)
            Problem(m.NodeOf("pollInterval"), m.Path + ".pollInterval", "the poll interval must be positive", "write e.g. pollInterval: 1s");
        m.ReportUnknownKeys();
        return result;
    }

    private RetentionOptions? BindRetention(MapReader? m)
    {
        var d = new RetentionOptions();
        if (m is null) return d;
        var result = new RetentionOptions
        {
            Events = m.Duration("events", d.Events),
            Runs = m.Duration("runs", d.Runs),
            Deliveries = m.Duration("deliveries", d.Deliveries),
            PruneInterval = m.Duration("pruneInterval", d.PruneInterval),
        };
        // Event retention is also the window in which a redelivered id is recognised as a duplicate.
        foreach (var (key, value) in new[] { ("events", result.Events), ("runs", result.Runs), ("deliveries", result.Deliveries) })
            if (value < TimeSpan.FromHours(1))
                Problem(m.NodeOf(key), m.Path + "." + key, $"keeping {key} for less than 1h would forget them (and, for events, their duplicate detection) too soon", $"write e.g. {key}: 7d");
        if (result.PruneInterval < TimeSpan.FromSeconds(1))
            Problem(m.NodeOf("pruneInterval"), m.Path + ".pruneInterval", "the prune interval must be at least 1s", "write e.g. pruneInterval: 10m");
        m.ReportUnknownKeys();
        return result;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    private static partial Regex NameRegex();

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")]
    private static partial Regex EnvReferenceRegex();

    private void Problem(YamlNode? node, string path, string message, string fix) =>
        _problems.Add(new ConfigProblem(_file, node is null ? 0 : (int)node.Start.Line, node is null ? 0 : (int)node.Start.Column, path, message, fix));

    private readonly List<string> _references = [];

    /// <summary>
    /// Swaps each ${VAR} for an inert token before parsing: '{' and '}' are YAML flow indicators, so
    /// "server: { adminToken: ${TOKEN} }" would not parse otherwise. The tokens are resolved per scalar, with its location.
    /// </summary>
    private string ProtectReferences(string text) =>
        EnvReferenceRegex().Replace(text, m =>
        {
            _references.Add(m.Value);
            return $"__eventsync_ref_{_references.Count - 1}__";
        });

    [GeneratedRegex("^([0-9]{1,12})\\s*(B|KB|KiB|MB|MiB)?$", RegexOptions.IgnoreCase)]
    private static partial Regex ByteSizeRegex();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex IdentifierRegex();

    [GeneratedRegex("^([A-Za-z_][A-Za-z0-9_]{0,62}\\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex QualifiedNameRegex();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvironmentNameRegex();

    [GeneratedRegex("__eventsync_ref_([0-9]+)__")]
    private static partial Regex ReferenceTokenRegex();

    /// <summary>Substitutes ${VAR} and ${VAR:-default}; an unset variable without a default is a problem that names it.</summary>
    private string Substitute(YamlScalarNode node, string path) =>
        EnvReferenceRegex().Replace(ReferenceTokenRegex().Replace(node.Value ?? "", m => _references[int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)]), match =>
        {
            var variable = match.Groups[1].Value;
            if (_environment.TryGetValue(variable, out var v) && v is not null) return v;
            if (match.Groups[2].Success) return match.Groups[2].Value;
            Problem(node, path, $"environment variable {variable} is not set", $"export {variable}=... before starting, or write ${{{variable}:-default}}");
            return "";
        });

    /// <summary>Reads one mapping, remembering which keys were read so the rest can be reported as unknown.</summary>
    private sealed class MapReader(ConfigLoader loader, YamlMappingNode node, string path)
    {
        // Keys match case-insensitively, as in .NET configuration, so EVENTSYNC_SERVER__ADMINTOKEN reaches adminToken.
        private readonly HashSet<string> _read = new(StringComparer.OrdinalIgnoreCase);
        public YamlMappingNode Node { get; } = node;
        public string Path { get; } = path;

        private string Sub(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

        public YamlNode? NodeOf(string key)
        {
            _read.Add(key);
            foreach (var (k, v) in Node.Children)
                if (k is YamlScalarNode { Value: { } name } && string.Equals(name, key, StringComparison.OrdinalIgnoreCase)) return v;
            return null;
        }

        public bool Has(string key) => NodeOf(key) is not null;

        public string? String(string key, bool required = false, string? fix = null)
        {
            var n = NodeOf(key);
            if (n is null)
            {
                if (required) loader.Problem(Node, Sub(key), $"'{key}' is required", fix ?? $"add {key}: ...");
                return null;
            }
            if (n is not YamlScalarNode s)
            {
                loader.Problem(n, Sub(key), $"'{key}' must be a single value", $"write {key}: value");
                return null;
            }
            var before = loader._problems.Count;
            var value = loader.Substitute(s, Sub(key));
            if (loader._problems.Count > before) return null; // the unset variable is the problem to report
            if (value.Length == 0 && required)
            {
                loader.Problem(n, Sub(key), $"'{key}' is empty", fix ?? $"give {key} a value");
                return null;
            }
            return value.Length == 0 ? null : value;
        }

        public IReadOnlyList<string>? StringOrList(string key)
        {
            var n = NodeOf(key);
            return n switch
            {
                null => null,
                YamlScalarNode => String(key) is { } one ? [one] : [],
                YamlSequenceNode seq => seq.Children.Select((c, i) => c is YamlScalarNode s ? loader.Substitute(s, $"{Sub(key)}[{i}]") : "").ToList(),
                _ => Fail(),
            };
            IReadOnlyList<string>? Fail()
            {
                loader.Problem(n, Sub(key), $"'{key}' must be a value or a list of values", $"write {key}: [a, b]");
                return null;
            }
        }

        public IEnumerable<(string Value, string Path, YamlNode Node)> ScalarList(string key)
        {
            var n = NodeOf(key);
            if (n is null) yield break;
            if (n is not YamlSequenceNode seq)
            {
                loader.Problem(n, Sub(key), $"'{key}' must be a list", $"write {key}: [2s, 4s, 8s]");
                yield break;
            }
            for (var i = 0; i < seq.Children.Count; i++)
                yield return (seq.Children[i] is YamlScalarNode s ? loader.Substitute(s, $"{Sub(key)}[{i}]") : "", $"{Sub(key)}[{i}]", seq.Children[i]);
        }

        public int Int(string key, int fallback, int min, int max)
        {
            var text = String(key);
            if (text is null) return fallback;
            if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max) return v;
            loader.Problem(NodeOf(key), Sub(key), $"'{text}' is not a whole number from {min} to {max}", $"write {key}: {fallback}");
            return fallback;
        }

        public bool Bool(string key, bool fallback)
        {
            var text = String(key);
            if (text is null) return fallback;
            if (bool.TryParse(text, out var v)) return v;
            loader.Problem(NodeOf(key), Sub(key), $"'{text}' is not true or false", $"write {key}: {(fallback ? "true" : "false")}");
            return fallback;
        }

        public double Double(string key, double fallback)
        {
            var text = String(key);
            if (text is null) return fallback;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) return v;
            loader.Problem(NodeOf(key), Sub(key), $"'{text}' is not a number", $"write {key}: {fallback.ToString(CultureInfo.InvariantCulture)}");
            return fallback;
        }

        public TimeSpan Duration(string key, TimeSpan fallback)
        {
            var text = String(key);
            if (text is null) return fallback;
            if (Durations.TryParse(text, out var v)) return v;
            loader.Problem(NodeOf(key), Sub(key), $"'{text}' is not a duration", "write durations like 500ms, 2s, 5m, 1h or 7d");
            return fallback;
        }

        public long ByteSize(string key, long fallback, long min, long max)
        {
            var text = String(key);
            if (text is null) return fallback;
            var match = ByteSizeRegex().Match(text.Trim());
            if (match.Success && long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= max)
            {
                long unit = match.Groups[2].Value.ToUpperInvariant() switch { "KB" or "KIB" => 1024, "MB" or "MIB" => 1024 * 1024, _ => 1 };
                if (n * unit >= min && n * unit <= max) return n * unit;
            }
            loader.Problem(NodeOf(key), Sub(key), $"'{text}' is not a size from {min} bytes to {max / 1024 / 1024} MiB", $"write {key}: 5MiB");
            return fallback;
        }

        public MapReader? Map(string key)
        {
            var n = NodeOf(key);
            if (n is null || n is YamlScalarNode { Value: null or "" }) return null;
            if (n is YamlMappingNode map) return new MapReader(loader, map, Sub(key));
            loader.Problem(n, Sub(key), $"'{key}' must be a mapping", $"write {key}: {{ ... }} or indent its keys below it");
            return null;
        }

        public IEnumerable<(MapReader Item, string Path)> List(string key)
        {
            var n = NodeOf(key);
            if (n is null || n is YamlScalarNode { Value: null or "" }) yield break;
            if (n is not YamlSequenceNode seq)
            {
                loader.Problem(n, Sub(key), $"'{key}' must be a list", $"write each entry of {key} on a line starting with '- '");
                yield break;
            }
            for (var i = 0; i < seq.Children.Count; i++)
            {
                if (seq.Children[i] is YamlMappingNode map) yield return (new MapReader(loader, map, $"{Sub(key)}[{i}]"), $"{Sub(key)}[{i}]");
                else loader.Problem(seq.Children[i], $"{Sub(key)}[{i}]", "each entry must be a mapping", "write '- name: ...' followed by the entry's keys");
            }
        }

        public IEnumerable<(string Name, MapReader? Child)> Entries()
        {
            foreach (var (k, v) in Node.Children)
            {
                var name = (k as YamlScalarNode)?.Value ?? "";
                _read.Add(name);
                yield return (name, v is YamlMappingNode map ? new MapReader(loader, map, Sub(name)) : null);
            }
        }

        public void ReportUnknownKeys()
        {
            foreach (var k in Node.Children.Keys.OfType<YamlScalarNode>())
                if (k.Value is not null && !_read.Contains(k.Value))
                    loader.Problem(k, Sub(k.Value), $"unknown key '{k.Value}'", "remove it or check its spelling against docs/configuration.md");
        }
    }
}
