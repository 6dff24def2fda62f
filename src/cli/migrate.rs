//! `sk-migrate`'s command line: its options, and `run`, which calls the move
//! (or status, or the writer's queue resolver), renders and picks the exit
//! code.

// Doc comments of the clap types are help text: `<server>` is a placeholder.
#![allow(rustdoc::invalid_html_tags)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser, Subcommand};
use serde::Serialize;

use super::global::Stream;
use super::help::ToolHelp;
use super::{ExitStatus, GlobalArgs, fail, print, usage};
use crate::cli::context::Context;
use crate::error::Error;
use crate::home::Home;
use crate::login::{Diagnostic, Env};
use crate::migrate::cutover::{self, CutoverOptions};
use crate::migrate::merge::{DEFAULT_BUSY_TIMEOUT_MS, MoveOptions};
use crate::migrate::observe::Quiet;
use crate::migrate::queue;
use crate::migrate::{self, RunOptions, RunReport, Status};
use crate::release::Generation;
use crate::render;
use crate::scope::Scope;
use crate::trust::Trusted;

const TOOL: &str = "sk-migrate";

/// The closing sections of `--help` and `man sk-migrate`.
pub const HELP: ToolHelp = ToolHelp {
    examples: &[
        (
            "sk-migrate run",
            "move legacy rows into the logged-in user's queue",
        ),
        (
            "sk-migrate run --dry-run",
            "show what would move, write nothing",
        ),
        (
            "sk-migrate run --backup ~/sk-bak",
            "copy both DBs aside first",
        ),
        (
            "sk-migrate --home /tmp/h run --scope 'https://s.example|me@example.com|team-a'",
            "move into a given scope",
        ),
        ("sk-migrate status --json", "for programs"),
        (
            "db=$(sk-migrate queue-path)",
            "the queue DB a writer must use",
        ),
        (
            "sk-migrate completions bash > ~/.local/share/bash-completion/completions/sk-migrate",
            "completions for a cargo install",
        ),
        (
            "sk-migrate man run | man -l -",
            "this manual's page for run, wherever sk-migrate is installed",
        ),
    ],
    exit_status: &[
        (0, "done, nothing to do, or no scope (nothing written)"),
        (
            1,
            "runtime error: I/O, not a database, locked past --busy-timeout, unknown schema, another run holding the home, release unknown for a write, an explicit --home that does not exist (nothing moved that is not audited)",
        ),
        (
            3,
            "rows moved but their audit lines could not be written (they wait in sk-migrate.journal.pending; the next run writes them)",
        ),
        (
            64,
            "usage error (a bad option or --scope, no home resolvable)",
        ),
        (
            130,
            "interrupted by Ctrl-C (SIGINT) at a safe point: what was done stays done, a spec-kitty child was stopped; run again to resume",
        ),
        (143, "interrupted by SIGTERM, as for 130"),
    ],
    more_environment: &[(
        "SK_TRUST_VENV",
        "as --trust-venv: directories (separated by :) whose spec-kitty release a root run may execute though another user can change it; * for any (docs/trust.md)",
    )],
    note: "",
};

