//! A root run executes only code that root alone can change
//! (`docs/trust.md`).
//!
//! `sk-migrate run` on a 3.2.6+ home runs the installed release's own code:
//! its `spec-kitty` entry point and, for the history re-encoding and the
//! late rows, its interpreter. Run as root with a release another user can
//! write (a venv they own, a `.pth` file in its site-packages, a directory
//! on the way to it), that user's code would run as root. As git does with
//! a repository it does not own ("detected dubious ownership",
//! `safe.directory`), such a run refuses before anything is written, names
//! the path and its owner, and says how to run as that user or how to
//! state trust explicitly (`--trust-venv DIR`, `SK_TRUST_VENV`).
//!
//! [`judge`] decides from facts alone (pure); [`gather`] is the edge that
//! reads them (`lstat` only: nothing is run, nothing is followed but the
//! entry point's and the interpreter's own links). Only a root run is
//! checked: any other user's run can only do what that user can already do.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a path is, as `lstat` saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    /// A symbolic link: its own owner and mode do not matter (who can
    /// replace it is its directory's business); its target is looked at
    /// where it leads to code (the entry point, the interpreter).
    Link,
}

/// One path the release's code comes from, or one on the way to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub path: PathBuf,
    pub uid: u32,
    pub gid: u32,
    /// `st_mode & 0o7777`.
    pub mode: u32,
    pub kind: Kind,
}

/// A part of the release looked at: what it is, the directory that holds
/// it (what `--trust-venv` names), and every path found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub what: &'static str,
    pub root: PathBuf,
    pub nodes: Vec<Node>,
    /// Paths that could not be examined, with why: never taken as safe.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Everything [`judge`] needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The effective uid of this process.
    pub euid: u32,
    pub sources: Vec<Source>,
    /// Login names of the uids met (from `/etc/passwd`).
    pub names: BTreeMap<u32, String>,
}

/// What the user said they trust (`--trust-venv`, `SK_TRUST_VENV`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Trusted {
    #[default]
    Nothing,
    /// `*`: every release, whoever can change it (as git's `safe.directory=*`).
    Everything,
    /// These directories, what is in them and the path leading to them.
    Dirs(Vec<PathBuf>),
}

impl Trusted {
    /// From the option's values: `*` among them trusts everything.
    pub fn from_values(values: &[PathBuf]) -> Trusted {
        if values.iter().any(|v| v.as_os_str() == "*") {
            Trusted::Everything
        } else if values.is_empty() {
            Trusted::Nothing
        } else {
            Trusted::Dirs(values.iter().map(|v| crate::home::full_path(v)).collect())
        }
    }

    fn covers(&self, path: &Path) -> bool {
        match self {
            Trusted::Nothing => false,
            Trusted::Everything => true,
            Trusted::Dirs(dirs) => dirs
                .iter()
                .any(|d| path.starts_with(d) || d.starts_with(path)),
        }
    }
}

/// Why another user can change a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Owned by this uid (neither root nor this process).
    Owner { uid: u32, name: Option<String> },
    /// Writable by its group (not root's group).
    GroupWritable { gid: u32 },
    /// Writable by everyone (and not a sticky directory).
    OthersWritable,
    /// It could not be examined.
    Unreadable(String),
}

/// One path another user can change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: PathBuf,
    pub why: Why,
    /// The part of the release it belongs to, and that part's directory.
    pub what: &'static str,
    pub root: PathBuf,
}

/// The refusal: what another user can change, and how to go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dubious {
    pub findings: Vec<Finding>,
}

/// How many findings the message lists (the rest are counted).
const SHOWN: usize = 5;

/// Can someone other than root (or `euid`) change `node`? (pure)
fn why(node: &Node, euid: u32, names: &BTreeMap<u32, String>) -> Option<Why> {
    if node.uid != 0 && node.uid != euid {
        return Some(Why::Owner {
            uid: node.uid,
            name: names.get(&node.uid).cloned(),
        });
    }
    if node.kind == Kind::Link {
        return None;
    }
    let sticky_dir = node.kind == Kind::Dir && node.mode & 0o1000 != 0;
    if node.mode & 0o002 != 0 && !sticky_dir {
        return Some(Why::OthersWritable);
    }
    if node.mode & 0o020 != 0 && node.gid != 0 && !sticky_dir {
        return Some(Why::GroupWritable { gid: node.gid });
    }
    None
}

