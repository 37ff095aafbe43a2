namespace EventSync.Connectors.Notion;

public sealed record NotionClientOptions
{
    // A record prints its members: keep the credential out of any log or exception that formats the options.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("ApiUrl = ").Append(ApiUrl).Append(", Token = ***");
        return true;
    }

    /// <summary>The API root; requests go to {ApiUrl}/v1/...</summary>
    public Uri ApiUrl { get; init; } = new("https://api.notion.com");
    /// <summary>Integration token, sent as <c>Authorization: Bearer</c>.</summary>
    public required string Token { get; init; }
    /// <summary>Notion-Version header: 2025-09-03 is the first with data sources, which this client is written for.</summary>
    public string Version { get; init; } = "2025-09-03";
    /// <summary>Average request rate the client paces itself to, so bursts of work do not meet 429s (Notion: 3 a second).</summary>
    public double RequestsPerSecond { get; init; } = 3;
    /// <summary>Requests the pacer lets go at once after a quiet spell; kept below Notion's burst allowance.</summary>
    public int Burst { get; init; } = 2;
    /// <summary>A 429/529 whose Retry-After is at most this is waited out and retried; a longer one throws ApiThrottledException.</summary>
    public TimeSpan MaxThrottleWait { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Retries of a 409 conflict_error (the write collided with another one; the same write is sent again).</summary>
    public int ConflictRetries { get; init; } = 3;
    /// <summary>Retries of a 500/502/503/504 on GET, DELETE and queries; writes are never retried (they may have been saved).</summary>
    public int ServerErrorRetries { get; init; } = 3;
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
