using System.Collections.Concurrent;
using EventSync.Emulators;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EventSync.Tests.Infrastructure;

/// <summary>A downstream HTTP endpoint on loopback that records what the webhook sink sends, and answers as told.</summary>
public sealed class Receiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _inFlight = new();
    private int _overlaps;

    public sealed record Received(string? WebhookId, string? Timestamp, string? Signature, byte[] Body, string Entity);

    private Receiver(WebApplication app, Uri address)
    {
        _app = app;
        Url = new Uri(address, "/in");
    }

    public Uri Url { get; }
    public ConcurrentQueue<Received> Requests { get; } = new();
    /// <summary>How often two requests for one entity were in flight together.</summary>
    public int Overlaps => _overlaps;
    /// <summary>Decides the answer per request (default 200).</summary>
    public Func<Received, IResult> Respond { get; set; } = _ => Results.Ok();
    public TimeSpan Delay { get; set; }

    public static async Task<Receiver> StartAsync()
    {
        var app = LoopbackApp.Create();
        Receiver? self = null;
        app.MapPost("/in", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            var body = buffer.ToArray();
            using var doc = System.Text.Json.JsonDocument.Parse(body);
            var entity = doc.RootElement.GetProperty("data").GetProperty("entity").GetString()!;
            var received = new Received(context.Request.Headers["webhook-id"], context.Request.Headers["webhook-timestamp"], context.Request.Headers["webhook-signature"], body, entity);
            if (self!._inFlight.AddOrUpdate(entity, 1, (_, n) => n + 1) > 1) Interlocked.Increment(ref self._overlaps);
            try
            {
                if (self.Delay > TimeSpan.Zero) await Task.Delay(self.Delay);
                self.Requests.Enqueue(received);
                return self.Respond(received);
            }
            finally
            {
                self._inFlight.AddOrUpdate(entity, 0, (_, n) => n - 1);
            }
        });
        var address = await LoopbackApp.StartAsync(app, CancellationToken.None);
        self = new Receiver(app, address);
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
