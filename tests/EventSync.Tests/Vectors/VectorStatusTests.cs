using System.Text.Json;
using EventSync.Connectors;
using EventSync.Connectors.Vectors;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;
using EventSync.Core.Vectors;
using EventSync.Core.Work;
using EventSync.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventSync.Tests.Vectors;

public sealed class VectorStatusTests
{
    [Fact]
    public async Task Pending_changes_are_attributed_to_the_tenant_their_event_names()
    {
        await using var test = await TestStore.CreateAsync(StoreKind.Sqlite);
        var (config, problems) = ConfigLoader.TryParse("""
            sources:
              app: { kind: postgres, connection: "postgres://u:p@127.0.0.1:9/app", table: public.projects }
              hooks: { kind: supabase, sharedSecret: s3cret-s3cret }
            sinks:
              index: { kind: vectors, database: "postgres://u:p@127.0.0.1:9/app", table: public.projects, tenantColumn: tenant_id, template: "{{name}}" }
            flows:
              - { name: projects, from: app, key: $.key, to: index }
              - { name: projects-hooks, from: hooks, key: $.record.id | $.old_record.id, to: index }
            """);
        Assert.Empty(problems);
        Assert.Equal(TimeSpan.FromSeconds(20), config!.Flows[1].Settle); // the Supabase webhook path keeps the original's delay
        var router = new FlowRouter(config);
        var now = DateTimeOffset.UtcNow;
        var n = 0;
        async Task IngestAsync(string source, string type, object payload)
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(payload);
            using var doc = JsonDocument.Parse(bytes);
            var id = $"d-{++n}";
            var jobs = router.Route(source, type, id, doc.RootElement);
            await test.Store.IngestAsync([new IngestWrite(new DeliveryRecord(now, source, id, 202, DeliveryOutcomes.Accepted, null, bytes.Length, null),
                new NewEvent(source, id, id, type, jobs[0].EntityKey, now, "{}", bytes), jobs)], CancellationToken.None);
        }
        await IngestAsync("app", "INSERT", new { key = "1", tenant = "acme", op = "INSERT" });
        await IngestAsync("app", "UPDATE", new { key = "2", tenant = "acme", op = "UPDATE" });
        await IngestAsync("app", "INSERT", new { key = "3", tenant = "globex", op = "INSERT" });
        await IngestAsync("hooks", "DELETE", new { type = "DELETE", table = "projects", schema = "public", record = (object?)null, old_record = new { id = 4, tenant_id = "globex" } });

        var sinks = SinkFactory.Create(config, NullLoggerFactory.Instance, (IVectorStore)test.Store);
        using var service = new VectorService(config, test.Store, (IVectorStore)test.Store, sinks, TimeProvider.System);
        var status = await service.StatusAsync(null, CancellationToken.None);
        Assert.Equal(3, status[0].Pending);
        Assert.DoesNotContain(status[0].Tenants, t => t.Tenant == "?"); // every change named its tenant
        Assert.Equal(2, status[0].Tenants.Single(t => t.Tenant == "acme").Pending);
        Assert.Equal(1, status[0].Tenants.Single(t => t.Tenant == "globex").Pending);
        Assert.Equal(1, status[1].Tenants.Single(t => t.Tenant == "globex").Pending); // from the DELETE's old_record
        Assert.Equal(["globex"], (await service.StatusAsync("globex", CancellationToken.None))[0].Tenants.Select(t => t.Tenant));
        foreach (var sink in sinks.Values.OfType<IAsyncDisposable>()) await sink.DisposeAsync();
    }
}
