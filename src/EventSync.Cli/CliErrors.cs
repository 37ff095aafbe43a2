using System.CommandLine;
using System.CommandLine.Parsing;
using System.Data.Common;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Storage;

namespace EventSync.Cli;

/// <summary>Error messages that say what to do next: which help to read, which setting to fix.</summary>
internal static class CliErrors
{
    public const int MaxLimit = 100_000;

    /// <summary>"Run `eventsync runs show --help` for usage.": the help of the command the user was typing, not the root's.</summary>
    public static string UsageHint(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result.Parent is CommandResult parent; result = parent) names.Insert(0, result.Command.Name);
        return $"Run `eventsync {string.Join(' ', names.Append("--help"))}` for usage.";
    }

    /// <summary>--limit is 1 to 100000: a typo like -5 or 0 is an error rather than an empty table (scripts may ask for more than the API's 1000).</summary>
    public static void ValidateLimit(Option<int> limit) => limit.Validators.Add(result =>
    {
        var value = result.GetValueOrDefault<int>();
        if (value is < 1 or > MaxLimit) result.AddError($"--limit must be 1 to {MaxLimit}, not {value}");
    });

    /// <summary>
    /// Opens the configured store and (optionally) migrates it; a store that cannot be reached becomes one line naming
    /// the store (password masked) and what to check, instead of a driver's bare message.
    /// </summary>
    public static async Task<IEventStore> OpenStoreAsync(EventSyncConfig config, bool migrate, CancellationToken ct)
    {
        IEventStore? store = null;
        try
        {
            store = EventStoreFactory.Open(config.Store);
            if (migrate) await store.MigrateAsync(ct);
            return store;
        }
        catch (Exception ex) when (ex is DbException or IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException or TimeoutException)
        {
            if (store is not null) await store.DisposeAsync();
            throw new InvalidOperationException(StoreUnreachable(config, ex), ex);
        }
    }

    public static string StoreUnreachable(EventSyncConfig config, Exception ex)
    {
        var fix = config.Store.Kind == StoreKind.Postgres
            ? $"check that PostgreSQL is running and that host, port, database, user and password in `store` ({config.Origin}) are right"
            : $"point `store` ({config.Origin}) at a file in a directory this user can create and write";
        return $"cannot open the store {config.Store.Describe()}: {ex.Message.TrimEnd('.')}. Fix: {fix}";
    }
}
