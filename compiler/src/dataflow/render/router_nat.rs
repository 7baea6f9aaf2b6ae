//! Rendering of `rules::router::{lb, nat}`: which load balancers apply to
//! which routers (directly and through groups, `build_lbs()`), the routers'
//! NAT rules with the rows they name, each load balancer's flows on its
//! routers, and the SB address sets of the routers' reachable VIPs.

use std::sync::Arc;

use ovsdb::Uuid;

use crate::dataflow::{flat_map_net, split_by, Ops};

use super::lb::parse_with_health;
use super::lb_health::HealthInfo;
use super::lflow::{union_dps, Dps};
use super::NbIn;
use crate::dataflow::{Coll, Named};
use crate::ids;
use crate::nb::{LoadBalancer, NbKind, NbRecord};
use crate::rules::lb::vip::ParsedLb;
use crate::rules::router::gateway::peer_nat;
use crate::rules::router::lb::{
    address_set_name, lb_flows, unsnat_bypass_flows, LbSummary, RouterLbClass,
};
use crate::rules::router::nat::NatRule;
use crate::rules::router::RouterCtx;
use crate::rules::{Lflow, PortCtx};
use crate::sb::{self, SbRecord};

/// How load balancers reach routers (`build_lbs()`): named directly or
/// through load balancer groups. Kept as UUID relations: a group applied
/// to many routers does not fan out per (load balancer, router) pair.
#[derive(Clone)]
pub(super) struct RouterLbs<'s> {
    /// `(lr, lb)`: load balancers named by the router itself.
    pub direct: Coll<'s, (Uuid, Uuid)>,
    /// `(lr, group)`: the router's load balancer groups.
    pub groups: Coll<'s, (Uuid, Uuid)>,
    /// `(group, lb)`: the groups' members.
    pub members: Coll<'s, (Uuid, Uuid)>,
    /// `(lb, row)`: the NB load balancers.
    pub rows: Coll<'s, (Uuid, LoadBalancer)>,
}

/// The load balancers of the routers, as [`RouterLbs`].
pub(super) fn render_router_lbs<'s>(nb: NbIn<'s>) -> RouterLbs<'s> {
    let rows: Coll<'s, (Uuid, LoadBalancer)> =
        nb.of(NbKind::LoadBalancer).flat_map_rec(|r| match r {
            NbRecord::LoadBalancer(lb) => Some((lb.uuid, lb)),
            _ => None,
        });
    let direct = nb.of(NbKind::RouterLb).flat_map_rec(|r| match r {
        NbRecord::RouterLb(l) => Some((l.owner, l.target)),
        _ => None,
    });
    let groups = nb.of(NbKind::RouterLbGroup).flat_map_rec(|r| match r {
        NbRecord::RouterLbGroup(l) => Some((l.owner, l.target)),
        _ => None,
    });
    let members = nb.of(NbKind::LbGroupLb).flat_map_rec(|r| match r {
        NbRecord::LbGroupLb(l) => Some((l.owner, l.target)),
        _ => None,
    });
    RouterLbs {
        direct,
        groups,
        members,
        rows,
    }
}

/// `(lr, summary)` of each load balancer a router names directly.
pub(super) type RouterLbSummaries<'s> = Coll<'s, (Uuid, Arc<LbSummary>)>;
/// `(lr, summaries)` of each load balancer group of a router.
pub(super) type RouterLbGroups<'s> = Coll<'s, (Uuid, Arc<Vec<Arc<LbSummary>>>)>;

