//! A local copy of a monitored database, kept from the row changes of a
//! [`ovsdb::client::ReplicaSession`].

use std::collections::BTreeMap;
use std::sync::Arc;

use ovsdb::{Row, RowChange, Uuid};

pub use ovsdb::db::Rows;

/// Table name → rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mirror {
    tables: ovsdb::db::Tables,
}

impl Mirror {
    /// Applies row changes in order.
    pub fn apply(&mut self, changes: &[RowChange]) {
        for ch in changes {
            match ch {
                RowChange::Insert { table, uuid, new }
                | RowChange::Modify {
                    table, uuid, new, ..
                } => {
                    self.tables
                        .entry(table.clone())
                        .or_default()
                        .insert(*uuid, new.clone());
                }
                RowChange::Delete { table, uuid, .. } => {
                    if let Some(t) = self.tables.get_mut(table) {
                        t.remove(uuid);
                    }
                }
            }
        }
    }

    /// Replaces the content with `snapshot` (a fresh session's first batch,
    /// all inserts) and returns the changes from the old content to it.
    pub fn replace(&mut self, snapshot: &[RowChange]) -> Vec<RowChange> {
        let mut fresh = Mirror::default();
        fresh.apply(snapshot);
        let changes = ovsdb::db::tables_diff(&self.tables, &fresh.tables);
        *self = fresh;
        changes
    }

    /// Replaces the rows of `table`.
    pub fn set_table(&mut self, table: &str, rows: Rows) {
        self.tables.insert(table.to_string(), rows);
    }

    /// The rows of `table` (empty if none).
    pub fn table(&self, table: &str) -> &Rows {
        static EMPTY: Rows = BTreeMap::new();
        self.tables.get(table).unwrap_or(&EMPTY)
    }

    /// One row.
    pub fn get(&self, table: &str, uuid: &Uuid) -> Option<&Arc<Row>> {
        self.tables.get(table).and_then(|t| t.get(uuid))
    }

    /// Every row as `(table, uuid, row)`.
    pub fn rows(&self) -> impl Iterator<Item = (&str, Uuid, &Row)> {
        self.tables
            .iter()
            .flat_map(|(t, rows)| rows.iter().map(move |(u, r)| (t.as_str(), *u, &**r)))
    }

    /// The whole content as inserts (sharing the rows, not copying them:
    /// a compile from scratch reads the whole NB this way).
    pub fn to_changes(&self) -> Vec<RowChange> {
        ovsdb::db::tables_to_changes(&self.tables)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::Datum;

    fn row(v: i64) -> Arc<Row> {
        Arc::new(Row::from([("x".to_string(), Datum::scalar(v))]))
    }

    #[test]
    fn replace_reports_the_difference() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let ins = |u, v| RowChange::Insert {
            table: "T".into(),
            uuid: u,
            new: row(v),
        };
        let mut m = Mirror::default();
        m.apply(&[ins(a, 1), ins(b, 2)]);
        let ch = m.replace(&[ins(b, 3), ins(c, 4)]);
        let kinds: Vec<(char, Uuid)> = ch
            .iter()
            .map(|c| match c {
                RowChange::Insert { uuid, .. } => ('i', *uuid),
                RowChange::Modify { uuid, .. } => ('m', *uuid),
                RowChange::Delete { uuid, .. } => ('d', *uuid),
            })
            .collect();
        assert_eq!(kinds, vec![('d', a), ('m', b), ('i', c)]);
        assert_eq!(m.table("T").len(), 2);
    }
}
