//! The release model: which spec-kitty-cli release the user runs, and every
//! rule that differs between releases (one table, no version comparisons
//! anywhere else in the crate).

/// The spec-kitty-cli releases this build understands, for `--version`.
pub const SUPPORTED_RANGE: &str = "2.1 – 3.2.7";
