using System.Threading.Channels;
using EventSync.Core.Storage;
using EventSync.Core.Work;
using Microsoft.Extensions.Logging;

namespace EventSync.Core.Ingest;

/// <summary>
/// Group commit for ingest: concurrent requests queue their writes, a loop commits whatever has gathered in a
/// single transaction (one fsync), then answers them all. A request is acknowledged only after its commit.
/// As many loops run as the store allows (<see cref="IEventStore.ConcurrentIngestCommits"/>).
/// </summary>
public sealed class IngestWriter : IAsyncDisposable
{
    private readonly Channel<Pending> _queue;
    private readonly IEventStore _store;
    private readonly WorkSignal _signal;
    private readonly ILogger _logger;
    private readonly int _maxBatch;
    private readonly Task[] _loops;

    public IngestWriter(IEventStore store, WorkSignal signal, ILogger<IngestWriter> logger, int maxBatch = 512, int capacity = 50_000)
    {
        _store = store;
        _signal = signal;
        _logger = logger;
        _maxBatch = maxBatch;
        var loops = Math.Max(1, store.ConcurrentIngestCommits);
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(capacity) { SingleReader = loops == 1, FullMode = BoundedChannelFullMode.Wait });
        _loops = Enumerable.Range(0, loops).Select(_ => Task.Run(LoopAsync, CancellationToken.None)).ToArray();
    }

    /// <summary>Commits <paramref name="write"/> with whatever else is waiting; throws <see cref="StoreUnavailableException"/> if the commit failed.</summary>
    public async Task<IngestResult> WriteAsync(IngestWrite write, CancellationToken cancellationToken)
    {
        var pending = new Pending(write);
        await _queue.Writer.WriteAsync(pending, cancellationToken);
        return await pending.Done.Task.WaitAsync(cancellationToken);
    }

    private async Task LoopAsync()
    {
        var batch = new List<Pending>(_maxBatch);
        while (await NextAsync() is { } first)
        {
            batch.Clear();
            batch.Add(first);
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var p)) batch.Add(p);
            try
            {
                var writes = batch.Select(p => p.Write).ToList();
                var results = await _store.IngestAsync(writes, CancellationToken.None);
                // Pulse first: whoever sees its 202 may rely on the dispatcher having been told.
                _signal.PulseFor(writes, results);
                for (var i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(results[i]);
            }
            catch (Exception ex)
            {
                // Disk full, read-only file, database down: nobody gets a 202 for an uncommitted write.
                _logger.IngestCommitFailed(ex, batch.Count);
                var failure = new StoreUnavailableException("the event store could not commit the delivery; retry later", ex);
                foreach (var p in batch) p.Done.TrySetException(failure);
            }
        }
    }

    /// <summary>
    /// The next request, or null once the queue is closed and empty. ReadAsync hands each request to one waiting loop,
    /// where WaitToReadAsync would wake every idle loop for it (the SQLite store runs dozens).
    /// </summary>
    private async Task<Pending?> NextAsync()
    {
        try
        {
            return await _queue.Reader.ReadAsync();
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_loops);
    }

    private sealed class Pending(IngestWrite write)
    {
        public IngestWrite Write { get; } = write;
        public TaskCompletionSource<IngestResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

public sealed class StoreUnavailableException(string message, Exception inner) : Exception(message, inner);
