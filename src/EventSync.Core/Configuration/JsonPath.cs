using System.Text.Json;

namespace EventSync.Core.Configuration;

/// <summary>
/// The subset of JSON path used for entity keys: $.a.b, $.items[0].id, $['odd key'], and alternatives
/// "$.record.id | $.old_record.id" (the first present wins; a Supabase DELETE has only old_record).
/// </summary>
public sealed class JsonPath
{
    private readonly object[][] _alternatives; // each: string (property) or int (index) steps

    private JsonPath(object[][] alternatives, string text)
    {
        _alternatives = alternatives;
        Text = text;
    }

    public string Text { get; }

    public static bool TryParse(string text, out JsonPath? path)
    {
        path = null;
        var alternatives = new List<object[]>();
        foreach (var part in text.Split('|', StringSplitOptions.TrimEntries))
        {
            if (!TryParseSteps(part, out var steps)) return false;
            alternatives.Add(steps);
        }
        path = new JsonPath([.. alternatives], text);
        return true;
    }

    private static bool TryParseSteps(string text, out object[] result)
    {
        result = [];
        if (!text.StartsWith('$')) return false;
        var steps = new List<object>();
        var i = 1;
        while (i < text.Length)
        {
            if (text[i] == '.')
            {
                var start = ++i;
                while (i < text.Length && text[i] is not ('.' or '[')) i++;
                if (i == start) return false;
                steps.Add(text[start..i]);
            }
            else if (text[i] == '[')
            {
                var close = text.IndexOf(']', i);
                if (close < 0) return false;
                var inner = text[(i + 1)..close].Trim();
                if (inner.Length >= 2 && inner[0] is '\'' or '"' && inner[^1] == inner[0]) steps.Add(inner[1..^1]);
                else if (int.TryParse(inner, out var index) && index >= 0) steps.Add(index);
                else return false;
                i = close + 1;
            }
            else return false;
        }
        result = [.. steps];
        return true;
    }

    public static JsonPath Parse(string text) => TryParse(text, out var p) ? p! : throw new FormatException($"'{text}' is not a supported JSON path");

    /// <summary>The value at the path as a key string (strings unquoted, other values as raw JSON), or null if absent.</summary>
    public string? Evaluate(JsonElement root)
    {
        foreach (var steps in _alternatives)
            if (Evaluate(root, steps) is { } value) return value;
        return null;
    }

    private static string? Evaluate(JsonElement root, object[] steps)
    {
        var current = root;
        foreach (var step in steps)
        {
            if (step is string name)
            {
                if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(name, out current)) return null;
            }
            else
            {
                var index = (int)step;
                if (current.ValueKind != JsonValueKind.Array || index >= current.GetArrayLength()) return null;
                current = current[index];
            }
        }
        return current.ValueKind switch
        {
            JsonValueKind.String => current.GetString(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => current.GetRawText(),
        };
    }
}
