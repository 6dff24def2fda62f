//! The daemon and its owner record: a live daemon of another release, a
//! record whose daemon is gone, a record cut short, a record others can
//! read or replace; and a home a root run left its owner unable to use.

use std::path::Path;

use super::{Case, clears, no_user_step, on};
use crate::harness::{self as e2e, Completion, Trial};

pub fn trials() -> Vec<Trial> {
    vec![
        on("3.2.7", "daemon_mismatch", daemon_mismatch),
        on("3.2.7", "orphan_daemon", orphan_daemon),
        on("3.2.7", "owner_record_malformed", malformed),
        on("3.2.7", "owner_record_permissions", permissions),
        as_root("unusable_by_owner", unusable_by_owner),
    ]
}

/// The release's own writer records a daemon with pid `pid` and this
/// release's own foreground identity.
fn write_record(c: &Case, pid: u32) {
    c.python(
        &c.venv,
        "import sys\nfrom specify_cli.sync import owner\n\
         fg = owner.compute_foreground_identity(allow_network=False)\n\
         rec = owner.DaemonOwnerRecord(pid=int(sys.argv[1]), port=9417, token='fixes-token-not-shown',\n\
         \x20   started_at='2026-01-01T00:00:00+00:00', **fg)\n\
         owner.write_owner_record(rec)\n",
        &[&pid.to_string()],
    );
}

fn record(c: &Case) -> std::path::PathBuf {
    c.root.join("sync/daemon/owner.json")
}

/// Stops, by the release's own `stop_sync_daemon`, whichever daemon the
/// home's state file names (the ones this trial had the releases start),
/// however the trial ends.
struct Daemons(std::process::Command);

impl Drop for Daemons {
    fn drop(&mut self) {
        let _ = self.0.output();
    }
}

/// 3.2.6's own daemon runs (started by its own `ensure_sync_daemon_running`)
/// while 3.2.7 is the CLI: they differ in package_version. The fix is
/// 3.2.7's own `spec-kitty doctor restart-daemon`, run verbatim; the
/// server is the loopback fake, so nothing leaves the machine.
fn daemon_mismatch(venv: &Path) {
    let older = e2e::venv("3.2.6").expect(
        "the 3.2.6 venv runs the other daemon (scripts/release-fixtures --venvs-only 3.2.6)",
    );
    let mut c = Case::new(venv);
    let fake = super::stores::Fake::start(&c);
    c.env
        .push(("SPEC_KITTY_SAAS_URL".into(), fake.url.clone().into()));
    c.env
        .push(("SPEC_KITTY_ENABLE_SAAS_SYNC".into(), "1".into()));
    let mut stop = c.cmd(venv.join("bin/python"));
    stop.args([
        "-c",
        "from specify_cli.sync.daemon import stop_sync_daemon; print(stop_sync_daemon())",
    ]);
    let _daemons = Daemons(stop);
    let started = c.python(
        &older,
        "from specify_cli.sync.daemon import ensure_sync_daemon_running, DaemonIntent\n\
         print(ensure_sync_daemon_running(intent=DaemonIntent.REMOTE_REQUIRED).started)\n",
        &[],
    );
    assert_eq!(started.trim(), "True", "3.2.6's daemon did not start");
    clears(&mut c, "daemon_mismatch", &[], &mut no_user_step);
    let doc = c.doctor(&[]);
    assert_eq!(doc["daemon_owner"]["record"]["package_version"], "3.2.7");
}

fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn orphan_daemon(venv: &Path) {
    let mut c = Case::new(venv);
    write_record(&c, dead_pid());
    clears(&mut c, "orphan_daemon", &[], &mut no_user_step);
    assert!(!record(&c).exists());
}

/// A record cut short mid-write (what a crash or a full disk leaves).
fn malformed(venv: &Path) {
    let mut c = Case::new(venv);
    write_record(&c, std::process::id());
    let text = std::fs::read_to_string(record(&c)).unwrap();
    std::fs::write(record(&c), &text[..text.len() / 2]).unwrap();
    clears(&mut c, "owner_record_malformed", &[], &mut no_user_step);
    assert!(
        c.root.join("sync/daemon/owner.json.malformed").is_file(),
        "kept aside"
    );
}

/// The release's record, readable by others (a umask, a copied home);
/// then its directory writable by others.
fn permissions(venv: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut c = Case::new(venv);
    write_record(&c, std::process::id());
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(&record(&c), 0o644);
    clears(&mut c, "owner_record_permissions", &[], &mut no_user_step);
    mode(&c.root.join("sync/daemon"), 0o777);
    clears(&mut c, "owner_record_permissions", &[], &mut no_user_step);
}

/// A trial that needs root: ignored with its reason otherwise, failed
/// under `SK_E2E=require`.
fn as_root(name: &str, body: fn(&Path)) -> Trial {
    let name = format!("fixes_clear::3.2.5::{name}");
    if !rustix::process::geteuid().is_root() {
        if e2e::required() {
            return Trial::test(name, || {
                Err("SK_E2E=require: this trial needs root (a root run leaves the state)".into())
            });
        }
        return Trial::ignorable_test(name, || {
            Ok(Completion::ignored_with(
                "needs root: a root run on a user's home leaves the state",
            ))
        });
    }
    e2e::release_trial(name, "3.2.5", body)
}

/// spec-kitty run as root on uid 4242's home (a `sudo` habit): 3.2.5's
/// own writer leaves root's queue DB there, which 4242 cannot write.
fn unusable_by_owner(venv: &Path) {
    let mut c = Case::new(venv);
    std::os::unix::fs::chown(&c.root, Some(4242), Some(4242)).unwrap();
    c.write_legacy(1, 0, 0);
    clears(&mut c, "unusable_by_owner", &[], &mut no_user_step);
}
