using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;

namespace EventSync.Cli.Demo;

/// <summary>
/// `eventsync demo`: the whole product on one machine with one command. Starts the emulators, a throwaway PostgreSQL
/// (when installed) and the server, plays <see cref="DemoStory"/>, then keeps the dashboard up until Ctrl+C
/// (or exits with <c>--exit-when-done</c>). Everything lives in one temporary directory that is removed on exit.
/// </summary>
internal static class DemoCommand
{
    public static void Add(RootCommand root, TextWriter stdout, TextWriter stderr)
    {
        var port = new Option<int>("--port") { Description = "Port of the EventSync server and dashboard on 127.0.0.1 (0 picks a free one)", DefaultValueFactory = _ => 5080 };
        var exitWhenDone = new Option<bool>("--exit-when-done") { Description = "Play the story and exit: 0 if every step succeeded, 1 otherwise (for CI)" };
        var noPostgres = new Option<bool>("--no-postgres") { Description = "Do not start a throwaway PostgreSQL; the vector step is skipped" };
        var demo = new Command("demo", "Run everything locally (emulated GitHub, Notion and website, a throwaway PostgreSQL, the server), play every flow, and keep the dashboard up until Ctrl+C");
        foreach (var o in new Option[] { port, exitWhenDone, noPostgres }) demo.Options.Add(o);
        demo.SetAction((pr, ct) => CliApp.Guard(stderr, async () =>
        {
            var p = pr.GetValue(port);
            if (p is < 0 or > 65535)
            {
                await stderr.WriteLineAsync($"error: --port {p.ToString(CultureInfo.InvariantCulture)} is not a port; give 1 to 65535, or 0 for a free one");
                return CliApp.Usage;
            }
            return await RunAsync(new DemoOptions(p, pr.GetValue(exitWhenDone), pr.GetValue(noPostgres)), stdout, TimeProvider.System, ct);
        }));
        root.Subcommands.Add(demo);
    }

    public static async Task<int> RunAsync(DemoOptions options, TextWriter stdout, TimeProvider time, CancellationToken cancellationToken)
    {
        // Ctrl+C and SIGTERM end the demo through this token. Our own registration, because the hosts the demo starts
        // register for the same signals; CancelAsync keeps the cleanup off the signal-handling thread.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            _ = stop.CancelAsync();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        var ct = stop.Token;
        var output = new DemoOutput(stdout, DemoOutput.UseColor(stdout));
        // On Ctrl+C the command line host gives an action only a moment before the process exits; this holds the exit
        // until the cleanup below has stopped PostgreSQL and removed the directory.
        using var exitGuard = new ExitGuard(TimeSpan.FromSeconds(60));
        var started = time.GetTimestamp();
        output.Title("EventSync demo: GitHub ↔ Notion ↔ website, database rows → search, and a failure replayed");
        DemoWorld? world = null;
        try
        {
            world = await DemoWorld.StartAsync(options, output, time, ct);
            output.Blank();
            var outcomes = await new DemoStory(world, output, time).PlayAsync(ct);
            var ok = outcomes.Count(o => o == StepOutcome.Ok);
            var failed = outcomes.Count(o => o == StepOutcome.Failed);
            var skipped = outcomes.Count(o => o == StepOutcome.Skipped);
            output.Blank();
            output.Title($"Summary: {ok} ok, {failed} failed, {skipped} skipped in {DemoOutput.Seconds(time.GetElapsedTime(started))}");
            var exit = failed == 0 ? CliApp.Ok : CliApp.Failure;
            if (options.ExitWhenDone) return exit;

            output.Blank();
            output.Note($"Dashboard: {world.ServerUrl}");
            output.Note($"Admin API: {world.ServerUrl}api/status, api/runs, api/dead, api/conflicts{(world.AppDatabase is null ? "" : ", api/search?tenant=acme&q=solar")}");
            output.Note($"CLI, in another terminal: ./eventsync runs list -c {world.ConfigPath}");
            output.Note("Edit away: the emulators and flows keep running. Ctrl+C stops everything and removes the working directory.");
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, time, ct);
            }
            catch (OperationCanceledException)
            {
                output.Note("stopping…");
            }
            return exit;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            output.Note("interrupted; stopping…");
            return CliApp.Failure;
        }
        catch (OperationCanceledException ex)
        {
            // A setup wait ran out (e.g. the Notion handshake never reached the server).
            throw new InvalidOperationException("the demo's setup timed out: " + ex.Message, ex);
        }
        finally
        {
            if (world is not null)
            {
                await world.DisposeAsync();
                output.Note("stopped; working directory removed");
            }
            exitGuard.Complete();
        }
    }

    /// <summary>Blocks process exit (ProcessExit) until <see cref="Complete"/> or the timeout.</summary>
    private sealed class ExitGuard : IDisposable
    {
        private readonly ManualResetEventSlim _done = new();
        private readonly TimeSpan _timeout;

        public ExitGuard(TimeSpan timeout)
        {
            _timeout = timeout;
            AppDomain.CurrentDomain.ProcessExit += OnExit;
        }

        public void Complete() => _done.Set();

        private void OnExit(object? sender, EventArgs e) => _done.Wait(_timeout);

        public void Dispose()
        {
            AppDomain.CurrentDomain.ProcessExit -= OnExit;
            _done.Dispose();
        }
    }
}
