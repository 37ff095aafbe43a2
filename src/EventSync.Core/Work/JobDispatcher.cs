using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using EventSync.Core.Configuration;
using EventSync.Core.Sinks;
using EventSync.Core.Storage;
using EventSync.Core.Telemetry;
using Microsoft.Extensions.Logging;

namespace EventSync.Core.Work;

/// <summary>
/// Claims due jobs, runs them against their sinks within the global and per-sink limits, and records the outcome:
/// done, a retry at the next scheduled delay, a throttle pause that spends no attempt, or a parked dead letter.
/// Holds leases while it works, renews them, and reclaims jobs whose worker died.
/// </summary>
public sealed class JobDispatcher
{
    private const int MaxClaimBatch = 256;

    private readonly IEventStore _store;
    private readonly IReadOnlyDictionary<string, ISink> _sinks;
    private readonly EventSyncConfig _config;
    private readonly TimeProvider _time;
    private readonly WorkSignal _signal;
    private readonly ILogger _logger;
    private readonly Random _random;
    private readonly Dictionary<string, SemaphoreSlim> _sinkSlots;
    private readonly Redaction _redaction;

    public JobDispatcher(IEventStore store, IReadOnlyDictionary<string, ISink> sinks, EventSyncConfig config, TimeProvider time, WorkSignal signal, ILogger<JobDispatcher> logger, string? workerId = null, Random? random = null)
    {
        _store = store;
        _sinks = sinks;
        _config = config;
        _time = time;
        _signal = signal;
        _logger = logger;
        _random = random ?? Random.Shared;
        WorkerId = workerId ?? $"{Environment.MachineName}:{Environment.ProcessId}:{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..3])}";
        _sinkSlots = config.Sinks.Values.ToDictionary(s => s.Name, s => new SemaphoreSlim(s.Concurrency, s.Concurrency));
        _redaction = Redaction.For(config);
    }

    public string WorkerId { get; }

    private WorkerOptions Options => _config.Workers;

