namespace EventSync.Core.Configuration;

/// <summary>One thing wrong with a configuration: where, what, and how to fix it.</summary>
public sealed record ConfigProblem(string File, int Line, int Column, string Path, string Message, string Fix)
{
    public override string ToString()
    {
        var where = Line > 0 ? $"{File}:{Line}:{Column}" : File;
        var path = Path.Length > 0 ? $" {Path}:" : "";
        return $"{where}{path} {Message}. Fix: {Fix}";
    }
}

public sealed class ConfigException(IReadOnlyList<ConfigProblem> problems)
    : Exception($"The configuration has {problems.Count} problem(s):{Environment.NewLine}" + string.Join(Environment.NewLine, problems.Select(p => "  " + p)))
{
    public IReadOnlyList<ConfigProblem> Problems { get; } = problems;
}
