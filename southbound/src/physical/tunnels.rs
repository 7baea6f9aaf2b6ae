//! Tunnels to other chassis (`controller/physical.c`, 23.03):
//!
//! * table 0, priority 100, per tunnel port: packets from a remote chassis
//!   get the logical datapath and ports from the encapsulation and go to
//!   table 40 (`physical_run`);
//! * table 39, priority 100, per port bound to a remote chassis (and its
//!   additional chassis): encapsulate and output to the tunnel, then
//!   `resubmit(,40)` (`put_remote_port_redirect_overlay`);
//! * [`encapsulation`] is also used for multicast fan-out.
//!
//! ovn-controller maps the OVN Geneve option to `tun_metadata0` (a fresh
//! bridge's first TLV mapping): outport in bits 0-15, inport in 16-30.

use ovsdb::sb::PortBinding;

use super::*;
use crate::actions::mf::Subfield;
use crate::actions::OfAction;
use crate::chassis::{Chassis, Tunnel, TunnelType};
use crate::expr::symtab::Field;
use crate::expr::OfMatch;
use crate::flow_table::{FlowTable, OfFlow};
use crate::sbdb::Southbound;
use ovsdb::ovs_hash::uuid_hash;

/// `OVN_MIN_MULTICAST`.
const MIN_MULTICAST: i64 = 32768;
/// `OVN_VXLAN_MIN_MULTICAST`.
const VXLAN_MIN_MULTICAST: i64 = 2048;

fn sub(field: Field, ofs: u32, n_bits: u32) -> Subfield {
    Subfield { field, ofs, n_bits }
}

fn mov(src: Subfield, dst: Subfield) -> OfAction {
    OfAction::Move { src, dst }
}

/// `get_vxlan_port_key`: 12-bit port keys, multicast groups in 0x800+.
fn vxlan_port_key(port_key: i64) -> i64 {
    if port_key >= MIN_MULTICAST {
        VXLAN_MIN_MULTICAST | (port_key & (VXLAN_MIN_MULTICAST - 1))
    } else {
        port_key
    }
}

/// `put_encapsulation`: the tunnel metadata for datapath `dp_key` and
/// logical output port `outport`.
pub fn encapsulation(tun: &Tunnel, dp_key: i64, outport: i64, is_ramp: bool) -> Vec<OfAction> {
    let inport = sub(Field::Reg(14), 0, 15);
    match tun.kind {
        TunnelType::Geneve => vec![
            load(Field::TunId, dp_key as u64, 0, 24),
            load(Field::TunMetadata0, outport as u64, 0, 32),
            mov(inport, sub(Field::TunMetadata0, 16, 15)),
        ],
        TunnelType::Stt => vec![
            load(
                Field::TunId,
                dp_key as u64 | ((outport as u64) << 24),
                0,
                64,
            ),
            mov(inport, sub(Field::TunId, 40, 15)),
        ],
        TunnelType::Vxlan => {
            let mut vni = dp_key as u64;
            if !is_ramp {
                vni |= (vxlan_port_key(outport) as u64) << 12;
            }
            vec![load(Field::TunId, vni, 0, 24)]
        }
    }
}

/// Table 0: traffic from each tunnel (`physical_run`).  VTEP ramp
/// switches (table 0 priority 110 for `vtep` ports) are not generated.
pub fn add_tunnel_receive_flows(chassis: &Chassis, flows: &mut FlowTable) {
    for tun in chassis.tunnels.values() {
        let mut m = OfMatch::new();
        m.set_field(Field::InPort, u128::from(tun.ofport), 0xffff);
        let mut acts = match tun.kind {
            TunnelType::Geneve => vec![
                mov(sub(Field::TunId, 0, 24), sub(Field::Metadata, 0, 24)),
                mov(sub(Field::TunMetadata0, 16, 15), sub(Field::Reg(14), 0, 15)),
                mov(sub(Field::TunMetadata0, 0, 16), sub(Field::Reg(15), 0, 16)),
            ],
            TunnelType::Stt => vec![
                mov(sub(Field::TunId, 40, 15), sub(Field::Reg(14), 0, 15)),
                mov(sub(Field::TunId, 24, 16), sub(Field::Reg(15), 0, 16)),
                mov(sub(Field::TunId, 0, 24), sub(Field::Metadata, 0, 24)),
            ],
            TunnelType::Vxlan => vec![
                mov(sub(Field::TunId, 12, 12), sub(Field::Reg(15), 0, 12)),
                mov(sub(Field::TunId, 0, 12), sub(Field::Metadata, 0, 12)),
            ],
        };
        acts.push(OfAction::Resubmit(LOCAL_OUTPUT));
        flows.add(OfFlow {
            table: PHY_TO_LOG,
            priority: 100,
            cookie: 0,
            of_match: m.clone(),
            actions: acts,
        });
        if tun.kind == TunnelType::Vxlan {
            // Multicast output ports come as 0x800+ in 12 bits.
            let bits = (VXLAN_MIN_MULTICAST as u128) << 12;
            m.set_field(Field::TunId, bits, bits);
            flows.add(OfFlow {
                table: PHY_TO_LOG,
                priority: 105,
                cookie: 0,
                of_match: m,
                actions: vec![
                    load(Field::Reg(15), 1, 15, 1),
                    mov(sub(Field::TunId, 12, 11), sub(Field::Reg(15), 0, 11)),
                    mov(sub(Field::TunId, 0, 12), sub(Field::Metadata, 0, 12)),
                    OfAction::Resubmit(LOCAL_OUTPUT),
                ],
            });
        }
    }
}

/// `get_remote_tunnels`: the tunnels to the port's chassis (if not us)
/// and to its additional chassis.
fn remote_tunnels<'a>(
    sb: &Southbound,
    me: Option<ovsdb::Uuid>,
    chassis: &'a Chassis,
    pb: &PortBinding,
) -> Vec<&'a Tunnel> {
    let mut out = Vec::new();
    let find = |c: &ovsdb::Uuid| {
        sb.chassis
            .get(c)
            .and_then(|row| chassis.tunnels.get(&row.name))
    };
    if let Some(c) = pb.chassis.filter(|c| Some(*c) != me) {
        out.extend(find(&c));
    }
    for c in pb.additional_chassis.iter().filter(|c| Some(**c) != me) {
        out.extend(find(c));
    }
    out
}

/// Table 39 for a port reached through tunnels
/// (`put_remote_port_redirect_overlay`).
pub fn put_remote_port_redirect_overlay(
    sb: &Southbound,
    me: Option<ovsdb::Uuid>,
    chassis: &Chassis,
    dp_key: i64,
    pb: &PortBinding,
    flows: &mut FlowTable,
) {
    let tuns = remote_tunnels(sb, me, chassis, pb);
    if tuns.is_empty() {
        return;
    }
    let is_vtep = pb.type_ == "vtep";
    let mut acts = Vec::new();
    if is_vtep {
        acts.push(load(Field::InPort, 0xffff, 0, 16));
    }
    for tun in tuns {
        acts.extend(encapsulation(tun, dp_key, pb.tunnel_key, is_vtep));
        acts.push(OfAction::Output(tun.ofport));
    }
    acts.push(OfAction::Resubmit(LOCAL_OUTPUT));
    flows.add(OfFlow {
        table: REMOTE_OUTPUT,
        priority: 100,
        cookie: u64::from(uuid_hash(&pb.uuid)),
        of_match: match_outport(dp_key, pb.tunnel_key),
        actions: acts,
    });
}
