using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSync.Tests.Website;

/// <summary>A loopback endpoint that records every POST it gets (headers and raw body) and answers with <see cref="Status"/>.</summary>
public sealed class HookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    public sealed record Hook(string? WebhookId, string? Timestamp, string? Signature, byte[] Body);

    private HookReceiver(WebApplication app, Uri address)
    {
        _app = app;
        Url = new Uri(address, "/hooks/website");
    }

    public Uri Url { get; }
    public ConcurrentQueue<Hook> Received { get; } = new();
    public int Status { get; set; } = 200;

    public static async Task<HookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        HookReceiver? self = null;
        app.MapPost("/hooks/website", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var headers = context.Request.Headers;
            self!.Received.Enqueue(new Hook(headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"], buffer.ToArray()));
            context.Response.StatusCode = self.Status;
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new HookReceiver(app, new Uri(address));
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