/// The verdict (pure): `Ok` when this run is not root, or when nobody but
/// root can change any path the release's code comes from, or when the
/// user trusts every path that someone else can change.
pub fn judge(facts: &Facts, trusted: &Trusted) -> Result<(), Dubious> {
    if facts.euid != 0 {
        return Ok(());
    }
    let mut findings: Vec<Finding> = Vec::new();
    for s in &facts.sources {
        let found = s
            .nodes
            .iter()
            .filter_map(|n| why(n, facts.euid, &facts.names).map(|w| (n.path.clone(), w)))
            .chain(
                s.unreadable
                    .iter()
                    .map(|(p, e)| (p.clone(), Why::Unreadable(e.clone()))),
            );
        for (path, why) in found {
            if trusted.covers(&path) || findings.iter().any(|f| f.path == path) {
                continue;
            }
            findings.push(Finding {
                path,
                why,
                what: s.what,
                root: s.root.clone(),
            });
        }
    }
    if findings.is_empty() {
        Ok(())
    } else {
        Err(Dubious { findings })
    }
}

impl Dubious {
    /// The directories to name in `--trust-venv`: those of the parts with
    /// findings, in the order met.
    pub fn to_trust(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = Vec::new();
        for f in &self.findings {
            if !out.contains(&f.root.as_path()) {
                out.push(&f.root);
            }
        }
        // A part inside another one (the entry point in its venv) is
        // trusted with it.
        let all = out.clone();
        out.retain(|p| !all.iter().any(|o| o != p && p.starts_with(o)));
        out
    }

    /// The users who own what was found, by name where they have one.
    fn owners(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in &self.findings {
            if let Why::Owner { uid, name } = &f.why {
                // sudo takes a uid as `#N`, which a shell reads as a comment.
                let who = name.clone().unwrap_or_else(|| format!("'#{uid}'"));
                if !out.contains(&who) {
                    out.push(who);
                }
            }
        }
        out
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Owner { uid, name: Some(n) } => write!(f, "is owned by {n} (uid {uid})"),
            Why::Owner { uid, name: None } => write!(f, "is owned by uid {uid}"),
            Why::GroupWritable { gid } => write!(f, "is writable by group {gid}"),
            Why::OthersWritable => write!(f, "is writable by everyone"),
            Why::Unreadable(e) => write!(f, "could not be examined ({e})"),
        }
    }
}

impl fmt::Display for Dubious {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "detected dubious ownership of the spec-kitty release this run would execute as root:"
        )?;
        for x in self.findings.iter().take(SHOWN) {
            writeln!(
                f,
                "  {} {} ({})",
                crate::path_text::escaped(&x.path),
                x.why,
                x.what
            )?;
        }
        if self.findings.len() > SHOWN {
            writeln!(f, "  and {} more", self.findings.len() - SHOWN)?;
        }
        write!(
            f,
            "Whoever can change these files would run their code as root (a .pth file in site-packages runs at every start of the interpreter). Nothing was written."
        )?;
        if let Some(owner) = self.owners().first() {
            write!(
                f,
                "\nRun sk-migrate as that user on their own home: sudo -u {owner} sk-migrate run"
            )?;
        }
        let dirs: Vec<String> = self
            .to_trust()
            .iter()
            .map(|d| crate::path_text::shell_word(d))
            .collect();
        write!(
            f,
            "\nOr, if you trust it, say so: sk-migrate run{} (or SK_TRUST_VENV={})",
            dirs.iter()
                .map(|d| format!(" --trust-venv {d}"))
                .collect::<String>(),
            dirs.join(":")
        )
    }
}

// ---------------------------------------------------------------------------
// The edge: what the files say.

/// One path, `lstat`ed.
fn node(path: &Path) -> std::io::Result<Node> {
    let m = std::fs::symlink_metadata(path)?;
    let t = m.file_type();
    Ok(Node {
        path: path.to_path_buf(),
        uid: m.uid(),
        gid: m.gid(),
        mode: m.mode() & 0o7777,
        kind: if t.is_symlink() {
            Kind::Link
        } else if t.is_dir() {
            Kind::Dir
        } else {
            Kind::File
        },
    })
}

