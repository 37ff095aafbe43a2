using System.Globalization;
using Spectre.Console;

namespace EventSync.Cli;

/// <summary>
/// Progress of a long CLI operation (replay --all, vectors reconcile/reindex). A live bar when stdout is a terminal;
/// otherwise one plain counter line every <see cref="Step"/> items and at the end, so CI logs and pipes stay readable.
/// With --json the counter lines go to stderr: stdout then carries only the JSON answer.
/// </summary>
internal static class CliProgress
{
    /// <summary>Items between two plain counter lines.</summary>
    public const int Step = 100;

    /// <summary>
    /// Runs <paramref name="work"/>, which reports the number of items done so far. <paramref name="total"/> is the
    /// expected count when known (the bar grows it if more turn up).
    /// </summary>
    public static async Task<T> RunAsync<T>(string label, string unit, long? total, bool json, TextWriter stdout, TextWriter stderr, Func<IProgress<long>, Task<T>> work, int step = Step)
    {
        if (!json && IsTerminal(stdout)) return await BarAsync(label, unit, total, work);
        var counter = new CounterLines(label, unit, total, json ? stderr : stdout, Math.Max(1, step));
        var result = await work(counter);
        counter.Finish();
        return result;
    }

    /// <summary>Only the process's real stdout, attached to a terminal, gets the live bar (never a test's writer or a pipe).</summary>
    private static bool IsTerminal(TextWriter stdout) => ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;

    private static Task<T> BarAsync<T>(string label, string unit, long? total, Func<IProgress<long>, Task<T>> work) =>
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(label), maxValue: Math.Max(1, total ?? 1));
                task.IsIndeterminate = total is null;
                var result = await work(new BarProgress(task, label, unit, total is null));
                task.IsIndeterminate = false;
                task.Value = task.MaxValue;
                return result;
            });

    /// <summary>Reports synchronously (unlike Progress&lt;T&gt;, which posts to the thread pool and can print after the result).</summary>
    private sealed class BarProgress(ProgressTask task, string label, string unit, bool unknownTotal) : IProgress<long>
    {
        public void Report(long done)
        {
            if (done > task.MaxValue) task.MaxValue = done;
            task.Value = done;
            if (unknownTotal) task.Description = Markup.Escape($"{label}: {done.ToString(CultureInfo.InvariantCulture)} {unit}");
        }
    }

    private sealed class CounterLines(string label, string unit, long? total, TextWriter output, int step) : IProgress<long>
    {
        private long _done;
        private long _printed = -1;

        public void Report(long done)
        {
            _done = done;
            if (done % step == 0) Print();
        }

        public void Finish()
        {
            if (_printed != _done) Print();
        }

        private void Print()
        {
            _printed = _done;
            var of = total is { } t ? "/" + Math.Max(t, _done).ToString(CultureInfo.InvariantCulture) : "";
            output.WriteLine($"{label}: {_done.ToString(CultureInfo.InvariantCulture)}{of} {unit}");
        }
    }
}

/// <summary>An IProgress that calls back on the reporting thread, in order (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class Reporter<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
