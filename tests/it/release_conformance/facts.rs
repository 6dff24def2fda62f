//! A captured release's `facts.json`, read through a checker that records
//! every value a test compared, so a test can fail on any fact nobody
//! compared.
//!
//! Reading a value with [`Node::at`] means "this whole value is compared":
//! the caller must then compare it (all of it) with what our code derives.
//! [`Facts::unchecked`] lists every leaf of the JSON no read covered.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

static NULL: Value = Value::Null;

/// One release's facts and the record of what was compared.
pub struct Facts {
    pub release: String,
    pub dir: PathBuf,
    value: Value,
    seen: RefCell<BTreeSet<String>>,
}

/// Every `fixtures/releases/*/facts.json`, oldest release first.
pub fn all() -> Vec<Facts> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let path = dir.join("facts.json");
        if path.exists() {
            out.push(Facts::from_value(
                dir.clone(),
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap(),
            ));
        }
    }
    out.sort_by_key(|f| {
        f.release
            .split('.')
            .map(|n| n.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    });
    out
}

impl Facts {
    pub fn from_value(dir: PathBuf, value: Value) -> Facts {
        let release = dir.file_name().unwrap().to_string_lossy().into_owned();
        Facts {
            release,
            dir,
            value,
            seen: RefCell::new(BTreeSet::new()),
        }
    }

    pub fn root(&self) -> Node<'_> {
        Node {
            facts: self,
            ptr: String::new(),
        }
    }

    /// Shorthand for `root().at(key)`.
    pub fn at(&self, key: &str) -> &Value {
        self.root().at(key)
    }

    /// The raw value, for mutation tests.
    pub fn value_mut(&mut self) -> &mut Value {
        &mut self.value
    }

    pub fn leaves(&self) -> Vec<String> {
        let mut out = Vec::new();
        leaves(&self.value, String::new(), &mut out);
        out
    }

    /// Leaves of the facts that no read covered.
    pub fn unchecked(&self) -> Vec<String> {
        let seen = self.seen.borrow();
        self.leaves()
            .into_iter()
            .filter(|leaf| !covered(&seen, leaf))
            .collect()
    }
}

fn covered(seen: &BTreeSet<String>, leaf: &str) -> bool {
    let mut p = leaf;
    loop {
        if seen.contains(p) {
            return true;
        }
        match p.rfind('/') {
            Some(i) => p = &p[..i],
            None => return seen.contains(""),
        }
    }
}

fn leaves(v: &Value, ptr: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                leaves(v, format!("{ptr}/{}", escape(k)), out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                leaves(v, format!("{ptr}/{i}"), out);
            }
        }
        _ => out.push(ptr),
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A place in the facts.
#[derive(Clone)]
pub struct Node<'a> {
    facts: &'a Facts,
    ptr: String,
}

impl<'a> Node<'a> {
    fn child_ptr(&self, key: &str) -> String {
        format!("{}/{}", self.ptr, escape(key))
    }

    /// Where this node is, for messages.
    pub fn path(&self) -> String {
        format!("{} {}", self.facts.release, self.ptr)
    }

    /// The value under `key` (null when absent), recorded as compared.
    pub fn at(&self, key: &str) -> &'a Value {
        let ptr = self.child_ptr(key);
        let v = self.facts.value.pointer(&ptr).unwrap_or(&NULL);
        self.facts.seen.borrow_mut().insert(ptr);
        v
    }

    /// This node's whole value, recorded as compared.
    pub fn value(&self) -> &'a Value {
        self.facts.seen.borrow_mut().insert(self.ptr.clone());
        self.raw()
    }

    /// The value under `key` as a string (None when null or absent).
    pub fn str(&self, key: &str) -> Option<&'a str> {
        self.at(key).as_str()
    }

    /// The value, not recorded (for choosing what to compare).
    pub fn raw(&self) -> &'a Value {
        self.facts.value.pointer(&self.ptr).unwrap_or(&NULL)
    }

    /// Is there a value (not null) under `key`? Not recorded.
    pub fn has(&self, key: &str) -> bool {
        !self.raw()[key].is_null()
    }

    pub fn child(&self, key: &str) -> Node<'a> {
        Node {
            facts: self.facts,
            ptr: self.child_ptr(key),
        }
    }

    /// The elements of an array (none when not an array).
    pub fn items(&self) -> Vec<Node<'a>> {
        let n = self.raw().as_array().map_or(0, Vec::len);
        (0..n)
            .map(|i| Node {
                facts: self.facts,
                ptr: format!("{}/{i}", self.ptr),
            })
            .collect()
    }

    /// The keys of an object (none when not an object).
    pub fn keys(&self) -> Vec<String> {
        self.raw()
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}
