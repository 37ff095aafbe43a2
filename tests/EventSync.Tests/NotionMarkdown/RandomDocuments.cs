using System.Globalization;
using System.Text;

namespace EventSync.Tests.NotionMarkdown;

/// <summary>
/// Random markdown documents from the grammar the converter supports, salted with constructs it keeps verbatim
/// (HTML, h4-h6, footnotes, reference links, titled links) and with text full of markdown punctuation.
/// </summary>
internal sealed class RandomDocuments(int seed)
{
    private readonly Random random = new(seed);

    private static readonly string[] Words =
    [
        "sync", "event", "Notion", "GitHub", "page", "block", "retry", "queue", "the", "a", "of", "to", "and",
        "webhook", "snake_case", "e.g.", "v1.2.3", "C#", "x*y", "a_b_", "_lead", "2*3", "#tag", "50%", "R&D",
        "&amp;", "&#42;", "<div>", "a<b", "[x]", "(y)", "`tick`", "~tilde~", "pipe|bar", "back\\slash", "!bang",
        "日本語", "中文", "한국어", "émigré", "naïve", "🚀", "👍🏽", "—", "…", "\"quoted\"", "'single'", "2024.",
        "1)", "-dash", "+plus", "=eq", ">gt", "**", "__", "~~", "---", "***", "http://x.test", "<https://y.test>",
        ":smile:", "$x$", "{braces}", "@user", "100", "-", "*", "\\", "&", "<", "|", "\t",
    ];

    private static readonly string[] Languages =
        ["", "csharp", "cs", "js", "typescript", "bash", "sh", "yaml", "json", "python", "sql", "go", "rust", "java",
         "html", "css", "markdown", "text", "terraform", "python title=\"a.py\"", "c++", "Dockerfile", "mermaid", "ini"];

