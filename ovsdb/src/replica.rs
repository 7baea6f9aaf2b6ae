//! A replica: an in-memory copy of a database fed by monitor updates, which
//! emits row-level changes ([`RowChange`]). This stream is what the compiler
//! and the daemons consume.
//!
//! Two notations exist (RFC 7047 §4.1.6 and ovsdb-server's `monitor_cond`
//! extension): `update` rows carry `{"old": …, "new": …}`; `update2` and
//! `update3` rows carry one of `initial`, `insert`, `delete` or `modify`,
//! where `modify` lists column *differences* ([`crate::db::apply_diff`]).

use std::sync::Arc;

use serde_json::Value;

use crate::atom::Uuid;
use crate::datum::Row;
use crate::db::{apply_diff, Database, RowChange};
use crate::schema::{DatabaseSchema, TableSchema};

/// Which notation a table-updates object uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateVersion {
    /// `update` (monitor): `{"old": row, "new": row}`.
    V1,
    /// `update2` / `update3` (monitor_cond, monitor_cond_since).
    V2,
}

/// A malformed update, naming table, row and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReplicaError(pub String);

/// An in-memory replica of one database.
#[derive(Clone, Debug)]
pub struct Replica {
    db: Database,
    last_txn_id: Option<Uuid>,
}

impl Replica {
    /// An empty replica of `schema`.
    pub fn new(schema: Arc<DatabaseSchema>) -> Replica {
        Replica {
            db: Database::new(schema),
            last_txn_id: None,
        }
    }

    /// The replicated content.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The last transaction id seen (update3), for `monitor_cond_since`.
    pub fn last_txn_id(&self) -> Option<Uuid> {
        self.last_txn_id
    }

    /// Records the last transaction id (from an update3 or a monitor reply).
    pub fn set_last_txn_id(&mut self, id: Option<Uuid>) {
        self.last_txn_id = id;
    }

    /// Applies one table-updates object and returns the changes, in table order.
    /// On error nothing is applied.
    pub fn apply_update(
        &mut self,
        version: UpdateVersion,
        updates: &Value,
    ) -> Result<Vec<RowChange>, ReplicaError> {
        let changes = self.parse(version, updates)?;
        self.db.apply(&changes);
        Ok(changes)
    }

    /// Replaces the whole content by a fresh snapshot (the initial contents
    /// of a new monitor), returning only the real differences: rows that
    /// vanished, changed or appeared.
    pub fn reset_to(
        &mut self,
        version: UpdateVersion,
        initial: &Value,
    ) -> Result<Vec<RowChange>, ReplicaError> {
        let mut fresh = Replica::new(self.db.schema().clone());
        fresh.apply_update(version, initial)?;
        let changes = self.db.diff(&fresh.db);
        self.db = fresh.db;
        Ok(changes)
    }

    fn parse(
        &self,
        version: UpdateVersion,
        updates: &Value,
    ) -> Result<Vec<RowChange>, ReplicaError> {
        let err = |m: String| ReplicaError(m);
        let tables = updates
            .as_object()
            .ok_or_else(|| err("table-updates is not a JSON object".into()))?;
        let schema = self.db.schema().clone();
        let mut out = Vec::new();
        for (t, rows) in tables {
            let ts = schema
                .table(t)
                .ok_or_else(|| err(format!("update for unknown table {t}")))?;
            let rows = rows
                .as_object()
                .ok_or_else(|| err(format!("table {t}: row updates are not an object")))?;
            for (u, ru) in rows {
                let uuid = Uuid::parse_str(u)
                    .map_err(|_| err(format!("table {t}: bad row UUID {u:?}")))?;
                let old = self.db.get(t, &uuid).cloned();
                let change = match version {
                    UpdateVersion::V1 => self.v1(ts, uuid, old, ru)?,
                    UpdateVersion::V2 => self.v2(ts, uuid, old, ru)?,
                };
                out.extend(change);
            }
        }
        Ok(out)
    }

