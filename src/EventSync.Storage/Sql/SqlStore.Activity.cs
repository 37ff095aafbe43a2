using EventSync.Core.Storage;

namespace EventSync.Storage.Sql;

/// <summary>The dashboard's read queries (see <see cref="IActivityStore"/>); plain SQL that both dialects run as is.</summary>
public abstract partial class SqlStore : IActivityStore
{
    private const int MaxBuckets = 24 * 60;

    public async Task<IReadOnlyList<ActivityCount>> GetActivityAsync(DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken cancellationToken)
    {
        var size = (long)bucket.TotalMilliseconds;
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(bucket), "a bucket must be longer than zero");
        var start = from.ToUnixTimeMilliseconds();
        var end = to.ToUnixTimeMilliseconds();
        // Bounded: a caller cannot ask for millions of buckets.
        if (end <= start || (end - start) / size > MaxBuckets) throw new ArgumentOutOfRangeException(nameof(to), $"the range must be positive and hold at most {MaxBuckets} buckets");
        var counts = new Dictionary<(string Flow, int Bucket), (int Events, int Runs, int Failed)>();
        await using var connection = await OpenReadAsync(cancellationToken);
        // An event counts for every flow that got a job for it; retries copy job_events, hence DISTINCT.
        await using (var command = Command(connection, null, """
            SELECT j.flow, (e.received_at - @from) / @size AS b, COUNT(DISTINCT e.id)
            FROM events e JOIN job_events je ON je.event_id = e.id JOIN jobs j ON j.id = je.job_id
            WHERE e.received_at >= @from AND e.received_at < @to
            GROUP BY j.flow, b
            """))
        {
            Set(command, ("from", start), ("to", end), ("size", size));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = (reader.GetString(0), (int)reader.GetInt64(1));
                var c = counts.GetValueOrDefault(key);
                counts[key] = (c.Events + (int)reader.GetInt64(2), c.Runs, c.Failed);
            }
        }
        await using (var command = Command(connection, null, $"""
            SELECT flow, (started_at - @from) / @size AS b, COUNT(*),
                   SUM(CASE WHEN outcome IN ('{RunOutcomes.Failed}', '{RunOutcomes.Parked}', '{RunOutcomes.Abandoned}', '{RunOutcomes.LeaseLost}') THEN 1 ELSE 0 END)
            FROM runs WHERE started_at >= @from AND started_at < @to
            GROUP BY flow, b
            """))
        {
            Set(command, ("from", start), ("to", end), ("size", size));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = (reader.GetString(0), (int)reader.GetInt64(1));
                var c = counts.GetValueOrDefault(key);
                counts[key] = (c.Events, c.Runs + (int)reader.GetInt64(2), c.Failed + (int)reader.GetInt64(3));
            }
        }
        return counts.OrderBy(p => p.Key.Flow, StringComparer.Ordinal).ThenBy(p => p.Key.Bucket)
            .Select(p => new ActivityCount(p.Key.Flow, p.Key.Bucket, p.Value.Events, p.Value.Runs, p.Value.Failed)).ToList();
    }

    public async Task<IReadOnlyDictionary<string, int>> CountRetryingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT flow, COUNT(*) FROM jobs WHERE status = 'pending' AND attempts > 0 AND last_error IS NOT NULL GROUP BY flow");
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) result[reader.GetString(0)] = (int)reader.GetInt64(1);
        return result;
    }

    public async Task<IReadOnlyList<StoredEvent>> ListEventsAfterAsync(long afterId, EventQuery filter, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            SELECT {EventColumns} FROM events
            WHERE id > @after AND (@source IS NULL OR source = @source) AND (@type IS NULL OR event_type = @type) AND (@entity IS NULL OR entity_key = @entity)
            ORDER BY id LIMIT @limit
            """);
        Set(command, ("after", afterId), ("source", filter.Source), ("type", filter.EventType), ("entity", filter.EntityKey), ("limit", filter.Limit));
        var list = new List<StoredEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) list.Add(ReadEvent(reader, 0, []));
        return list;
    }

    public async Task<StoredEvent?> GetEventAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {EventColumns}, payload FROM events WHERE id = @id");
        Set(command, ("id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadEvent(reader, 0, (byte[])reader.GetValue(7)) : null;
    }

    public async Task<IReadOnlyList<JobInfo>> ListEventJobsAsync(long eventId, int limit, CancellationToken cancellationToken) =>
        await QueryJobsAsync("WHERE id IN (SELECT job_id FROM job_events WHERE event_id = @event) ORDER BY id LIMIT @limit", cancellationToken, ("event", eventId), ("limit", limit));

    public async Task<IReadOnlyList<RunRecord>> ListJobRunsAsync(IReadOnlyCollection<long> jobIds, int limit, CancellationToken cancellationToken)
    {
        if (jobIds.Count == 0) return [];
        await using var connection = await OpenReadAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {RunColumns} FROM runs WHERE {InIds("job_id", "ids")} ORDER BY id DESC LIMIT @limit");
        Set(command, ("ids", IdsValue(jobIds)), ("limit", limit));
        var list = new List<RunRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) list.Add(ReadRun(reader));
        return list;
    }
}
