//! The one resolver every writer uses to pick its queue DB (issue: setup-plan
//! guarantee). A scope resolves → the scoped DB, after the move, so no legacy
//! row is left behind; no scope → the legacy DB, which is then the active
//! queue. Readers use [`reader_queue`], which never moves anything.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::db::schema::MigrationId;
use crate::error::Error;
use crate::home::Home;
use crate::login::{self, Env};
use crate::migrate::merge::MoveOptions;
use crate::migrate::observe::Observer;
use crate::migrate::{self, RunOptions, RunReport};
use crate::scope::Scope;
use crate::survey::layout::LayoutMode;

/// The queue DB a writer must use, and the move that ran to make it so.
#[derive(Debug, Clone)]
pub struct WriterQueue {
    pub path: PathBuf,
    pub scoped: bool,
    /// The move run before handing out the scoped path (`None` without a scope).
    pub moved: Option<RunReport>,
}

/// Resolve the queue for writing: moves legacy rows into the scoped DB first.
pub fn writer_queue(
    home: &Home,
    flag: Option<&Scope>,
    env: &Env,
    observer: &mut dyn Observer,
) -> Result<WriterQueue, Error> {
    let resolution = login::resolve(home, flag, env);
    let Some(resolved) = resolution.scope else {
        return Ok(WriterQueue {
            path: home.legacy_queue(),
            scoped: false,
            moved: None,
        });
    };
    let opts = RunOptions {
        scope: Some(resolved.scope.clone()),
        env: env.clone(),
        moving: MoveOptions::default(),
    };
    let moved = migrate::run(home, &opts, observer)?;
    Ok(WriterQueue {
        path: home.scoped_queue(&resolved.scope),
        scoped: true,
        moved: Some(moved),
    })
}

/// Resolve the queue for reading: the same choice, nothing moved or written.
pub fn reader_queue(home: &Home, flag: Option<&Scope>, env: &Env) -> PathBuf {
    match login::resolve(home, flag, env).scope {
        Some(r) => home.scoped_queue(&r.scope),
        None => home.legacy_queue(),
    }
}

/// Where new work goes on a project-store release (3.2.6+): the checkout's
/// project store, written by spec-kitty itself. No queue DB is written
/// there (`queue.db` and `queues/queue-<hex>.db` are only cutover input), so
/// `queue_db` is always null and no schema migration is ever pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectTarget {
    /// Always null on these releases.
    pub queue_db: Option<String>,
    /// The checkout's project (`.kittify/config.yaml` `project.uuid`).
    pub project_uuid: Option<String>,
    /// `projects/<uuid>/sync/sync.db`, once a project resolves.
    pub project_store: Option<crate::path_text::PathText>,
    /// `legacy`, `cutover_pending` or `project_only`.
    pub layout_mode: LayoutMode,
    /// Always empty: the V1–V5 queue migrations do not apply.
    pub pending_migrations: Vec<MigrationId>,
    /// Legacy rows no cutover carried yet (`sk-migrate run` carries them).
    pub late_rows: u64,
    pub note: String,
}

impl ProjectTarget {
    /// For people: one paragraph.
    pub fn describe(&self) -> String {
        let mut out = match &self.project_store {
            Some(p) => format!("new work goes to the checkout's project store: {p}\n"),
            None => "new work goes to the checkout's project store; this directory resolves no project (no .kittify/config.yaml with project.uuid)\n".to_string(),
        };
        out.push_str(&format!("layout: {}\n", self.layout_mode));
        if self.late_rows > 0 {
            out.push_str(&format!(
                "{} legacy row(s) not carried yet: run `sk-migrate run`\n",
                self.late_rows
            ));
        }
        out.push_str(&self.note);
        out
    }
}

/// The note every 3.2.6+ answer carries (pure).
pub const PROJECT_STORE_NOTE: &str = "spec-kitty 3.2.6+ writes no queue DB (the legacy and scoped queue DBs are only cutover input); the project store is written by spec-kitty alone";

/// Where new work goes on a 3.2.6+ home, from the checkout at `cwd`.
/// Reads only.
pub fn project_target(
    home: &Home,
    cwd: &Path,
    repo_root_env: Option<&Path>,
    busy_timeout_ms: u64,
) -> ProjectTarget {
    let uuid = crate::survey::stores::checkout_project(cwd, repo_root_env);
    let late_rows = crate::survey::carried::ledger(home, busy_timeout_ms).late_count();
    ProjectTarget {
        queue_db: None,
        project_store: uuid.as_ref().map(|u| home.project_store(u).into()),
        project_uuid: uuid,
        // TODO(issue 29, phase 2): an unreadable layout record reads as `legacy`.
        layout_mode: crate::survey::stores::layout_mode(home).known_or_default(&mut Vec::new()),
        pending_migrations: Vec::new(),
        late_rows,
        note: PROJECT_STORE_NOTE.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_store_home_names_the_store_and_never_a_queue_db() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("root"));
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".kittify")).unwrap();
        std::fs::write(
            repo.join(".kittify/config.yaml"),
            "project:\n  uuid: 0A1B0000-4F1A-4B2C-8D3E-0000000000B7\n",
        )
        .unwrap();
        let t = project_target(&home, &repo, None, 100);
        assert_eq!(t.queue_db, None);
        assert!(t.pending_migrations.is_empty());
        let store = t.project_store.clone().unwrap();
        assert!(store.ends_with("projects/0a1b0000-4f1a-4b2c-8d3e-0000000000b7/sync/sync.db"));
        let text = t.describe();
        assert!(!text.contains("queue-") && !text.contains("V1"), "{text}");
        assert!(text.contains(&store.to_string()));
        let none = project_target(&home, dir.path(), None, 100);
        assert_eq!(none.project_store, None);
        assert!(none.describe().contains("resolves no project"));
    }
}