/// The load balancers as the router contexts see them: `(lr, summary)` for
/// those a router names directly, `(lr, summaries)` for each of its groups
/// (the group's members, by UUID). Each summary is built once per load
/// balancer and shared (`Arc`) by the routers and groups that hold it.
pub(super) fn summaries<'s>(lbs: RouterLbs<'s>) -> (RouterLbSummaries<'s>, RouterLbGroups<'s>) {
    let summary: Coll<'s, (Uuid, Arc<LbSummary>)> = lbs.rows.map_rec(|(u, lb)| {
        let s = LbSummary::new(&ParsedLb::new(&lb), !lb.vips.is_empty());
        (u, Arc::new(s))
    });
    let direct = lbs.direct.map_rec(|(lr, lb)| (lb, lr)).join_map_named(
        "router lb: direct x summary",
        summary.clone(),
        move |_, a, b| {
            let (lr, s) = (a.clone(), b.clone());
            (lr, s)
        },
    );
    let per_group = lbs
        .members
        .map_rec(|(g, lb)| (lb, g))
        .join_map_named(
            "router lb: group members x summary",
            summary,
            move |_, a, b| {
                let (g, s) = (a.clone(), b.clone());
                (g, s)
            },
        )
        .group_named("router lb: group summaries", |_, vals, out| {
            let list: Vec<Arc<LbSummary>> = vals.iter().map(|(s, _)| (*s).clone()).collect();
            out.push((Arc::new(list), 1));
        });
    let via_groups = lbs.groups.map_rec(|(lr, g)| (g, lr)).join_map_named(
        "router lb: groups x summaries",
        per_group,
        move |_, a, b| {
            let (lr, list) = (a.clone(), b.clone());
            (lr, list)
        },
    );
    (direct, via_groups)
}

/// `(lr, rule)`: each router's NAT rules with the names of their address
/// sets and gateway port (a reference to a missing row names nothing).
pub(super) fn render_router_nats<'s>(nb: NbIn<'s>) -> Coll<'s, (Uuid, NatRule)> {
    let refs = nb.of(NbKind::RouterNat).flat_map_rec(|r| match r {
        NbRecord::RouterNat(x) => Some((x.row, x.lr)),
        _ => None,
    });
    let nats = nb.of(NbKind::Nat).flat_map_rec(|r| match r {
        NbRecord::Nat(n) => Some((n.uuid, n)),
        _ => None,
    });
    let set_names: Coll<'s, (Uuid, String)> = nb.of(NbKind::AddressSet).flat_map_rec(|r| match r {
        NbRecord::AddressSet(a) => Some((a.uuid, a.name)),
        _ => None,
    });
    let lrp_names: Coll<'s, (Uuid, String)> = nb.of(NbKind::Lrp).flat_map_rec(|r| match r {
        NbRecord::Lrp(p) => Some((p.uuid, p.name)),
        _ => None,
    });
    let rules = refs.join_map_named("router nat: refs x rows", nats, move |_, a, b| {
        let (lr, nat) = (a.clone(), b.clone());
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
    let [plain, referring] = split_by(rules, move |(_, r): &(Uuid, NatRule)| {
        usize::from(get(r).is_some())
    });
    // A reference to a missing row leaves the name unset.
    let named = referring
        .flat_map_rec(move |(lr, r)| get(&r).map(|u| (u, (lr, r))))
        .outer_join_map_named(
            &format!("router nat: {column} names"),
            names,
            move |_, a, b| {
                let ((lr, mut r), name) = (a.clone(), b.clone());
                set(&mut r, name);
                (lr, r)
            },
            |_, lr| lr.clone(),
        );
    plain.concat(named)
}

/// Every load balancer's flows on its routers (those with a tunnel key):
/// built once per (load balancer, [`RouterLbClass`]) with the routers of
/// that class as datapaths (SB UUIDs, sorted), as northd adds them with a
/// datapath group per kind of router; and the unSNAT bypass flows, per
/// router with a tunnel key ([`unsnat_bypass_flows`]).
pub(super) fn render_router_lb_flows<'s>(
    ctx: Coll<'s, Arc<RouterCtx>>,
    lbs: RouterLbs<'s>,
    health_info: Coll<'s, (Uuid, HealthInfo)>,
) -> (Coll<'s, (Dps, Lflow)>, Coll<'s, Lflow>) {
    let classes = ctx
        .clone()
        .filter_rec(|r| r.tunnel_key != 0)
        .map_rec(|r| (r.dp(), (RouterLbClass::new(&r), ids::datapath_uuid(r.dp()))));
    // Each group's routers, by class: decided per group, not per (load
    // balancer, router).
    let via_groups = lbs
        .groups
        .join_map_named(
            "router lb flows: groups x router class",
            classes.clone(),
            move |_, a, b| {
                let (g, (class, dp)) = (a.clone(), b.clone());
                ((g, class), dp)
            },
        )
        .group_named("router lb flows: group routers by class", |_, vals, out| {
            let dps: Vec<Uuid> = vals.iter().map(|(dp, _)| **dp).collect();
            out.push((Dps::from(dps), 1));
        })
        .map_rec(|((g, class), dps)| (g, (class, dps)))
        .join_map_named(
            "router lb flows: group routers x members",
            lbs.members,
            move |_, a, b| {
                let ((class, dps), lb) = (a.clone(), b.clone());
                ((lb, class), dps)
            },
        );
    let direct = lbs.direct.join_map_named(
        "router lb flows: direct x router class",
        classes,
        move |_, a, b| {
            let (lb, (class, dp)) = (a.clone(), b.clone());
            ((lb, class), Dps::from([dp]))
        },
    );
    let dps = direct.concat(via_groups).group_named(
        "router lb flows: routers by class",
        |_, vals, out| {
            // A router reaching the load balancer twice counts once.
            out.push((union_dps(vals.iter().map(|(d, _)| *d)), 1));
        },
    );
    // The flows of a (load balancer, class) do not depend on its routers:
    // each load balancer is parsed once, its flows built once per class,
    // then given the class's routers.
    let parsed = parse_with_health(lbs.rows.map_rec(|(u, lb)| (u, (u, lb))), health_info);
    let grouped = dps
        .clone()
        .map_rec(|((lb, class), _)| (lb, class))
        .join_named("router lb flows: classes x load balancer", parsed)
        .flat_map_rec(|(lb, (class, parsed))| {
            lb_flows(&parsed, &class)
                .into_iter()
                .map(move |f| ((lb, class.clone()), f))
                .collect::<Vec<_>>()
        })
        .join_map_named("router lb flows: flows x routers", dps, move |_, a, b| {
            let (f, dps) = (a.clone(), b.clone());
            (dps, f)
        });
    // Only routers with a tunnel key: these flows join the routers' own
    // ([`super::router::RouterFlows::own`]).
    let unsnat = flat_map_net(ctx, "router: unsnat bypass flows", |r| {
        if r.tunnel_key == 0 {
            return Vec::new();
        }
        unsnat_bypass_flows(&r)
    });
    (grouped, unsnat)
}

