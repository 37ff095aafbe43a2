using System.Globalization;

namespace EventSync.Benchmarks;

/// <summary>How long and how hard each measurement runs.</summary>
public sealed record Sizes(
    TimeSpan Warmup,
    TimeSpan Throughput,
    TimeSpan Latency,
    int LatencyRate,
    int SustainedRate,
    TimeSpan Memory,
    int MemoryRate,
    int DrainJobs,
    TimeSpan Commit,
    TimeSpan MemoryDrainWait,
    int RelayRate,
    TimeSpan Relay,
    int CostDocuments,
    int RateDocuments)
{
    public static readonly Sizes Full = new(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30), 1000, (int)Targets.IngestPerSecond, TimeSpan.FromMinutes(5), 2000, 100_000, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(120),
        200, TimeSpan.FromSeconds(30), 20, 40);

    /// <summary>For CI: every measurement, on both backends, in a few minutes.</summary>
    public static readonly Sizes Quick = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3), 1000, (int)Targets.IngestPerSecond, TimeSpan.FromSeconds(8), 2000, 4_000, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2),
        200, TimeSpan.FromSeconds(5), 5, 8);
}

public sealed class BenchOptions
{
    public static readonly string[] AllScenarios = ["reference", "commit", "ingest", "ingest-ack", "sustained", "sustained-ack", "latency", "latency-ack", "memory", "drain", "drain2", "graphile", "relay", "embed-cost", "docs-cost", "notion-rate"];

    /// <summary>Not run by default: ingest with no flow (no jobs, so no workers), to separate ingest's cost from the workers'.</summary>
    public const string IngestNoFlow = "ingest-noflow";

    public bool Quick { get; private init; }
    public Sizes Sizes => (Quick ? Sizes.Quick : Sizes.Full) is var sizes && Warmup is { } warmup ? sizes with { Warmup = warmup } : sizes;
    /// <summary>Overrides the size's warm-up before each load measurement.</summary>
    public TimeSpan? Warmup { get; private init; }
    public required string CliDll { get; init; }
    public required string WorkDir { get; init; }
    /// <summary>True when the tool made <see cref="WorkDir"/> itself (and so deletes it at the end).</summary>
    public bool OwnsWorkDir { get; private init; }
    public string? Postgres { get; private init; }
    public int? PostgresPid { get; private init; }
    public IReadOnlyList<string> Backends { get; private init; } = ["sqlite", "postgres"];
    public IReadOnlyList<string> Scenarios { get; private init; } = AllScenarios;
    public int Concurrency { get; private init; } = 64;
    public int BodyBytes { get; private init; } = 2048;
    public int? DrainJobs { get; private init; }
    public string? MarkdownPath { get; private init; }
    public string? JsonPath { get; private init; }
    /// <summary>Where `npm install graphile-worker` put node_modules (the queue reference); null: not installed.</summary>
    public string? GraphileModules { get; private init; }
    /// <summary>Why graphile-worker is not installed, for the report.</summary>
    public string? GraphileMissing { get; private init; }

    public bool Runs(string scenario) => Scenarios.Contains(scenario);

    public const string Usage = """
        usage: EventSync.Benchmarks [options]
          --quick                 reduced counts (CI); default is the full-size run
          --cli PATH              eventsync.dll to benchmark (default .artifacts/cli/eventsync.dll)
          --work-dir DIR          where stores, configs and server logs go (default: a new temp dir)
          --postgres CS           Npgsql connection string of a PostgreSQL server to create databases on
                                  (default: $EVENTSYNC_TEST_POSTGRES)
          --postgres-pid PID      the postmaster's pid, to report PostgreSQL's CPU use (optional)
          --backends LIST         sqlite,postgres (default: both)
          --only LIST             reference,commit,ingest,ingest-ack,sustained,sustained-ack,latency,
                                  latency-ack,memory,drain,drain2,graphile,relay,embed-cost,docs-cost,
                                  notion-rate (default: all),
                                  and the diagnostic ingest-noflow (no flow: no jobs, no worker activity);
                                  -ack: each job is committed with its event but due 10 min later, so
                                  only the acknowledgement path runs during the load
          --concurrency N         in-flight requests of the closed-loop load (default 64)
          --body-bytes N          webhook body size (default 2048)
          --drain-jobs N          backlog size for the drain measurement
          --warmup SECONDS        warm-up before each load measurement (default 3, quick 1)
          --markdown FILE         also write the report there
          --json FILE             also write every raw figure there
          --graphile DIR          where `npm install graphile-worker` put node_modules (the queue reference)
          --graphile-missing WHY  graphile-worker could not be installed: the report says why
        """;

