//! Rendering of `rules::router`: router contexts (router, ports with their
//! peers, static routes, policies), router ports as their peer switches
//! see them, and the router flows.

use std::sync::Arc;

use ovsdb::Uuid;

use super::NbIn;
use crate::dataflow::{flat_map_net, split_by, Coll, Named, NamedSet, Ops};
use crate::idl_order;
use crate::nb::{smap_get_bool, Bfd, Lrp, Lsp, NbKind, NbRecord, Policy, Router, StaticRoute};
use crate::rules::copp::Copp;
use crate::rules::router::lb::{LbIps, LbSummary};
use crate::rules::router::nat::NatRule;
use crate::rules::router::{self, LrpCtx, LrpNetworks, LrpPeer, RouterCtx, SwitchRouterPort};
use crate::rules::{virtual_port, Lflow, PortCtx};

/// One piece of a router's context, grouped by router.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Part {
    Router(Router),
    Port(LrpCtx),
    Route(StaticRoute),
    Policy(Policy),
    Lb(Arc<LbSummary>),
    LbGroup(Arc<Vec<Arc<LbSummary>>>),
    Nat(NatRule),
    Bfd(Bfd),
    Key(u32),
    Copp(Copp),
}

/// The router relations the rest of the dataflow needs.
pub(super) struct Routers<'s> {
    /// Router ports northd creates (enabled router, valid MAC): `(lr, port)`.
    pub ports: Coll<'s, (Uuid, LrpCtx)>,
    /// Router contexts, each shared (`Arc`) by the operators that read it.
    pub ctx: Coll<'s, Arc<RouterCtx>>,
    /// Peers of switch ports of type `router`: `(lsp uuid, peer)`.
    pub lsp_peers: Coll<'s, (Uuid, LrpPeer)>,
}

/// Router ports with their networks, keyed by router.
pub(super) type RouterPorts<'s> = Coll<'s, (Uuid, (Lrp, LrpNetworks))>;

/// Router ports that exist for northd (enabled router, parseable MAC):
/// `(lr, (lrp, networks))`. Their number counts in northd's ports hmap.
pub(super) fn render_router_ports<'s>(nb: NbIn<'s>) -> (Coll<'s, (Uuid, Router)>, RouterPorts<'s>) {
    let routers: Coll<'s, (Uuid, Router)> = nb.of(NbKind::Router).flat_map_rec(|r| match r {
        NbRecord::Router(r) if r.enabled != Some(false) => Some((r.uuid, r)),
        _ => None,
    });
    let members = nb.of(NbKind::RouterPort).flat_map_rec(|r| match r {
        NbRecord::RouterPort(m) => Some((m.lrp, m.lr)),
        _ => None,
    });
    let lrps = nb.of(NbKind::Lrp).flat_map_rec(|r| match r {
        NbRecord::Lrp(p) => Some((p.uuid, p)),
        _ => None,
    });
    let ports = members
        .join_map_named("router ports: membership x lrp", lrps, move |_, a, b| {
            let (lr, lrp) = (a.clone(), b.clone());
            (lr, lrp)
        })
        .semijoin_named(
            "router ports: enabled routers",
            routers.clone().map_rec(|(u, _)| u),
        )
        .flat_map_rec(|(lr, lrp)| {
            LrpNetworks::extract(&lrp.mac, &lrp.networks).map(|net| (lr, (lrp, net)))
        });
    (routers, ports)
}