impl Source {
    fn new(what: &'static str, root: &Path) -> Source {
        Source {
            what,
            root: root.to_path_buf(),
            nodes: Vec::new(),
            unreadable: Vec::new(),
        }
    }

    fn add(&mut self, path: &Path, seen: &mut HashSet<PathBuf>) -> Option<Node> {
        if !seen.insert(path.to_path_buf()) {
            return None;
        }
        match node(path) {
            Ok(n) => {
                self.nodes.push(n.clone());
                Some(n)
            }
            // Nothing there runs; who may create it is its directory's business.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                self.unreadable.push((path.to_path_buf(), e.to_string()));
                None
            }
        }
    }

    /// `path` and every directory above it, as spelled and as resolved:
    /// whoever can rename one of them can put other code at `path`.
    fn chain(&mut self, path: &Path, seen: &mut HashSet<PathBuf>) {
        let full = crate::home::full_path(path);
        for p in full.ancestors() {
            self.add(p, seen);
        }
        if let Ok(real) = std::fs::canonicalize(&full) {
            for p in real.ancestors() {
                self.add(p, seen);
            }
        }
    }

    /// Every path below `dir` (links not followed).
    fn walk(&mut self, dir: &Path, seen: &mut HashSet<PathBuf>) {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) => {
                    self.unreadable.push((d, e.to_string()));
                    continue;
                }
            };
            for entry in entries {
                match entry {
                    Ok(e) => {
                        if let Some(n) = self.add(&e.path(), seen)
                            && n.kind == Kind::Dir
                        {
                            stack.push(n.path);
                        }
                    }
                    Err(e) => self.unreadable.push((d.clone(), e.to_string())),
                }
            }
        }
    }

    /// `dir` and the entries directly in it.
    fn shallow(&mut self, dir: &Path, seen: &mut HashSet<PathBuf>) {
        self.add(dir, seen);
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                self.add(&e.path(), seen);
            }
        }
    }
}

/// The `lib{,64}/python3*` directories of a prefix.
fn lib_dirs(prefix: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for lib in ["lib", "lib64"] {
        if let Ok(entries) = std::fs::read_dir(prefix.join(lib)) {
            for e in entries.flatten() {
                if e.file_name().as_encoded_bytes().starts_with(b"python3") {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    out
}

/// `include-system-site-packages = true` in a venv's `pyvenv.cfg` (an
/// unreadable one counts as true: more is looked at, never less).
fn includes_system_site_packages(cfg: &Path) -> bool {
    let Ok(Some(text)) = crate::fsutil::read_text(cfg) else {
        return true;
    };
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "include-system-site-packages")
        .is_none_or(|(_, v)| v.trim().eq_ignore_ascii_case("true"))
}

/// The directories the `.pth` files of `site` put on the interpreter's
/// path (lines that are not comments nor `import` lines).
fn pth_dirs(site: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(site) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "pth") {
            continue;
        }
        let Ok(Some(text)) = crate::fsutil::read_text(&p) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with("import") {
                continue;
            }
            let dir = site.join(line);
            if dir.is_dir() {
                out.push(dir);
            }
        }
    }
    out
}

