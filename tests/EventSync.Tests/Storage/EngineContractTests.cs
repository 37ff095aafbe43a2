using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;

namespace EventSync.Tests.Storage;

/// <summary>
/// The engine's promises, run against both real backends: dedup, coalescing, debounce with max wait, per-key order,
/// retries then parking, Retry-After pauses, permanent failures, replay and lease reclaim. Time is a fake clock.
/// </summary>
public abstract class EngineContractTests
{
    protected abstract StoreKind Kind { get; }

    private Task<EngineHarness> Harness(string settle = "0s", string maxWait = "5m") => EngineHarness.CreateAsync(Kind, settle, maxWait);

    [Fact]
    public async Task A_redelivered_event_is_a_duplicate_and_creates_no_work()
    {
        await using var h = await Harness();
        var first = await h.IngestAsync("order-1", dedupKey: "msg_same");
        var second = await h.IngestAsync("order-1", dedupKey: "msg_same");
        Assert.False(first.Duplicate);
        Assert.Equal(1, first.JobsTouched);
        Assert.True(second.Duplicate);
        Assert.Equal(first.EventId, second.EventId);
        Assert.Equal(0, second.JobsTouched);
        Assert.Equal(1, await h.RunDueAsync());
        Assert.Single(h.Sink.Deliveries);
        Assert.Single(await h.Store.ListEventsAsync(new EventQuery(), CancellationToken.None));
        var log = await h.Store.ListDeliveriesAsync(new DeliveryQuery(), CancellationToken.None);
        Assert.Equal([DeliveryOutcomes.Duplicate, DeliveryOutcomes.Accepted], log.Select(d => d.Outcome));
    }

    [Fact]
    public async Task One_group_commit_dedups_merges_and_logs_every_receipt_in_order()
    {
        await using var h = await Harness(settle: "10s", maxWait: "30s");
        var earlier = await h.IngestAsync("order-9", dedupKey: "msg_old");
        var rejection = new IngestWrite(new DeliveryRecord(h.Time.GetUtcNow(), "orders", "msg_bad", 401, DeliveryOutcomes.Rejected, "bad signature", 10, "127.0.0.1"));
        h.Advance(TimeSpan.FromSeconds(1));
        IngestWrite[] batch =
        [
            h.Write("order-1", "msg_a"),
            rejection,
            h.Write("order-1", "msg_b"),   // same key in the same commit: merges into msg_a's job
            h.Write("order-2", "msg_c"),
            h.Write("order-2", "msg_c"),   // repeated within the commit
            h.Write("order-9", "msg_old"), // redelivered from an earlier commit
        ];
        var results = await h.Store.IngestAsync(batch, CancellationToken.None);

        Assert.Equal([false, false, false, false, true, true], results.Select(r => r.Duplicate));
        Assert.Equal([1, 0, 1, 1, 0, 0], results.Select(r => r.JobsTouched));
        Assert.Null(results[1].EventId);
        Assert.Equal(results[3].EventId, results[4].EventId);
        Assert.Equal(earlier.EventId, results[5].EventId);
        Assert.True(results[0].EventId < results[2].EventId && results[2].EventId < results[3].EventId);

        var pending = (await h.JobsAsync(JobStatuses.Pending)).OrderBy(j => j.EntityKey).ToList();
        Assert.Equal(["order-1", "order-2", "order-9"], pending.Select(j => j.EntityKey));
        Assert.Equal(EngineHarness.Start + TimeSpan.FromSeconds(11), pending[0].DueAt);
        var log = (await h.Store.ListDeliveriesAsync(new DeliveryQuery(), CancellationToken.None)).OrderBy(d => d.Id).ToList();
        Assert.Equal(7, log.Count);
        Assert.Equal(["msg_old", "msg_a", "msg_bad", "msg_b", "msg_c", "msg_c", "msg_old"], log.Select(d => d.DeliveryId));
        Assert.Equal([DeliveryOutcomes.Accepted, DeliveryOutcomes.Accepted, DeliveryOutcomes.Rejected, DeliveryOutcomes.Accepted, DeliveryOutcomes.Accepted,
            DeliveryOutcomes.Duplicate, DeliveryOutcomes.Duplicate], log.Select(d => d.Outcome));
        Assert.Equal(results.Select(r => r.EventId), log.Skip(1).Select(d => d.EventId));

        h.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(3, await h.RunDueAsync());
        var merged = Assert.Single(h.Sink.Deliveries, d => d.EntityKey == "order-1");
        Assert.Equal(["msg_a", "msg_b"], merged.Events.Select(e => e.DeliveryId));
        Assert.Equal("msg_b", EngineHarness.PayloadSeq(merged));
        Assert.Single(Assert.Single(h.Sink.Deliveries, d => d.EntityKey == "order-2").Events);
    }

