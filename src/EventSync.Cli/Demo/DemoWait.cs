using System.Globalization;

namespace EventSync.Cli.Demo;

/// <summary>A step could not finish; the message names what it waited for or what went wrong.</summary>
internal sealed class DemoStepException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Every wait of the demo: poll a condition until it holds or a deadline passes (never a fixed sleep).</summary>
internal static class DemoWait
{
    /// <summary>Returns the first non-null value of <paramref name="probe"/>; throws <see cref="DemoStepException"/> at the timeout.</summary>
    public static async Task<T> ForAsync<T>(Func<CancellationToken, Task<T?>> probe, TimeSpan timeout, string what, TimeProvider time, CancellationToken ct) where T : class
    {
        var deadline = time.GetUtcNow() + timeout;
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (await probe(ct) is { } value) return value;
            if (time.GetUtcNow() > deadline)
                throw new DemoStepException($"timed out after {timeout.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s waiting for {what}");
            await Task.Delay(delay, time, ct);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }

    public static Task<T> ForAsync<T>(Func<T?> probe, TimeSpan timeout, string what, TimeProvider time, CancellationToken ct) where T : class =>
        ForAsync(_ => Task.FromResult(probe()), timeout, what, time, ct);

    public static Task UntilAsync(Func<CancellationToken, Task<bool>> condition, TimeSpan timeout, string what, TimeProvider time, CancellationToken ct) =>
        ForAsync<object>(async c => await condition(c) ? true : null, timeout, what, time, ct);
}
