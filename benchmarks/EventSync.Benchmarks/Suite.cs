using System.Diagnostics;
using System.Text.Json;
using EventSync.Core.Storage;
using EventSync.Storage;

namespace EventSync.Benchmarks;

/// <summary>
/// Runs every measurement against real <c>eventsync serve</c> child processes, each on a fresh store, and collects the
/// figures. A failing measurement is recorded as a problem and the suite moves on to the next.
/// </summary>
public sealed partial class Suite(BenchOptions options, Results results, TextWriter progress)
{
    private const string SourceName = "bench";
    private const string FlowName = "bench-sync";
    private const string SinkName = "noop";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private Sizes Sizes => options.Sizes;

    public async Task RunAsync(CancellationToken ct)
    {
        if (options.Runs("reference"))
            await StepAsync("reference", "bare Kestrel + signature check", async () => results.Reference = await ReferenceAsync(ct), ct);
        foreach (var backend in CreateBackends())
        {
            var r = new BackendResults(backend.Name, backend.Durability);
            results.Backends.Add(r);
            if (options.Runs("commit")) await StepAsync(backend.Name, "single-row durable commits", async () => r.Commit = await CommitAsync(backend, ct), ct);
            if (options.Runs("ingest")) await StepAsync(backend.Name, "ingest throughput", async () => r.Ingest = await IngestAsync(backend, JobsDuringLoad.Run, ct), ct);
            if (options.Runs("ingest-ack")) await StepAsync(backend.Name, "ingest throughput, jobs deferred", async () => r.IngestAck = await IngestAsync(backend, JobsDuringLoad.Deferred, ct), ct);
            if (options.Runs(BenchOptions.IngestNoFlow)) await StepAsync(backend.Name, "ingest throughput, no flow", async () => r.IngestNoFlow = await IngestAsync(backend, JobsDuringLoad.None, ct), ct);
            if (options.Runs("sustained")) await StepAsync(backend.Name, $"ingest sustained at {Sizes.SustainedRate}/s", async () => r.Sustained = await SustainedAsync(backend, JobsDuringLoad.Run, ct), ct);
            if (options.Runs("sustained-ack")) await StepAsync(backend.Name, $"ingest sustained at {Sizes.SustainedRate}/s, jobs deferred", async () => r.SustainedAck = await SustainedAsync(backend, JobsDuringLoad.Deferred, ct), ct);
            if (options.Runs("latency")) await StepAsync(backend.Name, $"ack latency at {Sizes.LatencyRate}/s", async () => r.Latency = await LatencyAsync(backend, JobsDuringLoad.Run, ct), ct);
            if (options.Runs("latency-ack")) await StepAsync(backend.Name, $"ack latency at {Sizes.LatencyRate}/s, jobs deferred", async () => r.LatencyAck = await LatencyAsync(backend, JobsDuringLoad.Deferred, ct), ct);
            if (options.Runs("memory")) await StepAsync(backend.Name, $"memory at {Sizes.MemoryRate}/s", async () => r.Memory = await MemoryAsync(backend, ct), ct);
            if (options.Runs("drain")) await StepAsync(backend.Name, "drain", async () => r.Drain = await DrainAsync(backend, 1, ct), ct);
            if (backend is PostgresBackend)
            {
                // Two serve processes share one PostgreSQL queue (SQLite is one process's store).
                if (options.Runs("drain2")) await StepAsync(backend.Name, "drain with 2 serve processes", async () => r.Drain2 = await DrainAsync(backend, 2, ct), ct);
                if (options.Runs("graphile")) await GraphileStepsAsync(backend, r, ct);
            }
            if (options.Runs("relay")) await StepAsync(backend.Name, $"relay freshness at {Sizes.RelayRate}/s", async () => r.Relay = await RelayAsync(backend, ct), ct);
        }
        if (options.Runs("embed-cost"))
        {
            if (options.Postgres is null) results.Notes.Add("embedding cost not measured: the vector flow needs PostgreSQL (--postgres)");
            else await StepAsync("vectors", "embedding calls per 1,000 row updates", async () => results.Global.EmbeddingCost = await EmbeddingCostAsync(ct), ct);
        }
        if (options.Runs("docs-cost")) await StepAsync("docs", "API calls per synced document, GitHub → Notion", async () => results.Global.DocsCost = await DocsCostAsync(ct), ct);
        if (options.Runs("notion-rate")) await StepAsync("docs", "Notion rate limit, 3/s burst 10", async () => results.Global.NotionRate = await NotionRateAsync(ct), ct);
    }

