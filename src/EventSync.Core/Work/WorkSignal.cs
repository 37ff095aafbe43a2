namespace EventSync.Core.Work;

/// <summary>
/// An in-process wake-up: ingest pulses it after committing new jobs, the dispatcher waits on it. A pulse that comes
/// while nobody waits (the dispatcher is between its claim and its wait) is remembered, so the next wait returns at
/// once instead of sleeping until the poll interval.
/// </summary>
public sealed class WorkSignal
{
    private readonly object _gate = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _pulsedSinceLastWait;

    public void Pulse()
    {
        TaskCompletionSource fired;
        lock (_gate)
        {
            _pulsedSinceLastWait = true;
            fired = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        fired.TrySetResult();
    }

    public Task WaitAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_pulsedSinceLastWait)
            {
                _pulsedSinceLastWait = false;
                return Task.CompletedTask;
            }
            return _next.Task.WaitAsync(cancellationToken);
        }
    }
}
