namespace EventSync.Benchmarks;

/// <summary>graphile-worker draining the same number of no-op jobs on the same PostgreSQL (the queue reference).</summary>
/// <param name="Seconds">First job's start to last job's finish, over every worker process (as ours: from the runs table).</param>
public sealed record GraphileRun(int Processes, int Concurrency, int Jobs, long Done, double Seconds, double SetupSeconds)
{
    public double JobsPerSecond => Seconds > 0 ? Done / Seconds : 0;
}

/// <summary>Webhook → sink call: each webhook's send time to the moment a loopback receiver got the sink's POST for it.</summary>
public sealed record RelayRun(int Rate, double Seconds, LoadResult Load, long Delivered, long Missing, LatencySummary Freshness);

/// <summary>Embedding API calls made for row updates in bursts (the vector flow against the OpenAI-compatible emulator).</summary>
/// <param name="TextChanges">Updates that changed the embedded text (the rest touched only columns outside the template).</param>
public sealed record EmbeddingCostRun(int Rows, int BackfillCalls, int Updates, int Bursts, int TextChanges, long Calls, long Inputs, long Runs, long Problems)
{
    public double CallsPer1000 => Updates > 0 ? Calls * 1000.0 / Updates : 0;
    public double InputsPer1000 => Updates > 0 ? Inputs * 1000.0 / Updates : 0;
}

/// <summary>API requests (GitHub + Notion, whatever the answer) for one sync round of <see cref="Documents"/> documents.</summary>
public sealed record DocsRound(string What, int Documents, long GitHubRequests, long NotionRequests, long Throttled, long Runs)
{
    public double PerDocument => Documents > 0 ? (GitHubRequests + NotionRequests) / (double)Documents : 0;
}

public sealed record DocsCostRun(IReadOnlyList<DocsRound> Rounds, long FailedRuns, IReadOnlyDictionary<string, long> NotionByEndpoint);

/// <param name="Accepted">Notion requests answered (not 429) between the first and the last request.</param>
/// <param name="Seconds">First Notion request to the last one.</param>
public sealed record NotionRateRun(int Documents, double AllowedPerSecond, int Burst, double ClientPerSecond, long Accepted, long Throttled, double Seconds, long FailedRuns, long Parked, int MaxPerSecond)
{
    public double AchievedPerSecond => Seconds > 0 ? Accepted / Seconds : 0;
    /// <summary>What the token bucket lets through in that window: the burst plus the rate for the whole window.</summary>
    public double AllowedInWindow => Burst + AllowedPerSecond * Seconds;
    public double Ratio => AllowedInWindow > 0 ? Accepted / AllowedInWindow : 0;
}

/// <summary>The figures measured once, not per backend.</summary>
public sealed class GlobalResults
{
    public EmbeddingCostRun? EmbeddingCost { get; set; }
    public DocsCostRun? DocsCost { get; set; }
    public NotionRateRun? NotionRate { get; set; }
}
