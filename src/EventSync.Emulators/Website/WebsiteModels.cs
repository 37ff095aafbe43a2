namespace EventSync.Emulators.Website;

public sealed record WebsiteEmulatorOptions
{
    /// <summary>Every request must carry <c>Authorization: Bearer {ApiKey}</c>.</summary>
    public string ApiKey { get; init; } = "website-emulator-key";
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    /// <summary>Clock of updatedAt, the rate limit, idempotency expiry and webhook timestamps.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>Largest write body; above it the answer is 413.</summary>
    public int MaxBodyBytes { get; init; } = 1024 * 1024;
    /// <summary>Token bucket size (burst). 0: no rate limit.</summary>
    public int RateLimitBurst { get; init; }
    /// <summary>Tokens added per second to the bucket.</summary>
    public double RateLimitPerSecond { get; init; } = 10;
    /// <summary>How long a stored idempotent response is replayed (Stripe keeps keys 24 h).</summary>
    public TimeSpan IdempotencyWindow { get; init; } = TimeSpan.FromHours(24);
    /// <summary>Attempts per webhook delivery (same webhook-id on each, as Standard Webhooks requires).</summary>
    public int WebhookAttempts { get; init; } = 3;
    public TimeSpan WebhookRetryDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan WebhookTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>One request the emulator answered. Headers exclude Authorization, so logs never hold the key.</summary>
public sealed record WebsiteRequestRecord(
    DateTimeOffset At, string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, string? IdempotencyKey, int Status, bool Replayed);

/// <summary>A change the site announces: by the API (<see cref="WebsiteEventOrigin.Api"/>) or by a person on the site.</summary>
public sealed record WebsiteEvent(string Collection, string Resource, string Id, string Action, WebsiteEventOrigin Origin);

public enum WebsiteEventOrigin { Api, User }

/// <summary>One attempt to deliver an event to one webhook. <see cref="Status"/> is null when no answer came (<see cref="Error"/> says why).</summary>
public sealed record WebhookDelivery(Uri Url, string WebhookId, long Timestamp, string Signature, string Body, int Attempt, int? Status, string? Error)
{
    public bool Succeeded => Status is >= 200 and < 300;
}

/// <summary>Totals since start.</summary>
public sealed record WebsiteCounters(
    long Requests, long Reads, long Writes, long Replays, long Throttled, long InjectedFailures, long Unauthorised, long Events, long DeliveriesSucceeded, long DeliveriesFailed);
