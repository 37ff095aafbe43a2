using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Storage.Postgres;
using EventSync.Tests.Infrastructure;
using Npgsql;

namespace EventSync.Tests.Storage;

/// <summary>
/// Group commits of several processes on one PostgreSQL, with a second connection standing in for the other process.
/// Event ids order a key's events, so they must follow commit order across processes: a group commit that creates
/// work takes the ingest lock before it numbers an event. And a redelivery racing its first copy still gets its id.
/// </summary>
public sealed class PostgresIngestConcurrencyTests
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
        await Wait.UntilAsync(async () => await WaitingForLockAsync(other, "advisory"), TimeSpan.FromSeconds(30), "the ingest to wait for the ingest lock");
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

    [Fact]
    public async Task A_redelivery_whose_first_copy_another_process_commits_meanwhile_is_answered_with_that_events_id()
    {
        await using var h = await EngineHarness.CreateAsync(StoreKind.Postgres);
        await using var other = new NpgsqlConnection(h.Location.ConnectionString);
        await other.OpenAsync();
        // Another process has inserted the first copy and not committed yet.
        await using var transaction = await other.BeginTransactionAsync();
        long firstId;
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO events (source, dedup_key, delivery_id, event_type, entity_key, received_at, headers, payload)
            VALUES ('orders', 'msg_race', 'msg_race', 'order.updated', 'order-7', 0, '{}', '\x7b7d') RETURNING id
            """, other, transaction))
            firstId = (long)(await insert.ExecuteScalarAsync())!;

        // The redelivery's statement starts now (its snapshot cannot see the first copy), then waits on the unique key.
        var redelivery = h.IngestAsync("order-7", dedupKey: "msg_race");
        await Wait.UntilAsync(async () => await WaitingForLockAsync(other, "transactionid"), TimeSpan.FromSeconds(30), "the redelivery to wait for the first copy's commit");
        await transaction.CommitAsync();

        var result = await redelivery.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(result.Duplicate);
        Assert.Equal(firstId, result.EventId);
        Assert.Equal(0, result.JobsTouched);
        Assert.Empty(await h.JobsAsync(JobStatuses.Pending));
        var logged = Assert.Single(await h.Store.ListDeliveriesAsync(new DeliveryQuery(), CancellationToken.None));
        Assert.Equal(DeliveryOutcomes.Duplicate, logged.Outcome);
    }

    private static async Task<long> LastEventIdAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT last_value FROM events_id_seq", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<bool> WaitingForLockAsync(NpgsqlConnection connection, string type)
    {
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_locks WHERE locktype = $1 AND NOT granted", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = type });
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }
}
