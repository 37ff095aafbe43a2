using System.Text.Json;

namespace EventSync.Core.Configuration;

/// <summary>The subset of JSON path used for entity keys: $.a.b, $.items[0].id, $['odd key'].</summary>
public sealed class JsonPath
{
    private readonly object[] _steps; // string (property) or int (index)

    private JsonPath(object[] steps, string text)
    {
        _steps = steps;
        Text = text;
    }

    public string Text { get; }

    public static bool TryParse(string text, out JsonPath? path)
    {
        path = null;
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
        path = new JsonPath([.. steps], text);
        return true;
    }

    public static JsonPath Parse(string text) => TryParse(text, out var p) ? p! : throw new FormatException($"'{text}' is not a supported JSON path");

    /// <summary>The value at the path as a key string (strings unquoted, other values as raw JSON), or null if absent.</summary>
    public string? Evaluate(JsonElement root)
    {
        var current = root;
        foreach (var step in _steps)
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
