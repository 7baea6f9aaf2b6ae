//! Flows from learned and static neighbours and from the FDB
//! (`consider_neighbor_flow`, `consider_fdb_flows` in
//! `controller/lflow.c`, 23.03):
//!
//! * table 66 (`get_arp`/`get_nd`): `metadata, reg15=port, reg0=ip`
//!   (xxreg0 for IPv6) → `eth.dst = mac; flags[6] = 1`;
//! * table 67 (`lookup_arp`/`lookup_nd`): `metadata, reg14=port, reg0=ip,
//!   arp` (or ICMPv6 code 0), `dl_src=mac` → `flags[6] = 1`;
//! * priority 100 for `MAC_Binding`, 50 (150 with `override_dynamic_mac`)
//!   for `Static_MAC_Binding`; cookie = the row's UUID;
//! * table 71 (`get_fdb`): `metadata, dl_dst=mac` → `reg15 = port`;
//!   table 72 (`lookup_fdb`): `metadata, dl_src=mac, reg14=port` →
//!   `flags[8] = 1`.

use std::net::IpAddr;

use ovsdb::Uuid;

use crate::actions::OfAction;
use crate::expr::symtab::Field;
use crate::expr::OfMatch;
use crate::flow_table::{FlowTable, OfFlow};
use crate::local::Local;
use crate::sbdb::Southbound;
use ovsdb::ovs_hash::uuid_hash;

const OFTABLE_MAC_BINDING: u8 = 66;
const OFTABLE_MAC_LOOKUP: u8 = 67;
const OFTABLE_GET_FDB: u8 = 71;
const OFTABLE_LOOKUP_FDB: u8 = 72;
const MLF_LOOKUP_MAC: u128 = 1 << 6;
const MLF_LOOKUP_FDB: u128 = 1 << 8;

/// Parses `xx:xx:xx:xx:xx:xx` (`eth_addr_from_string`).
pub fn parse_mac(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    parts.iter().try_fold(0u64, |acc, p| {
        (p.len() <= 2)
            .then(|| u8::from_str_radix(p, 16).ok())
            .flatten()
            .map(|b| (acc << 8) | u64::from(b))
    })
}

fn set_flag(bit: u128) -> OfAction {
    OfAction::SetField {
        field: Field::Reg(10),
        value: bit,
        mask: bit,
    }
}

/// Adds the MAC_Binding, Static_MAC_Binding and FDB flows.
pub fn add_neighbor_flows(sb: &Southbound, local: &Local, flows: &mut FlowTable) {
    for b in &sb.mac_bindings {
        neighbor_flow(
            sb,
            local,
            &b.uuid,
            &b.logical_port,
            &b.ip,
            &b.mac,
            100,
            flows,
        );
    }
    for b in &sb.static_mac_bindings {
        let prio = if b.override_dynamic_mac { 150 } else { 50 };
        neighbor_flow(
            sb,
            local,
            &b.uuid,
            &b.logical_port,
            &b.ip,
            &b.mac,
            prio,
            flows,
        );
    }
    for fdb in &sb.fdbs {
        if !local.datapaths.contains_key(&fdb.dp_key) {
            continue;
        }
        let Some(mac) = parse_mac(&fdb.mac) else {
            continue;
        };
        let cookie = u64::from(uuid_hash(&fdb.uuid));
        let mut m = OfMatch::new();
        m.set_metadata(fdb.dp_key as u64);
        m.set_field(Field::EthDst, u128::from(mac), u128::from(u64::MAX >> 16));
        flows.add(OfFlow {
            table: OFTABLE_GET_FDB,
            priority: 100,
            cookie,
            of_match: m,
            actions: vec![OfAction::SetField {
                field: Field::Reg(15),
                value: fdb.port_key as u128 & 0xffff_ffff,
                mask: 0xffff_ffff,
            }],
        });
        let mut m = OfMatch::new();
        m.set_metadata(fdb.dp_key as u64);
        m.set_field(Field::EthSrc, u128::from(mac), u128::from(u64::MAX >> 16));
        m.set_field(
            Field::Reg(14),
            fdb.port_key as u128 & 0xffff_ffff,
            0xffff_ffff,
        );
        flows.add(OfFlow {
            table: OFTABLE_LOOKUP_FDB,
            priority: 100,
            cookie,
            of_match: m,
            actions: vec![set_flag(MLF_LOOKUP_FDB)],
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn neighbor_flow(
    sb: &Southbound,
    local: &Local,
    uuid: &Uuid,
    port: &str,
    ip: &str,
    mac: &str,
    priority: u16,
    flows: &mut FlowTable,
) {
    let Some(pb) = sb.port(port) else {
        return;
    };
    let Some(dp) = sb.datapath(&pb.datapath) else {
        return;
    };
    if !local.datapaths.contains_key(&dp.tunnel_key) {
        return;
    }
    let (Some(mac), Ok(ip)) = (parse_mac(mac), ip.parse::<IpAddr>()) else {
        return;
    };
    let mut get = OfMatch::new();
    let mut lookup = OfMatch::new();
    match ip {
        IpAddr::V4(a) if ip.to_string().contains('.') => {
            let v = u128::from(u32::from(a));
            get.set_field(Field::Reg(0), v, 0xffff_ffff);
            lookup.set_field(Field::Reg(0), v, 0xffff_ffff);
            lookup.set_field(Field::EthType, 0x806, 0xffff);
        }
        IpAddr::V4(_) => return,
        IpAddr::V6(a) => {
            let v = u128::from(a);
            get.set_field(Field::Xxreg(0), v, u128::MAX);
            lookup.set_field(Field::Xxreg(0), v, u128::MAX);
            lookup.set_field(Field::EthType, 0x86dd, 0xffff);
            lookup.set_field(Field::IpProto, 58, 0xff);
            lookup.set_field(Field::Icmpv6Code, 0, 0xff);
        }
    }
    let dp_key = dp.tunnel_key as u64;
    let port_key = pb.tunnel_key as u128 & 0xffff_ffff;
    get.set_metadata(dp_key);
    get.set_field(Field::Reg(15), port_key, 0xffff_ffff);
    lookup.set_metadata(dp_key);
    lookup.set_field(Field::Reg(14), port_key, 0xffff_ffff);
    lookup.set_field(Field::EthSrc, u128::from(mac), u128::from(u64::MAX >> 16));
    let cookie = u64::from(uuid_hash(uuid));
    flows.add(OfFlow {
        table: OFTABLE_MAC_BINDING,
        priority,
        cookie,
        of_match: get,
        actions: vec![
            OfAction::SetField {
                field: Field::EthDst,
                value: u128::from(mac),
                mask: u128::from(u64::MAX >> 16),
            },
            set_flag(MLF_LOOKUP_MAC),
        ],
    });
    flows.add(OfFlow {
        table: OFTABLE_MAC_LOOKUP,
        priority,
        cookie,
        of_match: lookup,
        actions: vec![set_flag(MLF_LOOKUP_MAC)],
    });
}
