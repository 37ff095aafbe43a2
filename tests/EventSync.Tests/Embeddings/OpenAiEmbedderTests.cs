using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EventSync.Connectors.Embeddings;
using EventSync.Core.Vectors;
using EventSync.Emulators.Embeddings;
using Microsoft.Extensions.Time.Testing;

namespace EventSync.Tests.Embeddings;

/// <summary>The OpenAI-compatible client against the emulator over real loopback HTTP.</summary>
public sealed class OpenAiEmbedderTests
{
    private const string Model = "test-embed";
    private const string RightKey = "sk-emulator-right-key-0123456789";
    private const string WrongKey = "sk-wrong-key-abcdefghij9876543210";

    private static Task<EmbeddingApiEmulator> StartAsync(string? apiKey = RightKey, TimeProvider? time = null) =>
        EmbeddingApiEmulator.StartAsync(new EmbeddingEmulatorOptions
        {
            ApiKey = apiKey,
            Models = [new EmulatedEmbeddingModel(Model, 256)],
            Time = time ?? TimeProvider.System,
        });

    private static OpenAiEmbedder Client(EmbeddingApiEmulator emulator, Func<OpenAiEmbedderOptions, OpenAiEmbedderOptions>? change = null) =>
        new((change ?? (o => o))(new OpenAiEmbedderOptions
        {
            BaseUrl = emulator.BaseUrl, Model = Model, Dimensions = 64, ApiKey = RightKey, ApiKeyEnv = "OPENAI_API_KEY",
        }));

    private static Task<IReadOnlyList<float[]>> Embed(OpenAiEmbedder client, params string[] inputs) => client.EmbedAsync(inputs, CancellationToken.None);

    /// <summary>Embeds one text against a fresh emulator (faults set by <paramref name="arrange"/>) and returns the failure.</summary>
    private static async Task<EmbeddingFailedException> FailureAsync(Action<EmbeddingApiEmulator>? arrange = null, Func<OpenAiEmbedderOptions, OpenAiEmbedderOptions>? change = null)
    {
        await using var emulator = await StartAsync();
        arrange?.Invoke(emulator);
        using var client = Client(emulator, change);
        return await Assert.ThrowsAsync<EmbeddingFailedException>(() => Embed(client, "hello"));
    }

    [Fact]
    public async Task Inputs_go_in_batches_and_vectors_come_back_in_input_order_even_when_the_server_reorders()
    {
        await using var emulator = await StartAsync();
        emulator.ShuffleOrder = true;
        using var client = Client(emulator);
        var inputs = Enumerable.Range(0, 150).Select(i => $"document {i} about topic {i % 7}").ToArray();

        var vectors = await Embed(client, inputs);

        Assert.Equal(3, emulator.Calls);
        Assert.Equal(150, emulator.InputsEmbedded);
        var local = new LocalEmbedder(64);
        for (var i = 0; i < inputs.Length; i++) Assert.Equal(local.Embed(inputs[i]), vectors[i]);
    }

    [Fact]
    public async Task Vectors_are_deterministic_and_unit_length()
    {
        await using var emulator = await StartAsync();
        using var client = Client(emulator);
        var first = await Embed(client, "the quick brown fox", "the quick brown fox", "something else");
        var again = await Embed(client, "the quick brown fox");

        Assert.Equal(first[0], first[1]);
        Assert.Equal(first[0], again[0]);
        Assert.NotEqual(first[0], first[2]);
        Assert.All(first, v => Assert.Equal(1.0, LocalEmbedderTests.Norm(v), 4));
    }

    [Fact]
    public async Task Vectors_of_the_wrong_length_fail_for_good_and_name_both_sizes()
    {
        var ex = await FailureAsync(e => e.WrongDimensions = true); // ignores dimensions: 64 and answers the native 256

        AssertPermanent(ex, "256 dimensions", "64 are configured", "embedder.dimensions: 256");
    }

    [Fact]
    public async Task Without_the_dimensions_field_a_native_size_mismatch_suggests_sending_it()
    {
        var ex = await FailureAsync(change: o => o with { SendDimensions = false });

        AssertPermanent(ex, "sendDimensions: true");
        await using var emulator = await StartAsync();
        using var native = Client(emulator, o => o with { SendDimensions = false, Dimensions = 256 });
        Assert.Equal(256, (await Embed(native, "hello"))[0].Length);
    }

