//! `sk-doctor`: explain the sync boundary of a spec-kitty installation.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use sk_boundary::context::{self, ContextOptions};
use sk_boundary::doctor::{self, DoctorOptions, RetireDecision};
use sk_boundary::owner::{self, RetirePlan};
use sk_boundary::render;
use sk_boundary::report;
use sk_boundary::{Home, Scope};

const EXAMPLES: &str = "\
Examples:
  sk-doctor                          the coherence table, queues, daemon, problems
  sk-doctor --check                  exit 2 when the boundary is incoherent
  sk-doctor --json | jq .problems    for programs
  sk-doctor --foreground fg.json     override discovered foreground fields
  sk-doctor retire --dry-run         what retiring an orphan owner record removes
  sk-doctor preflight --require-auth || exit $?   gate before producing SaaS work

Exit codes: 0 coherent (or done), 1 runtime error, 2 incoherent or refused, 64 usage.
sk-doctor never writes, except `retire`, and never signals a process.";

#[derive(Parser)]
#[command(
    name = "sk-doctor",
    version,
    about = "Explain the sync boundary of a spec-kitty installation: foreground CLI vs daemon, queues, orphans",
    after_help = EXAMPLES
)]
struct Cli {
    /// spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Print one JSON object on stdout
    #[arg(long, global = true)]
    json: bool,
    /// JSON object of foreground fields overriding discovery, field by field
    #[arg(long, global = true, value_name = "FILE")]
    foreground: Option<PathBuf>,
    /// The spec-kitty entry point to inspect (default: `spec-kitty` on PATH)
    #[arg(long = "spec-kitty", global = true, value_name = "PATH")]
    spec_kitty: Option<PathBuf>,
    /// Do not probe loopback ports 9400-9449 for daemons
    #[arg(long, global = true)]
    no_probe: bool,
    /// The spec-kitty release you run (default: --spec-kitty's, PATH's, then the daemon's)
    #[arg(long, global = true, env = "SK_RELEASE", value_name = "X.Y.Z", value_parser = parse_release)]
    release: Option<String>,
    /// Scope to check: <server>|<user>|<team> (default: the logged-in user's)
    #[arg(long, global = true, value_name = "S")]
    scope: Option<String>,
    /// Exit 2 when any problem is found
    #[arg(long)]
    check: bool,
    /// How long to wait for a queue DB another process holds locked; a DB
    /// still locked is reported as locked
    #[arg(long, global = true, value_name = "MS", default_value_t = doctor::DOCTOR_BUSY_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(..=sk_boundary::lock::MAX_BUSY_TIMEOUT_MS))]
    busy_timeout: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
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
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

const USAGE: u8 = 64;

fn parse_release(s: &str) -> Result<String, String> {
    sk_boundary::release::Version::parse(s)
        .map(|v| v.to_string())
        .ok_or_else(|| format!("{s:?} is not a release version (e.g. 3.2.5)"))
}
const REFUSED: u8 = 2;

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("sk-doctor: error: {e}");
    ExitCode::from(1)
}

fn print(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{}", text.trim_end());
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let ctx = match context::resolve(&ContextOptions::from_process(
        cli.home.clone(),
        cli.release.clone(),
        cli.spec_kitty.clone(),
    )) {
        Ok(c) => c,
        Err(e @ sk_boundary::Error::NoHome) => {
            eprintln!("sk-doctor: {e}");
            return ExitCode::from(USAGE);
        }
        Err(e) => return fail(e),
    };
    let home = ctx.home.clone();
    let unknown = ctx.detection.why_unknown();
    for note in ctx.notes.iter().filter(|n| unknown.as_ref() != Some(*n)) {
        eprintln!("sk-doctor: warning: {note}");
    }
    if cli.home.is_some()
        && let Err(e) = home.require_existing()
    {
        return fail(e);
    }
    let scope = match cli.scope.as_deref().map(Scope::parse).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sk-doctor: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let opts = DoctorOptions {
        scope,
        env: ctx.env(),
        release: ctx.release_view(),
        release_note: ctx.detection.why_unknown(),
        foreground_file: cli.foreground.clone(),
        spec_kitty: cli.spec_kitty.clone(),
        path_var: std::env::var_os("PATH"),
        probe: !cli.no_probe,
        busy_timeout_ms: Some(cli.busy_timeout),
        project: None,
    };
    let colour = render::colour_for_stdout();
    match cli.command {
        None => {
            let r = match doctor::diagnose(&home, &opts) {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            print(&if cli.json {
                render::json(&r)
            } else {
                render::doctor::report(&r, colour)
            });
            if cli.check && !r.ok {
                ExitCode::from(REFUSED)
            } else {
                ExitCode::SUCCESS
            }
        }
        Some(Command::Preflight {
            require_auth,
            project,
        }) => {
            let opts = DoctorOptions { project, ..opts };
            let r = match doctor::diagnose(&home, &opts) {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            let p = report::preflight(&r, require_auth);
            if cli.json {
                print(&render::json(&p));
            } else if p.ok {
                print(&render::doctor::preflight(&p, colour));
            } else {
                // The diagnostic goes where a calling script's user sees it.
                let colour = render::colour_enabled(
                    std::io::stderr().is_terminal(),
                    std::env::var("NO_COLOR").ok().as_deref(),
                );
                eprint!("{}", render::doctor::preflight(&p, colour));
            }
            if p.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(REFUSED)
            }
        }
        Some(Command::Retire { yes, dry_run }) => retire(&home, yes, dry_run, cli.json),
        Some(Command::Completions { shell }) => {
            // Into a buffer first: clap_complete panics on a write error.
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "sk-doctor", &mut buf);
            match std::io::stdout().lock().write_all(&buf) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(format!("cannot write the completions: {e}")),
            }
        }
    }
}

