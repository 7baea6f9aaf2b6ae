//! A replica: an in-memory copy of a database fed by monitor updates, which
//! emits row-level changes ([`RowChange`]). This stream is what the compiler
//! and the daemons consume.
//!
//! Two notations exist (RFC 7047 §4.1.6 and ovsdb-server's `monitor_cond`
//! extension): `update` rows carry `{"old": …, "new": …}`; `update2` and
//! `update3` rows carry one of `initial`, `insert`, `delete` or `modify`,
//! where `modify` lists column *differences* ([`crate::db::apply_diff`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::atom::Uuid;
use crate::datum::Row;
use crate::db::{Database, RowChange};
use crate::de::{overlay_row, ColumnsSeed, RowKey, RowTemplate, TableKey, Word};
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

/// The columns a replica's rows hold, by table, for the tables a monitor
/// asked only some columns of (a table not listed is held whole).
pub type KeptColumns = BTreeMap<String, BTreeSet<String>>;

/// An in-memory replica of one database.
#[derive(Clone, Debug)]
pub struct Replica {
    db: Database,
    last_txn_id: Option<Uuid>,
    /// Under a monitor of some columns: the only columns rows hold.
    kept: Option<Arc<KeptColumns>>,
    /// Rows leave out empty columns ([`Replica::omit_empty`]).
    lean: bool,
}

impl Replica {
    /// An empty replica of `schema`, whose rows hold every column (those
    /// an update leaves out at their defaults).
    pub fn new(schema: Arc<DatabaseSchema>) -> Replica {
        Replica {
            db: Database::new(schema),
            last_txn_id: None,
            kept: None,
            lean: false,
        }
    }

    /// An empty replica of `schema` fed by a monitor of only some columns
    /// of some tables (`kept`): rows of those tables hold only those
    /// columns.  A column nobody receives would hold its schema default in
    /// every row (its name and value again per row: a good part of an
    /// Open_vSwitch `Interface` row of ~50 columns); typed rows
    /// ([`crate::typed::TypedRow::from_row`]) read a column a row lacks as
    /// that default, so they come out the same either way.
    pub fn with_kept_columns(schema: Arc<DatabaseSchema>, kept: KeptColumns) -> Replica {
        Replica {
            kept: (!kept.is_empty()).then(|| Arc::new(kept)),
            ..Replica::new(schema)
        }
    }

    /// This replica with rows that leave out every column whose value is
    /// empty: an optional column not set, a set or map without elements
    /// (most columns of most OVN rows: a Northbound `Logical_Switch_Port`
    /// of a pod sets 4 of its 16). Such a row costs a fraction of one that
    /// holds every column, and a reader takes a missing column as the empty
    /// set or map it stands for; typed rows
    /// ([`crate::typed::TypedRow::from_row`]) come out the same. Columns
    /// whose default is not empty (integers, strings, booleans, references
    /// required by the schema) are held as in a complete row.
    pub fn omit_empty(mut self, lean: bool) -> Replica {
        self.lean = lean;
        self
    }

    /// Whether rows leave out empty columns ([`Replica::omit_empty`]).
    pub fn omits_empty(&self) -> bool {
        self.lean
    }

