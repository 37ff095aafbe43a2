using System.Net;
using System.Net.Sockets;
using EventSync.Cli;

namespace EventSync.Tests.Demo;

/// <summary>Bad input to `eventsync demo` is refused up front, with the fix in the message and nothing started.</summary>
public sealed class DemoUsageTests
{
    [Fact]
    public async Task A_port_out_of_range_is_a_usage_error()
    {
        var (exit, _, stderr) = await RunAsync("demo", "--port", "70000");
        Assert.Equal(CliApp.Usage, exit);
        Assert.Contains("--port 70000 is not a port", stderr, StringComparison.Ordinal);
        Assert.Contains("0 for a free one", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_taken_port_fails_before_anything_starts_and_says_how_to_pick_another()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var (exit, stdout, stderr) = await RunAsync("demo", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--exit-when-done", "--no-postgres");

        Assert.Equal(CliApp.Failure, exit);
        Assert.Contains($"port {port} on 127.0.0.1 is in use", stderr, StringComparison.Ordinal);
        Assert.Contains("--port 0", stderr, StringComparison.Ordinal);
        // Refused before the working directory (or any emulator) exists.
        Assert.DoesNotContain("working directory", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("[1/6]", stdout, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
