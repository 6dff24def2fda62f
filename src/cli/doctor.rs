//! `sk-doctor`'s command line: its options, and `run`, which diagnoses,
//! renders and picks the exit code. It writes nothing except through
//! `retire`, and never signals a process.

// Doc comments of the clap types are help text: `<server>` is a placeholder.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use serde::Serialize;

use super::global::Stream;
use super::help::ToolHelp;
use super::{ExitStatus, GlobalArgs, fail, print, usage};
use crate::doctor::report::{self, Report};
use crate::doctor::{self, DoctorOptions};
use crate::render;
use crate::scope::Scope;

const TOOL: &str = "sk-doctor";

/// The closing sections of `--help` and `man sk-doctor`.
pub const HELP: ToolHelp = ToolHelp {
    examples: &[
        ("sk-doctor", "the coherence table, queues, daemon, problems"),
        (
            "sk-doctor --check",
            "exit 2 when the boundary is incoherent",
        ),
        ("sk-doctor --json | jq .problems", "for programs"),
        (
            "sk-doctor --foreground fg.json",
            "override discovered foreground fields",
        ),
        (
            "sk-doctor retire --dry-run",
            "what retiring an orphan owner record removes",
        ),
        (
            "sk-doctor preflight --require-auth || exit $?",
            "gate before producing SaaS work",
        ),
        (
            "sk-doctor man | man -l -",
            "this manual, wherever sk-doctor is installed",
        ),
    ],
    exit_status: &[
        (
            0,
            "coherent, no home to check, retire done or nothing to retire, preflight passed",
        ),
        (
            1,
            "runtime error (I/O, an unreadable --foreground file, an explicit --home that does not exist, ...)",
        ),
        (2, "incoherent with --check; retire or preflight refused"),
        (
            64,
            "usage error (a bad option or --scope, no home resolvable)",
        ),
    ],
    more_environment: &[(
        "SPECIFY_REPO_ROOT",
        "as spec-kitty 3.2.6+ reads it: the checkout whose project store preflight gates on, when --project is not given",
    )],
    note: "sk-doctor never writes, except `retire`, and never signals a process.",
};

/// `sk-doctor [OPTIONS] [COMMAND]`.
#[derive(Debug, Parser)]
#[command(
    name = "sk-doctor",
    version = super::version(),
    about = "Explain the sync boundary of a spec-kitty installation: foreground CLI vs daemon, queues, orphans",
    after_help = super::help::after_help(TOOL, &HELP)
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// JSON object of foreground fields overriding discovery, field by field
    #[arg(long, global = true, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub foreground: Option<PathBuf>,
    /// Do not probe loopback ports 9400-9449 for daemons
    #[arg(long, global = true)]
    pub no_probe: bool,
    /// Scope to check: <server>|<user>|<team> (default: the logged-in user's)
    #[arg(long, global = true, value_name = "S")]
    pub scope: Option<String>,
    /// Exit 2 when any problem is found
    #[arg(long)]
    pub check: bool,
    /// How long to wait for a queue DB another process holds locked; a DB
    /// still locked is reported as locked
    #[arg(long, global = true, value_name = "MS", default_value_t = doctor::DOCTOR_BUSY_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(..=crate::db::MAX_BUSY_TIMEOUT_MS))]
    pub busy_timeout: u64,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Remove an orphan daemon owner record (never signals a process)
    Retire {
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Say what would be removed; remove nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Gate for SaaS-producing commands: exit 0 when sync work may proceed, else 2
    Preflight {
        /// Refuse when no authenticated scope resolves, even with SaaS sync off
        #[arg(long)]
        require_auth: bool,
        /// The checkout whose project store 3.2.6+ gates on (default: the current directory)
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
        project: Option<PathBuf>,
    },
    /// Print the long page of a code sk-doctor reports (without CODE: every code)
    Explain {
        /// The code, as a report names it (e.g. legacy_rows)
        #[arg(value_name = "CODE", value_parser = explain_codes())]
        code: Option<String>,
    },
    /// Print shell completions (the wheel installs them; see README)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page as roff: `sk-doctor man | man -l -`
    Man {
        /// The subcommand whose page to print (default: sk-doctor's own)
        #[arg(value_name = "COMMAND", value_enum)]
        command: Option<Page>,
    },
}

/// The subcommands with a page of their own (`man COMMAND`). Plain
/// comments, not doc comments: those would turn clap's one-line list of
/// possible values into a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Page {
    Retire,
    Preflight,
    Explain,
    Completions,
    Man,
}

/// Every code `explain` takes.
fn explain_codes() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(doctor::explain::codes().into_iter().map(|(c, _)| c))
}

/// `explain [CODE]`: the page, or the index; as JSON, `{code, kind, page}`.
fn explain(code: Option<&str>, json: bool) -> ExitStatus {
    use doctor::explain;
    let pages: Vec<(&str, explain::Kind)> = explain::codes()
        .into_iter()
        .filter(|(c, _)| code.is_none_or(|want| want == *c))
        .collect();
    if json {
        let list: Vec<serde_json::Value> = pages
            .iter()
            .map(|(c, k)| {
                serde_json::json!({"code": c, "kind": k, "page": explain::page(c).unwrap_or("")})
            })
            .collect();
        print(&render::json(
            &serde_json::json!({"schema_version": 1, "codes": list}),
        ));
    } else if let Some(c) = code {
        print(explain::page(c).unwrap_or("").trim_end());
    } else {
        print(explain::index().trim_end());
    }
    ExitStatus::Success
}

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// `sk-doctor --json`: the report of `docs/json.md`, plus `home_exists`.
#[derive(Debug, Serialize)]
pub struct DoctorJson<'a> {
    #[serde(flatten)]
    pub report: &'a Report,
    /// False when the home directory does not exist: nothing was checked.
    pub home_exists: bool,
}

