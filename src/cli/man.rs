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
    match cmd.get_after_help() {
        None => man.render(&mut text)?,
        Some(after) => {
            // clap_mangen fills the after-help text like prose; the examples
            // are a verbatim block.
            man.render_title(&mut text)?;
            man.render_name_section(&mut text)?;
            man.render_synopsis_section(&mut text)?;
            man.render_description_section(&mut text)?;
            man.render_options_section(&mut text)?;
            man.render_subcommands_section(&mut text)?;
            text.extend_from_slice(b".SH EXAMPLES\n.nf\n");
            text.extend_from_slice(verbatim(&after.to_string()).as_bytes());
            text.extend_from_slice(b".fi\n");
            man.render_version_section(&mut text)?;
        }
    }
    pages.push((man.get_filename(), text));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, pages)?;
    }
    Ok(())
}

/// `text` as roff no-fill lines: backslashes escaped, and a line that would
/// read as a request (leading `.` or `'`) guarded with `\&`.
fn verbatim(text: &str) -> String {
    text.lines()
        .map(|l| {
            let l = l.replace('\\', "\\e");
            if l.starts_with(['.', '\'']) {
                format!("\\&{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbatim_escapes_roff() {
        assert_eq!(verbatim("a\\b\n.x\n'y"), "a\\eb\n\\&.x\n\\&'y\n");
    }
}
