using System.Globalization;
using System.Security.Cryptography;
using EventSync.Connectors.Postgres;
using EventSync.Core.Admin;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Emulators.GitHub;
using EventSync.Emulators.Notion;
using EventSync.Emulators.Website;
using EventSync.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventSync.Cli.Demo;

public sealed record DemoOptions(int Port, bool ExitWhenDone, bool NoPostgres);

/// <summary>
/// Everything the demo runs, in one temporary directory: the GitHub, Notion and website emulators, a partner webhook
/// receiver, optionally a throwaway PostgreSQL with a captured <c>projects</c> table, and the real EventSync server
/// (SQLite store) wired to all of them by a generated eventsync.yaml. Disposing stops all of it and deletes the directory.
/// </summary>
internal sealed class DemoWorld : IAsyncDisposable
{
    public const string Repo = "acme/docs";
    public const string PartnerFlow = "orders-to-partner";
    public const string VectorFlow = "projects-to-vectors";

    private readonly DemoOutput _out;
    private readonly TimeProvider _time;
    private WebApplication? _server;

    private DemoWorld(string directory, DemoOutput output, TimeProvider time)
    {
        Directory = directory;
        _out = output;
        _time = time;
    }

    public string Directory { get; }
    public string ConfigPath => Path.Combine(Directory, "eventsync.yaml");
    public GitHubEmulator GitHub { get; private set; } = null!;
    public NotionEmulator Notion { get; private set; } = null!;
    public WebsiteApiEmulator Website { get; private set; } = null!;
    public PartnerEndpoint Partner { get; private set; } = null!;
    public ThrowawayPostgres? Postgres { get; private set; }
    /// <summary>Why the vector steps do not run (no binaries, --no-postgres, start failed); null when they do.</summary>
    public string? PostgresUnavailable { get; private set; }
    /// <summary>The binaries were there but the server did not come up: a failure, not a skip.</summary>
    public bool PostgresFailed { get; private set; }
    public string? AppDatabase { get; private set; }
    public string AgentsDataSource { get; private set; } = "";
    public string ArchitecturesDataSource { get; private set; } = "";
    public Uri ServerUrl { get; private set; } = null!;
    public IEventStore Store => _server!.Services.GetRequiredService<IEventStore>();
    public AdminOperations Admin => _server!.Services.GetRequiredService<AdminOperations>();
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };
    public string OrdersSecret { get; } = NewWhsec();

    public static async Task<DemoWorld> StartAsync(DemoOptions options, DemoOutput output, TimeProvider time, CancellationToken ct)
    {
        if (options.Port != 0 && !PortIsFree(options.Port)) throw PortInUse(options.Port, null);
        var directory = System.IO.Directory.CreateTempSubdirectory("eventsync-demo-").FullName;
        var world = new DemoWorld(directory, output, time);
        try
        {
            await world.InitAsync(options, ct);
            return world;
        }
        catch
        {
            await world.DisposeAsync();
            throw;
        }
    }

    private async Task InitAsync(DemoOptions options, CancellationToken ct)
    {
        _out.Setup("working directory", $"{Directory} (removed on exit)");
        var gitHubToken = "ghp_demo_" + RandomNumberGenerator.GetHexString(24, lowercase: true);
        GitHub = await GitHubEmulator.StartAsync(new GitHubEmulatorOptions { Token = gitHubToken, Time = _time }, ct);
        GitHub.CreateRepository(Repo);
        await GitHub.PushAsync(Repo, "main", new Dictionary<string, string?> { ["README.md"] = "# Acme docs\n" }, "Initial commit", "ada", ct);
        _out.Setup("GitHub emulator", $"{GitHub.BaseUrl} repository {Repo}");

        Notion = await NotionEmulator.StartAsync(new NotionEmulatorOptions { Token = "ntn_demo_" + RandomNumberGenerator.GetHexString(24, lowercase: true), Time = _time }, ct);
        (_, AgentsDataSource) = Notion.CreateDatabase("Agent Registry", EmulateCommand.AgentRegistrySchema);
        (_, ArchitecturesDataSource) = Notion.CreateDatabase("Architecture Catalog", EmulateCommand.ArchitectureCatalogSchema);
        _out.Setup("Notion emulator", $"{Notion.BaseUrl} databases Agent Registry, Architecture Catalog");

        var websiteKey = "site_demo_" + RandomNumberGenerator.GetHexString(24, lowercase: true);
        Website = await WebsiteApiEmulator.StartAsync(new WebsiteEmulatorOptions { ApiKey = websiteKey, Time = _time }, ct);
        _out.Setup("website emulator", $"{Website.BaseUrl}api/{{collection}}/{{id}}");

        var partnerSecret = NewWhsec();
        Partner = await PartnerEndpoint.StartAsync(partnerSecret, _time, ct);
        _out.Setup("partner endpoint", $"{Partner.Url} (answers 500 until step 6 fixes it)");

        if (options.NoPostgres)
        {
            PostgresUnavailable = "--no-postgres was given";
            _out.Setup("PostgreSQL", "not started (--no-postgres): the vector step will be skipped");
        }
        else await StartPostgresAsync(ct);

        var gitHubSecret = RandomNumberGenerator.GetHexString(32, lowercase: true);
        var websiteSecret = NewWhsec();
        var yaml = Yaml(gitHubToken, websiteKey, gitHubSecret, websiteSecret, partnerSecret);
        await File.WriteAllTextAsync(ConfigPath, yaml, ct);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(ConfigPath, UnixFileMode.UserRead | UnixFileMode.UserWrite); // it holds the demo's secrets
        var (config, problems) = ConfigLoader.TryLoad(ConfigPath);
        if (problems.Count > 0) throw new InvalidOperationException("the demo's configuration is invalid (a bug): " + string.Join("; ", problems));

        await StartServerAsync(config!, options.Port, ct);

        GitHub.AddWebhook(Repo, new Uri(ServerUrl, "hooks/github"), gitHubSecret, "push", "release");
        Notion.Subscribe(new Uri(ServerUrl, "hooks/notion"));
        using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            handshake.CancelAfter(TimeSpan.FromSeconds(30));
            await Notion.WebhooksIdleAsync(handshake.Token);
        }
        // The server captured the handshake's token; pasting it into Notion is what Verify stands for.
        Notion.Verify();
        Website.AddWebhook(new Uri(ServerUrl, "hooks/website"), websiteSecret);
        _out.Setup("webhooks", $"GitHub → {ServerUrl}hooks/github, Notion → /hooks/notion (verified), website → /hooks/website");
    }

    private async Task StartPostgresAsync(CancellationToken ct)
    {
        var bin = ThrowawayPostgres.FindBinaries(out var whyNot);
        if (bin is null)
        {
            PostgresUnavailable = whyNot;
            _out.Setup("PostgreSQL", "not started: " + whyNot + "; the vector step will be skipped");
            return;
        }
        try
        {
            Postgres = await ThrowawayPostgres.StartAsync(bin, Path.Combine(Directory, "postgres"), ct);
            await Postgres.CreateDatabaseAsync("demo", ct);
            AppDatabase = Postgres.ConnectionString("demo");
            await ExecAsync("""
                CREATE TABLE tenants (id text PRIMARY KEY, name text NOT NULL);
                CREATE TABLE projects (
                    id serial PRIMARY KEY,
                    tenant_id text NOT NULL REFERENCES tenants(id),
                    name text NOT NULL,
                    description text,
                    caracteristicas jsonb NOT NULL DEFAULT '{}',
                    updated_at timestamptz NOT NULL DEFAULT now());
                INSERT INTO tenants VALUES ('acme', 'Acme Energy'), ('globex', 'Globex Mining');
                """, ct);
            await OutboxInstaller.ExecuteAsync(AppDatabase, OutboxInstaller.InstallSql(new CaptureTarget("public.projects", "id", "tenant_id")), ct);
            // Rows written after the trigger exists: the server drains them from the outbox when it starts.
            await ExecAsync("""
                INSERT INTO projects (tenant_id, name, description, caracteristicas) VALUES
                  ('acme', 'Atacama solar farm', 'Photovoltaic plant with battery storage', '{"location": "Antofagasta, Chile", "value": "USD 140M"}'),
                  ('acme', 'Harbour electrification', 'Shore power for container cranes', '{"location": "Valparaiso, Chile", "value": "USD 35M"}'),
                  ('globex', 'Tailings water recovery', 'Thickened tailings and process water reuse', '{"location": "Calama, Chile", "value": "USD 60M"}');
                """, ct);
            _out.Setup("PostgreSQL " + Postgres.Version, $"127.0.0.1:{Postgres.Port.ToString(CultureInfo.InvariantCulture)} (pid {Postgres.ProcessId.ToString(CultureInfo.InvariantCulture)}), database demo, table public.projects captured by an outbox trigger");
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or NpgsqlException or IOException or System.ComponentModel.Win32Exception)
        {
            PostgresUnavailable = "PostgreSQL could not be started: " + ex.Message;
            PostgresFailed = true;
            _out.Problem(PostgresUnavailable);
            if (Postgres is not null) await Postgres.DisposeAsync();
            Postgres = null;
            AppDatabase = null;
        }
    }

    private async Task StartServerAsync(EventSyncConfig config, int port, CancellationToken ct)
    {
        var url = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        // Errors only: the failure step's 500s are expected, and the narration says what happens. The host's start-up
        // banner is logged at Information whatever the minimum level; a console-provider rule (more specific) quiets it.
        Environment.SetEnvironmentVariable("Logging__Console__LogLevel__Microsoft.Hosting.Lifetime", "Warning");
        _server = await EventSyncServer.BuildAsync(config, new ServerBuildOptions { Urls = [url], Time = _time, MinimumLogLevel = LogLevel.Error }, ct);
        try
        {
            await _server.StartAsync(ct);
        }
        catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            throw PortInUse(port, ex);
        }
        ServerUrl = new Uri(_server.Urls.First().TrimEnd('/') + "/");
        Http.BaseAddress = ServerUrl;
        _out.Setup("EventSync server", $"{ServerUrl} store sqlite:{Path.Combine(Directory, "eventsync.db")}, {config.Flows.Count.ToString(CultureInfo.InvariantCulture)} flows");
    }

    private string Yaml(string gitHubToken, string websiteKey, string gitHubSecret, string websiteSecret, string partnerSecret)
    {
        var vectors = AppDatabase is null ? ("", "", "") : (
            $"\n  app-db: {{ kind: postgres, connection: \"{AppDatabase}\", table: public.projects }}",
            $$$"""

              project-index:
                kind: vectors
                database: "{{{AppDatabase}}}"
                table: public.projects
                tenantColumn: tenant_id
                template: "{{name}}\n{{description}}\nValue: {{caracteristicas.value}}\nLocation: {{caracteristicas.location}}"
                embedder: { kind: local, dimensions: 384 }
            """,
            $"\n  - {{ name: {VectorFlow}, from: app-db, key: $.key, to: project-index }}");
        return $$"""
            # Generated by `eventsync demo`; removed with its directory when the demo ends.
            store: sqlite:{{Path.Combine(Directory, "eventsync.db")}}
            workers: { pollInterval: 200ms }
            connections:
              github: { kind: github, repository: {{Repo}}, token: {{gitHubToken}}, apiUrl: "{{GitHub.BaseUrl}}" }
              notion: { kind: notion, token: {{Notion.Options.Token}}, apiUrl: "{{Notion.BaseUrl}}" }
              website: { kind: website, url: "{{Website.BaseUrl}}", apiKey: {{websiteKey}} }
            collections:
              agents:
                github: { path: agents/*.yaml }
                notion: { dataSource: {{AgentsDataSource}}, properties: { name: Name, type: Type, status: Status, description: Description } }
                website: { collection: agents, resource: agent }
              architectures:
                github: { path: architectures/**/*.md }
                notion: { dataSource: {{ArchitecturesDataSource}}, properties: { title: Name, status: Status, tags: Tags } }
                website: { collection: architectures }
              docs:
                github: { path: docs/**/*.md }
                website: { collection: docs }
            sources:
              github: { kind: github, secret: "{{gitHubSecret}}", connection: github }
              notion: { kind: notion, connection: notion }
              website: { kind: website, secret: "{{websiteSecret}}", connection: website }
              orders: { kind: standard-webhooks, secret: "{{OrdersSecret}}" }{{vectors.Item1}}
            sinks:
              notion: { kind: notion, connection: notion, concurrency: 1 }
              website: { kind: website, connection: website }
              github: { kind: github, connection: github, concurrency: 1 }
              partner: { kind: webhook, url: "{{Partner.Url}}", secret: "{{partnerSecret}}", timeout: 10s }{{vectors.Item2}}
            flows:
              - { name: github-to-notion, from: github, events: [push], branches: [main], paths: [agents/**, architectures/**, docs/**], key: $.repository.full_name, to: notion }
              - { name: github-to-website, from: github, events: [push], branches: [main], paths: [agents/**, architectures/**, docs/**], key: $.repository.full_name, to: website }
              - { name: notion-to-website, from: notion, events: ["page.*"], key: $.entity.id, to: website }
              - { name: notion-to-github, from: notion, events: ["page.*"], key: $.entity.id, to: github }
              - { name: website-to-github, from: website, events: [website-update], key: $.client_payload.id, to: github }
              - { name: {{PartnerFlow}}, from: orders, events: ["*"], key: $.data.id, to: partner, retry: { schedule: [] } }{{vectors.Item3}}
            """;
    }

    public async Task ExecAsync(string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(AppDatabase ?? throw new InvalidOperationException("no PostgreSQL in this demo"));
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<T> ScalarAsync<T>(string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(AppDatabase ?? throw new InvalidOperationException("no PostgreSQL in this demo"));
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// Waits until nothing moves: every emulator has delivered its webhooks and no job is pending or running, twice in
    /// a row with no new event in between (a job's write causes a webhook, which can cause a job).
    /// </summary>
    public async Task SettleAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        long lastEvent = -1;
        var quiet = 0;
        try
        {
            for (var round = 0; quiet < 2 && round < 1000; round++)
            {
                await GitHub.WebhooksIdleAsync(cts.Token);
                await Notion.WebhooksIdleAsync(cts.Token);
                await Website.WebhooksIdleAsync(cts.Token);
                await DemoWait.UntilAsync(async c => (await Store.GetQueueStatsAsync(c)).All(s => s.Pending + s.Running == 0), timeout, "the job queue to drain", _time, cts.Token);
                var newest = (await Store.ListEventsAsync(new EventQuery(Limit: 1), cts.Token)).FirstOrDefault()?.Id ?? 0;
                quiet = newest == lastEvent ? quiet + 1 : 0;
                lastEvent = newest;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            var stats = await Store.GetQueueStatsAsync(ct);
            throw new DemoStepException($"the flows did not settle within {timeout.TotalSeconds:0} s: " + string.Join("; ", stats.Where(s => s.Pending + s.Running > 0).Select(s => $"{s.Flow}: {s.Pending} pending, {s.Running} running")));
        }
    }

    /// <summary>Checked before anything starts, so a taken port costs nothing and logs no host failure.</summary>
    private static bool PortIsFree(int port)
    {
        try
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private static InvalidOperationException PortInUse(int port, Exception? inner) =>
        new($"port {port.ToString(CultureInfo.InvariantCulture)} on 127.0.0.1 is in use (is `eventsync serve` or another demo running?); stop it, or pass --port N, or --port 0 for a free one", inner);

    private static string NewWhsec() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>Stops everything (server first, so nothing writes to what is being stopped) and deletes the directory. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Quietly(async () =>
        {
            if (_server is null) return;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await _server.StopAsync(cts.Token);
            await _server.DisposeAsync();
        });
        if (Postgres is not null) await Quietly(() => Postgres.DisposeAsync().AsTask());
        if (Partner is not null) await Quietly(() => Partner.DisposeAsync().AsTask());
        if (Website is not null) await Quietly(() => Website.DisposeAsync().AsTask());
        if (Notion is not null) await Quietly(() => Notion.DisposeAsync().AsTask());
        if (GitHub is not null) await Quietly(() => GitHub.DisposeAsync().AsTask());
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        for (var attempt = 1; System.IO.Directory.Exists(Directory); attempt++)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (Exception ex) when ((ex is IOException or UnauthorizedAccessException) && attempt < 20)
            {
                // A file still closing (SQLite WAL, a server log): try again shortly.
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), _time);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _out.Problem($"could not remove {Directory}: {ex.Message}; delete it by hand");
                break;
            }
        }
    }

    private async Task Quietly(Func<Task> stop)
    {
        try
        {
            await stop();
        }
        catch (Exception ex)
        {
            _out.Problem($"while stopping: {ex.GetType().Name}: {ex.Message}");
        }
    }
}
