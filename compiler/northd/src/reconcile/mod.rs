//! From the SB rows the compiler wants to the SB operations that make the
//! SB hold them, touching only what differs.
//!
//! The compiler names its rows with UUIDs derived from their identity; an
//! SB written by another northd (or an earlier run) names the same rows
//! with other UUIDs. A [`Binding`] maps each of our rows to the SB row that
//! stands for it. A full reconciliation ([`Reconciler::full`]) builds it by
//! matching rows by their natural key, the way ovn-northd matches existing
//! SB rows to what it computed (`build_datapaths()` by
//! `external_ids:logical-switch`/`logical-router`, `build_ports()` by
//! `logical_port`, `build_lflows()` by datapath(s), pipeline, table,
//! priority, match, actions and meter, `sync_port_groups()`/address sets
//! by name, …): matched rows keep their UUID and get only their changed
//! columns written, the rest is inserted (under our UUID) or deleted. After
//! that, each compiler delta becomes operations directly
//! ([`Reconciler::incremental`]).
//!
//! Which tables are ours is the compiler's business
//! ([`ovnflow_compiler::sb::SB_TABLES`]): this module knows natural keys
//! and the columns other daemons own, not which rules exist.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use ovsdb::schema::RefType;
use ovsdb::{Atom, DatabaseSchema, Datum, Row, RowChange, Uuid};
use serde_json::{json, Value};

use crate::mirror::Mirror;

/// Columns of our tables that northd does not keep in step with the NB:
/// written by ovn-controller (`Port_Binding` chassis, encap, `up` once
/// set, virtual parent; `IP_Multicast.seq_no`), by administrators
/// (`SB_Global` external ids, connections, SSL), or by northd only when it
/// inserts the row (`Logical_Flow` external ids and tags). They are
/// written on insert and never compared afterwards.
pub fn unowned_columns(table: &str) -> &'static [&'static str] {
    match table {
        "Port_Binding" => &[
            "chassis",
            "encap",
            "up",
            "additional_chassis",
            "additional_encap",
            "virtual_parent",
        ],
        "IP_Multicast" => &["seq_no"],
        "Service_Monitor" => &["status"],
        // Set by northd from the SB `Chassis` table (which the compiler
        // does not read) and by ovn-controller.
        "HA_Chassis" => &["chassis"],
        "HA_Chassis_Group" => &["ref_chassis"],
        "SB_Global" => &["external_ids", "connections", "ssl"],
        "Logical_Flow" => &["external_ids", "tags"],
        _ => &[],
    }
}

fn owned_column(table: &str, column: &str) -> bool {
    !unowned_columns(table).contains(&column)
}

/// Our row `(table, our UUID)` → the SB row standing for it, and back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    to_sb: HashMap<(String, Uuid), Uuid>,
    to_ours: HashMap<(String, Uuid), Uuid>,
}

impl Binding {
    /// Binds our row to an SB row.
    pub fn bind(&mut self, table: &str, ours: Uuid, sb: Uuid) {
        self.to_sb.insert((table.to_string(), ours), sb);
        self.to_ours.insert((table.to_string(), sb), ours);
    }

    /// Forgets our row.
    pub fn unbind(&mut self, table: &str, ours: Uuid) {
        if let Some(sb) = self.to_sb.remove(&(table.to_string(), ours)) {
            self.to_ours.remove(&(table.to_string(), sb));
        }
    }

    /// The SB row of our row (our UUID when unbound: a row we insert keeps it).
    pub fn sb(&self, table: &str, ours: Uuid) -> Uuid {
        self.to_sb
            .get(&(table.to_string(), ours))
            .copied()
            .unwrap_or(ours)
    }

    /// Number of bound rows.
    pub fn len(&self) -> usize {
        self.to_sb.len()
    }

    /// True when nothing is bound.
    pub fn is_empty(&self) -> bool {
        self.to_sb.is_empty()
    }

    /// How many rows are bound to SB rows of another UUID (rows another
    /// northd wrote).
    pub fn adopted(&self) -> usize {
        self.to_sb.iter().filter(|((_, o), s)| o != *s).count()
    }
}

/// Operations for one SB transaction, and the binding they leave.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The operations (without the lock assertion).
    pub ops: Vec<Value>,
    /// Rows inserted.
    pub inserts: usize,
    /// Rows updated.
    pub updates: usize,
    /// Rows deleted.
    pub deletes: usize,
    /// The binding once the transaction commits.
    pub binding: Binding,
}

