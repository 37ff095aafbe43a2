using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Storage.Postgres;
using EventSync.Tests.Infrastructure;
using Npgsql;

namespace EventSync.Tests.Storage;

/// <summary>
/// Event ids order a key's events, so on a shared PostgreSQL they must follow commit order across processes: a group
/// commit that creates work takes the ingest lock before it numbers an event, and so waits for another process's.
/// </summary>
public sealed class PostgresIngestOrderTests
{
    [Fact]
    public async Task An_ingest_numbers_its_events_only_after_another_processs_commit_that_holds_the_ingest_lock()
    {
        await using var h = await EngineHarness.CreateAsync(StoreKind.Postgres);
        var before = await h.IngestAsync("order-0");
        await using var other = new NpgsqlConnection(h.Location.ConnectionString);
        await other.OpenAsync();
        // Another process in the middle of its group commit: it holds the ingest lock until it commits.
        await using var transaction = await other.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1, $2)", other, transaction))
        {
            hold.Parameters.Add(new NpgsqlParameter { Value = PostgresEventStore.IngestLockSpace });
            hold.Parameters.Add(new NpgsqlParameter { Value = PostgresEventStore.IngestLockKey });
            await hold.ExecuteNonQueryAsync();
        }
        var sequence = await LastEventIdAsync(other);

        var ingest = h.IngestAsync("order-1");
        await Wait.UntilAsync(async () => await WaitingForAdvisoryLockAsync(other), TimeSpan.FromSeconds(30), "the ingest to wait for the ingest lock");
        Assert.False(ingest.IsCompleted);
        Assert.Equal(sequence, await LastEventIdAsync(other)); // nothing numbered yet
        // A receipt that creates no work (a rejection's log line) needs no order and is not held up.
        var rejection = new IngestWrite(new DeliveryRecord(h.Time.GetUtcNow(), "orders", "msg_bad", 401, DeliveryOutcomes.Rejected, "bad signature", 10, "127.0.0.1"));
        await h.Store.IngestAsync([rejection], CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        await transaction.CommitAsync();
        var result = await ingest.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(result.Duplicate);
        Assert.Equal(1, result.JobsTouched);
        Assert.True(result.EventId > before.EventId);
    }

    private static async Task<long> LastEventIdAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT last_value FROM events_id_seq", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<bool> WaitingForAdvisoryLockAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", connection);
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }
}