    private IEnumerable<Backend> CreateBackends()
    {
        foreach (var name in options.Backends)
            yield return name == "sqlite" ? new SqliteBackend(options.WorkDir) : new PostgresBackend(options.Postgres!, options.PostgresPid);
    }

    private async Task StepAsync(string backend, string what, Func<Task> step, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        await progress.WriteLineAsync($"[{backend}] {what} ...");
        try
        {
            await step();
            await progress.WriteLineAsync($"[{backend}] {what}: done in {clock.Elapsed.TotalSeconds:0.0} s");
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is not OutOfMemoryException)
        {
            results.Problems.Add($"{backend} {what}: {ex.GetType().Name}: {ex.Message}");
            await progress.WriteLineAsync($"[{backend}] {what}: FAILED: {ex.Message}");
        }
    }

    // ---------------------------------------------------------------- (c) reference: bare Kestrel

    private async Task<ReferenceRun> ReferenceAsync(CancellationToken ct)
    {
        var self = typeof(Program).Assembly.Location;
        await using var server = await ChildProcess.StartAsync("reference", [self, "ref-server"], options.WorkDir, "/readyz", StartTimeout, ct);
        var (_, load, cpu) = await ClosedLoopAsync(server, null, "reference", ct);
        using var client = Client();
        var latency = await LoadGenerator.OpenLoopAsync(client, new WebhookFactory("reflat", options.BodyBytes), Hooks(server), Sizes.LatencyRate, Sizes.Latency, ct);
        ExpectAllAccepted("reference", "latency", latency);
        return new ReferenceRun(load, cpu, Sizes.LatencyRate, latency);
    }

    // ---------------------------------------------------------------- (d) reference: single-row commits

    private async Task<CommitRun> CommitAsync(Backend backend, CancellationToken ct)
    {
        await using var store = await backend.CreateStoreAsync("commit", ct);
        await using var connection = await store.OpenAsync(ct);
        await backend.PrepareDurableConnectionAsync(connection, ct);
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = $"CREATE TABLE bench_commits (id {backend.IdentityColumn}, at bigint NOT NULL, payload {backend.BlobType} NOT NULL)";
            await create.ExecuteNonQueryAsync(ct);
        }
        await using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO bench_commits (at, payload) VALUES (@at, @payload)";
        var at = insert.CreateParameter();
        at.ParameterName = "at";
        var payload = insert.CreateParameter();
        payload.ParameterName = "payload";
        payload.Value = new WebhookFactory("commit", options.BodyBytes).Next().Body;
        insert.Parameters.Add(at);
        insert.Parameters.Add(payload);

