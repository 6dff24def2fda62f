//! Test support: temporary homes built from the text fixtures in `fixtures/`.
#![allow(dead_code)]

pub mod release_ddl;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use rusqlite::types::Value;
use sha2::{Digest, Sha256};

use sk_boundary::doctor::owner::{self, OwnerRecord, Secret};
use sk_boundary::{Home, Scope};

pub mod e2e;

pub const SERVER: &str = "https://sync.example.test";
pub const USER: &str = "robert@example.com";
pub const TEAM: &str = "team-a";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

pub fn fixture_sql(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("sql/{name}.sql"))).unwrap()
}

/// Create a SQLite DB at `path` from SQL text.
pub fn materialise(path: &Path, sql: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
}

pub struct TestHome {
    pub dir: tempfile::TempDir,
    pub home: Home,
}

impl TestHome {
    pub fn new() -> TestHome {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join(".spec-kitty"));
        std::fs::create_dir_all(home.root()).unwrap();
        TestHome { dir, home }
    }

    pub fn root(&self) -> &Path {
        self.home.root()
    }

    pub fn scope(&self) -> Scope {
        Scope::new(SERVER, USER, TEAM)
    }

    pub fn scoped_path(&self) -> PathBuf {
        self.home.scoped_queue(&self.scope())
    }

    /// An older CLI's login: the `credentials` file naming SERVER/USER/TEAM.
    pub fn login(&self) -> &Self {
        std::fs::write(
            self.home.credentials(),
            "[user]\nusername = \"Robert@Example.com\"\nteam_slug = \"Team-A\"\ntoken = \"cred-SECRET\"\n\n[server]\nurl = \"https://Sync.Example.test/\"\n",
        )
        .unwrap();
        self
    }

    pub fn legacy(&self, fixture: &str) -> &Self {
        materialise(&self.home.legacy_queue(), &fixture_sql(fixture));
        self
    }

    pub fn scoped(&self, fixture: &str) -> &Self {
        materialise(&self.scoped_path(), &fixture_sql(fixture));
        self
    }

    pub fn cmd(&self, bin: &str) -> Bin {
        let mut c = Bin::new(bin);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("SPEC_KITTY_HOME", self.root())
            // A release that honours SPEC_KITTY_HOME and keeps V5 queue DBs.
            .env("SK_RELEASE", "3.2.5");
        c
    }
}

/// One of the binaries, run the way the suites run it: every run is checked
/// never to end in a panic (exit 101), whatever else the test asserts.
pub struct Bin(assert_cmd::Command);

impl Bin {
    pub fn new(bin: &str) -> Bin {
        Bin(assert_cmd::Command::cargo_bin(bin).unwrap())
    }
    pub fn arg(&mut self, a: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.0.arg(a);
        self
    }
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.0.args(args);
        self
    }
    pub fn env(
        &mut self,
        k: impl AsRef<std::ffi::OsStr>,
        v: impl AsRef<std::ffi::OsStr>,
    ) -> &mut Self {
        self.0.env(k, v);
        self
    }
    pub fn env_remove(&mut self, k: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.0.env_remove(k);
        self
    }
    pub fn env_clear(&mut self) -> &mut Self {
        self.0.env_clear();
        self
    }
    pub fn write_stdin(&mut self, input: impl Into<Vec<u8>>) -> &mut Self {
        self.0.write_stdin(input);
        self
    }
    pub fn assert(&mut self) -> assert_cmd::assert::Assert {
        let out = self.0.assert();
        no_panic(out.get_output());
        out
    }
    pub fn output(&mut self) -> std::io::Result<std::process::Output> {
        let out = self.0.output()?;
        no_panic(&out);
        Ok(out)
    }
}

/// Fail on a binary that panicked (exit 101, or "panicked at" on stderr).
pub fn no_panic(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() != Some(101) && !stderr.contains("panicked at"),
        "the binary panicked: {stderr}"
    );
}

/// SHA-256 of every file under `root`, by relative path: "byte-identical" checks.
pub fn tree_hash(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, hex::encode(Sha256::digest(&bytes)));
            }
        }
    }
    out
}

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

/// Every event id and body-upload natural key (in `tables::BODY_UPLOAD_QUEUE`
/// key order) the project stores under `root` (a 3.2.6+ home) hold.
pub fn store_keys(
    root: &Path,
) -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<Vec<String>>,
) {
    let mut events = std::collections::BTreeSet::new();
    let mut bodies = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(root.join("projects")).unwrap().flatten() {
        let db = e.path().join("sync/sync.db");
        if !db.is_file() {
            continue;
        }
        let c = Connection::open(&db).unwrap();
        let mut st = c.prepare("SELECT entry_id FROM journal_entries").unwrap();
        events.extend(
            st.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .flatten(),
        );
        let mut st = c
            .prepare("SELECT project_uuid, content_hash, body_reference FROM body_upload_tasks")
            .unwrap();
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .unwrap();
        for row in rows.flatten() {
            let (project, hash, reference) = row;
            let v: serde_json::Value = serde_json::from_str(&reference).unwrap();
            let f = |k: &str| match &v[k] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            bodies.insert(vec![
                project,
                f("mission_slug"),
                f("target_branch"),
                f("mission_type"),
                f("manifest_version"),
                f("artifact_path"),
                hash,
            ]);
        }
    }
    (events, bodies)
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

/// The home 3.2.5 wrote that 3.2.7 then took over, as captured by
/// `scripts/release_fixtures/capture_store.py`
/// (`fixtures/releases/3.2.7/cutover/home_before`): `*.sql` dumps become
/// `*.db`, other files are copied.
#[allow(dead_code)]
pub fn home_before_cutover(dst: &Path) {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases/3.2.7/cutover/home_before");
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(&src).unwrap();
            if p.is_dir() {
                std::fs::create_dir_all(dst.join(rel)).unwrap();
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "sql") {
                let db = dst.join(rel).with_extension("db");
                std::fs::create_dir_all(db.parent().unwrap()).unwrap();
                let conn = rusqlite::Connection::open(&db).unwrap();
                conn.execute_batch(&std::fs::read_to_string(&p).unwrap())
                    .unwrap();
            } else {
                std::fs::copy(&p, dst.join(rel)).unwrap();
            }
        }
    }
}
