# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sk_doctor_global_optspecs
    string join \n home= json color= release= spec-kitty= foreground= no-probe scope= check busy-timeout= h/help V/version
end

function __fish_sk_doctor_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sk_doctor_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sk_doctor_using_subcommand
    set -l cmd (__fish_sk_doctor_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -l foreground -d 'JSON object of foreground fields overriding discovery, field by field' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -l scope -d 'Scope to check: <server>|<user>|<team> (default: the logged-in user\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -l busy-timeout -d 'How long to wait for a queue DB another process holds locked; a DB still locked is reported as locked' -r
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -l no-probe -d 'Do not probe loopback ports 9400-9449 for daemons'
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -l check -d 'Exit 2 when any problem is found'
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -s V -l version -d 'Print version'
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -f -a "retire" -d 'Remove an orphan daemon owner record (never signals a process)'
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -f -a "preflight" -d 'Gate for SaaS-producing commands: exit 0 when sync work may proceed, else 2'
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -f -a "explain" -d 'Print the long page of a code sk-doctor reports (without CODE: every code)'
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -f -a "completions" -d 'Print shell completions (the wheel installs them; see README)'
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -f -a "man" -d 'Print a man page as roff: `sk-doctor man | man -l -`'
complete -c sk-doctor -n "__fish_sk_doctor_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l foreground -d 'JSON object of foreground fields overriding discovery, field by field' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l scope -d 'Scope to check: <server>|<user>|<team> (default: the logged-in user\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l busy-timeout -d 'How long to wait for a queue DB another process holds locked; a DB still locked is reported as locked' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l yes -d 'Do not ask for confirmation'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l dry-run -d 'Say what would be removed; remove nothing'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -l no-probe -d 'Do not probe loopback ports 9400-9449 for daemons'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand retire" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l project -d 'The checkout whose project store 3.2.6+ gates on (default: the current directory)' -r -f -a "(__fish_complete_directories)"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l foreground -d 'JSON object of foreground fields overriding discovery, field by field' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l scope -d 'Scope to check: <server>|<user>|<team> (default: the logged-in user\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l busy-timeout -d 'How long to wait for a queue DB another process holds locked; a DB still locked is reported as locked' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l require-auth -d 'Refuse when no authenticated scope resolves, even with SaaS sync off'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -l no-probe -d 'Do not probe loopback ports 9400-9449 for daemons'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand preflight" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand explain" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand explain" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand explain" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand explain" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand explain" -l foreground -d 'JSON object of foreground fields overriding discovery, field by field' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand explain" -l scope -d 'Scope to check: <server>|<user>|<team> (default: the logged-in user\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand explain" -l busy-timeout -d 'How long to wait for a queue DB another process holds locked; a DB still locked is reported as locked' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand explain" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand explain" -l no-probe -d 'Do not probe loopback ports 9400-9449 for daemons'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand completions" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand completions" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand completions" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand completions" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand completions" -l foreground -d 'JSON object of foreground fields overriding discovery, field by field' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand completions" -l scope -d 'Scope to check: <server>|<user>|<team> (default: the logged-in user\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand completions" -l busy-timeout -d 'How long to wait for a queue DB another process holds locked; a DB still locked is reported as locked' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand completions" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand completions" -l no-probe -d 'Do not probe loopback ports 9400-9449 for daemons'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand man" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand man" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand man" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand man" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand man" -l foreground -d 'JSON object of foreground fields overriding discovery, field by field' -r -F
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand man" -l scope -d 'Scope to check: <server>|<user>|<team> (default: the logged-in user\'s)' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand man" -l busy-timeout -d 'How long to wait for a queue DB another process holds locked; a DB still locked is reported as locked' -r
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand man" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand man" -l no-probe -d 'Do not probe loopback ports 9400-9449 for daemons'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand help; and not __fish_seen_subcommand_from retire preflight explain completions man help" -f -a "retire" -d 'Remove an orphan daemon owner record (never signals a process)'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand help; and not __fish_seen_subcommand_from retire preflight explain completions man help" -f -a "preflight" -d 'Gate for SaaS-producing commands: exit 0 when sync work may proceed, else 2'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand help; and not __fish_seen_subcommand_from retire preflight explain completions man help" -f -a "explain" -d 'Print the long page of a code sk-doctor reports (without CODE: every code)'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand help; and not __fish_seen_subcommand_from retire preflight explain completions man help" -f -a "completions" -d 'Print shell completions (the wheel installs them; see README)'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand help; and not __fish_seen_subcommand_from retire preflight explain completions man help" -f -a "man" -d 'Print a man page as roff: `sk-doctor man | man -l -`'
complete -c sk-doctor -n "__fish_sk_doctor_using_subcommand help; and not __fish_seen_subcommand_from retire preflight explain completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
