using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EventSync.Core.Signatures;

/// <summary>
/// Standard Webhooks v1: HMAC-SHA256 over "{id}.{timestamp}.{body}", base64, several space-separated
/// "v1,&lt;sig&gt;" entries (any match passes; other versions are skipped). Pure and constant-time.
/// </summary>
public static class StandardWebhookSignature
{
    public static string Sign(byte[] key, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        Span<byte> mac = stackalloc byte[32];
        Compute(key, id, timestamp, body, mac);
        return "v1," + Convert.ToBase64String(mac);
    }

    public static SignatureCheck Verify(byte[] key, string? id, string? timestamp, string? signatures, ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan tolerance)
    {
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signatures)) return SignatureCheck.Missing;
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) return SignatureCheck.Malformed;
        var sent = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, 253402300799));
        if (now - sent > tolerance) return SignatureCheck.TimestampTooOld;
        if (sent - now > tolerance) return SignatureCheck.TimestampTooNew;

        Span<byte> expected = stackalloc byte[32];
        Compute(key, id, seconds, body, expected);
        Span<byte> presented = stackalloc byte[64];
        var anyWellFormed = false;
        foreach (var entry in signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!entry.StartsWith("v1,", StringComparison.Ordinal)) continue;
            if (!Convert.TryFromBase64String(entry[3..], presented, out var n) || n != 32) continue;
            anyWellFormed = true;
            if (CryptographicOperations.FixedTimeEquals(expected, presented[..n])) return SignatureCheck.Valid;
        }
        return anyWellFormed ? SignatureCheck.Mismatch : SignatureCheck.Malformed;
    }

    private static void Compute(byte[] key, string id, long timestamp, ReadOnlySpan<byte> body, Span<byte> destination)
    {
        var prefix = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{id}.{timestamp}."));
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(prefix);
        hmac.AppendData(body);
        hmac.GetHashAndReset(destination);
    }
}
