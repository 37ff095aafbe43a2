namespace EventSync.Connectors.Notion.Markdown;

/// <summary>Maps fence info strings to Notion's fixed <c>code.language</c> enum and back.</summary>
internal static class CodeLanguages
{
    public const string PlainText = "plain text";

    /// <summary>Notion language -> the fence name written to markdown (its canonical form).</summary>
    private static readonly Dictionary<string, string> FenceNames = new(StringComparer.Ordinal)
    {
        ["abap"] = "abap", ["agda"] = "agda", ["arduino"] = "arduino", ["ascii art"] = "ascii-art",
        ["assembly"] = "assembly", ["bash"] = "bash", ["basic"] = "basic", ["bnf"] = "bnf", ["c"] = "c",
        ["c#"] = "csharp", ["c++"] = "cpp", ["clojure"] = "clojure", ["coffeescript"] = "coffeescript",
        ["coq"] = "coq", ["css"] = "css", ["dart"] = "dart", ["dhall"] = "dhall", ["diff"] = "diff",
        ["docker"] = "dockerfile", ["ebnf"] = "ebnf", ["elixir"] = "elixir", ["elm"] = "elm", ["erlang"] = "erlang",
        ["f#"] = "fsharp", ["flow"] = "flow", ["fortran"] = "fortran", ["gherkin"] = "gherkin", ["glsl"] = "glsl",
        ["go"] = "go", ["graphql"] = "graphql", ["groovy"] = "groovy", ["haskell"] = "haskell", ["hcl"] = "hcl",
        ["html"] = "html", ["idris"] = "idris", ["java"] = "java", ["javascript"] = "javascript", ["json"] = "json",
        ["julia"] = "julia", ["kotlin"] = "kotlin", ["latex"] = "latex", ["less"] = "less", ["lisp"] = "lisp",
        ["livescript"] = "livescript", ["llvm ir"] = "llvm", ["lua"] = "lua", ["makefile"] = "makefile",
        ["markdown"] = "markdown", ["markup"] = "markup", ["matlab"] = "matlab", ["mathematica"] = "mathematica",
        ["mermaid"] = "mermaid", ["nix"] = "nix", ["notion formula"] = "notion-formula",
        ["objective-c"] = "objectivec", ["ocaml"] = "ocaml", ["pascal"] = "pascal", ["perl"] = "perl",
        ["php"] = "php", [PlainText] = "", ["powershell"] = "powershell", ["prolog"] = "prolog",
        ["protobuf"] = "protobuf", ["purescript"] = "purescript", ["python"] = "python", ["r"] = "r",
        ["racket"] = "racket", ["reason"] = "reason", ["ruby"] = "ruby", ["rust"] = "rust", ["sass"] = "sass",
        ["scala"] = "scala", ["scheme"] = "scheme", ["scss"] = "scss", ["shell"] = "shell",
        ["smalltalk"] = "smalltalk", ["solidity"] = "solidity", ["sql"] = "sql", ["swift"] = "swift",
        ["toml"] = "toml", ["typescript"] = "typescript", ["vb.net"] = "vbnet", ["verilog"] = "verilog",
        ["vhdl"] = "vhdl", ["visual basic"] = "vb", ["webassembly"] = "wasm", ["xml"] = "xml", ["yaml"] = "yaml",
        ["java/c/c++/c#"] = "java-c-cpp-csharp",
    };

    /// <summary>Other common fence names for a Notion language; they canonicalize to the fence name above.</summary>
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["c#"] = "c#", ["cs"] = "c#", ["js"] = "javascript", ["jsx"] = "javascript", ["node"] = "javascript",
        ["ts"] = "typescript", ["tsx"] = "typescript", ["sh"] = "bash", ["zsh"] = "shell", ["console"] = "shell",
        ["yml"] = "yaml", ["py"] = "python", ["python3"] = "python", ["golang"] = "go", ["rs"] = "rust",
        ["md"] = "markdown", ["text"] = PlainText, ["txt"] = PlainText, ["plaintext"] = PlainText,
        ["plain"] = PlainText, ["c++"] = "c++", ["f#"] = "f#", ["kt"] = "kotlin", ["rb"] = "ruby",
        ["ps1"] = "powershell", ["pwsh"] = "powershell", ["proto"] = "protobuf", ["tf"] = "hcl",
        ["postgresql"] = "sql", ["psql"] = "sql", ["tex"] = "latex", ["objc"] = "objective-c", ["svg"] = "xml",
        ["htm"] = "html", ["jsonc"] = "json", ["docker"] = "docker", ["make"] = "makefile", ["wat"] = "webassembly",
    };

    private static readonly Dictionary<string, string> ByFenceName =
        FenceNames.Where(p => p.Value.Length > 0).ToDictionary(p => p.Value, p => p.Key, StringComparer.OrdinalIgnoreCase);

    /// <summary>The Notion language for a fence name, or null when Notion has none.</summary>
    public static string? ToNotion(string fenceName)
    {
        if (fenceName.Length == 0) return PlainText;
        if (ByFenceName.TryGetValue(fenceName, out var language)) return language;
        return Aliases.TryGetValue(fenceName, out language) ? language : null;
    }

    /// <summary>The canonical fence name of a Notion language, or null for a language this table does not know.</summary>
    public static string? ToFenceName(string language) => FenceNames.TryGetValue(language, out var name) ? name : null;
}
