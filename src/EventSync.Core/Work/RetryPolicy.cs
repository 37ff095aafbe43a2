using EventSync.Core.Configuration;

namespace EventSync.Core.Work;

/// <summary>The delay before attempt n+1 after attempt n failed, from the flow's schedule with jitter.</summary>
public static class RetryPolicy
{
    /// <summary>Null when <paramref name="failedAttempt"/> was the last one the schedule allows (the job parks).</summary>
    public static TimeSpan? DelayAfter(RetryOptions options, int failedAttempt, Random random)
    {
        if (failedAttempt < 1 || failedAttempt > options.Schedule.Count) return null;
        var baseDelay = options.Schedule[failedAttempt - 1];
        var factor = 1 + options.Jitter * (random.NextDouble() * 2 - 1);
        return TimeSpan.FromTicks((long)(baseDelay.Ticks * factor));
    }
}
