using EventSync.Core.Work;

namespace EventSync.Tests.Core;

public sealed class WorkSignalTests
{
    [Fact]
    public async Task A_pulse_while_nobody_waits_wakes_the_next_wait_once()
    {
        var signal = new WorkSignal();
        signal.Pulse(); // the dispatcher is busy claiming: nobody waits yet
        Assert.True(signal.WaitAsync(CancellationToken.None).IsCompleted);
        var next = signal.WaitAsync(CancellationToken.None);
        Assert.False(next.IsCompleted); // remembered once, not forever
        signal.Pulse();
        await next.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
