//! Rendering of `rules::router::{lb, nat}`: which load balancers apply to
//! which routers (directly and through groups, `build_lbs()`), the routers'
//! NAT rules with the rows they name, each load balancer's flows on its
//! routers, and the SB address sets of the routers' reachable VIPs.

use std::sync::Arc;

use ovsdb::Uuid;

use super::lb::parse_with_health;
use super::lb_health::HealthInfo;
use super::NbIn;
use crate::dataflow::{Coll, Named, NamedSet};
use crate::ids;
use crate::nb::{LoadBalancer, NbKind, NbRecord};
use crate::rules::lb::vip::ParsedLb;
use crate::rules::router::gateway::peer_nat;
use crate::rules::router::lb::{address_set_name, lb_flows, LbSummary, RouterLbCtx};
use crate::rules::router::nat::NatRule;
use crate::rules::router::RouterCtx;
use crate::rules::{Lflow, PortCtx};
use crate::sb::{self, SbRecord};

/// `(lr, lb)`: the load balancers of each router, distinct.
pub(super) fn render_router_lbs<'s>(nb: NbIn<'s>) -> Coll<'s, (Uuid, LoadBalancer)> {
    let lbs: Coll<'s, (Uuid, LoadBalancer)> = nb.of(NbKind::LoadBalancer).flat_map(|r| match r {
        NbRecord::LoadBalancer(lb) => Some((lb.uuid, lb)),
        _ => None,
    });
    let direct = nb.of(NbKind::RouterLb).flat_map(|r| match r {
        NbRecord::RouterLb(l) => Some((l.target, l.owner)),
        _ => None,
    });
    let groups = nb.of(NbKind::RouterLbGroup).flat_map(|r| match r {
        NbRecord::RouterLbGroup(l) => Some((l.target, l.owner)),
        _ => None,
    });
    let group_lbs = nb.of(NbKind::LbGroupLb).flat_map(|r| match r {
        NbRecord::LbGroupLb(l) => Some((l.owner, l.target)),
        _ => None,
    });
    let via_groups = groups
        .join_named("router lb: groups x members", group_lbs)
        .map(|(_, (lr, lb))| (lb, lr));
    direct
        .concat(via_groups)
        .distinct_named("router lb: load balancer x router")
        .join_named("router lb: x row", lbs)
        .map(|(_, (lr, lb))| (lr, lb))
}

/// A load balancer as the router context summarizes it.
pub(super) fn summaries<'s>(lbs: Coll<'s, (Uuid, LoadBalancer)>) -> Coll<'s, (Uuid, LbSummary)> {
    lbs.map(|(lr, lb)| (lr, LbSummary::new(&ParsedLb::new(&lb), !lb.vips.is_empty())))
}

/// `(lr, rule)`: each router's NAT rules with the names of their address
/// sets and gateway port (a reference to a missing row names nothing).
pub(super) fn render_router_nats<'s>(nb: NbIn<'s>) -> Coll<'s, (Uuid, NatRule)> {
    let refs = nb.of(NbKind::RouterNat).flat_map(|r| match r {
        NbRecord::RouterNat(x) => Some((x.row, x.lr)),
        _ => None,
    });
    let nats = nb.of(NbKind::Nat).flat_map(|r| match r {
        NbRecord::Nat(n) => Some((n.uuid, n)),
        _ => None,
    });
    let set_names: Coll<'s, (Uuid, String)> = nb.of(NbKind::AddressSet).flat_map(|r| match r {
        NbRecord::AddressSet(a) => Some((a.uuid, a.name)),
        _ => None,
    });
    let lrp_names: Coll<'s, (Uuid, String)> = nb.of(NbKind::Lrp).flat_map(|r| match r {
        NbRecord::Lrp(p) => Some((p.uuid, p.name)),
        _ => None,
    });
    let rules = refs
        .join_named("router nat: refs x rows", nats)
        .map(|(_, (lr, nat))| {
            let rule = NatRule {
                allowed: nat.allowed_ext_ips.map(|_| String::new()),
                exempted: nat.exempted_ext_ips.map(|_| String::new()),
                gateway_port: nat.gateway_port.map(|_| String::new()),
                nat,
            };
            (lr, rule)
        });
    let rules = resolve(
        rules,
        set_names.clone(),
        "allowed_ext_ips",
        |r| r.nat.allowed_ext_ips,
        |r, n| r.allowed = Some(n),
    );
    let rules = resolve(
        rules,
        set_names,
        "exempted_ext_ips",
        |r| r.nat.exempted_ext_ips,
        |r, n| r.exempted = Some(n),
    );
    resolve(
        rules,
        lrp_names,
        "gateway_port",
        |r| r.nat.gateway_port,
        |r, n| r.gateway_port = Some(n),
    )
}

