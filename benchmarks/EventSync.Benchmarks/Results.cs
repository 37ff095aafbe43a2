namespace EventSync.Benchmarks;

/// <summary>The figures the product promises (docs and BENCHMARKS.md), per backend.</summary>
public static class Targets
{
    public const double IngestPerSecond = 8_000;
    public const double LatencyP99Ms = 25;
    public const double DrainJobsPerSecond = 5_000;
    public const double SteadyRssMb = 300;
    public const double NotionRateRatio = 0.9;
}

/// <summary>
/// Average cores busy during a measurement: the server, this process (the load generator), the database server, and
/// everything else on the machine (other people's work: the noise in the figures).
/// </summary>
public sealed record CpuSplit(double ServerCores, double LoadGeneratorCores, double? DatabaseCores, double OtherCores);

public sealed record ReferenceRun(LoadResult Throughput, CpuSplit Cpu, int LatencyRate, LoadResult Latency);

public sealed record CommitRun(long Commits, double Seconds, LatencySummary Latency)
{
    public double PerSecond => Seconds > 0 ? Commits / Seconds : 0;
}

/// <param name="AckedTotal">202s over warm-up and measurement, to compare with <paramref name="Stored"/>.</param>
/// <param name="Stored">Events in the store once serve has stopped.</param>
/// <param name="PendingAfter">Jobs not yet run when the load stopped (whether the workers kept up).</param>
public sealed record IngestRun(LoadResult Load, CpuSplit Cpu, long AckedTotal, long Stored, long PendingAfter);

public sealed record LatencyRun(int Rate, LoadResult Load);

/// <param name="Seconds">How long requests were sent for (the schedule); the load's own seconds run to the last answer.</param>
/// <param name="AckedTotal">202s over warm-up and measurement, to compare with <paramref name="Stored"/>.</param>
/// <param name="Stored">Events in the store once serve has stopped.</param>
public sealed record SustainedRun(int Rate, double Seconds, LoadResult Load, CpuSplit Cpu, long AckedTotal, long Stored, long PendingAfter)
{
    /// <summary>
    /// How late the last answer may be, as a share of the schedule: a server 2.5% short of the rate ends that late
    /// (0.5 s of 20 s). A stall mid-run that the server catches up on shows in p99 and max, not here.
    /// </summary>
    public const double KeptUpSlack = 0.025;

    /// <summary>From the last scheduled send to the last answer.</summary>
    public double LastAnswerLateSeconds => Math.Max(0, Load.Seconds - Seconds);

    /// <summary>Every request answered 202 and the last within the slack of the schedule's end.</summary>
    public bool KeptUp => Load.Rejected == 0 && LastAnswerLateSeconds <= KeptUpSlack * Seconds;

    /// <summary>202s over the time from the first send to the last answer.</summary>
    public double AcknowledgedPerSecond => Load.AcceptedPerSecond;

    /// <summary>Against the target: the offered rate if the server kept up with it, else the rate it acknowledged.</summary>
    public double SustainedPerSecond => KeptUp ? Rate : AcknowledgedPerSecond;
}

/// <param name="SteadyRss">The highest RSS sampled in the second half of the load.</param>
/// <param name="PeakRss">VmHWM: the highest RSS of the process's life.</param>
/// <param name="AfterRss">RSS once the load stopped, the backlog was drained (or the wait for it ran out) and the process idled 2 s.</param>
/// <param name="BacklogAfter">Jobs still pending or running when <paramref name="AfterRss"/> was taken.</param>
public sealed record MemoryRun(int Rate, double Seconds, LoadResult Load, long IdleRss, long SteadyRss, long PeakRss, long AfterRss, long BacklogAfter, IReadOnlyList<RssPoint> Samples);

public readonly record struct RssPoint(double Seconds, long RssBytes);

/// <param name="EngineSeconds">From the first run's start to the last run's finish, from the runs table.</param>
/// <param name="WallSeconds">From launching serve to seeing no pending or running job (includes start-up).</param>
/// <param name="Cpu">From serve being ready to the queue being empty.</param>
public sealed record DrainRun(int Processes, int Jobs, double PreloadSeconds, long Done, long Parked, long Runs, double EngineSeconds, double WallSeconds, CpuSplit Cpu)
{
    public double JobsPerSecond => EngineSeconds > 0 ? Done / EngineSeconds : 0;
    public double WallJobsPerSecond => WallSeconds > 0 ? Done / WallSeconds : 0;
}

public sealed class BackendResults(string name, string durability)
{
    public string Name { get; } = name;
    public string Durability { get; } = durability;
    public CommitRun? Commit { get; set; }
    public IngestRun? Ingest { get; set; }
    public IngestRun? IngestAck { get; set; }
    public IngestRun? IngestNoFlow { get; set; }
    public LatencyRun? Latency { get; set; }
    public LatencyRun? LatencyAck { get; set; }
    public SustainedRun? Sustained { get; set; }
    public SustainedRun? SustainedAck { get; set; }
    public MemoryRun? Memory { get; set; }
    public DrainRun? Drain { get; set; }
    public DrainRun? Drain2 { get; set; }
    public GraphileRun? Graphile1 { get; set; }
    public GraphileRun? Graphile2 { get; set; }
    public RelayRun? Relay { get; set; }
}

public sealed class Results
{
    public required MachineInfo Machine { get; init; }
    public required string Mode { get; init; }
    public required int Concurrency { get; init; }
    public required int BodyBytes { get; init; }
    public DateTimeOffset Started { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>EVENTSYNC_* configuration overrides in the environment, which every serve process inherits.</summary>
    public IReadOnlyList<string> ConfigOverrides { get; init; } = [];
    public string LoadAverageBefore { get; init; } = ProcFs.LoadAverage();
    public string LoadAverageAfter { get; set; } = "";
    public DateTimeOffset Finished { get; set; }
    public ReferenceRun? Reference { get; set; }
    public List<BackendResults> Backends { get; } = [];
    public GlobalResults Global { get; } = new();
    /// <summary>Why a figure is missing (e.g. graphile-worker could not be installed); not a failure.</summary>
    public List<string> Notes { get; } = [];
    /// <summary>Measurements that failed or found something wrong (non-202 answers, lost events, undrained jobs).</summary>
    public List<string> Problems { get; } = [];
}