    [Fact]
    public async Task A_throttle_carries_the_servers_delay()
    {
        await using var emulator = await StartAsync();
        emulator.ThrottleNext(1, TimeSpan.FromMilliseconds(2500));
        using var client = Client(emulator);

        var ex = await Assert.ThrowsAsync<EmbeddingThrottledException>(() => Embed(client, "hello"));

        Assert.Equal(TimeSpan.FromMilliseconds(2500), ex.RetryAfter); // retry-after-ms wins over the rounded Retry-After: 3
        Assert.Single(await Embed(client, "hello"));
    }

    [Fact]
    public async Task Over_the_rate_limit_the_answer_is_a_throttle_until_the_minute_has_passed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var emulator = await StartAsync(time: time);
        emulator.RateLimitPerMinute = 2;
        using var client = Client(emulator);
        await Embed(client, "one");
        time.Advance(TimeSpan.FromSeconds(20));
        await Embed(client, "two");

        var ex = await Assert.ThrowsAsync<EmbeddingThrottledException>(() => Embed(client, "three"));
        Assert.Equal(TimeSpan.FromSeconds(40), ex.RetryAfter);
        Assert.Contains("rate", ex.Message, StringComparison.OrdinalIgnoreCase);

        time.Advance(ex.RetryAfter);
        Assert.Single(await Embed(client, "three"));
        Assert.Equal(3, emulator.Calls);
        Assert.Equal(4, emulator.Requests);
    }

    [Fact]
    public async Task A_wrong_key_fails_for_good_without_showing_any_key()
    {
        var ex = await FailureAsync(change: o => o with { ApiKey = WrongKey });

        AssertPermanent(ex, "401", "Incorrect API key", "OPENAI_API_KEY");
        Assert.DoesNotContain(WrongKey, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(WrongKey[3..^4], ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(RightKey, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_key_says_how_to_provide_one()
    {
        var ex = await FailureAsync(change: o => o with { ApiKey = null });

        AssertPermanent(ex, "apiKeyEnv");
    }

    [Fact]
    public async Task A_key_echoed_by_a_provider_is_redacted()
    {
        using var client = Stubbed(() => Json(HttpStatusCode.Unauthorized, $$$"""{"error":{"message":"key {{{WrongKey}}} is revoked"}}"""), apiKey: WrongKey);

        var ex = await Assert.ThrowsAsync<EmbeddingFailedException>(() => Embed(client, "hello"));

        Assert.DoesNotContain(WrongKey, ex.Message, StringComparison.Ordinal);
        Assert.Contains("[redacted] is revoked", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(500, true)]
    [InlineData(502, true)]
    [InlineData(408, true)]
    [InlineData(400, false)]
    [InlineData(403, false)]
    [InlineData(422, false)]
    public async Task Server_errors_are_retryable_and_request_errors_are_not(int status, bool retryable)
    {
        await using var emulator = await StartAsync();
        emulator.FailNext(1, status);
        using var client = Client(emulator);

        var ex = await Assert.ThrowsAsync<EmbeddingFailedException>(() => Embed(client, "hello"));

        Assert.Equal(retryable, ex.Retryable);
        Assert.Contains($"→ {status}", ex.Message, StringComparison.Ordinal);
        Assert.Single(await Embed(client, "hello")); // the fault was one-shot
    }

    [Fact]
    public async Task An_unknown_model_fails_for_good_with_the_providers_message()
    {
        var ex = await FailureAsync(change: o => o with { Model = "no-such-model" });

        AssertPermanent(ex, "404", "does not exist", "ollama pull no-such-model");
    }

    [Fact]
    public async Task An_unreachable_or_slow_server_is_retryable()
    {
        Uri gone;
        await using (var emulator = await StartAsync()) gone = emulator.BaseUrl;
        using var unreachable = new OpenAiEmbedder(new OpenAiEmbedderOptions { BaseUrl = gone, Model = Model, Dimensions = 64 });
        Assert.True((await Assert.ThrowsAsync<EmbeddingFailedException>(() => Embed(unreachable, "hello"))).Retryable);

        using var slow = new OpenAiEmbedder(
            new OpenAiEmbedderOptions { BaseUrl = new Uri("http://provider.test/v1"), Model = Model, Dimensions = 64, Timeout = TimeSpan.FromMilliseconds(200) },
            new StubHandler(async ct => { await Task.Delay(Timeout.Infinite, ct); return new HttpResponseMessage(); }));
        var timeout = await Assert.ThrowsAsync<EmbeddingFailedException>(() => Embed(slow, "hello"));
        Assert.True(timeout.Retryable);
        Assert.Contains("timed out", timeout.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retry_after_is_read_as_an_http_date_or_defaults_when_absent()
    {
        var date = new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        using var dated = Stubbed(() =>
        {
            var response = Json(HttpStatusCode.ServiceUnavailable, "{}");
            response.Headers.Date = date;
            response.Headers.RetryAfter = new RetryConditionHeaderValue(date.AddSeconds(30));
            return response;
        });
        Assert.Equal(TimeSpan.FromSeconds(30), (await Assert.ThrowsAsync<EmbeddingThrottledException>(() => Embed(dated, "hello"))).RetryAfter);

        using var bare = Stubbed(() => Json(HttpStatusCode.TooManyRequests, """{"error":{"message":"slow down"}}"""));
        Assert.Equal(OpenAiEmbedder.DefaultThrottleDelay, (await Assert.ThrowsAsync<EmbeddingThrottledException>(() => Embed(bare, "hello"))).RetryAfter);

        using var quota = Stubbed(() => Json(HttpStatusCode.TooManyRequests, """{"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}}"""));
        Assert.False((await Assert.ThrowsAsync<EmbeddingFailedException>(() => Embed(quota, "hello"))).Retryable);
    }

    [Fact]
    public async Task A_response_with_a_missing_or_duplicate_index_is_rejected()
    {
        using var client = Stubbed(() => Json(HttpStatusCode.OK, """
            {"object":"list","data":[{"object":"embedding","index":0,"embedding":[1,0]},{"object":"embedding","index":0,"embedding":[0,1]}]}
            """), dimensions: 2);

        var ex = await Assert.ThrowsAsync<EmbeddingFailedException>(() => Embed(client, "a", "b"));

        AssertPermanent(ex, "two embeddings for input 0");
    }

    [Fact]
    public async Task The_emulator_checks_requests_like_OpenAI()
    {
        await using var emulator = await EmbeddingApiEmulator.StartAsync(new EmbeddingEmulatorOptions());
        using var http = new HttpClient();
        async Task<(int Status, JsonElement Body)> Post(string json)
        {
            using var response = await http.PostAsync(new Uri(emulator.BaseUrl + "/embeddings"), new StringContent(json, Encoding.UTF8, "application/json"));
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return ((int)response.StatusCode, doc.RootElement.Clone());
        }

        var (status, body) = await Post("""{"model":"text-embedding-3-small","input":"one text","dimensions":32}""");
        Assert.Equal(200, status);
        Assert.Equal("list", body.GetProperty("object").GetString());
        Assert.Equal(32, body.GetProperty("data")[0].GetProperty("embedding").GetArrayLength());
        Assert.True(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 0);

        (status, body) = await Post("""{"model":"text-embedding-3-small","input":"one text","encoding_format":"base64"}""");
        Assert.Equal(200, status);
        Assert.Equal(1536 * 4, Convert.FromBase64String(body.GetProperty("data")[0].GetProperty("embedding").GetString()!).Length);

        foreach (var (json, expected, code) in new[]
        {
            ("""{"model":"text-embedding-3-small","input":["fine",""]}""", 400, (string?)null),
            ($$"""{"model":"text-embedding-3-small","input":[{{string.Join(',', Enumerable.Repeat("\"x\"", 2049))}}]}""", 400, null),
            ("""{"model":"text-embedding-3-small","input":"x","dimensions":4096}""", 400, null),
            ("""{"model":"text-embedding-ada-002","input":"x","dimensions":256}""", 400, null),
            ("""{"model":"gpt-nothing","input":"x"}""", 404, "model_not_found"),
            ("""not json""", 400, null),
        })
        {
            (status, body) = await Post(json);
            Assert.Equal(expected, status);
            var error = body.GetProperty("error");
            Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.True(error.TryGetProperty("param", out _));
            Assert.Equal(code, error.GetProperty("code").GetString());
        }
        Assert.Equal(2, emulator.Calls);
        Assert.Equal(8, emulator.Requests);
    }

    private static void AssertPermanent(EmbeddingFailedException ex, params string[] mentions)
    {
        Assert.False(ex.Retryable, ex.Message);
        foreach (var mention in mentions) Assert.Contains(mention, ex.Message, StringComparison.Ordinal);
    }

    private static OpenAiEmbedder Stubbed(Func<HttpResponseMessage> respond, int dimensions = 64, string? apiKey = null) =>
        new(new OpenAiEmbedderOptions { BaseUrl = new Uri("http://provider.test/v1"), Model = Model, Dimensions = dimensions, ApiKey = apiKey },
            new StubHandler(_ => Task.FromResult(respond())));

    private static HttpResponseMessage Json(HttpStatusCode status, string body) =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    private sealed class StubHandler(Func<CancellationToken, Task<HttpResponseMessage>> respond) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => respond(cancellationToken);
    }
}