/// What the router contexts hold beyond ports, routes and policies, keyed
/// by router: load balancers, NAT rules and the datapath tunnel key.
pub(super) struct RouterExtras<'s> {
    /// `(lr, summary)` of each load balancer the router names.
    pub lbs: Coll<'s, (Uuid, Arc<LbSummary>)>,
    /// `(lr, summaries)` of each load balancer group of the router.
    pub lb_groups: Coll<'s, (Uuid, Arc<Vec<Arc<LbSummary>>>)>,
    /// `(lr, rule)` of each NAT rule of the router.
    pub nats: Coll<'s, (Uuid, NatRule)>,
    /// `(datapath, tunnel key)`.
    pub keys: Coll<'s, (Uuid, u32)>,
    /// `(owner, CoPP)` of switches and routers with CoPP meters.
    pub copp: Coll<'s, (Uuid, Copp)>,
    /// The NB `BFD` sessions with the status northd works with
    /// (`bfd::effective_bfds`).
    pub bfds: Coll<'s, (Uuid, Bfd)>,
}

/// Builds the router relations from the router ports, the switch ports
/// (`(ls, lsp)`) and the ports hmap mask.
pub(super) fn render_routers<'s>(
    nb: NbIn<'s>,
    routers: Coll<'s, (Uuid, Router)>,
    lrps: RouterPorts<'s>,
    switch_ports: Coll<'s, (Uuid, Arc<Lsp>)>,
    mask: Coll<'s, ((), u32)>,
    extras: RouterExtras<'s>,
) -> Routers<'s> {
    // NB BFD rows, and the names of the ports they run on.
    let bfds: Coll<'s, (Uuid, Bfd)> = extras.bfds;
    let bfd_ports: Coll<'s, (String, ())> = bfds
        .clone()
        .map_rec(|(_, b)| b.logical_port)
        .distinct_named("bfd: port names")
        .map_rec(|n| (n, ()));
    let lrps = with_bfd(lrps, bfd_ports);
    // Router ports by name, with what their peers need to know.
    let by_name: Coll<'s, (String, LrpPeer)> = lrps.clone().join_map_named(
        "router ports: x router",
        routers.clone().map_rec(|(u, r)| {
            let o = &r.options;
            let dnr = smap_get_bool(o, "dynamic_neigh_routers", false);
            let gw_router = r.option("chassis").is_some();
            (u, (dnr, smap_get_bool(o, "mcast_relay", false), gw_router))
        }),
        move |k, a, b| {
            let (lr, (lrp, net, has_bfd), (dynamic_neigh_routers, mcast_relay, gw_router)) =
                (k.clone(), a.clone(), b.clone());
            (
                lrp.name.clone(),
                LrpPeer {
                    lr,
                    name: lrp.name.clone(),
                    uuid: lrp.uuid,
                    enabled: lrp.is_enabled(),
                    net,
                    dynamic_neigh_routers,
                    mcast_relay,
                    has_bfd,
                    mcast_flood: smap_get_bool(&lrp.options, "mcast_flood", false),
                    dgp: lrp.n_gateway > 0 && !gw_router,
                },
            )
        },
    );
    // Switch ports of type router naming a router port.
    // Per switch: (has a localnet port, has a localnet port with a VLAN,
    // has a vtep port).
    let localnet: Coll<'s, (Uuid, (bool, bool, bool))> = switch_ports
        .clone()
        .map_rec(|(ls, lsp)| {
            let ln = lsp.type_ == "localnet";
            (
                ls,
                (ln, ln && lsp.tag_request.is_some(), lsp.type_ == "vtep"),
            )
        })
        .group_named("switch: has localnet port", |_, vals, out| {
            let ln = vals.iter().any(|((l, _, _), _)| *l);
            let vlan = vals.iter().any(|((_, v, _), _)| *v);
            let vtep = vals.iter().any(|((_, _, t), _)| *t);
            out.push(((ln, vlan, vtep), 1));
        });
    let lsp_refs: Coll<'s, (String, (Uuid, Arc<Lsp>))> = switch_ports.flat_map_rec(|(ls, lsp)| {
        if lsp.type_ != "router" {
            return None;
        }
        let rp = lsp.option("router-port")?.to_string();
        Some((rp, (ls, lsp)))
    });
    let pairs = lsp_refs.join_named("router peers: lsp x lrp", by_name.clone());
    let lsp_peers = pairs
        .clone()
        .map_rec(|(_, ((_, lsp), peer))| (lsp.uuid, peer));
    // A router port's peer: a switch port naming it (the smallest name if
    // several do), else the router port its `peer` names. With it, whether
    // the peer's switch has a localnet port.
    let from_lsp = pairs
        .map_rec(|(_, ((ls, lsp), peer))| (peer.uuid, (lsp.name.clone(), ls)))
        .group_named("router peers: one switch port", |_, vals, out| {
            if let Some((name_ls, _)) = vals.first() {
                out.push(((*name_ls).clone(), 1));
            }
        })
        .map_rec(|(lrp, (name, ls))| (ls, (lrp, name)))
        .join_map_named(
            "router peers: x switch localnet",
            localnet,
            move |_, a, b| {
                let ((lrp, name), localnet) = (a.clone(), b.clone());
                (lrp, (name, localnet))
            },
        );
    let from_lrp = lrps
        .clone()
        .flat_map_rec(|(_, (lrp, _, _))| lrp.peer.clone().map(|peer| (peer, lrp.uuid)))
        .join_map_named(
            "router peers: named router port",
            by_name.map_rec(|(n, p)| (n, p.lr)),
            move |k, a, b| {
                let (peer, lrp, peer_lr) = (k.clone(), a.clone(), b.clone());
                (lrp, (peer, peer_lr))
            },
        )
        .antijoin_named(
            "router peers: no switch port",
            from_lsp.clone().map_rec(|(u, _)| u),
        );
    let peer_of = from_lsp
        .map_rec(|(u, (name, localnet))| (u, (name, localnet, None)))
        .concat(from_lrp.map_rec(|(u, (name, lr))| (u, (name, (false, false, false), Some(lr)))));

    let with_order = lrps
        .map_rec(|(lr, (lrp, net, has_bfd))| ((), (lr, lrp, net, has_bfd)))
        .join_map_named("router ports: x hmap mask", mask, move |k, a, b| {
            let ((), (lr, lrp, net, has_bfd), mask) = (k.clone(), a.clone(), b.clone());
            let order = idl_order::hash_string(&lrp.name) & mask;
            (
                lrp.uuid,
                (
                    lr,
                    LrpCtx {
                        lrp,
                        net,
                        peer: None,
                        hmap_order: order,
                        peer_localnet: false,
                        peer_localnet_vlan: false,
                        peer_vtep: false,
                        dgp: false,
                        peer_router: None,
                        has_bfd,
                    },
                ),
            )
        });
    let ports = with_order.outer_join_map_named(
        "router ports: x peer",
        peer_of,
        move |_, a, b| {
            let ((lr, mut p), (peer, (localnet, vlan, vtep), peer_router)) = (a.clone(), b.clone());
            p.peer = Some(peer);
            p.peer_router = peer_router;
            p.peer_localnet = localnet;
            p.peer_vtep = vtep;
            p.peer_localnet_vlan = vlan;
            (lr, p)
        },
        |_, lp| lp.clone(),
    );

    let routes = nb
        .of(NbKind::RouterRoute)
        .flat_map_rec(|r| match r {
            NbRecord::RouterRoute(x) => Some((x.row, x.lr)),
            _ => None,
        })
        .join_map_named(
            "routers: x static routes",
            nb.of(NbKind::StaticRoute).flat_map_rec(|r| match r {
                NbRecord::StaticRoute(x) => Some((x.uuid, x)),
                _ => None,
            }),
            move |_, a, b| {
                let (lr, x) = (a.clone(), b.clone());
                (lr, x)
            },
        );
    let route_bfds = routes
        .clone()
        .flat_map_rec(|(lr, x)| x.bfd.map(|b| (b, lr)))
        .join_map_named("routers: x route bfd", bfds, move |_, a, b| {
            let (lr, b) = (a.clone(), b.clone());
            (lr, b)
        })
        .distinct_named("routers: route bfd rows")
        .map_rec(|(lr, b)| (lr, Part::Bfd(b)));
    let routes = routes
        .map_rec(|(lr, x)| (lr, Part::Route(x)))
        .concat(route_bfds);
    let policies = nb
        .of(NbKind::RouterPolicy)
        .flat_map_rec(|r| match r {
            NbRecord::RouterPolicy(x) => Some((x.row, x.lr)),
            _ => None,
        })
        .join_map_named(
            "routers: x policies",
            nb.of(NbKind::Policy).flat_map_rec(|r| match r {
                NbRecord::Policy(x) => Some((x.uuid, x)),
                _ => None,
            }),
            move |_, a, b| {
                let (lr, x) = (a.clone(), b.clone());
                (lr, Part::Policy(x))
            },
        );
    let ctx = routers
        .clone()
        .map_rec(|(u, r)| (u, Part::Router(r)))
        .concatenate([
            ports.clone().map_rec(|(lr, p)| (lr, Part::Port(p))),
            routes,
            policies,
            extras.lbs.map_rec(|(lr, l)| (lr, Part::Lb(l))),
            extras.lb_groups.map_rec(|(lr, g)| (lr, Part::LbGroup(g))),
            extras.nats.map_rec(|(lr, n)| (lr, Part::Nat(n))),
            extras.keys.map_rec(|(dp, k)| (dp, Part::Key(k))),
            extras.copp.map_rec(|(lr, c)| (lr, Part::Copp(c))),
        ])
        .group_named("router context", |_, vals, out| {
            let mut router = None;
            let (mut ports, mut routes, mut policies) = (Vec::new(), Vec::new(), Vec::new());
            let (mut lbs, mut nats, mut tunnel_key) = (Vec::new(), Vec::new(), 0);
            let mut copp = Copp::new();
            let mut bfds = Vec::new();
            for (part, _) in vals {
                match part {
                    Part::Router(r) => router = Some(r.clone()),
                    Part::Port(p) => ports.push(p.clone()),
                    Part::Route(x) => routes.push(x.clone()),
                    Part::Policy(x) => policies.push(x.clone()),
                    Part::Lb(x) => lbs.push(x.clone()),
                    Part::LbGroup(g) => lbs.extend(g.iter().cloned()),
                    Part::Nat(x) => nats.push(x.clone()),
                    Part::Bfd(x) => bfds.push(x.clone()),
                    Part::Key(k) => tunnel_key = *k,
                    Part::Copp(c) => copp = c.clone(),
                }
            }
            let Some(router) = router else { return };
            ports.sort_by_key(|p: &LrpCtx| p.lrp.uuid);
            let gw_router = router.option("chassis").is_some();
            for p in &mut ports {
                p.dgp = p.lrp.n_gateway > 0 && !gw_router;
            }
            routes.sort_by_key(|x: &StaticRoute| x.uuid);
            policies.sort_by_key(|x: &Policy| x.uuid);
            // A load balancer reached twice (directly, through groups)
            // counts once.
            lbs.sort_by_key(|x: &Arc<LbSummary>| x.uuid);
            lbs.dedup_by_key(|x| x.uuid);
            nats.sort_by_key(|x: &NatRule| x.nat.uuid);
            let lb_ips = LbIps::new(&lbs, &ports);
            out.push((
                Arc::new(RouterCtx {
                    router,
                    ports,
                    routes,
                    policies,
                    lbs,
                    lb_ips,
                    nats,
                    bfds,
                    tunnel_key,
                    copp,
                }),
                1,
            ));
        })
        // The grouping's output arrangement holds the contexts shared
        // (`Arc`): reading them out copies pointers, not each router's
        // ports, NAT rules and VIP sets.
        .map_rec(|(_, c)| c);
    Routers {
        ports,
        ctx,
        lsp_peers,
    }
}

