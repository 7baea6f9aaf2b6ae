//! Reconciling a live NB with the desired rows: one transaction that
//! inserts what is missing, updates only the managed columns that differ,
//! and deletes owned rows that are no longer desired. Rows without the
//! ownership marker are never touched. Non-root rows (ports, ACLs,
//! routes…) are not deleted explicitly: dropping them from their owned
//! parent lets OVSDB garbage-collect them, which saves an operation each.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ovsdb::{Atom, Database, Datum, Uuid};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::{managed_columns, Nb, NbRow, RowId, LB_GROUPS, OWNER_KEY, TABLES};

mod rows;
pub use rows::plan_rows;

/// The operations of one reconciliation, and their counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The transact operations (without the database name).
    pub ops: Vec<Value>,
    /// Rows inserted.
    pub inserts: usize,
    /// Rows updated.
    pub updates: usize,
    /// Rows deleted explicitly (root tables).
    pub deletes: usize,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The `transact` params as JSON text with one operation per line,
    /// for `ovsdb-client transact` and for review.
    pub fn render(&self) -> String {
        let mut out = String::from("[\"OVN_Northbound\"");
        for op in &self.ops {
            out.push_str(",\n");
            out.push_str(&op.to_string());
        }
        out.push_str("]\n");
        out
    }

    /// The `transact` params: `["OVN_Northbound", op, …]`.
    pub fn transact_params(&self) -> Value {
        let mut v = vec![json!("OVN_Northbound")];
        v.extend(self.ops.iter().cloned());
        Value::Array(v)
    }
}

/// The rows this crate owns in a database: the canonical UUID per id,
/// every owned UUID's id, and duplicates (same id twice) to remove.
#[derive(Clone, Debug, Default)]
pub struct Owned {
    by_id: BTreeMap<RowId, Uuid>,
    by_uuid: HashMap<Uuid, RowId>,
    duplicates: Vec<(RowId, Uuid)>,
}

/// The ownership key of a row of `table`, if this crate owns it.
fn owner_key(table: &str, row: &ovsdb::Row) -> Option<String> {
    if table == "Load_Balancer_Group" {
        row.get("name")
            .and_then(|d| d.as_str())
            .filter(|n| LB_GROUPS.contains(n))
            .map(|n| format!("{}#{n}", crate::cluster::OWNER))
    } else {
        row.get("external_ids")
            .and_then(|d| d.get_str(OWNER_KEY))
            .map(str::to_string)
    }
}

impl Owned {
    /// The owned rows of `db`.
    pub fn of(db: &Database) -> Owned {
        let mut o = Owned::default();
        for &table in TABLES {
            let Some(rows) = db.table(table) else {
                continue;
            };
            for (uuid, row) in rows.iter() {
                if let Some(key) = owner_key(table, row) {
                    o.add(RowId::new(table, key), *uuid);
                }
            }
        }
        o
    }

    fn add(&mut self, id: RowId, uuid: Uuid) {
        self.by_uuid.insert(uuid, id.clone());
        match self.by_id.entry(id) {
            std::collections::btree_map::Entry::Occupied(e) => {
                self.duplicates.push((e.key().clone(), uuid))
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(uuid);
            }
        }
    }

    fn remove(&mut self, uuid: &Uuid) -> Option<RowId> {
        let id = self.by_uuid.remove(uuid)?;
        self.duplicates.retain(|(_, u)| u != uuid);
        if self.by_id.get(&id) == Some(uuid) {
            self.by_id.remove(&id);
            // A duplicate becomes the canonical row.
            if let Some(i) = self.duplicates.iter().position(|(d, _)| *d == id) {
                let (d, u) = self.duplicates.remove(i);
                self.by_id.insert(d, u);
            }
        }
        Some(id)
    }

