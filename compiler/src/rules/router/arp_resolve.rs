//! `lr_in_arp_resolve`: `build_arp_resolve_flows_for_lrouter()` and
//! `build_arp_resolve_flows_for_lrouter_port()` in northd.c: static
//! next-hop MACs of the addresses of switch ports behind a router port, and
//! of the other routers on a shared switch.
//!
//! Not handled yet: `redirect-type=bridged`, virtual ports as NAT `logical_port`s (NAT
//! addresses: [`super::nat`]). Unclaimed virtual ports:
//! [`crate::rules::virtual_port`].

use super::{LrpCtx, RouterCtx, SwitchRouterPort};
use crate::rules::{Lflow, PortCtx, DROP};
use crate::stage::Stage;

/// Router-level defaults: multicast passes, unicast asks the MAC bindings.
pub fn defaults(r: &RouterCtx, out: &mut Vec<Lflow>) {
    let dp = r.dp();
    out.push(Lflow::new(
        dp,
        Stage::LrInArpResolve,
        500,
        "ip4.mcast || ip6.mcast",
        "next;",
        12247,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LrInArpResolve,
        1,
        "ip4",
        "get_arp(outport, reg0); next;",
        12250,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LrInArpResolve,
        1,
        "ip6",
        "get_nd(outport, xxreg0); next;",
        12253,
    ));
    out.push(Lflow::new(dp, Stage::LrInArpResolve, 0, "1", DROP, 12256));
}

/// Per router port: for a port peered directly with a router port
/// (`Logical_Router_Port.peer`), the peer router's priority 100 flows
/// resolving next hops on this port's networks to its MAC; then the
/// priority 2 drop of traffic to router-owned IPs that are also SNAT or
/// load-balancer IPs (unSNAT did not match a session).
pub fn port(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    if let (Some(peer_lr), Some(peer)) = (p.peer_router, &p.peer) {
        let key = crate::rules::addr::json_key(peer);
        let actions = format!("eth.dst = {}; next;", p.net.ea_s);
        if !p.net.ipv4.is_empty() {
            // northd writes no space before this `==`.
            let m = format!("outport == {key} && reg0== {}", p.net.v4_set(false));
            out.push(
                Lflow::new(peer_lr, Stage::LrInArpResolve, 100, &m, &actions, 12330)
                    .hint(p.lrp.uuid),
            );
        }
        if !p.net.ipv6.is_empty() {
            let m = format!("outport == {key} && xxreg0 == {}", p.net.v6_set());
            out.push(
                Lflow::new(peer_lr, Stage::LrInArpResolve, 100, &m, &actions, 12346)
                    .hint(p.lrp.uuid),
            );
        }
    }
    super::nat_arp::drop_own_dest(r, p, Stage::LrInArpResolve, 2, true, out);
}

/// Whether switch port `p` can give the routers on its switch static
/// next-hop MACs ([`switch_port`]): enabled ports that are neither router
/// nor virtual ports.
pub fn resolvable(p: &PortCtx) -> bool {
    let lsp = &p.lsp;
    lsp.is_enabled() && lsp.type_ != "router" && lsp.type_ != "virtual"
}

/// A switch port behind router port `rp` (on the same switch): for each of
/// its addresses on one of the router port's networks, priority 100
/// `eth.dst = MAC` in that router.
pub fn switch_port(p: &PortCtx, rp: &SwitchRouterPort) -> Vec<Lflow> {
    let mut out = Vec::new();
    let lsp = &p.lsp;
    // Virtual ports: [`crate::rules::virtual_port::arp_resolve_unclaimed`].
    if !resolvable(p) {
        return out;
    }
    let peer = &rp.peer;
    let key = crate::rules::addr::json_key(&peer.name);
    for a in p.lsp_addrs() {
        for ip in &a.ipv4 {
            if peer.net.find_member_ip(ip).is_none() {
                continue;
            }
            out.push(
                Lflow::new(
                    peer.lr,
                    Stage::LrInArpResolve,
                    100,
                    &format!("outport == {key} && reg0 == {ip}"),
                    &format!("eth.dst = {}; next;", a.ea_s),
                    12419,
                )
                .hint(lsp.uuid),
            );
        }
        for (ip, _) in &a.ipv6 {
            if peer.net.find_member_ip(ip).is_none() {
                continue;
            }
            out.push(
                Lflow::new(
                    peer.lr,
                    Stage::LrInArpResolve,
                    100,
                    &format!("outport == {key} && xxreg0 == {ip}"),
                    &format!("eth.dst = {}; next;", a.ea_s),
                    12450,
                )
                .hint(lsp.uuid),
            );
        }
    }
    for f in &mut out {
        f.origin = (
            1,
            p.hmap_order,
            Some(std::sync::Arc::from(lsp.name.as_str())),
        );
    }
    out
}

/// Whether the router behind `op` gets the other routers' MACs on the
/// switch as static flows ([`router_pair`]): its switch port is enabled and
/// the router has no `options:dynamic_neigh_routers` (with it, northd leaves
/// them to ARP; ovn-kubernetes and Neutron set it on their routers).
pub fn learns_peers_statically(op: &SwitchRouterPort) -> bool {
    op.lsp_enabled && !op.peer.dynamic_neigh_routers
}

/// Two routers on one switch: in the router behind `op`, the MAC of the
/// other router port `other` for next hops on its networks and, when the
/// router behind `op` is a gateway router or `op`'s peer a distributed
/// gateway port, for `other`'s routable NAT and VIP addresses
/// (`routable_addresses_to_lflows()`); routes to those addresses come from
/// [`super::routing::routable_routes`].
pub fn router_pair(op: &SwitchRouterPort, other: &SwitchRouterPort) -> Vec<Lflow> {
    let mut out = Vec::new();
    if other.peer.uuid == op.peer.uuid {
        return out;
    }
    super::routing::routable_routes(op, other, &mut out);
    if !learns_peers_statically(op) {
        for f in &mut out {
            f.origin = (
                1,
                op.hmap_order,
                Some(std::sync::Arc::from(op.lsp_name.as_str())),
            );
        }
        return out;
    }
    let key = crate::rules::addr::json_key(&op.peer.name);
    let o = &other.peer.net;
    if !o.ipv4.is_empty() {
        out.push(
            Lflow::new(
                op.peer.lr,
                Stage::LrInArpResolve,
                100,
                &format!("outport == {key} && reg0 == {}", o.v4_set(false)),
                &format!("eth.dst = {}; next;", o.ea_s),
                12604,
            )
            .hint(op.lsp),
        );
    }
    if !o.ipv6.is_empty() {
        out.push(
            Lflow::new(
                op.peer.lr,
                Stage::LrInArpResolve,
                100,
                &format!("outport == {key} && xxreg0 == {}", o.v6_set()),
                &format!("eth.dst = {}; next;", o.ea_s),
                12620,
            )
            .hint(op.lsp),
        );
    }
    if op.peer_gw {
        for (mac, ips) in &other.routables {
            out.push(Lflow::new(
                op.peer.lr,
                Stage::LrInArpResolve,
                100,
                &format!("outport == {key} && reg0 == {{{}}}", ips.join(", ")),
                &format!("eth.dst = {mac}; next;"),
                12286,
            ));
        }
    }
    for f in &mut out {
        f.origin = (
            1,
            op.hmap_order,
            Some(std::sync::Arc::from(op.lsp_name.as_str())),
        );
    }
    out
}
