//! Commit-time checks of a transaction (RFC 7047 §4.1.3 and ovsdb-server's
//! `ovsdb_txn_precommit()`): weak references to missing rows dropped,
//! strong references checked, unreferenced non-root rows garbage-collected
//! (repeatedly, as one collection can orphan more rows), then `maxRows` and
//! unique indexes. The changes are committed last, as row changes.
//!
//! Every check looks only at what the transaction could have broken, as
//! ovsdb-server does: the rows it touched, the rows whose references point
//! into a table it deleted rows from, and the non-root rows that lost a
//! reference. The database before the transaction satisfies every
//! constraint (it is the outcome of earlier transactions), so a row the
//! transaction left alone can only be affected through a row it deleted. A
//! transaction touching a few rows of a large database therefore costs in
//! proportion to those rows and the tables referencing them, not to the
//! whole database.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::atom::Uuid;
use crate::datum::{Datum, Row};
use crate::db::RowChange;
use crate::schema::{ColumnSchema, DatabaseSchema, RefType};

use super::refs::{has_ref, refs_of, retain_refs};
use super::{constraint, Exec, TxnError};

/// Rows by table.
pub(super) type Marks = BTreeMap<String, BTreeSet<Uuid>>;

/// Rows of one table to check, with their table.
type TableRows = (String, Vec<(Uuid, Arc<Row>)>);

/// For each table, the columns (with their table) holding references of one
/// kind to it.
type Incoming<'s> = BTreeMap<&'s str, Vec<(&'s str, &'s ColumnSchema)>>;

fn incoming(schema: &DatabaseSchema, kind: RefType) -> Incoming<'_> {
    let mut by_target: Incoming<'_> = BTreeMap::new();
    for (t, ts) in &schema.tables {
        for col in ts.columns.values() {
            let targets: BTreeSet<&str> = std::iter::once(&col.ty.key)
                .chain(col.ty.value.as_ref())
                .filter(|b| b.ref_type == kind)
                .filter_map(|b| b.ref_table.as_deref())
                .collect();
            for target in targets {
                by_target.entry(target).or_default().push((t.as_str(), col));
            }
        }
    }
    by_target
}

/// The columns of table `t` holding references of kind `kind`.
fn ref_columns<'s>(schema: &'s DatabaseSchema, t: &str, kind: RefType) -> Vec<&'s ColumnSchema> {
    schema.tables.get(t).map_or_else(Vec::new, |ts| {
        ts.columns
            .values()
            .filter(|c| has_ref(&c.ty, kind))
            .collect()
    })
}

/// The tables with a column in `incoming` that references a table rows of
/// `gone` were deleted from: their rows may now hold dangling references.
fn referencing<'s>(gone: &Marks, incoming: &Incoming<'s>) -> BTreeSet<&'s str> {
    gone.keys()
        .filter_map(|t| incoming.get(t.as_str()))
        .flatten()
        .map(|(t, _)| *t)
        .collect()
}

fn mark(marks: &mut Marks, t: &str, u: Uuid) {
    marks.entry(t.to_string()).or_default().insert(u);
}