    /// <summary>
    /// Runs every job that is due now, one at a time, until none is left (reclaiming expired leases first).
    /// Deterministic: what tests drive with a fake clock instead of the background loop.
    /// </summary>
    public async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        await ReclaimExpiredAsync(cancellationToken);
        var total = 0;
        for (var pass = 0; pass < 100_000; pass++)
        {
            var claimed = await _store.ClaimJobsAsync(WorkerId, MaxClaimBatch, _time.GetUtcNow(), Options.Lease, cancellationToken);
            if (claimed.Count == 0) break;
            var completions = new List<JobCompletion>(claimed.Count);
            foreach (var job in claimed) completions.Add(await ExecuteAsync(job, cancellationToken));
            await _store.CompleteJobsAsync(completions, cancellationToken);
            total += claimed.Count;
        }
        return total;
    }

    /// <summary>The background loop: returns when <paramref name="stoppingToken"/> fires and in-flight jobs are handed back.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        _logger.WorkerStarted(WorkerId, Options.Concurrency, Options.Lease);
        using var jobsStop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var completions = Channel.CreateUnbounded<(JobCompletion Completion, TaskCompletionSource Committed)>(new UnboundedChannelOptions { SingleReader = true });
        var completer = Task.Run(() => CompletionLoopAsync(completions.Reader), CancellationToken.None);
        var listener = Task.Run(() => _store.ListenForWorkAsync(_signal, jobsStop.Token), CancellationToken.None);
        var running = new Dictionary<long, Task>();
        var nextReclaim = _time.GetUtcNow();
        var nextRenew = _time.GetUtcNow() + Options.Lease / 3;
        var errorDelay = TimeSpan.FromMilliseconds(200);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var now = _time.GetUtcNow();
                var filled = false;
                try
                {
                    if (now >= nextReclaim)
                    {
                        await ReclaimExpiredAsync(stoppingToken);
                        nextReclaim = now + Options.Lease / 2;
                    }
                    if (now >= nextRenew)
                    {
                        await _store.RenewLeasesAsync(WorkerId, running.Keys.ToList(), now + Options.Lease, stoppingToken);
                        nextRenew = now + Options.Lease / 3;
                    }
                    var free = Options.Concurrency - running.Count;
                    if (free > 0)
                    {
                        var claimed = await _store.ClaimJobsAsync(WorkerId, Math.Min(free, MaxClaimBatch), now, Options.Lease, stoppingToken);
                        foreach (var job in claimed)
                            running[job.Job.Id] = RunJobAsync(job, completions.Writer, jobsStop.Token);
                        filled = claimed.Count == Math.Min(free, MaxClaimBatch);
                    }
                    errorDelay = TimeSpan.FromMilliseconds(200);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    _logger.WorkerStoreError(ex, errorDelay);
                    await Task.Delay(errorDelay, _time, stoppingToken);
                    errorDelay = TimeSpan.FromTicks(Math.Min(errorDelay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
                    continue;
                }

                foreach (var id in running.Where(r => r.Value.IsCompleted).Select(r => r.Key).ToList()) running.Remove(id);
                if (filled) continue; // more may be due right now

                await WaitForWorkAsync(running.Values, nextRenew < nextReclaim ? nextRenew : nextReclaim, stoppingToken);
                foreach (var id in running.Where(r => r.Value.IsCompleted).Select(r => r.Key).ToList()) running.Remove(id);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: fall through to hand the in-flight jobs back.
        }
        finally
        {
            await jobsStop.CancelAsync();
            await Task.WhenAll(running.Values);
            completions.Writer.TryComplete();
            await completer;
            await listener;
        }
    }

    /// <summary>
    /// Waits until a claim may find work: a pulse for work due now (here or, through the store, in another process), a
    /// free slot, the next due job, the poll interval, or housekeeping. A pulse for work due later only brings the
    /// wake-up forward: with a settle time every webhook pulses, and claiming (and asking the store for the next due
    /// time) for each would find nothing and cost the store more than the ingest it follows.
    /// </summary>
    private async Task WaitForWorkAsync(IEnumerable<Task> running, DateTimeOffset housekeeping, CancellationToken stoppingToken)
    {
        var now = _time.GetUtcNow();
        var wakeAt = now + Options.PollInterval;
        try
        {
            if (await _store.NextDueAsync(now, stoppingToken) is { } due && due < wakeAt) wakeAt = due;
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // Outside the loop's error handling: a store fault here (a session killed by a restart) used to end the
            // dispatcher and with it serve. Wait the poll interval; the next claim reports and backs off.
            _logger.WorkerStoreError(ex, Options.PollInterval);
        }
        if (housekeeping < wakeAt) wakeAt = housekeeping;

        var busy = running.ToList();
        var slotFreed = busy.Count > 0 ? Task.WhenAny(busy) : null;
        // Bounded by the clock: every pass but the last takes a pulse for later work, and wakeAt never moves later.
        while (true)
        {
            var delay = wakeAt - _time.GetUtcNow();
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var pulsed = _signal.WaitAsync(wait.Token);
            var timer = Task.Delay(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, _time, wait.Token);
            var woke = await (slotFreed is null ? Task.WhenAny(pulsed, timer) : Task.WhenAny(pulsed, timer, slotFreed));
            await wait.CancelAsync();
            foreach (var t in new[] { pulsed, timer }) _ = t.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            stoppingToken.ThrowIfCancellationRequested();
            if (woke != pulsed || !_signal.TryTake(out var announced) || announced is not { } at || at <= _time.GetUtcNow()) return;
            if (at < wakeAt) wakeAt = at;
        }
    }

    private async Task RunJobAsync(ClaimedJob job, ChannelWriter<(JobCompletion, TaskCompletionSource)> completions, CancellationToken stop)
    {
        await Task.Yield();
        JobCompletion completion;
        var slots = _sinkSlots.GetValueOrDefault(job.Job.Sink);
        try
        {
            if (slots is not null) await slots.WaitAsync(stop);
            try
            {
                completion = await ExecuteAsync(job, stop);
            }
            finally
            {
                slots?.Release();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            completion = HandBack(job);
        }
        var committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await completions.WriteAsync((completion, committed), CancellationToken.None);
        await committed.Task;
    }

    /// <summary>Shutdown during a job: put it back at once without spending the attempt.</summary>
    private JobCompletion HandBack(ClaimedJob job)
    {
        var now = _time.GetUtcNow();
        return new JobCompletion(job.Job.Id, WorkerId, JobOutcome.Throttled, now, "worker stopped before the attempt finished",
            Run(job, now, now, RunOutcomes.Abandoned, "worker stopped before the attempt finished", null));
    }

    /// <summary>Commits completions in batches (group commit), so finishing thousands of jobs a second needs few fsyncs.</summary>
    private async Task CompletionLoopAsync(ChannelReader<(JobCompletion Completion, TaskCompletionSource Committed)> reader)
    {
        var batch = new List<(JobCompletion Completion, TaskCompletionSource Committed)>();
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            while (batch.Count < 512 && reader.TryRead(out var item)) batch.Add(item);
            var delay = TimeSpan.FromMilliseconds(100);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await _store.CompleteJobsAsync(batch.Select(b => b.Completion).ToList(), CancellationToken.None);
                    break;
                }
                catch (Exception ex) when (attempt < 50)
                {
                    // The store is unreachable: keep the outcomes and try again; the leases protect the jobs meanwhile.
                    _logger.WorkerStoreError(ex, delay);
                    await Task.Delay(delay, _time, CancellationToken.None);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
                catch (Exception)
                {
                    break; // Give up: the jobs' leases expire and another attempt runs them again (at least once).
                }
            }
            foreach (var (_, committed) in batch) committed.TrySetResult();
        }
    }

    /// <summary>Hands jobs of dead workers back to the queue, or parks them when they used up their attempts.</summary>
    public async Task<int> ReclaimExpiredAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var expired = await _store.ListExpiredLeasesAsync(now, 500, cancellationToken);
        if (expired.Count == 0) return 0;
        var completions = expired.Select(job =>
        {
            var maxAttempts = _config.FindFlow(job.Flow)?.Retry.MaxAttempts ?? 1;
            var reason = $"worker {job.LeaseOwner} stopped during attempt {job.Attempts} (its lease expired at {job.LeaseUntil:o})";
            var park = job.Attempts >= maxAttempts;
            var run = new RunRecord(0, job.Id, job.Flow, job.EntityKey, job.Sink, job.Attempts, job.LeaseOwner ?? "?", job.UpdatedAt, now, RunOutcomes.Abandoned, reason, "{}", "[]");
            return new JobCompletion(job.Id, job.LeaseOwner ?? "", park ? JobOutcome.Park : JobOutcome.Retry, now,
                park ? reason + "; no attempts left" : reason, run, OnlyIfLeaseExpiredBefore: now);
        }).ToList();
        var results = await _store.CompleteJobsAsync(completions, cancellationToken);
        var reclaimed = results.Count(r => r);
        if (reclaimed > 0) _logger.LeasesReclaimed(reclaimed);
        return reclaimed;
    }

    /// <summary>One attempt of one job, turned into its completion. Never throws except on shutdown.</summary>
    private async Task<JobCompletion> ExecuteAsync(ClaimedJob claimed, CancellationToken cancellationToken)
    {
        // The job's span is Activity.Current while the sink runs, so the sink's HTTP calls become its children.
        using var activity = EventSyncTelemetry.StartJob(claimed.Job, claimed.Events);
        var completion = await ExecuteAttemptAsync(claimed, cancellationToken);
        EventSyncTelemetry.JobFinished(activity, claimed.Job, completion.Run.Outcome, completion.Run.FinishedAt - completion.Run.StartedAt, completion.Run.Error);
        return completion;
    }

    private async Task<JobCompletion> ExecuteAttemptAsync(ClaimedJob claimed, CancellationToken cancellationToken)
    {
        var job = claimed.Job;
        var started = _time.GetUtcNow();
        var flow = _config.FindFlow(job.Flow);
        if (flow is null || !_sinks.TryGetValue(job.Sink, out var sink))
            return Park(claimed, started, $"flow '{job.Flow}' or sink '{job.Sink}' is no longer configured; restore it and replay this dead letter, or delete it");
        if (claimed.Events.Count == 0)
            return Park(claimed, started, "the job has no events left (they were deleted); nothing to sync");

        var delivery = new SinkDelivery(job.Flow, job.EntityKey, job.Id, job.Attempts, SinkDelivery.IdempotencyKeyFor(job.Flow, claimed.Events[^1].Id), claimed.Events, started);
        SinkResult result;
        try
        {
            result = await sink.DeliverAsync(delivery, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            result = SinkResult.Retryable($"{ex.GetType().Name}: {ex.Message}");
        }
        // The error goes to the log, the run record (API, CLI) and the span: never with a secret in it.
        if (result.Error is not null) result = result with { Error = _redaction.Apply(result.Error) };

        var finished = _time.GetUtcNow();
        switch (result.Status)
        {
            case SinkStatus.Succeeded:
                _logger.JobSucceeded(job.Id, job.Flow, job.EntityKey, job.Attempts);
                return new JobCompletion(job.Id, WorkerId, JobOutcome.Done, null, null, Run(claimed, started, finished, RunOutcomes.Succeeded, null, result.Resources));
            case SinkStatus.Throttled:
                var until = finished + (result.RetryAfter ?? TimeSpan.FromSeconds(1));
                await _store.PauseSinkAsync(job.Sink, until, result.Error ?? "throttled", cancellationToken);
                _logger.SinkPaused(job.Sink, until, result.Error);
                return new JobCompletion(job.Id, WorkerId, JobOutcome.Throttled, until, result.Error, Run(claimed, started, finished, RunOutcomes.Throttled, result.Error, result.Resources));
            case SinkStatus.Permanent:
                return Park(claimed, started, result.Error ?? "permanent failure", result.Resources, finished);
            default:
                var delay = RetryPolicy.DelayAfter(flow.Retry, job.Attempts, _random);
                if (delay is null)
                    return Park(claimed, started, $"gave up after {job.Attempts} attempt(s): {result.Error}", result.Resources, finished);
                _logger.JobRetrying(job.Id, job.Flow, job.EntityKey, job.Attempts, result.Error, finished + delay.Value);
                return new JobCompletion(job.Id, WorkerId, JobOutcome.Retry, finished + delay.Value, result.Error, Run(claimed, started, finished, RunOutcomes.Failed, result.Error, result.Resources));
        }
    }

    private JobCompletion Park(ClaimedJob claimed, DateTimeOffset started, string reason, IReadOnlyList<string>? resources = null, DateTimeOffset? finished = null)
    {
        _logger.JobParked(claimed.Job.Id, claimed.Job.Flow, claimed.Job.EntityKey, claimed.Job.Attempts, reason);
        return new JobCompletion(claimed.Job.Id, WorkerId, JobOutcome.Park, null, reason, Run(claimed, started, finished ?? started, RunOutcomes.Parked, reason, resources));
    }

    private RunRecord Run(ClaimedJob claimed, DateTimeOffset started, DateTimeOffset finished, string outcome, string? error, IReadOnlyList<string>? resources)
    {
        var job = claimed.Job;
        return new RunRecord(0, job.Id, job.Flow, job.EntityKey, job.Sink, job.Attempts, WorkerId, started, finished, outcome, error,
            TriggerSummary.Describe(claimed.Events), JsonSerializer.Serialize(resources ?? []));
    }
}

