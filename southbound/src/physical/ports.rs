//! Per-port physical flows (`consider_port_binding` and
//! `put_local_common_flows` in `controller/physical.c`, 23.03).

use ovsdb::sb::PortBinding;

use super::*;
use crate::actions::OfAction;
use crate::chassis::Chassis;
use crate::expr::symtab::Field;
use crate::expr::OfMatch;
use crate::flow_table::{FlowTable, OfFlow};
use crate::local::Local;
use crate::sbdb::Southbound;
use ovsdb::ovs_hash::uuid_hash;

/// `OFPP_NONE`.
const OFPP_NONE: u64 = 0xffff;
/// Logical registers `reg0`..`reg9` (`MFF_N_LOG_REGS`).
const N_LOG_REGS: u8 = 10;

fn cookie(pb: &PortBinding) -> u64 {
    u64::from(uuid_hash(&pb.uuid))
}

/// Tables 40, 41 and 64 for a port delivered on this chassis
/// (`put_local_common_flows`).
fn put_local_common_flows(
    dp_key: i64,
    pb: &PortBinding,
    parent: Option<&PortBinding>,
    zones: (u32, u32, u32),
    flows: &mut FlowTable,
) {
    let port_key = pb.tunnel_key;
    let mut acts = Vec::new();
    zone_loads(zones, &mut acts);
    acts.push(OfAction::Resubmit(CHECK_LOOPBACK));
    flows.add(OfFlow {
        table: LOCAL_OUTPUT,
        priority: 100,
        cookie: cookie(pb),
        of_match: match_outport(dp_key, port_key),
        actions: acts,
    });

    let mut m = match_outport(dp_key, port_key);
    match_flags(&mut m, 0, MLF_ALLOW_LOOPBACK);
    m.set_field(Field::Reg(14), port_key as u128 & 0xffff_ffff, 0xffff_ffff);
    flows.add(OfFlow {
        table: CHECK_LOOPBACK,
        priority: 100,
        cookie: cookie(pb),
        of_match: m,
        actions: Vec::new(),
    });

    let hairpin = || {
        vec![
            OfAction::Push(crate::actions::mf::Subfield::whole(Field::InPort)),
            load(Field::InPort, OFPP_NONE, 0, 16),
            OfAction::Resubmit(LOG_TO_PHY),
            OfAction::Pop(crate::actions::mf::Subfield::whole(Field::InPort)),
        ]
    };
    let mut m = match_outport(dp_key, port_key);
    if parent.is_none() {
        match_flags(&mut m, MLF_ALLOW_LOOPBACK, MLF_ALLOW_LOOPBACK);
    }
    flows.add(OfFlow {
        table: SAVE_INPORT,
        priority: 100,
        cookie: cookie(pb),
        of_match: m,
        actions: hairpin(),
    });
    if let Some(parent) = parent {
        let mut m = match_outport(dp_key, parent.tunnel_key);
        match_flags(&mut m, MLF_NESTED_CONTAINER, MLF_NESTED_CONTAINER);
        flows.add(OfFlow {
            table: SAVE_INPORT,
            priority: 100,
            cookie: 0,
            of_match: m,
            actions: hairpin(),
        });
    }
}

/// `load_logical_ingress_metadata`: zones, `metadata`, `reg14`.
fn ingress_metadata(sb: &Southbound, local: &Local, pb: &PortBinding, out: &mut Vec<OfAction>) {
    zone_loads(local.zones(pb), out);
    let dp_key = sb.datapath(&pb.datapath).map_or(0, |d| d.tunnel_key);
    out.push(load(Field::Metadata, dp_key as u64, 0, 64));
    out.push(load_reg(14, pb.tunnel_key as u64));
}

