using System.Threading.RateLimiting;
using EventSync.Core.Admin;
using EventSync.Core.Configuration;
using EventSync.Core.Ingest;
using EventSync.Core.Storage;

namespace EventSync.Server.Ingest;

/// <summary>Per-source state at run time: the verifier, the rate limiter and the captured Notion token.</summary>
public sealed class SourceRuntime : IDisposable
{
    private volatile string? _capturedNotionToken;

    public SourceRuntime(SourceOptions options, TimeProvider time)
    {
        Options = options;
        Verifier = new SourceVerifier(options, time, () => _capturedNotionToken);
        Limiter = options.RateLimit.PerSecond <= 0 ? null : new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(options.RateLimit.Burst, 1),
            // About ten refills a second, with the period derived from the whole-token step so any rate is exact.
            TokensPerPeriod = RefillStep(options.RateLimit.PerSecond),
            ReplenishmentPeriod = TimeSpan.FromSeconds((double)RefillStep(options.RateLimit.PerSecond) / options.RateLimit.PerSecond),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private static int RefillStep(int perSecond) => Math.Max((int)Math.Round(perSecond / 10.0), 1);

    public SourceOptions Options { get; }
    public SourceVerifier Verifier { get; }
    public RateLimiter? Limiter { get; }

    public void RememberNotionToken(string token) => _capturedNotionToken = token;

    public async Task LoadStateAsync(IEventStore store, CancellationToken ct)
    {
        if (Options.Kind == SourceKind.Notion)
            _capturedNotionToken = await store.GetSourceStateAsync(Options.Name, AdminOperations.NotionTokenState, ct);
    }

    public void Dispose() => Limiter?.Dispose();
}

public sealed class SourceRegistry(IReadOnlyDictionary<string, SourceRuntime> sources) : IDisposable
{
    public SourceRuntime? Find(string name) => sources.GetValueOrDefault(name);

    public IEnumerable<SourceRuntime> All => sources.Values;

    public void Dispose()
    {
        foreach (var s in sources.Values) s.Dispose();
    }
}
