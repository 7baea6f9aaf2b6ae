//! Packet-ins that only write the Southbound database (ovn-controller
//! 23.03 pinctrl, the parts run in the main thread after the packet-in
//! thread queued them):
//!
//! * `put_fdb(inport, eth.src)` (`pinctrl_handle_put_fdb`, `run_put_fdb`):
//!   the MAC learned on a port with `unknown` addresses; the datapath key
//!   is in `metadata`, the port key in `reg14`, the MAC is the packet's
//!   Ethernet source.  The SB `FDB` row for (datapath, MAC) is created or
//!   moved to the port;
//! * `bind_vport(V, inport)` (`pinctrl_handle_bind_vport`,
//!   `run_put_vport_binding`): the virtual port V (its key after the
//!   8-byte action header) answered through its parent (`reg14`); a
//!   `virtual` Port_Binding gets `chassis` = this chassis and
//!   `virtual_parent` = the parent's name;
//! * `trigger_event(event = "empty_lb_backends", vip = …, protocol = …,
//!   load_balancer = …)` (`pinctrl_handle_event`, `controller_event_run`):
//!   after the header, the event type (`be32`) and options (`be16` code
//!   1 vip / 2 protocol / 3 load_balancer, `be16` length, the string); a
//!   `Controller_Event` row is inserted for this chassis unless one with
//!   the same type, chassis and options exists, with the chassis's own
//!   increasing `seq_num`.

use std::collections::BTreeMap;

use ovsdb::sb::{ControllerEvent, Fdb};
use ovsdb::Uuid;
use serde_json::{json, Value};

use super::ops;
use super::pinctrl::opcode;
use crate::openflow::wire::oxm::field;
use crate::openflow::wire::{OxmField, PacketIn2};
use crate::sbdb::Southbound;

/// `ACTION_OPCODE_EVENT`.
pub const OP_EVENT: u32 = 15;
/// `ACTION_OPCODE_BIND_VPORT`.
pub const OP_BIND_VPORT: u32 = 17;
/// `ACTION_OPCODE_PUT_FDB`.
pub const OP_PUT_FDB: u32 = 25;

/// `OVN_EVENT_EMPTY_LB_BACKENDS` and its name in the SB.
const EVENT_EMPTY_LB_BACKENDS: u32 = 0;
const EMPTY_LB_BACKENDS: &str = "empty_lb_backends";

/// A MAC learned on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdbUpdate {
    /// Datapath tunnel key.
    pub dp_key: i64,
    /// Logical input port tunnel key.
    pub port_key: i64,
    /// `xx:xx:xx:xx:xx:xx`.
    pub mac: String,
}

/// A virtual port claimed through its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VportBind {
    /// Datapath tunnel key.
    pub dp_key: i64,
    /// The virtual port's tunnel key.
    pub vport_key: i64,
    /// The parent's tunnel key.
    pub parent_key: i64,
}

/// An `empty_lb_backends` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyLbEvent {
    /// `vip`.
    pub vip: String,
    /// `protocol`.
    pub protocol: String,
    /// `load_balancer` (the NB row's UUID).
    pub load_balancer: String,
}

fn md_u64(md: &[OxmField], id: field::Id) -> Option<u64> {
    md.iter().find(|f| f.is(id)).map(|f| {
        f.value
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    })
}

/// Register `n` of packet-in metadata (direct or inside its xreg).
fn md_reg(md: &[OxmField], n: u8) -> u32 {
    if let Some(v) = md_u64(md, field::reg(n)) {
        return v as u32;
    }
    let x = md_u64(md, field::xreg(n / 2)).unwrap_or(0);
    if n.is_multiple_of(2) {
        (x >> 32) as u32
    } else {
        x as u32
    }
}

fn keys(pin: &PacketIn2) -> Option<(i64, i64)> {
    let md = pin.metadata().ok()?;
    let dp = md_u64(&md, field::METADATA).unwrap_or(0) as u32;
    Some((i64::from(dp), i64::from(md_reg(&md, 14))))
}

/// Decodes a `put_fdb` packet-in.
pub fn parse_put_fdb(pin: &PacketIn2) -> Option<FdbUpdate> {
    if opcode(pin)? != OP_PUT_FDB {
        return None;
    }
    let (dp_key, port_key) = keys(pin)?;
    let src = pin.packet()?.get(6..12)?;
    let mac = src
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    Some(FdbUpdate {
        dp_key,
        port_key,
        mac,
    })
}

