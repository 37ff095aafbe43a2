using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace EventSync.Emulators.Notion;

/// <summary>
/// Webhook subscription (handshake, then signed page events, our own API writes included, as Notion sends them),
/// delivery faults, and the human-edit helpers that stand in for someone working in the Notion UI.
/// </summary>
public sealed partial class NotionEmulator
{
    private readonly HttpClient _webhookHttp;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<JsonObject> _delivered = [];
    private TaskCompletionSource _idle = NewCompleted();
    private int _pendingDeliveries;
    private Uri? _webhookUrl;
    private string? _verificationToken;
    private string _subscriptionId = "";
    private volatile bool _verified;
    private int _dropNext;
    private volatile bool _dropAll;
    private TimeSpan _deliveryDelay;
    private long _dropped;
    private long _failedDeliveries;

    private sealed record WebhookEvent(string Type, JsonObject Body);

    /// <summary>The token of the current subscription, sent in the handshake; the signing key once verified.</summary>
    public string? VerificationToken { get { lock (_gate) return _verificationToken; } }

    /// <summary>Every event delivered with a 2xx answer, as sent (the last attempt's body).</summary>
    public IReadOnlyList<JsonObject> DeliveredEvents { get { lock (_gate) return _delivered.Select(e => (JsonObject)e.DeepClone()).ToList(); } }

    /// <summary>Events deliberately not sent (see <see cref="DropNextDeliveries"/>, <see cref="DropAllDeliveries"/>).</summary>
    public long DroppedDeliveries => Interlocked.Read(ref _dropped);

    /// <summary>Events given up after <see cref="NotionEmulatorOptions.WebhookMaxAttempts"/> failed attempts.</summary>
    public long FailedDeliveries => Interlocked.Read(ref _failedDeliveries);

    /// <summary>While on, page events are generated but never sent: what a receiver outage or a lost event looks like.</summary>
    public bool DropAllDeliveries { get => _dropAll; set => _dropAll = value; }

    /// <summary>Wait this long (on <see cref="NotionEmulatorOptions.Time"/>) before sending each event; deliveries may then overlap and arrive out of order.</summary>
    public TimeSpan DeliveryDelay
    {
        get { lock (_gate) return _deliveryDelay; }
        set { lock (_gate) _deliveryDelay = value; }
    }

    /// <summary>The next <paramref name="count"/> page events are not delivered.</summary>
    public void DropNextDeliveries(int count)
    {
        lock (_gate) _dropNext = count;
    }

