using System.CommandLine;

namespace EventSync.Cli;

/// <summary>
/// `eventsync completion bash|zsh|pwsh`: prints a script that wires the shell's tab completion to the CLI's own
/// `[suggest:POSITION] "partial command line"` directive (System.CommandLine), so completions always match the
/// commands and options of the installed version with nothing to regenerate.
/// </summary>
internal static class CompletionCommand
{
    public static readonly IReadOnlyList<string> Shells = ["bash", "zsh", "pwsh"];

    public static void Add(RootCommand root, TextWriter stdout)
    {
        var shell = new Argument<string>("shell") { Description = "bash, zsh or pwsh" };
        shell.AcceptOnlyFromAmong([.. Shells]);
        var command = new Command("completion", "Print a shell completion script (bash, zsh, pwsh); see README for where to put it");
        command.Arguments.Add(shell);
        command.SetAction(pr =>
        {
            stdout.Write(Script(pr.GetValue(shell)!));
            return CliApp.Ok;
        });
        root.Subcommands.Add(command);
    }

    /// <summary>
    /// The script for <paramref name="shell"/>. Each passes the line up to the cursor, without the program name, to
    /// the program the user actually typed (eventsync, ./eventsync or a full path), so position = that text's length.
    /// </summary>
    public static string Script(string shell) => shell switch
    {
        "bash" => """
            # eventsync completion for bash. Load it with:  source <(eventsync completion bash)
            # or install it:  eventsync completion bash > /etc/bash_completion.d/eventsync
            _eventsync_complete() {
                local line="${COMP_LINE:0:COMP_POINT}"
                local rest=""
                [[ "$line" == *[[:space:]]* ]] && rest="${line#*[[:space:]]}"
                local IFS=$'\n'
                local candidates
                candidates="$("${COMP_WORDS[0]}" "[suggest:${#rest}]" "$rest" 2>/dev/null)" || return 0
                COMPREPLY=($(compgen -W "$candidates" -- "${COMP_WORDS[COMP_CWORD]}"))
            }
            complete -o default -F _eventsync_complete eventsync ./eventsync

            """,
        "zsh" => """
            #compdef eventsync
            # eventsync completion for zsh. Load it with:  source <(eventsync completion zsh)
            # or save it as _eventsync in a directory of $fpath (before compinit runs).
            _eventsync() {
                local rest="${(j: :)words[2,CURRENT]}"
                local -a candidates
                candidates=("${(@f)$(${words[1]} "[suggest:${#rest}]" "$rest" 2>/dev/null)}")
                compadd -- ${candidates:#}
            }
            if (( $+functions[compdef] )); then compdef _eventsync eventsync ./eventsync; fi

            """,
        "pwsh" => """
            # eventsync completion for PowerShell. Load it with:  eventsync completion pwsh | Out-String | Invoke-Expression
            # or add that line to $PROFILE.
            Register-ArgumentCompleter -Native -CommandName eventsync, ./eventsync -ScriptBlock {
                param($wordToComplete, $commandAst, $cursorPosition)
                $program = $commandAst.CommandElements[0].Extent.Text
                $line = $commandAst.Extent.Text
                $upToCursor = $line.Substring(0, [Math]::Min($cursorPosition - $commandAst.Extent.StartOffset, $line.Length))
                if ($cursorPosition - $commandAst.Extent.StartOffset -gt $line.Length) { $upToCursor += ' ' }
                $rest = $upToCursor.Substring([Math]::Min($program.Length, $upToCursor.Length)).TrimStart()
                & $program "[suggest:$($rest.Length)]" "$rest" 2>$null | ForEach-Object {
                    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
                }
            }

            """,
        _ => throw new ArgumentException($"no completion script for '{shell}'; use one of: {string.Join(", ", Shells)}"),
    };
}
