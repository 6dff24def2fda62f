//! Progress and `-v` audit lines of `sk-migrate run`, on stderr.

use crate::db::schema::tables::Table;
use crate::error::Error;
use crate::migrate::observe::{AuditLine, Observer};

/// Reports a run to a person on stderr: large tables as they start (only
/// when `progress`, i.e. stderr is a terminal), and with `verbose` one line
/// per moved row (table + natural key, never payload).
#[derive(Debug, Clone, Copy)]
pub struct Stderr {
    pub verbose: bool,
    pub progress: bool,
}

impl Observer for Stderr {
    fn table_started(&mut self, table: Table, rows: u64) {
        if self.progress && rows >= 10_000 {
            stderr_line!("moving {table}: {rows} legacy rows…");
        }
    }
    fn waiting(&mut self, path: &std::path::Path) {
        if self.verbose || self.progress {
            stderr_line!(
                "waiting for {}: another process holds its write lock (sk-migrate holds none meanwhile)",
                crate::path_text::escaped(path)
            );
        }
    }
    fn audit(&mut self, line: &AuditLine<'_>) -> Result<(), Error> {
        if self.verbose {
            stderr_line!("moved {} {}", line.table, line.key_json);
        }
        Ok(())
    }
    fn wants_audit_lines(&self) -> bool {
        self.verbose
    }
}
