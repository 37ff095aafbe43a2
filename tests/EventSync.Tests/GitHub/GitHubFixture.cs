using System.Collections.Concurrent;
using EventSync.Connectors.GitHub;
using EventSync.Emulators.GitHub;
using EventSync.Emulators;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace EventSync.Tests.GitHub;

/// <summary>One emulator with a repository and a client pointed at it; each test gets its own.</summary>
public sealed class GitHubFixture : IAsyncDisposable
{
    public const string Token = "ghp_test_token_123";
    public const string Repo = "acme/docs";

    private GitHubFixture(GitHubEmulator emulator, HttpClient http, TimeProvider time)
    {
        Emulator = emulator;
        Http = http;
        Time = time;
        Client = NewClient();
    }

    public GitHubEmulator Emulator { get; }
    public HttpClient Http { get; }
    public TimeProvider Time { get; }
    public GitHubClient Client { get; }

    public static async Task<GitHubFixture> StartAsync(TimeProvider? time = null, int rateLimitPerHour = 5000, int contentCreationPerMinute = 80)
    {
        time ??= TimeProvider.System;
        var emulator = await GitHubEmulator.StartAsync(new GitHubEmulatorOptions
        {
            Token = Token, Time = time, RateLimitPerHour = rateLimitPerHour, ContentCreationPerMinute = contentCreationPerMinute,
        });
        emulator.CreateRepository(Repo);
        return new GitHubFixture(emulator, new HttpClient(), time);
    }

    public GitHubClient NewClient(string token = Token, TimeSpan? minWriteInterval = null, TimeProvider? time = null) =>
        new(Http, new GitHubClientOptions { ApiUrl = Emulator.BaseUrl, Token = token, MinWriteInterval = minWriteInterval ?? TimeSpan.Zero, Time = time ?? Time });

    /// <summary>A raw request as any HTTP client would send it, for checks of the emulator itself.</summary>
    public async Task<HttpResponseMessage> RawAsync(HttpMethod method, string relative, string? json = null, string? token = Token, string? userAgent = "tests")
    {
        using var request = new HttpRequestMessage(method, new Uri(Emulator.BaseUrl, relative));
        if (token is not null) request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        if (userAgent is not null) request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        if (json is not null) request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        return await Http.SendAsync(request);
    }

    public static FakeTimeProvider FakeTime() => new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public async ValueTask DisposeAsync()
    {
        await Emulator.DisposeAsync();
        Http.Dispose();
    }
}

/// <summary>A webhook endpoint on loopback that keeps each request's raw body and headers and answers as told.</summary>
public sealed class HookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    public sealed record Hook(IReadOnlyDictionary<string, string> Headers, byte[] Body);

    private HookReceiver(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }
    public ConcurrentQueue<Hook> Received { get; } = new();
    public int Status { get; set; } = 200;

    public static async Task<HookReceiver> StartAsync()
    {
        var app = LoopbackApp.Create();
        HookReceiver? self = null;
        app.MapPost("/hook", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            self!.Received.Enqueue(new Hook(headers, buffer.ToArray()));
            return Results.StatusCode(self.Status);
        });
        var address = await LoopbackApp.StartAsync(app, CancellationToken.None);
        self = new HookReceiver(app, new Uri(address, "hook"));
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