/// Read the facts for a release run by `entry` (its `spec-kitty`) and
/// `python` (its interpreter): the entry point and the interpreter with
/// every directory above them; the whole venv (a prefix holding
/// `pyvenv.cfg`); the standard library's directory and its top-level
/// files; each site-packages and the directories its `.pth` files add.
pub fn gather(entry: &Path, python: Option<&Path>) -> Facts {
    let euid = rustix::process::geteuid().as_raw();
    let mut sources = Vec::new();
    // Each path is looked at once, in the first part it is met in.
    let mut seen = HashSet::new();
    let mut s = Source::new("the spec-kitty entry point", entry);
    s.chain(entry, &mut seen);
    sources.push(s);
    let Some(python) = python else {
        let mut s = Source::new("the release's interpreter", entry);
        s.unreadable.push((
            entry.to_path_buf(),
            "its #! line names no interpreter this tool can find".to_string(),
        ));
        sources.push(s);
        return facts_of(euid, sources);
    };
    let full = crate::home::full_path(python);
    let mut s = Source::new("the release's interpreter", &full);
    s.chain(&full, &mut seen);
    sources.push(s);
    let venv = full.parent().and_then(Path::parent);
    let mut sites = Vec::new();
    // A venv that does not include the system site-packages never imports
    // from the base interpreter's (the default of `python -m venv`).
    let mut base_sites = true;
    if let Some(prefix) = venv.filter(|p| p.join("pyvenv.cfg").is_file()) {
        let mut s = Source::new("the release's venv", prefix);
        s.chain(prefix, &mut seen);
        s.walk(prefix, &mut seen);
        sources.push(s);
        sites.extend(lib_dirs(prefix));
        base_sites = includes_system_site_packages(&prefix.join("pyvenv.cfg"));
    }
    if let Some(base) = std::fs::canonicalize(&full)
        .ok()
        .and_then(|r| r.parent().and_then(Path::parent).map(Path::to_path_buf))
    {
        for lib in lib_dirs(&base) {
            let mut s = Source::new("the interpreter's standard library", &base);
            s.chain(&lib, &mut seen);
            s.shallow(&lib, &mut seen);
            for leaf in ["site-packages", "dist-packages"] {
                let site = lib.join(leaf);
                if base_sites && site.is_dir() {
                    s.walk(&site, &mut seen);
                }
            }
            sources.push(s);
            if base_sites {
                sites.push(lib);
            }
        }
    }
    for lib in sites {
        for leaf in ["site-packages", "dist-packages"] {
            for dir in pth_dirs(&lib.join(leaf)) {
                let mut s = Source::new("a directory a .pth file puts on the path", &dir);
                s.chain(&dir, &mut seen);
                s.walk(&dir, &mut seen);
                sources.push(s);
            }
        }
    }
    facts_of(euid, sources)
}

/// The facts, with the login names of the uids met.
fn facts_of(euid: u32, sources: Vec<Source>) -> Facts {
    let mut names = BTreeMap::new();
    for n in sources.iter().flat_map(|s| &s.nodes) {
        if n.uid != 0
            && n.uid != euid
            && !names.contains_key(&n.uid)
            && let Some(name) = crate::home::user_name(n.uid)
        {
            names.insert(n.uid, name);
        }
    }
    Facts {
        euid,
        sources,
        names,
    }
}

