using System.Security.Cryptography;
using System.Text;

namespace EventSync.Core.Signatures;

/// <summary>
/// The "sha256=&lt;hex HMAC of the raw body&gt;" scheme shared by GitHub (X-Hub-Signature-256) and
/// Notion (X-Notion-Signature). Pure: no I/O, constant-time comparison.
/// </summary>
public static class HmacSha256Hex
{
    private const string Prefix = "sha256=";

    public static string Sign(ReadOnlySpan<byte> body, string key)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), body, mac);
        return Prefix + Convert.ToHexStringLower(mac);
    }

    public static SignatureCheck Verify(ReadOnlySpan<byte> body, string key, string? header)
    {
        if (string.IsNullOrEmpty(header)) return SignatureCheck.Missing;
        if (!header.StartsWith(Prefix, StringComparison.Ordinal) || header.Length != Prefix.Length + 64)
            return SignatureCheck.Malformed;
        Span<byte> presented = stackalloc byte[32];
        if (Convert.FromHexString(header.AsSpan(Prefix.Length), presented, out _, out var written) != System.Buffers.OperationStatus.Done || written != 32)
            return SignatureCheck.Malformed;
        Span<byte> expected = stackalloc byte[32];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), body, expected);
        return CryptographicOperations.FixedTimeEquals(expected, presented) ? SignatureCheck.Valid : SignatureCheck.Mismatch;
    }
}

public enum SignatureCheck { Valid, Missing, Malformed, Mismatch, TimestampTooOld, TimestampTooNew }
