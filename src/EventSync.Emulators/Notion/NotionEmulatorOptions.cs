namespace EventSync.Emulators.Notion;

public sealed record NotionEmulatorOptions
{
    /// <summary>Every request must carry <c>Authorization: Bearer {Token}</c>, else 401 unauthorized.</summary>
    public string Token { get; init; } = "ntn_emulator_token";
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    /// <summary>Clock of page timestamps, the rate limit and webhook timestamps.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>Average requests a second let through (Notion documents 3); the token bucket refills at this rate.</summary>
    public double RequestsPerSecond { get; init; } = 3;
    /// <summary>Requests that may arrive at once before the average applies (Notion allows "short bursts").</summary>
    public int Burst { get; init; } = 10;
    /// <summary>The integration: its id appears in webhook envelopes and, as the bot user, in last_edited_by of API writes.</summary>
    public string IntegrationId { get; init; } = "0b4cd5c5-5d26-4c41-9b86-1e7e1b1b2a01";
    public string BotUserId { get; init; } = "1c9b7e2a-0d3f-4f55-8a1e-6c1d2f3a4b02";
    /// <summary>The person behind the *AsUser helpers (someone editing in the Notion UI).</summary>
    public string PersonUserId { get; init; } = "2d8a6f1b-1e4e-4a66-9b2f-7d2e3a4b5c03";
    public string WorkspaceId { get; init; } = "3e7b5a0c-2f5f-4b77-8c3a-8e3f4b5c6d04";
    /// <summary>Webhook delivery attempts before an event is given up (Notion: up to 8 over about a day; compressed here).</summary>
    public int WebhookMaxAttempts { get; init; } = 3;
    /// <summary>Pause before the second delivery attempt; doubles for each later one.</summary>
    public TimeSpan WebhookRetryDelay { get; init; } = TimeSpan.FromMilliseconds(100);
}
