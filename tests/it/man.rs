//! The man pages: generated here from the clap definitions and
//! `cli::help` (clap_mangen is a dev-dependency: the binaries only carry the
//! committed pages, `cli::man::PAGES`). The committed `man/*.1` must be what
//! this generates. After changing an option or a help table:
//! `SK_UPDATE_MAN=1 cargo test --test it man`, then rebuild.

use std::path::Path;

use assert_cmd::Command;
use sk_boundary::cli::help::ToolHelp;
use sk_boundary::cli::{doctor, man, migrate};

type Pages = Vec<(String, Vec<u8>)>;

/// What `clap_mangen` starts every section with; once per page is enough.
const AQ: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// Every page: its file name under `man/` and its roff text.
fn pages() -> Pages {
    let mut pages = Vec::new();
    for (cmd, help) in [
        (doctor::command(), &doctor::HELP),
        (migrate::command(), &migrate::HELP),
    ] {
        let mut cmd = cmd.disable_help_subcommand(true);
        cmd.build();
        let tool = cmd.get_name().to_string();
        let version = cmd.get_version().unwrap_or_default().to_string();
        page(&cmd, &tool, &version, help, None, &mut pages);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            page(sub, &tool, &version, help, Some(sub.get_name()), &mut pages);
        }
    }
    pages
}

fn page(
    cmd: &clap::Command,
    tool: &str,
    version: &str,
    help: &ToolHelp,
    sub: Option<&str>,
    pages: &mut Pages,
) {
    let name = match sub {
        Some(s) => format!("{tool}-{s}"),
        None => tool.to_string(),
    };
    let man = clap_mangen::Man::new(cmd.clone())
        .title(&name)
        .source(format!("{tool} {version}"));
    let mut text = Vec::new();
    man.render_title(&mut text).unwrap();
    man.render_name_section(&mut text).unwrap();
    text.extend_from_slice(synopsis(cmd, tool, sub).as_bytes());
    man.render_description_section(&mut text).unwrap();
    man.render_options_section(&mut text).unwrap();
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut text).unwrap();
    }
    let mut s = String::from_utf8(text).unwrap();
    if sub.is_none() {
        s.push_str(&examples(help));
        s.push_str(&environment(help));
    }
    s.push_str(&exit_status(help));
    s.push_str(&see_also(tool, sub));
    let mut text = s.into_bytes();
    if sub.is_none() {
        man.render_version_section(&mut text).unwrap();
    }
    pages.push((
        format!("{name}.1"),
        once_aq(&String::from_utf8(text).unwrap()),
    ));
}

/// The page with clap_mangen's `Aq` prelude only at its top.
fn once_aq(text: &str) -> Vec<u8> {
    let body = text.replace(AQ, "");
    format!("{AQ}{body}").into_bytes()
}

/// Roff text: backslashes and hyphens escaped, a leading `.`/`'` guarded.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with(['.', '\'']) {
        format!("\\&{t}")
    } else {
        t
    }
}

/// SYNOPSIS with each option's value: `[--home DIR]`, `[-v|--verbose]`.
fn synopsis(cmd: &clap::Command, tool: &str, sub: Option<&str>) -> String {
    let mut words = vec![format!(
        "\\fB{}\\fR",
        roff(&match sub {
            Some(s) => format!("{tool} {s}"),
            None => tool.to_string(),
        })
    )];
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let value = arg
            .get_value_names()
            .and_then(|v| v.first())
            // An unpaddable space: an option and its value stay on one line.
            .map(|v| format!("\\ \\fI{}\\fR", roff(v.as_str())));
        let takes_value = arg.get_action().takes_values();
        if arg.is_positional() {
            let v = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map_or_else(|| arg.get_id().as_str().to_uppercase(), |v| v.to_string());
            words.push(if arg.is_required_set() {
                format!("\\fI{}\\fR", roff(&v))
            } else {
                format!("[\\fI{}\\fR]", roff(&v))
            });
            continue;
        }
        let mut flag = Vec::new();
        if let Some(s) = arg.get_short() {
            flag.push(format!("\\fB\\-{s}\\fR"));
        }
        if let Some(l) = arg.get_long() {
            flag.push(format!("\\fB\\-\\-{}\\fR", roff(l)));
        }
        let value = if takes_value {
            value.unwrap_or_default()
        } else {
            String::new()
        };
        words.push(format!("[{}{value}]", flag.join("|")));
    }
    if cmd.has_subcommands() {
        words.push(if cmd.is_subcommand_required_set() {
            "\\fICOMMAND\\fR".to_string()
        } else {
            "[\\fICOMMAND\\fR]".to_string()
        });
    }
    format!(".SH SYNOPSIS\n{}\n", words.join(" "))
}

