namespace EventSync.Connectors.Notion;

/// <summary>
/// Client-side token bucket shared by all calls of one client: each request takes a token, and tokens may go negative,
/// which makes later callers queue behind earlier ones at the configured rate. A 429 pauses everyone for Retry-After.
/// </summary>
internal sealed class RequestPacer
{
    private readonly double _rate;
    private readonly int _burst;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private double _tokens;
    private long _stamp;
    private DateTimeOffset _pausedUntil;

    public RequestPacer(double rate, int burst, TimeProvider time)
    {
        _rate = rate;
        _burst = burst;
        _time = time;
        _tokens = burst;
        _stamp = time.GetTimestamp();
    }

    public async Task WaitAsync(CancellationToken ct)
    {
        TimeSpan wait;
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + _time.GetElapsedTime(_stamp, now).TotalSeconds * _rate);
            _stamp = now;
            _tokens -= 1;
            wait = _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _rate);
            var paused = _pausedUntil - _time.GetUtcNow();
            if (paused > wait) wait = paused;
        }
        if (wait > TimeSpan.Zero) await Task.Delay(wait, _time, ct);
        // A 429 that arrived while this caller was queued pauses it too.
        for (var round = 0; round < 10; round++)
        {
            TimeSpan paused;
            lock (_gate) paused = _pausedUntil - _time.GetUtcNow();
            if (paused <= TimeSpan.Zero) return;
            await Task.Delay(paused, _time, ct);
        }
    }

    /// <summary>The server said to wait: no request of this client goes out before then, and the bucket starts empty.</summary>
    public void PauseFor(TimeSpan delay)
    {
        lock (_gate)
        {
            var until = _time.GetUtcNow() + delay;
            if (until > _pausedUntil) _pausedUntil = until;
            _tokens = Math.Min(_tokens, 0);
        }
    }
}
