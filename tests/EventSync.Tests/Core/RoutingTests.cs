using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Work;

namespace EventSync.Tests.Core;

public sealed class RoutingTests
{
    [Theory]
    [InlineData("*", "push", true)]
    [InlineData("push", "push", true)]
    [InlineData("release", "release.published", true)]
    [InlineData("release.published", "release.published", true)]
    [InlineData("release.published", "release.created", false)]
    [InlineData("page.*", "page.created", true)]
    [InlineData("page", "pages.created", false)]
    [InlineData("INSERT", "UPDATE", false)]
    public void Event_patterns_match(string pattern, string type, bool matches) => Assert.Equal(matches, FlowRouter.Matches([pattern], type));

    [Theory]
    [InlineData("$.id", "{\"id\": 42}", "42")]
    [InlineData("$.record.id", "{\"record\": {\"id\": \"p-1\"}}", "p-1")]
    [InlineData("$.items[1].sku", "{\"items\": [{\"sku\": \"a\"}, {\"sku\": \"b\"}]}", "b")]
    [InlineData("$['odd key']", "{\"odd key\": \"x\"}", "x")]
    [InlineData("$.missing", "{\"id\": 1}", null)]
    [InlineData("$.id", "{\"id\": null}", null)]
    public void Entity_keys_come_from_json_paths(string path, string json, string? expected)
    {
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(expected, JsonPath.Parse(path).Evaluate(doc.RootElement));
    }

    [Fact]
    public void Retry_delays_follow_the_schedule_within_the_jitter()
    {
        var options = new RetryOptions { Schedule = [TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20)], Jitter = 0.2 };
        var random = new Random(1);
        for (var i = 0; i < 200; i++)
        {
            var d = RetryPolicy.DelayAfter(options, 1, random)!.Value;
            Assert.InRange(d.TotalSeconds, 8, 12);
        }
        Assert.InRange(RetryPolicy.DelayAfter(options, 2, random)!.Value.TotalSeconds, 16, 24);
        Assert.Null(RetryPolicy.DelayAfter(options, 3, random));
    }
}
