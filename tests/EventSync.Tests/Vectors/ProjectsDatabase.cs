using EventSync.Connectors.Postgres;
using EventSync.Tests.Infrastructure;
using Npgsql;

namespace EventSync.Tests.Vectors;

/// <summary>
/// A fresh PostgreSQL database in the shape of the system we replace: tenants, and projects with a tenant column
/// and a jsonb column of characteristics, captured by the installed outbox trigger.
/// </summary>
public sealed class ProjectsDatabase : IAsyncDisposable
{
    private ProjectsDatabase(string connection) => Connection = connection;

    public string Connection { get; }

    public static async Task<ProjectsDatabase> CreateAsync()
    {
        var db = new ProjectsDatabase(await TestPostgres.CreateDatabaseAsync());
        await db.ExecAsync("""
            CREATE TABLE tenants (id text PRIMARY KEY, name text NOT NULL);
            INSERT INTO tenants VALUES ('acme', 'Acme'), ('globex', 'Globex');
            CREATE TABLE projects (
                id serial PRIMARY KEY, tenant_id text REFERENCES tenants(id), name text NOT NULL, description text,
                caracteristicas jsonb, price integer);
            """);
        await OutboxInstaller.ExecuteAsync(db.Connection, OutboxInstaller.InstallSql(new CaptureTarget("public.projects", "id", "tenant_id")), CancellationToken.None);
        return db;
    }

    /// <summary>The relevant part of eventsync.yaml: capture source, vectors sink with <paramref name="embedder"/>, one flow.</summary>
    public string Yaml(string embedder = "{ kind: local, dimensions: 256 }", string flowExtras = "", string sinkExtras = "") => $$$"""
        sources:
          app: { kind: postgres, connection: "{{{Connection}}}", table: public.projects, pollInterval: 30s }
        sinks:
          index:
            kind: vectors
            database: "{{{Connection}}}"
            table: public.projects
            tenantColumn: tenant_id
            template: "{{name}}\n{{description}}\n{{caracteristicas}}"
            embedder: {{{embedder}}}{{{sinkExtras}}}
        flows:
          - { name: projects, from: app, key: $.key, to: index{{{flowExtras}}} }
        workers: { pollInterval: 100ms }
        """;

    public async Task ExecAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Connection);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<long> OutboxCountAsync()
    {
        await using var connection = new NpgsqlConnection(Connection);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM eventsync.outbox", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public ValueTask DisposeAsync() => new(TestPostgres.DropDatabaseAsync(Connection));
}
