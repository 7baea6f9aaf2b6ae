//! Multicast groups (`consider_mc_group` in `controller/physical.c`,
//! 23.03): for a group on a local datapath,
//!
//! * table 40, priority 100: for each member delivered here (bound to this
//!   chassis, reachable through a local patch ofport, or the distributed
//!   port of a chassisredirect port bound here), `[reg13=zone]
//!   reg15=member; resubmit(,41)`, then `reg15=group` again;
//! * table 39, priority 100: logical patch ports and localports (`reg15=
//!   member; resubmit(,41)`), then `reg15=group`, then the encapsulation
//!   and output to each remote chassis with a member (datapaths without a
//!   localnet port), then `resubmit(,40)` if there were local members.
//!
//! Members are taken in the order of the `ports` column (sorted by UUID,
//! as the IDL presents it); remote chassis in name order (ovn-controller
//! walks an `sset`, in hash order: only the order of the outputs can
//! differ with three or more chassis).

use ovsdb::ovs_hash::uuid_hash;
use ovsdb::sb::MulticastGroup;

use super::tunnels::encapsulation;
use super::*;
use crate::actions::OfAction;
use crate::chassis::Chassis;
use crate::flow_table::{FlowTable, OfFlow};
use crate::local::Local;
use crate::sbdb::Southbound;

/// `consider_mc_group`.
pub fn consider_mc_group(
    sb: &Southbound,
    local: &Local,
    chassis: &Chassis,
    mc: &MulticastGroup,
    flows: &mut FlowTable,
) {
    let Some(dp) = sb.datapath(&mc.datapath) else {
        return;
    };
    let dp_key = dp.tunnel_key;
    if !local.datapaths.contains_key(&dp_key) {
        return;
    }
    // `ld->is_transit_switch`: an OVN-IC transit switch.
    let is_transit = dp.external_ids.contains_key("interconn-ts");
    let mut acts: Vec<OfAction> = Vec::new();
    let mut remote: Vec<OfAction> = Vec::new();
    // Chassis names as the ports name them (ovn-controller's `sset`s).
    let mut remote_chassis: Vec<&str> = Vec::new();
    let mut vtep_chassis: Vec<&str> = Vec::new();
    let has_localnet = local
        .datapaths
        .get(&dp_key)
        .is_some_and(|ld| ld.localnet_port.is_some());
    for port in mc.ports.iter().filter_map(|u| sb.port_bindings.get(u)) {
        if port.datapath != mc.datapath {
            continue;
        }
        if let Some(&zone) = local.ct_zones.get(&port.logical_port) {
            if zone != 0 {
                acts.push(load_reg(13, u64::from(zone)));
            }
        }
        let lport = port
            .parent_port
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or(&port.logical_port);
        let deliver = |v: &mut Vec<OfAction>, key: i64| {
            v.push(load_reg(15, key as u64));
            v.push(OfAction::Resubmit(CHECK_LOOPBACK));
        };
        // Bound here: by the SB, or by a local interface (an offline SB may
        // not have the chassis column filled in yet).
        let ours = (port.chassis.is_some() && port.chassis == local.chassis_uuid)
            || local.bound.contains_key(&port.logical_port);
        if port.type_ == "patch" {
            if is_transit {
                deliver(&mut acts, port.tunnel_key);
            } else {
                deliver(&mut remote, port.tunnel_key);
            }
        }
        // (ovn-controller 23.03 lacks an `else` here: a patch port also
        // runs through the checks below, which never match it.)
        if port.type_ == "remote" {
            if let Some(c) = port.chassis.and_then(|c| sb.chassis.get(&c)) {
                remote.push(load_reg(15, port.tunnel_key as u64));
                if let Some(tun) = chassis.tunnels.get(&c.name) {
                    remote.extend(encapsulation(tun, dp_key, port.tunnel_key, false));
                    remote.push(OfAction::Output(tun.ofport));
                }
            }
        } else if port.type_ == "localport" {
            deliver(&mut remote, port.tunnel_key);
        } else if (ours && (local.bound.contains_key(lport) || port.type_ == "l3gateway"))
            || chassis.patch_ofports.contains_key(&port.logical_port)
        {
            deliver(&mut acts, port.tunnel_key);
        } else if port.type_ == "chassisredirect" && ours {
            if let Some(d) = port
                .options
                .get("distributed-port")
                .and_then(|d| sb.port(d))
                .filter(|d| d.datapath == port.datapath)
            {
                deliver(&mut acts, d.tunnel_key);
            }
        } else if !has_localnet {
            let members = port.chassis.iter().chain(port.additional_chassis.iter());
            for c in members.filter_map(|c| sb.chassis.get(c)) {
                let is_vtep = c
                    .other_config
                    .get("is-vtep")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                if is_vtep {
                    vtep_chassis.push(&c.name);
                } else {
                    remote_chassis.push(&c.name);
                }
            }
        }
    }
    let m = match_outport(dp_key, mc.tunnel_key);
    let cookie = u64::from(uuid_hash(&mc.uuid));
    let local_ports = !acts.is_empty();
    if local_ports {
        acts.push(load_reg(15, mc.tunnel_key as u64));
        flows.add(OfFlow {
            table: LOCAL_OUTPUT,
            priority: 100,
            cookie,
            of_match: m.clone(),
            actions: acts,
        });
    }
    if !remote.is_empty() || !remote_chassis.is_empty() || !vtep_chassis.is_empty() {
        if !remote.is_empty() {
            remote.push(load_reg(15, mc.tunnel_key as u64));
        }
        fanout(
            chassis,
            &remote_chassis,
            dp_key,
            mc.tunnel_key,
            false,
            &mut remote,
        );
        fanout(
            chassis,
            &vtep_chassis,
            dp_key,
            mc.tunnel_key,
            true,
            &mut remote,
        );
    }
    if !remote.is_empty() {
        if local_ports {
            remote.push(OfAction::Resubmit(LOCAL_OUTPUT));
        }
        flows.add(OfFlow {
            table: REMOTE_OUTPUT,
            priority: 100,
            cookie,
            of_match: m,
            actions: remote,
        });
    }
}

/// `fanout_to_chassis`: the encapsulation (again when the tunnel type
/// changes) and an output per remote chassis with a tunnel, in the order
/// ovn-controller's set of their `names` (added in this order) gives.
fn fanout(
    chassis: &Chassis,
    names: &[&str],
    dp_key: i64,
    outport: i64,
    is_ramp: bool,
    out: &mut Vec<OfAction>,
) {
    let mut prev = None;
    let names = ovsdb::ovs_hash::sset_order(names.iter().copied());
    for tun in names.iter().filter_map(|n| chassis.tunnels.get(*n)) {
        if prev != Some(tun.kind) {
            out.extend(encapsulation(tun, dp_key, outport, is_ramp));
            prev = Some(tun.kind);
        }
        out.push(OfAction::Output(tun.ofport));
    }
}
