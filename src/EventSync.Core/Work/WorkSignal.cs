namespace EventSync.Core.Work;

/// <summary>An in-process wake-up: ingest pulses it after committing new jobs, the dispatcher waits on it.</summary>
public sealed class WorkSignal
{
    private readonly object _gate = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Pulse()
    {
        TaskCompletionSource fired;
        lock (_gate)
        {
            fired = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        fired.TrySetResult();
    }

    public Task WaitAsync(CancellationToken cancellationToken)
    {
        lock (_gate) return _next.Task.WaitAsync(cancellationToken);
    }
}