    public string Next()
    {
        var blocks = new List<string>();
        var count = random.Next(1, 16);
        for (var i = 0; i < count; i++) blocks.Add(Block(0));
        var separator = random.Next(4) == 0 ? "\n" : "\n\n";
        return string.Join(separator, blocks) + (random.Next(5) == 0 ? "" : "\n");
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private string Block(int depth)
    {
        switch (random.Next(depth > 0 ? 14 : 24))
        {
            case 0 or 1 or 2 or 3: return Inline(random.Next(1, 20), allowBreaks: true);
            case 4: return new string('#', random.Next(1, 4)) + " " + Inline(random.Next(1, 6), allowBreaks: false);
            case 5: return List(depth, random.Next(3));
            case 6: return List(depth, random.Next(3));
            case 7: return Code(depth);
            case 8: return Quote(depth);
            case 9: return Table();
            case 10: return "---";
            case 11: return $"![{Inline(random.Next(0, 3), allowBreaks: false)}](https://img.test/{random.Next(100)}.png)";
            case 12: return Alert(depth);
            case 13: return new string('#', random.Next(4, 7)) + " " + Inline(random.Next(1, 5), allowBreaks: false);
            case 14: return $"<div class=\"note\">\n  <b>{Word()}</b>\n</div>";
            case 15: return $"[^{random.Next(1, 4)}]: {Inline(random.Next(1, 8), allowBreaks: false)}";
            case 16: return $"[ref{random.Next(3)}]: https://ref.test/{random.Next(9)} \"Title\"";
            case 17: return "    indented code\n    " + Word();
            case 18: return Inline(random.Next(1, 5), allowBreaks: false) + "\n" + (random.Next(2) == 0 ? "===" : "---");
            case 19: return LongParagraph();
            case 20: return string.Join(" ", Enumerable.Range(0, random.Next(60, 130)).Select(i => i % 2 == 0 ? $"**{Word()}**" : Word()));
            case 21: return "<!-- " + Word() + " -->";
            case 22: return "> " + Inline(random.Next(1, 6), allowBreaks: false) + "\n" + Inline(random.Next(1, 4), allowBreaks: false);
            default: return "- " + Inline(3, false) + "\n\n  " + Inline(3, false);
        }
    }

    private string Word()
    {
        var word = Pick(Words);
        return random.Next(8) == 0 ? word + word : word;
    }

    private string Inline(int words, bool allowBreaks)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < words; i++)
        {
            if (i > 0) builder.Append(allowBreaks && random.Next(12) == 0 ? Pick(["\n", "  \n", "\\\n"]) : " ");
            builder.Append(random.Next(10) switch
            {
                0 => $"**{Word()} {Word()}**",
                1 => $"*{Word()}*",
                2 => $"~~{Word()}~~",
                3 => $"`{Word()}`",
                4 => $"[{Word()}](https://link.test/{random.Next(50)})",
                5 => Pick([$"<kbd>{Word()}</kbd>", $"[^{random.Next(1, 4)}]", $"[{Word()}][ref{random.Next(3)}]",
                           $"[t](https://t.test \"title\")", $"**{Word()} *{Word()}***", $"_{Word()}_", $"__{Word()}__",
                           "<https://auto.test/x>", $"![i](https://img.test/i.png)", "***both***", "`` a ` b ``"]),
                _ => Word(),
            });
        }
        return builder.ToString();
    }

    private string List(int depth, int kind)
    {
        var lines = new List<string>();
        var items = random.Next(1, 5);
        for (var i = 0; i < items; i++)
        {
            var marker = kind switch
            {
                0 => "- ",
                1 => (i + 1).ToString(CultureInfo.InvariantCulture) + ". ",
                _ => random.Next(2) == 0 ? "- [ ] " : "- [x] ",
            };
            lines.Add(marker + Inline(random.Next(1, 6), allowBreaks: false));
            if (depth < 3 && random.Next(4) == 0)
            {
                var indent = new string(' ', kind == 1 ? marker.Length : 2);
                var child = random.Next(3) == 0 ? Block(depth + 1) : List(depth + 1, random.Next(3));
                var gap = child.StartsWith('-') || char.IsDigit(child[0]) ? "\n" : "\n\n";
                lines[^1] += gap + string.Join('\n', child.Split('\n').Select(l => l.Length == 0 ? l : indent + l));
            }
        }
        return string.Join('\n', lines);
    }

    private string Code(int depth)
    {
        var body = string.Join('\n', Enumerable.Range(0, random.Next(0, 5)).Select(_ => random.Next(6) == 0 ? "```" : Word() + " = " + Word()));
        var fence = body.Contains("```", StringComparison.Ordinal) ? "````" : "```";
        _ = depth;
        return fence + Pick(Languages) + "\n" + body + (body.Length > 0 ? "\n" : "") + fence;
    }

    private string Quote(int depth)
    {
        var inner = depth < 2 && random.Next(3) == 0 ? Inline(3, false) + "\n\n" + Block(depth + 1) : Inline(random.Next(1, 8), allowBreaks: true);
        return string.Join('\n', inner.Split('\n').Select(l => l.Length == 0 ? ">" : "> " + l));
    }

    private string Alert(int depth)
    {
        var kind = Pick(["NOTE", "TIP", "IMPORTANT", "WARNING", "CAUTION"]);
        return $"> [!{kind}]\n" + Quote(depth + 1);
    }

    private string Table()
    {
        var columns = random.Next(1, 5);
        var rows = new List<string>
        {
            "| " + string.Join(" | ", Enumerable.Range(0, columns).Select(_ => Inline(random.Next(0, 3), false).Replace("|", "\\|", StringComparison.Ordinal))) + " |",
            "|" + string.Concat(Enumerable.Repeat(Pick([" --- |", ":---|", " :-: |", "---:|"]), columns)),
        };
        for (var r = random.Next(0, 4); r > 0; r--)
        {
            var cells = random.Next(Math.Max(1, columns - 1), columns + 2);
            rows.Add("| " + string.Join(" | ", Enumerable.Range(0, cells).Select(_ => Inline(random.Next(0, 3), false).Replace("|", "\\|", StringComparison.Ordinal))) + " |");
        }
        return string.Join('\n', rows);
    }

    private string LongParagraph()
    {
        var builder = new StringBuilder();
        while (builder.Length < 2100 + random.Next(3000)) builder.Append(Word()).Append(random.Next(30) == 0 ? "🎉 " : " ");
        return builder.ToString().TrimEnd();
    }
}
