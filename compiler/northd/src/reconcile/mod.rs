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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::mirror::Mirror;
use ovsdb::datum::column_or_empty;
use ovsdb::schema::RefType;
use ovsdb::{Atom, DatabaseSchema, Datum, Row, RowChange, Uuid};

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
        // Random (`disc`) or allocated (`src_port`) by northd when it
        // inserts the row; `status` is also ovn-controller's.
        "BFD" => &["disc", "src_port", "status"],
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

/// Whether an unowned column is written anyway because of its values
/// (`a` what the SB has, `b` what we want): a `BFD` row's `status` follows
/// the NB when either side is `admin_down` (`build_bfd_table()`; otherwise
/// ovn-controller's value stands); a `Service_Monitor` reported `online`
/// becomes `offline` while its port is not up (`ovn_lb_svc_create()`).
fn synced_anyway(table: &str, column: &str, a: Option<&Datum>, b: Option<&Datum>) -> bool {
    let is = |d: Option<&Datum>, v: &str| d.is_some_and(|d| *d == Datum::scalar(v));
    match (table, column) {
        ("BFD", "status") => is(a, "admin_down") || is(b, "admin_down"),
        ("Service_Monitor", "status") => is(a, "online") && is(b, "offline"),
        _ => false,
    }
}

mod binding;
mod natural;
mod plan;

pub use binding::{Binding, BindingUpdate};
pub use plan::{Plan, Spill};

use natural::natural_key;

/// The tables (owned ones) a column refers to: key, value.
type ColRefs = (Option<String>, Option<String>);

/// Our rows in the SB: the owned tables (ordered so that referenced tables
/// come first) and the current binding.
#[derive(Clone, Debug)]
pub struct Reconciler {
    schema: Arc<DatabaseSchema>,
    order: Vec<String>,
    /// Owned table → column of the server's schema → the owned tables its
    /// key and value refer to.
    columns: HashMap<String, HashMap<String, ColRefs>>,
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

/// A datum of an owned column with references to our rows turned into
/// references to the SB rows bound to them.
fn map_refs<'d>(binding: &Binding, refs: &ColRefs, d: &'d Datum) -> Cow<'d, Datum> {
    let (kref, vref) = (refs.0.as_deref(), refs.1.as_deref());
    if kref.is_none() && vref.is_none() {
        return Cow::Borrowed(d);
    }
    let map_atom = |a: &Atom, target: Option<&str>| match (a, target) {
        (Atom::Uuid(u), Some(t)) => Atom::Uuid(binding.sb(t, *u)),
        _ => a.clone(),
    };
    Cow::Owned(match d {
        Datum::Set(atoms) => Datum::set(atoms.iter().map(|a| map_atom(a, kref))),
        Datum::Map(pairs) => Datum::map(
            pairs
                .iter()
                .map(|(k, v)| (map_atom(k, kref), map_atom(v, vref))),
        ),
    })
}

