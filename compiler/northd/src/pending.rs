//! Compiler output not yet written to the SB: the main loop compiles each
//! NB or SB transaction as it arrives and writes once per iteration.
//!
//! An NB batch is kept as the rows it touched with their records before
//! ([`SbTouched`]); the rows after are the compiler's current records, and
//! complete rows are built one at a time while the SB transaction is
//! written ([`Pending::take`]), so that a first full compute never holds
//! tens of thousands of rows besides the compiler's own records.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ovnflow_compiler::{Compiler, SbRecord, SbTouched};
use ovsdb::{Row, RowChange, Uuid};

/// One batch of compiler output.
#[derive(Clone, Debug)]
enum Delta {
    /// The rows an NB batch touched ([`Compiler::apply_touched`]).
    Touched(SbTouched),
    /// The row changes of an SB batch ([`Compiler::apply_sb`]).
    Rows(Vec<RowChange>),
}

/// What a row was before the pending batches.
#[derive(Clone, Debug)]
enum Old {
    Record(Option<Box<SbRecord>>),
    Row(Option<Arc<Row>>),
}

/// Compiler output not yet written to the SB.
#[derive(Debug, Default)]
pub struct Pending {
    deltas: Vec<Delta>,
    /// When the oldest pending batch was compiled.
    pub since: Option<Instant>,
}

/// The change of one row from `old` to `new` (`None` if there is none).
fn change(
    table: &str,
    uuid: Uuid,
    old: Option<Arc<Row>>,
    new: Option<Arc<Row>>,
) -> Option<RowChange> {
    let table = table.to_string();
    match (old, new) {
        (None, Some(new)) => Some(RowChange::Insert { table, uuid, new }),
        (Some(old), None) => Some(RowChange::Delete { table, uuid, old }),
        (Some(old), Some(new)) if old != new => Some(RowChange::Modify {
            table,
            uuid,
            old,
            new,
        }),
        _ => None,
    }
}

/// The row of a record.
fn row(r: &SbRecord) -> Arc<Row> {
    Arc::new(r.to_row())
}

/// The change of a touched row, from its record before to the compiler's
/// current one (`None` if it ended as it was).
fn touched_change(
    compiler: &Compiler,
    table: &'static str,
    uuid: Uuid,
    old: Option<Box<SbRecord>>,
) -> Option<RowChange> {
    let new = compiler.sb_record(table, uuid);
    if old.as_deref() == new {
        return None;
    }
    change(table, uuid, old.as_deref().map(row), new.map(row))
}

impl Pending {
    fn push(&mut self, delta: Delta, at: Instant) {
        if self.since.is_none() {
            self.since = Some(at);
        }
        self.deltas.push(delta);
    }

    /// Adds the rows an NB batch touched.
    pub fn add_touched(&mut self, touched: SbTouched, at: Instant) {
        if !touched.is_empty() {
            self.push(Delta::Touched(touched), at);
        }
    }

    /// Adds the row changes of an SB batch.
    pub fn add_rows(&mut self, changes: Vec<RowChange>, at: Instant) {
        if !changes.is_empty() {
            self.push(Delta::Rows(changes), at);
        }
    }

    /// Forgets everything pending.
    pub fn clear(&mut self) {
        self.deltas.clear();
        self.since = None;
    }

