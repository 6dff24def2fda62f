//! Shell completion scripts, generated from the clap definitions with
//! `clap_complete`, and the files the wheel installs
//! (`wheel/data/share/…`, checked against these by `tests/completions.rs`;
//! `SK_UPDATE_COMPLETIONS=1 cargo test --test completions` rewrites them).
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

/// A completion file the wheel installs: its path under `wheel/data/share`
/// and its text.
pub struct File {
    pub path: String,
    pub text: Vec<u8>,
}

/// Every completion file of both tools, where bash-completion, zsh and fish
/// look for them under a prefix's `share/`.
pub fn files() -> Vec<File> {
    let mut files = Vec::new();
    for cmd in [super::doctor::command(), super::migrate::command()] {
        let name = cmd.get_name().to_string();
        for (shell, path) in [
            (Shell::Bash, format!("bash-completion/completions/{name}")),
            (Shell::Zsh, format!("zsh/site-functions/_{name}")),
            (
                Shell::Fish,
                format!("fish/vendor_completions.d/{name}.fish"),
            ),
        ] {
            files.push(File {
                path,
                text: script(shell, cmd.clone()),
            });
        }
    }
    files
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
        for cmd in [
            super::super::doctor::command(),
            super::super::migrate::command(),
        ] {
            let text = String::from_utf8(script(Shell::Bash, cmd)).unwrap();
            let set: Vec<&str> = text
                .lines()
                .filter_map(|l| l.trim().strip_prefix("cmd=\"")?.strip_suffix('"'))
                .collect();
            assert!(set.len() > 3, "{set:?}");
            for state in set {
                assert!(
                    text.lines().any(|l| l.trim() == format!("{state})")),
                    "no case arm for {state}"
                );
            }
        }
    }
}