    [Fact]
    public async Task A_failing_group_commit_writes_nothing_and_does_not_disturb_the_ones_beside_it()
    {
        await using var h = await Harness();
        var good = Enumerable.Range(0, 16).Select(i => h.Write($"order-{i}", $"msg_good_{i}")).ToList();
        var partner = h.Write("order-x", "msg_partner");
        var broken = h.Write("order-y", "msg_broken");
        broken = broken with { Event = broken.Event! with { EventType = null! } }; // violates NOT NULL in the store

        // Started together, so on SQLite they share the writer's transactions; the broken one must roll back alone.
        var commits = good.Select(w => h.Store.IngestAsync([w], CancellationToken.None)).ToList();
        var failing = h.Store.IngestAsync([partner, broken], CancellationToken.None);
        var answers = await Task.WhenAll(commits);
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => failing);

        var stored = await h.Store.ListEventsAsync(new EventQuery(Limit: 100), CancellationToken.None);
        Assert.Equal(good.Select(w => w.Event!.DeliveryId).Order(), stored.Select(e => e.DeliveryId).Order());
        // Each caller hears of its own event, however the writer combined them.
        var deliveryOf = stored.ToDictionary(e => e.Id, e => e.DeliveryId);
        Assert.Equal(good.Select(w => w.Event!.DeliveryId), answers.Select(a => deliveryOf[Assert.Single(a).EventId!.Value]));
        Assert.Equal(16, (await h.Store.ListDeliveriesAsync(new DeliveryQuery(), CancellationToken.None)).Count);
        Assert.Equal(16, (await h.JobsAsync(JobStatuses.Pending)).Count);
        Assert.Equal(16, await h.RunDueAsync());
    }

    [Fact]
    public async Task Group_commits_started_together_each_hear_their_own_results()
    {
        await using var h = await Harness();
        // 30 callers × 20 webhooks: more than one SQLite transaction takes (512 combined), so some wait for the next.
        var calls = Enumerable.Range(0, 30).Select(i => Enumerable.Range(0, 20).Select(n => h.Write($"order-{i}", $"msg_{i}_{n}")).ToArray()).ToList();

        // Started together, so on SQLite the writer runs many of them as one; each caller still gets its own answers.
        var answers = await Task.WhenAll(calls.Select(c => h.Store.IngestAsync(c, CancellationToken.None)));

        var deliveryOf = (await h.Store.ListEventsAsync(new EventQuery(Limit: 1000), CancellationToken.None)).ToDictionary(e => e.Id, e => e.DeliveryId);
        Assert.Equal(600, deliveryOf.Count);
        for (var i = 0; i < calls.Count; i++)
        {
            Assert.Equal(calls[i].Select(w => w.Event!.DeliveryId), answers[i].Select(r => deliveryOf[r.EventId!.Value]));
            Assert.All(answers[i], r => Assert.Equal(1, r.JobsTouched));
            Assert.All(answers[i], r => Assert.False(r.Duplicate));
        }
        Assert.Equal(30, (await h.JobsAsync(JobStatuses.Pending)).Count);
        Assert.Equal(600, (await h.Store.ListDeliveriesAsync(new DeliveryQuery(Limit: 1000), CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Events_for_one_key_coalesce_into_one_job_that_runs_on_the_newest_state()
    {
        await using var h = await Harness();
        for (var i = 0; i < 5; i++) await h.IngestAsync("order-1");
        await h.IngestAsync("order-2");
        Assert.Equal(2, (await h.JobsAsync(JobStatuses.Pending)).Count);
        Assert.Equal(2, await h.RunDueAsync());
        var delivery = Assert.Single(h.Sink.Deliveries, d => d.EntityKey == "order-1");
        Assert.Equal(5, delivery.Events.Count);
        Assert.Equal("msg_5", EngineHarness.PayloadSeq(delivery));
        Assert.Equal(SinkDelivery.IdempotencyKeyFor("relay", delivery.Events[^1].Id), delivery.IdempotencyKey);
    }

    [Fact]
    public async Task Settle_debounces_after_the_last_event_but_never_past_max_wait()
    {
        await using var h = await Harness(settle: "10s", maxWait: "30s");
        await h.IngestAsync("order-1");
        h.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(0, await h.RunDueAsync());
        await h.IngestAsync("order-1"); // t=9: due moves to t=19
        h.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(0, await h.RunDueAsync()); // t=18
        h.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await h.RunDueAsync()); // t=19

        // A steady stream keeps postponing, but the deadline (first event + 30 s) wins.
        var first = h.Time.GetUtcNow();
        for (var i = 0; i < 6; i++)
        {
            await h.IngestAsync("order-2");
            h.Advance(TimeSpan.FromSeconds(5));
            if (h.Time.GetUtcNow() - first < TimeSpan.FromSeconds(30)) Assert.Equal(0, await h.RunDueAsync());
        }
        Assert.Equal(TimeSpan.FromSeconds(30), h.Time.GetUtcNow() - first);
        Assert.Equal(1, await h.RunDueAsync());
        Assert.Equal(6, h.Sink.Deliveries.Last().Events.Count);
    }

    [Fact]
    public async Task A_key_runs_one_job_at_a_time_and_a_change_during_a_run_schedules_exactly_one_follow_up()
    {
        await using var h = await Harness();
        await h.IngestAsync("order-1");
        await h.IngestAsync("order-2");
        var claimed = await h.Store.ClaimJobsAsync("other-worker", 10, h.Time.GetUtcNow(), TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal(2, claimed.Count); // different keys run in parallel
        var running = claimed.Single(c => c.Job.EntityKey == "order-1");

        await h.IngestAsync("order-1");
        await h.IngestAsync("order-1");
        Assert.Single(await h.JobsAsync(JobStatuses.Pending)); // two changes, one follow-up
        Assert.Equal(0, await h.RunDueAsync()); // order-1 is still running elsewhere

        var done = new RunRecord(0, running.Job.Id, "relay", "order-1", "out", 1, "other-worker", h.Time.GetUtcNow(), h.Time.GetUtcNow(), RunOutcomes.Succeeded, null, "{}", "[]");
        Assert.True((await h.Store.CompleteJobsAsync([new JobCompletion(running.Job.Id, "other-worker", JobOutcome.Done, null, null, done)], CancellationToken.None))[0]);
        Assert.Equal(1, await h.RunDueAsync());
        var followUp = Assert.Single(h.Sink.Deliveries);
        Assert.Equal(2, followUp.Events.Count);
        Assert.True(followUp.Events[0].Id > running.Events[^1].Id);
    }

    [Fact]
    public async Task A_failing_job_retries_on_the_schedule_then_parks_in_dead_letters()
    {
        await using var h = await Harness();
        h.Sink.Then(Enumerable.Repeat(SinkResult.Retryable("503 from receiver"), 4).ToArray());
        await h.IngestAsync("order-1");
        Assert.Equal(1, await h.RunDueAsync()); // attempt 1 at t=0
        foreach (var delay in new[] { 2, 4, 8 })
        {
            h.Advance(TimeSpan.FromSeconds(delay) - TimeSpan.FromMilliseconds(1));
            Assert.Equal(0, await h.RunDueAsync());
            h.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(1, await h.RunDueAsync());
        }
        Assert.Equal([1, 2, 3, 4], h.Sink.Deliveries.Select(d => d.Attempt));
        Assert.Single(h.Sink.Deliveries.Select(d => d.IdempotencyKey).Distinct()); // retries of one state share a key
        var dead = Assert.Single(await h.JobsAsync(JobStatuses.Parked));
        Assert.Contains("gave up after 4 attempt(s): 503 from receiver", dead.LastError, StringComparison.Ordinal);
        Assert.Equal(1, dead.EventCount);
        var runs = await h.RunsAsync();
        Assert.Equal([RunOutcomes.Failed, RunOutcomes.Failed, RunOutcomes.Failed, RunOutcomes.Parked], runs.Select(r => r.Outcome));
        // Each retry continues the job as a new row; asking for the dead letter's runs, or the first row's, finds them all.
        foreach (var jobId in new[] { dead.Id, runs[0].JobId })
            Assert.Equal([1, 2, 3, 4], (await h.Store.ListRunsAsync(new RunQuery(JobId: jobId), CancellationToken.None)).Select(r => r.Attempt).Order());
        h.Advance(TimeSpan.FromHours(1));
        Assert.Equal(0, await h.RunDueAsync());
    }

    [Fact]
    public async Task Retry_after_pauses_the_sink_without_spending_an_attempt()
    {
        await using var h = await Harness();
        h.Sink.Then(SinkResult.Throttled(TimeSpan.FromSeconds(30), "429 slow down"));
        await h.IngestAsync("order-1");
        Assert.Equal(1, await h.RunDueAsync());
        await h.IngestAsync("order-2"); // another key on the same sink waits for the pause too
        h.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(0, await h.RunDueAsync());
        Assert.Contains("out", (await h.Store.GetSinkPausesAsync(h.Time.GetUtcNow(), CancellationToken.None)).Keys);
        h.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, await h.RunDueAsync());
        Assert.Equal(1, h.Sink.Deliveries.Single(d => d.EntityKey == "order-1" && d.Attempt > 0 && d != h.Sink.Deliveries.First()).Attempt);
        Assert.Empty(await h.JobsAsync(JobStatuses.Parked));
        Assert.Contains(await h.RunsAsync(), r => r.Outcome == RunOutcomes.Throttled);
    }

    [Fact]
    public async Task A_permanent_failure_parks_at_once_with_its_reason_and_replay_delivers_it()
    {
        await using var h = await Harness();
        h.Sink.Then(SinkResult.Permanent("422 validation failed: name is required"));
        await h.IngestAsync("order-1");
        await h.IngestAsync("order-1");
        Assert.Equal(1, await h.RunDueAsync());
        var dead = Assert.Single(await h.JobsAsync(JobStatuses.Parked));
        Assert.Equal("422 validation failed: name is required", dead.LastError);
        Assert.Equal(1, dead.Attempts);

        var pending = await h.Store.ReplayDeadLetterAsync(dead.Id, h.Time.GetUtcNow(), CancellationToken.None);
        Assert.NotNull(pending);
        Assert.Null(await h.Store.ReplayDeadLetterAsync(dead.Id, h.Time.GetUtcNow(), CancellationToken.None)); // only once
        Assert.Empty(await h.JobsAsync(JobStatuses.Parked));
        Assert.Equal(1, await h.RunDueAsync());
        var replayed = h.Sink.Deliveries.Last();
        Assert.Equal(1, replayed.Attempt); // fresh attempts
        Assert.Equal(2, replayed.Events.Count); // nothing lost
        Assert.Equal(JobStatuses.Superseded, (await h.Store.GetJobAsync(dead.Id, CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task A_retry_during_which_new_events_arrived_merges_into_the_follow_up()
    {
        await using var h = await Harness();
        await h.IngestAsync("order-1");
        var claimed = Assert.Single(await h.Store.ClaimJobsAsync("w", 10, h.Time.GetUtcNow(), TimeSpan.FromSeconds(30), CancellationToken.None));
        await h.IngestAsync("order-1");
        var run = new RunRecord(0, claimed.Job.Id, "relay", "order-1", "out", 1, "w", h.Time.GetUtcNow(), h.Time.GetUtcNow(), RunOutcomes.Failed, "boom", "{}", "[]");
        await h.Store.CompleteJobsAsync([new JobCompletion(claimed.Job.Id, "w", JobOutcome.Retry, h.Time.GetUtcNow() + TimeSpan.FromSeconds(2), "boom", run)], CancellationToken.None);
        var pending = Assert.Single(await h.JobsAsync(JobStatuses.Pending));
        Assert.Equal(2, pending.EventCount);
        Assert.Equal(1, pending.Attempts);
        Assert.Equal(h.Time.GetUtcNow() + TimeSpan.FromSeconds(2), pending.DueAt); // the backoff holds
    }

    [Fact]
    public async Task Jobs_of_a_worker_whose_lease_expired_are_reclaimed_and_a_late_completion_is_refused()
    {
        await using var h = await Harness();
        await h.IngestAsync("order-1");
        var claimed = Assert.Single(await h.Store.ClaimJobsAsync("crashed-worker", 10, h.Time.GetUtcNow(), TimeSpan.FromSeconds(30), CancellationToken.None));
        Assert.Equal(0, await h.RunDueAsync()); // leased
        h.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(1, await h.RunDueAsync());
        Assert.Equal(2, Assert.Single(h.Sink.Deliveries).Attempt);
        var runs = await h.RunsAsync();
        Assert.Equal([RunOutcomes.Abandoned, RunOutcomes.Succeeded], runs.Select(r => r.Outcome));

        var late = new RunRecord(0, claimed.Job.Id, "relay", "order-1", "out", 1, "crashed-worker", h.Time.GetUtcNow(), h.Time.GetUtcNow(), RunOutcomes.Succeeded, null, "{}", "[]");
        var accepted = await h.Store.CompleteJobsAsync([new JobCompletion(claimed.Job.Id, "crashed-worker", JobOutcome.Done, null, null, late)], CancellationToken.None);
        Assert.False(accepted[0]);
        Assert.Contains(await h.RunsAsync(), r => r.Outcome == RunOutcomes.LeaseLost);
    }

    [Fact]
    public async Task Pruning_removes_finished_history_but_keeps_dead_letters_and_their_events()
    {
        await using var h = await Harness();
        h.Sink.Then(SinkResult.Success(), SinkResult.Permanent("bad"));
        await h.IngestAsync("done-key");
        Assert.Equal(1, await h.RunDueAsync());
        await h.IngestAsync("dead-key");
        Assert.Equal(1, await h.RunDueAsync());
        h.Advance(TimeSpan.FromDays(8));
        var cut = h.Time.GetUtcNow() - TimeSpan.FromDays(7);
        var pruned = await h.Store.PruneAsync(cut, cut, cut, CancellationToken.None);
        Assert.Equal(1, pruned.Events);
        var events = await h.Store.ListEventsAsync(new EventQuery(), CancellationToken.None);
        Assert.Equal("dead-key", Assert.Single(events).EntityKey);
        Assert.Single(await h.JobsAsync(JobStatuses.Parked));
    }

    [Fact]
    public async Task The_next_due_time_skips_jobs_already_due_so_one_that_cannot_run_hides_nothing()
    {
        await using var h = await Harness(settle: "10m", maxWait: "30m");
        Assert.Null(await h.Store.NextDueAsync(h.Time.GetUtcNow(), CancellationToken.None));
        await h.IngestAsync("order-1");                     // due at +10 min
        h.Advance(TimeSpan.FromMinutes(15));
        await h.IngestAsync("order-2");                     // due at +25 min; order-1 is past due (say, its sink paused)
        Assert.Equal(EngineHarness.Start.AddMinutes(10), await h.Store.NextDueAsync(EngineHarness.Start, CancellationToken.None));
        Assert.Equal(EngineHarness.Start.AddMinutes(25), await h.Store.NextDueAsync(h.Time.GetUtcNow(), CancellationToken.None));
    }

    [Fact]
    public async Task Migrating_twice_is_harmless_and_reports_the_latest_version()
    {
        await using var h = await Harness();
        await h.Store.MigrateAsync(CancellationToken.None);
        Assert.Equal(EventSync.Storage.Sql.SqlStore.LatestSchemaVersion, await h.Store.SchemaVersionAsync(CancellationToken.None));
        await h.Store.PingAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Source_state_and_cursors_round_trip()
    {
        await using var h = await Harness();
        await h.Store.SetSourceStateAsync("notion", "verificationToken", "secret_a", h.Time.GetUtcNow(), CancellationToken.None);
        await h.Store.SetSourceStateAsync("notion", "verificationToken", "secret_b", h.Time.GetUtcNow(), CancellationToken.None);
        Assert.Equal("secret_b", await h.Store.GetSourceStateAsync("notion", "verificationToken", CancellationToken.None));
        Assert.Null(await h.Store.GetCursorAsync("poll", CancellationToken.None));
        await h.Store.SetCursorAsync("poll", "2026-01-01T00:00:00Z", h.Time.GetUtcNow(), CancellationToken.None);
        Assert.Equal("2026-01-01T00:00:00Z", await h.Store.GetCursorAsync("poll", CancellationToken.None));
    }
}

public sealed class SqliteEngineTests : EngineContractTests
{
    protected override StoreKind Kind => StoreKind.Sqlite;
}

public sealed class PostgresEngineTests : EngineContractTests
{
    protected override StoreKind Kind => StoreKind.Postgres;
}