/// `sk-migrate [OPTIONS] <COMMAND>`.
#[derive(Debug, Parser)]
#[command(
    name = "sk-migrate",
    version = super::version(),
    about = "Move spec-kitty work stranded in the legacy queue DB into the scoped queue DB",
    after_help = super::help::after_help(TOOL, &HELP)
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// How long to wait for a DB another process holds locked
    #[arg(long, global = true, value_name = "MS", default_value_t = DEFAULT_BUSY_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(..=crate::db::MAX_BUSY_TIMEOUT_MS))]
    pub busy_timeout: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Move every legacy row into the scoped queue DB, by natural key
    Run {
        /// Scope to move into: <server>|<user>|<team> (default: the logged-in user's)
        #[arg(long, value_name = "S")]
        scope: Option<String>,
        /// Report what would move; write nothing
        #[arg(long)]
        dry_run: bool,
        /// Copy both DBs into DIR (mode 0600) before changing them
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
        backup: Option<PathBuf>,
        /// Print an audit line (table + natural key) per migrated row on stderr
        #[arg(short, long)]
        verbose: bool,
        /// As root, run the spec-kitty release under DIR though another user can change it (repeatable; * for any)
        #[arg(long, value_name = "DIR", env = "SK_TRUST_VENV", value_delimiter = ':',
              value_hint = clap::ValueHint::DirPath)]
        trust_venv: Vec<PathBuf>,
    },
    /// Schema version of each DB, pending migrations, rows waiting
    Status {
        /// Scope to look at (default: the logged-in user's)
        #[arg(long, value_name = "S")]
        scope: Option<String>,
    },
    /// Print the queue DB a writer must use (moving legacy rows first), for scripts
    QueuePath {
        /// Scope (default: the logged-in user's)
        #[arg(long, value_name = "S")]
        scope: Option<String>,
        /// Only say which DB; move nothing
        #[arg(long)]
        read_only: bool,
    },
    /// Print shell completions (the wheel installs them; see README)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page as roff: `sk-migrate man | man -l -`
    Man {
        /// The subcommand whose page to print (default: sk-migrate's own)
        #[arg(value_name = "COMMAND", value_enum)]
        command: Option<Page>,
    },
}

/// The subcommands with a page of their own (`man COMMAND`). Plain
/// comments, not doc comments: those would turn clap's one-line list of
/// possible values into a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Page {
    Run,
    Status,
    QueuePath,
    Completions,
    Man,
}

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

fn warn(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        stderr_line!("{TOOL}: warning: {d}");
    }
}

/// Writing needs the release's rules (refused without them); reading says
/// what it assumed, on stderr. With no home there is nothing to read or
/// move (`run` and `status` say so), so nothing to warn about; `queue-path`
/// answers a writer about to create the DB, which needs the rules still.
fn release_known_for(command: &Command, ctx: &Context) -> Result<(), ExitStatus> {
    let home_exists = ctx.home.root().is_dir();
    let writes = match command {
        Command::Run { .. } => home_exists,
        Command::QueuePath { read_only, .. } => !read_only,
        _ => false,
    };
    if let Some(why) = ctx.detection.why_unknown() {
        if writes {
            let what = "cannot tell which spec-kitty release reads this home".to_string();
            return Err(fail(TOOL, Error::ReleaseUnknown { what, why }));
        }
        if home_exists {
            stderr_line!("{TOOL}: warning: {why}; assuming spec-kitty 3.2.0's rules");
        }
    }
    Ok(())
}

/// A command that writes stops at its next safe point on Ctrl-C or
/// SIGTERM, says so and exits 130 or 143 (`crate::interrupt`); a read-only
/// one keeps the signals' default action.
fn stop_at_safe_points(command: &Command) {
    let writes = match command {
        Command::Run { .. } => true,
        Command::QueuePath { read_only, .. } => !read_only,
        _ => false,
    };
    if writes && let Err(e) = crate::interrupt::install() {
        stderr_line!(
            "{TOOL}: warning: Ctrl-C and SIGTERM will end this run at once (cannot handle them: {e}); a rerun resumes"
        );
    }
}

/// `run` and `status` (text) with no home: the same answer as sk-doctor's,
/// exit 0 (`docs/cli.md`).
fn no_home(command: &Command, ctx: &Context) -> Option<ExitStatus> {
    let what = match command {
        Command::Run { .. } => "nothing to move",
        Command::Status { .. } => "nothing to show",
        _ => return None,
    };
    if ctx.home.root().is_dir() {
        return None;
    }
    print(&format!(
        "no spec-kitty home at {}: {what}",
        crate::path_text::escaped(ctx.home.root())
    ));
    Some(ExitStatus::Success)
}