    /// Follows row changes of the database (as a monitor reports them);
    /// returns the ids of owned rows that changed (before or after).
    pub fn apply(&mut self, changes: &[ovsdb::RowChange]) -> BTreeSet<RowId> {
        let mut ids = BTreeSet::new();
        for c in changes {
            let (table, uuid, new) = match c {
                ovsdb::RowChange::Insert {
                    table, uuid, new, ..
                } => (table, uuid, Some(new)),
                ovsdb::RowChange::Modify {
                    table, uuid, new, ..
                } => (table, uuid, Some(new)),
                ovsdb::RowChange::Delete { table, uuid, .. } => (table, uuid, None),
            };
            let Some(&t) = TABLES.iter().find(|t| **t == table.as_str()) else {
                continue;
            };
            let old_id = self.by_uuid.get(uuid).cloned();
            let new_key = new.and_then(|r| owner_key(t, r));
            if old_id.as_ref().map(|i| &i.key) != new_key.as_ref() {
                self.remove(uuid);
                if let Some(k) = new_key {
                    self.add(RowId::new(t, k), *uuid);
                }
            }
            let new_id = self.by_uuid.get(uuid).cloned();
            ids.extend(old_id);
            ids.extend(new_id);
        }
        ids
    }

    /// The UUID of an owned row.
    pub fn uuid(&self, id: &RowId) -> Option<Uuid> {
        self.by_id.get(id).copied()
    }
}

fn owned(db: &Database) -> Owned {
    Owned::of(db)
}

fn is_root(table: &str) -> bool {
    ovsdb::schema::nb_schema()
        .table(table)
        .map(|t| t.is_root)
        .unwrap_or(true)
}

fn default_datum(table: &str, col: &str) -> Datum {
    ovsdb::schema::nb_schema()
        .table(table)
        .and_then(|t| t.columns.get(col))
        .map(|c| c.ty.default_datum())
        .unwrap_or_else(Datum::empty_set)
}

fn uuid_json(u: &Uuid) -> Value {
    json!(["uuid", u.to_string()])
}

fn where_uuid(u: &Uuid) -> Value {
    json!([["_uuid", "==", uuid_json(u)]])
}

/// A valid `uuid-name` for an inserted row, readable in rendered output.
fn symbol(id: &RowId, used: &mut BTreeSet<String>) -> String {
    let mut s: String = format!("{}_{}", id.table, id.key)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if used.contains(&s) {
        let mut i = 2;
        while used.contains(&format!("{s}_{i}")) {
            i += 1;
        }
        s = format!("{s}_{i}");
    }
    used.insert(s.clone());
    s
}

/// The operations that turn the rows `db` owns into `desired`.
pub fn plan(desired: &Nb, db: &Database) -> Plan {
    let o = owned(db);
    let mut plan = Plan::default();
    // Names for the rows to insert, so references can name them.
    let mut used = BTreeSet::new();
    let names: BTreeMap<&RowId, String> = desired
        .rows
        .keys()
        .filter(|id| !o.by_id.contains_key(id))
        .map(|id| (id, symbol(id, &mut used)))
        .collect();
    let ref_json = |id: &RowId| -> Value {
        match o.by_id.get(id) {
            Some(u) => uuid_json(u),
            None => match names.get(id) {
                Some(n) => json!(["named-uuid", n]),
                // A reference to a row the translation did not produce.
                None => json!(["named-uuid", "missing"]),
            },
        }
    };
    let refs_json = |ids: &BTreeSet<RowId>| -> Value {
        json!(["set", ids.iter().map(ref_json).collect::<Vec<_>>()])
    };

    for (id, row) in &desired.rows {
        match o.by_id.get(id) {
            None => {
                let mut cols = serde_json::Map::new();
                for (c, d) in &row.cols {
                    cols.insert((*c).to_string(), d.to_json());
                }
                for (c, ids) in &row.refs {
                    cols.insert((*c).to_string(), refs_json(ids));
                }
                plan.ops.push(json!({
                    "op": "insert",
                    "table": id.table,
                    "uuid-name": names[id],
                    "row": cols,
                }));
                plan.inserts += 1;
            }
            Some(uuid) => {
                let cur = db.get(id.table, uuid).expect("owned row exists");
                let changed = changed_columns(row, cur, &o, &ref_json);
                if !changed.is_empty() {
                    plan.ops.push(json!({
                        "op": "update",
                        "table": id.table,
                        "where": where_uuid(uuid),
                        "row": changed,
                    }));
                    plan.updates += 1;
                }
            }
        }
    }
    for (id, uuid) in o
        .by_id
        .iter()
        .filter(|(id, _)| !desired.rows.contains_key(*id))
    {
        if is_root(id.table) {
            plan.ops
                .push(json!({"op": "delete", "table": id.table, "where": where_uuid(uuid)}));
            plan.deletes += 1;
        }
    }
    for (id, uuid) in &o.duplicates {
        if is_root(id.table) {
            plan.ops
                .push(json!({"op": "delete", "table": id.table, "where": where_uuid(uuid)}));
            plan.deletes += 1;
        }
    }
    plan
}

