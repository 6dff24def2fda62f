//! The queue tables, their natural keys, and where each column lives at each
//! schema version. The move reads the legacy DB through this mapping, so the
//! legacy schema itself is never altered.

/// A queue table: the closed set of [`ALL`]. Its name is a string only in
/// SQL text, JSON and what people read ([`Table::as_str`]; serde gives the
/// same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Queue,
    BodyUploadQueue,
    BodyUploadFailureLog,
}

impl Table {
    /// The table's SQL name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Table::Queue => "queue",
            Table::BodyUploadQueue => "body_upload_queue",
            Table::BodyUploadFailureLog => "body_upload_failure_log",
        }
    }

    /// The table named `name` (exactly, as SQL and JSON spell it).
    pub fn from_name(name: &str) -> Option<Table> {
        ALL.iter().map(|t| t.table).find(|t| t.as_str() == name)
    }

    /// Its definition.
    pub const fn def(self) -> &'static TableDef {
        match self {
            Table::Queue => &QUEUE,
            Table::BodyUploadQueue => &BODY_UPLOAD_QUEUE,
            Table::BodyUploadFailureLog => &BODY_UPLOAD_FAILURE_LOG,
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One queue table as spec-kitty writes it at the latest version (V5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    pub table: Table,
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
    table: Table::Queue,
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
    table: Table::BodyUploadQueue,
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
    table: Table::BodyUploadFailureLog,
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
    /// The table's SQL name.
    pub const fn name(&self) -> &'static str {
        self.table.as_str()
    }

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
        match (self.table, column) {
            (Table::Queue, "coalesce_key") if version < 3 => None,
            (Table::BodyUploadQueue, "mission_slug") if version < 4 => Some("feature_slug"),
            (Table::BodyUploadQueue, "mission_type") if version < 4 => Some("mission_key"),
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

    /// The columns a DB at `version` has of those the scoped table requires
    /// (NOT NULL, no default; the natural key among them): a legacy row with
    /// a NULL in one of them moves into no scoped DB. The one rule the move
    /// (`migrate::merge`) and the read-only count (`survey::queues::unmovable`) share.
    pub fn required_at(&self, version: u32) -> Vec<&'static str> {
        self.columns
            .iter()
            .filter(|c| c.required)
            .filter_map(|c| self.column_at(c.name, version))
            .collect()
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
                assert!(c.required, "{}.{k}", t.name());
            }
        }
    }

    #[test]
    fn a_table_serialises_and_parses_as_its_sql_name() {
        for t in ALL {
            let json = serde_json::to_value(t.table).unwrap();
            assert_eq!(json, t.name());
            assert_eq!(Table::from_name(t.name()), Some(t.table));
            assert_eq!(t.table.def(), &t);
            assert_eq!(t.table.to_string(), t.name());
        }
        assert_eq!(Table::from_name("Queue"), None);
    }
}
