using System.Text.RegularExpressions;
using Npgsql;

namespace EventSync.Connectors.Postgres;

/// <summary>What `eventsync pg install` captures from one table.</summary>
public sealed record CaptureTarget(string Table, string KeyColumn = "id", string? TenantColumn = null, IReadOnlyList<string>? Columns = null, string OutboxSchema = "eventsync");

/// <summary>
/// Installs change capture in the user's database: an outbox table and an AFTER trigger that writes one outbox row
/// per change and calls pg_notify. Nothing leaves the database inside the writing transaction (the system we replace
/// made HTTP calls from its trigger and timed inserts out); the notification is sent only if the transaction commits.
/// Plain SQL and PL/pgSQL only: no superuser, no extension, so it runs on Supabase.
/// </summary>
public static partial class OutboxInstaller
{
    public const string Channel = "eventsync_outbox";
    public const string TriggerName = "eventsync_capture";

    public static string InstallSql(CaptureTarget target)
    {
        Validate(target);
        var schema = PgConnection.Quote(target.OutboxSchema);
        var columns = target.Columns is { Count: > 0 } c ? string.Join(',', c) : "";
        return $$"""
            CREATE SCHEMA IF NOT EXISTS {{schema}};

            CREATE TABLE IF NOT EXISTS {{schema}}.outbox (
                id bigserial PRIMARY KEY,
                table_name text NOT NULL,
                row_key text NOT NULL,
                tenant text,
                op text NOT NULL,
                changed text[],
                changed_at timestamptz NOT NULL DEFAULT now(),
                xid bigint NOT NULL DEFAULT txid_current());

            CREATE INDEX IF NOT EXISTS outbox_table_id ON {{schema}}.outbox (table_name, id);

            -- SECURITY DEFINER: roles that write the table (e.g. Supabase's authenticated) need no rights on the outbox.
            CREATE OR REPLACE FUNCTION {{schema}}.capture() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
            DECLARE
                key_column text := TG_ARGV[0];
                tenant_column text := NULLIF(TG_ARGV[1], '');
                watched text[] := CASE WHEN TG_ARGV[2] = '' THEN NULL ELSE string_to_array(TG_ARGV[2], ',') END;
                new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
                old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
                qualified text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
                changed text[];
            BEGIN
                IF TG_OP = 'UPDATE' THEN
                    SELECT array_agg(k ORDER BY k) INTO changed FROM jsonb_object_keys(new_row) AS k WHERE new_row -> k IS DISTINCT FROM old_row -> k;
                    IF changed IS NULL THEN RETURN NULL; END IF;
                    IF watched IS NOT NULL AND NOT (changed && (watched || key_column || COALESCE(tenant_column, key_column))) THEN RETURN NULL; END IF;
                    IF old_row ->> key_column IS DISTINCT FROM new_row ->> key_column THEN
                        -- The key changed: the old entity is gone and a new one exists.
                        INSERT INTO {{schema}}.outbox (table_name, row_key, tenant, op, changed)
                        VALUES (qualified, old_row ->> key_column, old_row ->> tenant_column, 'DELETE', changed);
                    END IF;
                END IF;
                INSERT INTO {{schema}}.outbox (table_name, row_key, tenant, op, changed)
                VALUES (qualified, COALESCE(new_row, old_row) ->> key_column, COALESCE(new_row, old_row) ->> tenant_column, TG_OP, changed);
                PERFORM pg_notify('{{Channel}}', qualified);
                RETURN NULL;
            END
            $fn$;

            DROP TRIGGER IF EXISTS {{TriggerName}} ON {{PgConnection.Quote(target.Table)}};
            CREATE TRIGGER {{TriggerName}} AFTER INSERT OR UPDATE OR DELETE ON {{PgConnection.Quote(target.Table)}}
                FOR EACH ROW EXECUTE FUNCTION {{schema}}.capture('{{target.KeyColumn}}', '{{target.TenantColumn ?? ""}}', '{{columns}}');
            """;
    }

    /// <summary>Removes the table's trigger and pending outbox rows; the shared outbox goes when no captured table is left.</summary>
    public static string UninstallSql(CaptureTarget target)
    {
        Validate(target);
        var schema = PgConnection.Quote(target.OutboxSchema);
        var literalSchema = target.OutboxSchema;
        return $$"""
            DROP TRIGGER IF EXISTS {{TriggerName}} ON {{PgConnection.Quote(target.Table)}};
            DO $do$
            BEGIN
                IF to_regclass('{{literalSchema}}.outbox') IS NOT NULL THEN
                    DELETE FROM {{schema}}.outbox WHERE table_name = '{{target.Table}}';
                END IF;
                IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{{TriggerName}}' AND NOT tgisinternal) THEN
                    DROP TABLE IF EXISTS {{schema}}.outbox;
                    DROP FUNCTION IF EXISTS {{schema}}.capture();
                    IF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{{literalSchema}}') THEN
                        DROP SCHEMA IF EXISTS {{schema}};
                    END IF;
                END IF;
            END
            $do$;
            """;
    }

    public static async Task ExecuteAsync(string connection, string sql, CancellationToken cancellationToken)
    {
        await using var conn = new NpgsqlConnection(PgConnection.Normalize(connection));
        await conn.OpenAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(sql, conn, tx)) await command.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Names end up inside SQL text: allow plain identifiers only, so nothing can be injected.</summary>
    private static void Validate(CaptureTarget target)
    {
        if (!Qualified().IsMatch(target.Table)) throw new ArgumentException($"'{target.Table}' is not a plain table name; write schema.table with letters, digits and _");
        foreach (var name in new[] { target.KeyColumn, target.TenantColumn, target.OutboxSchema }.Concat(target.Columns ?? []))
            if (name is not null && !Identifier().IsMatch(name)) throw new ArgumentException($"'{name}' is not a plain column or schema name; use letters, digits and _");
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}\\.[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex Qualified();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex Identifier();
}
