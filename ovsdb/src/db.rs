//! In-memory databases: every row of every table of one schema, as
//! ovsdb-server holds them, and the row-level changes between two states.
//!
//! Rows always hold every column of their table (columns an insert left out
//! hold the schema default), like ovsdb-server's rows. Rows are shared
//! (`Arc`), so copying a table is cheap.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::atom::Atom;
use crate::atom::Uuid;
use crate::datum::Datum;
use crate::datum::Row;
use crate::schema::{ColumnType, DatabaseSchema, TableSchema};

/// One row-level change: the stream replicas emit and compilers consume.
#[derive(Clone, Debug, PartialEq)]
pub enum RowChange {
    /// A new row.
    Insert {
        /// The table.
        table: String,
        /// The row's UUID.
        uuid: Uuid,
        /// The row (every column).
        new: Arc<Row>,
    },
    /// A changed row, with its whole old and new contents.
    Modify {
        /// The table.
        table: String,
        /// The row's UUID.
        uuid: Uuid,
        /// The row before.
        old: Arc<Row>,
        /// The row after.
        new: Arc<Row>,
    },
    /// A deleted row.
    Delete {
        /// The table.
        table: String,
        /// The row's UUID.
        uuid: Uuid,
        /// The row before deletion.
        old: Arc<Row>,
    },
}

impl RowChange {
    /// Every `(table, uuid, row)` as a new row: the changes that load a
    /// whole database from scratch.
    pub fn inserts<'a>(rows: impl IntoIterator<Item = (&'a str, Uuid, &'a Row)>) -> Vec<RowChange> {
        rows.into_iter()
            .map(|(table, uuid, row)| RowChange::Insert {
                table: table.to_string(),
                uuid,
                new: Arc::new(row.clone()),
            })
            .collect()
    }

    /// The table of the changed row.
    pub fn table(&self) -> &str {
        match self {
            RowChange::Insert { table, .. }
            | RowChange::Modify { table, .. }
            | RowChange::Delete { table, .. } => table,
        }
    }

    /// The UUID of the changed row.
    pub fn uuid(&self) -> Uuid {
        match self {
            RowChange::Insert { uuid, .. }
            | RowChange::Modify { uuid, .. }
            | RowChange::Delete { uuid, .. } => *uuid,
        }
    }

    /// The row before the change, if it existed.
    pub fn old(&self) -> Option<&Arc<Row>> {
        match self {
            RowChange::Insert { .. } => None,
            RowChange::Modify { old, .. } | RowChange::Delete { old, .. } => Some(old),
        }
    }

    /// The row after the change, if it still exists.
    pub fn new_row(&self) -> Option<&Arc<Row>> {
        match self {
            RowChange::Delete { .. } => None,
            RowChange::Insert { new, .. } | RowChange::Modify { new, .. } => Some(new),
        }
    }
}

/// The rows of one table, by UUID.
pub type Rows = BTreeMap<Uuid, Arc<Row>>;

/// Rows of every table, by table name: the content of a [`Database`] and of
/// the other row stores kept from monitor updates.
pub type Tables = BTreeMap<String, Rows>;

/// The whole content of `tables` as inserts, table by table, sharing the
/// rows (a compile from scratch reads a whole database this way).
pub fn tables_to_changes(tables: &Tables) -> Vec<RowChange> {
    tables
        .iter()
        .flat_map(|(t, rows)| {
            rows.iter().map(move |(u, r)| RowChange::Insert {
                table: t.clone(),
                uuid: *u,
                new: r.clone(),
            })
        })
        .collect()
}

/// The changes that turn `a` into `b`, table by table (in each: deletes and
/// modifications, then inserts).
pub fn tables_diff(a: &Tables, b: &Tables) -> Vec<RowChange> {
    let empty = Rows::new();
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for t in names {
        diff_rows(
            t,
            a.get(t).unwrap_or(&empty),
            b.get(t).unwrap_or(&empty),
            &mut out,
        );
    }
    out
}

/// All rows of all tables of one schema.
#[derive(Clone, Debug)]
pub struct Database {
    schema: Arc<DatabaseSchema>,
    tables: Tables,
}

