using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace EventSync.Tests.Telemetry;

public sealed partial class LogEventIdTests
{
    private static readonly string[] Logging = ["EventSync.Core", "EventSync.Connectors", "EventSync.Server", "eventsync"];

    [Fact]
    public void Every_log_message_has_a_distinct_event_id_documented_in_docs_observability()
    {
        var assemblies = Logging.Select(Assembly.Load);
        var messages = assemblies.SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .ToList();
        Assert.True(messages.Count >= 19, $"found only {messages.Count} LoggerMessage methods");
        var duplicates = messages.GroupBy(m => m.Attribute!.EventId).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(x => x.Method.Name))}").ToList();
        Assert.True(duplicates.Count == 0, "event ids used twice: " + string.Join("; ", duplicates));

        var doc = File.ReadAllText(Path.Combine(FindRoot(), "docs", "observability.md"));
        var documented = DocumentedIdRegex().Matches(doc).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        var missing = messages.Select(m => m.Attribute!.EventId).Where(id => !documented.Contains(id)).Order().ToList();
        Assert.True(missing.Count == 0, "docs/observability.md has no row for event ids " + string.Join(", ", missing));
        var stale = documented.Except(messages.Select(m => m.Attribute!.EventId)).Order().ToList();
        Assert.True(stale.Count == 0, "docs/observability.md documents event ids no code logs: " + string.Join(", ", stale));
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EventSync.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no EventSync.sln above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"^\| (\d{4}) \|", RegexOptions.Multiline)]
    private static partial Regex DocumentedIdRegex();
}