impl Plan {
    /// True when the SB already holds what we want.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn insert(&mut self, table: &str, uuid: Uuid, row: &Row) {
        let cols: serde_json::Map<String, Value> =
            row.iter().map(|(c, d)| (c.clone(), d.to_json())).collect();
        self.ops.push(json!({"op": "insert", "table": table,
            "uuid": uuid.to_string(), "row": Value::Object(cols)}));
        self.inserts += 1;
    }

    fn update(&mut self, table: &str, uuid: Uuid, cols: serde_json::Map<String, Value>) {
        if cols.is_empty() {
            return;
        }
        self.ops.push(json!({"op": "update", "table": table,
            "where": [["_uuid", "==", ["uuid", uuid.to_string()]]], "row": Value::Object(cols)}));
        self.updates += 1;
    }

    fn delete(&mut self, table: &str, uuid: Uuid) {
        self.ops.push(json!({"op": "delete", "table": table,
            "where": [["_uuid", "==", ["uuid", uuid.to_string()]]]}));
        self.deletes += 1;
    }
}

/// Our rows in the SB: the owned tables (ordered so that referenced tables
/// come first) and the current binding.
#[derive(Clone, Debug)]
pub struct Reconciler {
    schema: Arc<DatabaseSchema>,
    order: Vec<String>,
    /// The binding of the last committed plan.
    pub binding: Binding,
}

/// The columns of `table` referring to rows of `target` (key or value).
fn refers(schema: &DatabaseSchema, table: &str, target: &str) -> bool {
    schema.tables.get(table).is_some_and(|t| {
        t.columns.values().any(|c| {
            c.ty.key.ref_table.as_deref() == Some(target)
                || c.ty.value.as_ref().and_then(|v| v.ref_table.as_deref()) == Some(target)
        })
    })
}

impl Reconciler {
    /// A reconciler for `owned` tables of `schema` (tables the schema
    /// lacks are skipped), with nothing bound.
    pub fn new(schema: Arc<DatabaseSchema>, owned: &[&str]) -> Reconciler {
        // Depth-first: a table after every owned table it refers to.
        let owned: Vec<String> = owned
            .iter()
            .filter(|t| schema.tables.contains_key(**t))
            .map(|t| t.to_string())
            .collect();
        let mut order: Vec<String> = Vec::new();
        fn visit(
            t: &str,
            owned: &[String],
            s: &DatabaseSchema,
            seen: &mut Vec<String>,
            path: &mut Vec<String>,
        ) {
            if seen.iter().any(|x| x == t) || path.iter().any(|x| x == t) {
                return;
            }
            path.push(t.to_string());
            for other in owned {
                if other != t && refers(s, t, other) {
                    visit(other, owned, s, seen, path);
                }
            }
            path.pop();
            seen.push(t.to_string());
        }
        for t in &owned {
            visit(t, &owned, &schema, &mut order, &mut Vec::new());
        }
        Reconciler {
            schema,
            order,
            binding: Binding::default(),
        }
    }

    /// The owned tables, referenced tables first.
    pub fn tables(&self) -> &[String] {
        &self.order
    }

    /// Whether `table` is ours.
    pub fn owns(&self, table: &str) -> bool {
        self.order.iter().any(|t| t == table)
    }

    /// `row` of `table` with references to our rows turned into references
    /// to the SB rows bound to them.
    fn translate(&self, binding: &Binding, table: &str, row: &Row) -> Row {
        let Some(ts) = self.schema.tables.get(table) else {
            return row.clone();
        };
        let mut out = Row::new();
        for (col, d) in row {
            let Some(cs) = ts.columns.get(col) else {
                // Not in the server's schema: leave it out of what we write.
                continue;
            };
            let kref = cs.ty.key.ref_table.as_deref().filter(|t| self.owns(t));
            let vref = cs
                .ty
                .value
                .as_ref()
                .and_then(|v| v.ref_table.as_deref())
                .filter(|t| self.owns(t));
            let map_atom = |a: &Atom, target: Option<&str>| match (a, target) {
                (Atom::Uuid(u), Some(t)) => Atom::Uuid(binding.sb(t, *u)),
                _ => a.clone(),
            };
            let d = if kref.is_none() && vref.is_none() {
                d.clone()
            } else {
                match d {
                    Datum::Set(atoms) => Datum::set(atoms.iter().map(|a| map_atom(a, kref))),
                    Datum::Map(pairs) => Datum::map(
                        pairs
                            .iter()
                            .map(|(k, v)| (map_atom(k, kref), map_atom(v, vref))),
                    ),
                }
            };
            out.insert(col.clone(), d);
        }
        out
    }

