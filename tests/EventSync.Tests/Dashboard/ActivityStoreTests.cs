using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;
using EventSync.Tests.Storage;

namespace EventSync.Tests.Dashboard;

/// <summary>The dashboard's store queries on both backends, on a fake clock so every minute bucket is known.</summary>
public abstract class ActivityStoreTests
{
    protected abstract StoreKind Kind { get; }

    [Fact]
    public async Task Activity_counts_events_and_runs_per_flow_and_minute_and_the_feed_and_event_detail_follow_the_work()
    {
        await using var h = await EngineHarness.CreateAsync(Kind);
        var store = (IActivityStore)h.Store;
        var first = await h.IngestAsync("order-1");
        await h.IngestAsync("order-1");
        Assert.Equal(1, await h.RunDueAsync()); // minute 0: two events coalesced into one successful run

        h.Advance(TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(5));
        h.Sink.Then(SinkResult.Retryable("receiver answered 500"));
        var late = await h.IngestAsync("order-2");
        Assert.Equal(1, await h.RunDueAsync()); // minute 2: one failed run; the retry copies the event to a new job

        var counts = await store.GetActivityAsync(EngineHarness.Start, EngineHarness.Start.AddMinutes(5), TimeSpan.FromMinutes(1), CancellationToken.None);
        Assert.Equal([new ActivityCount("relay", 0, 2, 1, 0), new ActivityCount("relay", 2, 1, 1, 1)], counts);
        // A window that starts later leaves the earlier minutes out and renumbers the buckets from its start.
        var later = await store.GetActivityAsync(EngineHarness.Start.AddMinutes(1), EngineHarness.Start.AddMinutes(5), TimeSpan.FromMinutes(1), CancellationToken.None);
        Assert.Equal([new ActivityCount("relay", 1, 1, 1, 1)], later);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            store.GetActivityAsync(EngineHarness.Start, EngineHarness.Start.AddDays(30), TimeSpan.FromMinutes(1), CancellationToken.None));

        Assert.Equal(new Dictionary<string, int> { ["relay"] = 1 }, await store.CountRetryingAsync(CancellationToken.None));

        var feed = await store.ListEventsAfterAsync(first.EventId!.Value, new EventQuery(Limit: 10), CancellationToken.None);
        Assert.Equal([first.EventId.Value + 1, late.EventId!.Value], feed.Select(e => e.Id));
        Assert.Equal([late.EventId.Value], (await store.ListEventsAfterAsync(0, new EventQuery(EntityKey: "order-2"), CancellationToken.None)).Select(e => e.Id));
        Assert.Empty(await store.ListEventsAfterAsync(late.EventId.Value, new EventQuery(), CancellationToken.None));

        var stored = await store.GetEventAsync(late.EventId.Value, CancellationToken.None);
        Assert.Contains("order-2", System.Text.Encoding.UTF8.GetString(stored!.Payload), StringComparison.Ordinal);
        Assert.Null(await store.GetEventAsync(9999, CancellationToken.None));

        var jobs = await store.ListEventJobsAsync(late.EventId.Value, 10, CancellationToken.None);
        Assert.Equal([JobStatuses.Superseded, JobStatuses.Pending], jobs.Select(j => j.Status));
        var runs = await store.ListJobRunsAsync(jobs.Select(j => j.Id).ToList(), 10, CancellationToken.None);
        var run = Assert.Single(runs);
        Assert.Equal(RunOutcomes.Failed, run.Outcome);
        Assert.Equal("order-2", run.EntityKey);
        Assert.Empty(await store.ListJobRunsAsync([], 10, CancellationToken.None));
    }
}

public sealed class SqliteActivityStoreTests : ActivityStoreTests
{
    protected override StoreKind Kind => StoreKind.Sqlite;
}

public sealed class PostgresActivityStoreTests : ActivityStoreTests
{
    protected override StoreKind Kind => StoreKind.Postgres;
}
