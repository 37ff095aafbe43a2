using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using EventSync.Connectors.Notion;
using EventSync.Emulators.Notion;
using EventSync.Emulators;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EventSync.Tests.Notion;

/// <summary>An emulator with an agent-registry database, and a client pointed at it over loopback HTTP.</summary>
public sealed class NotionHarness : IAsyncDisposable
{
    public static readonly IReadOnlyDictionary<string, string> AgentSchema = new Dictionary<string, string>
    {
        ["Name"] = "title", ["Slug"] = "rich_text", ["Status"] = "select", ["Tags"] = "multi_select", ["Active"] = "checkbox", ["Source"] = "url",
    };

    private NotionHarness(NotionEmulator emulator, string databaseId, string dataSourceId)
    {
        Emulator = emulator;
        DatabaseId = databaseId;
        DataSourceId = dataSourceId;
    }

    public NotionEmulator Emulator { get; }
    public string DatabaseId { get; }
    public string DataSourceId { get; }
    public HttpClient Http { get; } = new();

    /// <summary>Defaults are generous so only the tests about rate limits meet them.</summary>
    public static async Task<NotionHarness> StartAsync(double requestsPerSecond = 10_000, int burst = 10_000, TimeProvider? time = null)
    {
        var emulator = await NotionEmulator.StartAsync(new NotionEmulatorOptions
        {
            RequestsPerSecond = requestsPerSecond, Burst = burst, Time = time ?? TimeProvider.System,
        });
        var (databaseId, dataSourceId) = emulator.CreateDatabase("Agents", AgentSchema);
        return new NotionHarness(emulator, databaseId, dataSourceId);
    }

    public NotionClient Client(Func<NotionClientOptions, NotionClientOptions>? change = null) =>
        new(Http, (change ?? (o => o))(new NotionClientOptions
        {
            ApiUrl = Emulator.BaseUrl, Token = Emulator.Options.Token, RequestsPerSecond = 10_000, Burst = 10_000,
        }));

    /// <summary>A request as a client would send it, without the client's help (and its checks).</summary>
    public async Task<(int Status, JsonObject Body)> RawAsync(HttpMethod method, string path, JsonObject? body, string? version = NotionEmulator.SupportedVersion)
    {
        using var request = new HttpRequestMessage(method, new Uri(Emulator.BaseUrl, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Emulator.Options.Token);
        if (version is not null) request.Headers.Add("Notion-Version", version);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await Http.SendAsync(request);
        return ((int)response.StatusCode, (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    public static JsonObject Title(string text) => new() { ["title"] = RichText(text) };
    public static JsonObject Text(string text) => new() { ["rich_text"] = RichText(text) };
    public static JsonArray RichText(string text) => [new JsonObject { ["type"] = "text", ["text"] = new JsonObject { ["content"] = text } }];

    public static JsonObject Block(string type, string text, params JsonObject[] children)
    {
        var payload = new JsonObject { ["rich_text"] = RichText(text) };
        if (children.Length > 0) payload["children"] = new JsonArray(children.Select(c => (JsonNode)c).ToArray());
        return new JsonObject { ["type"] = type, [type] = payload };
    }

    public static JsonObject AgentProperties(string name, string slug) => new() { ["Name"] = Title(name), ["Slug"] = Text(slug) };

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Emulator.DisposeAsync();
    }
}

/// <summary>A webhook endpoint on loopback that keeps each request's raw body and signature header.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    public sealed record Delivery(string? Signature, byte[] Body)
    {
        public JsonObject Json => (JsonObject)JsonNode.Parse(Body)!;
        public string Text => Encoding.UTF8.GetString(Body);
    }

    private WebhookReceiver(WebApplication app, Uri url, ConcurrentQueue<Delivery> deliveries)
    {
        _app = app;
        Url = url;
        _deliveries = deliveries;
    }

    private readonly ConcurrentQueue<Delivery> _deliveries;

    public Uri Url { get; }
    public IReadOnlyList<Delivery> All => _deliveries.ToList();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var app = LoopbackApp.Create();
        var deliveries = new ConcurrentQueue<Delivery>();
        app.MapPost("/notion", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            deliveries.Enqueue(new Delivery(context.Request.Headers["X-Notion-Signature"].FirstOrDefault(), buffer.ToArray()));
            return Results.Ok();
        });
        var address = await LoopbackApp.StartAsync(app, CancellationToken.None);
        return new WebhookReceiver(app, new Uri(address, "notion"), deliveries);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