    fn v1(
        &self,
        ts: &TableSchema,
        uuid: Uuid,
        old: Option<Arc<Row>>,
        ru: &Value,
    ) -> Result<Option<RowChange>, ReplicaError> {
        let t = &ts.name;
        let m = ru.as_object().ok_or_else(|| {
            ReplicaError(format!("table {t} row {uuid}: update is not an object"))
        })?;
        let table = t.clone();
        match (m.get("new"), old) {
            (None, Some(old)) => Ok(Some(RowChange::Delete { table, uuid, old })),
            (None, None) => Ok(None),
            (Some(new), old) => {
                let base = match &old {
                    Some(o) => (**o).clone(),
                    None => Database::complete_row(ts, Row::new()),
                };
                let new = Arc::new(merge(ts, uuid, base, new, false)?);
                Ok(Some(match old {
                    Some(old) => RowChange::Modify {
                        table,
                        uuid,
                        old,
                        new,
                    },
                    None => RowChange::Insert { table, uuid, new },
                }))
            }
        }
    }

    fn v2(
        &self,
        ts: &TableSchema,
        uuid: Uuid,
        old: Option<Arc<Row>>,
        ru: &Value,
    ) -> Result<Option<RowChange>, ReplicaError> {
        let t = &ts.name;
        let m = ru.as_object().ok_or_else(|| {
            ReplicaError(format!("table {t} row {uuid}: update is not an object"))
        })?;
        let Some((kind, body)) = m.iter().next().filter(|_| m.len() == 1) else {
            return Err(ReplicaError(format!(
                "table {t} row {uuid}: expected exactly one of initial/insert/delete/modify"
            )));
        };
        let table = t.clone();
        match (kind.as_str(), old) {
            ("initial" | "insert", old) => {
                let new = Arc::new(merge(
                    ts,
                    uuid,
                    Database::complete_row(ts, Row::new()),
                    body,
                    false,
                )?);
                Ok(Some(match old {
                    Some(old) => RowChange::Modify {
                        table,
                        uuid,
                        old,
                        new,
                    },
                    None => RowChange::Insert { table, uuid, new },
                }))
            }
            ("delete", Some(old)) => Ok(Some(RowChange::Delete { table, uuid, old })),
            ("delete", None) => Ok(None),
            ("modify", Some(old)) => {
                let new = Arc::new(merge(ts, uuid, (*old).clone(), body, true)?);
                Ok(Some(RowChange::Modify {
                    table,
                    uuid,
                    old,
                    new,
                }))
            }
            ("modify", None) => Err(ReplicaError(format!(
                "table {t} row {uuid}: modify of a row the replica does not have"
            ))),
            (other, _) => Err(ReplicaError(format!(
                "table {t} row {uuid}: unknown update kind {other:?}"
            ))),
        }
    }
}