    public static BenchOptions Parse(string[] args)
    {
        string? Value(ref int i) => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        int Int(ref int i, int min)
        {
            var name = args[i];
            var v = Value(ref i);
            return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min ? n : throw new ArgumentException($"{name} expects a whole number of at least {min}, not '{v}'");
        }
        static List<string> List(string? v, IReadOnlyList<string> allowed, string name)
        {
            var items = (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            var unknown = items.Where(x => !allowed.Contains(x)).ToList();
            if (items.Count == 0 || unknown.Count > 0) throw new ArgumentException($"{name}: expected some of {string.Join(",", allowed)}, got '{v}'");
            return items;
        }

        bool quick = false;
        string cli = Path.Combine(".artifacts", "cli", "eventsync.dll");
        string? graphile = null, graphileMissing = null;
        string? workDir = null, postgres = Environment.GetEnvironmentVariable("EVENTSYNC_TEST_POSTGRES"), markdown = null, json = null;
        int? pgPid = null, drainJobs = null, warmup = null;
        int concurrency = 64, bodyBytes = 2048;
        IReadOnlyList<string>? backends = null;
        IReadOnlyList<string> scenarios = AllScenarios;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick": quick = true; break;
                case "--cli": cli = Value(ref i)!; break;
                case "--work-dir": workDir = Value(ref i); break;
                case "--postgres": postgres = Value(ref i); break;
                case "--postgres-pid": pgPid = Int(ref i, 1); break;
                case "--backends": backends = List(Value(ref i), ["sqlite", "postgres"], "--backends"); break;
                case "--only": scenarios = List(Value(ref i), [.. AllScenarios, IngestNoFlow], "--only"); break;
                case "--concurrency": concurrency = Int(ref i, 1); break;
                case "--body-bytes": bodyBytes = Int(ref i, 512); break;
                case "--drain-jobs": drainJobs = Int(ref i, 1); break;
                case "--warmup": warmup = Int(ref i, 0); break;
                case "--markdown": markdown = Value(ref i); break;
                case "--json": json = Value(ref i); break;
                case "--graphile": graphile = Path.GetFullPath(Value(ref i)!); break;
                case "--graphile-missing": graphileMissing = Value(ref i); break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        cli = Path.GetFullPath(cli);
        if (!File.Exists(cli)) throw new ArgumentException($"{cli} does not exist; build the CLI first (benchmarks/run.sh does)");
        if (string.IsNullOrEmpty(postgres)) postgres = null;
        backends ??= postgres is null ? ["sqlite"] : ["sqlite", "postgres"];
        if (backends.Contains("postgres") && postgres is null)
            throw new ArgumentException("the postgres backend needs --postgres or EVENTSYNC_TEST_POSTGRES (benchmarks/run.sh starts a throwaway server)");
        var ownsWorkDir = workDir is null;
        workDir = Path.GetFullPath(workDir ?? Directory.CreateTempSubdirectory("eventsync-bench.").FullName);
        Directory.CreateDirectory(workDir);
        return new BenchOptions
        {
            Quick = quick, CliDll = cli, WorkDir = workDir, OwnsWorkDir = ownsWorkDir, Postgres = postgres, PostgresPid = pgPid, Backends = backends, Scenarios = scenarios,
            Concurrency = concurrency, BodyBytes = bodyBytes, DrainJobs = drainJobs, Warmup = warmup is null ? null : TimeSpan.FromSeconds(warmup.Value), MarkdownPath = markdown, JsonPath = json,
            GraphileModules = graphile, GraphileMissing = graphileMissing,
        };
    }
}
