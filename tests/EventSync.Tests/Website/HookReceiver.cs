using System.Collections.Concurrent;
using EventSync.Emulators;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

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
        var app = LoopbackApp.Create();
        HookReceiver? self = null;
        app.MapPost("/hooks/website", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var headers = context.Request.Headers;
            self!.Received.Enqueue(new Hook(headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"], buffer.ToArray()));
            context.Response.StatusCode = self.Status;
        });
        var address = await LoopbackApp.StartAsync(app, CancellationToken.None);
        self = new HookReceiver(app, address);
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