/// The SB operation recording `u` (`run_put_fdb`) given the `FDB` rows:
/// a new `FDB` row, or
/// the row for (datapath, MAC) moved to the port; `None` when it is
/// already there.
pub fn fdb_op(fdbs: &[Fdb], u: &FdbUpdate) -> Option<Value> {
    match fdbs.iter().find(|f| f.dp_key == u.dp_key && f.mac == u.mac) {
        Some(f) if f.port_key == u.port_key => None,
        Some(f) => Some(ops::update("FDB", &f.uuid, json!({"port_key": u.port_key}))),
        None => Some(ops::insert(
            "FDB",
            "fdb",
            json!({"dp_key": u.dp_key, "mac": u.mac, "port_key": u.port_key}),
        )),
    }
}

/// Decodes a `bind_vport` packet-in.
pub fn parse_bind_vport(pin: &PacketIn2) -> Option<VportBind> {
    if opcode(pin)? != OP_BIND_VPORT {
        return None;
    }
    let (dp_key, parent_key) = keys(pin)?;
    let key = pin.userdata()?.get(8..12)?;
    Some(VportBind {
        dp_key,
        vport_key: i64::from(u32::from_be_bytes(key.try_into().ok()?)),
        parent_key,
    })
}

/// The SB operation claiming the virtual port of `b` for chassis `me`
/// (`run_put_vport_binding`); `None` when the port is not `virtual`, its
/// parent is unknown, or nothing changes.
pub fn bind_vport_op(sb: &Southbound, me: Uuid, b: &VportBind) -> Option<Value> {
    let dp = sb.datapath_by_key(b.dp_key)?;
    let port = |key: i64| sb.ports_of(&dp.uuid).find(|pb| pb.tunnel_key == key);
    let pb = port(b.vport_key)?;
    if pb.type_ != "virtual" {
        return None;
    }
    let parent = port(b.parent_key)?;
    let mut row = serde_json::Map::new();
    if pb.chassis != Some(me) {
        row.insert("chassis".into(), ops::uuid(&me));
    }
    if pb.virtual_parent.as_deref() != Some(parent.logical_port.as_str()) {
        row.insert("virtual_parent".into(), json!(parent.logical_port));
    }
    (!row.is_empty()).then(|| ops::update("Port_Binding", &pb.uuid, Value::Object(row)))
}

/// Decodes a `trigger_event` packet-in; `None` for other packet-ins,
/// other events, or options missing or malformed
/// (`pinctrl_handle_empty_lb_backends_opts`).
pub fn parse_event(pin: &PacketIn2) -> Option<EmptyLbEvent> {
    if opcode(pin)? != OP_EVENT {
        return None;
    }
    let u = pin.userdata()?;
    let event = u32::from_be_bytes(u.get(8..12)?.try_into().ok()?);
    if event != EVENT_EMPTY_LB_BACKENDS {
        return None;
    }
    let mut rest = u.get(12..)?;
    let (mut vip, mut protocol, mut lb) = (None, None, None);
    while !rest.is_empty() {
        let code = u16::from_be_bytes(rest.get(0..2)?.try_into().ok()?);
        let len = usize::from(u16::from_be_bytes(rest.get(2..4)?.try_into().ok()?));
        let value = String::from_utf8_lossy(rest.get(4..4 + len)?).into_owned();
        match code {
            1 => vip = Some(value),
            2 => protocol = Some(value),
            3 => lb = Some(value),
            _ => return None,
        }
        rest = &rest[4 + len..];
    }
    Some(EmptyLbEvent {
        vip: vip?,
        protocol: protocol?,
        load_balancer: lb?,
    })
}

