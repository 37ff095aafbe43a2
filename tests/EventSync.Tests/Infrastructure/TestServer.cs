using System.Net.Http.Headers;
using System.Text;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;
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

    public Task<HttpResponseMessage> PostAsync(string source, byte[] body, string contentType = "application/json", IEnumerable<(string, string)>? headers = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/hooks/{source}") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        foreach (var (name, value) in headers ?? []) request.Headers.TryAddWithoutValidation(name, value);
        return Http.SendAsync(request);
    }

    /// <summary>A correctly signed Standard Webhooks delivery.</summary>
    public Task<HttpResponseMessage> PostStandardAsync(string source, string id, string json, DateTimeOffset? at = null, string secret = OrdersSecret)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var ts = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var sig = StandardWebhookSignature.Sign(ConfigLoader.StandardWebhookSecret(secret)!, id, ts, body);
        return PostAsync(source, body, headers: [("webhook-id", id), ("webhook-timestamp", ts.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("webhook-signature", sig)]);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        TempDirectory.Delete(_dir);
    }
}
