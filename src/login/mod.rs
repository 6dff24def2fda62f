//! Who the foreground is logged in as: `config.toml` and the older CLIs'
//! `credentials` file ([`config`]), the encrypted session store of current
//! CLIs ([`session`]), and the resolution of the foreground's queue scope
//! from them by the installed release's rules ([`mod@resolve`]).
//!
//! Owns: reading those files (never a token: the parsers skip them) and the
//! order in which a release consults them. Never writes a file (except the
//! test-support session writer) and never talks to the server.
//! Contract: `docs/home.md`, `docs/session.md`; the per-release rules are
//! rows of `crate::release::RELEASES`.

pub mod config;
pub mod resolve;
pub mod session;

pub use resolve::{
    Diagnostic, Env, Resolution, ResolvedScope, ScopeSource, resolve, saas_sync_enabled,
    saas_sync_enabled_from_env, scope_from_credentials,
};