    /// The natural key of an SB row (references already in SB UUIDs;
    /// `groups` gives the datapaths of `Logical_DP_Group` rows).
    fn natural_key(table: &str, row: &Row, groups: &HashMap<Uuid, Datum>) -> String {
        let col = |c: &str| row.get(c).cloned().unwrap_or_else(Datum::empty_set);
        let s = |c: &str| format!("{:?}", col(c));
        match table {
            "Datapath_Binding" => {
                let ids = col("external_ids");
                match ids
                    .get_str("logical-switch")
                    .map(|v| ("ls", v))
                    .or_else(|| ids.get_str("logical-router").map(|v| ("lr", v)))
                {
                    Some((k, v)) => format!("{k}:{v}"),
                    None => format!("other:{ids:?}"),
                }
            }
            "Port_Binding" => s("logical_port"),
            "Multicast_Group" => format!("{} {}", s("datapath"), s("name")),
            "Logical_DP_Group" => s("datapaths"),
            "IP_Multicast" => s("datapath"),
            "Port_Group"
            | "Address_Set"
            | "DHCP_Options"
            | "DHCPv6_Options"
            | "RBAC_Role"
            | "Meter"
            | "HA_Chassis_Group"
            | "Chassis_Template_Var" => s("name"),
            "RBAC_Permission" => s("table"),
            // `create_or_get_service_mon()` finds its rows by these.
            "Service_Monitor" => format!(
                "{} {} {} {}",
                s("ip"),
                s("port"),
                s("protocol"),
                s("logical_port")
            ),
            "SB_Global" => String::new(),
            "DNS" => format!("{:?}", col("external_ids").get_str("dns_id")),
            // `sync_lbs()` finds its rows by `external_ids:lb_id`.
            "Load_Balancer" => format!("{:?}", col("external_ids").get_str("lb_id")),
            "Logical_Flow" => {
                let dps = match col("logical_dp_group").as_uuid() {
                    Some(g) => groups.get(&g).cloned().unwrap_or_else(|| Datum::scalar(g)),
                    None => col("logical_datapath"),
                };
                format!(
                    "{dps:?} {} {} {} {} {} {}",
                    s("pipeline"),
                    s("table_id"),
                    s("priority"),
                    s("match"),
                    s("actions"),
                    s("controller_meter")
                )
            }
            _ => {
                let owned: Vec<(&String, &Datum)> =
                    row.iter().filter(|(c, _)| owned_column(table, c)).collect();
                format!("{owned:?}")
            }
        }
    }

    /// The owned columns of `want` that differ from `have`.
    fn changed_columns(table: &str, want: &Row, have: &Row) -> serde_json::Map<String, Value> {
        want.iter()
            .filter(|(c, d)| owned_column(table, c) && have.get(*c) != Some(*d))
            .map(|(c, d)| (c.clone(), d.to_json()))
            .collect()
    }

    /// Operations making the SB (`sb`) hold exactly `desired` in our
    /// tables: `desired` is table → our UUID → row. Matches SB rows to ours
    /// by UUID first, then by natural key; unmatched SB rows are deleted.
    pub fn full(&self, desired: &BTreeMap<String, BTreeMap<Uuid, Row>>, sb: &Mirror) -> Plan {
        let mut plan = Plan::default();
        let empty = BTreeMap::new();
        let mut groups: HashMap<Uuid, Datum> = HashMap::new();
        for r in sb.table("Logical_DP_Group").iter() {
            if let Some(d) = r.1.get("datapaths") {
                groups.insert(*r.0, d.clone());
            }
        }
        let mut deleted: BTreeMap<String, BTreeSet<Uuid>> = BTreeMap::new();
        for table in &self.order {
            let have = sb.table(table);
            let want = desired.get(table).unwrap_or(&empty);
            let mut unclaimed: BTreeSet<Uuid> = have.keys().copied().collect();
            // Pass 1: rows the SB holds under our UUID.
            let mut rest: Vec<(Uuid, &Row)> = Vec::new();
            for (ours, row) in want {
                if unclaimed.remove(ours) {
                    plan.binding.bind(table, *ours, *ours);
                } else {
                    rest.push((*ours, row));
                }
            }
            // Pass 2: the others by natural key.
            let mut by_key: HashMap<String, Vec<Uuid>> = HashMap::new();
            for u in &unclaimed {
                by_key
                    .entry(Self::natural_key(table, &have[u], &groups))
                    .or_default()
                    .push(*u);
            }
            for (ours, row) in rest {
                let t = self.translate(&plan.binding, table, row);
                let key = Self::natural_key(table, &t, &groups);
                let found = by_key.get_mut(&key).and_then(|v| {
                    let i = v.iter().position(|u| unclaimed.contains(u))?;
                    Some(v.remove(i))
                });
                match found {
                    Some(s) => {
                        unclaimed.remove(&s);
                        plan.binding.bind(table, ours, s);
                    }
                    None => plan.binding.bind(table, ours, ours),
                }
            }
            // Writes, now that every row of this table is bound.
            for (ours, row) in want {
                let t = self.translate(&plan.binding, table, row);
                let s = plan.binding.sb(table, *ours);
                match have.get(&s) {
                    Some(h) => {
                        let cols = Self::changed_columns(table, &t, h);
                        plan.update(table, s, cols);
                    }
                    None => plan.insert(table, s, &t),
                }
                if table == "Logical_DP_Group" {
                    if let Some(d) = t.get("datapaths") {
                        groups.insert(s, d.clone());
                    }
                }
            }
            for s in unclaimed {
                plan.delete(table, s);
                deleted.entry(table.clone()).or_default().insert(s);
            }
        }
        self.cascade(&mut plan, &deleted, sb);
        plan
    }