/// `consider_port_binding`.
pub fn consider_port_binding(
    sb: &Southbound,
    local: &Local,
    chassis: &Chassis,
    pb: &PortBinding,
    flows: &mut FlowTable,
) {
    let Some(dp) = sb.datapath(&pb.datapath) else {
        return;
    };
    let dp_key = dp.tunnel_key;
    let Some(ld) = local.datapaths.get(&dp_key) else {
        return;
    };
    let port_key = pb.tunnel_key;
    let ours = pb.chassis.is_some() && pb.chassis == local.chassis_uuid;

    if pb.type_ == "patch" || (pb.type_ == "l3gateway" && ours) {
        let Some(peer) = pb.options.get("peer").and_then(|p| sb.port(p)) else {
            return;
        };
        put_local_common_flows(dp_key, pb, None, local.zones(pb), flows);
        let mut inner = vec![
            OfAction::CtClear,
            load_reg(11, 0),
            load_reg(12, 0),
            load_reg(13, 0),
        ];
        ingress_metadata(sb, local, peer, &mut inner);
        inner.push(load_reg(10, 0));
        inner.push(load_reg(15, 0));
        inner.extend((0..N_LOG_REGS).map(|r| load_reg(r, 0)));
        inner.push(OfAction::Resubmit(LOG_INGRESS));
        flows.add(OfFlow {
            table: LOG_TO_PHY,
            priority: 100,
            cookie: cookie(pb),
            of_match: match_outport(dp_key, port_key),
            actions: vec![OfAction::Clone(inner)],
        });
        return;
    }

    if pb.type_ == "chassisredirect" && local.is_resident(sb, &pb.logical_port) {
        let mut acts = Vec::new();
        let distributed = pb
            .options
            .get("distributed-port")
            .and_then(|d| sb.port(d))
            .filter(|d| d.datapath == pb.datapath);
        if let Some(d) = distributed {
            acts.push(load_reg(15, d.tunnel_key as u64));
            zone_loads(local.zones(d), &mut acts);
            acts.push(OfAction::Resubmit(CHECK_LOOPBACK));
        }
        flows.add(OfFlow {
            table: LOCAL_OUTPUT,
            priority: 100,
            cookie: cookie(pb),
            of_match: match_outport(dp_key, port_key),
            actions: acts,
        });
        return;
    }

    // Find the OpenFlow port, as ovn-controller does.
    let mut tag: u16 = 0;
    let mut parent: Option<&PortBinding> = None;
    let is_localnet_like = pb.type_ == "localnet" || pb.type_ == "l2gateway";
    let ofport: Option<u16> = if let Some(pp) = pb.parent_port.as_deref().filter(|p| !p.is_empty())
    {
        let Some(t) = pb.tag else {
            return;
        };
        let of = local.bound.get(pp).copied();
        if of.is_some() {
            tag = t as u16;
            parent = sb.port(pp);
        }
        of
    } else if is_localnet_like {
        let of = chassis.patch_ofports.get(&pb.logical_port).copied();
        if of.is_some() {
            tag = pb.tag.unwrap_or(0) as u16;
        }
        of
    } else {
        local.bound.get(&pb.logical_port).copied()
    };

    let Some(ofport) = ofport else {
        consider_remote_port(sb, local, chassis, ld, pb, flows);
        return;
    };

    let zones = local.zones(pb);
    put_local_common_flows(dp_key, pb, parent, zones, flows);

    // Table 0: priority 150 for tagged traffic, 100 otherwise.
    let mut m = OfMatch::new();
    m.set_field(Field::InPort, u128::from(ofport), 0xffff);
    let mut acts = Vec::new();
    if tag != 0 || is_localnet_like {
        if parent.is_some() {
            acts.push(load(Field::Reg(10), 1, 5, 1));
        }
        let passthru = pb.options.get("vlan-passthru").map(String::as_str) == Some("true");
        if !passthru || tag != 0 {
            // match_set_dl_vlan(tag): VID = tag with CFI set.
            m.set_field(Field::VlanTci, u128::from(0x1000 | tag), 0x1fff);
            acts.push(OfAction::StripVlan);
        }
    }
    let n_prefix = acts.len();
    ingress_metadata(sb, local, pb, &mut acts);
    if pb.type_ == "localport" {
        acts.push(load(Field::Reg(10), 1, 10, 1));
    }
    acts.push(OfAction::Resubmit(LOG_INGRESS));
    flows.add(OfFlow {
        table: PHY_TO_LOG,
        priority: if tag != 0 { 150 } else { 100 },
        cookie: cookie(pb),
        of_match: m.clone(),
        actions: acts.clone(),
    });
    if tag == 0 && is_localnet_like {
        // Frames without an 802.1Q header.
        let mut m = m;
        m.set_field(Field::VlanTci, 0, 0x1000);
        flows.add(OfFlow {
            table: PHY_TO_LOG,
            priority: 100,
            cookie: cookie(pb),
            of_match: m,
            actions: acts[n_prefix..].to_vec(),
        });
    }

    // Table 65: deliver.
    let mut acts = Vec::new();
    if tag != 0 {
        // `ofpact_put_push_vlan`: the localnet port's `ethtype` option.
        let ethtype = ld
            .localnet_port
            .as_deref()
            .and_then(|l| sb.port(l))
            .and_then(|l| l.options.get("ethtype"));
        let tpid = match ethtype {
            Some(e) if e.eq_ignore_ascii_case("802.11ad") => 0x88a8,
            _ => 0x8100,
        };
        acts.push(OfAction::PushVlan(tpid));
        acts.push(OfAction::SetVlanVid(tag));
    }
    acts.push(OfAction::Output(ofport));
    if tag != 0 {
        acts.push(OfAction::StripVlan);
    }
    flows.add(OfFlow {
        table: LOG_TO_PHY,
        priority: 100,
        cookie: cookie(pb),
        of_match: match_outport(dp_key, port_key),
        actions: acts,
    });

    if pb.type_ == "localnet" {
        for flag in [MLF_LOCALPORT, MLF_LOCAL_ONLY] {
            let mut m = match_outport(dp_key, port_key);
            match_flags(&mut m, flag, flag);
            flows.add(OfFlow {
                table: CHECK_LOOPBACK,
                priority: 160,
                cookie: cookie(pb),
                of_match: m,
                actions: Vec::new(),
            });
        }
    }
    if pb.type_ == "localport" {
        let mut m = OfMatch::new();
        m.set_field(Field::Reg(14), port_key as u128 & 0xffff_ffff, 0xffff_ffff);
        m.set_metadata(dp_key as u64);
        flows.add(OfFlow {
            table: REMOTE_OUTPUT,
            priority: 150,
            cookie: cookie(pb),
            of_match: m,
            actions: vec![OfAction::Resubmit(LOCAL_OUTPUT)],
        });
    }
}