impl Exec<'_> {
    /// Whether row `u` of `table` exists in the transaction's current state.
    fn exists(&self, table: &str, u: &Uuid) -> bool {
        self.rows_ref(table).is_some_and(|r| r.contains_key(u))
    }

    /// The rows to look at for a check, by table: every touched row, and
    /// every row of the tables in `whole` (those referencing a table rows
    /// were deleted from). Rows that no longer exist are left out.
    fn rows_to_check(&self, whole: &BTreeSet<&str>) -> Vec<TableRows> {
        let mut out = Vec::new();
        for t in whole {
            if let Some(rows) = self.rows_ref(t) {
                let rows = rows.iter().map(|(u, r)| (*u, r.clone())).collect();
                out.push((t.to_string(), rows));
            }
        }
        for (t, us) in &self.dirty {
            if whole.contains(t.as_str()) {
                continue;
            }
            let Some(rows) = self.rows_ref(t) else {
                continue;
            };
            let rows = us
                .iter()
                .filter_map(|u| rows.get(u).map(|r| (*u, r.clone())))
                .collect();
            out.push((t.clone(), rows));
        }
        out
    }

    /// The commit-time checks, on what the transaction touched.
    pub(super) fn finish(&mut self) -> Result<(), TxnError> {
        if self.dirty.is_empty() {
            return Ok(());
        }
        let schema = self.db.schema().clone();
        let weak_in = incoming(&schema, RefType::Weak);
        let strong_in = incoming(&schema, RefType::Strong);
        // Rows the operations deleted; non-root rows that may have lost
        // their last strong reference (inserted ones, modified ones, and
        // those the old versions of touched rows referenced).
        let mut gone = Marks::new();
        let mut candidates = Marks::new();
        for (t, us) in &self.dirty {
            let root = schema.tables.get(t).is_none_or(|ts| ts.is_root);
            for u in us {
                let old = self.db.table(t).and_then(|r| r.get(u));
                let now = self.exists(t, u);
                if old.is_some() && !now {
                    mark(&mut gone, t, *u);
                }
                if !root && now {
                    mark(&mut candidates, t, *u);
                }
                if let Some(old) = old {
                    strong_targets(&schema, t, old, &mut candidates);
                }
            }
        }
        loop {
            self.drop_weak_refs(&schema, &weak_in, &gone)?;
            self.check_strong_refs(&schema, &strong_in, &gone)?;
            gone = self.collect_garbage(&schema, &strong_in, &mut candidates);
            if gone.is_empty() {
                break;
            }
        }
        self.check_tables(&schema)
    }

    /// Removes references to rows that do not exist from weak-reference
    /// columns (touched rows, and rows referencing a table in `gone`), then
    /// checks those columns' minimum cardinality.
    fn drop_weak_refs(
        &mut self,
        schema: &DatabaseSchema,
        weak_in: &Incoming<'_>,
        gone: &Marks,
    ) -> Result<(), TxnError> {
        let whole = referencing(gone, weak_in);
        let mut updates = Vec::new();
        for (t, rows) in self.rows_to_check(&whole) {
            let weak = ref_columns(schema, &t, RefType::Weak);
            if weak.is_empty() {
                continue;
            }
            for (u, row) in rows {
                let mut new_row: Option<Row> = None;
                for col in weak.iter() {
                    let Some(d) = row.get(&col.name) else {
                        continue;
                    };
                    let kept = retain_refs(d, &col.ty, RefType::Weak, |table, uuid| {
                        self.exists(table, uuid)
                    });
                    if kept.len() != d.len() {
                        if (kept.len() as u64) < col.ty.min {
                            return Err(constraint(format!(
                            "table {t} row {u} column {}: deleting a weakly referenced row leaves fewer than {} value(s)",
                            col.name, col.ty.min
                        )));
                        }
                        new_row
                            .get_or_insert_with(|| (*row).clone())
                            .insert(col.name.clone(), kept);
                    }
                }
                if let Some(r) = new_row {
                    updates.push((t.clone(), u, r));
                }
            }
        }
        for (t, u, r) in updates {
            self.rows(&t).insert(u, Arc::new(r));
            mark(&mut self.dirty, &t, u);
        }
        Ok(())
    }

    /// Fails if a touched row, or a row referencing a table in `gone`,
    /// holds a strong reference to a row that does not exist.
    fn check_strong_refs(
        &self,
        schema: &DatabaseSchema,
        strong_in: &Incoming<'_>,
        gone: &Marks,
    ) -> Result<(), TxnError> {
        let whole = referencing(gone, strong_in);
        for (t, rows) in self.rows_to_check(&whole) {
            let strong = ref_columns(schema, &t, RefType::Strong);
            if strong.is_empty() {
                continue;
            }
            for (u, row) in &rows {
                for col in strong.iter() {
                    let Some(d) = row.get(&col.name) else {
                        continue;
                    };
                    for (target, r) in refs_of(d, &col.ty, RefType::Strong) {
                        if !self.exists(target, &r) {
                            return Err(TxnError::new(
                            "referential integrity violation",
                            format!("Table {t} column {} row {u} references nonexistent row {r} in table {target}.", col.name),
                        ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Deletes the `candidates` no row references strongly and returns
    /// them; the rows they referenced become the next candidates.
    fn collect_garbage(
        &mut self,
        schema: &DatabaseSchema,
        strong_in: &Incoming<'_>,
        candidates: &mut Marks,
    ) -> Marks {
        let mut doomed = Marks::new();
        for (t, cands) in std::mem::take(candidates) {
            let cands: BTreeSet<Uuid> = cands.into_iter().filter(|u| self.exists(&t, u)).collect();
            if cands.is_empty() {
                continue;
            }
            let mut referenced = BTreeSet::new();
            for (from, col) in strong_in.get(t.as_str()).into_iter().flatten() {
                let Some(rows) = self.rows_ref(from) else {
                    continue;
                };
                for row in rows.values() {
                    let Some(d) = row.get(&col.name) else {
                        continue;
                    };
                    referenced.extend(
                        refs_of(d, &col.ty, RefType::Strong)
                            .into_iter()
                            .filter(|(target, r)| *target == t && cands.contains(r))
                            .map(|(_, r)| r),
                    );
                }
            }
            let dead: BTreeSet<Uuid> = cands.difference(&referenced).copied().collect();
            if !dead.is_empty() {
                doomed.insert(t, dead);
            }
        }
        for (t, us) in &doomed {
            for u in us {
                if let Some(row) = self.rows(t).remove(u) {
                    strong_targets(schema, t, &row, candidates);
                }
                mark(&mut self.dirty, t, *u);
            }
        }
        doomed
    }

    /// `maxRows` and unique indexes of the tables the transaction touched.
    fn check_tables(&self, schema: &DatabaseSchema) -> Result<(), TxnError> {
        for (t, us) in &self.dirty {
            let (Some(ts), Some(rows)) = (schema.tables.get(t), self.rows_ref(t)) else {
                continue;
            };
            if let Some(max) = ts.max_rows {
                if rows.len() as u64 > max {
                    return Err(constraint(format!(
                        "Transaction causes \"{t}\" table to contain {} rows, greater than the schema-defined limit of {max} row(s).",
                        rows.len()
                    )));
                }
            }
            for index in &ts.indexes {
                let key = |row| index_key(index, row);
                // The touched rows' keys, each compared with every row; a
                // row whose key the transaction did not change cannot clash
                // (the table was consistent before).
                let before = self.db.table(t);
                let touched: Vec<(Uuid, Vec<Option<&Datum>>)> = us
                    .iter()
                    .filter_map(|u| rows.get(u).map(|r| (*u, key(r))))
                    .filter(|(u, k)| {
                        before
                            .and_then(|b| b.get(u))
                            .is_none_or(|old| index_key(index, old) != *k)
                    })
                    .collect();
                if touched.is_empty() {
                    continue;
                }
                let clash = if touched.len() * 4 > rows.len() {
                    // Most of the table: one hash of every key.
                    let mut seen: std::collections::HashMap<Vec<Option<&Datum>>, Uuid> =
                        std::collections::HashMap::new();
                    rows.iter()
                        .find_map(|(u, r)| seen.insert(key(r), *u).map(|other| (other, *u)))
                } else {
                    rows.iter().find_map(|(u, r)| {
                        touched
                            .iter()
                            .find(|(tu, k)| {
                                tu != u && k.iter().zip(index).all(|(d, c)| *d == r.get(c))
                            })
                            .map(|(tu, _)| (*tu.min(u), *tu.max(u)))
                    })
                };
                if let Some((first, second)) = clash {
                    let values = key(&rows[&first])
                        .into_iter()
                        .flatten()
                        .map(Datum::to_string)
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(constraint(format!(
                        "Transaction causes multiple rows in \"{t}\" table to have identical values ({values}) for index on columns {index:?}. First row, with UUID {first}, and second row, with UUID {second}."
                    )));
                }
            }
        }
        Ok(())
    }

    /// Applies the working tables to the database and returns the changes,
    /// table by table (in each: deletes and modifications, then inserts),
    /// looking only at the touched rows.
    pub(super) fn commit(self) -> Vec<RowChange> {
        let mut changes = Vec::new();
        let tables = self.db.tables_mut();
        let none = crate::db::Rows::new();
        for (t, us) in &self.dirty {
            let Some(new) = self.work.get(t) else {
                continue;
            };
            let old = tables.get(t).unwrap_or(&none);
            for u in us {
                match (old.get(u), new.get(u)) {
                    (Some(o), None) => changes.push(RowChange::Delete {
                        table: t.clone(),
                        uuid: *u,
                        old: o.clone(),
                    }),
                    (Some(o), Some(n)) if !Arc::ptr_eq(o, n) && o != n => {
                        changes.push(RowChange::Modify {
                            table: t.clone(),
                            uuid: *u,
                            old: o.clone(),
                            new: n.clone(),
                        })
                    }
                    _ => {}
                }
            }
            for u in us {
                if let (None, Some(n)) = (old.get(u), new.get(u)) {
                    changes.push(RowChange::Insert {
                        table: t.clone(),
                        uuid: *u,
                        new: n.clone(),
                    });
                }
            }
        }
        for (t, rows) in self.work {
            tables.insert(t, rows);
        }
        changes
    }
}

/// Marks as candidates the non-root rows `row` (of table `t`) references
/// strongly.
fn strong_targets(schema: &DatabaseSchema, t: &str, row: &Row, candidates: &mut Marks) {
    for col in ref_columns(schema, t, RefType::Strong) {
        let Some(d) = row.get(&col.name) else {
            continue;
        };
        for (target, u) in refs_of(d, &col.ty, RefType::Strong) {
            if schema.tables.get(target).is_some_and(|ts| !ts.is_root) {
                mark(candidates, target, u);
            }
        }
    }
}

/// The values of a row's index columns.
fn index_key<'r>(index: &[String], row: &'r Row) -> Vec<Option<&'r Datum>> {
    index.iter().map(|c| row.get(c)).collect()
}
