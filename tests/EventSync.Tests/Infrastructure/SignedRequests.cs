using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;

namespace EventSync.Tests.Infrastructure;

/// <summary>Builds the requests a webhook sender would make, for whichever server (in-process or child process) is under test.</summary>
public static class SignedRequests
{
    public static HttpRequestMessage Raw(string source, byte[] body, string contentType = "application/json", IEnumerable<(string, string)>? headers = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/hooks/{source}") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        foreach (var (name, value) in headers ?? []) request.Headers.TryAddWithoutValidation(name, value);
        return request;
    }

    /// <summary>A correctly signed Standard Webhooks delivery.</summary>
    public static HttpRequestMessage Standard(string source, string id, string json, DateTimeOffset? at = null, string secret = TestServer.OrdersSecret)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var ts = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var sig = StandardWebhookSignature.Sign(ConfigLoader.StandardWebhookSecret(secret)!, id, ts, body);
        return Raw(source, body, headers: [("webhook-id", id), ("webhook-timestamp", ts.ToString(CultureInfo.InvariantCulture)), ("webhook-signature", sig)]);
    }
}
