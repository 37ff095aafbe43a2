using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace EventSync.Server.Dashboard;

/// <summary>
/// The dashboard's session cookie. It holds an HMAC derived from the admin token, not the token itself, so a
/// cookie that leaks does not reveal the Bearer token the CLI and scripts use (it still grants the same access).
/// HttpOnly keeps it from scripts, SameSite=Strict keeps other sites from sending it (no cross-site requests).
/// </summary>
public static class DashboardAuth
{
    public const string CookieName = "eventsync_session";
    private static readonly byte[] Purpose = Encoding.UTF8.GetBytes("eventsync dashboard session v1");

    public static string SessionValue(string token) => Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), Purpose));

    public static bool HasSessionCookie(HttpRequest request, string token)
    {
        if (!request.Cookies.TryGetValue(CookieName, out var value) || string.IsNullOrEmpty(value)) return false;
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(value)), SHA256.HashData(Encoding.UTF8.GetBytes(SessionValue(token))));
    }

    public static bool TokenMatches(string? candidate, string token) =>
        candidate is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(candidate.Trim())), SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public static void SetSessionCookie(HttpResponse response, string token, bool secure) =>
        response.Cookies.Append(CookieName, SessionValue(token), new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = secure, Path = "/", IsEssential = true });

    public static void ClearSessionCookie(HttpResponse response, bool secure) =>
        response.Cookies.Delete(CookieName, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = secure, Path = "/" });
}
