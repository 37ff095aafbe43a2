using EventSync.Core.Configuration;
using EventSync.Storage;
using EventSync.Tests.Infrastructure;
using Npgsql;

namespace EventSync.Tests.Storage;

/// <summary>Document locks hold across store instances (on PostgreSQL: across processes) and release on dispose.</summary>
public sealed class DocumentLockTests
{
    [Theory]
    [InlineData(StoreKind.Sqlite)]
    [InlineData(StoreKind.Postgres)]
    public async Task A_locked_document_waits_for_its_holder_and_other_documents_do_not(StoreKind kind)
    {
        await using var test = await TestStore.CreateAsync(kind);
        // PostgreSQL: a second store instance stands for a second serve process.
        await using var other = kind == StoreKind.Postgres ? EventStoreFactory.Open(test.Location) : null;
        var second = other ?? test.Store;

        var held = await test.Store.LockDocumentsAsync(["agents/scout", "docs/a"], default);
        await using (await second.LockDocumentsAsync(["docs/b"], default)) { } // another document: not blocked

        var waiting = second.LockDocumentsAsync(["agents/scout"], default);
        await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromMilliseconds(300))); // gives a wrong implementation time to take it
        Assert.False(waiting.IsCompleted, "a held document was locked a second time");

        await held.DisposeAsync();
        var taken = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        await taken.DisposeAsync();

        using var cancelled = new CancellationTokenSource();
        var blocker = await test.Store.LockDocumentsAsync(["x"], default);
        var attempt = second.LockDocumentsAsync(["x"], cancelled.Token);
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => attempt);
        await blocker.DisposeAsync();
        await (await second.LockDocumentsAsync(["x"], default).WaitAsync(TimeSpan.FromSeconds(10))).DisposeAsync(); // nothing leaked
    }

    /// <summary>
    /// A lock of several documents given up half-way (cancelled while waiting for a later one) releases those it had
    /// taken at once, not when its pooled session is next used. The keys are taken in hash order, which the test does
    /// not know, so it runs both ways round; one of them gives up holding the other document.
    /// </summary>
    [Theory]
    [InlineData("docs/p", "docs/q")]
    [InlineData("docs/q", "docs/p")]
    public async Task A_lock_given_up_half_way_releases_what_it_had_taken(string blocked, string free)
    {
        await using var test = await TestStore.CreateAsync(StoreKind.Postgres);
        await using var second = EventStoreFactory.Open(test.Location);
        await using var third = EventStoreFactory.Open(test.Location); // its own pool: cannot reuse the second's session

        var blocker = await test.Store.LockDocumentsAsync([blocked], default);
        using var giveUp = new CancellationTokenSource();
        var attempt = second.LockDocumentsAsync([blocked, free], giveUp.Token);
        await WaitForAdvisoryLockWaiterAsync(test.Location.ConnectionString);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => attempt);

        var taken = await third.LockDocumentsAsync([free], default).WaitAsync(TimeSpan.FromSeconds(10));
        await taken.DisposeAsync();
        await blocker.DisposeAsync();
    }

    private static async Task WaitForAdvisoryLockWaiterAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", connection);
        await Wait.UntilAsync(async () => (long)(await command.ExecuteScalarAsync())! > 0, TimeSpan.FromSeconds(10), "the second lock waiting");
    }
}
