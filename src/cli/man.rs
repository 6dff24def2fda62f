//! Man pages, generated from the clap definitions with `clap_mangen`: a page
//! per tool (`sk-doctor.1`, `sk-migrate.1`) and one per subcommand
//! (`sk-migrate-run.1`, …), as `clap_mangen::generate_to` names them. The
//! committed `man/*.1` are checked against these by `tests/man.rs`;
//! `SK_UPDATE_MAN=1 cargo test --test man` rewrites them.

use std::io;

/// Every man page: its file name under `man/` and its roff text.
pub fn pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = Vec::new();
    for cmd in [super::doctor::command(), super::migrate::command()] {
        let mut cmd = cmd.disable_help_subcommand(true);
        cmd.build();
        collect(&cmd, &mut pages)?;
    }
    Ok(pages)
}

fn collect(cmd: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut text = Vec::new();
    man.render(&mut text)?;
    pages.push((man.get_filename(), text));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, pages)?;
    }
    Ok(())
}
