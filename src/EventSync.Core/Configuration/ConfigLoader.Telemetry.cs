namespace EventSync.Core.Configuration;

// The telemetry section and server.logFormat.
public sealed partial class ConfigLoader
{
    private TelemetryOptions BindTelemetry(MapReader? m)
    {
        var d = new TelemetryOptions();
        if (m is null) return d;
        var endpointText = m.String("otlpEndpoint");
        Uri? endpoint = null;
        if (endpointText is not null && (!Uri.TryCreate(endpointText, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https")))
        {
            Problem(m.NodeOf("otlpEndpoint"), m.Path + ".otlpEndpoint", $"'{endpointText}' is not an absolute http(s) URL", "write the collector's base URL, e.g. http://127.0.0.1:4318 (http/protobuf) or http://127.0.0.1:4317 (grpc)");
            endpoint = null;
        }
        var protocolText = m.String("otlpProtocol");
        OtlpProtocol? protocol = protocolText switch { null => d.OtlpProtocol, "http/protobuf" => OtlpProtocol.HttpProtobuf, "grpc" => OtlpProtocol.Grpc, _ => null };
        if (protocol is null) Problem(m.NodeOf("otlpProtocol"), m.Path + ".otlpProtocol", $"unknown OTLP protocol '{protocolText}'", "write http/protobuf (port 4318) or grpc (port 4317)");
        var serviceName = m.String("serviceName") ?? d.ServiceName;
        if (serviceName.Length > 100 || serviceName.Any(char.IsControl))
            Problem(m.NodeOf("serviceName"), m.Path + ".serviceName", "the service name must be at most 100 printable characters", "write e.g. serviceName: eventsync-prod");
        m.ReportUnknownKeys();
        return new TelemetryOptions { OtlpEndpoint = endpoint, OtlpProtocol = protocol ?? d.OtlpProtocol, ServiceName = serviceName };
    }

    private LogFormat BindLogFormat(MapReader m)
    {
        var text = m.String("logFormat");
        switch (text)
        {
            case null or "text": return LogFormat.Text;
            case "json": return LogFormat.Json;
            default:
                Problem(m.NodeOf("logFormat"), m.Path + ".logFormat", $"unknown log format '{text}'", "write logFormat: text (one line per entry) or logFormat: json (one JSON object per line)");
                return LogFormat.Text;
        }
    }
}
