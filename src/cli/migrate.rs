//! `sk-migrate`'s command line: its options, and `run`, which calls the move
//! (or status, or the writer's queue resolver), renders and picks the exit
//! code.

// Doc comments of the clap types are help text: `<server>` is a placeholder.
#![allow(rustdoc::invalid_html_tags)]

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use serde::Serialize;

use super::global::Stream;
use super::{ExitStatus, GlobalArgs, fail, print, usage};
use crate::error::Error;
use crate::home::Home;
use crate::merge::{DEFAULT_BUSY_TIMEOUT_MS, MoveOptions, Quiet};
use crate::migrate::{self, JSON_SCHEMA_VERSION, RunOptions, RunReport, Status};
use crate::queue;
use crate::render;
use crate::scope::{Diagnostic, Scope, saas_sync_enabled_from_env};

const TOOL: &str = "sk-migrate";

const EXAMPLES: &str = "\
Examples:
  sk-migrate run                      move legacy rows into the logged-in user's queue
  sk-migrate run --dry-run            show what would move, write nothing
  sk-migrate run --backup ~/sk-bak    copy both DBs aside first
  sk-migrate --home /tmp/h run --scope 'https://s.example|me@example.com|team-a'
  sk-migrate status --json
  db=$(sk-migrate queue-path)          the queue DB a writer must use
  sk-migrate completions bash > /etc/bash_completion.d/sk-migrate

Exit codes: 0 done (or nothing to do, or no scope), 1 runtime error (I/O, not a
database, locked, unknown schema: files left untouched), 64 usage error.";

/// `sk-migrate [OPTIONS] <COMMAND>`.
#[derive(Debug, Parser)]
#[command(
    name = "sk-migrate",
    version = super::version(),
    about = "Move spec-kitty work stranded in the legacy queue DB into the scoped queue DB",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// How long to wait for a DB another process holds locked
    #[arg(long, global = true, value_name = "MS", default_value_t = DEFAULT_BUSY_TIMEOUT_MS)]
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
        #[arg(long, value_name = "DIR")]
        backup: Option<PathBuf>,
        /// Print an audit line (table + natural key) per migrated row on stderr
        #[arg(short, long)]
        verbose: bool,
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
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

fn warn(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("{TOOL}: warning: {d}");
    }
}

/// Run `sk-migrate` as parsed.
pub fn run(cli: Cli) -> ExitStatus {
    let home = match cli.global.home() {
        Ok(h) => h,
        Err(e) => return usage(TOOL, e),
    };
    let scope = match &cli.command {
        Command::Completions { shell } => return super::completions(*shell, command()),
        Command::Run { scope, .. }
        | Command::Status { scope }
        | Command::QueuePath { scope, .. } => scope.as_deref().map(Scope::parse).transpose(),
    };
    let scope = match scope {
        Ok(s) => s,
        Err(e) => return usage(TOOL, e),
    };
    let text = match &cli.command {
        Command::Run {
            dry_run,
            backup,
            verbose,
            ..
        } => {
            let moving = MoveOptions {
                dry_run: *dry_run,
                busy_timeout_ms: cli.busy_timeout,
                backup_dir: backup.clone(),
            };
            run_move(&cli, &home, scope, moving, *verbose)
        }
        Command::QueuePath { read_only, .. } => {
            queue_path(&home, scope.as_ref(), *read_only, cli.global.json)
        }
        Command::Status { .. } => status(&cli, &home, scope.as_ref()),
        Command::Completions { .. } => return ExitStatus::Success,
    };
    match text {
        Ok(text) => {
            print(&text);
            ExitStatus::Success
        }
        Err(e) => fail(TOOL, e),
    }
}

fn run_move(
    cli: &Cli,
    home: &Home,
    scope: Option<Scope>,
    moving: MoveOptions,
    verbose: bool,
) -> Result<String, Error> {
    let opts = RunOptions {
        scope,
        saas_enabled: saas_sync_enabled_from_env(),
        moving,
    };
    let mut observer = render::progress::Stderr {
        verbose,
        progress: std::io::stderr().is_terminal(),
    };
    let r = migrate::run(home, &opts, &mut observer)?;
    if r.status == Status::NoScope {
        warn(&r.diagnostics);
    }
    Ok(if cli.global.json {
        render::json(&r)
    } else {
        render::migrate::run_summary(&r, &cli.global.style(Stream::Stdout))
    })
}

/// `sk-migrate queue-path --json` (`docs/json.md`).
#[derive(Debug, Serialize)]
struct QueuePathJson {
    schema_version: u32,
    queue_db: String,
    /// The scoped DB (a scope resolved), else the legacy one.
    scoped: bool,
    /// The move made first, when legacy rows were waiting.
    moved: Option<RunReport>,
}

fn queue_path(
    home: &Home,
    scope: Option<&Scope>,
    read_only: bool,
    json: bool,
) -> Result<String, Error> {
    let saas = saas_sync_enabled_from_env();
    let out = if read_only {
        let path = queue::reader_queue(home, scope, saas);
        QueuePathJson {
            schema_version: JSON_SCHEMA_VERSION,
            scoped: path != home.legacy_queue(),
            queue_db: path.display().to_string(),
            moved: None,
        }
    } else {
        let w = queue::writer_queue(home, scope, saas, &mut Quiet)?;
        QueuePathJson {
            schema_version: JSON_SCHEMA_VERSION,
            queue_db: w.path.display().to_string(),
            scoped: w.scoped,
            moved: w.moved,
        }
    };
    Ok(if json {
        render::json(&out)
    } else {
        out.queue_db
    })
}

fn status(cli: &Cli, home: &Home, scope: Option<&Scope>) -> Result<String, Error> {
    let r = migrate::status(home, scope, saas_sync_enabled_from_env(), cli.busy_timeout)?;
    warn(&r.diagnostics);
    Ok(if cli.global.json {
        render::json(&r)
    } else {
        let root = home.root().display().to_string();
        render::migrate::status(&r, &root, &cli.global.style(Stream::Stdout))
    })
}