/// SB `Address_Set` rows `_rtr_lb_<key>_ip4/6` of the routers' reachable
/// VIPs (en-sync-sb.c).
pub(super) fn render_lb_address_sets<'s>(ctx: Coll<'s, Arc<RouterCtx>>) -> Coll<'s, SbRecord> {
    ctx.flat_map_rec(|r| {
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
    ctx: Coll<'s, Arc<RouterCtx>>,
) -> Coll<'s, (Uuid, Arc<PortCtx>)> {
    let by_port = flat_map_net(ctx, "router ports: peer nat", |r| {
        // The orders are shared by the routers with the same load
        // balancers.
        let orders = &r.lb_ips.sets.orders;
        r.ports
            .iter()
            .map(|p| (p.lrp.name.clone(), Arc::new(peer_nat(&r, orders, p))))
            .collect::<Vec<_>>()
    });
    let [plain, peered] = split_by(ports, |(_, p): &(Uuid, Arc<PortCtx>)| {
        usize::from(p.router_peer.is_some())
    });
    let with = peered
        .flat_map_rec(|(ls, p)| {
            let name = p.router_peer.as_ref()?.name.clone();
            Some((name, (ls, p)))
        })
        .outer_join_map_named(
            "switch ports: x peer nat",
            by_port,
            move |_, a, b| {
                let ((ls, mut p), n) = (a.clone(), b.clone());
                Arc::make_mut(&mut p).peer_nat = Some(n);
                (ls, p)
            },
            |_, lp| lp.clone(),
        );
    plain.concat(with)
}
