//! What northd reads back from SB columns other daemons write.
//!
//! ovn-northd 23.03 is not a pure function of the NB: some of its output
//! depends on columns ovn-controller writes into the SB. This module reads
//! those columns into narrow records, keyed by what names the row (a port
//! by its `logical_port`, a monitor by its backend), never by SB row UUID
//! (the SB's UUIDs are not ours):
//!
//! - `Port_Binding`: `up`, `chassis` (set or not) and `virtual_parent`
//!   ([`SbPort`]): the claimed form of virtual ports in
//!   `build_arp_resolve_flows_for_lrouter_port()`, and `ovn_lb_svc_create()`
//!   turning `online` monitors of ports that are not up into `offline`;
//! - `Service_Monitor`: `status` ([`SbMonitor`]): `build_lb_vip_actions()`
//!   leaves backends whose monitor is not `online` out of `ct_lb_mark`;
//! - `BFD`: the row's existence and `status` ([`SbBfd`]): `build_bfd_table()`
//!   copies ovn-controller's status to the NB, and a session whose SB row
//!   exists but no route uses goes `admin_down`.
//!
//! - `IGMP_Group`: the groups ovn-controller learned ([`SbIgmpGroup`]):
//!   `build_mcast_groups()` turns them into `Multicast_Group` rows and
//!   `build_lswitch_ip_mcast_igmp_mld()` / the router relay into flows. Its
//!   `datapath` and `ports` reference SB rows, which [`SbRefs`] resolves to
//!   the NB datapath and port names.
//!
//! Only rows that differ from the state of a fresh row (no chassis, not up,
//! no virtual parent, no monitor status) become records, so that an SB
//! without ovn-controller gives no port or monitor input at all (`BFD` rows
//! always do: their existence counts).

use std::collections::BTreeMap;

use ovsdb::{Row, RowChange, Uuid};
use serde::{Deserialize, Serialize};

/// A switch port's binding state as ovn-controller left it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SbPort {
    /// `logical_port`.
    pub name: String,
    /// `up` is true.
    pub up: bool,
    /// `chassis` is set.
    pub chassis: bool,
    /// `virtual_parent`, when set and not empty.
    pub virtual_parent: Option<String>,
}

/// A service monitor's status as ovn-controller reported it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SbMonitor {
    /// `ip`.
    pub ip: String,
    /// `port`.
    pub port: u16,
    /// `protocol` (`tcp` when empty, as northd creates them).
    pub protocol: String,
    /// `logical_port`.
    pub logical_port: String,
    /// `status`: `online`, `offline` or `error`.
    pub status: String,
}

/// An SB `BFD` row's session and status.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SbBfd {
    /// `logical_port`.
    pub logical_port: String,
    /// `dst_ip`.
    pub dst_ip: String,
    /// `status`.
    pub status: String,
}

/// An SB `IGMP_Group` row with its references resolved: the multicast
/// group (or `mrouters`) some ports of one chassis joined on a datapath.
/// Rows without `chassis` or `datapath` give none (northd purges them).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SbIgmpGroup {
    /// `address`: an IPv4 or IPv6 group address, or `mrouters` (first: the
    /// records order by address).
    pub address: String,
    /// NB UUID of the switch (or router) of `datapath`
    /// (`external_ids:logical-switch` / `logical-router`).
    pub datapath: Uuid,
    /// `logical_port` of each row of `ports`, sorted, distinct.
    pub ports: Vec<String>,
}

/// One SB input record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SbInput {
    /// A [`SbPort`].
    Port(SbPort),
    /// A [`SbMonitor`].
    Monitor(SbMonitor),
    /// A [`SbBfd`].
    Bfd(SbBfd),
    /// A [`SbIgmpGroup`].
    Igmp(SbIgmpGroup),
}

fn string(row: &Row, col: &str) -> Option<String> {
    row.get(col)
        .and_then(|d| d.atoms().first())
        .and_then(|a| a.as_str().map(str::to_string))
}

fn is_set(row: &Row, col: &str) -> bool {
    row.get(col).is_some_and(|d| !d.atoms().is_empty())
}