/// Fills in the name of the row `column` refers to.
fn resolve<'s>(
    rules: Coll<'s, (Uuid, NatRule)>,
    names: Coll<'s, (Uuid, String)>,
    column: &str,
    get: fn(&NatRule) -> Option<Uuid>,
    set: fn(&mut NatRule, String),
) -> Coll<'s, (Uuid, NatRule)> {
    let with_ref = rules
        .clone()
        .flat_map(move |(lr, r)| get(&r).map(|u| (u, (lr, r))));
    let named = with_ref
        .clone()
        .join_named(&format!("router nat: {column} names"), names.clone())
        .map(move |(_, ((lr, mut r), name))| {
            set(&mut r, name);
            (lr, r)
        });
    let dangling = with_ref
        .antijoin_named(
            &format!("router nat: missing {column}"),
            names.map(|(u, _)| u),
        )
        .map(|(_, lr)| lr);
    rules
        .filter(move |(_, r)| get(r).is_none())
        .concat(named)
        .concat(dangling)
}

/// Every load balancer's flows on each of its routers.
pub(super) fn render_router_lb_flows<'s>(
    ctx: Coll<'s, RouterCtx>,
    lbs: Coll<'s, (Uuid, LoadBalancer)>,
    health_info: Coll<'s, (Uuid, HealthInfo)>,
) -> Coll<'s, Lflow> {
    let lb_ctx = ctx.map(|r| (r.dp(), RouterLbCtx::new(&r)));
    parse_with_health(lbs.map(|(lr, lb)| (lb.uuid, (lr, lb))), health_info)
        .join_named("router lb flows: lb x router", lb_ctx)
        .flat_map(|(_, (lb, r))| lb_flows(&lb, &r))
}

/// SB `Address_Set` rows `_rtr_lb_<key>_ip4/6` of the routers' reachable
/// VIPs (en-sync-sb.c).
pub(super) fn render_lb_address_sets<'s>(ctx: Coll<'s, RouterCtx>) -> Coll<'s, SbRecord> {
    ctx.flat_map(|r| {
        let mut out = Vec::new();
        if r.tunnel_key == 0 {
            return out;
        }
        for (v6, ips) in [
            (false, &r.lb_ips.v4_reachable),
            (true, &r.lb_ips.v6_reachable),
        ] {
            if ips.is_empty() {
                continue;
            }
            let name = address_set_name(r.tunnel_key, v6);
            out.push(SbRecord::AddressSet(sb::AddressSet {
                uuid: ids::derive("Address_Set", &[name.as_bytes()]),
                name,
                addresses: ips.iter().cloned().collect(),
            }));
        }
        out
    })
}

/// Attaches to each switch port of type `router` what its peer's router
/// adds ([`crate::rules::router::gateway::PeerNat`]).
pub(super) fn attach_peer_nat<'s>(
    ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    ctx: Coll<'s, RouterCtx>,
) -> Coll<'s, (Uuid, Arc<PortCtx>)> {
    let by_port = ctx.flat_map(|r| {
        r.ports
            .iter()
            .map(|p| (p.lrp.name.clone(), peer_nat(&r, p)))
            .collect::<Vec<_>>()
    });
    let peered = ports.clone().flat_map(|(ls, p)| {
        let name = p.router_peer.as_ref()?.name.clone();
        Some((name, (ls, p)))
    });
    let with = peered
        .clone()
        .join_named("switch ports: x peer nat", by_port.clone())
        .map(|(_, ((ls, mut p), n))| {
            Arc::make_mut(&mut p).peer_nat = Some(n);
            (ls, p)
        });
    let without = peered
        .antijoin_named("switch ports: no peer nat", by_port.map(|(n, _)| n))
        .map(|(_, lp)| lp);
    ports
        .filter(|(_, p)| p.router_peer.is_none())
        .concat(with)
        .concat(without)
}
