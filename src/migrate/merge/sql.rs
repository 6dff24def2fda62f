//! The move's SQL text: pure functions of table definitions and versions.

use crate::db::ident;
use crate::db::schema::tables::TableDef;

/// A DB as the SQL sees it: its schema name on the connection and its version.
#[derive(Debug, Clone, Copy)]
pub(super) struct Side<'a> {
    pub(super) schema: &'a str,
    pub(super) version: u32,
}

pub(super) fn table_ref(side: Side, t: &TableDef) -> String {
    format!("{}.{}", ident(side.schema), ident(t.name()))
}

/// The key columns' names in a DB at `version`.
pub(super) fn key_cols(t: &TableDef, version: u32) -> Vec<&'static str> {
    t.key
        .iter()
        .filter_map(|k| t.column_at(k, version))
        .collect()
}

pub(super) fn all_not_null(alias: &str, cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!("{alias}.{} IS NOT NULL", ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Natural keys equal byte for byte: BINARY whatever collation a column
/// declares (a NOCASE column would make 'evt-ABC' present as 'evt-abc').
pub(super) fn key_match(a: &str, a_cols: &[&str], b: &str, b_cols: &[&str]) -> String {
    a_cols
        .iter()
        .zip(b_cols)
        .map(|(x, y)| format!("{a}.{} = {b}.{} COLLATE BINARY", ident(x), ident(y)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A legacy row is movable when its key and every column the scoped table
/// requires (NOT NULL, no default) are non-NULL ([`TableDef::required_at`]).
pub(super) fn movable(t: &TableDef, alias: &str, version: u32) -> String {
    all_not_null(alias, &t.required_at(version))
}

pub(super) fn plan_table(t: &TableDef) -> String {
    format!("temp.{}", ident(&format!("sk_plan_{}", t.name())))
}

pub(super) fn plan_key_cols(t: &TableDef) -> Vec<String> {
    (0..t.key.len()).map(|i| format!("k{i}")).collect()
}

/// `EXISTS` a row with `l`'s key in the scoped table.
pub(super) fn in_scoped(t: &TableDef, scoped: Side, legacy_version: u32) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {} AS s WHERE {})",
        table_ref(scoped, t),
        key_match(
            "s",
            &key_cols(t, scoped.version),
            "l",
            &key_cols(t, legacy_version)
        )
    )
}

/// Create the plan: one legacy row per absent key (the first by rowid),
/// ordered by legacy `id`, so inserts keep legacy order. `legacy_key_unique`:
/// the legacy table enforces its natural key, so no duplicates need folding.
pub(super) fn plan_sql(
    t: &TableDef,
    legacy: Side,
    scoped: Option<Side>,
    legacy_key_unique: bool,
    range: IdRange,
) -> String {
    let lk = key_cols(t, legacy.version);
    let select_keys: Vec<String> = lk
        .iter()
        .zip(plan_key_cols(t))
        .map(|(c, k)| format!("l.{} AS {k}", ident(c)))
        .collect();
    let absent = match scoped.filter(|s| t.exists_at(s.version)) {
        Some(s) => format!("AND NOT {}", in_scoped(t, s, legacy.version)),
        None => String::new(),
    };
    let lt = table_ref(legacy, t);
    let one_per_key = if legacy_key_unique {
        movable(t, "l", legacy.version)
    } else {
        format!(
            "l.rowid IN (SELECT min(g.rowid) FROM {lt} AS g WHERE {valid} AND {span} GROUP BY {group})",
            valid = movable(t, "g", legacy.version),
            span = range.sql("g"),
            group = lk
                .iter()
                .map(|c| format!("g.{}", ident(c)))
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    format!(
        "CREATE TEMP TABLE {plan} AS SELECT l.rowid AS legacy_rowid, {keys} \
         FROM {lt} AS l WHERE {span} AND {one_per_key} {absent} ORDER BY l.\"id\", l.rowid",
        plan = plan_table(t),
        keys = select_keys.join(", "),
        span = range.sql("l"),
    )
}

/// The scoped columns a move fills and the legacy expressions that fill them.
pub(super) fn insert_columns(t: &TableDef, legacy: Side, scoped_version: u32) -> (String, String) {
    let mut cols = Vec::new();
    let mut exprs = Vec::new();
    for c in t.columns {
        let (Some(src), Some(dst)) = (
            t.column_at(c.name, legacy.version),
            t.column_at(c.name, scoped_version),
        ) else {
            continue; // absent at either version: the scoped default applies
        };
        cols.push(ident(dst));
        exprs.push(match c.default_sql {
            Some(d) => format!("COALESCE(l.{}, {d})", ident(src)),
            None => format!("l.{}", ident(src)),
        });
    }
    (cols.join(", "), exprs.join(", "))
}

/// Insert the planned rows into the scoped table (`main`, at `scoped_version`).
pub(super) fn insert_sql(t: &TableDef, legacy: Side, scoped_version: u32) -> String {
    let (cols, exprs) = insert_columns(t, legacy, scoped_version);
    format!(
        "INSERT OR IGNORE INTO \"main\".{t_name} ({cols}) SELECT {exprs} \
         FROM {plan} AS p JOIN {lt} AS l ON l.rowid = p.legacy_rowid ORDER BY p.rowid",
        t_name = ident(t.name()),
        plan = plan_table(t),
        lt = table_ref(legacy, t),
    )
}

/// Into an empty scoped table no plan is needed: every movable legacy row
/// goes in, in legacy order, and the UNIQUE key keeps the first of any
/// duplicates (`OR IGNORE`), as the plan would.
pub(super) fn insert_all_sql(
    t: &TableDef,
    legacy: Side,
    scoped_version: u32,
    range: IdRange,
) -> String {
    let (cols, exprs) = insert_columns(t, legacy, scoped_version);
    format!(
        "INSERT OR IGNORE INTO \"main\".{t_name} ({cols}) SELECT {exprs} \
         FROM {lt} AS l WHERE {span} AND {valid} ORDER BY l.\"id\", l.rowid",
        t_name = ident(t.name()),
        lt = table_ref(legacy, t),
        valid = movable(t, "l", legacy.version),
        span = range.sql("l"),
    )
}

/// Drop plan rows whose key did not land (belt and braces: the plan only
/// holds insertable rows), so the plan is exactly what was inserted.
pub(super) fn refine_plan_sql(t: &TableDef, scoped_version: u32) -> String {
    let pk = plan_key_cols(t);
    let pk: Vec<&str> = pk.iter().map(String::as_str).collect();
    format!(
        "DELETE FROM {plan} WHERE NOT EXISTS (SELECT 1 FROM \"main\".{tn} AS s WHERE {m})",
        plan = plan_table(t),
        tn = ident(t.name()),
        m = key_match(
            "s",
            &key_cols(t, scoped_version),
            plan_table(t).as_str(),
            &pk
        ),
    )
}

/// Legacy rows whose key is provably in the scoped DB. In a dry run nothing
/// was inserted, so the plan counts as present too.
pub(super) fn present_where(
    t: &TableDef,
    legacy: Side,
    scoped: Option<Side>,
    dry_run: bool,
) -> String {
    let lk = key_cols(t, legacy.version);
    let mut alts = Vec::new();
    if let Some(s) = scoped.filter(|s| t.exists_at(s.version)) {
        alts.push(in_scoped(t, s, legacy.version));
    }
    if dry_run {
        let pk = plan_key_cols(t);
        let pk: Vec<&str> = pk.iter().map(String::as_str).collect();
        alts.push(format!(
            "EXISTS (SELECT 1 FROM {} AS p WHERE {})",
            plan_table(t),
            key_match("p", &pk, "l", &lk)
        ));
    }
    if alts.is_empty() {
        return "0".to_string();
    }
    format!("{} AND ({})", all_not_null("l", &lk), alts.join(" OR "))
}

/// The `id` of the `?2`-th (from 0) legacy row with `id <= ?1` that would
/// add a row to the scoped table (movable, its key absent there), in legacy
/// order: a move that must add at most `?2 + 1` rows covers legacy up to it.
pub(super) fn nth_addition_sql(t: &TableDef, legacy: Side, scoped: Option<Side>) -> String {
    let absent = match scoped.filter(|s| t.exists_at(s.version)) {
        Some(s) => format!("AND NOT {}", in_scoped(t, s, legacy.version)),
        None => String::new(),
    };
    format!(
        "SELECT l.\"id\" FROM {lt} AS l WHERE l.\"id\" <= ?1 AND {movable} {absent} \
         ORDER BY l.\"id\" LIMIT 1 OFFSET ?2",
        lt = table_ref(legacy, t),
        movable = movable(t, "l", legacy.version),
    )
}

/// A span of a legacy table's rows, by local `id`: `after < id <= upto`
/// (`upto` is `i64::MAX` for "to the end").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IdRange {
    pub(super) after: i64,
    pub(super) upto: i64,
}

impl IdRange {
    pub(super) const ALL: IdRange = IdRange {
        after: i64::MIN,
        upto: i64::MAX,
    };

    /// The condition on `alias` (a legacy table's alias). Integers we
    /// produced, written as literals: no user text reaches the SQL.
    pub(super) fn sql(&self, alias: &str) -> String {
        if self.is_all() {
            return "1".to_string();
        }
        format!(
            "{alias}.\"id\" > {} AND {alias}.\"id\" <= {}",
            self.after, self.upto
        )
    }

    pub(super) fn is_all(&self) -> bool {
        *self == IdRange::ALL
    }
}

/// Legacy rows (alias `l`) whose key is in the scoped table with another
/// payload: some column the move carries differs, byte for byte, from the
/// stored row (the value the move would have written: defaults applied).
/// Such a row is a *divergent duplicate*: the stored row wins, the legacy
/// row is kept whole as evidence before it is deleted.
pub(super) fn divergent_where(t: &TableDef, legacy: Side, scoped: Side) -> String {
    let mut differs = Vec::new();
    for c in t.columns {
        if t.key.contains(&c.name) {
            continue;
        }
        let (Some(src), Some(dst)) = (
            t.column_at(c.name, legacy.version),
            t.column_at(c.name, scoped.version),
        ) else {
            continue;
        };
        let value = match c.default_sql {
            Some(d) => format!("COALESCE(l.{}, {d})", ident(src)),
            None => format!("l.{}", ident(src)),
        };
        differs.push(format!("s.{} IS NOT {value} COLLATE BINARY", ident(dst)));
    }
    if differs.is_empty() {
        return "0".to_string();
    }
    format!(
        "EXISTS (SELECT 1 FROM {} AS s WHERE {} AND ({}))",
        table_ref(scoped, t),
        key_match(
            "s",
            &key_cols(t, scoped.version),
            "l",
            &key_cols(t, legacy.version)
        ),
        differs.join(" OR ")
    )
}

/// One table's part of a chunk: the legacy rows with `id` in `range`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) table: &'static TableDef,
    pub(super) range: IdRange,
    /// The last id the move covers in the table: its last span ends there.
    pub(super) stop: i64,
    /// The table's last id when the move reached it (`stop`, unless the cap
    /// guard stops the move before it): rows past it arrived during the move.
    pub(super) late_after: i64,
    /// Rows in the range when the chunk was planned (under the locks).
    pub(super) rows: u64,
    /// Rows this span inserted into the scoped DB.
    pub(super) inserted: u64,
}

impl Span {
    pub(super) fn last(&self) -> bool {
        self.range.upto == self.stop
    }

    /// The span covers the whole table as the move found it: from its
    /// start, to its last id (no row held back by the cap guard).
    pub(super) fn whole_table(&self) -> bool {
        self.range.after == i64::MIN && self.last() && self.stop == self.late_after
    }
}
