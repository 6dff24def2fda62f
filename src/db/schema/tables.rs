//! The queue tables, their natural keys, and where each column lives at each
//! schema version. The move reads the legacy DB through this mapping, so the
//! legacy schema itself is never altered.

/// One queue table as spec-kitty writes it at the latest version (V5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    pub name: &'static str,
    /// First schema version that has this table.
    pub since: u32,
    /// Natural key: the dedup identity (`id` is local and never copied).
    pub key: &'static [&'static str],
    /// Every V5 column except `id`, in table order.
    pub columns: &'static [ColumnDef],
}

/// A V5 column and what the move must know of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: &'static str,
    /// `NOT NULL` without a default: a NULL here makes a legacy row unreadable.
    pub required: bool,
    /// `NOT NULL DEFAULT x`: a NULL in a legacy row takes the default, as the
    /// CLI's own insert would have.
    pub default_sql: Option<&'static str>,
}

const fn req(name: &'static str) -> ColumnDef {
    ColumnDef {
        name,
        required: true,
        default_sql: None,
    }
}
const fn opt(name: &'static str) -> ColumnDef {
    ColumnDef {
        name,
        required: false,
        default_sql: None,
    }
}
const fn dflt(name: &'static str, sql: &'static str) -> ColumnDef {
    ColumnDef {
        name,
        required: false,
        default_sql: Some(sql),
    }
}

const BODY_KEY: &[&str] = &[
    "project_uuid",
    "mission_slug",
    "target_branch",
    "mission_type",
    "manifest_version",
    "artifact_path",
    "content_hash",
];

pub const QUEUE: TableDef = TableDef {
    name: "queue",
    since: 1,
    key: &["event_id"],
    columns: &[
        req("event_id"),
        req("event_type"),
        req("data"),
        req("timestamp"),
        opt("retry_count"),
        opt("coalesce_key"),
    ],
};

pub const BODY_UPLOAD_QUEUE: TableDef = TableDef {
    name: "body_upload_queue",
    since: 2,
    key: BODY_KEY,
    columns: &[
        req("project_uuid"),
        req("mission_slug"),
        req("target_branch"),
        req("mission_type"),
        req("manifest_version"),
        req("artifact_path"),
        req("content_hash"),
        dflt("hash_algorithm", "'sha256'"),
        req("content_body"),
        req("size_bytes"),
        dflt("retry_count", "0"),
        dflt("next_attempt_at", "0.0"),
        req("created_at"),
        opt("last_error"),
    ],
};

pub const BODY_UPLOAD_FAILURE_LOG: TableDef = TableDef {
    name: "body_upload_failure_log",
    since: 5,
    key: &[
        "project_uuid",
        "mission_slug",
        "target_branch",
        "mission_type",
        "manifest_version",
        "artifact_path",
        "content_hash",
        "failure_reason",
    ],
    columns: &[
        req("project_uuid"),
        req("mission_slug"),
        req("target_branch"),
        req("mission_type"),
        req("manifest_version"),
        req("artifact_path"),
        req("content_hash"),
        dflt("hash_algorithm", "'sha256'"),
        req("size_bytes"),
        req("failure_reason"),
        dflt("failure_count", "1"),
        req("first_failed_at"),
        req("last_failed_at"),
    ],
};

/// Every queue table, in the order the move processes them.
pub const ALL: [TableDef; 3] = [QUEUE, BODY_UPLOAD_QUEUE, BODY_UPLOAD_FAILURE_LOG];

impl TableDef {
    /// Does a DB at `version` have this table?
    pub fn exists_at(&self, version: u32) -> bool {
        version >= self.since
    }

    /// The name `column` (a V5 name) has in a DB at `version`, or `None` when
    /// that version does not have it yet.
    pub fn column_at(&self, column: &'static str, version: u32) -> Option<&'static str> {
        if !self.exists_at(version) {
            return None;
        }
        match (self.name, column) {
            ("queue", "coalesce_key") if version < 3 => None,
            ("body_upload_queue", "mission_slug") if version < 4 => Some("feature_slug"),
            ("body_upload_queue", "mission_type") if version < 4 => Some("mission_key"),
            _ => Some(column),
        }
    }

    /// Every column (including `id`) a DB at `version` has in this table.
    pub fn columns_at(&self, version: u32) -> Vec<&'static str> {
        let mut cols = vec!["id"];
        cols.extend(
            self.columns
                .iter()
                .filter_map(|c| self.column_at(c.name, version)),
        );
        cols
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_columns_map_before_v4() {
        assert_eq!(
            BODY_UPLOAD_QUEUE.column_at("mission_slug", 2),
            Some("feature_slug")
        );
        assert_eq!(
            BODY_UPLOAD_QUEUE.column_at("mission_type", 3),
            Some("mission_key")
        );
        assert_eq!(
            BODY_UPLOAD_QUEUE.column_at("mission_slug", 4),
            Some("mission_slug")
        );
        assert_eq!(QUEUE.column_at("coalesce_key", 2), None);
        assert_eq!(QUEUE.column_at("coalesce_key", 3), Some("coalesce_key"));
        assert_eq!(BODY_UPLOAD_FAILURE_LOG.column_at("failure_reason", 4), None);
    }

    #[test]
    fn key_columns_are_required_columns() {
        for t in ALL {
            for k in t.key {
                let c = t.columns.iter().find(|c| c.name == *k).unwrap();
                assert!(c.required, "{}.{k}", t.name);
            }
        }
    }
}
