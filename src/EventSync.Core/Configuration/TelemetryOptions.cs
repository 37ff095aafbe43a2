namespace EventSync.Core.Configuration;

/// <summary>OpenTelemetry export. Traces and metrics are exported only when an OTLP endpoint is configured.</summary>
public sealed class TelemetryOptions
{
    public const string DefaultServiceName = "eventsync";

    /// <summary>The collector's base URL (e.g. http://127.0.0.1:4318); null means no export (OTEL_EXPORTER_OTLP_ENDPOINT still applies).</summary>
    public Uri? OtlpEndpoint { get; init; }

    public OtlpProtocol OtlpProtocol { get; init; } = OtlpProtocol.HttpProtobuf;

    public string ServiceName { get; init; } = DefaultServiceName;
}

public enum OtlpProtocol { HttpProtobuf, Grpc }

public enum LogFormat { Text, Json }