        var latencies = new List<long>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Sizes.Commit)
        {
            var t0 = Stopwatch.GetTimestamp();
            await using var transaction = await connection.BeginTransactionAsync(ct);
            insert.Transaction = transaction;
            at.Value = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await insert.ExecuteNonQueryAsync(ct);
            await transaction.CommitAsync(ct);
            latencies.Add(Stopwatch.GetTimestamp() - t0);
        }
        var seconds = clock.Elapsed.TotalSeconds;
        var rows = await store.ScalarAsync("SELECT COUNT(*) FROM bench_commits", ct);
        if (rows != latencies.Count) results.Problems.Add($"{backend.Name} single-row commits: {latencies.Count} commits but {rows} rows");
        return new CommitRun(latencies.Count, seconds, LatencySummary.Of(latencies));
    }

    // ---------------------------------------------------------------- (a) ingest throughput

    private async Task<IngestRun> IngestAsync(Backend backend, JobsDuringLoad jobs, CancellationToken ct)
    {
        var name = jobs switch { JobsDuringLoad.Run => "ingest", JobsDuringLoad.Deferred => "ingest-ack", _ => "ingest-noflow" };
        var m = await LoadFreshServeAsync(backend, name, jobs, serve => ClosedLoopAsync(serve, backend, backend.Name, ct), ct);
        return new IngestRun(m.Load, m.Cpu, m.Acked, m.Stored, m.Pending);
    }

    /// <summary>
    /// A fresh store and serve under <paramref name="drive"/>'s load, then the jobs left unfinished and, with serve
    /// stopped, the check that every 202 is a stored event.
    /// </summary>
    private async Task<(LoadResult Load, CpuSplit Cpu, long Acked, long Stored, long Pending)> LoadFreshServeAsync(
        Backend backend, string name, JobsDuringLoad jobs, Func<ChildProcess, Task<(LoadResult Warmup, LoadResult Load, CpuSplit Cpu)>> drive, CancellationToken ct)
    {
        await using var store = await backend.CreateStoreAsync(name, ct);
        LoadResult warmup, load;
        CpuSplit cpu;
        long pending;
        await using (var serve = await StartServeAsync($"{name}-{backend.Name}", store, ct, jobs))
        {
            (warmup, load, cpu) = await drive(serve);
            using var admin = AdminClient(serve);
            pending = (await QueueAsync(admin, ct)).Unfinished;
        }
        var acked = warmup.Accepted + load.Accepted;
        var stored = await store.ScalarAsync("SELECT COUNT(*) FROM events", ct);
        if (stored != acked) results.Problems.Add($"{backend.Name} {name}: {acked} deliveries acknowledged but {stored} events stored");
        return (load, cpu, acked, stored, pending);
    }

    /// <summary>Warm-up, then the measured closed-loop run, with the CPU each party used during the measurement.</summary>
    private async Task<(LoadResult Warmup, LoadResult Load, CpuSplit Cpu)> ClosedLoopAsync(ChildProcess server, Backend? backend, string label, CancellationToken ct)
    {
        using var client = Client();
        var factory = new WebhookFactory(label, options.BodyBytes);
        var warmup = await LoadGenerator.ClosedLoopAsync(client, factory, Hooks(server), options.Concurrency, Sizes.Warmup, ct);
        ExpectAllAccepted(label, "warm-up", warmup);
        var meter = CpuMeter.Start(server, backend);
        var load = await LoadGenerator.ClosedLoopAsync(client, factory, Hooks(server), options.Concurrency, Sizes.Throughput, ct);
        var cpu = meter.Stop();
        ExpectAllAccepted(label, "throughput", load);
        return (warmup, load, cpu);
    }

    // ---------------------------------------------------------------- (m) ingest sustained at the target rate

    /// <summary>
    /// The target rate offered open loop, as independent senders deliver: whether every webhook is acknowledged on
    /// schedule, unlike the closed loop, whose rate is bounded by its connections over the commit latency.
    /// </summary>
    private async Task<SustainedRun> SustainedAsync(Backend backend, JobsDuringLoad jobs, CancellationToken ct)
    {
        var name = jobs == JobsDuringLoad.Run ? "sustained" : "sustained-ack";
        var m = await LoadFreshServeAsync(backend, name, jobs, async serve =>
        {
            using var client = Client();
            var factory = new WebhookFactory(name, options.BodyBytes);
            var warmup = await LoadGenerator.OpenLoopAsync(client, factory, Hooks(serve), Sizes.SustainedRate, Sizes.Warmup, ct);
            ExpectAllAccepted(backend.Name, $"{name} warm-up", warmup);
            var meter = CpuMeter.Start(serve, backend);
            var load = await LoadGenerator.OpenLoopAsync(client, factory, Hooks(serve), Sizes.SustainedRate, Sizes.Throughput, ct);
            var cpu = meter.Stop();
            ExpectAllAccepted(backend.Name, name, load);
            return (warmup, load, cpu);
        }, ct);
        return new SustainedRun(Sizes.SustainedRate, Sizes.Throughput.TotalSeconds, m.Load, m.Cpu, m.Acked, m.Stored, m.Pending);
    }

    // ---------------------------------------------------------------- (b) ack latency at a fixed offered rate

    private async Task<LatencyRun> LatencyAsync(Backend backend, JobsDuringLoad jobs, CancellationToken ct)
    {
        var name = jobs == JobsDuringLoad.Run ? "latency" : "latency-ack";
        await using var store = await backend.CreateStoreAsync(name, ct);
        await using var serve = await StartServeAsync($"{name}-{backend.Name}", store, ct, jobs);
        using var client = Client();
        var factory = new WebhookFactory("latency", options.BodyBytes);
        ExpectAllAccepted(backend.Name, "latency warm-up", await LoadGenerator.OpenLoopAsync(client, factory, Hooks(serve), Sizes.LatencyRate, Sizes.Warmup, ct));
        var load = await LoadGenerator.OpenLoopAsync(client, factory, Hooks(serve), Sizes.LatencyRate, Sizes.Latency, ct);
        ExpectAllAccepted(backend.Name, "latency", load);
        return new LatencyRun(Sizes.LatencyRate, load);
    }

    // ---------------------------------------------------------------- (f) memory under sustained ingest

    private async Task<MemoryRun> MemoryAsync(Backend backend, CancellationToken ct)
    {
        await using var store = await backend.CreateStoreAsync("memory", ct);
        await using var serve = await StartServeAsync("memory-" + backend.Name, store, ct);
        var idle = serve.Memory().RssBytes;
        var samples = new List<RssPoint>();
        var clock = Stopwatch.StartNew();
        using var stopSampling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sampler = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
            try
            {
                while (await timer.WaitForNextTickAsync(stopSampling.Token))
                    lock (samples) samples.Add(new RssPoint(clock.Elapsed.TotalSeconds, serve.Memory().RssBytes));
            }
            catch (OperationCanceledException)
            {
                // Load finished.
            }
        }, CancellationToken.None);

        using var client = Client();
        var load = await LoadGenerator.OpenLoopAsync(client, new WebhookFactory("memory", options.BodyBytes), Hooks(serve), Sizes.MemoryRate, Sizes.Memory, ct);
        var loadSeconds = clock.Elapsed.TotalSeconds;
        await stopSampling.CancelAsync();
        await sampler;
        ExpectAllAccepted(backend.Name, "memory", load);

        // "After": the backlog the load left is done (or the wait ran out) and the process has idled a few seconds.
        var backlog = await WaitForDrainAsync(serve, Sizes.MemoryDrainWait, ct, throwOnTimeout: false);
        await Task.Delay(TimeSpan.FromSeconds(2), ct);
        var after = serve.Memory();
        List<RssPoint> during;
        lock (samples) during = [.. samples];
        var secondHalf = during.Where(p => p.Seconds >= loadSeconds / 2).Select(p => p.RssBytes).DefaultIfEmpty(after.RssBytes);
        return new MemoryRun(Sizes.MemoryRate, Sizes.Memory.TotalSeconds, load, idle, secondHalf.Max(), after.PeakRssBytes, after.RssBytes, backlog, during);
    }

    // ---------------------------------------------------------------- (e) drain a backlog

    private async Task<DrainRun> DrainAsync(Backend backend, int processes, CancellationToken ct)
    {
        var jobs = options.DrainJobs ?? Sizes.DrainJobs;
        await using var store = await backend.CreateStoreAsync(processes == 1 ? "drain" : $"drain{processes}", ct);
        var preload = Stopwatch.StartNew();
        await PreloadAsync(store, jobs, ct);
        var preloadSeconds = preload.Elapsed.TotalSeconds;
        if (await store.ScalarAsync("SELECT COUNT(*) FROM jobs WHERE status = 'pending'", ct) != jobs)
            throw new BenchmarkException($"the preload did not leave {jobs} pending jobs");

        var wall = Stopwatch.StartNew();
        CpuSplit cpu;
        // Started together, so no process gets a head start beyond its own start-up.
        var starting = Enumerable.Range(1, processes).Select(i => StartServeAsync($"drain{(processes == 1 ? "" : $"{processes}-{i}")}-{backend.Name}", store, ct)).ToList();
        try
        {
            await Task.WhenAll(starting);
            var serves = starting.Select(t => t.Result).ToList();
            var meter = CpuMeter.Start(serves, backend);
            // At least 500 jobs/s, or the run is reported as failed rather than waited on forever.
            await WaitForDrainAsync(serves[0], TimeSpan.FromSeconds(Math.Max(60, jobs / 500.0)), ct);
            cpu = meter.Stop();
        }
        finally
        {
            foreach (var t in starting.Where(t => t.IsCompletedSuccessfully)) await t.Result.DisposeAsync();
        }
        var wallSeconds = wall.Elapsed.TotalSeconds;
        var done = await store.ScalarAsync("SELECT COUNT(*) FROM jobs WHERE status = 'done'", ct);
        var parked = await store.ScalarAsync("SELECT COUNT(*) FROM jobs WHERE status = 'parked'", ct);
        var runs = await store.ScalarAsync("SELECT COUNT(*) FROM runs", ct);
        var first = await store.ScalarAsync("SELECT MIN(started_at) FROM runs", ct);
        var last = await store.ScalarAsync("SELECT MAX(finished_at) FROM runs", ct);
        if (done != jobs || parked != 0 || runs != jobs)
            results.Problems.Add($"{backend.Name} drain: {jobs} jobs queued, {done} done, {parked} parked, {runs} runs");
        return new DrainRun(processes, jobs, preloadSeconds, done, parked, runs, (last - first) / 1000.0, wallSeconds, cpu);
    }

    /// <summary>
    /// The backlog, written through the engine's own store API exactly as ingest writes it (event, delivery log line and
    /// a pending job for a distinct entity key each), in group commits of 500, with no serve process running.
    /// </summary>
    private async Task PreloadAsync(StoreTarget target, int jobs, CancellationToken ct)
    {
        var factory = new WebhookFactory("drain", options.BodyBytes);
        await using var store = EventStoreFactory.Open(target.Location);
        await store.MigrateAsync(ct);
        var job = new JobRequest(FlowName, "", SinkName, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        for (var written = 0; written < jobs;)
        {
            var batch = new List<IngestWrite>(500);
            var now = DateTimeOffset.UtcNow;
            for (; batch.Count < 500 && written < jobs; written++)
            {
                var w = factory.Next();
                var headers = JsonSerializer.Serialize(new Dictionary<string, string> { ["content-type"] = "application/json", ["webhook-id"] = w.Id, ["webhook-timestamp"] = w.Timestamp });
                batch.Add(new IngestWrite(
                    new DeliveryRecord(now, SourceName, w.Id, 202, DeliveryOutcomes.Accepted, null, w.Body.Length, "127.0.0.1"),
                    new NewEvent(SourceName, w.Id, w.Id, WebhookFactory.EventType, w.Entity, now, headers, w.Body),
                    [job with { EntityKey = w.Entity }]));
            }
            var stored = await store.IngestAsync(batch, ct);
            if (stored.Any(r => r.JobsTouched != 1)) throw new BenchmarkException("a preloaded event did not create exactly one job");
        }
    }

    // ---------------------------------------------------------------- serve processes

    private async Task<ChildProcess> StartServeAsync(string name, StoreTarget store, CancellationToken ct, JobsDuringLoad jobs = JobsDuringLoad.Run)
    {
        var config = Path.Combine(options.WorkDir, name + ".yaml");
        await File.WriteAllTextAsync(config, ServeConfig(store, jobs), ct);
        return await ChildProcess.StartAsync(name, [options.CliDll, "serve", "-c", config], options.WorkDir, "/readyz", StartTimeout, ct);
    }

    /// <summary>One Standard Webhooks source with its rate limit off, and one flow that turns every event into a job for a noop sink (128 jobs in flight: a no-op sink is never the bottleneck).</summary>
    private static string ServeConfig(StoreTarget store, JobsDuringLoad jobs) => $"""
        store: {Quote(store.ConfigValue)}
        sources:
          {SourceName}:
            kind: standard-webhooks
            secret: {Quote(WebhookFactory.Secret)}
            rateLimit:
              perSecond: 0
        sinks:
          {SinkName}:
            kind: noop
            concurrency: 128
        workers:
          concurrency: 128
        {jobs switch { JobsDuringLoad.Run => Flow("0s"), JobsDuringLoad.Deferred => Flow("10m"), _ => "flows: []" }}

        """;

    private static string Flow(string settle) => $"""
        flows:
          - name: {FlowName}
            from: {SourceName}
            events: ["order.*"]
            key: '$.id'
            to: {SinkName}
            settle: {settle}
        """;

    private static string Quote(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static Uri Hooks(ChildProcess server) => new(server.Address, "/hooks/" + SourceName);

    private HttpClient Client() => LoadGenerator.CreateClient(Math.Max(options.Concurrency, 256));

    private readonly record struct Queue(long Pending, long Running, long Parked)
    {
        public long Unfinished => Pending + Running;
    }

    private static HttpClient AdminClient(ChildProcess serve) => new() { BaseAddress = serve.Address, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The queue as the admin API reports it (GET /api/status, summed over flows).</summary>
    private static async Task<Queue> QueueAsync(HttpClient http, CancellationToken ct)
    {
        await using var stream = await http.GetStreamAsync(new Uri("/api/status", UriKind.Relative), ct);
        using var doc = await JsonDocument.ParseAsync(stream, cancellationToken: ct);
        long pending = 0, running = 0, parked = 0;
        foreach (var flow in doc.RootElement.GetProperty("flows").EnumerateArray())
        {
            pending += flow.GetProperty("pending").GetInt64();
            running += flow.GetProperty("running").GetInt64();
            parked += flow.GetProperty("parked").GetInt64();
        }
        return new Queue(pending, running, parked);
    }

    /// <summary>
    /// Polls the admin API until no job is pending or running and returns 0; after <paramref name="timeout"/> throws, or
    /// returns how many jobs are left.
    /// </summary>
    private static async Task<long> WaitForDrainAsync(ChildProcess serve, TimeSpan timeout, CancellationToken ct, bool throwOnTimeout = true)
    {
        var clock = Stopwatch.StartNew();
        using var admin = AdminClient(serve);
        Queue queue = default;
        while (clock.Elapsed < timeout)
        {
            if (serve.HasExited) throw new BenchmarkException($"serve exited while draining:\n{serve.Tail()}");
            queue = await QueueAsync(admin, ct);
            if (queue.Unfinished == 0) return 0;
            // Not faster: on PostgreSQL each status call counts the whole backlog, which would load the database being measured.
            await Task.Delay(250, ct);
        }
        return !throwOnTimeout ? queue.Unfinished : throw new BenchmarkException($"{queue.Unfinished} jobs still pending or running after {timeout.TotalSeconds:0} s");
    }

    private void ExpectAllAccepted(string label, string phase, LoadResult load)
    {
        if (load.Rejected > 0) results.Problems.Add($"{label} {phase}: {load.RejectedText} of {load.Accepted + load.Rejected} requests were not answered 202");
    }

    /// <summary>CPU used by the server, this process and the database server between Start and Stop, as average cores.</summary>
    private sealed class CpuMeter
    {
        private readonly IReadOnlyList<ChildProcess> _servers;
        private readonly Backend? _backend;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly TimeSpan _server0, _self0, _system0;
        private readonly TimeSpan? _database0;

        private CpuMeter(IReadOnlyList<ChildProcess> servers, Backend? backend)
        {
            _servers = servers;
            _backend = backend;
            _server0 = ServerCpu();
            _self0 = Process.GetCurrentProcess().TotalProcessorTime;
            _database0 = backend?.ServerCpuTime();
            _system0 = ProcFs.SystemBusyTime();
        }

        public static CpuMeter Start(ChildProcess server, Backend? backend) => new([server], backend);

        public static CpuMeter Start(IReadOnlyList<ChildProcess> servers, Backend? backend) => new(servers, backend);

        private TimeSpan ServerCpu() => _servers.Aggregate(TimeSpan.Zero, (sum, s) => sum + s.CpuTime());

        public CpuSplit Stop()
        {
            var seconds = _clock.Elapsed.TotalSeconds;
            var server = (ServerCpu() - _server0).TotalSeconds / seconds;
            var self = (Process.GetCurrentProcess().TotalProcessorTime - _self0).TotalSeconds / seconds;
            var database = (_backend?.ServerCpuTime() - _database0)?.TotalSeconds / seconds;
            var system = (ProcFs.SystemBusyTime() - _system0).TotalSeconds / seconds;
            return new CpuSplit(server, self, database, Math.Max(0, system - server - self - (database ?? 0)));
        }
    }
}

/// <summary>What the flow's jobs do while webhooks are sent.</summary>
internal enum JobsDuringLoad
{
    /// <summary>Each webhook's job runs while the load goes on (workers compete with ingest): real use at full speed.</summary>
    Run,
    /// <summary>Each webhook's job is committed with its event, as always, but is due 10 minutes later (`settle: 10m`):
    /// the acknowledgement path alone, everything done before the 202. Running the jobs is what the drain measures.</summary>
    Deferred,
    /// <summary>No flow: no jobs at all (diagnostic).</summary>
    None,
}
