//! Rows: table names and row UUIDs given as map keys, the known member
//! names of update and record objects ([`Word`]), the columns of one row
//! ([`ColumnsSeed`]), and new or changed rows completed from them
//! ([`RowTemplate`], [`overlay_row`]).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::datum::DatumSeed;
use super::{Columns, Place};
use crate::atom::Uuid;
use crate::datum::Row;
use crate::schema::{ColumnSchema, DatabaseSchema, TableSchema};

/// The table named by a map key, looked up in the schema without copying
/// the name.
pub(crate) struct TableKey<'s> {
    pub schema: &'s DatabaseSchema,
    /// What an unknown table is called in the message.
    pub unknown: &'static str,
}

impl<'de, 's> DeserializeSeed<'de> for TableKey<'s> {
    type Value = &'s TableSchema;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 's> Visitor<'de> for TableKey<'s> {
    type Value = &'s TableSchema;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        self.schema
            .table(s)
            .ok_or_else(|| E::custom(format_args!("{} {s}", self.unknown)))
    }
}

/// A row UUID given as a map key.
pub(crate) struct RowKey<'a> {
    pub table: &'a str,
}

impl<'de> DeserializeSeed<'de> for RowKey<'_> {
    type Value = Uuid;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Uuid, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for RowKey<'_> {
    type Value = Uuid;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row UUID")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Uuid, E> {
        Uuid::try_parse(s)
            .map_err(|_| E::custom(format_args!("table {}: bad row UUID {s:?}", self.table)))
    }
}

/// A map key among known words: its index in the list, or the other
/// string (for messages).
pub(crate) struct Word(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Word {
    type Value = Result<usize, String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Word {
    type Value = Result<usize, String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .iter()
            .position(|w| *w == s)
            .ok_or_else(|| s.to_owned()))
    }
}

/// The columns of one row, `{column: datum…}`, each parsed to its
/// column's type.
pub(crate) struct ColumnsSeed<'s> {
    pub table: &'s TableSchema,
    pub row: Uuid,
}

impl<'de, 's> DeserializeSeed<'de> for ColumnsSeed<'s> {
    type Value = Columns<'s>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 's> Visitor<'de> for ColumnsSeed<'s> {
    type Value = Columns<'s>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the columns of table {} row {} (an object)",
            self.table.name, self.row
        )
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let ts = self.table;
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8).min(ts.columns.len()));
        while let Some(col) = map.next_key_seed(ColumnKey {
            table: ts,
            row: self.row,
        })? {
            let place = Place {
                table: &ts.name,
                row: self.row,
                column: &col.name,
            };
            let d = map.next_value_seed(DatumSeed::new(&col.ty, Some(place)))?;
            out.push((col, d));
        }
        Ok(out)
    }
}

/// A column name given as a map key.
struct ColumnKey<'s> {
    table: &'s TableSchema,
    row: Uuid,
}

impl<'de, 's> DeserializeSeed<'de> for ColumnKey<'s> {
    type Value = &'s ColumnSchema;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 's> Visitor<'de> for ColumnKey<'s> {
    type Value = &'s ColumnSchema;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a column name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        self.table.column(s).ok_or_else(|| {
            E::custom(format_args!(
                "table {} row {}: unknown column {s}",
                self.table.name, self.row
            ))
        })
    }
}

/// The row a table's new rows start from: every column at its schema
/// default (as ovsdb-server fills rows). Cloning it copies its sorted
/// columns in one allocation; the update's columns are then written over.
///
/// A lean template ([`RowTemplate::lean`]) leaves out the columns whose
/// default is the empty set or map, and the rows it completes leave out
/// every column whose value is empty ([`crate::replica::Replica::omit_empty`]).
pub(crate) struct RowTemplate {
    row: Row,
    lean: bool,
}

impl RowTemplate {
    /// The template of `ts`.
    pub fn new(ts: &TableSchema) -> RowTemplate {
        RowTemplate {
            row: crate::db::Database::complete_row(ts, Row::new()),
            lean: false,
        }
    }

    /// The template of `ts` holding only `columns` (a replica of a
    /// monitor of some columns; see [`crate::replica::KeptColumns`]).
    pub fn only(ts: &TableSchema, columns: &std::collections::BTreeSet<String>) -> RowTemplate {
        let mut t = RowTemplate::new(ts);
        t.row.retain(|c, _| columns.contains(c));
        t
    }

    /// This template made lean: its rows leave out empty columns.
    pub fn lean(mut self) -> RowTemplate {
        self.row.retain(|_, d| !d.is_empty());
        self.lean = true;
        self
    }

    /// Whether rows leave out empty columns.
    pub fn is_lean(&self) -> bool {
        self.lean
    }

    /// A new row from the columns an update or a file record gave; the
    /// others hold their defaults. A column given twice keeps its last
    /// value, as a JSON object does.
    pub fn complete(&self, cols: Columns<'_>) -> Row {
        let mut row = self.row.clone();
        for (col, d) in cols {
            if self.lean && d.is_empty() {
                row.remove(&col.name);
                continue;
            }
            match row.get_mut(&col.name) {
                Some(slot) => *slot = d,
                None => {
                    row.insert(&col.name, d);
                }
            }
        }
        row.shrink_to_fit();
        row
    }
}

/// A changed row: `cols` written over a copy of `old`, as differences
/// ([`crate::db::apply_diff`]) when `diff`. With `lean`, columns left
/// empty are removed (a lean row's missing column is empty, which is also
/// what a difference applies to then).
pub(crate) fn overlay_row(old: &Row, cols: Columns<'_>, diff: bool, lean: bool) -> Row {
    let mut new = old.clone();
    for (col, d) in cols {
        let d = match (diff, new.get(&col.name)) {
            (true, Some(cur)) => crate::db::apply_diff(&col.ty, cur, &d),
            _ => d,
        };
        if lean && d.is_empty() {
            new.remove(&col.name);
        } else {
            new.insert(&col.name, d);
        }
    }
    new.shrink_to_fit();
    new
}