/// Refuse a root run of a release another user can change (the edge:
/// [`gather`], then [`judge`]). Nothing is read when this run is not root.
pub fn require(entry: &Path, python: Option<&Path>, trusted: &Trusted) -> Result<(), Dubious> {
    if !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    judge(&gather(entry, python), trusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(path: &str, uid: u32, mode: u32, kind: Kind) -> Node {
        Node {
            path: PathBuf::from(path),
            uid,
            gid: uid,
            mode,
            kind,
        }
    }

    fn facts(euid: u32, nodes: Vec<Node>) -> Facts {
        Facts {
            euid,
            sources: vec![Source {
                what: "the release's venv",
                root: PathBuf::from("/home/al/venv"),
                nodes,
                unreadable: Vec::new(),
            }],
            names: BTreeMap::from([(1000, "al".to_string())]),
        }
    }

    fn root_owned() -> Vec<Node> {
        vec![
            n("/", 0, 0o755, Kind::Dir),
            n("/tmp", 0, 0o1777, Kind::Dir),
            n("/home/al/venv/bin/python", 1000, 0o777, Kind::Link),
        ]
    }

    #[test]
    fn a_release_only_root_can_change_is_run() {
        let mut nodes = root_owned();
        nodes.retain(|n| n.kind != Kind::Link);
        assert_eq!(judge(&facts(0, nodes), &Trusted::Nothing), Ok(()));
    }

    #[test]
    fn a_link_is_judged_by_its_directory_and_target_not_its_own_bits() {
        let link = n("/opt/v/bin/python", 0, 0o777, Kind::Link);
        assert_eq!(judge(&facts(0, vec![link]), &Trusted::Nothing), Ok(()));
    }

    #[test]
    fn a_path_another_user_owns_or_can_write_is_dubious_for_root() {
        let cases = [
            (
                n("/home/al/venv/lib", 1000, 0o755, Kind::Dir),
                "owned by al (uid 1000)",
            ),
            (
                n("/opt/v/x.pth", 0, 0o666, Kind::File),
                "writable by everyone",
            ),
            (
                Node {
                    gid: 50,
                    ..n("/opt/v/lib", 0, 0o775, Kind::Dir)
                },
                "writable by group 50",
            ),
            (n("/srv", 0, 0o777, Kind::Dir), "writable by everyone"),
        ];
        for (node, says) in cases {
            let err = judge(&facts(0, vec![node.clone()]), &Trusted::Nothing).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(says), "{text}");
            assert!(text.contains("detected dubious ownership"), "{text}");
            assert!(text.contains("--trust-venv /home/al/venv"), "{text}");
            assert!(text.contains("Nothing was written"), "{text}");
        }
        // As any other user nothing is judged: it runs what it can change.
        let al = n("/home/al/venv/lib", 1000, 0o755, Kind::Dir);
        assert_eq!(judge(&facts(1000, vec![al]), &Trusted::Nothing), Ok(()));
    }

    #[test]
    fn the_refusal_says_who_owns_it_and_how_to_run_as_them() {
        let al = n(
            "/home/al/venv/lib/python3.12/site-packages",
            1000,
            0o755,
            Kind::Dir,
        );
        let text = judge(&facts(0, vec![al]), &Trusted::Nothing)
            .unwrap_err()
            .to_string();
        assert!(text.contains("sudo -u al sk-migrate run"), "{text}");
        assert!(text.contains("SK_TRUST_VENV=/home/al/venv"), "{text}");
    }

    #[test]
    fn stated_trust_covers_the_directory_what_is_in_it_and_the_path_to_it() {
        let nodes = vec![
            n("/home/al", 1000, 0o755, Kind::Dir),
            n("/home/al/venv/lib/x.pth", 1000, 0o644, Kind::File),
        ];
        let venv = Trusted::from_values(&[PathBuf::from("/home/al/venv")]);
        assert_eq!(judge(&facts(0, nodes.clone()), &venv), Ok(()));
        let other = Trusted::from_values(&[PathBuf::from("/home/bo/venv")]);
        assert_eq!(
            judge(&facts(0, nodes.clone()), &other)
                .unwrap_err()
                .findings
                .len(),
            2
        );
        let all = Trusted::from_values(&[PathBuf::from("*")]);
        assert_eq!(judge(&facts(0, nodes), &all), Ok(()));
    }

    #[test]
    fn what_could_not_be_examined_is_never_taken_as_safe() {
        let mut f = facts(0, Vec::new());
        f.sources[0]
            .unreadable
            .push((PathBuf::from("/nfs/v/lib"), "permission denied".into()));
        let text = judge(&f, &Trusted::Nothing).unwrap_err().to_string();
        assert!(
            text.contains("could not be examined (permission denied)"),
            "{text}"
        );
    }

    #[test]
    fn a_venv_sees_the_system_site_packages_only_when_its_cfg_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("pyvenv.cfg");
        for (text, includes) in [
            (
                "home = /usr/bin\ninclude-system-site-packages = false\n",
                false,
            ),
            ("include-system-site-packages = True\n", true),
            ("home = /usr/bin\n", true),
        ] {
            std::fs::write(&cfg, text).unwrap();
            assert_eq!(includes_system_site_packages(&cfg), includes, "{text}");
        }
        assert!(includes_system_site_packages(&dir.path().join("none.cfg")));
    }

    #[test]
    fn gather_reads_a_venv_whole_and_its_interpreters_path() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("venv");
        let site = v.join("lib/python3.12/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::create_dir_all(v.join("bin")).unwrap();
        std::fs::write(v.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        std::fs::write(v.join("bin/python"), "").unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("mod.py"), "").unwrap();
        std::fs::write(
            site.join("x.pth"),
            format!("import os\n{}\n", src.display()),
        )
        .unwrap();
        let f = gather(&v.join("bin/spec-kitty"), Some(&v.join("bin/python")));
        let all: Vec<&Path> = f
            .sources
            .iter()
            .flat_map(|s| s.nodes.iter().map(|n| n.path.as_path()))
            .collect();
        for want in [site.join("x.pth"), v.join("pyvenv.cfg"), src.join("mod.py")] {
            assert!(all.contains(&want.as_path()), "{want:?} in {all:?}");
        }
        assert!(all.contains(&Path::new("/")));
        // Nothing runs from a path that does not exist.
        assert!(f.sources.iter().all(|s| s.unreadable.is_empty()));
        let none = gather(&v.join("bin/spec-kitty"), None);
        assert!(judge(&Facts { euid: 0, ..none }, &Trusted::Nothing).is_err());
    }
}
