//! The one resolver every writer uses to pick its queue DB (issue: setup-plan
//! guarantee). A scope resolves → the scoped DB, after the move, so no legacy
//! row is left behind; no scope → the legacy DB, which is then the active
//! queue. Readers use [`reader_queue`], which never moves anything.

use std::path::PathBuf;

use crate::error::Error;
use crate::home::Home;
use crate::login::{self, Env};
use crate::migrate::merge::{MoveOptions, Observer};
use crate::migrate::{self, RunOptions, RunReport};
use crate::scope::Scope;

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
