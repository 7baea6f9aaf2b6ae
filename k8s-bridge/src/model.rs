//! The desired Northbound content: rows keyed by table and a stable key,
//! references between them by key. The translation builds an [`Nb`];
//! [`crate::reconcile`] turns it into one transaction against a live NB.
//!
//! Every row this crate writes carries its key in `external_ids`
//! ([`OWNER_KEY`]), so a later run recognises what it owns; rows without
//! that key are never touched. `Load_Balancer_Group` has no external_ids in
//! the 23.03 schema: its three cluster groups are owned by name.

use std::collections::{BTreeMap, BTreeSet};

use ovsdb::{Atom, Datum};

/// The external_ids key that marks a row as written by ovnflow's k8s
/// bridge; its value is the row's key. The key is `<owner>#<part>`, where
/// the owner is the Kubernetes object the row belongs to (`Node/n1`,
/// `Pod/ns/name`, `Service/ns/name`, `NetworkPolicy/ns/name`,
/// `Namespace/ns`) or `Cluster` for the shared topology.
pub const OWNER_KEY: &str = "k8s.ovnflow/key";

/// The names of the load balancer groups ovn-kubernetes creates (fact
/// sheet §1.2); owned by name since the table has no external_ids.
pub const LB_GROUPS: [&str; 3] = [
    "clusterLBGroup",
    "clusterSwitchLBGroup",
    "clusterRouterLBGroup",
];

/// Identifies a desired row: its table and key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowId {
    /// The NB table.
    pub table: &'static str,
    /// The key, unique within the table: `<owner>#<part>`.
    pub key: String,
}

impl RowId {
    /// A row id.
    pub fn new(table: &'static str, key: impl Into<String>) -> RowId {
        RowId {
            table,
            key: key.into(),
        }
    }

    /// The owning object: the key up to `#`.
    pub fn owner(&self) -> &str {
        self.key.split('#').next().unwrap_or("")
    }
}

/// One desired row: the columns this crate manages, and its references to
/// other desired rows by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NbRow {
    /// The row's id.
    pub id: RowId,
    /// Plain columns.
    pub cols: BTreeMap<&'static str, Datum>,
    /// Reference columns (sets of UUIDs in the NB), by target id.
    pub refs: BTreeMap<&'static str, BTreeSet<RowId>>,
}

impl NbRow {
    /// A row of `table` with key `key` and, when the table has
    /// external_ids, the ownership marker in them.
    pub fn new(table: &'static str, key: impl Into<String>) -> NbRow {
        let id = RowId::new(table, key);
        let mut row = NbRow {
            cols: BTreeMap::new(),
            refs: BTreeMap::new(),
            id,
        };
        if table != "Load_Balancer_Group" {
            row.cols.insert(
                "external_ids",
                Datum::string_map([(OWNER_KEY, row.id.key.clone())]),
            );
        }
        row
    }

    /// Sets a string column.
    pub fn str(mut self, col: &'static str, v: impl Into<String>) -> Self {
        self.cols.insert(col, Datum::scalar(Atom::String(v.into())));
        self
    }

    /// Sets an integer column.
    pub fn int(mut self, col: &'static str, v: i64) -> Self {
        self.cols.insert(col, Datum::scalar(Atom::Integer(v)));
        self
    }

    /// Sets a boolean column.
    pub fn bool(mut self, col: &'static str, v: bool) -> Self {
        self.cols.insert(col, Datum::scalar(Atom::Boolean(v)));
        self
    }

    /// Sets a set-of-strings column.
    pub fn strs<S: Into<String>>(
        mut self,
        col: &'static str,
        v: impl IntoIterator<Item = S>,
    ) -> Self {
        self.cols.insert(
            col,
            Datum::set(v.into_iter().map(|s| Atom::String(s.into()))),
        );
        self
    }

    /// Sets a string→string map column (for `external_ids`, the ownership
    /// marker is kept).
    pub fn map<K: Into<String>, V: Into<String>>(
        mut self,
        col: &'static str,
        v: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut m: BTreeMap<String, String> =
            v.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        if col == "external_ids" && self.id.table != "Load_Balancer_Group" {
            m.insert(OWNER_KEY.into(), self.id.key.clone());
        }
        self.cols.insert(col, Datum::string_map(m));
        self
    }

