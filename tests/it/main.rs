//! The integration tests: one binary, as cargo's `tests/testsuite`, ripgrep's
//! `tests/tests.rs` and uv's `tests/it` (linked once, `common` compiled once).
//! The end-to-end suites that run real spec-kitty releases are the other
//! binary, `tests/system`.

#[path = "../shared/mod.rs"]
mod shared;

mod byte_paths;
mod chunked_move;
mod common;
mod completions;
mod concurrency;
mod crash;
mod doc_paths;
mod doctor;
mod explain;
mod first_minutes;
mod garbage_inputs;
mod garbage_owner;
mod hardening;
mod interruption;
mod judge;
mod man;
mod migrate_run;
mod preflight;
mod project_store;
mod prop_move;
mod release_conformance;
mod schema_facts;
mod session;
mod snapshots;
mod terminal;
