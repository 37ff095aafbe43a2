using EventSync.Core.Configuration;
using EventSync.Storage;
using EventSync.Tests.Infrastructure;

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
}
