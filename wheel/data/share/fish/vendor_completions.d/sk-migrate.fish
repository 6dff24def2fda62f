# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sk_migrate_global_optspecs
    string join \n home= json color= release= spec-kitty= busy-timeout= h/help V/version
end

function __fish_sk_migrate_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sk_migrate_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sk_migrate_using_subcommand
    set -l cmd (__fish_sk_migrate_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -l busy-timeout -d 'How long to wait for a DB another process holds locked' -r
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -s V -l version -d 'Print version'
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -f -a "run" -d 'Move every legacy row into the scoped queue DB, by natural key'
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -f -a "status" -d 'Schema version of each DB, pending migrations, rows waiting'
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -f -a "queue-path" -d 'Print the queue DB a writer must use (moving legacy rows first), for scripts'
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -f -a "completions" -d 'Print shell completions (the wheel installs them; see README)'
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -f -a "man" -d 'Print a man page as roff: `sk-migrate man | man -l -`'
complete -c sk-migrate -n "__fish_sk_migrate_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -l scope -d 'Scope to move into: <server>|<user>|<team> (default: the logged-in user\'s)' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -l backup -d 'Copy both DBs into DIR (mode 0600) before changing them' -r -f -a "(__fish_complete_directories)"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -l trust-venv -d 'As root, run the spec-kitty release under DIR though another user can change it (repeatable; * for any)' -r -f -a "(__fish_complete_directories)"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -l busy-timeout -d 'How long to wait for a DB another process holds locked' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -l dry-run -d 'Report what would move; write nothing'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -s v -l verbose -d 'Print an audit line (table + natural key) per migrated row on stderr'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand status" -l scope -d 'Scope to look at (default: the logged-in user\'s)' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand status" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand status" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand status" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand status" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand status" -l busy-timeout -d 'How long to wait for a DB another process holds locked' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand status" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand queue-path" -l scope -d 'Scope (default: the logged-in user\'s)' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand queue-path" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand queue-path" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand queue-path" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand queue-path" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand queue-path" -l busy-timeout -d 'How long to wait for a DB another process holds locked' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand queue-path" -l read-only -d 'Only say which DB; move nothing'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand queue-path" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand queue-path" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand completions" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand completions" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand completions" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand completions" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand completions" -l busy-timeout -d 'How long to wait for a DB another process holds locked' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand completions" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand man" -l home -d 'spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)' -r -f -a "(__fish_complete_directories)"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand man" -l color -d 'Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never' -r -f -a "auto\t'On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR'
always\t'Always, even piped and with `NO_COLOR`'
never\t'Never'"
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand man" -l release -d 'The spec-kitty release you run (default: --spec-kitty\'s, PATH\'s, then the daemon\'s)' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand man" -l spec-kitty -d 'The spec-kitty entry point to follow (default: `spec-kitty` on PATH)' -r -F
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand man" -l busy-timeout -d 'How long to wait for a DB another process holds locked' -r
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand man" -l json -d 'Print one JSON object on stdout instead of text'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand help; and not __fish_seen_subcommand_from run status queue-path completions man help" -f -a "run" -d 'Move every legacy row into the scoped queue DB, by natural key'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand help; and not __fish_seen_subcommand_from run status queue-path completions man help" -f -a "status" -d 'Schema version of each DB, pending migrations, rows waiting'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand help; and not __fish_seen_subcommand_from run status queue-path completions man help" -f -a "queue-path" -d 'Print the queue DB a writer must use (moving legacy rows first), for scripts'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand help; and not __fish_seen_subcommand_from run status queue-path completions man help" -f -a "completions" -d 'Print shell completions (the wheel installs them; see README)'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand help; and not __fish_seen_subcommand_from run status queue-path completions man help" -f -a "man" -d 'Print a man page as roff: `sk-migrate man | man -l -`'
complete -c sk-migrate -n "__fish_sk_migrate_using_subcommand help; and not __fish_seen_subcommand_from run status queue-path completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