/// Marks router ports named by an NB `BFD` row (`op->has_bfd`):
/// `(lr, (lrp, networks, has_bfd))`.
fn with_bfd<'s>(
    lrps: RouterPorts<'s>,
    bfd_ports: Coll<'s, (String, ())>,
) -> Coll<'s, (Uuid, (Lrp, LrpNetworks, bool))> {
    let by_name = lrps.map_rec(|(lr, (lrp, net))| (lrp.name.clone(), (lr, lrp, net)));
    by_name.outer_join_map_named(
        "router ports: x bfd",
        bfd_ports,
        |_, (lr, lrp, net), _| (*lr, (lrp.clone(), net.clone(), true)),
        |_, (lr, lrp, net)| (*lr, (lrp.clone(), net.clone(), false)),
    )
}

/// Attaches to each switch port of type `router` its peer, and to every
/// port whether its switch has only connected router ports.
pub(super) fn attach_peers<'s>(
    ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    lsp_peers: Coll<'s, (Uuid, LrpPeer)>,
) -> Coll<'s, (Uuid, Arc<PortCtx>)> {
    // Only switch ports of type `router` naming a router port can have a
    // peer (`lsp_peers`): the others skip the joins.
    let [plain, naming] = split_by(ports, |(_, p): &(Uuid, Arc<PortCtx>)| {
        usize::from(p.lsp.type_ == "router" && p.lsp.option("router-port").is_some())
    });
    let by_lsp = naming.map_rec(|(ls, p)| (p.lsp.uuid, (ls, p)));
    let peered = by_lsp.outer_join_map_named(
        "switch ports: x router peer",
        lsp_peers,
        move |_, a, b| {
            let ((ls, mut p), peer) = (a.clone(), b.clone());
            Arc::make_mut(&mut p).router_peer = Some(peer);
            (ls, p)
        },
        |_, lp| lp.clone(),
    );
    let ports = peered.concat(plain);
    let all_router = ports
        .clone()
        .map_rec(|(ls, p)| {
            let t = p.lsp.type_.as_str();
            (ls, (p.router_peer.is_some(), t == "localnet", t == "vtep"))
        })
        .group_named("switch: only router ports", |_, vals, out| {
            let all = vals.iter().all(|((r, _, _), _)| *r);
            let localnet = vals.iter().any(|((_, l, _), _)| *l);
            let vtep = vals.iter().any(|((_, _, v), _)| *v);
            out.push(((all, localnet, vtep), 1));
        });
    ports.join_map_named(
        "switch ports: x only router ports",
        all_router,
        move |k, a, b| {
            let (ls, mut p, (all, localnet, vtep)) = (k.clone(), a.clone(), b.clone());
            // Most switches have none of these: their ports stay shared.
            let now = (p.all_router_ports, p.switch_has_localnet, p.switch_has_vtep);
            if now != (all, localnet, vtep) {
                let q = Arc::make_mut(&mut p);
                q.all_router_ports = all;
                q.switch_has_localnet = localnet;
                q.switch_has_vtep = vtep;
            }
            (ls, p)
        },
    )
}

