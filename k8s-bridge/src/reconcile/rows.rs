//! Reconciling only some rows: the rows an incremental translation
//! changed, and owned rows someone else changed. Columns that differ are
//! updated; set columns (a switch's ports, a port group's ports, an
//! address set's addresses, a group's load balancers) are mutated with
//! what is added and removed, as ovn-kubernetes' libovsdb writes them, so
//! a pod add sends one address and one port reference, not the set.

use std::collections::{BTreeMap, BTreeSet};

use ovsdb::{Atom, Database, Datum};
use serde_json::{json, Value};

use super::{default_datum, is_root, symbol, uuid_json, where_uuid, Owned, Plan};
use crate::model::{managed_columns, Nb, RowId};

/// Whether a column is a set that can hold more than one element (not a map).
fn is_multi_set(table: &str, col: &str) -> bool {
    ovsdb::schema::nb_schema()
        .table(table)
        .and_then(|t| t.columns.get(col))
        .is_some_and(|c| c.ty.value.is_none() && c.ty.max != Some(1))
}

fn is_ref_column(table: &str, col: &str) -> bool {
    super::is_ref_column(table, col)
}

/// The operations that make the rows `ids` of `db` (whose owned rows
/// are `owned`) equal `desired`: inserts for missing rows (and rows they
/// reference that are missing too), updates and mutations of the managed
/// columns that differ, deletes of owned root rows no longer desired and
/// of duplicates.
pub fn plan_rows(desired: &Nb, ids: &BTreeSet<RowId>, db: &Database, owned: &Owned) -> Plan {
    let mut plan = Plan::default();
    // Rows to insert: the missing ids, and missing rows they reference.
    let mut insert: BTreeSet<&RowId> = BTreeSet::new();
    let mut work: Vec<&RowId> = ids
        .iter()
        .filter(|id| desired.rows.contains_key(*id))
        .collect();
    let mut seen: BTreeSet<&RowId> = work.iter().copied().collect();
    while let Some(id) = work.pop() {
        let Some(row) = desired.rows.get(id) else {
            continue;
        };
        let missing = owned
            .uuid(id)
            .is_none_or(|u| db.get(id.table, &u).is_none());
        if missing {
            insert.insert(id);
        }
        for refs in row.refs.values() {
            for r in refs {
                if owned.uuid(r).is_none() && seen.insert(r) {
                    work.push(r);
                }
            }
        }
    }
    let mut used = BTreeSet::new();
    let names: BTreeMap<&RowId, String> = insert
        .iter()
        .map(|id| (*id, symbol(id, &mut used)))
        .collect();
    let ref_json = |id: &RowId| -> Value {
        match names.get(id) {
            Some(n) => json!(["named-uuid", n]),
            None => match owned.uuid(id) {
                Some(u) => uuid_json(&u),
                None => json!(["named-uuid", "missing"]),
            },
        }
    };
    for id in &insert {
        let row = &desired.rows[*id];
        let mut cols = serde_json::Map::new();
        for (c, d) in &row.cols {
            cols.insert((*c).to_string(), d.to_json());
        }
        for (c, refs) in &row.refs {
            cols.insert(
                (*c).to_string(),
                json!(["set", refs.iter().map(ref_json).collect::<Vec<_>>()]),
            );
        }
        plan.ops.push(json!({
            "op": "insert",
            "table": id.table,
            "uuid-name": names[*id],
            "row": cols,
        }));
        plan.inserts += 1;
    }
    for id in ids {
        if insert.contains(id) {
            continue;
        }
        let Some(uuid) = owned.uuid(id) else {
            continue;
        };
        let Some(cur) = db.get(id.table, &uuid) else {
            continue;
        };
        let Some(row) = desired.rows.get(id) else {
            if is_root(id.table) {
                plan.ops
                    .push(json!({"op": "delete", "table": id.table, "where": where_uuid(&uuid)}));
                plan.deletes += 1;
            }
            continue;
        };
        let table = id.table;
        let mut update = serde_json::Map::new();
        let mut mutations = Vec::new();
        for &col in managed_columns(table) {
            let have = cur
                .get(col)
                .cloned()
                .unwrap_or_else(|| default_datum(table, col));
            let (want, want_json): (Vec<Atom>, Option<Vec<Value>>) = if is_ref_column(table, col) {
                let refs = row.refs.get(col);
                let atoms: Option<Vec<Atom>> = refs
                    .into_iter()
                    .flatten()
                    .map(|r| owned.uuid(r).map(Atom::Uuid))
                    .collect();
                match atoms {
                    Some(a) => (a, None),
                    // A referenced row is inserted now: write the column.
                    None => (
                        Vec::new(),
                        Some(refs.into_iter().flatten().map(ref_json).collect()),
                    ),
                }
            } else {
                let d = row
                    .cols
                    .get(col)
                    .cloned()
                    .unwrap_or_else(|| default_datum(table, col));
                if d == have {
                    continue;
                }
                if !is_multi_set(table, col) {
                    update.insert(col.into(), d.to_json());
                    continue;
                }
                (d.atoms().to_vec(), None)
            };
            if let Some(all) = want_json {
                if is_multi_set(table, col) {
                    // Remove what goes, add the new references by name.
                    let keep: BTreeSet<Atom> = row
                        .refs
                        .get(col)
                        .into_iter()
                        .flatten()
                        .filter_map(|r| owned.uuid(r).map(Atom::Uuid))
                        .collect();
                    let del: Vec<Value> = have
                        .atoms()
                        .iter()
                        .filter(|a| !keep.contains(a))
                        .map(|a| a.to_json())
                        .collect();
                    // A set, not a scan per reference: a load balancer
                    // group holds thousands.
                    let have_set: BTreeSet<&Atom> = have.atoms().iter().collect();
                    let add: Vec<Value> = row
                        .refs
                        .get(col)
                        .into_iter()
                        .flatten()
                        .filter(|r| {
                            owned
                                .uuid(r)
                                .is_none_or(|u| !have_set.contains(&Atom::Uuid(u)))
                        })
                        .map(ref_json)
                        .collect();
                    if !del.is_empty() {
                        mutations.push(json!([col, "delete", ["set", del]]));
                    }
                    if !add.is_empty() {
                        mutations.push(json!([col, "insert", ["set", add]]));
                    }
                } else {
                    update.insert(col.into(), json!(["set", all]));
                }
                continue;
            }
            let want_set: BTreeSet<&Atom> = want.iter().collect();
            let have_set: BTreeSet<&Atom> = have.atoms().iter().collect();
            if want_set == have_set {
                continue;
            }
            if !is_multi_set(table, col) {
                update.insert(col.into(), Datum::set(want.clone()).to_json());
                continue;
            }
            let del: Vec<Value> = have_set
                .difference(&want_set)
                .map(|a| a.to_json())
                .collect();
            let add: Vec<Value> = want_set
                .difference(&have_set)
                .map(|a| a.to_json())
                .collect();
            if !del.is_empty() {
                mutations.push(json!([col, "delete", ["set", del]]));
            }
            if !add.is_empty() {
                mutations.push(json!([col, "insert", ["set", add]]));
            }
        }
        if !update.is_empty() {
            plan.ops.push(json!({
                "op": "update",
                "table": table,
                "where": where_uuid(&uuid),
                "row": update,
            }));
        }
        if !mutations.is_empty() {
            plan.ops.push(json!({
                "op": "mutate",
                "table": table,
                "where": where_uuid(&uuid),
                "mutations": mutations,
            }));
        }
        if !update.is_empty() || !mutations.is_empty() {
            plan.updates += 1;
        }
    }
    for (id, uuid) in &owned.duplicates {
        if ids.contains(id) && is_root(id.table) {
            plan.ops
                .push(json!({"op": "delete", "table": id.table, "where": where_uuid(uuid)}));
            plan.deletes += 1;
        }
    }
    plan
}
