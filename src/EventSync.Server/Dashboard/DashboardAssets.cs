using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace EventSync.Server.Dashboard;

/// <summary>The dashboard's static files, embedded in the server assembly (no CDN, no build step, nothing on disk).</summary>
internal sealed class DashboardAssets
{
    public sealed record Asset(byte[] Bytes, string ContentType, string ETag);

    // Scripts and styles only from this server, no inline code, no framing: payloads shown on the pages are untrusted.
    public const string ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    private readonly Dictionary<string, Asset> _files = new(StringComparer.Ordinal);

    public DashboardAssets()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        foreach (var (name, type) in new[] { ("app.js", "text/javascript; charset=utf-8"), ("app.css", "text/css; charset=utf-8"), ("index.html", "text/html; charset=utf-8"), ("login.html", "text/html; charset=utf-8") })
            _files[name] = Load(assembly, name, type);
    }

    public Asset? Find(string name) => _files.GetValueOrDefault(name);

    public string Text(string name) => Encoding.UTF8.GetString(_files[name].Bytes);

    private static Asset Load(Assembly assembly, string name, string contentType)
    {
        using var stream = assembly.GetManifestResourceStream("EventSync.Dashboard." + name)
            ?? throw new InvalidOperationException($"dashboard asset {name} is not embedded in {assembly.GetName().Name}");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var bytes = buffer.ToArray();
        return new Asset(bytes, contentType, "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..16] + "\"");
    }

    /// <summary>Writes an asset with an ETag; browsers revalidate (no-cache) so an upgraded binary is picked up at once.</summary>
    public static Task WriteAsync(HttpContext context, Asset asset)
    {
        var response = context.Response;
        SecurityHeaders(response);
        response.Headers.CacheControl = "no-cache";
        response.Headers.ETag = asset.ETag;
        if (context.Request.Headers.IfNoneMatch.ToString() == asset.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Bytes.Length;
        return response.Body.WriteAsync(asset.Bytes, context.RequestAborted).AsTask();
    }

    public static void SecurityHeaders(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.XFrameOptions = "DENY";
    }
}
