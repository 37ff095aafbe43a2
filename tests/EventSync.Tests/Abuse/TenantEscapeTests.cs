using System.Net;
using System.Text.Json;
using EventSync.Tests.Infrastructure;
using EventSync.Tests.Vectors;

namespace EventSync.Tests.Abuse;

/// <summary>
/// Tenant values that try to widen a search (SQL, wildcards, case, padding, another tenant's id) over the admin API:
/// the answer is a 400 or hits of exactly the named tenant, never another tenant's rows. Needs the test PostgreSQL.
/// </summary>
public sealed class TenantEscapeTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private ProjectsDatabase _db = null!;

    public async Task InitializeAsync() => _db = await ProjectsDatabase.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    public static readonly string[] Hostile =
    [
        "acme' OR '1'='1", "acme' --", "acme\" OR \"1\"=\"1", "*", "%", "_", "acme%", "%acme%", "ACME", "acme ", " acme", "acme\u0000", "acme;globex",
        "acme,globex", "globex' OR tenant_id='acme", "' UNION SELECT * FROM vector_rows --", "acme/../globex", "null", "[\"acme\",\"globex\"]", "../acme",
    ];

    [Fact]
    public async Task Hostile_tenant_values_never_return_another_tenants_rows()
    {
        await using var server = await TestServer.StartAsync(_db.Yaml());
        await _db.ExecAsync("""
            INSERT INTO projects (tenant_id, name, description, caracteristicas) VALUES
              ('acme', 'Solar farm in Atacama', 'Photovoltaic plant with battery storage', '{"location": "Chile"}'),
              ('globex', 'Solar rooftop programme', 'Photovoltaic panels on schools', '{"location": "Lima"}');
            """);
        await Wait.UntilAsync(async () => (await SearchAsync(server, "acme")).Hits is [_, ..] && (await SearchAsync(server, "globex")).Hits is [_, ..], Patience, "both tenants searchable");

        var failures = new List<string>();
        var (_, acme) = await SearchAsync(server, "acme");
        if (acme.Any(h => h != "1")) failures.Add("acme's own search returned " + string.Join(",", acme));
        foreach (var tenant in Hostile.Concat(["", "   "]))
        {
            var (status, hits) = await SearchAsync(server, tenant);
            // acme's rows are key 1, globex's key 2: only the literal tenant "acme"/"globex" may see them.
            var ok = status is HttpStatusCode.BadRequest || (status is HttpStatusCode.OK && hits.Count == 0);
            if (!ok) failures.Add($"tenant {JsonSerializer.Serialize(tenant)}: {(int)status}, hits [{string.Join(",", hits)}]");
        }
        AbuseReport.Record("tenant_escape", Hostile.Length + 3, Hostile.Length + 3 - failures.Count);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static async Task<(HttpStatusCode Status, List<string> Hits)> SearchAsync(TestServer server, string tenant)
    {
        using var response = await server.Http.GetAsync($"/api/search?tenant={Uri.EscapeDataString(tenant)}&q={Uri.EscapeDataString("solar photovoltaic")}&top=10");
        if (response.StatusCode != HttpStatusCode.OK) return (response.StatusCode, []);
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return (response.StatusCode, root.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("entityKey").GetString()!).ToList());
    }
}