/// The router flows, in two parts: [`RouterFlows::own`], built from the
/// router contexts; [`RouterFlows::other`], built from switch ports and
/// their router-port peers (on routers that may have no tunnel key yet).
pub(super) struct RouterFlows<'s> {
    /// The routers' own flows and those needing their ports' tunnel keys,
    /// only for routers with a datapath tunnel key
    /// ([`RouterCtx::tunnel_key`] is not 0): northd adds flows only on
    /// datapaths it has a `Datapath_Binding` for.
    pub own: Coll<'s, Lflow>,
    /// `lr_in_arp_resolve` flows for ports behind router ports and for
    /// pairs of router ports, on any router.
    pub other: Coll<'s, Lflow>,
}

/// Every router flow: the routers' own, those needing their ports' tunnel
/// keys (`port_keys`: `(router, (lrp, key))`), and the static MAC bindings
/// of ports behind router ports on shared switches.
pub(super) fn render_router_flows<'s>(
    ctx: Coll<'s, Arc<RouterCtx>>,
    switch_ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    port_keys: Coll<'s, (Uuid, (Uuid, u32))>,
    claims: Coll<'s, (String, String)>,
) -> RouterFlows<'s> {
    // The flows of a router context depend on it alone, and the context
    // carries the router's tunnel key (from the same key relation that
    // bounds the other flows, `dp_keys`): a router without a key is left
    // out here, before any flow is built, so its flows need no semijoin
    // with the keyed datapaths downstream.
    let ctx = ctx.filter_rec(|r| r.tunnel_key != 0);
    let symmetric = ctx
        .clone()
        .filter_rec(|r| router::ecmp_symmetric::wanted(r))
        .map_rec(|r| (r.dp(), r));
    let keyed = port_keys
        .semijoin_named(
            "ecmp symmetric: port keys of routers",
            symmetric.clone().map_rec(|(dp, _)| dp),
        )
        .group_named("ecmp symmetric: port keys", |_, vals, out| {
            let keys: Vec<(Uuid, u32)> = vals.iter().map(|(k, _)| **k).collect();
            out.push((keys, 1));
        });
    let own = symmetric
        .join_named("ecmp symmetric: router x port keys", keyed)
        .flat_map_rec(|(_, (r, keys))| {
            router::ecmp_symmetric::flows(&r, |lrp| {
                keys.iter().find(|(u, _)| *u == lrp).map(|(_, k)| *k)
            })
        })
        .concat(flat_map_net(ctx, "router flows", |r| {
            router::router_flows(&r)
        }));
    let rports: Coll<'s, (Uuid, SwitchRouterPort)> =
        switch_ports.clone().flat_map_rec(|(ls, p)| {
            p.router_peer.clone().map(|peer| {
                (
                    ls,
                    SwitchRouterPort {
                        ls,
                        lsp: p.lsp.uuid,
                        lsp_name: p.lsp.name.clone(),
                        lsp_enabled: p.lsp.is_enabled(),
                        hmap_order: p.hmap_order,
                        peer,
                        routables: p
                            .peer_nat
                            .as_ref()
                            .map(|n| n.routables.clone())
                            .unwrap_or_default(),
                        peer_gw: p.peer_nat.as_ref().is_some_and(|n| n.gw_or_dgp),
                    },
                )
            })
        });
    // Only ports that can yield a flow enter the joins: on a switch shared
    // by many routers (ovn-kubernetes' join switch, a provider network) the
    // pairs would otherwise grow with the square of its ports.
    let behind = switch_ports
        .clone()
        .filter_rec(|(_, p)| router::arp_resolve::resolvable(p))
        .join_named("arp resolve: switch port x router port", rports.clone())
        .flat_map_rec(|(_, (p, rp))| router::arp_resolve::switch_port(&p, &rp));
    let virtual_ports = switch_ports
        .clone()
        .filter_rec(|(_, p)| virtual_port::virtual_ip(&p.lsp).is_some())
        .map_rec(|(ls, p)| (p.lsp.name.clone(), (ls, p)));
    let vip_flows = virtual_arp_resolve(virtual_ports, switch_ports, rports.clone(), claims);
    // Pairs of router ports: every pair when the first router learns its
    // peers statically; otherwise only pairs whose second router offers
    // routable NAT/VIP addresses (the only flows such a pair yields).
    let learning = rports
        .clone()
        .filter_rec(|(_, op)| router::arp_resolve::learns_peers_statically(op));
    let not_learning = rports
        .clone()
        .filter_rec(|(_, op)| !router::arp_resolve::learns_peers_statically(op));
    let offering = rports
        .clone()
        .filter_rec(|(_, other)| !other.routables.is_empty());
    let pairs = learning
        .join_named("arp resolve: router port x router port", rports)
        .concat(
            not_learning.join_named("arp resolve: router port x routable router port", offering),
        )
        .flat_map_rec(|(_, (a, b))| router::arp_resolve::router_pair(&a, &b));
    RouterFlows {
        own,
        other: behind.concatenate([vip_flows, pairs]),
    }
}

