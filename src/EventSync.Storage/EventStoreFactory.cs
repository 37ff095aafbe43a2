using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Storage.Postgres;
using EventSync.Storage.Sqlite;

namespace EventSync.Storage;

public static class EventStoreFactory
{
    public static IEventStore Open(StoreLocation location) => location.Kind switch
    {
        StoreKind.Sqlite => new SqliteEventStore(location.ConnectionString),
        StoreKind.Postgres => new PostgresEventStore(location.ConnectionString),
        _ => throw new ArgumentOutOfRangeException(nameof(location)),
    };
}