    /// Operations for one compiler delta (rows named by our UUIDs),
    /// assuming the SB holds what we last wrote.
    pub fn incremental(&self, delta: &[RowChange], sb: &Mirror) -> Plan {
        let mut plan = Plan {
            binding: self.binding.clone(),
            ..Plan::default()
        };
        let mut deleted: BTreeMap<String, BTreeSet<Uuid>> = BTreeMap::new();
        // Inserts first bind (our UUID), so that references among new rows
        // resolve whatever the order.
        for ch in delta {
            if let RowChange::Insert { table, uuid, .. } = ch {
                if self.owns(table) {
                    let s = self.binding.sb(table, *uuid);
                    plan.binding.bind(table, *uuid, s);
                }
            }
        }
        for ch in delta {
            if !self.owns(ch.table()) {
                continue;
            }
            match ch {
                RowChange::Insert { table, uuid, new } => {
                    let t = self.translate(&plan.binding, table, new);
                    let s = plan.binding.sb(table, *uuid);
                    match sb.get(table, &s) {
                        // Already there (an earlier run wrote it): align it.
                        Some(h) => {
                            let cols = Self::changed_columns(table, &t, h);
                            plan.update(table, s, cols);
                        }
                        None => plan.insert(table, s, &t),
                    }
                }
                RowChange::Modify {
                    table,
                    uuid,
                    old,
                    new,
                } => {
                    let (o, n) = (
                        self.translate(&plan.binding, table, old),
                        self.translate(&plan.binding, table, new),
                    );
                    let s = plan.binding.sb(table, *uuid);
                    let cols = Self::changed_columns(table, &n, &o);
                    plan.update(table, s, cols);
                }
                RowChange::Delete { table, uuid, .. } => {
                    let s = plan.binding.sb(table, *uuid);
                    plan.delete(table, s);
                    plan.binding.unbind(table, *uuid);
                    deleted.entry(table.clone()).or_default().insert(s);
                }
            }
        }
        self.cascade(&mut plan, &deleted, sb);
        plan
    }