/// The `Controller_Event` insert for `e` by chassis `me` with sequence
/// number `seq`, or `None` when the chassis already reported it
/// (`empty_lb_backends_lookup`).
pub fn event_op(
    existing: &[ControllerEvent],
    me: Uuid,
    e: &EmptyLbEvent,
    seq: i64,
) -> Option<Value> {
    let info = BTreeMap::from([
        ("vip".to_string(), e.vip.clone()),
        ("protocol".to_string(), e.protocol.clone()),
        ("load_balancer".to_string(), e.load_balancer.clone()),
    ]);
    let known = existing.iter().any(|c| {
        c.event_type == EMPTY_LB_BACKENDS
            && c.chassis == Some(me)
            && ["vip", "protocol", "load_balancer"]
                .iter()
                .all(|k| c.event_info.get(*k) == info.get(*k))
    });
    (!known).then(|| {
        ops::insert(
            "Controller_Event",
            "ev",
            json!({"event_type": EMPTY_LB_BACKENDS, "event_info": ops::map(&info),
                   "chassis": ops::uuid(&me), "seq_num": seq}),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openflow::wire::buf::Property;
    use crate::openflow::wire::packet::pin_prop;

    fn pin(op: u32, payload: &[u8], dp: u64, inport: u32) -> PacketIn2 {
        let mut userdata = op.to_be_bytes().to_vec();
        userdata.extend([0; 4]);
        userdata.extend(payload);
        let md = [
            OxmField::exact(field::METADATA, &dp.to_be_bytes()),
            OxmField::exact(field::xreg(7), &(u64::from(inport) << 32).to_be_bytes()),
        ];
        let mut mdb = Vec::new();
        for f in &md {
            f.emit(&mut mdb).unwrap();
        }
        let mut pkt = vec![0xff; 6];
        pkt.extend([0x50, 0x54, 0, 0, 0, 0x0a, 0x08, 0x00]);
        PacketIn2 {
            properties: vec![
                Property::new(pin_prop::PACKET, pkt),
                Property::new(pin_prop::USERDATA, userdata),
                Property::new(pin_prop::METADATA, mdb),
            ],
        }
    }

    #[test]
    fn put_fdb_and_bind_vport_decode() {
        assert_eq!(
            parse_put_fdb(&pin(OP_PUT_FDB, &[], 5, 3)),
            Some(FdbUpdate {
                dp_key: 5,
                port_key: 3,
                mac: "50:54:00:00:00:0a".into()
            })
        );
        assert_eq!(parse_put_fdb(&pin(OP_BIND_VPORT, &[], 5, 3)), None);
        assert_eq!(
            parse_bind_vport(&pin(OP_BIND_VPORT, &9u32.to_be_bytes(), 2, 4)),
            Some(VportBind {
                dp_key: 2,
                vport_key: 9,
                parent_key: 4
            })
        );
        assert_eq!(parse_bind_vport(&pin(OP_BIND_VPORT, &[0, 0], 2, 4)), None);
    }

    #[test]
    fn empty_lb_backends_event() {
        let mut p = 0u32.to_be_bytes().to_vec();
        for (code, s) in [(1u16, "10.0.0.10:80"), (2, "tcp"), (3, "b8b4…")] {
            p.extend(code.to_be_bytes());
            p.extend((s.len() as u16).to_be_bytes());
            p.extend(s.as_bytes());
        }
        let e = parse_event(&pin(OP_EVENT, &p, 1, 1)).unwrap();
        assert_eq!(e.vip, "10.0.0.10:80");
        assert_eq!(e.protocol, "tcp");
        let me = Uuid::from_u128(7);
        let op = event_op(&[], me, &e, 1).unwrap();
        assert_eq!(op["row"]["seq_num"], 1);
        assert_eq!(op["row"]["event_type"], "empty_lb_backends");
        let row = ControllerEvent {
            uuid: Uuid::from_u128(1),
            event_type: "empty_lb_backends".into(),
            event_info: BTreeMap::from([
                ("vip".into(), e.vip.clone()),
                ("protocol".into(), e.protocol.clone()),
                ("load_balancer".into(), e.load_balancer.clone()),
            ]),
            chassis: Some(me),
            seq_num: 1,
        };
        assert!(event_op(std::slice::from_ref(&row), me, &e, 2).is_none());
        assert!(event_op(&[row], Uuid::from_u128(8), &e, 2).is_some());
        // A missing option: no event.
        assert!(parse_event(&pin(OP_EVENT, &p[..p.len() - 3], 1, 1)).is_none());
        assert!(parse_event(&pin(OP_EVENT, &p[..20], 1, 1)).is_none());
    }
}
