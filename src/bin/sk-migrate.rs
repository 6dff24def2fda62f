//! `sk-migrate`: move work stranded in the legacy queue into the scoped queue.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use sk_boundary::context::{self, Context, ContextOptions};
use sk_boundary::cutover::CutoverOptions;
use sk_boundary::merge::{AuditLine, DEFAULT_BUSY_TIMEOUT_MS, MoveOptions, Observer};
use sk_boundary::migrate::{self, RunOptions, Status};
use sk_boundary::release::Generation;
use sk_boundary::scope::Diagnostic;
use sk_boundary::{Error, Scope};
use sk_boundary::{queue, render};

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
database, locked, unknown schema, another run holding the home: nothing moved
that is not audited), 3 rows moved but the audit journal could not be written
(the lines wait in sk-migrate.journal.pending; the next run writes them),
64 usage error.";

#[derive(Parser)]
#[command(
    name = "sk-migrate",
    version,
    about = "Move spec-kitty work stranded in the legacy queue DB into the scoped queue DB",
    after_help = EXAMPLES
)]
struct Cli {
    /// spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Print one JSON object on stdout instead of tables
    #[arg(long, global = true)]
    json: bool,
    /// How long to wait for a DB another process holds locked
    #[arg(long, global = true, value_name = "MS", default_value_t = DEFAULT_BUSY_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(..=sk_boundary::lock::MAX_BUSY_TIMEOUT_MS))]
    busy_timeout: u64,
    /// The spec-kitty release you run (default: --spec-kitty's, PATH's, then the daemon's)
    #[arg(long, global = true, env = "SK_RELEASE", value_name = "X.Y.Z", value_parser = parse_release)]
    release: Option<String>,
    /// The spec-kitty entry point whose release to follow (default: `spec-kitty` on PATH)
    #[arg(long = "spec-kitty", global = true, value_name = "PATH")]
    spec_kitty: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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

/// Progress and `-v` audit lines, on stderr.
struct Cli2Stderr {
    verbose: bool,
    progress: bool,
}

impl Observer for Cli2Stderr {
    fn table_started(&mut self, table: &'static str, rows: u64) {
        if self.progress && rows >= 10_000 {
            eprintln!("moving {table}: {rows} legacy rows…");
        }
    }
    fn audit(&mut self, line: &AuditLine<'_>) -> Result<(), Error> {
        if self.verbose {
            eprintln!("moved {} {}", line.table, line.key_json);
        }
        Ok(())
    }
}

const USAGE: u8 = 64;
/// Rows moved, audit journal incomplete (see EXAMPLES).
const AUDIT_INCOMPLETE: u8 = 3;

fn parse_release(s: &str) -> Result<String, String> {
    sk_boundary::release::Version::parse(s)
        .map(|v| v.to_string())
        .ok_or_else(|| format!("{s:?} is not a release version (e.g. 3.2.5)"))
}

/// `run` on a 3.2.6+ release: the cutover, through the release's own command.
fn cutover(
    ctx: &Context,
    dry_run: bool,
    backup: Option<PathBuf>,
    busy_timeout_ms: u64,
    json: bool,
) -> ExitCode {
    let Some(entry) = ctx.install.entry_point.clone().filter(|_| {
        ctx.install.package_version.as_deref()
            == ctx.detection.release().map(|r| r.version.as_str())
    }) else {
        eprintln!(
            "sk-migrate: error: the cutover of a 3.2.6+ home runs the installed release's own `spec-kitty sync project-store-migrate`, and no spec-kitty executable of release {} was found; pass --spec-kitty PATH. Nothing was written",
            ctx.release_view().version.unwrap_or_default()
        );
        return ExitCode::from(1);
    };
    let opts = CutoverOptions {
        dry_run,
        busy_timeout_ms,
        spec_kitty: entry,
        backup_dir: backup,
    };
    match sk_boundary::cutover::run(&ctx.home, &opts) {
        Ok(r) => {
            let text = if json {
                render::json(&r)
            } else {
                render::cutover::run_summary(&r)
            };
            let _ = writeln!(std::io::stdout().lock(), "{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sk-migrate: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn warn(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("sk-migrate: warning: {d}");
    }
}

fn parse_scope(s: Option<String>) -> Result<Option<Scope>, ExitCode> {
    s.map(|s| Scope::parse(&s)).transpose().map_err(|e| {
        eprintln!("sk-migrate: {e}");
        ExitCode::from(USAGE)
    })
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
        Err(e @ Error::NoHome) => {
            eprintln!("sk-migrate: {e}");
            return ExitCode::from(USAGE);
        }
        Err(e) => {
            eprintln!("sk-migrate: error: {e}");
            return ExitCode::from(1);
        }
    };
    let home = ctx.home.clone();
    let env = ctx.env();
    // Writing needs the release's rules; reading says what it assumed.
    let writes = matches!(
        cli.command,
        Command::Run { .. }
            | Command::QueuePath {
                read_only: false,
                ..
            }
    );
    if let Some(why) = ctx.detection.why_unknown() {
        if writes {
            eprintln!(
                "sk-migrate: error: {}",
                Error::ReleaseUnknown {
                    what: "cannot tell which spec-kitty release reads this home".to_string(),
                    why,
                }
            );
            return ExitCode::from(1);
        }
        eprintln!("sk-migrate: warning: {why}; assuming spec-kitty 3.2.0's rules");
    }
    for note in ctx
        .notes
        .iter()
        .filter(|n| ctx.detection.why_unknown().as_ref() != Some(*n))
    {
        eprintln!("sk-migrate: warning: {note}");
    }
    if cli.home.is_some()
        && let Err(e) = home.require_existing()
    {
        eprintln!("sk-migrate: error: {e}");
        return ExitCode::from(1);
    }
    let mut code = ExitCode::SUCCESS;
    let result = match cli.command {
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a write error.
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "sk-migrate", &mut buf);
            return match std::io::stdout().lock().write_all(&buf) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sk-migrate: error: cannot write the completions: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Run {
            scope,
            dry_run,
            backup,
            verbose,
        } => {
            let scope = match parse_scope(scope) {
                Ok(s) => s,
                Err(code) => return code,
            };
            if ctx.profile.generation == Generation::ProjectStore {
                return cutover(&ctx, dry_run, backup, cli.busy_timeout, cli.json);
            }
            let opts = RunOptions {
                scope,
                env: env.clone(),
                moving: MoveOptions {
                    dry_run,
                    busy_timeout_ms: cli.busy_timeout,
                    backup_dir: backup,
                    ..MoveOptions::default()
                },
            };
            let mut observer = Cli2Stderr {
                verbose,
                progress: std::io::stderr().is_terminal(),
            };
            migrate::run(&home, &opts, &mut observer).map(|r| {
                if r.status == Status::NoScope {
                    warn(&r.diagnostics);
                }
                if let Some(why) = &r.audit_incomplete {
                    eprintln!("sk-migrate: error: {why}");
                    code = ExitCode::from(AUDIT_INCOMPLETE);
                }
                if cli.json {
                    render::json(&r)
                } else {
                    render::migrate::run_summary(&r, render::colour_for_stdout())
                }
            })
        }
        Command::QueuePath { scope, read_only } => {
            let scope = match parse_scope(scope) {
                Ok(s) => s,
                Err(code) => return code,
            };
            if read_only {
                Ok(queue::reader_queue(&home, scope.as_ref(), &env)
                    .display()
                    .to_string())
            } else {
                queue::writer_queue(&home, scope.as_ref(), &env, &mut sk_boundary::merge::Quiet)
                    .map(|w| w.path.display().to_string())
            }
        }
        Command::Status { scope } => {
            let scope = match parse_scope(scope) {
                Ok(s) => s,
                Err(code) => return code,
            };
            migrate::status(&home, scope.as_ref(), &env, cli.busy_timeout).map(|r| {
                warn(&r.diagnostics);
                if cli.json {
                    render::json(&r)
                } else {
                    render::migrate::status(&r)
                }
            })
        }
    };
    match result {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", text.trim_end());
            code
        }
        Err(e) => {
            eprintln!("sk-migrate: error: {e}");
            ExitCode::from(1)
        }
    }
}
