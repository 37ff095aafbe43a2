using EventSync.Core.Storage;

namespace EventSync.Core.Work;

/// <summary>
/// A wake-up for the dispatcher: ingest (and, on PostgreSQL, other processes through NOTIFY) pulses it after committing
/// jobs, saying when the earliest of them comes due. Pulses are kept until the dispatcher takes them, so one that comes
/// while nobody waits (the dispatcher is between its claim and its wait) wakes the next wait at once.
/// </summary>
public sealed class WorkSignal
{
    private readonly object _gate = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _pulsed;
    private DateTimeOffset? _earliestDue;

    /// <summary>New work: due at <paramref name="due"/>, or now (null: also when the pulser cannot tell).</summary>
    public void Pulse(DateTimeOffset? due = null)
    {
        TaskCompletionSource fired;
        lock (_gate)
        {
            _earliestDue = !_pulsed ? due : _earliestDue is { } known && due is { } at ? (at < known ? at : known) : null;
            _pulsed = true;
            fired = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        fired.TrySetResult();
    }

    /// <summary>Pulses for the jobs a commit of <paramref name="writes"/> created or merged into; not at all when it touched none.</summary>
    public void PulseFor(IReadOnlyList<IngestWrite> writes, IReadOnlyList<IngestResult> results)
    {
        DateTimeOffset? earliest = null;
        for (var i = 0; i < writes.Count; i++)
            if (results[i].JobsTouched > 0 && writes[i].EarliestJobDue is { } due && (earliest is null || due < earliest)) earliest = due;
        if (earliest is { } at) Pulse(at);
    }

    /// <summary>Completes when there is a pulse not yet taken (at once if one is waiting).</summary>
    public Task WaitAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
            return _pulsed ? Task.CompletedTask : _next.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Whether a pulse is waiting to be taken.</summary>
    internal bool HasPulse
    {
        get
        {
            lock (_gate) return _pulsed;
        }
    }

    /// <summary>Takes the pulses since the last take: false if there were none, else the earliest due time they announced (null: now).</summary>
    public bool TryTake(out DateTimeOffset? earliestDue)
    {
        lock (_gate)
        {
            earliestDue = _earliestDue;
            var pulsed = _pulsed;
            _pulsed = false;
            _earliestDue = null;
            return pulsed;
        }
    }
}
