//! owner.json of random bytes and random JSON shapes (around the real
//! fields): the doctor and `retire` never panic, say what is wrong, never
//! print the token, and never change the home.
//!
//! 32 cases per property by default; run longer with
//! `PROPTEST_CASES=2000 cargo test --test it garbage_owner`.

use crate::common::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use sk_boundary::doctor::report::OwnerStatus;
use sk_boundary::doctor::{self, DoctorOptions, RetireDecision};

const TOKEN: &str = "tok-GARBAGE-5ec7e7";

fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 32;
    }
    c.failure_persistence = None;
    c
}

/// A JSON value of any shape, shallow. (The token's value stands only in
/// the `token` field: the same text elsewhere is that field's data.)
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A real record with some fields replaced, removed or added at random.
fn mutated_record() -> impl Strategy<Value = Value> {
    let fields = [
        "pid",
        "port",
        "token",
        "package_version",
        "executable_path",
        "source_checkout_path",
        "server_url",
        "auth_principal",
        "auth_team",
        "auth_scope",
        "queue_db_path",
        "started_at",
    ];
    (
        prop::collection::vec((0..fields.len(), prop::option::of(any_json())), 0..4),
        prop::option::of((".{1,8}", any_json())),
    )
        .prop_map(move |(changes, extra)| {
            let mut rec = json!({
                "pid": 4194304, "port": 9400, "token": TOKEN,
                "package_version": "3.1.4", "executable_path": "/nope/python3",
                "source_checkout_path": "/nope", "server_url": "https://s.test",
                "auth_principal": null, "auth_team": null, "auth_scope": null,
                "queue_db_path": "/nope/queue.db", "started_at": "2026-01-01T00:00:00Z"
            });
            let obj = rec.as_object_mut().unwrap();
            for (i, v) in changes {
                match v {
                    Some(v) => obj.insert(fields[i].to_string(), v),
                    None => obj.remove(fields[i]),
                };
            }
            if let Some((k, v)) = extra {
                obj.insert(k, v);
            }
            rec
        })
}

fn check(bytes: &[u8]) {
    let h = TestHome::new();
    std::fs::create_dir_all(h.home.owner_record().parent().unwrap()).unwrap();
    std::fs::write(h.home.owner_record(), bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        h.home.owner_record(),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let before = tree_hash(h.root());
    let opts = DoctorOptions::default();
    let report =
        doctor::diagnose(&h.home, &opts).expect("a bad owner record is a finding, not an error");
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(TOKEN), "token in the report: {json}");
    let text = sk_boundary::render::doctor::report(&report, &sk_boundary::render::Style::plain());
    assert!(!text.contains(TOKEN), "token in the table");
    match report.daemon_owner.status {
        OwnerStatus::Malformed => {
            assert!(
                report
                    .problems
                    .iter()
                    .any(|p| format!("{:?}", p.code) == "OwnerRecordMalformed")
            )
        }
        // A record that parsed names a dead pid and a missing executable.
        OwnerStatus::Orphan => assert!(!report.ok),
        other => panic!("unexpected owner status {other:?}"),
    }
    // retire's planning reads the same file: refuses or plans, never panics.
    match doctor::plan_retire(&h.home).unwrap() {
        RetireDecision::Malformed { reason } => assert!(!reason.contains(TOKEN)),
        RetireDecision::Plan(_) => {}
        RetireDecision::NothingToRetire | RetireDecision::StaleState(_) => {
            panic!("the record exists")
        }
    }
    assert_eq!(tree_hash(h.root()), before, "the doctor changed the home");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic_the_doctor(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&bytes);
    }

    #[test]
    fn random_json_shapes_never_panic_the_doctor(v in any_json()) {
        check(v.to_string().as_bytes());
    }

    #[test]
    fn mutated_records_are_malformed_or_orphans_never_panics(v in mutated_record()) {
        check(v.to_string().as_bytes());
    }
}