    /// Rows of other tables holding strong references to rows we delete
    /// would make the transaction fail: northd removes them
    /// (`cleanup_mac_bindings()` and the like). A mandatory reference
    /// deletes the row, an optional one loses the reference.
    fn cascade(&self, plan: &mut Plan, deleted: &BTreeMap<String, BTreeSet<Uuid>>, sb: &Mirror) {
        if deleted.is_empty() {
            return;
        }
        for (tname, ts) in &self.schema.tables {
            if self.owns(tname) {
                continue;
            }
            for (cname, cs) in &ts.columns {
                let target = match cs.ty.key.ref_table.as_deref() {
                    Some(t) if cs.ty.key.ref_type == RefType::Strong && cs.ty.value.is_none() => t,
                    _ => continue,
                };
                let Some(gone) = deleted.get(target) else {
                    continue;
                };
                for (u, row) in sb.table(tname) {
                    let Some(Datum::Set(atoms)) = row.get(cname) else {
                        continue;
                    };
                    let hit: Vec<Uuid> = atoms
                        .iter()
                        .filter_map(|a| a.as_uuid())
                        .filter(|x| gone.contains(x))
                        .collect();
                    if hit.is_empty() {
                        continue;
                    }
                    if cs.ty.min >= 1 && hit.len() >= atoms.len() {
                        plan.delete(tname, *u);
                    } else {
                        let set: Vec<Value> =
                            hit.iter().map(|x| json!(["uuid", x.to_string()])).collect();
                        plan.ops.push(json!({"op": "mutate", "table": tname,
                            "where": [["_uuid", "==", ["uuid", u.to_string()]]],
                            "mutations": [[cname, "delete", ["set", set]]]}));
                        plan.updates += 1;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Arc<DatabaseSchema> {
        let text = include_str!("../../../ovsdb/schemas/ovn-sb.ovsschema");
        Arc::new(DatabaseSchema::from_str(text).unwrap())
    }

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn dp_row(ls: &str, key: i64) -> Row {
        Row::from([
            ("tunnel_key".to_string(), Datum::scalar(key)),
            (
                "external_ids".to_string(),
                Datum::string_map([("logical-switch", ls)]),
            ),
            ("load_balancers".to_string(), Datum::empty_set()),
        ])
    }

    fn pb_row(name: &str, dp: Uuid, chassis: Option<Uuid>) -> Row {
        Row::from([
            ("logical_port".to_string(), Datum::scalar(name)),
            ("datapath".to_string(), Datum::scalar(dp)),
            ("tunnel_key".to_string(), Datum::scalar(1i64)),
            ("chassis".to_string(), Datum::set(chassis.map(Atom::Uuid))),
        ])
    }

    fn mirror(rows: &[(&str, Uuid, Row)]) -> Mirror {
        let mut m = Mirror::default();
        let ch: Vec<RowChange> = rows
            .iter()
            .map(|(t, u, r)| RowChange::Insert {
                table: t.to_string(),
                uuid: *u,
                new: Arc::new(r.clone()),
            })
            .collect();
        m.apply(&ch);
        m
    }

    #[test]
    fn rows_of_another_northd_are_adopted_by_natural_key() {
        let r = Reconciler::new(schema(), &["Datapath_Binding", "Port_Binding"]);
        assert_eq!(r.tables(), ["Datapath_Binding", "Port_Binding"]);
        // SB written by someone else: other UUIDs, the port bound to a chassis.
        let sb = mirror(&[
            ("Datapath_Binding", u(100), dp_row("sw0", 1)),
            ("Port_Binding", u(101), pb_row("p1", u(100), Some(u(7)))),
            ("Port_Binding", u(102), pb_row("stale", u(100), None)),
        ]);
        let mut desired: BTreeMap<String, BTreeMap<Uuid, Row>> = BTreeMap::new();
        desired
            .entry("Datapath_Binding".into())
            .or_default()
            .insert(u(1), dp_row("sw0", 1));
        desired
            .entry("Port_Binding".into())
            .or_default()
            .insert(u(2), pb_row("p1", u(1), None));
        desired
            .entry("Port_Binding".into())
            .or_default()
            .insert(u(3), pb_row("p2", u(1), None));
        let plan = r.full(&desired, &sb);
        // p1 kept as is (chassis is ovn-controller's), p2 inserted
        // referring to the adopted datapath, the stale port deleted.
        assert_eq!((plan.inserts, plan.updates, plan.deletes), (1, 0, 1));
        assert_eq!(plan.binding.sb("Port_Binding", u(2)), u(101));
        let insert = plan.ops.iter().find(|o| o["op"] == "insert").unwrap();
        assert_eq!(insert["uuid"], u(3).to_string());
        assert_eq!(
            insert["row"]["datapath"],
            json!(["uuid", u(100).to_string()])
        );
    }

    #[test]
    fn changed_key_is_updated_in_place() {
        let r = Reconciler::new(schema(), &["Datapath_Binding"]);
        let sb = mirror(&[("Datapath_Binding", u(100), dp_row("sw0", 5))]);
        let desired = BTreeMap::from([(
            "Datapath_Binding".to_string(),
            BTreeMap::from([(u(1), dp_row("sw0", 1))]),
        )]);
        let plan = r.full(&desired, &sb);
        assert_eq!((plan.inserts, plan.updates, plan.deletes), (0, 1, 0));
        assert_eq!(plan.ops[0]["row"], json!({"tunnel_key": 1}));
    }

    #[test]
    fn deleting_a_datapath_removes_mac_bindings() {
        let mut r = Reconciler::new(schema(), &["Datapath_Binding"]);
        r.binding.bind("Datapath_Binding", u(1), u(100));
        let mac = Row::from([("datapath".to_string(), Datum::scalar(u(100)))]);
        let sb = mirror(&[
            ("Datapath_Binding", u(100), dp_row("sw0", 1)),
            ("MAC_Binding", u(50), mac),
        ]);
        let delta = vec![RowChange::Delete {
            table: "Datapath_Binding".into(),
            uuid: u(1),
            old: Arc::new(dp_row("sw0", 1)),
        }];
        let plan = r.incremental(&delta, &sb);
        assert_eq!(plan.deletes, 2);
        assert!(plan.binding.is_empty());
    }
}