/// Run `sk-doctor` as parsed.
pub fn run(cli: Cli) -> ExitStatus {
    // Completions need no home and no release: nothing to warn about.
    match &cli.command {
        Some(Command::Completions { shell }) => return super::completions(*shell, command()),
        Some(Command::Man { command }) => return super::man::print(TOOL, *command),
        Some(Command::Explain { code }) => return explain(code.as_deref(), cli.global.json),
        _ => {}
    }
    let ctx = match super::context(TOOL, &cli.global) {
        Ok(c) => c,
        Err(status) => return status,
    };
    let home = ctx.home.clone();
    let scope = match cli.scope.as_deref().map(Scope::parse).transpose() {
        Ok(s) => s,
        Err(e) => return usage(TOOL, e),
    };
    if let Some(Command::Retire { yes, dry_run }) = cli.command {
        return super::retire::run(&home, yes, dry_run, cli.global.json);
    }
    let opts = DoctorOptions {
        scope,
        env: ctx.env(),
        release: ctx.release_view(),
        release_note: ctx.detection.why_unknown(),
        foreground_file: cli.foreground.clone(),
        spec_kitty: cli.global.spec_kitty.clone(),
        path_var: std::env::var_os("PATH"),
        probe: !cli.no_probe,
        busy_timeout_ms: Some(cli.busy_timeout),
        project: match &cli.command {
            Some(Command::Preflight { project, .. }) => project.clone(),
            _ => None,
        },
        install: Some(ctx.install.clone()),
        invocation: invocation(&cli.global, &ctx),
    };
    let mut r = match doctor::diagnose(&home, &opts) {
        Ok(r) => r,
        Err(e) => return fail(TOOL, e),
    };
    let home_exists = home.root().is_dir();
    // Warnings go to stderr, as sk-migrate's do (the JSON keeps them in
    // `warnings`); with no home nothing follows the release's rules.
    let release_warning = (ctx.detection.why_unknown())
        .filter(|_| home_exists)
        .map(|why| report::release_unknown_warning(&why));
    if let Some(w) = &release_warning {
        stderr_line!("{TOOL}: warning: {w}");
    }
    if let Some(Command::Preflight { require_auth, .. }) = cli.command {
        return preflight(&cli.global, &r, require_auth);
    }
    if !home_exists {
        nothing_to_check(&mut r);
    }
    if cli.global.json {
        print(&render::json(&DoctorJson {
            report: &r,
            home_exists,
        }));
    } else if !home_exists {
        print(&render::doctor::no_home(&r.home));
    } else {
        let mut shown = r.clone();
        shown
            .warnings
            .retain(|w| Some(w) != release_warning.as_ref());
        print(&render::doctor::report(
            &shown,
            &cli.global.style(Stream::Stdout),
        ));
    }
    if cli.check && !r.ok {
        ExitStatus::Refused
    } else {
        ExitStatus::Success
    }
}

/// What the steps of a fix repeat of this command line (paths made
/// absolute: a step may be run from another directory), and a fresh
/// idempotency key for the release's history confirmation.
fn invocation(global: &GlobalArgs, ctx: &super::context::Context) -> report::Invocation {
    let absolute = |p: &std::path::Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let home = global.home.as_ref().map(|_| absolute(ctx.home.root()));
    // spec-kitty finds the home by $SPEC_KITTY_HOME, else ~/.spec-kitty.
    let its_home = std::env::var_os("SPEC_KITTY_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| crate::home::Home::default_root(std::path::Path::new(&h)))
        });
    let spec_kitty_home = home
        .clone()
        .filter(|h| its_home.as_deref().map(absolute).as_deref() != Some(h.as_str()));
    let mut key = [0u8; 8];
    // Without the OS's randomness the key is still fresh per second and process.
    if getrandom::fill(&mut key).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        key = (now ^ u64::from(std::process::id()) << 32).to_be_bytes();
    }
    // SK_RELEASE in the environment reaches the step's run as it reached
    // this one: only an explicit --release is repeated.
    let from_env = std::env::var("SK_RELEASE").ok();
    report::Invocation {
        home,
        release: global
            .release
            .clone()
            .filter(|r| from_env.as_ref() != Some(r)),
        spec_kitty: global.spec_kitty.as_deref().map(absolute),
        spec_kitty_home,
        idempotency_key: format!("sk-doctor-{}", hex::encode(key)),
    }
}

/// With no home there is no owner record nor queue to compare: what the
/// doctor found about the foreground alone is no problem of the boundary.
fn nothing_to_check(r: &mut Report) {
    r.fields.clear();
    r.problems.clear();
    r.ok = true;
}

fn preflight(global: &GlobalArgs, r: &Report, require_auth: bool) -> ExitStatus {
    let p = report::preflight(r, require_auth);
    if global.json {
        print(&render::json(&p));
    } else if p.ok {
        print(&render::doctor::preflight(
            &p,
            &global.style(Stream::Stdout),
        ));
    } else {
        // The diagnostic goes where a calling script's user sees it.
        stderr_text!(
            "{}",
            render::doctor::preflight(&p, &global.style(Stream::Stderr))
        );
    }
    if p.ok {
        ExitStatus::Success
    } else {
        ExitStatus::Refused
    }
}
