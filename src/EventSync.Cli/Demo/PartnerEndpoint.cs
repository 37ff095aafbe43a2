using System.Text.Json.Nodes;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;
using EventSync.Emulators;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EventSync.Cli.Demo;

/// <summary>
/// A partner's webhook receiver on loopback for the demo's failure step: answers 500 until <see cref="Fix"/> is
/// called, then verifies EventSync's Standard Webhooks signature and answers 204 (401 on a bad signature).
/// </summary>
internal sealed class PartnerEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly byte[] _key;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private bool _fixed;
    private int _failed;
    private JsonObject? _accepted;

    private PartnerEndpoint(WebApplication app, byte[] key, TimeProvider time)
    {
        _app = app;
        _key = key;
        _time = time;
    }

    /// <summary>The receiving URL (POST).</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>Requests answered 500 while broken.</summary>
    public int Failed { get { lock (_gate) return _failed; } }

    /// <summary>The body of the first delivery accepted after the fix, with a verified signature.</summary>
    public JsonObject? Accepted { get { lock (_gate) return _accepted; } }

    public static async Task<PartnerEndpoint> StartAsync(string secret, TimeProvider time, CancellationToken ct)
    {
        var key = ConfigLoader.StandardWebhookSecret(secret) ?? throw new ArgumentException("the partner secret must be a whsec_ secret", nameof(secret));
        var app = LoopbackApp.Create();
        var endpoint = new PartnerEndpoint(app, key, time);
        app.MapPost("/in", endpoint.HandleAsync);
        var address = await LoopbackApp.StartAsync(app, ct);
        endpoint.Url = new Uri(address, "in");
        return endpoint;
    }

    /// <summary>The partner deploys a fix: from now on deliveries are accepted.</summary>
    public void Fix()
    {
        lock (_gate) _fixed = true;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        lock (_gate)
        {
            if (!_fixed)
            {
                _failed++;
                context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                return;
            }
        }
        var h = context.Request.Headers;
        var check = StandardWebhookSignature.Verify(_key, h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"], buffer.ToArray(), _time.GetUtcNow(), TimeSpan.FromMinutes(5));
        if (check != SignatureCheck.Valid)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }
        lock (_gate) _accepted ??= JsonNode.Parse(buffer.ToArray()) as JsonObject;
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }
}