/// The managed columns of `cur` that differ from `row`, as update JSON.
fn changed_columns(
    row: &NbRow,
    cur: &ovsdb::Row,
    o: &Owned,
    ref_json: &dyn Fn(&RowId) -> Value,
) -> serde_json::Map<String, Value> {
    let mut changed = serde_json::Map::new();
    let table = row.id.table;
    for &col in managed_columns(table) {
        let have = cur
            .get(col)
            .cloned()
            .unwrap_or_else(|| default_datum(table, col));
        if let Some(ids) = row.refs.get(col) {
            // Equal when every desired target exists and is exactly the set referenced.
            let want: Option<BTreeSet<Uuid>> =
                ids.iter().map(|i| o.by_id.get(i).copied()).collect();
            let have_set: BTreeSet<Uuid> = have.atoms().iter().filter_map(Atom::as_uuid).collect();
            if want.as_ref() != Some(&have_set) {
                changed.insert(
                    col.into(),
                    json!(["set", ids.iter().map(ref_json).collect::<Vec<_>>()]),
                );
            }
        } else if is_ref_column(table, col) {
            // A reference column the row leaves empty.
            if !have.is_empty() {
                changed.insert(col.into(), json!(["set", []]));
            }
        } else {
            let want = row
                .cols
                .get(col)
                .cloned()
                .unwrap_or_else(|| default_datum(table, col));
            if want != have {
                changed.insert(col.into(), want.to_json());
            }
        }
    }
    changed
}

fn is_ref_column(table: &str, col: &str) -> bool {
    ovsdb::schema::nb_schema()
        .table(table)
        .and_then(|t| t.columns.get(col))
        .is_some_and(|c| c.ty.key.ref_table.is_some())
}

