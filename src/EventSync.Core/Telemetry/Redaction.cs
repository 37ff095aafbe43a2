using System.Text.RegularExpressions;
using EventSync.Core.Configuration;

namespace EventSync.Core.Telemetry;

/// <summary>
/// Masks secrets in text that leaves the process (logs, run errors, span status): every secret value of the
/// configuration, credentials in URLs (user:password@, token-like query values) and bearer tokens. Sink errors quote
/// URLs and response excerpts, which can carry them.
/// </summary>
public sealed partial class Redaction
{
    public const string Mask = "***";
    private readonly string[] _secrets;

    public Redaction(IEnumerable<string?> secrets)
    {
        // Longest first, so a secret containing another is masked whole; very short values would mask ordinary words.
        _secrets = secrets.Where(s => s is { Length: >= 6 }).Select(s => s!).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length).ToArray();
    }

    public static Redaction For(EventSyncConfig config)
    {
        var secrets = new List<string?> { config.Server.AdminToken };
        foreach (var s in config.Sources.Values)
        {
            secrets.Add(s.Secret);
            secrets.Add(s.VerificationToken);
            secrets.Add(s.SharedSecret);
            // A whsec_ secret also appears without its prefix.
            if (s.Secret?.StartsWith("whsec_", StringComparison.Ordinal) == true) secrets.Add(s.Secret["whsec_".Length..]);
        }
        foreach (var s in config.Sinks.Values)
        {
            secrets.Add(s.Secret);
            if (s.Secret?.StartsWith("whsec_", StringComparison.Ordinal) == true) secrets.Add(s.Secret["whsec_".Length..]);
            secrets.Add(s.Vectors?.Embedder.ApiKey);
        }
        foreach (var c in config.Connections.Values) secrets.Add(c.Token);
        return new Redaction(secrets);
    }

    public string? Apply(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text;
        foreach (var secret in _secrets)
            if (text.Contains(secret, StringComparison.Ordinal)) text = text.Replace(secret, Mask, StringComparison.Ordinal);
        text = UserInfoRegex().Replace(text, "$1" + Mask + "@");
        text = SecretQueryRegex().Replace(text, "$1" + Mask);
        text = BearerRegex().Replace(text, "$1" + Mask);
        text = SignatureRegex().Replace(text, "$1" + Mask);
        return text;
    }

    [GeneratedRegex(@"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")]
    private static partial Regex UserInfoRegex();

    [GeneratedRegex(@"(?i)([?&](?:[a-z0-9_-]*(?:token|secret|key|password|pwd|signature|sig|auth)[a-z0-9_-]*)=)[^&\s#]+")]
    private static partial Regex SecretQueryRegex();

    [GeneratedRegex(@"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{6,}")]
    private static partial Regex BearerRegex();

    // Standard Webhooks (v1,base64) and GitHub (sha256=hex) signatures, e.g. echoed back in a receiver's error body.
    [GeneratedRegex(@"(\bv1,|\bsha256=)[A-Za-z0-9+/=]{20,}")]
    private static partial Regex SignatureRegex();
}
