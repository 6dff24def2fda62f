//! `sk-migrate`: move work stranded in the legacy queue into the scoped queue.
//! Parse, run, exit: everything else is in [`sk_boundary::cli::migrate`].

use std::process::ExitCode;

use sk_boundary::cli::{self, migrate};

fn main() -> ExitCode {
    match cli::parse::<migrate::Cli>() {
        Ok(args) => migrate::run(args).into(),
        Err(status) => status.into(),
    }
}
