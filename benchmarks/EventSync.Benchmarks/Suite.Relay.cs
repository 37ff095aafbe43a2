using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EventSync.Benchmarks;

/// <summary>Relay freshness: signed webhooks in at a fixed rate, a flow to a <c>webhook</c> sink, a loopback receiver timestamping each call.</summary>
public sealed partial class Suite
{
    private async Task<RelayRun> RelayAsync(Backend backend, CancellationToken ct)
    {
        var sent = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var arrived = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        await using var receiver = await LoopbackReceiver.StartAsync(entity => arrived.TryAdd(entity, Stopwatch.GetTimestamp()), ct);
        await using var store = await backend.CreateStoreAsync("relay", ct);
        var config = Path.Combine(options.WorkDir, $"relay-{backend.Name}.yaml");
        await File.WriteAllTextAsync(config, $"""
            store: {Quote(store.ConfigValue)}
            sources:
              {SourceName}:
                kind: standard-webhooks
                secret: {Quote(WebhookFactory.Secret)}
                rateLimit:
                  perSecond: 0
            sinks:
              relay:
                kind: webhook
                url: {Quote(receiver.Url.ToString())}
                secret: {Quote(WebhookFactory.Secret)}
            flows:
              - name: relay
                from: {SourceName}
                events: ["order.*"]
                key: '$.id'
                to: relay

            """, ct);
        LoadResult load;
        long delivered;
        await using (var serve = await ChildProcess.StartAsync($"relay-{backend.Name}", [options.CliDll, "serve", "-c", config], options.WorkDir, "/readyz", StartTimeout, ct))
        {
            using var client = Client();
            // A short unmeasured warm-up (JIT, connection pools on both sides), then the measured run.
            ExpectAllAccepted(backend.Name, "relay warm-up", await LoadGenerator.OpenLoopAsync(client, new WebhookFactory("relaywarm", options.BodyBytes), Hooks(serve), Sizes.RelayRate, TimeSpan.FromSeconds(1), ct));
            var factory = new WebhookFactory("relay", options.BodyBytes) { Sending = (entity, at) => sent[entity] = at };
            load = await LoadGenerator.OpenLoopAsync(client, factory, Hooks(serve), Sizes.RelayRate, Sizes.Relay, ct);
            ExpectAllAccepted(backend.Name, "relay", load);
            // Every accepted webhook must reach the receiver; bounded wait.
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(60) && sent.Keys.Count(arrived.ContainsKey) < load.Accepted)
                await Task.Delay(50, ct);
            delivered = sent.Keys.Count(arrived.ContainsKey);
        }
        var latencies = sent.Where(s => arrived.ContainsKey(s.Key)).Select(s => arrived[s.Key] - s.Value).ToList();
        var missing = load.Accepted - delivered;
        if (missing > 0) results.Problems.Add($"{backend.Name} relay: {load.Accepted} webhooks acknowledged, {delivered} reached the sink's receiver");
        return new RelayRun(Sizes.RelayRate, Sizes.Relay.TotalSeconds, load, delivered, missing, LatencySummary.Of(latencies));
    }
}

/// <summary>A loopback HTTP receiver for the webhook sink: answers 200 and reports each call's <c>data.entity</c>.</summary>
public sealed class LoopbackReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackReceiver(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    public static async Task<LoopbackReceiver> StartAsync(Action<string> received, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPost("/in", async (HttpContext context) =>
        {
            using var doc = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            if (doc.RootElement.TryGetProperty("data", out var data) && data.TryGetProperty("entity", out var entity) && entity.GetString() is { } key)
                received(key);
            return Microsoft.AspNetCore.Http.Results.Ok();
        });
        await app.StartAsync(ct);
        var address = app.Urls.First();
        return new LoopbackReceiver(app, new Uri(address.TrimEnd('/') + "/in"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
