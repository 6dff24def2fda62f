//! `sk-doctor`: explain the sync boundary of a spec-kitty installation.
//! Parse, run, exit: everything else is in [`sk_boundary::cli::doctor`].

use std::process::ExitCode;

use sk_boundary::cli::{self, doctor};

fn main() -> ExitCode {
    match cli::parse::<doctor::Cli>() {
        Ok(args) => doctor::run(args).into(),
        Err(status) => status.into(),
    }
}
