using EventSync.Core.Storage;
using EventSync.Core.Work;

namespace EventSync.Tests.Core;

public sealed class WorkSignalTests
{
    private static readonly DateTimeOffset T = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_pulse_while_nobody_waits_wakes_every_wait_until_it_is_taken()
    {
        var signal = new WorkSignal();
        signal.Pulse(); // the dispatcher is busy claiming: nobody waits yet
        Assert.True(signal.WaitAsync(CancellationToken.None).IsCompleted);
        Assert.True(signal.WaitAsync(CancellationToken.None).IsCompleted);
        Assert.True(signal.TryTake(out var due));
        Assert.Null(due);
        var next = signal.WaitAsync(CancellationToken.None);
        Assert.False(next.IsCompleted); // taken: remembered no longer
        Assert.False(signal.TryTake(out _));
        signal.Pulse(T);
        await next.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Pulses_announce_the_earliest_due_time_and_one_without_a_time_means_now()
    {
        var signal = new WorkSignal();
        signal.Pulse(T.AddMinutes(10));
        signal.Pulse(T.AddMinutes(5));
        signal.Pulse(T.AddMinutes(7));
        Assert.True(signal.TryTake(out var due));
        Assert.Equal(T.AddMinutes(5), due);

        signal.Pulse(T.AddMinutes(5));
        signal.Pulse();
        signal.Pulse(T.AddMinutes(1));
        Assert.True(signal.TryTake(out due));
        Assert.Null(due);
    }

    [Fact]
    public void A_commit_pulses_with_the_earliest_settle_of_the_jobs_it_touched_and_not_at_all_without_jobs()
    {
        var signal = new WorkSignal();
        IngestWrite[] writes =
        [
            Write("a", Job(TimeSpan.FromMinutes(10)), Job(TimeSpan.FromMinutes(2))),
            Write("b", Job(TimeSpan.FromSeconds(30))), // a redelivery: touched nothing
            new(Delivery("c")),                        // a rejection: no event
        ];
        signal.PulseFor(writes, [new(1, false, 2), new(1, true, 0), new(null, false, 0)]);
        Assert.True(signal.TryTake(out var due));
        Assert.Equal(T.AddMinutes(2), due);

        signal.PulseFor(writes, [new(1, true, 0), new(1, true, 0), new(null, false, 0)]);
        Assert.False(signal.TryTake(out _));
    }

    private static JobRequest Job(TimeSpan settle) => new("relay", "order-1", "out", settle, TimeSpan.FromHours(1));

    private static DeliveryRecord Delivery(string id) => new(T, "orders", id, 202, DeliveryOutcomes.Accepted, null, 2, "127.0.0.1");

    private static IngestWrite Write(string id, params JobRequest[] jobs) =>
        new(Delivery(id), new NewEvent("orders", id, id, "order.updated", "order-1", T, "{}", [(byte)'{', (byte)'}']), jobs);
}