/// Run `sk-migrate` as parsed.
pub fn run(cli: Cli) -> ExitStatus {
    // Completions need no home and no release: nothing to warn about.
    match &cli.command {
        Command::Completions { shell } => return super::completions(*shell, command()),
        Command::Man { command } => return super::man::print(TOOL, *command),
        _ => {}
    }
    let ctx = match super::context(TOOL, &cli.global) {
        Ok(c) => c,
        Err(status) => return status,
    };
    if let Err(status) = release_known_for(&cli.command, &ctx) {
        return status;
    }
    stop_at_safe_points(&cli.command);
    if !cli.global.json
        && let Some(status) = no_home(&cli.command, &ctx)
    {
        return status;
    }
    let scope = match &cli.command {
        Command::Completions { .. } | Command::Man { .. } => return ExitStatus::Success,
        Command::Run { scope, .. }
        | Command::Status { scope }
        | Command::QueuePath { scope, .. } => scope.as_deref().map(Scope::parse).transpose(),
    };
    let scope = match scope {
        Ok(s) => s,
        Err(e) => return usage(TOOL, e),
    };
    let env = ctx.env();
    let text = match &cli.command {
        Command::Run { .. } if ctx.profile.generation == Generation::ProjectStore => {
            return cutover(&cli, &ctx);
        }
        Command::Run {
            dry_run,
            backup,
            verbose,
            ..
        } => {
            let opts = RunOptions {
                scope,
                env,
                moving: MoveOptions {
                    dry_run: *dry_run,
                    busy_timeout_ms: cli.busy_timeout,
                    backup_dir: backup.clone(),
                    ..MoveOptions::default()
                },
            };
            return run_move(&cli, &ctx, &opts, *verbose);
        }
        Command::QueuePath { .. } | Command::Status { .. }
            if ctx.profile.generation == Generation::ProjectStore =>
        {
            project_target(&cli, &ctx, matches!(cli.command, Command::QueuePath { .. }))
        }
        Command::QueuePath { read_only, .. } => {
            queue_path(&ctx.home, scope.as_ref(), &env, *read_only, cli.global.json)
        }
        Command::Status { .. } => status(&cli, &ctx, scope.as_ref(), &env).map(String::into_bytes),
        Command::Completions { .. } | Command::Man { .. } => return ExitStatus::Success,
    };
    match text {
        Ok(text) => {
            super::print_bytes(&text);
            ExitStatus::Success
        }
        Err(e) => super::fail_error(TOOL, e),
    }
}

/// `run` on a 3.2.6+ release: the cutover, through the release's own command.
fn cutover(cli: &Cli, ctx: &Context) -> ExitStatus {
    let Command::Run {
        dry_run,
        backup,
        trust_venv,
        ..
    } = &cli.command
    else {
        return ExitStatus::Success;
    };
    let style = &cli.global.style(Stream::Stdout);
    let json = cli.global.json;
    let Some(entry) = ctx.install.entry_point.clone().filter(|_| {
        ctx.install.package_version.as_deref()
            == ctx.detection.release().map(|r| r.version.as_str())
    }) else {
        return fail(
            TOOL,
            format!(
                "the cutover of a 3.2.6+ home runs the installed release's own `spec-kitty sync project-store-migrate`, and no spec-kitty executable of release {} was found; pass --spec-kitty PATH. Nothing was written",
                ctx.release_view().version.unwrap_or_default()
            ),
        );
    };
    let opts = CutoverOptions {
        dry_run: *dry_run,
        busy_timeout_ms: cli.busy_timeout,
        spec_kitty: entry,
        backup_dir: backup.clone(),
        python: ctx.install.interpreter.clone(),
        canonical_history: ctx.profile.cutover_history_canonical_json,
        trusted: Trusted::from_values(trust_venv),
    };
    match cutover::run(&ctx.home, &opts) {
        Ok(mut r) => {
            r.release = Some(ctx.release_view());
            if let Some(late) = &r.late {
                if late.found > 0 {
                    stderr_line!(
                        "{TOOL}: {} late legacy row(s): {} carried into project stores by the release's own writers, {} quarantined with their reason",
                        late.found,
                        late.stored,
                        late.quarantined.values().sum::<u64>()
                    );
                }
                for w in &late.writers {
                    stderr_line!("{TOOL}: warning: {}", w.remedy());
                }
            }
            print(&if json {
                render::json(&r)
            } else {
                render::cutover::run_summary(&r, style)
            });
            ExitStatus::Success
        }
        Err(e) => super::fail_error(TOOL, e),
    }
}