    /// The net changes of every pending batch, emptying it: each row from
    /// what it was before the first batch touching it to what `compiler`
    /// holds now, built one at a time as the iterator is read.
    pub fn take<'c>(&mut self, compiler: &'c Compiler) -> Box<dyn Iterator<Item = RowChange> + 'c> {
        self.since = None;
        let mut deltas = std::mem::take(&mut self.deltas);
        if deltas.len() <= 1 {
            return match deltas.pop() {
                None => Box::new(std::iter::empty()),
                Some(Delta::Rows(rows)) => Box::new(rows.into_iter()),
                Some(Delta::Touched(touched)) => Box::new(
                    touched
                        .into_iter()
                        .filter_map(move |((t, u), old)| touched_change(compiler, t, u, old)),
                ),
            };
        }
        // Several batches: per row, the first old and the last new (the
        // compiler's current record when an NB batch touched the row).
        struct Net {
            old: Old,
            table: Option<&'static str>,
            new: Option<Arc<Row>>,
        }
        let mut rows: BTreeMap<(String, Uuid), Net> = BTreeMap::new();
        for delta in deltas {
            match delta {
                Delta::Touched(touched) => {
                    for ((table, uuid), old) in touched {
                        rows.entry((table.to_string(), uuid))
                            .or_insert(Net {
                                old: Old::Record(old),
                                table: None,
                                new: None,
                            })
                            .table = Some(table);
                    }
                }
                Delta::Rows(changes) => {
                    for ch in changes {
                        let (table, uuid) = (ch.table().to_string(), ch.uuid());
                        let (old, new) = match ch {
                            RowChange::Insert { new, .. } => (None, Some(new)),
                            RowChange::Modify { old, new, .. } => (Some(old), Some(new)),
                            RowChange::Delete { old, .. } => (Some(old), None),
                        };
                        let net = rows.entry((table, uuid)).or_insert(Net {
                            old: Old::Row(old),
                            table: None,
                            new: None,
                        });
                        net.new = new;
                    }
                }
            }
        }
        Box::new(rows.into_iter().filter_map(move |((table, uuid), net)| {
            // A row an NB batch touched ends as the compiler holds it
            // (also after a later SB batch: that changed the compiler's
            // records too); one only SB batches touched, as the last says.
            let new = match net.table {
                Some(t) => compiler.sb_record(t, uuid).map(row),
                None => net.new,
            };
            let old = match net.old {
                Old::Record(r) => r.as_deref().map(row),
                Old::Row(r) => r,
            };
            change(&table, uuid, old, new)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nb(json: serde_json::Value) -> Vec<RowChange> {
        let db = ovsdb::transact_file::apply_transact_json(&json, "test").unwrap();
        db.to_changes()
    }

    fn sorted(mut v: Vec<RowChange>) -> Vec<RowChange> {
        v.sort_by(|a, b| (a.table(), a.uuid()).cmp(&(b.table(), b.uuid())));
        v
    }

    #[test]
    fn touched_rows_give_the_compilers_delta() {
        let first = nb(serde_json::json!(["OVN_Northbound",
            {"op": "insert", "table": "Logical_Switch", "uuid-name": "s",
             "row": {"name": "sw0", "ports": ["named-uuid", "p"]}},
            {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p",
             "row": {"name": "p1", "addresses": "00:00:00:00:00:01 10.0.0.1"}}]));
        let options = ovnflow_compiler::Options::default();
        let (mut a, mut b) = (
            Compiler::new(options.clone()).unwrap(),
            Compiler::new(options).unwrap(),
        );
        let delta = a.apply(first.clone()).unwrap();
        assert!(!delta.is_empty());
        let mut p = Pending::default();
        p.add_touched(b.apply_touched(first.clone()).unwrap(), Instant::now());
        assert!(p.since.is_some());
        let ours: Vec<RowChange> = p.take(&b).collect();
        assert_eq!(sorted(ours), sorted(delta.changes.clone()));
        assert!(p.take(&b).next().is_none() && p.since.is_none());
        // Adding and removing the switch, two batches netted.
        let gone: Vec<RowChange> = first
            .iter()
            .map(|c| RowChange::Delete {
                table: c.table().to_string(),
                uuid: c.uuid(),
                old: c.new_row().unwrap().clone(),
            })
            .collect();
        let mut c = Compiler::new(ovnflow_compiler::Options::default()).unwrap();
        p.add_touched(c.apply_touched(first).unwrap(), Instant::now());
        p.add_touched(c.apply_touched(gone.clone()).unwrap(), Instant::now());
        // From nothing to what is left: the rows not about the switch.
        let left: Vec<RowChange> = c
            .sb_records()
            .map(|r| RowChange::Insert {
                table: r.table().to_string(),
                uuid: r.uuid(),
                new: row(r),
            })
            .collect();
        assert!(left.len() < delta.changes.len());
        assert_eq!(sorted(p.take(&c).collect()), sorted(left));
        // Alone, the removal deletes what the first batch wrote.
        let removed = a.apply(gone.clone()).unwrap();
        p.add_touched(b.apply_touched(gone).unwrap(), Instant::now());
        let ours: Vec<RowChange> = p.take(&b).collect();
        assert_eq!(sorted(ours), sorted(removed.changes));
    }

    #[test]
    fn row_batches_net_out() {
        let c = Compiler::new(ovnflow_compiler::Options::default()).unwrap();
        let u = Uuid::from_u128(1);
        let row = |v: i64| Arc::new(Row::from([("x".to_string(), ovsdb::Datum::scalar(v))]));
        let mut p = Pending::default();
        let now = Instant::now();
        let insert = RowChange::Insert {
            table: "T".into(),
            uuid: u,
            new: row(1),
        };
        let modify = RowChange::Modify {
            table: "T".into(),
            uuid: u,
            old: row(1),
            new: row(2),
        };
        p.add_rows(vec![insert.clone()], now);
        p.add_rows(vec![modify.clone()], now);
        let got: Vec<RowChange> = p.take(&c).collect();
        assert!(matches!(&got[..], [RowChange::Insert { new, .. }] if **new == *row(2)));
        p.add_rows(vec![insert], now);
        p.add_rows(vec![modify], now);
        p.add_rows(
            vec![RowChange::Delete {
                table: "T".into(),
                uuid: u,
                old: row(2),
            }],
            now,
        );
        assert_eq!(p.take(&c).count(), 0);
        assert!(p.take(&c).next().is_none() && p.since.is_none());
    }
}