/// The input record an SB row gives, if any (see the module doc).
pub fn read_row(table: &str, row: &Row) -> Option<SbInput> {
    match table {
        "Port_Binding" => {
            let name = string(row, "logical_port")?;
            let up = row
                .get("up")
                .and_then(|d| d.atoms().first())
                .and_then(|a| a.as_bool())
                .unwrap_or(false);
            let chassis = is_set(row, "chassis");
            let virtual_parent = string(row, "virtual_parent").filter(|v| !v.is_empty());
            (up || chassis || virtual_parent.is_some()).then_some(SbInput::Port(SbPort {
                name,
                up,
                chassis,
                virtual_parent,
            }))
        }
        "Service_Monitor" => {
            let status = string(row, "status")?;
            let port = row
                .get("port")
                .and_then(|d| d.atoms().first())
                .and_then(|a| a.as_i64())
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0);
            let protocol = string(row, "protocol")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "tcp".into());
            Some(SbInput::Monitor(SbMonitor {
                ip: string(row, "ip")?,
                port,
                protocol,
                logical_port: string(row, "logical_port")?,
                status,
            }))
        }
        "BFD" => Some(SbInput::Bfd(SbBfd {
            logical_port: string(row, "logical_port")?,
            dst_ip: string(row, "dst_ip")?,
            status: string(row, "status").unwrap_or_default(),
        })),
        _ => None,
    }
}

/// The SB tables [`read_row`] reads.
pub const TABLES: &[&str] = &["Port_Binding", "Service_Monitor", "BFD"];

/// What SB rows reference, by the caller's SB UUIDs: the NB datapath of
/// each `Datapath_Binding`, the `logical_port` of each `Port_Binding`, and
/// the record each `IGMP_Group` row gave (so that its change or deletion
/// retracts exactly that record).
#[derive(Clone, Debug, Default)]
pub struct SbRefs {
    datapaths: BTreeMap<Uuid, Uuid>,
    ports: BTreeMap<Uuid, String>,
    igmp: BTreeMap<Uuid, SbInput>,
}

fn uuid_refs(row: &Row, col: &str) -> Vec<Uuid> {
    row.get(col)
        .map(|d| d.atoms().iter().filter_map(|a| a.as_uuid()).collect())
        .unwrap_or_default()
}

/// The NB UUID a `Datapath_Binding` row names.
fn datapath_owner(row: &Row) -> Option<Uuid> {
    let ids = row.get("external_ids")?;
    ["logical-switch", "logical-router"].iter().find_map(|k| {
        ids.get(&ovsdb::Atom::from(*k))
            .and_then(|a| a.as_str())
            .and_then(|s| s.parse::<Uuid>().ok())
    })
}

impl SbRefs {
    /// The input updates SB row changes give: `(record, +1/-1)`. Changes
    /// of `Datapath_Binding` and `Port_Binding` rows are taken in before
    /// the `IGMP_Group` rows that may reference them.
    pub fn updates(&mut self, changes: &[RowChange]) -> Vec<(SbInput, isize)> {
        for ch in changes {
            let (map_dp, map_pb) = match ch.table() {
                "Datapath_Binding" => (true, false),
                "Port_Binding" => (false, true),
                _ => continue,
            };
            let uuid = ch.uuid();
            match ch.new_row() {
                None => {
                    self.datapaths.remove(&uuid);
                    self.ports.remove(&uuid);
                }
                Some(row) if map_dp => match datapath_owner(row) {
                    Some(nb) => {
                        self.datapaths.insert(uuid, nb);
                    }
                    None => {
                        self.datapaths.remove(&uuid);
                    }
                },
                Some(row) if map_pb => match string(row, "logical_port") {
                    Some(name) => {
                        self.ports.insert(uuid, name);
                    }
                    None => {
                        self.ports.remove(&uuid);
                    }
                },
                Some(_) => {}
            }
        }
        let mut out = updates(changes);
        for ch in changes.iter().filter(|c| c.table() == "IGMP_Group") {
            let uuid = ch.uuid();
            if let Some(old) = self.igmp.remove(&uuid) {
                out.push((old, -1));
            }
            if let Some(rec) = ch.new_row().and_then(|r| self.igmp_group(r)) {
                self.igmp.insert(uuid, rec.clone());
                out.push((rec, 1));
            }
        }
        out
    }

    /// The record of an `IGMP_Group` row, if it has a chassis and a known
    /// datapath.
    fn igmp_group(&self, row: &Row) -> Option<SbInput> {
        if uuid_refs(row, "chassis").is_empty() {
            return None;
        }
        let dp = uuid_refs(row, "datapath").first().copied()?;
        let datapath = *self.datapaths.get(&dp)?;
        let mut ports: Vec<String> = uuid_refs(row, "ports")
            .iter()
            .filter_map(|p| self.ports.get(p).cloned())
            .collect();
        ports.sort();
        ports.dedup();
        Some(SbInput::Igmp(SbIgmpGroup {
            address: string(row, "address").unwrap_or_default(),
            datapath,
            ports,
        }))
    }
}

/// Every input record a whole SB gives (`(table, uuid, row)`), references
/// resolved: what [`SbRefs::updates`] gives for the SB inserted at once.
pub fn read_all<'a>(rows: impl IntoIterator<Item = (&'a str, Uuid, &'a Row)>) -> Vec<SbInput> {
    let changes = RowChange::inserts(rows);
    SbRefs::default()
        .updates(&changes)
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

