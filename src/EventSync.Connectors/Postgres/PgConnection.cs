using Npgsql;

namespace EventSync.Connectors.Postgres;

/// <summary>Accepts both forms people paste: Npgsql keywords (Host=...;Database=...) and postgres:// URLs (Supabase, Heroku).</summary>
public static class PgConnection
{
    public static string Normalize(string value)
    {
        if (!value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) && !value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
            return value;
        var uri = new Uri(value);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length > 1) builder.Password = Uri.UnescapeDataString(parts[1]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            if (kv.Length == 2 && kv[0].Equals("sslmode", StringComparison.OrdinalIgnoreCase) && Enum.TryParse<SslMode>(kv[1], true, out var ssl)) builder.SslMode = ssl;
        }
        return builder.ConnectionString;
    }

    /// <summary>Host, port and database only: safe for logs and errors.</summary>
    public static string Describe(string value)
    {
        var b = new NpgsqlConnectionStringBuilder(Normalize(value));
        return $"{b.Host}:{b.Port}/{b.Database}";
    }

    /// <summary>"public.projects" → "public"."projects" (names are validated as plain identifiers by the config loader).</summary>
    public static string Quote(string qualifiedName) => string.Join('.', qualifiedName.Split('.').Select(p => "\"" + p.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));
}