    /// <summary>
    /// Creates an unverified subscription to <paramref name="url"/> and POSTs the unsigned
    /// <c>{"verification_token":"secret_..."}</c> handshake once. Page events flow only after <see cref="Verify"/>.
    /// Returns the subscription id.
    /// </summary>
    public string Subscribe(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        string token;
        lock (_gate)
        {
            _webhookUrl = url;
            _subscriptionId = NewId();
            token = "secret_" + RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 43);
            _verificationToken = token;
            _verified = false;
        }
        var body = new JsonObject { ["verification_token"] = token };
        StartDelivery(url, body, signingKey: null);
        return _subscriptionId;
    }

    /// <summary>The operator pasted the verification token into Notion's settings: the subscription becomes active.</summary>
    public void Verify()
    {
        lock (_gate)
        {
            if (_verificationToken is null) throw new InvalidOperationException("subscribe first");
            _verified = true;
        }
    }

    /// <summary>Completes when no delivery is queued, waiting, or in flight.</summary>
    public async Task WebhooksIdleAsync(CancellationToken ct)
    {
        for (var round = 0; round < 10_000; round++)
        {
            Task idle;
            lock (_gate)
            {
                if (_pendingDeliveries == 0) return;
                idle = _idle.Task;
            }
            await idle.WaitAsync(ct);
        }
    }

    private static TaskCompletionSource NewCompleted()
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tcs.SetResult();
        return tcs;
    }

    /// <summary>Builds a page.* event (called under the lock, so the parent and ids are consistent).</summary>
    private WebhookEvent PageEvent(string type, PageRecord page, Author author, IReadOnlyList<string>? updatedProperties = null)
    {
        var data = new JsonObject
        {
            ["parent"] = new JsonObject { ["id"] = page.DatabaseId, ["type"] = "database", ["data_source_id"] = page.DataSourceId },
        };
        if (updatedProperties is not null) data["updated_properties"] = new JsonArray(updatedProperties.Select(p => (JsonNode)p).ToArray());
        return Envelope(type, page.Id, author, data);
    }

    private WebhookEvent ContentEvent(PageRecord page, Author author, IEnumerable<string> blockIds)
    {
        var data = new JsonObject
        {
            ["parent"] = new JsonObject { ["id"] = page.DatabaseId, ["type"] = "database", ["data_source_id"] = page.DataSourceId },
            ["updated_blocks"] = new JsonArray(blockIds.Select(id => (JsonNode)new JsonObject { ["id"] = id, ["type"] = "block" }).ToArray()),
        };
        return Envelope("page.content_updated", page.Id, author, data);
    }

    private WebhookEvent Envelope(string type, string pageId, Author author, JsonObject data) => new(type, new JsonObject
    {
        ["id"] = NewId(), ["timestamp"] = Time(_options.Time.GetUtcNow()), ["workspace_id"] = _options.WorkspaceId,
        ["workspace_name"] = "Emulated workspace", ["subscription_id"] = _subscriptionId, ["integration_id"] = _options.IntegrationId,
        ["type"] = type, ["authors"] = new JsonArray(new JsonObject { ["id"] = author.Id, ["type"] = author.Type }),
        ["attempt_number"] = 1, ["entity"] = new JsonObject { ["id"] = pageId, ["type"] = "page" }, ["data"] = data,
    });

    /// <summary>Sends events of a committed change, unless no verified subscription exists or a drop is armed.</summary>
    private void Publish(List<WebhookEvent> events)
    {
        foreach (var e in events)
        {
            Uri url;
            string token;
            lock (_gate)
            {
                if (!_verified || _webhookUrl is null || _verificationToken is null) return;
                if (_dropAll || _dropNext > 0)
                {
                    if (_dropNext > 0) _dropNext--;
                    Interlocked.Increment(ref _dropped);
                    continue;
                }
                url = _webhookUrl;
                token = _verificationToken;
            }
            StartDelivery(url, e.Body, token);
        }
    }

    private void StartDelivery(Uri url, JsonObject body, string? signingKey)
    {
        lock (_gate)
        {
            if (_pendingDeliveries++ == 0) _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        _ = Task.Run(() => DeliverAsync(url, body, signingKey));
    }

    private async Task DeliverAsync(Uri url, JsonObject body, string? signingKey)
    {
        var ct = _stopping.Token;
        try
        {
            var delay = DeliveryDelay;
            if (delay > TimeSpan.Zero) await Task.Delay(delay, _options.Time, ct);
            var attempts = Math.Max(1, signingKey is null ? 1 : _options.WebhookMaxAttempts); // the handshake is sent once
            for (var attempt = 1; attempt <= attempts; attempt++)
            {
                if (signingKey is not null) body["attempt_number"] = attempt;
                var raw = Encoding.UTF8.GetBytes(body.ToJsonString());
                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(raw) };
                request.Content.Headers.ContentType = new("application/json");
                request.Headers.UserAgent.ParseAdd("notion-api");
                if (signingKey is not null)
                    request.Headers.TryAddWithoutValidation("X-Notion-Signature", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), raw)));
                try
                {
                    using var response = await _webhookHttp.SendAsync(request, ct);
                    if (response.IsSuccessStatusCode)
                    {
                        if (signingKey is not null)
                            lock (_gate) _delivered.Add((JsonObject)body.DeepClone());
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                    // receiver down: retried like a non-2xx answer
                }
                catch (TaskCanceledException) when (!ct.IsCancellationRequested)
                {
                    // receiver too slow: retried
                }
                if (attempt < attempts) await Task.Delay(_options.WebhookRetryDelay * Math.Pow(2, attempt - 1), _options.Time, ct);
            }
            Interlocked.Increment(ref _failedDeliveries);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // emulator stopping
        }
        finally
        {
            lock (_gate)
            {
                if (--_pendingDeliveries == 0) _idle.TrySetResult();
            }
        }
    }

    // ---- Human edits: someone in the Notion UI (author = a person). No per-request API limits apply to the UI. ----

    /// <summary>Sets properties (write shape) as a person would in the UI; emits page.properties_updated authored by a person.</summary>
    public void EditPropertiesAsUser(string pageId, JsonObject properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        AsUser(() => UpdatePage(Dashed(pageId), new JsonObject { ["properties"] = properties.DeepClone() }, Person));
    }

    /// <summary>Replaces the page's content with <paramref name="blocks"/> (nested write shape, any depth); emits page.content_updated.</summary>
    public void ReplaceContentAsUser(string pageId, IReadOnlyList<JsonObject> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        List<WebhookEvent> events = [];
        AsUser(() =>
        {
            lock (_gate)
            {
                var id = Dashed(pageId);
                if (!_pages.TryGetValue(id, out var page)) throw NotFound(id, "page");
                var inputs = ParseUnlimited(blocks);
                var now = _options.Time.GetUtcNow();
                var removed = page.Children.Where(c => !_blocks[c].InTrash).ToList();
                foreach (var c in removed) _blocks[c].InTrash = true;
                var created = AddBlocks(page, page.Id, true, page.Children, inputs, Person, now, null);
                Touch(page, Person, now);
                events.Add(ContentEvent(page, Person, removed.Concat(created.Select(b => b.Id))));
            }
            return null;
        });
        Publish(events);
    }

    /// <summary>Creates a page in a data source as a person; emits page.created. Returns the page id.</summary>
    public string CreatePageAsUser(string dataSourceId, JsonObject properties, IReadOnlyList<JsonObject>? blocks = null)
    {
        ArgumentNullException.ThrowIfNull(properties);
        var page = AsUser(() => CreatePage(new JsonObject
        {
            ["parent"] = new JsonObject { ["type"] = "data_source_id", ["data_source_id"] = Dashed(dataSourceId) },
            ["properties"] = properties.DeepClone(),
        }, Person))!;
        var id = page["id"]!.GetValue<string>();
        if (blocks is { Count: > 0 })
            AsUser(() =>
            {
                lock (_gate)
                {
                    var record = _pages[id];
                    AddBlocks(record, id, true, record.Children, ParseUnlimited(blocks), Person, record.Created, null);
                }
                return null;
            });
        return id;
    }

    /// <summary>Moves a page to the trash as a person; emits page.deleted.</summary>
    public void TrashAsUser(string pageId) =>
        AsUser(() => UpdatePage(Dashed(pageId), new JsonObject { ["in_trash"] = true }, Person));

    private static JsonObject? AsUser(Func<JsonObject?> edit)
    {
        try
        {
            return edit();
        }
        catch (NotionError e)
        {
            throw new ArgumentException($"{e.Code}: {e.Message}");
        }
    }

    /// <summary>Parses blocks of any depth and count: the UI is not bound by the API's per-request limits.</summary>
    private static List<BlockInput> ParseUnlimited(IReadOnlyList<JsonObject> blocks)
    {
        var result = new List<BlockInput>(blocks.Count);
        foreach (var block in blocks)
        {
            var type = block["type"]?.GetValue<string>() ?? block.Select(p => p.Key).FirstOrDefault(BlockTypes.ContainsKey)
                ?? throw new NotionError(400, "validation_error", "block without a known type");
            if (!BlockTypes.ContainsKey(type) || block[type] is not JsonObject payload) throw new NotionError(400, "validation_error", $"unknown block type {type}");
            var children = payload["children"] is JsonArray nested ? ParseUnlimited(nested.OfType<JsonObject>().ToList()) : [];
            result.Add(new BlockInput(type, NormalisePayload(type, payload, type, allowChildren: true), children));
        }
        return result;
    }
}