fn examples(help: &ToolHelp) -> String {
    let mut s = String::from(".SH EXAMPLES\n");
    for (command, what) in help.examples {
        s.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(command), roff(what)));
    }
    s
}

fn environment(help: &ToolHelp) -> String {
    let mut s = String::from(".SH ENVIRONMENT\n");
    for (name, what) in help.environment() {
        s.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(name), roff(what)));
    }
    s
}

fn exit_status(help: &ToolHelp) -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, what) in help.exit_status {
        s.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff(what)));
    }
    if !help.note.is_empty() {
        s.push_str(&format!(".PP\n{}\n", roff(help.note)));
    }
    s
}

fn see_also(tool: &str, sub: Option<&str>) -> String {
    let other = if tool == "sk-doctor" {
        "sk-migrate"
    } else {
        "sk-doctor"
    };
    let mut refs = Vec::new();
    if sub.is_some() {
        refs.push(format!("\\fB{}\\fR(1) (environment)", roff(tool)));
    }
    refs.push(format!("\\fB{}\\fR(1)", roff(other)));
    format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", "))
}

fn man_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man")
}

#[test]
fn man_pages_are_up_to_date() {
    let dir = man_dir();
    let pages = pages();
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"sk-doctor.1") && names.contains(&"sk-migrate.1"));
    if std::env::var_os("SK_UPDATE_MAN").is_some_and(|v| !v.is_empty()) {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "1") {
                std::fs::remove_file(path).unwrap();
            }
        }
        for (name, text) in &pages {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }
    let mut stale = Vec::new();
    for (name, text) in &pages {
        if std::fs::read(dir.join(name)).ok().as_ref() != Some(text) {
            stale.push(name.clone());
        }
    }
    let mut committed: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".1"))
                .collect()
        })
        .unwrap_or_default();
    committed.retain(|n| !names.contains(&n.as_str()));
    assert!(
        stale.is_empty() && committed.is_empty(),
        "man pages out of date: {stale:?}, no longer generated: {committed:?}; \
         run `SK_UPDATE_MAN=1 cargo test --test it man` and commit man/"
    );
    // The binaries carry exactly these pages, byte for byte.
    let mut embedded: Vec<&str> = man::PAGES.iter().map(|(n, _)| *n).collect();
    let mut generated = names.clone();
    embedded.sort_unstable();
    generated.sort_unstable();
    assert_eq!(embedded, generated, "cli::man::PAGES lists other pages");
    for (name, text) in &pages {
        let carried = man::PAGES.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(carried == &text[..], "{name}: rebuild after SK_UPDATE_MAN");
    }
}

