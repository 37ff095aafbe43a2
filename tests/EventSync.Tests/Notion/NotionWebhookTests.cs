using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EventSync.Tests.Infrastructure;
using static EventSync.Tests.Notion.NotionHarness;

namespace EventSync.Tests.Notion;

/// <summary>The emulator's webhooks: handshake first, then signed page events from API writes (bot) and UI edits (person).</summary>
public sealed class NotionWebhookTests
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static bool SignatureValid(string token, WebhookReceiver.Delivery d) =>
        d.Signature is { } header && CryptographicOperations.FixedTimeEquals(
            Encoding.ASCII.GetBytes(header),
            Encoding.ASCII.GetBytes("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), d.Body))));

    [Fact]
    public async Task The_handshake_comes_first_unsigned_then_every_page_change_arrives_signed_with_bot_or_person_as_author()
    {
        await using var h = await StartAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        var client = h.Client();
        h.Emulator.Subscribe(receiver.Url);
        await h.Emulator.WebhooksIdleAsync(None);

        var handshake = Assert.Single(receiver.All);
        Assert.Null(handshake.Signature);
        var token = h.Emulator.VerificationToken!;
        Assert.StartsWith("secret_", token, StringComparison.Ordinal);
        Assert.Equal($"{{\"verification_token\":\"{token}\"}}", handshake.Text);

        // Not verified yet: changes send nothing.
        await client.CreatePageAsync(h.DataSourceId, AgentProperties("Before", "before"), [], None);
        await h.Emulator.WebhooksIdleAsync(None);
        Assert.Single(receiver.All);

        h.Emulator.Verify();
        var page = await client.CreatePageAsync(h.DataSourceId, AgentProperties("Agent", "agent"), [Block("paragraph", "hello")], None);
        var id = page["id"]!.GetValue<string>();
        h.Emulator.EditPropertiesAsUser(id, new JsonObject { ["Slug"] = Text("renamed") });
        h.Emulator.ReplaceContentAsUser(id, [Block("paragraph", "edited in the UI")]);
        h.Emulator.TrashAsUser(id);
        await client.RestorePageAsync(id, None);
        await Wait.UntilAsync(() => receiver.All.Count == 6, Timeout, "five page events after the handshake");

        var events = receiver.All.Skip(1).ToList();
        Assert.All(events, e => Assert.True(SignatureValid(token, e), "signature over the raw body with the verification token"));
        // Deliveries can arrive in any order: tamper with the creation's, wherever it is.
        var created = events.Single(e => e.Json["type"]!.GetValue<string>() == "page.created");
        var tampered = created with { Body = Encoding.UTF8.GetBytes(created.Text.Replace("page.created", "page.deleted", StringComparison.Ordinal)) };
        Assert.False(SignatureValid(token, tampered));

        var byType = events.Select(e => e.Json).ToList();
        Assert.Equal(["page.created", "page.properties_updated", "page.content_updated", "page.deleted", "page.undeleted"],
            events.Select(e => e.Json["type"]!.GetValue<string>()).OrderBy(Order));
        string Author(string type) => byType.Single(e => e["type"]!.GetValue<string>() == type)["authors"]![0]!["type"]!.GetValue<string>();
        Assert.Equal("bot", Author("page.created"));
        Assert.Equal("person", Author("page.properties_updated"));
        Assert.Equal("person", Author("page.content_updated"));
        Assert.Equal("person", Author("page.deleted"));
        Assert.Equal("bot", Author("page.undeleted"));

        var updated = byType.Single(e => e["type"]!.GetValue<string>() == "page.properties_updated");
        var slugId = (await client.GetDataSourceAsync(h.DataSourceId, None))["properties"]!["Slug"]!["id"]!.GetValue<string>();
        Assert.Equal([slugId], updated["data"]!["updated_properties"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal(id, updated["entity"]!["id"]!.GetValue<string>());
        Assert.Equal("page", updated["entity"]!["type"]!.GetValue<string>());
        Assert.Equal(h.DataSourceId, updated["data"]!["parent"]!["data_source_id"]!.GetValue<string>());
        Assert.Equal(h.Emulator.Options.IntegrationId, updated["integration_id"]!.GetValue<string>());
        Assert.Equal(1, updated["attempt_number"]!.GetValue<int>());
        Assert.Equal(h.Emulator.Options.BotUserId, h.Emulator.GetPage(id)!["last_edited_by"]!["id"]!.GetValue<string>()); // restored by the API
    }

    private static int Order(string type) => Array.IndexOf(["page.created", "page.properties_updated", "page.content_updated", "page.deleted", "page.undeleted"], type);

    [Fact]
    public async Task Dropped_and_delayed_deliveries_leave_changes_for_the_reconciliation_poller_to_find()
    {
        await using var h = await StartAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        var client = h.Client();
        h.Emulator.Subscribe(receiver.Url);
        h.Emulator.Verify();
        var page = await client.CreatePageAsync(h.DataSourceId, AgentProperties("D", "d"), [], None);
        await h.Emulator.WebhooksIdleAsync(None);
        var before = receiver.All.Count;

        h.Emulator.DropNextDeliveries(1);
        h.Emulator.EditPropertiesAsUser(page["id"]!.GetValue<string>(), new JsonObject { ["Active"] = new JsonObject { ["checkbox"] = true } });
        await h.Emulator.WebhooksIdleAsync(None);
        Assert.Equal(before, receiver.All.Count);
        Assert.Equal(1, h.Emulator.DroppedDeliveries);
        var changed = await client.QueryAsync(h.DataSourceId, new JsonObject { ["property"] = "Active", ["checkbox"] = new JsonObject { ["equals"] = true } }, null, None);
        Assert.Single(changed); // the poller still sees the change

        h.Emulator.DeliveryDelay = TimeSpan.FromSeconds(1);
        h.Emulator.TrashAsUser(page["id"]!.GetValue<string>());
        Assert.Equal(before, receiver.All.Count); // not yet: the delivery waits
        await h.Emulator.WebhooksIdleAsync(None);
        Assert.Equal("page.deleted", receiver.All[^1].Json["type"]!.GetValue<string>());
    }
}
