using System.Net;

namespace EventSync.Connectors.Http;

/// <summary>
/// A third-party API refused a call. <see cref="Retryable"/> says whether the same call may succeed later (5xx, 409
/// conflicts that outlived the client's own re-reads); otherwise the request itself is wrong and retrying cannot help.
/// </summary>
public class ApiException(string system, HttpStatusCode status, string code, string message, bool retryable)
    : Exception($"{system} {(int)status} {code}: {message}")
{
    public string System { get; } = system;
    public HttpStatusCode Status { get; } = status;
    /// <summary>The API's own error code (Notion's "validation_error", GitHub's message, ...).</summary>
    public string Code { get; } = code;
    public bool Retryable { get; } = retryable;
}

/// <summary>
/// The API asked us to wait (429, 529, GitHub's primary or secondary limit). Sinks turn this into a pause of the sink
/// that does not spend an attempt.
/// </summary>
public sealed class ApiThrottledException(string system, TimeSpan retryAfter, string message)
    : Exception($"{system} rate limit: {message}; retry after {retryAfter.TotalSeconds:0.#}s")
{
    public string System { get; } = system;
    public TimeSpan RetryAfter { get; } = retryAfter;
}