    /// Adds entries to a string→string map column (later values win).
    pub fn extend_map<K: Into<String>, V: Into<String>>(
        &mut self,
        col: &'static str,
        v: impl IntoIterator<Item = (K, V)>,
    ) {
        let mut m: BTreeMap<String, String> = self
            .cols
            .get(col)
            .map(|d| {
                d.pairs()
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        m.extend(v.into_iter().map(|(k, v)| (k.into(), v.into())));
        self.cols.insert(col, Datum::string_map(m));
    }

    /// A value of a string→string map column.
    pub fn map_get(&self, col: &str, key: &str) -> Option<String> {
        self.cols.get(col)?.get_str(key).map(str::to_string)
    }

    /// Sets a reference column.
    pub fn refs(mut self, col: &'static str, v: impl IntoIterator<Item = RowId>) -> Self {
        self.refs.insert(col, v.into_iter().collect());
        self
    }

    /// Adds references to a reference column.
    pub fn add_refs(&mut self, col: &'static str, v: impl IntoIterator<Item = RowId>) {
        self.refs.entry(col).or_default().extend(v);
    }
}

/// The columns this crate manages in each table it writes. Columns not
/// listed are never written (northd's `up`, `dynamic_addresses`, and
/// anything a user sets); a listed column a row does not set is kept at
/// the schema default.
pub fn managed_columns(table: &str) -> &'static [&'static str] {
    match table {
        "ACL" => &[
            "action",
            "direction",
            "external_ids",
            "label",
            "log",
            "match",
            "meter",
            "name",
            "options",
            "priority",
            "severity",
        ],
        "Address_Set" => &["addresses", "external_ids", "name"],
        "Gateway_Chassis" => &["chassis_name", "external_ids", "name", "priority"],
        "Load_Balancer" => &["external_ids", "name", "options", "protocol", "vips"],
        "Load_Balancer_Group" => &["load_balancer", "name"],
        "Logical_Router" => &[
            "external_ids",
            "load_balancer",
            "load_balancer_group",
            "name",
            "nat",
            "options",
            "policies",
            "ports",
            "static_routes",
        ],
        "Logical_Router_Policy" => &["action", "external_ids", "match", "nexthops", "priority"],
        "Logical_Router_Port" => &[
            "external_ids",
            "gateway_chassis",
            "mac",
            "name",
            "networks",
            "options",
        ],
        "Logical_Router_Static_Route" => &[
            "external_ids",
            "ip_prefix",
            "nexthop",
            "output_port",
            "policy",
        ],
        "Logical_Switch" => &[
            "acls",
            "external_ids",
            "load_balancer",
            "load_balancer_group",
            "name",
            "other_config",
            "ports",
        ],
        "Logical_Switch_Port" => &[
            "addresses",
            "external_ids",
            "name",
            "options",
            "port_security",
            "tag_request",
            "type",
        ],
        "Meter" => &["bands", "external_ids", "fair", "name", "unit"],
        "Meter_Band" => &["action", "external_ids", "rate"],
        "NAT" => &[
            "external_ids",
            "external_ip",
            "logical_ip",
            "options",
            "type",
        ],
        "Port_Group" => &["acls", "external_ids", "name", "ports"],
        _ => &[],
    }
}

/// The tables this crate writes.
pub const TABLES: &[&str] = &[
    "ACL",
    "Address_Set",
    "Gateway_Chassis",
    "Load_Balancer",
    "Load_Balancer_Group",
    "Logical_Router",
    "Logical_Router_Policy",
    "Logical_Router_Port",
    "Logical_Router_Static_Route",
    "Logical_Switch",
    "Logical_Switch_Port",
    "Meter",
    "Meter_Band",
    "NAT",
    "Port_Group",
];

/// The desired NB: every row by id, and status lines for the operator
/// (for example a service-function chain that cannot be completed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nb {
    /// The rows.
    pub rows: BTreeMap<RowId, NbRow>,
    /// Status lines, one per object that is translated but not in effect.
    pub status: Vec<String>,
    /// References added to rows this `Nb` does not hold (target row,
    /// column → referenced rows). A full translation holds every row, so
    /// this stays empty; a translation of one object ([`crate::incremental`])
    /// records here what it adds to shared rows (a pod's port on its node
    /// switch, a service's load balancer in a group).
    pub contrib: BTreeMap<(RowId, &'static str), BTreeSet<RowId>>,
}

impl Nb {
    /// Adds a row and returns its id. A second row with the same id is a
    /// bug in the translation, reported as a panic in debug builds; in
    /// release builds the later row wins.
    pub fn add(&mut self, row: NbRow) -> RowId {
        debug_assert!(
            row.cols
                .keys()
                .chain(row.refs.keys())
                .all(|c| managed_columns(row.id.table).contains(c)),
            "unmanaged column in {:?}",
            row.id
        );
        let id = row.id.clone();
        let old = self.rows.insert(id.clone(), row);
        debug_assert!(old.is_none(), "duplicate row {id:?}");
        id
    }

    /// A mutable row, if present.
    pub fn get_mut(&mut self, id: &RowId) -> Option<&mut NbRow> {
        self.rows.get_mut(id)
    }

    /// Adds references to a reference column of a row; when the row is
    /// not in this `Nb`, the references are recorded in [`Nb::contrib`].
    pub fn add_refs(&mut self, to: &RowId, col: &'static str, v: impl IntoIterator<Item = RowId>) {
        match self.rows.get_mut(to) {
            Some(r) => r.add_refs(col, v),
            None => self.contrib.entry((to.clone(), col)).or_default().extend(v),
        }
    }

    /// Rows of one table.
    pub fn table<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a NbRow> + 'a {
        self.rows.values().filter(move |r| r.id.table == table)
    }
}