/// <summary>The "what caused this run" part of a run record: the events, their sources, and what they were about.</summary>
public static class TriggerSummary
{
    private const int MaxListed = 50;
    private static readonly string[][] MetadataPaths =
    [
        ["ref"], ["after"], ["forced"], ["head_commit", "id"], ["head_commit", "author", "name"], ["pusher", "name"], ["sender", "login"],
        ["repository", "full_name"], ["action"], ["release", "tag_name"], ["type"], ["table"], ["schema"], ["record", "id"], ["old_record", "id"], ["entity", "id"],
    ];

    public static string Describe(IReadOnlyList<StoredEvent> events)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteNumber("eventCount", events.Count);
            w.WriteStartArray("events");
            foreach (var e in events.Skip(Math.Max(0, events.Count - MaxListed)))
            {
                w.WriteStartObject();
                w.WriteNumber("id", e.Id);
                w.WriteString("source", e.Source);
                w.WriteString("type", e.EventType);
                w.WriteString("deliveryId", e.DeliveryId);
                w.WriteString("receivedAt", e.ReceivedAt);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (events.Count > 0 && events[^1].Payload.Length > 0) WriteMetadata(w, events[^1].Payload);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteMetadata(Utf8JsonWriter w, byte[] payload)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(payload);
        }
        catch (JsonException)
        {
            return;
        }
        using (doc)
        {
            w.WriteStartObject("metadata");
            foreach (var path in MetadataPaths)
            {
                var current = doc.RootElement;
                var found = true;
                foreach (var step in path)
                {
                    if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(step, out current)) { found = false; break; }
                }
                if (found && current.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                {
                    w.WritePropertyName(string.Join('.', path));
                    current.WriteTo(w);
                }
            }
            if (doc.RootElement.TryGetProperty("commits", out var commits) && commits.ValueKind == JsonValueKind.Array)
                w.WriteNumber("commits", commits.GetArrayLength());
            w.WriteEndObject();
        }
    }
}
