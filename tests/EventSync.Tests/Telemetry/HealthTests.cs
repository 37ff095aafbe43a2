using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Server.Hosting;
using EventSync.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSync.Tests.Telemetry;

public sealed class HealthTests
{
    private const string SinkSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    [Fact]
    public async Task Readyz_and_status_report_each_sinks_health_after_failures_pauses_and_dead_letters()
    {
        await using var failing = await Receiver.StartAsync();
        failing.Respond = _ => Results.StatusCode(422);
        await using var retrying = await Receiver.StartAsync();
        retrying.Respond = _ => Results.StatusCode(500);
        await using var paused = await Receiver.StartAsync();
        paused.Respond = _ => new RetryAfterResult(3600);
        await using var healthy = await Receiver.StartAsync();
        await using var server = await TestServer.StartAsync($$"""
            sources:
              h: { kind: standard-webhooks, secret: {{TestServer.OrdersSecret}} }
            sinks:
              a-failing: { kind: webhook, url: "{{failing.Url}}", secret: "{{SinkSecret}}" }
              b-retrying: { kind: webhook, url: "{{retrying.Url}}", secret: "{{SinkSecret}}" }
              c-paused: { kind: webhook, url: "{{paused.Url}}", secret: "{{SinkSecret}}" }
              d-healthy: { kind: webhook, url: "{{healthy.Url}}", secret: "{{SinkSecret}}" }
              e-idle: { kind: log }
            flows:
              - { name: to-a, from: h, key: $.id, to: a-failing }
              - { name: to-b, from: h, key: $.id, to: b-retrying, retry: { schedule: [1h] } }
              - { name: to-c, from: h, key: $.id, to: c-paused }
              - { name: to-d, from: h, key: $.id, to: d-healthy }
            workers: { pollInterval: 100ms }
            """);
        Assert.Equal(HttpStatusCode.Accepted, (await server.PostStandardAsync("h", "msg_h", """{"id":"e-1"}""")).StatusCode);

        var expected = new Dictionary<string, string> { ["a-failing"] = "failing", ["b-retrying"] = "retrying", ["c-paused"] = "paused", ["d-healthy"] = "healthy", ["e-idle"] = "healthy" };
        JsonElement ready = default;
        await Wait.UntilAsync(async () =>
        {
            using var response = await server.Http.GetAsync("/readyz");
            ready = await response.Content.ReadFromJsonAsync<JsonElement>();
            return response.StatusCode == HttpStatusCode.OK && States(ready).Count == 5 && expected.All(e => States(ready)[e.Key] == e.Value)
                   && States(ready).Values.Count(v => v == "healthy") == 2 && LastOutcome(ready, "d-healthy") == "succeeded";
        }, TimeSpan.FromSeconds(30), "each sink's state to show in /readyz");
        Assert.Equal("ready", ready.GetProperty("status").GetString());
        var pausedSink = ready.GetProperty("sinks").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "c-paused");
        Assert.True(pausedSink.GetProperty("pausedUntil").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(50));

        // `eventsync status` and /api/status share the code path: the same states.
        var status = await server.Http.GetFromJsonAsync<JsonElement>("/api/status");
        Assert.Equal(States(ready), States(status));
    }

    [Fact]
    public async Task Readyz_is_503_while_the_PostgreSQL_store_is_gone_and_healthz_stays_alive()
    {
        var connection = await TestPostgres.CreateDatabaseAsync();
        var dropped = false;
        try
        {
            var (config, problems) = ConfigLoader.TryParse("store: \"postgres:" + connection + "\"\n", new Dictionary<string, string?>());
            Assert.Empty(problems);
            var app = await EventSyncServer.BuildAsync(config!, new ServerBuildOptions { Urls = ["http://127.0.0.1:0"], RunWorkers = false, MinimumLogLevel = LogLevel.Critical });
            await app.StartAsync();
            try
            {
                var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
                using var http = new HttpClient { BaseAddress = new Uri(address) };
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);

                await TestPostgres.DropDatabaseAsync(connection);
                dropped = true;

                using var response = await http.GetAsync("/readyz");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Equal("unavailable", body.GetProperty("status").GetString());
                Assert.DoesNotContain("Password", body.GetRawText(), StringComparison.OrdinalIgnoreCase);
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
            }
            finally
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
        finally
        {
            if (!dropped) await TestPostgres.DropDatabaseAsync(connection);
        }
    }

    private static Dictionary<string, string> States(JsonElement body) =>
        body.GetProperty("sinks").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("state").GetString()!);

    private static string? LastOutcome(JsonElement body, string sink) =>
        body.GetProperty("sinks").EnumerateArray().Single(s => s.GetProperty("name").GetString() == sink).GetProperty("lastOutcome").GetString();

    private sealed class RetryAfterResult(int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = 429;
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        }
    }
}