/// The input updates SB row changes give: `(record, +1/-1)`, for the
/// tables [`read_row`] reads (no references resolved: see [`SbRefs`]).
pub fn updates(changes: &[RowChange]) -> Vec<(SbInput, isize)> {
    let mut out = Vec::new();
    for ch in changes {
        let table = ch.table();
        if !TABLES.contains(&table) {
            continue;
        }
        if let Some(old) = ch.old().and_then(|r| read_row(table, r.as_ref())) {
            out.push((old, -1));
        }
        if let Some(new) = ch.new_row().and_then(|r| read_row(table, r.as_ref())) {
            out.push((new, 1));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::{Datum, Uuid};
    use std::sync::Arc;

    fn row(cols: &[(&str, Datum)]) -> Row {
        cols.iter()
            .map(|(c, d)| (c.to_string(), d.clone()))
            .collect()
    }

    #[test]
    fn fresh_rows_give_nothing_and_claimed_ports_their_parent() {
        let fresh = row(&[
            ("logical_port", Datum::scalar("p")),
            ("up", Datum::set([ovsdb::Atom::Boolean(false)])),
            ("chassis", Datum::empty_set()),
            ("virtual_parent", Datum::empty_set()),
        ]);
        assert_eq!(read_row("Port_Binding", &fresh), None);
        let claimed = row(&[
            ("logical_port", Datum::scalar("vip")),
            (
                "chassis",
                Datum::set([ovsdb::Atom::Uuid(Uuid::from_u128(1))]),
            ),
            ("virtual_parent", Datum::set([ovsdb::Atom::from("p1")])),
        ]);
        assert_eq!(
            read_row("Port_Binding", &claimed),
            Some(SbInput::Port(SbPort {
                name: "vip".into(),
                up: false,
                chassis: true,
                virtual_parent: Some("p1".into()),
            }))
        );
        let mon = row(&[
            ("ip", Datum::scalar("10.0.0.1")),
            ("port", Datum::scalar(80i64)),
            ("protocol", Datum::set([ovsdb::Atom::from("udp")])),
            ("logical_port", Datum::scalar("p1")),
            ("status", Datum::set([ovsdb::Atom::from("error")])),
        ]);
        let Some(SbInput::Monitor(m)) = read_row("Service_Monitor", &mon) else {
            panic!("no monitor input");
        };
        assert_eq!(
            (m.port, m.protocol.as_str(), m.status.as_str()),
            (80, "udp", "error")
        );
    }

    #[test]
    fn igmp_rows_resolve_references_and_retract_what_they_gave() {
        let uuid = |n: u128| Uuid::from_u128(n);
        let refs = |v: &[u128]| Datum::set(v.iter().map(|n| ovsdb::Atom::Uuid(uuid(*n))));
        let nb_ls = uuid(0x100);
        let dp = row(&[(
            "external_ids",
            Datum::string_map([("logical-switch", nb_ls.to_string().as_str())]),
        )]);
        let pb = |name: &str| row(&[("logical_port", Datum::scalar(name))]);
        let group = |ports: &[u128], chassis: &[u128]| {
            Arc::new(row(&[
                ("address", Datum::scalar("239.1.1.1")),
                ("datapath", refs(&[1])),
                ("chassis", refs(chassis)),
                ("ports", refs(ports)),
            ]))
        };
        let insert = |table: &str, n: u128, r: Row| RowChange::Insert {
            table: table.into(),
            uuid: uuid(n),
            new: Arc::new(r),
        };
        let mut sb = SbRefs::default();
        let got = sb.updates(&[
            insert("Datapath_Binding", 1, dp),
            insert("Port_Binding", 2, pb("p2")),
            insert("Port_Binding", 3, pb("p1")),
            RowChange::Insert {
                table: "IGMP_Group".into(),
                uuid: uuid(9),
                new: group(&[2, 3], &[7]),
            },
        ]);
        let rec = SbInput::Igmp(SbIgmpGroup {
            address: "239.1.1.1".into(),
            datapath: nb_ls,
            ports: vec!["p1".into(), "p2".into()],
        });
        assert_eq!(got, vec![(rec.clone(), 1)]);
        // Losing its chassis (weak reference) retracts the record.
        let got = sb.updates(&[RowChange::Modify {
            table: "IGMP_Group".into(),
            uuid: uuid(9),
            old: group(&[2, 3], &[7]),
            new: group(&[2, 3], &[]),
        }]);
        assert_eq!(got, vec![(rec, -1)]);
    }
}
