//! Materialise a fixture home: `cargo run --example fixture_home -- SRC DST`.
//! SRC defaults to `fixtures/incident/home`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (src, dst) = match args.as_slice() {
        [dst] => (PathBuf::from("fixtures/incident/home"), dst.clone()),
        [src, dst] => (src.clone(), dst.clone()),
        _ => {
            eprintln!("usage: fixture_home [SRC] DST");
            return ExitCode::from(64);
        }
    };
    match sk_boundary::fixture::materialise_home(&src, &dst) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixture_home: {e}");
            ExitCode::from(1)
        }
    }
}
