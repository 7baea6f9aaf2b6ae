//! Rendering of `rules::multicast`: one `Multicast_Group` row per (datapath,
//! group) with at least one member port holding a tunnel key: switch ports'
//! static groups, router ports flooding statically (`_MC_static` of
//! routers) and members learned from `IGMP_Group` `mrouters` rows.

use std::sync::Arc;

use ovsdb::Uuid;

use crate::dataflow::{Coll, Named, Ops};
use crate::ids;
use crate::rules::multicast::{port_groups, MC_STATIC};
use crate::rules::router::RouterCtx;
use crate::rules::PortCtx;
use crate::sb::{MulticastGroup, SbRecord};

pub(super) fn render_multicast_groups<'s>(
    ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    port_keys: Coll<'s, super::port_binding::PortKey>,
    routers: Coll<'s, Arc<RouterCtx>>,
    learned: Coll<'s, super::igmp::StaticMember>,
) -> Coll<'s, SbRecord> {
    let owners = port_keys.map_rec(|(_ls, (u, _))| u);
    // Router ports flooding multicast statically: the router's `_MC_static`
    // (a distributed gateway port through its chassisredirect port).
    let router_members = routers
        .flat_map_rec(|r| {
            let lr = r.dp();
            r.ports
                .iter()
                .filter(|p| p.mcast_flood_static())
                .map(|p| {
                    let (owner, name) = if p.is_dgp() {
                        (ids::cr_port_owner(p.lrp.uuid), format!("cr-{}", p.lrp.name))
                    } else {
                        (p.lrp.uuid, p.lrp.name.clone())
                    };
                    let (group, key) = MC_STATIC;
                    (
                        owner,
                        ((lr, group.to_string(), key), ids::port_binding_uuid(&name)),
                    )
                })
                .collect::<Vec<_>>()
        })
        .semijoin_named("multicast: router ports with keys", owners.clone())
        .map_rec(|(_, m)| m);
    ports
        .map_rec(|(_, p)| (p.lsp.uuid, p))
        .semijoin_named("multicast: ports with keys", owners)
        .flat_map_rec(|(_, p)| {
            let pb = ids::port_binding_uuid(&p.lsp.name);
            port_groups(&p)
                .into_iter()
                .map(move |(name, key)| ((p.ls, name.to_string(), key), pb))
        })
        .concatenate([router_members, learned])
        .group_named("multicast group members", |_, vals, out| {
            let mut ports: Vec<Uuid> = vals.iter().map(|(u, _)| **u).collect();
            ports.sort();
            ports.dedup();
            out.push((ports, 1));
        })
        .map_rec(|((ls, name, tunnel_key), ports)| {
            SbRecord::MulticastGroup(MulticastGroup {
                uuid: ids::multicast_group_uuid(ls, &name),
                datapath: ids::datapath_uuid(ls),
                name,
                tunnel_key,
                ports,
            })
        })
}

/// One `IP_Multicast` row per switch holding a datapath key.
pub(super) fn render_ip_multicast<'s>(
    switches: Coll<'s, (Uuid, crate::nb::Switch)>,
    dp_keys: Coll<'s, (Uuid, u32)>,
) -> Coll<'s, SbRecord> {
    switches
        .semijoin_named(
            "ip multicast: switches with keys",
            dp_keys.map_rec(|(u, _)| u),
        )
        .map_rec(|(_, sw)| SbRecord::IpMulticast(crate::rules::multicast::ip_multicast(&sw)))
}