    /// An empty replica like this one (same schema, kept columns and
    /// leanness).
    fn empty_like(&self) -> Replica {
        Replica {
            db: Database::new(self.db.schema().clone()),
            last_txn_id: None,
            lean: self.lean,
            kept: self.kept.clone(),
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

    /// [`Replica::apply_update`] of a table-updates object given as JSON
    /// text, parsed straight into rows (no [`Value`] tree).
    pub fn apply_update_json(
        &mut self,
        version: UpdateVersion,
        updates: &str,
    ) -> Result<Vec<RowChange>, ReplicaError> {
        let mut d = serde_json::Deserializer::from_str(updates);
        let changes = self.parse(version, &mut d)?;
        d.end().map_err(|e| ReplicaError(e.to_string()))?;
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
        let mut fresh = self.empty_like();
        fresh.apply_update(version, initial)?;
        Ok(self.replace(fresh))
    }

    /// [`Replica::reset_to`] with the snapshot given as JSON text, parsed
    /// straight into rows.
    pub fn reset_to_json(
        &mut self,
        version: UpdateVersion,
        initial: &str,
    ) -> Result<Vec<RowChange>, ReplicaError> {
        let mut fresh = self.empty_like();
        fresh.apply_update_json(version, initial)?;
        Ok(self.replace(fresh))
    }

    /// Takes `fresh`'s content, returning the differences (table by
    /// table, row by row in UUID order).
    fn replace(&mut self, fresh: Replica) -> Vec<RowChange> {
        let changes = self.db.diff(&fresh.db);
        self.db = fresh.db;
        changes
    }

    /// Parses a table-updates object into changes against the current
    /// content (which it does not touch).
    fn parse<'de, D: Deserializer<'de>>(
        &self,
        version: UpdateVersion,
        updates: D,
    ) -> Result<Vec<RowChange>, ReplicaError> {
        let schema = self.db.schema().clone();
        let mut out = Vec::new();
        UpdatesSeed {
            schema: &schema,
            db: &self.db,
            kept: self.kept.as_deref(),
            lean: self.lean,
            version,
            out: &mut out,
        }
        .deserialize(updates)
        .map_err(|e| ReplicaError(e.to_string()))?;
        Ok(out)
    }
}

/// A table-updates object: `{table: {uuid: row-update}}`.
struct UpdatesSeed<'a> {
    schema: &'a DatabaseSchema,
    db: &'a Database,
    kept: Option<&'a KeptColumns>,
    lean: bool,
    version: UpdateVersion,
    out: &'a mut Vec<RowChange>,
}

impl<'de> DeserializeSeed<'de> for UpdatesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UpdatesSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table-updates JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let key = || TableKey {
            schema: self.schema,
            unknown: "update for unknown table",
        };
        while let Some(ts) = map.next_key_seed(key())? {
            map.next_value_seed(TableUpdatesSeed {
                ts,
                db: self.db,
                kept: self.kept.and_then(|k| k.get(&ts.name)),
                lean: self.lean,
                version: self.version,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }
}

/// The row updates of one table: `{uuid: row-update}`.
struct TableUpdatesSeed<'a> {
    ts: &'a TableSchema,
    db: &'a Database,
    /// The only columns new rows hold, if not all.
    kept: Option<&'a BTreeSet<String>>,
    lean: bool,
    version: UpdateVersion,
    out: &'a mut Vec<RowChange>,
}

impl<'de> DeserializeSeed<'de> for TableUpdatesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TableUpdatesSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}: row updates (an object)", self.ts.name)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ts = self.ts;
        if let Some(n) = map.size_hint() {
            self.out.reserve(n);
        }
        let rows = self.db.table(&ts.name);
        let template = match self.kept {
            Some(cols) => RowTemplate::only(ts, cols),
            None => RowTemplate::new(ts),
        };
        let template = if self.lean { template.lean() } else { template };
        while let Some(uuid) = map.next_key_seed(RowKey { table: &ts.name })? {
            let old = rows.and_then(|r| r.get(&uuid)).cloned();
            let change = map.next_value_seed(RowUpdateSeed {
                version: self.version,
                ts,
                template: &template,
                uuid,
                old,
            })?;
            self.out.extend(change);
        }
        Ok(())
    }
}

/// One row of a table update: `{"old": row, "new": row}` in `update`
/// form, exactly one of `initial`, `insert`, `delete` or `modify` in
/// `update2`/`update3` form.
struct RowUpdateSeed<'a> {
    version: UpdateVersion,
    ts: &'a TableSchema,
    template: &'a RowTemplate,
    uuid: Uuid,
    old: Option<Arc<Row>>,
}

impl<'de> DeserializeSeed<'de> for RowUpdateSeed<'_> {
    type Value = Option<RowChange>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowUpdateSeed<'_> {
    type Value = Option<RowChange>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "table {} row {}: an update object",
            self.ts.name, self.uuid
        )
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        match self.version {
            UpdateVersion::V1 => self.v1(map),
            UpdateVersion::V2 => self.v2(map),
        }
    }
}

