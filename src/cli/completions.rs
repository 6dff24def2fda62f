//! Shell completion scripts, generated from the clap definitions with
//! `clap_complete`. The wheel installs them from `wheel/data/share/…`
//! (checked against [`script`] by `tests/it/completions.rs`;
//! `SK_UPDATE_COMPLETIONS=1 cargo test --test it completions` rewrites them).
//!
//! clap_complete (through 4.6.12) spells a hyphenated binary's subcommand
//! states two ways in bash: the loop that walks the words sets
//! `cmd=sk__migrate__subcmd__run`, the `case` arms read
//! `sk__subcmd__migrate__subcmd__run`, so nothing completes below a
//! subcommand (clap-rs/clap#6421). [`script`] rewrites the arms to the
//! loop's spelling; a clap_complete that fixes it leaves nothing to rewrite.

use clap_complete::Shell;

/// What `clap_complete` separates subcommand names with in bash states.
const BASH_SEP: &str = "__subcmd__";

/// The completion script of `cmd` for `shell`.
pub fn script(shell: Shell, mut cmd: clap::Command) -> Vec<u8> {
    let name = cmd.get_name().to_string();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, &name, &mut buf);
    if shell != Shell::Bash || !name.contains('-') {
        return buf;
    }
    let text = String::from_utf8_lossy(&buf);
    bash_fix_states(&text, &name).into_bytes()
}

/// Spell every `case` arm's state as the word loop does: the binary's name
/// with `-` as `__`, then each subcommand after [`BASH_SEP`].
fn bash_fix_states(text: &str, bin: &str) -> String {
    let wrong = format!("{}{BASH_SEP}", bin.replace('-', BASH_SEP));
    let right = format!("{}{BASH_SEP}", bin.replace('-', "__"));
    text.replace(&wrong, &right)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_states_are_spelled_as_the_loop_sets_them() {
        let arms =
            "        sk__subcmd__migrate__subcmd__queue__subcmd__path)\n        sk__migrate)\n";
        assert_eq!(
            bash_fix_states(arms, "sk-migrate"),
            "        sk__migrate__subcmd__queue__subcmd__path)\n        sk__migrate)\n"
        );
    }

    #[test]
    fn every_bash_state_the_loop_sets_has_an_arm() {
        let cmd = clap::Command::new("my-tool")
            .subcommand(clap::Command::new("queue-path").arg(clap::Arg::new("x").long("xx")))
            .subcommand(clap::Command::new("run"));
        let text = String::from_utf8(script(Shell::Bash, cmd)).unwrap();
        let set: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("cmd=\"")?.strip_suffix('"'))
            .filter(|s| !s.is_empty())
            .collect();
        assert!(
            set.contains(&"my__tool__subcmd__queue__subcmd__path"),
            "{set:?}"
        );
        for state in set {
            assert!(
                text.lines().any(|l| l.trim() == format!("{state})")),
                "no case arm for {state}"
            );
        }
    }
}
