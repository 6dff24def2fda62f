//! Materialise a fixture home kept as reviewable text (SQL, JSON, TOML) into
//! a real one: for tests, the README's demo and the benchmarks.
//!
//! `X.sql` becomes the SQLite DB `X`; every other file is copied with
//! `{{ROOT}}` replaced by the target's absolute path. Files get mode 0600,
//! directories 0700, as spec-kitty keeps them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::fsutil;

/// Copy the fixture tree `src` into `dst` (created if missing).
pub fn materialise_home(src: &Path, dst: &Path) -> Result<(), Error> {
    fsutil::create_private_dir_all(dst)?;
    let root = std::path::absolute(dst).map_err(|e| Error::io(dst, e))?;
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .map_err(|e| Error::io(src, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| Error::io(src, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let from = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if from.is_dir() {
            materialise_dir(&from, &dst.join(&name), &root)?;
        } else {
            materialise_file(&from, &dst.join(&name), &root)?;
        }
    }
    Ok(())
}

fn materialise_dir(src: &Path, dst: &Path, root: &Path) -> Result<(), Error> {
    fsutil::create_private_dir_all(dst)?;
    for entry in std::fs::read_dir(src).map_err(|e| Error::io(src, e))? {
        let from = entry.map_err(|e| Error::io(src, e))?.path();
        let Some(name) = from.file_name() else {
            continue;
        };
        let to = dst.join(name);
        if from.is_dir() {
            materialise_dir(&from, &to, root)?;
        } else {
            materialise_file(&from, &to, root)?;
        }
    }
    Ok(())
}

fn materialise_file(from: &Path, to: &Path, root: &Path) -> Result<(), Error> {
    let text = std::fs::read_to_string(from).map_err(|e| Error::io(from, e))?;
    if let Some(db) = to.to_str().and_then(|s| s.strip_suffix(".sql")) {
        let db = Path::new(db);
        fsutil::create_private_empty(db)?;
        let conn = rusqlite::Connection::open(db).map_err(|e| Error::sqlite(db, e, 0))?;
        conn.execute_batch(&text)
            .map_err(|e| Error::sqlite(from, e, 0))?;
        return Ok(());
    }
    let text = text.replace("{{ROOT}}", &root.to_string_lossy());
    fsutil::create_private_empty(to)?;
    std::fs::write(to, text).map_err(|e| Error::io(to, e))
}
/// A fake venv install of spec-kitty 3.1.4 under `root` (`venv/bin/spec-kitty`
/// whose `#!` names `venv/bin/python3`, and a site-packages with its
/// dist-info): (entry point, interpreter, lib dir). Nothing in it runs.
pub fn fake_install(root: &Path) -> Result<(PathBuf, PathBuf, PathBuf), Error> {
    let bin = root.join("venv/bin");
    let python = bin.join("python3");
    let site = root.join("venv/lib/python3.11/site-packages");
    let entry = bin.join("spec-kitty");
    let mkdir = |d: &Path| std::fs::create_dir_all(d).map_err(|e| Error::io(d, e));
    let write = |p: &Path, text: &str, mode: u32| -> Result<(), Error> {
        std::fs::write(p, text).map_err(|e| Error::io(p, e))?;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(p, e))
    };
    mkdir(&bin)?;
    mkdir(&site.join("spec_kitty_cli-3.1.4.dist-info"))?;
    mkdir(&site.join("specify_cli"))?;
    write(&site.join("specify_cli/__init__.py"), "", 0o644)?;
    write(&python, "", 0o755)?;
    let script = format!(
        "#!{}\nimport sys\nfrom specify_cli import main\nsys.exit(main())\n",
        python.display()
    );
    write(&entry, &script, 0o755)?;
    Ok((entry, python, root.join("venv/lib/python3.11")))
}