/// A port not delivered on this chassis: through the datapath's localnet
/// port (table 40) or through tunnels (table 39).  Ports of an HA chassis
/// group with two or more chassis (an active/backup `bundle()`) and
/// `redirect-type=bridged` ports are not generated.
fn consider_remote_port(
    sb: &Southbound,
    local: &Local,
    chassis: &Chassis,
    ld: &crate::local::LocalDatapath,
    pb: &PortBinding,
    flows: &mut FlowTable,
) {
    let dp_key = ld.key;
    let localnet = ld.localnet_port.as_deref().and_then(|l| sb.port(l));
    if let Some(ln) = localnet.filter(|_| pb.additional_chassis.is_empty()) {
        if chassis.patch_ofports.contains_key(&ln.logical_port) {
            flows.add(OfFlow {
                table: LOCAL_OUTPUT,
                priority: 100,
                cookie: cookie(pb),
                of_match: match_outport(dp_key, pb.tunnel_key),
                actions: vec![
                    load_reg(15, ln.tunnel_key as u64),
                    OfAction::Resubmit(LOCAL_OUTPUT),
                ],
            });
        }
        return;
    }
    let bridged = pb
        .options
        .get("redirect-type")
        .is_some_and(|r| r.eq_ignore_ascii_case("bridged"));
    let ha_members = pb
        .ha_chassis_group
        .and_then(|g| sb.ha_groups.get(&g))
        .map_or(0, |g| {
            g.ha_chassis
                .iter()
                .filter_map(|h| sb.ha_chassis.get(h))
                .filter(|h| h.chassis.is_some())
                .count()
        });
    if bridged || ha_members >= 2 {
        return;
    }
    super::tunnels::put_remote_port_redirect_overlay(
        sb,
        local.chassis_uuid,
        chassis,
        dp_key,
        pb,
        flows,
    );
}