#[test]
fn tool_pages_have_values_environment_and_exit_status() {
    let pages = pages();
    for tool in ["sk-doctor.1", "sk-migrate.1"] {
        let text =
            String::from_utf8(pages.iter().find(|(n, _)| n == tool).unwrap().1.clone()).unwrap();
        for section in [
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            ".SH EXAMPLES",
            ".SH ENVIRONMENT",
            ".SH \"EXIT STATUS\"",
        ] {
            assert_eq!(text.matches(section).count(), 1, "{tool}: {section}");
        }
        assert!(
            !text.contains("Examples:"),
            "{tool}: a second examples title"
        );
        assert_eq!(text.matches(".ds Aq").count(), 2, "{tool}: one Aq prelude");
        // Options with their values, in SYNOPSIS.
        for opt in [
            "[\\fB\\-\\-home\\fR\\ \\fIDIR\\fR]",
            "[\\fB\\-\\-busy\\-timeout\\fR\\ \\fIMS\\fR]",
            "[\\fB\\-\\-release\\fR\\ \\fIX.Y.Z\\fR]",
            "[\\fB\\-\\-json\\fR]",
        ] {
            assert!(text.contains(opt), "{tool}: {opt} not in SYNOPSIS");
        }
        for var in [
            "SPEC_KITTY_HOME",
            "SK_RELEASE",
            "NO_COLOR",
            "FORCE_COLOR",
            "CLICOLOR_FORCE",
            "COLUMNS",
            "SPEC_KITTY_SAAS_URL",
            "SPEC_KITTY_ENABLE_SAAS_SYNC",
            "HOME",
            "PATH",
        ] {
            assert!(
                text.contains(&format!(".TP\n\\fB{}\\fR\n", roff(var))),
                "{tool}: {var} not in ENVIRONMENT"
            );
        }
        for code in ["0", "1", "64"] {
            assert!(
                text.contains(&format!(".TP\n\\fB{code}\\fR\n")),
                "{tool}: {code}"
            );
        }
    }
}

/// Every variable the library and binaries read from the environment is in
/// a page's ENVIRONMENT (test-only ones excepted).
#[test]
fn every_variable_read_is_documented() {
    let mut read = Vec::new();
    collect_vars(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut read,
    );
    read.sort();
    read.dedup();
    let documented: Vec<&str> = doctor::HELP
        .environment()
        .into_iter()
        .chain(migrate::HELP.environment())
        .map(|(n, _)| n)
        .collect();
    let missing: Vec<&String> = read
        .iter()
        .filter(|v| !documented.contains(&v.as_str()))
        .collect();
    assert!(read.len() >= 8, "scan found only {read:?}");
    assert!(
        missing.is_empty(),
        "read but not in ENVIRONMENT: {missing:?}"
    );
}

/// `env::var("X")` / `env::var_os("X")` and clap's `env = "X"` in `dir`.
fn collect_vars(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_vars(&path, out);
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Code under #[cfg(test)] reads what tests set up; not the user's.
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        for pat in ["env::var(\"", "env::var_os(\"", "env = \""] {
            for (i, _) in text.match_indices(pat) {
                let rest = &text[i + pat.len()..];
                if let Some(end) = rest.find('"') {
                    out.push(rest[..end].to_string());
                }
            }
        }
    }
}

#[test]
fn man_subcommand_prints_the_committed_page() {
    let dir = man_dir();
    for (tool, args, file) in [
        ("sk-doctor", &[][..], "sk-doctor.1"),
        ("sk-doctor", &["retire"][..], "sk-doctor-retire.1"),
        ("sk-migrate", &[][..], "sk-migrate.1"),
        ("sk-migrate", &["queue-path"][..], "sk-migrate-queue-path.1"),
    ] {
        let out = Command::cargo_bin(tool)
            .unwrap()
            .arg("man")
            .args(args)
            .env_remove("SPEC_KITTY_HOME")
            .output()
            .unwrap();
        assert!(out.status.success(), "{tool} man {args:?}: {out:?}");
        let committed = std::fs::read(dir.join(file)).unwrap();
        assert!(out.stdout == committed, "{tool} man {args:?} is not {file}");
        assert!(out.stderr.is_empty(), "piped: no hint on stderr");
    }
    let out = Command::cargo_bin("sk-migrate")
        .unwrap()
        .args(["man", "nope"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(64),
        "an unknown page is a usage error"
    );
}
