using System.Diagnostics;
using System.Net;

namespace EventSync.Benchmarks;

/// <summary>
/// The HTTP/1.1 load generator: closed loop (N connections, each sending its next request as soon as the last is
/// answered) for throughput, and open loop (requests sent on a fixed schedule whatever the answers do) for latency
/// at an offered rate. Open-loop latency is measured from each request's scheduled time, so a stalled server or a
/// late generator shows up in the figures instead of silently lowering the rate (no coordinated omission).
/// </summary>
public static class LoadGenerator
{
    public static HttpClient CreateClient(int connections) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = connections,
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
    })
    {
        Timeout = TimeSpan.FromSeconds(30),
        DefaultRequestVersion = HttpVersion.Version11,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public static async Task<LoadResult> ClosedLoopAsync(HttpClient client, WebhookFactory factory, Uri target, int concurrency, TimeSpan duration, CancellationToken ct)
    {
        var recorder = new Recorder();
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < end && !ct.IsCancellationRequested)
                await SendAsync(client, factory, target, recorder, Stopwatch.GetTimestamp(), ct);
        }, ct)).ToList();
        await Task.WhenAll(workers);
        return recorder.Finish(Stopwatch.GetElapsedTime(start), 0);
    }

    /// <summary>
    /// Sends <paramref name="rate"/> requests a second for <paramref name="duration"/>: a pacing thread wakes about every
    /// millisecond and launches every request whose scheduled time has come.
    /// </summary>
    public static async Task<LoadResult> OpenLoopAsync(HttpClient client, WebhookFactory factory, Uri target, int rate, TimeSpan duration, CancellationToken ct)
    {
        var recorder = new Recorder();
        var total = (long)(rate * duration.TotalSeconds);
        var interval = Stopwatch.Frequency / (double)rate;
        var inFlight = new List<Task>((int)Math.Min(total, 1_000_000));
        var paced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long maxLagTicks = 0;
        var start = Stopwatch.GetTimestamp();
        var pacer = new Thread(() =>
        {
            try
            {
                long sent = 0;
                while (sent < total && !ct.IsCancellationRequested)
                {
                    var now = Stopwatch.GetTimestamp();
                    var due = Math.Min(total, (long)((now - start) / interval) + 1);
                    for (; sent < due; sent++)
                    {
                        var scheduled = start + (long)(sent * interval);
                        maxLagTicks = Math.Max(maxLagTicks, now - scheduled);
                        inFlight.Add(Task.Run(() => SendAsync(client, factory, target, recorder, scheduled, ct), CancellationToken.None));
                    }
                    Thread.Sleep(1);
                }
                paced.TrySetResult();
            }
            catch (Exception ex)
            {
                paced.TrySetException(ex);
            }
        }) { IsBackground = true, Name = "open-loop pacer", Priority = ThreadPriority.AboveNormal };
        pacer.Start();
        await paced.Task;
        // Every request has its own 30 s client timeout; this bound only guards against a wedged generator.
        await Task.WhenAll(inFlight).WaitAsync(TimeSpan.FromSeconds(90), ct);
        return recorder.Finish(Stopwatch.GetElapsedTime(start), maxLagTicks);
    }

    private static async Task SendAsync(HttpClient client, WebhookFactory factory, Uri target, Recorder recorder, long scheduled, CancellationToken ct)
    {
        try
        {
            using var request = factory.CreateRequest(target);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
            recorder.Record((int)response.StatusCode, Stopwatch.GetTimestamp() - scheduled);
        }
        catch (HttpRequestException ex)
        {
            recorder.Fail(ex.HttpRequestError.ToString());
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            recorder.Fail("timeout");
        }
    }

    /// <summary>Collects answers from many tasks at once.</summary>
    private sealed class Recorder
    {
        private readonly Lock _gate = new();
        private readonly List<long> _latencies = new(1 << 16);
        private readonly SortedDictionary<string, long> _other = new(StringComparer.Ordinal);
        private long _accepted;

        public void Record(int status, long ticks)
        {
            lock (_gate)
            {
                _latencies.Add(ticks);
                if (status == 202) _accepted++;
                else Count(status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        public void Fail(string reason)
        {
            lock (_gate) Count("error:" + reason);
        }

        private void Count(string key) => _other[key] = _other.GetValueOrDefault(key) + 1;

        public LoadResult Finish(TimeSpan elapsed, long maxLagTicks)
        {
            lock (_gate)
                return new LoadResult(elapsed.TotalSeconds, _accepted, new Dictionary<string, long>(_other), LatencySummary.Of(_latencies), maxLagTicks * 1000.0 / Stopwatch.Frequency);
        }
    }
}

/// <summary>What a load run got back: 202s, everything else by status (or error kind), and the answer latencies.</summary>
public sealed record LoadResult(double Seconds, long Accepted, IReadOnlyDictionary<string, long> NotAccepted, LatencySummary Latency, double MaxPacerLagMs)
{
    public long Rejected => NotAccepted.Values.Sum();
    public double AcceptedPerSecond => Seconds > 0 ? Accepted / Seconds : 0;
    public string RejectedText => Rejected == 0 ? "0" : $"{Rejected} ({string.Join(", ", NotAccepted.Select(kv => $"{kv.Key}: {kv.Value}"))})";
}

public sealed record LatencySummary(long Count, double P50Ms, double P90Ms, double P99Ms, double MaxMs, double MeanMs)
{
    public static LatencySummary Of(List<long> ticks)
    {
        if (ticks.Count == 0) return new LatencySummary(0, 0, 0, 0, 0, 0);
        var sorted = ticks.ToArray();
        Array.Sort(sorted);
        double Ms(long t) => t * 1000.0 / Stopwatch.Frequency;
        double At(double q) => Ms(sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)]);
        return new LatencySummary(sorted.Length, At(0.50), At(0.90), At(0.99), Ms(sorted[^1]), Ms((long)sorted.Average()));
    }
}
