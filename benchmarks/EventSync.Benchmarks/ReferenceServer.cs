using EventSync.Core.Configuration;
using EventSync.Core.Signatures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EventSync.Benchmarks;

/// <summary>
/// Reference (a): the least a webhook receiver can do on this machine. Bare Kestrel (the same slim host eventsync uses)
/// reads the body, verifies the Standard Webhooks signature with the same code, and answers 202 with a small JSON
/// body; no storage. Runs as its own child process (<c>ref-server --urls ...</c>) so it is measured like serve.
/// </summary>
public static class ReferenceServer
{
    public static async Task<int> RunAsync(string[] args)
    {
        var urls = args.SkipWhile(a => a != "--urls").Skip(1).FirstOrDefault() ?? "http://127.0.0.1:5099";
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(urls);
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        await using var app = builder.Build();
        var key = ConfigLoader.StandardWebhookSecret(WebhookFactory.Secret)!;
        var tolerance = TimeSpan.FromMinutes(5);

        app.MapPost("/hooks/{source}", async (HttpContext context) =>
        {
            var body = await ReadBodyAsync(context.Request, context.RequestAborted);
            var h = context.Request.Headers;
            var check = StandardWebhookSignature.Verify(key, h["webhook-id"].ToString(), h["webhook-timestamp"].ToString(), h["webhook-signature"].ToString(), body, DateTimeOffset.UtcNow, tolerance);
            context.Response.StatusCode = check == SignatureCheck.Valid ? 202 : 401;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(check == SignatureCheck.Valid ? "{\"accepted\":true}" : "{\"error\":\"invalid_signature\"}", context.RequestAborted);
        });
        app.MapGet("/readyz", () => Microsoft.AspNetCore.Http.Results.Text("ready"));
        await app.RunAsync();
        return 0;
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        using var buffer = new MemoryStream(request.ContentLength is { } n and >= 0 ? (int)n : 4096);
        await request.Body.CopyToAsync(buffer, ct);
        return buffer.ToArray();
    }
}