fn run_move(cli: &Cli, ctx: &Context, opts: &RunOptions, verbose: bool) -> ExitStatus {
    let home = &ctx.home;
    let mut observer = render::progress::Stderr {
        verbose,
        progress: std::io::stderr().is_terminal(),
    };
    let mut r = match migrate::run(home, opts, &mut observer) {
        Ok(r) => r,
        Err(e) => return super::fail_error(TOOL, e),
    };
    r.release = Some(ctx.release_view());
    if r.status == Status::NoScope {
        warn(&r.diagnostics);
    }
    let status = match &r.audit_incomplete {
        Some(why) => {
            stderr_line!("{TOOL}: error: {why}");
            ExitStatus::AuditIncomplete
        }
        None => ExitStatus::Success,
    };
    print(&if cli.global.json {
        render::json(&r)
    } else {
        render::migrate::run_summary(&r, &cli.global.style(Stream::Stdout))
    });
    status
}

/// `sk-migrate queue-path --json` (`docs/json.md`).
#[derive(Debug, Serialize)]
struct QueuePathJson {
    queue_db: crate::path_text::PathText,
    /// The scoped DB (a scope resolved), else the legacy one.
    scoped: bool,
    /// The move made first, when legacy rows were waiting.
    moved: Option<render::Document<RunReport>>,
}

/// `queue-path`: the path's own bytes (for `db=$(sk-migrate queue-path)`),
/// or its JSON.
fn queue_path(
    home: &Home,
    scope: Option<&Scope>,
    env: &Env,
    read_only: bool,
    json: bool,
) -> Result<Vec<u8>, Error> {
    let out = if read_only {
        let path = queue::reader_queue(home, scope, env);
        QueuePathJson {
            scoped: path != home.legacy_queue(),
            queue_db: path.as_path().into(),
            moved: None,
        }
    } else {
        let w = queue::writer_queue(home, scope, env, &mut Quiet)?;
        QueuePathJson {
            queue_db: w.path.as_path().into(),
            scoped: w.scoped,
            moved: w.moved.map(render::Document::new),
        }
    };
    Ok(if json {
        render::json(&out).into_bytes()
    } else {
        out.queue_db.as_bytes().to_vec()
    })
}

/// `queue-path` and `status` on a 3.2.6+ release: the checkout's project
/// store, never a queue DB (`docs/migrate.md`); `queue-path` prints the
/// path's own bytes.
fn project_target(cli: &Cli, ctx: &Context, path_only: bool) -> Result<Vec<u8>, Error> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(Path::new("."), e))?;
    let repo_root = std::env::var_os("SPECIFY_REPO_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let t = queue::project_target(&ctx.home, &cwd, repo_root.as_deref(), cli.busy_timeout);
    if cli.global.json {
        return Ok(render::json(&t).into_bytes());
    }
    if path_only {
        stderr_line!("{TOOL}: {}", queue::PROJECT_STORE_NOTE);
        return t.project_store.map(|p| p.as_bytes().to_vec()).ok_or_else(|| Error::ReleaseLayout {
            message: format!(
                "{} resolves no project (no .kittify/config.yaml with project.uuid): on spec-kitty 3.2.6+ new work goes to the checkout's project store, and no queue DB is written",
                crate::path_text::escaped(&cwd)
            ),
        });
    }
    Ok(t.describe().into_bytes())
}

fn status(cli: &Cli, ctx: &Context, scope: Option<&Scope>, env: &Env) -> Result<String, Error> {
    let home = &ctx.home;
    let mut r = migrate::status(home, scope, env, cli.busy_timeout)?;
    r.release = Some(ctx.release_view());
    warn(&r.diagnostics);
    Ok(if cli.global.json {
        render::json(&r)
    } else {
        render::migrate::status(&r, home.root(), &cli.global.style(Stream::Stdout))
    })
}