/// Writes the columns of `v` over `base` (as differences when `diff`).
fn merge(
    ts: &TableSchema,
    uuid: Uuid,
    mut base: Row,
    v: &Value,
    diff: bool,
) -> Result<Row, ReplicaError> {
    let t = &ts.name;
    let cols = v
        .as_object()
        .ok_or_else(|| ReplicaError(format!("table {t} row {uuid}: row is not an object")))?;
    for (c, dv) in cols {
        let col = ts
            .column(c)
            .ok_or_else(|| ReplicaError(format!("table {t} row {uuid}: unknown column {c}")))?;
        let d = col
            .ty
            .parse_datum(dv)
            .map_err(|e| ReplicaError(format!("table {t} row {uuid} column {c}: {e}")))?;
        let d = if diff {
            apply_diff(&col.ty, &base[c], &d)
        } else {
            d
        };
        base.insert(c.clone(), d);
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datum::Datum;
    use crate::schema::nb_schema;
    use serde_json::json;

    const U: &str = "4e0b20f2-9b9b-4c17-8d74-a331eff9070b";
    const P: &str = "15059e66-c91b-4649-8df0-e3de97a234a0";

    fn uuid() -> Uuid {
        Uuid::parse_str(U).unwrap()
    }

    #[test]
    fn update2_insert_modify_delete() {
        let mut r = Replica::new(Arc::new(nb_schema().clone()));
        let c = r
            .apply_update(UpdateVersion::V2, &json!({"Logical_Switch": {U: {"insert": {"name": "s", "other_config": ["map", [["a", "1"], ["b", "2"]]]}}}}))
            .unwrap();
        assert!(matches!(&c[..], [RowChange::Insert { .. }]));
        let c = r
            .apply_update(
                UpdateVersion::V2,
                &json!({"Logical_Switch": {U: {"modify": {"name": "t", "ports": ["uuid", P], "other_config": ["map", [["a", "1"], ["b", "3"], ["c", "4"]]]}}}}),
            )
            .unwrap();
        let RowChange::Modify { new, .. } = &c[0] else {
            panic!("{c:?}")
        };
        assert_eq!(new["name"], Datum::scalar("t"));
        assert_eq!(
            new["other_config"],
            Datum::string_map([("b", "3"), ("c", "4")])
        );
        assert_eq!(new["ports"], Datum::scalar(Uuid::parse_str(P).unwrap()));
        r.apply_update(
            UpdateVersion::V2,
            &json!({"Logical_Switch": {U: {"modify": {"ports": ["uuid", P]}}}}),
        )
        .unwrap();
        assert_eq!(
            r.database().get("Logical_Switch", &uuid()).unwrap()["ports"],
            Datum::empty_set()
        );
        let c = r
            .apply_update(
                UpdateVersion::V2,
                &json!({"Logical_Switch": {U: {"delete": null}}}),
            )
            .unwrap();
        assert!(matches!(&c[..], [RowChange::Delete { .. }]));
        assert!(r.database().is_empty());
    }

    #[test]
    fn update1_old_new() {
        let mut r = Replica::new(Arc::new(nb_schema().clone()));
        r.apply_update(
            UpdateVersion::V1,
            &json!({"Logical_Switch": {U: {"new": {"name": "s"}}}}),
        )
        .unwrap();
        let c = r
            .apply_update(
                UpdateVersion::V1,
                &json!({"Logical_Switch": {U: {"old": {"name": "s"}, "new": {"name": "t"}}}}),
            )
            .unwrap();
        assert!(matches!(&c[..], [RowChange::Modify { .. }]));
        let c = r
            .apply_update(
                UpdateVersion::V1,
                &json!({"Logical_Switch": {U: {"old": {"name": "t"}}}}),
            )
            .unwrap();
        assert!(matches!(&c[..], [RowChange::Delete { .. }]));
    }

    #[test]
    fn reset_reports_only_real_differences() {
        let mut r = Replica::new(Arc::new(nb_schema().clone()));
        r.apply_update(UpdateVersion::V2, &json!({"Logical_Switch": {U: {"initial": {"name": "s"}}, P: {"initial": {"name": "gone"}}}}))
            .unwrap();
        let c = r
            .reset_to(
                UpdateVersion::V2,
                &json!({"Logical_Switch": {U: {"initial": {"name": "s"}}}}),
            )
            .unwrap();
        assert_eq!(c.len(), 1);
        assert!(matches!(&c[0], RowChange::Delete { uuid, .. } if uuid.to_string() == P));
    }

    #[test]
    fn malformed_updates_name_the_place_and_change_nothing() {
        let mut r = Replica::new(Arc::new(nb_schema().clone()));
        let e = r
            .apply_update(
                UpdateVersion::V2,
                &json!({"Logical_Switch": {U: {"insert": {"name": 3}}}}),
            )
            .unwrap_err();
        assert!(
            e.0.starts_with(&format!("table Logical_Switch row {U} column name")),
            "{e}"
        );
        assert!(r
            .apply_update(UpdateVersion::V2, &json!({"Nope": {}}))
            .is_err());
        assert!(r
            .apply_update(
                UpdateVersion::V2,
                &json!({"Logical_Switch": {U: {"modify": {"name": "x"}}}})
            )
            .is_err());
        assert!(r.apply_update(UpdateVersion::V2, &json!([1])).is_err());
        assert!(r.database().is_empty());
    }
}
