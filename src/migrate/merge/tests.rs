use super::*;
use crate::db::read_only_uri;
use crate::db::schema::tables::{BODY_UPLOAD_QUEUE, QUEUE};

#[test]
fn insert_maps_renamed_columns_and_skips_absent_ones() {
    let sql = insert_sql(
        &BODY_UPLOAD_QUEUE,
        Side {
            schema: "legacy",
            version: 2,
        },
        LATEST,
    );
    assert!(sql.contains("l.\"feature_slug\""), "{sql}");
    assert!(sql.contains("l.\"mission_key\""), "{sql}");
    assert!(
        sql.contains("COALESCE(l.\"hash_algorithm\", 'sha256')"),
        "{sql}"
    );
    let sql = insert_sql(
        &QUEUE,
        Side {
            schema: "legacy",
            version: 2,
        },
        LATEST,
    );
    assert!(!sql.contains("coalesce_key"), "{sql}");
    let sql = insert_sql(
        &QUEUE,
        Side {
            schema: "legacy",
            version: 3,
        },
        LATEST,
    );
    assert!(sql.contains("\"coalesce_key\""), "{sql}");
}

#[test]
fn read_only_uri_escapes_uri_specials() {
    assert_eq!(
        read_only_uri(Path::new("/a b/q%1?#.db")),
        "file:/a b/q%251%3f%23.db?mode=ro"
    );
}

#[test]
fn plan_without_scoped_table_has_no_existence_probe() {
    let sql = plan_sql(
        &BODY_UPLOAD_QUEUE,
        Side {
            schema: "legacy",
            version: 4,
        },
        Some(Side {
            schema: "scoped",
            version: 1,
        }),
        true,
        IdRange::ALL,
    );
    assert!(!sql.contains("EXISTS"), "{sql}");
    assert!(
        !sql.contains("GROUP BY"),
        "a unique legacy key needs no dedup: {sql}"
    );
}