/// Writes `d` with references to our rows renamed as [`map_refs`] does.
fn write_mapped(out: &mut Vec<u8>, binding: &Binding, refs: &ColRefs, d: &Datum) {
    let (kref, vref) = (refs.0.as_deref(), refs.1.as_deref());
    if kref.is_none() && vref.is_none() {
        return d.write_json(out);
    }
    d.write_json_mapped(out, |a, is_value| {
        match (a, if is_value { vref } else { kref }) {
            (Atom::Uuid(u), Some(t)) => Some(Atom::Uuid(binding.sb(t, *u))),
            _ => None,
        }
    });
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
        let is_owned =
            |t: Option<&str>| t.filter(|t| owned.iter().any(|o| o == t)).map(String::from);
        let columns = owned
            .iter()
            .map(|t| {
                let cols = schema.tables[t]
                    .columns
                    .iter()
                    .map(|(c, cs)| {
                        let k = is_owned(cs.ty.key.ref_table.as_deref());
                        let v = is_owned(cs.ty.value.as_ref().and_then(|v| v.ref_table.as_deref()));
                        (c.clone(), (k, v))
                    })
                    .collect();
                (t.clone(), cols)
            })
            .collect();
        Reconciler {
            schema,
            order,
            columns,
            binding: Binding::default(),
        }
    }

    /// The server's schema.
    pub fn schema(&self) -> &Arc<DatabaseSchema> {
        &self.schema
    }

    /// The owned tables, referenced tables first.
    pub fn tables(&self) -> &[String] {
        &self.order
    }

    /// Whether `table` is ours.
    pub fn owns(&self, table: &str) -> bool {
        self.columns.contains_key(table)
    }

    /// Records that `plan` committed: the binding it leaves becomes current.
    pub fn committed(&mut self, plan: Plan) {
        plan.binding.apply_to(&mut self.binding);
    }

    /// The columns of `row` (of owned `table`) the server's schema has,
    /// with what they refer to.
    fn columns<'r>(
        &'r self,
        table: &str,
        row: &'r Row,
    ) -> impl Iterator<Item = (&'r str, &'r Datum, &'r ColRefs)> + 'r {
        let cols = self.columns.get(table);
        row.iter().filter_map(move |(c, d)| {
            // Columns not in the server's schema are left out of what we write.
            let refs = cols?.get(c)?;
            Some((c, d, refs))
        })
    }

    /// `row` with references to our rows turned into references to the SB
    /// rows bound to them (columns the server lacks left out).
    fn translate(&self, binding: &Binding, table: &str, row: &Row) -> Row {
        self.columns(table, row)
            .map(|(c, d, refs)| (c.to_string(), map_refs(binding, refs, d).into_owned()))
            .collect()
    }

    /// Adds the insert of our `row` as SB row `s`. Empty sets and maps are
    /// left out: they are every optional column's default, and a first
    /// full compute inserts tens of thousands of rows that mostly leave
    /// them empty (as northd's IDL writes only the columns it sets).
    fn insert(&self, plan: &mut Plan, binding: &Binding, table: &str, s: Uuid, row: &Row) {
        let cols = self
            .columns(table, row)
            .filter(|(_, d, _)| !d.is_empty())
            .map(|(c, d, refs)| (c, (d, refs)));
        plan.insert(table, s, cols, |out, (d, refs)| {
            write_mapped(out, binding, refs, d)
        });
    }

    /// Adds the update of SB row `s` (holding `have`) to our `want`: the
    /// owned columns that differ.
    fn align(
        &self,
        plan: &mut Plan,
        binding: &Binding,
        table: &str,
        s: Uuid,
        want: &Row,
        have: &Row,
    ) {
        let cols: Vec<(&str, Cow<Datum>)> = self
            .columns(table, want)
            .filter(|(c, d, _)| {
                owned_column(table, c)
                    || synced_anyway(table, c, Some(column_or_empty(have, c)), Some(*d))
            })
            .map(|(c, d, refs)| (c, map_refs(binding, refs, d)))
            // The mirror's rows leave out empty columns (`omit_empty`).
            .filter(|(c, d)| !column_or_empty(have, c).same_value(d))
            .collect();
        plan.update(table, s, cols, |out, d| d.write_json(out));
    }

    /// Operations making the SB (`sb`) hold exactly `desired` in our
    /// tables: `desired` is table → our UUID → row. Matches SB rows to ours
    /// by UUID first, then by natural key; unmatched SB rows are deleted.
    pub fn full(&self, desired: &BTreeMap<String, BTreeMap<Uuid, Row>>, sb: &Mirror) -> Plan {
        self.full_into(Plan::default(), desired, sb)
    }

    /// [`Reconciler::full`] writing into `plan` (e.g. [`Plan::spilling`]).
    pub fn full_into(
        &self,
        mut plan: Plan,
        desired: &BTreeMap<String, BTreeMap<Uuid, Row>>,
        sb: &Mirror,
    ) -> Plan {
        let mut binding = Binding::default();
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
                    binding.bind(table, *ours, *ours);
                } else {
                    rest.push((*ours, row));
                }
            }
            // Pass 2: the others by natural key.
            let mut by_key: HashMap<String, Vec<Uuid>> = HashMap::new();
            for u in &unclaimed {
                by_key
                    .entry(natural_key(table, &have[u], &groups))
                    .or_default()
                    .push(*u);
            }
            for (ours, row) in rest {
                let t = self.translate(&binding, table, row);
                let key = natural_key(table, &t, &groups);
                let found = by_key.get_mut(&key).and_then(|v| {
                    let i = v.iter().position(|u| unclaimed.contains(u))?;
                    Some(v.remove(i))
                });
                match found {
                    Some(s) => {
                        unclaimed.remove(&s);
                        binding.bind(table, ours, s);
                    }
                    None => binding.bind(table, ours, ours),
                }
            }
            // Writes, now that every row of this table is bound.
            for (ours, row) in want {
                let s = binding.sb(table, *ours);
                match have.get(&s) {
                    Some(h) => self.align(&mut plan, &binding, table, s, row, h),
                    None => self.insert(&mut plan, &binding, table, s, row),
                }
                if table == "Logical_DP_Group" {
                    if let (Some(d), Some(refs)) = (
                        row.get("datapaths"),
                        self.columns
                            .get(table.as_str())
                            .and_then(|c| c.get("datapaths")),
                    ) {
                        groups.insert(s, map_refs(&binding, refs, d).into_owned());
                    }
                }
            }
            for s in unclaimed {
                plan.delete(table, s);
                deleted.entry(table.clone()).or_default().insert(s);
            }
        }
        self.cascade(&mut plan, &deleted, sb);
        plan.binding = BindingUpdate::Replace(binding);
        plan
    }

    /// Operations for one compiler delta (rows named by our UUIDs),
    /// assuming the SB holds what we last wrote. Costs what the delta
    /// holds, whatever the size of the SB.
    pub fn incremental(&self, delta: impl IntoIterator<Item = RowChange>, sb: &Mirror) -> Plan {
        self.incremental_into(Plan::default(), delta, sb)
    }

    /// [`Reconciler::incremental`] writing into `plan` (e.g.
    /// [`Plan::spilling`]). Each change is dropped once written: the rows
    /// of a large delta are built and freed one at a time when `delta`
    /// makes them as it is read ([`crate::pending::Pending::take`]).
    pub fn incremental_into(
        &self,
        mut plan: Plan,
        delta: impl IntoIterator<Item = RowChange>,
        sb: &Mirror,
    ) -> Plan {
        let mut changes: Vec<(String, Uuid, Option<Uuid>)> = Vec::new();
        let mut deleted: BTreeMap<String, BTreeSet<Uuid>> = BTreeMap::new();
        // An inserted row keeps the SB row already bound to it, else takes
        // our UUID, so references among new rows resolve whatever the
        // order: the current binding answers for both.
        let binding = &self.binding;
        for ch in delta {
            if !self.owns(ch.table()) {
                continue;
            }
            match &ch {
                RowChange::Insert { table, uuid, new } => {
                    let s = binding.sb(table, *uuid);
                    if s != *uuid {
                        // (Bound to its own SB row: nothing to record.)
                        changes.push((table.clone(), *uuid, Some(s)));
                    }
                    match sb.get(table, &s) {
                        // Already there (an earlier run wrote it): align it.
                        Some(h) => self.align(&mut plan, binding, table, s, new, h),
                        None => self.insert(&mut plan, binding, table, s, new),
                    }
                }
                RowChange::Modify {
                    table,
                    uuid,
                    old,
                    new,
                } => {
                    let s = binding.sb(table, *uuid);
                    // Unowned columns written anyway compare with what the
                    // SB holds (someone else writes them), when we see it.
                    let have = sb.get(table, &s);
                    // The binding is one-to-one: columns differ after
                    // renaming references exactly when they differ before.
                    let cols: Vec<(&str, (&Datum, &ColRefs))> = self
                        .columns(table, new)
                        .filter(|(c, d, _)| {
                            if owned_column(table, c) {
                                return old.get(c) != Some(*d);
                            }
                            let current =
                                have.map(|h| column_or_empty(h, c)).or_else(|| old.get(c));
                            synced_anyway(table, c, current, Some(*d)) && current != Some(*d)
                        })
                        .map(|(c, d, refs)| (c, (d, refs)))
                        .collect();
                    plan.update(table, s, cols, |out, (d, refs)| {
                        write_mapped(out, binding, refs, d)
                    });
                }
                RowChange::Delete { table, uuid, .. } => {
                    let s = binding.sb(table, *uuid);
                    plan.delete(table, s);
                    changes.push((table.clone(), *uuid, None));
                    deleted.entry(table.clone()).or_default().insert(s);
                }
            }
        }
        self.cascade(&mut plan, &deleted, sb);
        plan.binding = BindingUpdate::Apply(changes);
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
                        plan.remove_refs(tname, *u, cname, &hit);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Arc<DatabaseSchema> {
        let text = include_str!("../../../../ovsdb/schemas/ovn-sb.ovsschema");
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
        let ops = plan.op_values();
        let mut r = r;
        r.committed(plan);
        assert_eq!(r.binding.sb("Port_Binding", u(2)), u(101));
        let insert = ops.iter().find(|o| o["op"] == "insert").unwrap();
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
        assert_eq!(plan.op_values()[0]["row"], json!({"tunnel_key": 1}));
    }

    #[test]
    fn rows_leaving_out_empty_columns_are_not_rewritten() {
        // The daemon's SB mirror leaves out empty columns
        // (`Replica::omit_empty`); what we want holds them as empty sets
        // and maps. Equal rows: nothing to write.
        let r = Reconciler::new(schema(), &["Datapath_Binding", "Port_Binding"]);
        let lean = |row: Row| -> Row { row.into_iter().filter(|(_, d)| !d.is_empty()).collect() };
        let sb = mirror(&[
            ("Datapath_Binding", u(100), lean(dp_row("sw0", 1))),
            ("Port_Binding", u(101), lean(pb_row("p1", u(100), None))),
        ]);
        let mut want_pb = pb_row("p1", u(1), None);
        want_pb.insert("options", Datum::Map(Vec::new()));
        let desired = BTreeMap::from([
            (
                "Datapath_Binding".to_string(),
                BTreeMap::from([(u(1), dp_row("sw0", 1))]),
            ),
            (
                "Port_Binding".to_string(),
                BTreeMap::from([(u(2), want_pb.clone())]),
            ),
        ]);
        let plan = r.full(&desired, &sb);
        assert_eq!((plan.inserts, plan.updates, plan.deletes), (0, 0, 0));
        // A column that is not empty in what we want is written.
        want_pb.insert(
            "options",
            Datum::Map(vec![(Atom::from("a"), Atom::from("b"))]),
        );
        let desired = BTreeMap::from([
            (
                "Datapath_Binding".to_string(),
                BTreeMap::from([(u(1), dp_row("sw0", 1))]),
            ),
            (
                "Port_Binding".to_string(),
                BTreeMap::from([(u(2), want_pb)]),
            ),
        ]);
        let plan = r.full(&desired, &sb);
        assert_eq!((plan.inserts, plan.updates, plan.deletes), (0, 1, 0));
        assert_eq!(
            plan.op_values()[0]["row"],
            json!({"options": ["map", [["a", "b"]]]})
        );
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
        let plan = r.incremental(delta, &sb);
        assert_eq!(plan.deletes, 2);
        r.committed(plan);
        assert!(r.binding.is_empty());
    }

    #[test]
    fn incremental_writes_changed_columns_with_sb_references() {
        let mut r = Reconciler::new(schema(), &["Datapath_Binding", "Port_Binding"]);
        r.binding.bind("Datapath_Binding", u(1), u(100));
        r.binding.bind("Port_Binding", u(2), u(101));
        let mut moved = pb_row("p1", u(1), None);
        moved.insert("tunnel_key", Datum::scalar(5i64));
        let delta = vec![
            RowChange::Modify {
                table: "Port_Binding".into(),
                uuid: u(2),
                old: Arc::new(pb_row("p1", u(1), None)),
                new: Arc::new(moved),
            },
            RowChange::Insert {
                table: "Port_Binding".into(),
                uuid: u(3),
                new: Arc::new(pb_row("p2", u(1), None)),
            },
        ];
        let plan = r.incremental(delta, &mirror(&[]));
        let ops = plan.op_values();
        assert_eq!((plan.inserts, plan.updates, plan.deletes), (1, 1, 0));
        assert_eq!(
            ops[0],
            json!({"op": "update", "table": "Port_Binding",
                "where": [["_uuid", "==", ["uuid", u(101).to_string()]]],
                "row": {"tunnel_key": 5}})
        );
        assert_eq!(ops[1]["uuid"], u(3).to_string());
        assert_eq!(
            ops[1]["row"]["datapath"],
            json!(["uuid", u(100).to_string()])
        );
        r.committed(plan);
        assert_eq!(r.binding.sb("Port_Binding", u(3)), u(3));
        assert_eq!(r.binding.len(), 2, "the inserted row keeps its own UUID");
    }
}
