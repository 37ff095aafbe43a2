using System.Globalization;

namespace EventSync.Cli.Demo;

/// <summary>
/// The demo's narration: plain lines that read the same in a terminal and in a CI log; colour only on a terminal
/// (and never with NO_COLOR). Step lines have a fixed shape (<c>[n/N] title</c>, then <c>ok in</c>,
/// <c>FAILED in</c> or <c>skipped:</c>) so scripts and tests can follow them.
/// </summary>
internal sealed class DemoOutput(TextWriter writer, bool color)
{
    private const string Indent = "      ";

    public static bool UseColor(TextWriter writer) =>
        ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;

    public void Title(string text) => Line(Paint(text, "1"));

    public void Setup(string what, string detail) => Line($"  {Paint(what.PadRight(18), "36")} {detail}");

    public void Note(string text) => Line("  " + text);

    public void Blank() => Line("");

    public void StepStart(int number, int total, string title) =>
        Line(Paint($"[{number.ToString(CultureInfo.InvariantCulture)}/{total.ToString(CultureInfo.InvariantCulture)}] {title}", "1"));

    /// <summary>Something the step just observed: what happened and where to look.</summary>
    public void Progress(string text) => Line($"{Indent}· {text}");

    public void StepOk(TimeSpan took, string? lookAt) =>
        Line($"{Indent}{Paint("ok", "32")} in {Seconds(took)}{(lookAt is null ? "" : " — look at " + lookAt)}");

    public void StepFailed(TimeSpan took, string reason) => Line($"{Indent}{Paint("FAILED", "31")} in {Seconds(took)}: {reason}");

    public void StepSkipped(string reason) => Line($"{Indent}{Paint("skipped", "33")}: {reason}");

    public void Problem(string text) => Line(Paint("  " + text, "31"));

    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    private string Paint(string text, string code) => color ? $"\u001b[{code}m{text}\u001b[0m" : text;

    private void Line(string text)
    {
        // One writer shared with nothing else; the lock keeps lines whole if a progress callback ever races.
        lock (writer)
        {
            writer.WriteLine(text);
            writer.Flush();
        }
    }
}
