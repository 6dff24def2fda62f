//! Root never runs what another user can write (`docs/trust.md`): as root,
//! `sk-migrate run` on a 3.2.6+ home whose `--spec-kitty` is a venv that uid
//! 4242 owns refuses, naming the owner, how to run as them and how to state
//! trust, and runs nothing: a `.pth` file in that venv's site-packages,
//! which writes a marker at every start of the interpreter, wrote none.
//! With `--trust-venv` the same run executes the release (the marker says
//! as uid 0) and carries the home. Needs root and the newest project-store
//! release's venv.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::harness::{self as e2e, Need, Trial};

pub fn trials() -> Vec<Trial> {
    let newest = e2e::captured()
        .into_iter()
        .rfind(|c| c.generation() == "project-store");
    newest
        .map(|c| {
            e2e::release_machine_trial(
                format!(
                    "root_trust::{}::a_root_run_refuses_a_venv_another_user_owns_and_runs_nothing",
                    c.release
                ),
                &c.release,
                &[Need::Root],
                refuses_a_venv_another_user_owns,
            )
        })
        .into_iter()
        .collect()
}

/// A venv of uid 4242 at `dir/venv` that runs the release of `real` (its
/// interpreter, and its site-packages through a `.pth` line), whose
/// `marker.pth` creates `markers/marker-<uid>` at every start. Its entry point.
fn users_venv(real: &Path, dir: &Path) -> PathBuf {
    let v = dir.join("venv");
    let lib = std::fs::read_dir(real.join("lib"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .unwrap()
        .file_name();
    let real_site = real.join("lib").join(&lib).join("site-packages");
    let site = v.join("lib").join(&lib).join("site-packages");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::create_dir_all(v.join("bin")).unwrap();
    std::fs::copy(real.join("pyvenv.cfg"), v.join("pyvenv.cfg")).unwrap();
    let python = std::fs::canonicalize(real.join("bin/python")).unwrap();
    std::os::unix::fs::symlink(&python, v.join("bin/python3")).unwrap();
    std::os::unix::fs::symlink("python3", v.join("bin/python")).unwrap();
    std::fs::write(
        site.join("release.pth"),
        format!("{}\n", real_site.display()),
    )
    .unwrap();
    let markers = dir.join("markers");
    std::fs::create_dir_all(&markers).unwrap();
    std::fs::write(
        site.join("marker.pth"),
        format!(
            "import os; open(os.path.join({:?}, 'marker-%d' % os.getuid()), 'w').close()\n",
            markers.display().to_string()
        ),
    )
    .unwrap();
    for e in std::fs::read_dir(&real_site).unwrap().flatten() {
        let name = e.file_name();
        if name.to_string_lossy().starts_with("spec_kitty_cli-") {
            std::os::unix::fs::symlink(e.path(), site.join(&name)).unwrap();
        }
    }
    let entry = std::fs::read_to_string(real.join("bin/spec-kitty")).unwrap();
    let body = entry.split_once('\n').unwrap().1;
    let sk = v.join("bin/spec-kitty");
    std::fs::write(
        &sk,
        format!("#!{}\n{body}", v.join("bin/python3").display()),
    )
    .unwrap();
    std::fs::set_permissions(&sk, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    crate::foreign_home::chown_tree(&v, 4242, 4242);
    sk
}

fn sk_migrate(home: &Path, root: &Path, sk: &Path, args: &[&str]) -> Output {
    crate::cutover::tool("sk-migrate", home, root, sk, args)
}

fn markers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("markers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn refuses_a_venv_another_user_owns(real: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let sk = users_venv(real, dir.path());
    let venv = dir.path().join("venv");
    let root = dir.path().join(".spec-kitty");
    crate::shared::home_before_cutover(&root);
    let before = crate::shared::tree_hash(&root);
    for args in [&["run"][..], &["run", "--dry-run"], &["run", "--json"]] {
        let out = sk_migrate(dir.path(), &root, &sk, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        for want in [
            "detected dubious ownership",
            "owned by uid 4242",
            "sudo -u '#4242' sk-migrate run",
            &format!("--trust-venv {}", venv.display()),
            "Nothing was written",
        ] {
            assert!(err.contains(want), "{want} not in: {err}");
        }
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(markers(dir.path()), Vec::<String>::new(), "code ran");
    assert_eq!(
        crate::shared::tree_hash(&root),
        before,
        "a refused run wrote"
    );

    // Trust stated: the release runs (as root: the marker says so).
    let trust = format!("--trust-venv={}", venv.display());
    let out = sk_migrate(dir.path(), &root, &sk, &["run", "--json", &trust]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "migrated", "{report:#}");
    assert_eq!(markers(dir.path()), vec!["marker-0".to_string()]);
}
