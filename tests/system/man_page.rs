//! The man page as `man` renders it: a trial of the system binary, since it
//! needs `man` on PATH (a machine without it ignores it with that reason, or
//! fails it under `SK_E2E=require`).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::{Need, Trial, machine_trial};

pub fn trials() -> Vec<Trial> {
    vec![machine_trial(
        "man_page::man_renders_the_printed_page",
        &[Need::Command("man")],
        man_renders_the_printed_page,
    )]
}

/// `man` itself renders the page the binary prints, as the README tells
/// uv-tool users to read it (where man is installed; the roff checks of
/// `tests/it/man.rs` hold everywhere).
fn man_renders_the_printed_page() {
    let page = Command::new(env!("CARGO_BIN_EXE_sk-doctor"))
        .arg("man")
        .output()
        .unwrap()
        .stdout;
    let mut child = Command::new("man")
        .args(["-l", "-"])
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C")
        .env("MAN_KEEP_FORMATTING", "")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&page).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // man may overstrike bold; compare the letters only.
    let plain: String = text
        .split('\u{8}')
        .enumerate()
        .map(|(i, s)| if i == 0 { s } else { s.get(1..).unwrap_or("") })
        .collect();
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "ENVIRONMENT",
        "EXIT STATUS",
        "SPEC_KITTY_HOME",
        "--busy-timeout MS",
        "--home DIR",
    ] {
        assert!(
            plain.contains(want),
            "{want} not in the rendered page:\n{plain}"
        );
    }
}
