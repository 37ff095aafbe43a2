using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSync.Tests.Infrastructure;

/// <summary>The real server on a real Kestrel socket (127.0.0.1, free port) over a real store.</summary>
public sealed class TestServer : IAsyncDisposable
{
    public const string OrdersSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private readonly WebApplication _app;
    private readonly string _dir;

    private TestServer(WebApplication app, EventSyncConfig config, string dir, Uri address)
    {
        _app = app;
        _dir = dir;
        Config = config;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public EventSyncConfig Config { get; }
    public Uri Address { get; }
    public HttpClient Http { get; }
    public IEventStore Store => _app.Services.GetRequiredService<IEventStore>();

    public static async Task<TestServer> StartAsync(string yaml, bool runWorkers = true, IReadOnlyDictionary<string, string?>? env = null)
    {
        var dir = TempDirectory.Create();
        var full = $"store: sqlite:{Path.Combine(dir, "eventsync.db")}\n" + yaml;
        var (config, problems) = ConfigLoader.TryParse(full, env ?? new Dictionary<string, string?>());
        if (problems.Count > 0) throw new InvalidOperationException(string.Join("\n", problems));
        var app = await EventSyncServer.BuildAsync(config!, new ServerBuildOptions { Urls = ["http://127.0.0.1:0"], RunWorkers = runWorkers, MinimumLogLevel = LogLevel.Warning });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestServer(app, config!, dir, new Uri(address));
    }

    public Task<HttpResponseMessage> PostAsync(string source, byte[] body, string contentType = "application/json", IEnumerable<(string, string)>? headers = null) =>
        Http.SendAsync(SignedRequests.Raw(source, body, contentType, headers));

    /// <summary>A correctly signed Standard Webhooks delivery.</summary>
    public Task<HttpResponseMessage> PostStandardAsync(string source, string id, string json, DateTimeOffset? at = null, string secret = OrdersSecret) =>
        Http.SendAsync(SignedRequests.Standard(source, id, json, at, secret));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        TempDirectory.Delete(_dir);
    }
}
