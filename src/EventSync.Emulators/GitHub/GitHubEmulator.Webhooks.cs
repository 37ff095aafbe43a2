using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using EventSync.Core.Signatures;

namespace EventSync.Emulators.GitHub;

public sealed partial class GitHubEmulator
{
    private readonly HttpClient _webhookClient;
    private readonly Channel<OutgoingDelivery> _outbox = Channel.CreateUnbounded<OutgoingDelivery>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<GitHubWebhookDelivery> _deliveries = [];
    private readonly CancellationTokenSource _stopping = new();
    private Task _webhookLoop = Task.CompletedTask;
    private int _undelivered;
    private TaskCompletionSource _idle = CompletedIdle();
    private long _nextHookId = 400_000_000;

    private sealed record Webhook(long Id, Uri Url, string Secret, IReadOnlyList<string> Events);

    private sealed record OutgoingDelivery(Webhook Hook, long RepositoryId, string Event, string DeliveryId, byte[] Body);

    /// <summary>Every webhook POST made so far, in order, with the receiver's status.</summary>
    public IReadOnlyList<GitHubWebhookDelivery> Deliveries
    {
        get { lock (_gate) return _deliveries.ToList(); }
    }

    /// <summary>
    /// Subscribes <paramref name="url"/> to the repository's events (<c>push</c> when none are given, <c>*</c> for all),
    /// signed with <paramref name="secret"/>. Returns the hook id sent as X-GitHub-Hook-ID.
    /// </summary>
    public long AddWebhook(string repo, Uri url, string secret, params string[] events)
    {
        ArgumentNullException.ThrowIfNull(url);
        lock (_gate)
        {
            var hook = new Webhook(++_nextHookId, url, secret, events.Length == 0 ? ["push"] : events);
            Repo(repo).Hooks.Add(hook);
            return hook.Id;
        }
    }

    /// <summary>Completes when every delivery queued so far has been attempted.</summary>
    public Task WebhooksIdleAsync(CancellationToken ct = default)
    {
        Task idle;
        lock (_gate) idle = _undelivered == 0 ? Task.CompletedTask : _idle.Task;
        return idle.WaitAsync(ct);
    }

    /// <summary>Queues one event to every subscribed hook (under _gate, so deliveries keep the order of the changes).</summary>
    private void EnqueueEvent(Repository repository, string eventName, JsonObject payload)
    {
        var hooks = repository.Hooks.Where(h => h.Events.Contains(eventName) || h.Events.Contains("*")).ToList();
        if (hooks.Count == 0) return;
        var body = Encoding.UTF8.GetBytes(Json(payload));
        // X-GitHub-Delivery identifies the event: every hook gets the same GUID.
        var deliveryId = Guid.NewGuid().ToString();
        foreach (var hook in hooks)
        {
            if (_undelivered++ == 0) _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _outbox.Writer.TryWrite(new OutgoingDelivery(hook, repository.Id, eventName, deliveryId, body));
        }
    }

    private void StartWebhookLoop() => _webhookLoop = Task.Run(() => DeliverAllAsync(_stopping.Token));

    private async Task DeliverAllAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var delivery in _outbox.Reader.ReadAllAsync(ct))
            {
                var record = await SendAsync(delivery, ct);
                lock (_gate)
                {
                    _deliveries.Add(record);
                    if (--_undelivered == 0) _idle.TrySetResult();
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Disposal drops what is still queued.
        }
    }

    private async Task<GitHubWebhookDelivery> SendAsync(OutgoingDelivery delivery, CancellationToken ct)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["X-GitHub-Event"] = delivery.Event,
            ["X-GitHub-Delivery"] = delivery.DeliveryId,
            ["X-GitHub-Hook-ID"] = delivery.Hook.Id.ToString(CultureInfo.InvariantCulture),
            ["X-GitHub-Hook-Installation-Target-Type"] = "repository",
            ["X-GitHub-Hook-Installation-Target-ID"] = delivery.RepositoryId.ToString(CultureInfo.InvariantCulture),
            ["User-Agent"] = "GitHub-Hookshot/e5ab3c1",
        };
        if (!string.IsNullOrEmpty(delivery.Hook.Secret)) headers["X-Hub-Signature-256"] = HmacSha256Hex.Sign(delivery.Body, delivery.Hook.Secret);
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Hook.Url) { Content = new ByteArrayContent(delivery.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        headers["Content-Type"] = "application/json";
        int? status = null;
        string? error = null;
        try
        {
            using var response = await _webhookClient.SendAsync(request, ct);
            status = (int)response.StatusCode;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            error = "timed out after 10 s";
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Any failure is the receiver's problem: record it and go on, so later deliveries still go out.
            error = e.Message;
        }
        return new GitHubWebhookDelivery(delivery.Hook.Id, delivery.DeliveryId, delivery.Event, delivery.Hook.Url, status, error, delivery.Body, headers);
    }

    private async Task StopWebhookLoopAsync()
    {
        _outbox.Writer.TryComplete();
        await _stopping.CancelAsync();
        await _webhookLoop;
        _stopping.Dispose();
    }

    private static TaskCompletionSource CompletedIdle()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.TrySetResult();
        return done;
    }
}
