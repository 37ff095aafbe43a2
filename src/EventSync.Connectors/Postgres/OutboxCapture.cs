using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Ingest;
using EventSync.Core.Storage;
using EventSync.Core.Work;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventSync.Connectors.Postgres;

/// <summary>
/// Drains one table's rows from the outbox in the user's database into the EventSync store, in id order.
/// LISTEN is a wake-up hint only: on every (re)connect the outbox is drained first, because notifications sent while
/// no one listened are gone. Rows are deleted in the same transaction that read them, after the store committed
/// them; a crash in between re-reads them and the store's de-duplication (source, outbox id + xid) drops the repeat.
/// Several processes may drain one outbox: SKIP LOCKED gives each row to one of them.
/// </summary>
public sealed partial class OutboxCapture(SourceOptions source, IEventStore store, FlowRouter router, WorkSignal signal, TimeProvider time, ILogger logger)
{
    public const int BatchSize = 500;
    private readonly PostgresCaptureOptions _capture = source.Capture ?? throw new ArgumentException("not a postgres source", nameof(source));

    /// <summary>Events taken from the outbox since start (for status and tests).</summary>
    public long Captured { get; private set; }

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ListenConnectionString());
                // A notification can arrive while the drain's own commands run; Npgsql consumes it there, so it is
                // remembered here and the loop drains again instead of waiting for one that already came.
                var notified = 0;
                connection.Notification += (_, _) => Volatile.Write(ref notified, 1);
                await connection.OpenAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand($"LISTEN {OutboxInstaller.Channel}", connection)) await listen.ExecuteNonQueryAsync(stoppingToken);
                LogListening(logger, source.Name, PgConnection.Describe(_capture.Connection), _capture.Table);
                backoff = TimeSpan.FromSeconds(1);
                while (!stoppingToken.IsCancellationRequested)
                {
                    Volatile.Write(ref notified, 0);
                    while (await DrainBatchAsync(connection, stoppingToken) == BatchSize) { }
                    if (Volatile.Read(ref notified) == 1) continue;
                    // Wakes on NOTIFY; the timeout is only a safety net for a lost notification.
                    await connection.WaitAsync(_capture.PollInterval, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException or StoreUnavailableException or System.Data.Common.DbException)
            {
                LogCaptureFailed(logger, ex, source.Name, backoff.TotalSeconds);
                await Task.Delay(backoff, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    /// <summary>Moves everything currently in the outbox for this table into the store; returns the number of rows moved.</summary>
    public async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(PgConnection.Normalize(_capture.Connection));
        await connection.OpenAsync(cancellationToken);
        var total = 0;
        for (var round = 0; round < 100_000; round++)
        {
            var n = await DrainBatchAsync(connection, cancellationToken);
            total += n;
            if (n < BatchSize) break;
        }
        return total;
    }

    private async Task<int> DrainBatchAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var schema = PgConnection.Quote(_capture.OutboxSchema);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var rows = new List<OutboxRow>();
        await using (var select = new NpgsqlCommand($"""
            SELECT id, row_key, tenant, op, changed, changed_at, xid FROM {schema}.outbox
            WHERE table_name = @table ORDER BY id LIMIT {BatchSize} FOR UPDATE SKIP LOCKED
            """, connection, tx))
        {
            select.Parameters.AddWithValue("table", _capture.Table);
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                rows.Add(new OutboxRow(reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetFieldValue<string[]>(4), reader.GetFieldValue<DateTimeOffset>(5), reader.GetInt64(6)));
        }
        if (rows.Count == 0)
        {
            await tx.CommitAsync(ct);
            return 0;
        }
        var now = time.GetUtcNow();
        var writes = rows.Select(r => ToWrite(r, now)).ToList();
        var results = await store.IngestAsync(writes, ct);
        await using (var delete = new NpgsqlCommand($"DELETE FROM {schema}.outbox WHERE id = ANY(@ids)", connection, tx))
        {
            delete.Parameters.AddWithValue("ids", rows.Select(r => r.Id).ToArray());
            await delete.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        Captured += rows.Count;
        signal.PulseFor(writes, results);
        return rows.Count;
    }

    private IngestWrite ToWrite(OutboxRow row, DateTimeOffset now)
    {
        var schemaAndTable = _capture.Table.Split('.', 2);
        var payload = JsonSerializer.SerializeToUtf8Bytes(new
        {
            schema = schemaAndTable[0], table = schemaAndTable[1], key = row.Key, tenant = row.Tenant, op = row.Op, changed = row.Changed, changedAt = row.ChangedAt,
        });
        var deliveryId = $"outbox-{row.Id}";
        using var doc = JsonDocument.Parse(payload);
        var jobs = router.Route(source.Name, row.Op, deliveryId, doc.RootElement);
        return new IngestWrite(
            new DeliveryRecord(now, source.Name, deliveryId, 202, DeliveryOutcomes.Accepted, null, payload.Length, "outbox"),
            new NewEvent(source.Name, $"outbox:{row.Id}:{row.Xid}", deliveryId, row.Op, jobs.Count > 0 ? jobs[0].EntityKey : row.Key, now, "{}", payload),
            jobs);
    }

    /// <summary>LISTEN needs a session of its own: never through a transaction pooler (Supabase port 6543).</summary>
    private string ListenConnectionString() =>
        new NpgsqlConnectionStringBuilder(PgConnection.Normalize(_capture.Connection)) { KeepAlive = 30, Pooling = false }.ConnectionString;

    private sealed record OutboxRow(long Id, string Key, string? Tenant, string Op, string[]? Changed, DateTimeOffset ChangedAt, long Xid);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Source {Source}: listening for changes to {Table} on {Database}")]
    private static partial void LogListening(ILogger logger, string source, string database, string table);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Source {Source}: change capture failed; reconnecting in {Seconds} s")]
    private static partial void LogCaptureFailed(ILogger logger, Exception exception, string source, double seconds);
}
