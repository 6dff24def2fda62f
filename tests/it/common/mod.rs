//! Test support: temporary homes built from the text fixtures in `fixtures/`.

pub mod release_ddl;

pub use crate::shared::{
    Bin, TestHome, fixture, fixture_sql, home_before_cutover, materialise, no_panic, tree_hash,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use rusqlite::types::Value;

use sk_boundary::doctor::owner::{self, OwnerRecord, Secret};

/// Every row of `table` (all columns but `id`, by name), ordered by id.
pub fn rows(path: &Path, table: &str) -> Vec<BTreeMap<String, Value>> {
    let conn = Connection::open(path).unwrap();
    rows_on(&conn, table)
}

pub fn rows_on(conn: &Connection, table: &str) -> Vec<BTreeMap<String, Value>> {
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {table} ORDER BY id"))
        .unwrap();
    let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    stmt.query_map([], |r| {
        let mut m = BTreeMap::new();
        for (i, n) in names.iter().enumerate() {
            m.insert(n.clone(), r.get::<_, Value>(i)?);
        }
        Ok(m)
    })
    .unwrap()
    .collect::<Result<Vec<_>, _>>()
    .unwrap()
}

pub fn count(path: &Path, table: &str) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

pub const TOKEN: &str = "tok-PLANTED-d0c70r-93ff";

/// A fake venv install of spec-kitty 3.1.4 under `root`: (entry point, interpreter, checkout).
pub fn fake_install(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    sk_boundary::fixture::fake_install(root).unwrap()
}

pub struct Coherent {
    pub h: TestHome,
    pub entry: PathBuf,
    pub record: OwnerRecord,
}

/// A home where the daemon (this test process, alive) matches the foreground:
/// the record holds what 3.2.5's `compute_foreground_identity` derives for
/// this home (the conformance suite pins that derivation to the release's).
pub fn coherent() -> Coherent {
    let h = TestHome::new();
    h.login().scoped("scoped_v5");
    let (entry, python, checkout) = fake_install(h.dir.path());
    let env = sk_boundary::login::Env {
        saas_enabled: false,
        saas_url: None,
        profile: sk_boundary::release::profile_for(
            &sk_boundary::release::Version::parse("3.2.5").unwrap(),
        )
        .unwrap(),
    };
    let resolution = sk_boundary::login::resolve(&h.home, None, &env);
    let fg = sk_boundary::doctor::identity::from_resolution(&h.home, &resolution, &env);
    let record = OwnerRecord {
        pid: std::process::id() as i64,
        port: 9400,
        token: Secret::new(TOKEN),
        package_version: "3.1.4".into(),
        executable_path: python.display().to_string(),
        source_checkout_path: checkout.display().to_string(),
        server_url: fg.server_url.unwrap(),
        auth_principal: fg.auth_principal,
        auth_team: fg.auth_team,
        auth_scope: fg.auth_scope.as_deref().map(str::to_string),
        queue_db_path: fg.queue_db_path.unwrap(),
        started_at: "2026-11-20T08:00:00Z".into(),
    };
    owner::write(&h.home.owner_record(), &record).unwrap();
    Coherent { h, entry, record }
}

impl Coherent {
    pub fn doctor(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.h
            .cmd("sk-doctor")
            .arg("--no-probe")
            .arg("--spec-kitty")
            .arg(&self.entry)
            .args(args)
            .assert()
    }

    pub fn json(&self, extra: &[&str]) -> (serde_json::Value, i32) {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let out = self.doctor(&args);
        let o = out.get_output();
        (
            serde_json::from_slice(&o.stdout).unwrap(),
            o.status.code().unwrap(),
        )
    }

    pub fn rewrite(&self, f: impl FnOnce(&mut OwnerRecord)) {
        let mut r = self.record.clone();
        f(&mut r);
        owner::write(&self.h.home.owner_record(), &r).unwrap();
    }
}

/// The pid of a child that has exited: not alive.
pub fn dead_pid() -> i64 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id() as i64;
    child.wait().unwrap();
    pid
}

/// An observer that fails the move at one step (fault injection).
pub struct FailAt(pub sk_boundary::migrate::observe::Step);

impl sk_boundary::migrate::observe::Observer for FailAt {
    fn checkpoint(
        &mut self,
        step: sk_boundary::migrate::observe::Step,
    ) -> Result<(), sk_boundary::Error> {
        if step == self.0 {
            return Err(sk_boundary::Error::Malformed {
                path: "injected".into(),
                detail: format!("{step:?}"),
            });
        }
        Ok(())
    }
}
