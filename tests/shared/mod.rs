//! Support both test binaries use: the integration tests (`tests/it`) and
//! the end-to-end harness (`tests/system`). Only what both use lives here; each
//! binary's own support is its `common` (`tests/it/common`) or `harness`
//! (`tests/system/harness.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sha2::{Digest, Sha256};
use sk_boundary::{Home, Scope};

pub const SERVER: &str = "https://sync.example.test";
pub const USER: &str = "robert@example.com";
pub const TEAM: &str = "team-a";

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

/// The home 3.2.5 wrote that 3.2.7 then took over, as captured by
/// `scripts/release_fixtures/capture_store.py`
/// (`fixtures/releases/3.2.7/cutover/home_before`): `*.sql` dumps become
/// `*.db`, other files are copied.
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
    pub fn env_clear(&mut self) -> &mut Self {
        self.0.env_clear();
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

/// Rows of every table of the home's legacy queue DB.
pub fn legacy_rows(h: &TestHome) -> u64 {
    let c = Connection::open(h.home.legacy_queue()).unwrap();
    ["queue", "body_upload_queue", "body_upload_failure_log"]
        .iter()
        .map(|t| {
            c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap() as u64
        })
        .sum()
}

/// Every journal line parses; (table, key) of each, checked unique.
pub fn journal_keys(h: &TestHome) -> BTreeSet<String> {
    let text = std::fs::read_to_string(h.home.migrate_journal()).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "journal ends torn");
    let mut keys = BTreeSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("unparseable journal line {line:?}: {e}"));
        let k = format!("{}{}", v["table"], v["key"]);
        assert!(keys.insert(k.clone()), "audit line twice: {k}");
    }
    keys
}

/// stdout of a `--json` run.
pub fn json(out: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// The codes of sk-doctor's problems.
pub fn codes(doctor: &serde_json::Value) -> Vec<String> {
    doctor["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

/// sk-doctor's problem `code`.
pub fn problem<'a>(doctor: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    doctor["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == code)
        .unwrap_or_else(|| panic!("no {code}: {doctor:#}"))
}