impl PartialEq for Database {
    fn eq(&self, other: &Self) -> bool {
        self.schema.name == other.schema.name && self.tables == other.tables
    }
}

impl Database {
    /// An empty database of `schema` (every table present, no rows).
    pub fn new(schema: Arc<DatabaseSchema>) -> Database {
        let tables = schema
            .tables
            .keys()
            .map(|t| (t.clone(), Rows::new()))
            .collect();
        Database { schema, tables }
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<DatabaseSchema> {
        &self.schema
    }

    /// The rows of `table` (`None` if the schema has no such table).
    pub fn table(&self, table: &str) -> Option<&Rows> {
        self.tables.get(table)
    }

    /// Every table with its rows, by table name.
    pub fn tables(&self) -> &BTreeMap<String, Rows> {
        &self.tables
    }

    /// Mutable access to all tables, for the transaction executor.
    pub(crate) fn tables_mut(&mut self) -> &mut BTreeMap<String, Rows> {
        &mut self.tables
    }

    /// One row.
    pub fn get(&self, table: &str, uuid: &Uuid) -> Option<&Arc<Row>> {
        self.tables.get(table)?.get(uuid)
    }

    /// The total number of rows.
    pub fn len(&self) -> usize {
        self.tables.values().map(BTreeMap::len).sum()
    }

    /// True if no table has rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Completes a partial row with the schema defaults of the missing columns.
    pub fn complete_row(table: &TableSchema, mut row: Row) -> Row {
        for (name, col) in &table.columns {
            row.entry(name.clone())
                .or_insert_with(|| col.ty.default_datum());
        }
        row
    }

    /// Applies changes (as a replica does). Changes are trusted: an insert
    /// replaces, a delete of a missing row is ignored.
    pub fn apply(&mut self, changes: &[RowChange]) {
        for c in changes {
            let rows = match self.tables.get_mut(c.table()) {
                Some(rows) => rows,
                None => self.tables.entry(c.table().to_string()).or_default(),
            };
            match c {
                RowChange::Insert { uuid, new, .. } | RowChange::Modify { uuid, new, .. } => {
                    rows.insert(*uuid, new.clone());
                }
                RowChange::Delete { uuid, .. } => {
                    rows.remove(uuid);
                }
            }
        }
    }

    /// The whole content as inserts, table by table (for from-scratch compiles).
    pub fn to_changes(&self) -> Vec<RowChange> {
        tables_to_changes(&self.tables)
    }

    /// The changes that turn `self` into `other` (same schema).
    pub fn diff(&self, other: &Database) -> Vec<RowChange> {
        tables_diff(&self.tables, &other.tables)
    }

    /// The content as JSON: `{table: {uuid: {column: datum}}}`, tables and
    /// rows sorted, empty tables left out (the shape of `ovsdb-client -f json
    /// dump` rows, keyed by UUID).
    pub fn dump_json(&self) -> Value {
        let mut out = Map::new();
        for (t, rows) in &self.tables {
            if rows.is_empty() {
                continue;
            }
            let mut tm = Map::new();
            for (u, row) in rows {
                let rm: Map<String, Value> = row
                    .iter()
                    .map(|(c, d)| (c.to_string(), d.to_json()))
                    .collect();
                tm.insert(u.to_string(), Value::Object(rm));
            }
            out.insert(t.clone(), Value::Object(tm));
        }
        Value::Object(out)
    }
}

/// Applies a column *difference* as ovsdb-server encodes it in update2/3
/// `modify` notifications and in `_is_diff` log records: a column of at
/// most one value (scalar or optional; OVS diffs only columns that can hold
/// more) takes the new value; a set toggles each listed
/// element (symmetric difference); a map removes a listed key whose value
/// matches, changes the value of a listed key whose value differs, and adds
/// listed keys it lacks.
pub fn apply_diff(ty: &ColumnType, old: &Datum, diff: &Datum) -> Datum {
    if ty.value.is_none() && ty.max == Some(1) {
        return diff.clone();
    }
    match (old, diff) {
        (Datum::Map(m), Datum::Map(d)) => {
            let mut out: BTreeMap<Atom, Atom> = m.iter().cloned().collect();
            for (k, v) in d {
                match out.get(k) {
                    Some(cur) if cur == v => {
                        out.remove(k);
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            Datum::Map(out.into_iter().collect())
        }
        (Datum::Set(s), Datum::Map(d)) if s.is_empty() => Datum::Map(d.clone()),
        (Datum::Map(m), Datum::Set(d)) if d.is_empty() => Datum::Map(m.clone()),
        (Datum::Set(s), Datum::Set(d)) => {
            let mut out: std::collections::BTreeSet<Atom> = s.iter().cloned().collect();
            for a in d {
                if !out.remove(a) {
                    out.insert(a.clone());
                }
            }
            Datum::Set(out.into_iter().collect())
        }
        (_, d) => d.clone(),
    }
}

/// Appends the changes turning rows `a` into rows `b` of `table`.
pub(crate) fn diff_rows(table: &str, a: &Rows, b: &Rows, out: &mut Vec<RowChange>) {
    for (u, old) in a {
        match b.get(u) {
            None => out.push(RowChange::Delete {
                table: table.to_string(),
                uuid: *u,
                old: old.clone(),
            }),
            Some(new) if !Arc::ptr_eq(old, new) && old != new => out.push(RowChange::Modify {
                table: table.to_string(),
                uuid: *u,
                old: old.clone(),
                new: new.clone(),
            }),
            Some(_) => {}
        }
    }
    for (u, new) in b {
        if !a.contains_key(u) {
            out.push(RowChange::Insert {
                table: table.to_string(),
                uuid: *u,
                new: new.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_columns_take_the_new_value() {
        let lsp = crate::schema::nb_schema()
            .table("Logical_Switch_Port")
            .unwrap();
        let up = &lsp.column("up").unwrap().ty;
        let f = Datum::scalar(false);
        let t = Datum::scalar(true);
        assert_eq!(
            apply_diff(up, &f, &t),
            t,
            "false → true is a new value, not a set toggle"
        );
        assert_eq!(
            apply_diff(up, &t, &Datum::empty_set()),
            Datum::empty_set(),
            "clearing"
        );
        let addrs = &lsp.column("addresses").unwrap().ty;
        let a = Datum::scalar("a");
        let ab = Datum::set(["a".into(), "b".into()]);
        assert_eq!(
            apply_diff(addrs, &a, &Datum::scalar("b")),
            ab,
            "sets still toggle"
        );
    }
    use crate::datum::Datum;
    use crate::schema::nb_schema;

    #[test]
    fn diff_and_apply_agree() {
        let schema = Arc::new(nb_schema().clone());
        let ls = schema.table("Logical_Switch").unwrap();
        let mut a = Database::new(schema.clone());
        let u1 = Uuid::from_u128(1);
        let u2 = Uuid::from_u128(2);
        let mut r = Row::new();
        r.insert("name", Datum::scalar("sw0"));
        let r1 = Arc::new(Database::complete_row(ls, r.clone()));
        a.apply(&[RowChange::Insert {
            table: "Logical_Switch".into(),
            uuid: u1,
            new: r1,
        }]);
        assert_eq!(
            a.get("Logical_Switch", &u1).unwrap()["ports"],
            Datum::empty_set()
        );
        let mut b = a.clone();
        r.insert("name", Datum::scalar("sw1"));
        let r2 = Arc::new(Database::complete_row(ls, r));
        b.apply(&[
            RowChange::Insert {
                table: "Logical_Switch".into(),
                uuid: u2,
                new: r2.clone(),
            },
            RowChange::Modify {
                table: "Logical_Switch".into(),
                uuid: u1,
                old: a.get("Logical_Switch", &u1).unwrap().clone(),
                new: r2,
            },
        ]);
        let d = a.diff(&b);
        assert_eq!(d.len(), 2);
        let mut c = a.clone();
        c.apply(&d);
        assert_eq!(c, b);
        assert!(b.diff(&c).is_empty());
    }
}
