using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using EventSync.Connectors.Http;
using static EventSync.Tests.Notion.NotionHarness;

namespace EventSync.Tests.Notion;

/// <summary>Rate limits, throttling, overload and conflicts between the client and the emulator.</summary>
public sealed class NotionResilienceTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>Runs <paramref name="total"/> reads from <paramref name="workers"/> concurrent workers; returns the elapsed time.</summary>
    private static async Task<TimeSpan> ReadsAsync(Connectors.Notion.NotionClient client, string dataSourceId, int total, int workers)
    {
        var remaining = total;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0) await client.GetDataSourceAsync(dataSourceId, None);
        })));
        return clock.Elapsed;
    }

    [Fact]
    public async Task The_client_sends_no_faster_than_its_pace_on_its_own_clock()
    {
        // The client's clock is fake and only moves when the test moves it, so the pace is checked without timing anything.
        await using var h = await StartAsync();
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var client = h.Client(o => o with { RequestsPerSecond = 2, Burst = 1, Time = clock });
        long Sent() => h.Emulator.RequestsByEndpoint.GetValueOrDefault("GET /v1/data_sources/{id}");

        var reads = Enumerable.Range(0, 4).Select(_ => client.GetDataSourceAsync(h.DataSourceId, None)).ToList();
        for (var expected = 1; expected <= 4; expected++)
        {
            await Infrastructure.Wait.UntilAsync(() => Sent() >= expected, TimeSpan.FromSeconds(10), $"request {expected} to be sent");
            await Task.Delay(TimeSpan.FromMilliseconds(200)); // room for a client that does not pace to send more
            Assert.Equal(expected, Sent());
            clock.Advance(TimeSpan.FromMilliseconds(500)); // one token at 2 per second
        }
        await Task.WhenAll(reads);
    }

    [Fact]
    public async Task In_a_429_storm_the_client_waits_out_Retry_After_and_completes_every_request()
    {
        await using var h = await StartAsync(requestsPerSecond: 20, burst: 20);
        var client = h.Client(o => o with { RequestsPerSecond = 500, Burst = 50 }); // misconfigured: far faster than allowed

        await ReadsAsync(client, h.DataSourceId, total: 70, workers: 10);

        Assert.True(h.Emulator.ThrottledResponses > 0, "the emulator should have answered 429");
        Assert.Equal(70, h.Emulator.RequestsByEndpoint["GET /v1/data_sources/{id}"] - h.Emulator.ThrottledResponses);
    }

    [Fact]
    public async Task Injected_429_and_529_are_retried_but_a_Retry_After_beyond_MaxThrottleWait_throws_ApiThrottledException()
    {
        await using var h = await StartAsync();
        var client = h.Client();
        h.Emulator.ThrottleNext(1, TimeSpan.FromSeconds(1));
        await client.GetDataSourceAsync(h.DataSourceId, None);
        h.Emulator.OverloadNext(1);
        await client.GetDataSourceAsync(h.DataSourceId, None);
        Assert.Equal(4, h.Emulator.RequestsByEndpoint["GET /v1/data_sources/{id}"]);

        h.Emulator.ThrottleNext(1, TimeSpan.FromSeconds(60));
        var e = await Assert.ThrowsAsync<ApiThrottledException>(() => client.GetDataSourceAsync(h.DataSourceId, None));
        Assert.Equal(TimeSpan.FromSeconds(60), e.RetryAfter);
    }

    [Fact]
    public async Task A_409_conflict_is_retried_up_to_ConflictRetries_then_surfaces_as_retryable()
    {
        await using var h = await StartAsync();
        var client = h.Client(o => o with { ConflictRetries = 3 });
        var page = await client.CreatePageAsync(h.DataSourceId, AgentProperties("C", "c"), [], None);
        var id = page["id"]!.GetValue<string>();
        var active = new JsonObject { ["Active"] = new JsonObject { ["checkbox"] = true } };

        h.Emulator.ConflictNext(2);
        var updated = await client.UpdatePageAsync(id, active, None);
        Assert.True(updated["properties"]!["Active"]!["checkbox"]!.GetValue<bool>());
        Assert.Equal(3, h.Emulator.RequestsByEndpoint["PATCH /v1/pages/{id}"]);

        h.Emulator.ConflictNext(10);
        var e = await Assert.ThrowsAsync<ApiException>(() => client.UpdatePageAsync(id, active, None));
        Assert.Equal((HttpStatusCode.Conflict, "conflict_error", true), (e.Status, e.Code, e.Retryable));
        Assert.Equal(3 + 4, h.Emulator.RequestsByEndpoint["PATCH /v1/pages/{id}"]);
        h.Emulator.ConflictNext(0);
    }

    [Fact]
    public async Task Server_errors_are_retried_for_reads_and_deletes_but_not_for_writes_that_may_have_been_saved()
    {
        await using var h = await StartAsync();
        var client = h.Client();
        var page = await client.CreatePageAsync(h.DataSourceId, AgentProperties("S", "s"), [Block("paragraph", "old")], None);
        var id = page["id"]!.GetValue<string>();

        h.Emulator.FailNext(2, 503);
        Assert.NotNull(await client.GetPageAsync(id, None));
        Assert.Equal(3, h.Emulator.RequestsByEndpoint["GET /v1/pages/{id}"]);

        h.Emulator.FailNext(1, 502);
        var e = await Assert.ThrowsAsync<ApiException>(() => client.UpdatePageAsync(id, new JsonObject { ["Slug"] = Text("new") }, None));
        Assert.Equal((HttpStatusCode.BadGateway, "bad_gateway", true), (e.Status, e.Code, e.Retryable));
        Assert.Equal(1, h.Emulator.RequestsByEndpoint["PATCH /v1/pages/{id}"]);

        h.Emulator.FailNext(1, 500); // hits the listing of the old content: a read, retried
        await client.ReplaceBlocksAsync(id, [Block("paragraph", "new")], None);
        Assert.Equal(2, h.Emulator.RequestsByEndpoint["GET /v1/blocks/{id}/children"]);
        Assert.Equal("new", h.Emulator.GetBlocksTree(id)[0]!["paragraph"]!["rich_text"]![0]!["text"]!["content"]!.GetValue<string>());
    }
}
