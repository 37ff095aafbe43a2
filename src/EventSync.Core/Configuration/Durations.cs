using System.Globalization;

namespace EventSync.Core.Configuration;

/// <summary>Parses durations written as 500ms, 2s, 5m, 1h, 7d or hh:mm:ss.</summary>
public static class Durations
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        var s = text.Trim();
        if (s.Length == 0) return false;
        if (s.Contains(':', StringComparison.Ordinal))
            return TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;

        var unitStart = 0;
        while (unitStart < s.Length && (char.IsAsciiDigit(s[unitStart]) || s[unitStart] == '.')) unitStart++;
        if (unitStart == 0 || !double.TryParse(s[..unitStart], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
            return false;
        TimeSpan? parsed = s[unitStart..].Trim() switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" => TimeSpan.FromSeconds(n),
            "m" or "min" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            "d" => TimeSpan.FromDays(n),
            _ => null,
        };
        if (parsed is null) return false;
        value = parsed.Value;
        return true;
    }

    public static string Format(TimeSpan t) =>
        t == TimeSpan.Zero ? "0s"
        : t.TotalMilliseconds < 1000 ? $"{t.TotalMilliseconds:0}ms"
        : t.TotalSeconds < 120 ? $"{t.TotalSeconds:0.###}s"
        : t.TotalMinutes < 120 ? $"{t.TotalMinutes:0.##}m"
        : t.TotalHours < 48 ? $"{t.TotalHours:0.##}h"
        : $"{t.TotalDays:0.##}d";
}