fn retire(home: &Home, yes: bool, dry_run: bool, json: bool) -> ExitCode {
    let say = |status: &str, message: String, removed: Vec<String>| {
        if json {
            print(&render::json(&serde_json::json!({
                "schema_version": 1,
                "status": status,
                "message": message,
                "removed": removed,
            })));
        } else {
            print(&message);
        }
    };
    let removal = match doctor::plan_retire(home) {
        Err(e) => return fail(e),
        Ok(RetireDecision::NothingToRetire) => {
            say(
                "nothing_to_retire",
                format!(
                    "No owner record at {}: nothing to retire.",
                    home.owner_record().display()
                ),
                vec![],
            );
            return ExitCode::SUCCESS;
        }
        Ok(RetireDecision::Malformed { reason }) => {
            say(
                "refused",
                format!(
                    "Refused: the owner record {} is malformed ({reason}), so its pid cannot be trusted. Inspect it, then move it aside by hand.",
                    home.owner_record().display()
                ),
                vec![],
            );
            return ExitCode::from(REFUSED);
        }
        Ok(RetireDecision::Plan(RetirePlan::Refuse(owner::Refusal::Live { pid }))) => {
            say(
                "refused",
                format!(
                    "Refused: the recorded daemon (pid {pid}) is alive and its executable exists; it is not an orphan. Nothing was removed."
                ),
                vec![],
            );
            return ExitCode::from(REFUSED);
        }
        Ok(RetireDecision::StaleState(stale)) => {
            return retire_state(&stale, yes, dry_run, &say);
        }
        Ok(RetireDecision::Plan(RetirePlan::Remove(r))) => r,
    };
    let mut targets = vec![removal.owner_record.display().to_string()];
    if let Some(s) = &removal.state_file {
        targets.push(s.display().to_string());
    }
    if dry_run {
        say(
            "dry_run",
            format!(
                "Would remove the orphan record of pid {}: {}",
                removal.pid,
                targets.join(", ")
            ),
            targets,
        );
        return ExitCode::SUCCESS;
    }
    let prompt = format!(
        "Remove the orphan owner record of pid {} ({})?",
        removal.pid,
        targets.join(", ")
    );
    if let Some(refused) = confirm(yes, "retire the orphan record", &prompt, &say) {
        return refused;
    }
    match owner::retire(&removal) {
        Ok(removed) => {
            let removed: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
            say(
                "retired",
                format!(
                    "Retired the orphan record of pid {}: removed {}",
                    removal.pid,
                    removed.join(", ")
                ),
                removed,
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// No owner record, only a stale `sync-daemon` state file: remove it (with
/// --yes, or confirmed on a terminal). Never signals anything.
fn retire_state(
    stale: &owner::StaleState,
    yes: bool,
    dry_run: bool,
    say: &dyn Fn(&str, String, Vec<String>),
) -> ExitCode {
    let target = stale.path.display().to_string();
    if dry_run {
        say(
            "dry_run",
            format!(
                "Would remove the stale daemon state file {target} ({})",
                stale.reason
            ),
            vec![target],
        );
        return ExitCode::SUCCESS;
    }
    let prompt = format!(
        "Remove the stale daemon state file {target} ({})?",
        stale.reason
    );
    if let Some(refused) = confirm(yes, "remove the stale state file", &prompt, say) {
        return refused;
    }
    match owner::retire_state(stale) {
        Ok(true) => {
            say(
                "retired",
                format!(
                    "Removed the stale daemon state file {target} ({})",
                    stale.reason
                ),
                vec![target],
            );
            ExitCode::SUCCESS
        }
        Ok(false) => {
            say(
                "nothing_to_retire",
                format!("{target} is already gone."),
                vec![],
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Ask before removing (unless `--yes`): `Some(exit code)` when refused.
fn confirm(
    yes: bool,
    what: &str,
    prompt: &str,
    say: &dyn Fn(&str, String, Vec<String>),
) -> Option<ExitCode> {
    if yes {
        return None;
    }
    if !std::io::stdin().is_terminal() {
        say(
            "refused",
            format!("Refused: not on a terminal, so nobody can confirm; pass --yes to {what}."),
            vec![],
        );
        return Some(ExitCode::from(REFUSED));
    }
    eprint!("{prompt} [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        None
    } else {
        say("refused", "Nothing removed.".to_string(), vec![]);
        Some(ExitCode::from(REFUSED))
    }
}
