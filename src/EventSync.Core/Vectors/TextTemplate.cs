using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace EventSync.Core.Vectors;

/// <summary>
/// The text embedded for a row: literal text with <c>{{column}}</c> and <c>{{jsonb_column.path.to.value}}</c>
/// placeholders, filled from the row as JSON. Missing values render empty; arrays join with ", ".
/// </summary>
public sealed partial class TextTemplate
{
    private readonly string _source;
    private readonly List<(string Literal, string[]? Path)> _parts = [];

    private TextTemplate(string source)
    {
        _source = source;
        var last = 0;
        foreach (Match m in Placeholder().Matches(source))
        {
            _parts.Add((source[last..m.Index], null));
            _parts.Add(("", m.Groups[1].Value.Split('.')));
            last = m.Index + m.Length;
        }
        _parts.Add((source[last..], null));
    }

    /// <summary>Top-level columns the template reads: a change to any other column cannot change the text.</summary>
    public IReadOnlyList<string> Columns => _parts.Where(p => p.Path is not null).Select(p => p.Path![0]).Distinct(StringComparer.Ordinal).ToList();

    public override string ToString() => _source;

    public static bool TryParse(string source, out TextTemplate? template, out string error)
    {
        template = null;
        error = "";
        var open = source.Split("{{").Length - 1;
        var matched = Placeholder().Count(source);
        if (matched == 0)
        {
            error = "the template has no {{column}} placeholder";
            return false;
        }
        if (open != matched)
        {
            error = "a placeholder is malformed; write {{column}} or {{column.json.path}} with letters, digits and _";
            return false;
        }
        template = new TextTemplate(source);
        return true;
    }

    public string Render(JsonElement row)
    {
        var text = new StringBuilder();
        foreach (var (literal, path) in _parts)
        {
            text.Append(literal);
            if (path is null) continue;
            var value = row;
            var found = true;
            foreach (var segment in path)
            {
                if (value.ValueKind == JsonValueKind.String && value.GetString() is { } nested && LooksLikeJson(nested))
                {
                    // A json column stored as text still reads like jsonb.
                    using var doc = JsonDocument.Parse(nested);
                    value = doc.RootElement.Clone();
                }
                if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(segment, out value))
                {
                    found = false;
                    break;
                }
            }
            if (found) Append(text, value);
        }
        return text.ToString().Trim();
    }

    private static bool LooksLikeJson(string s)
    {
        var t = s.TrimStart();
        return t.StartsWith('{') && s.TrimEnd().EndsWith('}');
    }

    private static void Append(StringBuilder text, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String: text.Append(value.GetString()); break;
            case JsonValueKind.Number: text.Append(value.GetRawText()); break;
            case JsonValueKind.True: text.Append("true"); break;
            case JsonValueKind.False: text.Append("false"); break;
            case JsonValueKind.Array:
                var first = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!first) text.Append(", ");
                    Append(text, item);
                    first = false;
                }
                break;
            case JsonValueKind.Object:
                var firstProperty = true;
                foreach (var p in value.EnumerateObject())
                {
                    if (!firstProperty) text.Append("; ");
                    text.Append(p.Name.Replace('_', ' ')).Append(": ");
                    Append(text, p.Value);
                    firstProperty = false;
                }
                break;
            default: break; // null renders empty
        }
    }

    [GeneratedRegex(@"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")]
    private static partial Regex Placeholder();
}