/// The operations of `ovnflow k8s delete`: remove the owned rows of the
/// given objects (`Kind/ns/name` identities), drop references to them from
/// the remaining owned rows, take deleted pods' IPs out of the remaining
/// address sets and load balancer backends, and remove shared rows that
/// nothing needs any more (a namespace's default-deny port groups after
/// its last policy, unreferenced pod-selector address sets, the
/// namespace address set of a namespace known only through its pods, and
/// the cluster topology once nothing else is owned).
pub fn plan_delete(identities: &[String], db: &Database) -> Plan {
    let o = owned(db);
    let gone_owner = |owner: &str| identities.iter().any(|i| i == owner);
    let mut deleted: BTreeSet<RowId> = o
        .by_id
        .keys()
        .filter(|id| gone_owner(id.owner()))
        .cloned()
        .collect();
    let remaining = |deleted: &BTreeSet<RowId>| -> Vec<RowId> {
        o.by_id
            .keys()
            .filter(|id| !deleted.contains(*id))
            .cloned()
            .collect()
    };
    // Shared rows, decided on what remains.
    let rem = remaining(&deleted);
    let row_of = |id: &RowId| db.get(id.table, &o.by_id[id]).expect("owned row exists");
    let acl_matches: Vec<String> = rem
        .iter()
        .filter(|id| id.table == "ACL")
        .filter_map(|id| {
            row_of(id)
                .get("match")
                .and_then(|d| d.as_str())
                .map(str::to_string)
        })
        .collect();
    for id in &rem {
        let owner = id.owner();
        let drop = if let Some(ns) = owner.strip_prefix("NetpolNamespace/") {
            !rem.iter()
                .any(|r| r.owner().starts_with(&format!("NetworkPolicy/{ns}/")))
        } else if let Some(name) = owner.strip_prefix("PodSelector/") {
            !acl_matches.iter().any(|m| m.contains(&format!("${name}")))
        } else if let Some(ns) = owner.strip_prefix("PodNamespace/") {
            !rem.iter()
                .any(|r| r.owner().starts_with(&format!("Pod/{ns}/")))
        } else if owner == crate::nodus::networks::OWNER {
            // The Nodus router goes with the last network.
            !rem.iter().any(|r| {
                r.owner().starts_with("Network/") || r.owner().starts_with("ProviderNetwork/")
            })
        } else {
            false
        };
        if drop {
            deleted.insert(id.clone());
        }
    }
    let rem = remaining(&deleted);
    if rem.iter().all(|id| {
        id.owner() == crate::cluster::OWNER || id.owner() == crate::nodus::networks::OWNER
    }) {
        deleted.extend(rem);
    }
    // Addresses of deleted pods.
    let gone_ips: BTreeSet<String> = deleted
        .iter()
        .filter(|id| id.table == "Logical_Switch_Port" && id.owner().starts_with("Pod/"))
        .flat_map(|id| {
            row_of(id)
                .get("addresses")
                .map(|d| d.atoms().to_vec())
                .unwrap_or_default()
        })
        .flat_map(|a| {
            // "MAC IP [IP6]": every address after the MAC.
            a.as_str()
                .map(|s| s.split(' ').skip(1).map(str::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect();
    let deleted_uuids: BTreeSet<Uuid> = deleted.iter().map(|id| o.by_id[id]).collect();

    let mut plan = Plan::default();
    for (id, uuid) in &o.by_id {
        if deleted.contains(id) {
            continue;
        }
        let cur = row_of(id);
        let mut changed = serde_json::Map::new();
        for &col in managed_columns(id.table) {
            let Some(d) = cur.get(col) else { continue };
            if is_ref_column(id.table, col) {
                let keep: Vec<Value> = d
                    .atoms()
                    .iter()
                    .filter_map(Atom::as_uuid)
                    .filter(|u| !deleted_uuids.contains(u))
                    .map(|u| uuid_json(&u))
                    .collect();
                if keep.len() != d.len() {
                    changed.insert(col.into(), json!(["set", keep]));
                }
            }
        }
        if id.table == "Address_Set" {
            if let Some(d) = cur.get("addresses") {
                let keep: Vec<Atom> = d
                    .atoms()
                    .iter()
                    .filter(|a| !a.as_str().is_some_and(|s| gone_ips.contains(s)))
                    .cloned()
                    .collect();
                if keep.len() != d.len() {
                    changed.insert("addresses".into(), Datum::set(keep).to_json());
                }
            }
        }
        if id.table == "Load_Balancer" {
            if let Some(d) = cur.get("vips") {
                let new: Vec<(Atom, Atom)> = d
                    .pairs()
                    .iter()
                    .map(|(k, v)| {
                        let backends: Vec<&str> = v
                            .as_str()
                            .unwrap_or("")
                            .split(',')
                            .filter(|b| !b.is_empty())
                            .filter(|b| {
                                // "ip:port" or "[ip6]:port".
                                !b.rsplit_once(':').is_some_and(|(ip, _)| {
                                    let ip = ip.trim_start_matches('[').trim_end_matches(']');
                                    gone_ips.contains(ip)
                                })
                            })
                            .collect();
                        (k.clone(), Atom::String(backends.join(",")))
                    })
                    .collect();
                if new.as_slice() != d.pairs() {
                    changed.insert("vips".into(), Datum::map(new).to_json());
                }
            }
        }
        if !changed.is_empty() {
            plan.ops.push(json!({"op": "update", "table": id.table, "where": where_uuid(uuid), "row": changed}));
            plan.updates += 1;
        }
    }
    for id in &deleted {
        if is_root(id.table) {
            plan.ops.push(
                json!({"op": "delete", "table": id.table, "where": where_uuid(&o.by_id[id])}),
            );
            plan.deletes += 1;
        }
    }
    for (id, uuid) in &o.duplicates {
        if deleted.contains(id) && is_root(id.table) {
            plan.ops
                .push(json!({"op": "delete", "table": id.table, "where": where_uuid(uuid)}));
            plan.deletes += 1;
        }
    }
    plan
}

/// Applies a plan to an in-memory database with the ovsdb crate's
/// transaction executor (for `render` and tests); the error names the
/// failing operation.
pub fn apply_in_memory(db: &mut Database, plan: &Plan) -> Result<()> {
    let out = ovsdb::txn::transact(db, &plan.ops, &Default::default());
    match out.error {
        None => Ok(()),
        Some(e) => Err(Error::Nb {
            remote: "in-memory NB".into(),
            message: format!("operation {:?}: {e}", e.op_index),
        }),
    }
}

/// An empty NB of the bundled 23.03 schema.
pub fn empty_nb() -> Database {
    Database::new(std::sync::Arc::new(ovsdb::schema::nb_schema().clone()))
}

/// Connects to a live NB (`unix:PATH`, `tcp:HOST:PORT`, comma-separated
/// for a cluster), reads its rows, computes a plan from them with `make`,
/// and runs it as one transaction. Returns the plan (empty when nothing
/// changed, in which case nothing is sent).
pub fn apply_live(remote: &str, make: impl FnOnce(&Database) -> Plan) -> Result<Plan> {
    let nb_err = |m: String| Error::Nb {
        remote: remote.to_string(),
        message: m,
    };
    let remotes = ovsdb::remote::Remote::parse_list(remote).map_err(|e| nb_err(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| nb_err(e.to_string()))?;
    rt.block_on(async {
        let opts = ovsdb::client::Options::default();
        let tables: Vec<&str> = TABLES.to_vec();
        let mut session =
            ovsdb::client::ReplicaSession::connect(remotes, "OVN_Northbound", &tables, true, opts)
                .await
                .map_err(|e| nb_err(e.to_string()))?;
        session
            .next()
            .await
            .map_err(|e| nb_err(format!("monitor: {e}")))?;
        let plan = make(session.replica().database());
        if plan.is_empty() {
            return Ok(plan);
        }
        let conn = session
            .connection()
            .ok_or_else(|| nb_err("connection lost".into()))?;
        conn.transact_checked("OVN_Northbound", plan.ops.clone())
            .await
            .map_err(|e| nb_err(format!("transaction failed, nothing was changed: {e}")))?;
        Ok(plan)
    })
}

/// Reads the given tables of a live NB once (for the CNI plugin).
pub fn read_live(remote: &str, tables: &[&str]) -> Result<Database> {
    let nb_err = |m: String| Error::Nb {
        remote: remote.to_string(),
        message: m,
    };
    let remotes = ovsdb::remote::Remote::parse_list(remote).map_err(|e| nb_err(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| nb_err(e.to_string()))?;
    rt.block_on(async {
        let read = async {
            let opts = ovsdb::client::Options::default();
            let mut session = ovsdb::client::ReplicaSession::connect(
                remotes,
                "OVN_Northbound",
                tables,
                true,
                opts,
            )
            .await
            .map_err(|e| nb_err(e.to_string()))?;
            session
                .next()
                .await
                .map_err(|e| nb_err(format!("monitor: {e}")))?;
            Ok(session.replica().database().clone())
        };
        tokio::time::timeout(std::time::Duration::from_secs(20), read)
            .await
            .map_err(|_| nb_err("no answer in 20 s".into()))?
    })
}