impl RowUpdateSeed<'_> {
    /// `update` form: the new row in full (or none: deleted).
    fn v1<'de, A: MapAccess<'de>>(self, mut map: A) -> Result<Option<RowChange>, A::Error> {
        let (ts, uuid) = (self.ts, self.uuid);
        let mut new = None;
        while let Some(k) = map.next_key_seed(Word(&["new"]))? {
            if k == Ok(0) {
                new = Some(map.next_value_seed(ColumnsSeed {
                    table: ts,
                    row: uuid,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        let table = ts.name.clone();
        Ok(match (new, self.old) {
            (None, Some(old)) => Some(RowChange::Delete { table, uuid, old }),
            (None, None) => None,
            (Some(cols), Some(old)) => {
                let new = Arc::new(overlay_row(&old, cols, false, self.template.is_lean()));
                Some(RowChange::Modify {
                    table,
                    uuid,
                    old,
                    new,
                })
            }
            (Some(cols), None) => Some(RowChange::Insert {
                table,
                uuid,
                new: Arc::new(self.template.complete(cols)),
            }),
        })
    }

    /// `update2`/`update3` form: exactly one of `initial`, `insert`,
    /// `delete` or `modify` (a diff against the replica's row).
    fn v2<'de, A: MapAccess<'de>>(self, mut map: A) -> Result<Option<RowChange>, A::Error> {
        let (ts, uuid) = (self.ts, self.uuid);
        let t = &ts.name;
        let one_of = || {
            A::Error::custom(format_args!(
                "table {t} row {uuid}: expected exactly one of initial/insert/delete/modify"
            ))
        };
        const KINDS: &[&str] = &["initial", "insert", "delete", "modify"];
        let Some(kind) = map.next_key_seed(Word(KINDS))? else {
            return Err(one_of());
        };
        let kind = match &kind {
            Ok(i) => KINDS[*i],
            Err(other) => other.as_str(),
        };
        let table = t.clone();
        let change = match (kind, self.old) {
            ("initial" | "insert", old) => {
                let cols = map.next_value_seed(ColumnsSeed {
                    table: ts,
                    row: uuid,
                })?;
                let new = Arc::new(self.template.complete(cols));
                Some(match old {
                    Some(old) => RowChange::Modify {
                        table,
                        uuid,
                        old,
                        new,
                    },
                    None => RowChange::Insert { table, uuid, new },
                })
            }
            ("delete", old) => {
                map.next_value::<IgnoredAny>()?;
                old.map(|old| RowChange::Delete { table, uuid, old })
            }
            ("modify", Some(old)) => {
                let cols = map.next_value_seed(ColumnsSeed {
                    table: ts,
                    row: uuid,
                })?;
                let new = Arc::new(overlay_row(&old, cols, true, self.template.is_lean()));
                Some(RowChange::Modify {
                    table,
                    uuid,
                    old,
                    new,
                })
            }
            ("modify", None) => {
                return Err(A::Error::custom(format_args!(
                    "table {t} row {uuid}: modify of a row the replica does not have"
                )))
            }
            (other, _) => {
                return Err(A::Error::custom(format_args!(
                    "table {t} row {uuid}: unknown update kind {other:?}"
                )))
            }
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(one_of());
        }
        Ok(change)
    }
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
    fn kept_columns_rows_hold_only_those_and_read_the_same_typed() {
        use crate::nb::LogicalSwitch;
        use crate::typed::TypedRow;
        let kept: KeptColumns = [(
            "Logical_Switch".to_string(),
            ["name", "ports"].map(String::from).into(),
        )]
        .into();
        let schema = Arc::new(nb_schema().clone());
        let mut narrow = Replica::with_kept_columns(schema.clone(), kept);
        let mut whole = Replica::new(schema);
        let insert = json!({"Logical_Switch": {U: {"initial": {"name": "s"}}},
            "Logical_Switch_Port": {P: {"initial": {"name": "p"}}}});
        let modify = json!({"Logical_Switch": {U: {"modify": {"ports": ["uuid", P]}}}});
        for r in [&mut narrow, &mut whole] {
            r.apply_update(UpdateVersion::V2, &insert).unwrap();
            r.apply_update(UpdateVersion::V2, &modify).unwrap();
        }
        let ls = |r: &Replica| r.database().get("Logical_Switch", &uuid()).unwrap().clone();
        assert_eq!(
            ls(&narrow).keys().collect::<Vec<_>>(),
            ["name", "ports"],
            "only the kept columns"
        );
        assert!(ls(&whole).len() > 2, "every column");
        assert_eq!(
            LogicalSwitch::from_row(uuid(), &ls(&narrow)).unwrap(),
            LogicalSwitch::from_row(uuid(), &ls(&whole)).unwrap()
        );
        // A table not listed is held whole, and a fresh snapshot keeps
        // the narrowing.
        let lsp = |r: &Replica| {
            r.database()
                .get("Logical_Switch_Port", &Uuid::parse_str(P).unwrap())
                .unwrap()
                .len()
        };
        assert_eq!(lsp(&narrow), lsp(&whole));
        narrow.reset_to(UpdateVersion::V2, &insert).unwrap();
        assert_eq!(ls(&narrow).len(), 2);
    }

    #[test]
    fn lean_rows_leave_out_empty_columns_and_read_the_same_typed() {
        use crate::nb::LogicalSwitchPort;
        use crate::typed::TypedRow;
        let schema = Arc::new(nb_schema().clone());
        let mut lean = Replica::new(schema.clone()).omit_empty(true);
        let mut whole = Replica::new(schema);
        let p = Uuid::parse_str(P).unwrap();
        let lsp = |r: &Replica| r.database().get("Logical_Switch_Port", &p).unwrap().clone();
        let steps = [
            // Inserted with two of its sets, one of them empty (update v1
            // writes empty sets out).
            json!({"Logical_Switch_Port": {P: {"insert": {"name": "p",
                "addresses": ["set", ["0a:00:00:00:00:01 10.0.0.1"]],
                "tag": ["set", []]}}}}),
            // Set, then emptied again by a difference.
            json!({"Logical_Switch_Port": {P: {"modify": {"up": true,
                "options": ["map", [["requested-chassis", "hv1"]]]}}}}),
            json!({"Logical_Switch_Port": {P: {"modify": {
                "options": ["map", [["requested-chassis", "hv1"]]],
                "addresses": ["set", ["0a:00:00:00:00:01 10.0.0.1"]]}}}}),
        ];
        for (i, step) in steps.iter().enumerate() {
            let changes =
                [&mut lean, &mut whole].map(|r| r.apply_update(UpdateVersion::V2, step).unwrap());
            assert_eq!(changes[0].len(), changes[1].len());
            let (l, w) = (lsp(&lean), lsp(&whole));
            assert!(
                l.values().all(|d| !d.is_empty()),
                "step {i}: no empty column in {l:?}"
            );
            assert!(w.len() > l.len(), "step {i}: the whole row holds more");
            assert_eq!(
                LogicalSwitchPort::from_row(p, &l).unwrap(),
                LogicalSwitchPort::from_row(p, &w).unwrap(),
                "step {i}"
            );
            // The columns not empty are the same, with the same values.
            let full: Row = w
                .iter()
                .filter(|(_, d)| !d.is_empty())
                .map(|(c, d)| (c, d.clone()))
                .collect();
            assert_eq!(*l, full, "step {i}");
        }
        // Required scalars stay, at their defaults ("" type).
        assert!(lsp(&lean).contains_key("type"));
        assert!(!lsp(&lean).contains_key("options"));
        // A fresh snapshot is lean too, and equal: no difference reported.
        let snapshot = json!({"Logical_Switch_Port": {P: {"initial": {"name": "p", "up": true}}}});
        assert!(lean
            .reset_to(UpdateVersion::V2, &snapshot)
            .unwrap()
            .is_empty());
        assert!(lean.omits_empty());
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
    fn text_and_values_give_the_same_changes() {
        let steps = [
            (
                UpdateVersion::V2,
                json!({"Logical_Switch": {U: {"initial": {"name": "s", "ports": ["set", [["uuid", P]]], "other_config": ["map", [["a", "1"]]]}}},
                       "ACL": {P: {"insert": {"priority": 5, "match": "ip4", "log": true}}}}),
            ),
            (
                UpdateVersion::V2,
                json!({"Logical_Switch": {U: {"modify": {"ports": ["uuid", P], "other_config": ["map", [["a", "2"], ["b", "3"]]]}}},
                       "ACL": {P: {"delete": null}}}),
            ),
            (
                UpdateVersion::V1,
                json!({"Logical_Switch": {U: {"old": {"name": "s"}, "new": {"name": "t", "ports": ["set", []]}}}}),
            ),
        ];
        let schema = Arc::new(nb_schema().clone());
        let (mut a, mut b) = (Replica::new(schema.clone()), Replica::new(schema));
        for (version, v) in steps {
            let from_value = a.apply_update(version, &v).unwrap();
            let from_text = b.apply_update_json(version, &v.to_string()).unwrap();
            assert_eq!(from_text, from_value, "{v}");
            assert!(!from_text.is_empty());
        }
        assert_eq!(a.database(), b.database());
        let row = b.database().get("Logical_Switch", &uuid()).unwrap();
        assert_eq!(row["name"], Datum::scalar("t"));
        assert_eq!(
            row["other_config"],
            Datum::string_map([("a", "2"), ("b", "3")]),
            "modify applies map differences; V1 keeps columns it does not list"
        );
        assert_eq!(row["ports"], Datum::empty_set());
        assert!(b
            .apply_update_json(UpdateVersion::V2, "{\"Logical_Switch\": {} ")
            .is_err());
        assert!(b
            .apply_update_json(UpdateVersion::V2, "{\"Logical_Switch\": {}} x")
            .is_err());
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
