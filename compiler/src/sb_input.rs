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
//! Only rows that differ from the state of a fresh row (no chassis, not up,
//! no virtual parent, no monitor status) become records, so that an SB
//! without ovn-controller gives no port or monitor input at all (`BFD` rows
//! always do: their existence counts).

use ovsdb::{Row, RowChange};
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

/// One SB input record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SbInput {
    /// A [`SbPort`].
    Port(SbPort),
    /// A [`SbMonitor`].
    Monitor(SbMonitor),
    /// A [`SbBfd`].
    Bfd(SbBfd),
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

/// The input updates SB row changes give: `(record, +1/-1)`.
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
}
