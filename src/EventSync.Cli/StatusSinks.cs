using System.Globalization;
using EventSync.Core.Admin;

namespace EventSync.Cli;

/// <summary>The sinks part of `eventsync status`: the same per-sink health /readyz reports.</summary>
internal static class StatusSinks
{
    public static async Task WriteAsync(TextWriter stdout, StatusView status)
    {
        if (status.Sinks.Count == 0) return;
        await stdout.WriteLineAsync();
        TableWriter.Write(stdout, ["sink", "state", "paused until", "last run", "last outcome"],
            status.Sinks.Select(s => new[]
            {
                s.Name, s.State, s.PausedUntil?.ToString("u", CultureInfo.InvariantCulture) ?? "-",
                s.LastRunAt?.ToString("u", CultureInfo.InvariantCulture) ?? "-", s.LastOutcome ?? "-",
            }), "(no sinks configured)");
    }
}