/// `lr_in_arp_resolve` for virtual ports (keyed by name): unclaimed ones
/// resolved to `00:00:00:00:00:00` in one router of their switch, ports
/// ovn-controller claimed (`claims`: virtual port → parent, from the SB) to
/// their parent's MAC behind the parent's switch's router ports.
fn virtual_arp_resolve<'s>(
    virtual_ports: Coll<'s, (String, (Uuid, Arc<PortCtx>))>,
    switch_ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    rports: Coll<'s, (Uuid, SwitchRouterPort)>,
    claims: Coll<'s, (String, String)>,
) -> Coll<'s, Lflow> {
    // An unclaimed virtual port is resolved in one router only: all the
    // switch's router ports are needed to find the first.
    let unclaimed = virtual_ports
        .clone()
        .antijoin_named(
            "arp resolve: unclaimed virtual ports",
            claims
                .clone()
                .map_rec(|(name, _)| name)
                .distinct_named("arp resolve: claimed port names"),
        )
        .map_rec(|(_, lp)| lp)
        .join_map_named(
            "arp resolve: virtual port x router port",
            rports.clone(),
            move |_, a, b| {
                let (p, rp) = (a.clone(), b.clone());
                (p.lsp.uuid, (p, rp))
            },
        )
        .group_named(
            "arp resolve: virtual port's router ports",
            |_, vals, out| {
                let Some(((p, _), _)) = vals.first() else {
                    return;
                };
                let rps: Vec<SwitchRouterPort> =
                    vals.iter().map(|((_, rp), _)| rp.clone()).collect();
                if let Some(f) = virtual_port::arp_resolve_unclaimed(p, &rps) {
                    out.push((f, 1));
                }
            },
        )
        .map_rec(|(_, f)| f);
    // A claimed one needs router ports on its own switch, then its parent
    // (a switch port of any switch) and the parent's switch's router ports.
    let switches_with_routers = rports
        .clone()
        .map_rec(|(ls, _)| ls)
        .distinct_named("arp resolve: switches with router ports");
    let claimed = virtual_ports
        .join_map_named(
            "arp resolve: virtual ports x SB claims",
            claims,
            move |_, a, b| {
                let ((ls, p), parent) = (a.clone(), b.clone());
                (ls, (p, parent))
            },
        )
        .semijoin_named(
            "arp resolve: claimed virtual ports behind routers",
            switches_with_routers,
        )
        .map_rec(|(_, (p, parent))| (parent, p))
        .join_map_named(
            "arp resolve: claimed virtual port x parent",
            switch_ports.map_rec(|(ls, p)| (p.lsp.name.clone(), (ls, p))),
            move |_, a, b| {
                let (p, (pls, parent)) = (a.clone(), b.clone());
                (pls, (p, parent))
            },
        )
        .join_map_named(
            "arp resolve: parent x router port",
            rports,
            move |_, a, b| {
                let ((p, parent), rp) = (a.clone(), b.clone());
                (p.lsp.uuid, (p, parent, rp))
            },
        )
        .group_named("arp resolve: parent's router ports", |_, vals, out| {
            let Some(((p, parent, _), _)) = vals.first() else {
                return;
            };
            let rps: Vec<SwitchRouterPort> =
                vals.iter().map(|((_, _, rp), _)| rp.clone()).collect();
            if let Some(f) = virtual_port::arp_resolve_claimed(p, parent, &rps) {
                out.push((f, 1));
            }
        })
        .map_rec(|(_, f)| f);
    unclaimed.concat(claimed)
}
