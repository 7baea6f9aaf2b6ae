//! `lr_in_nd_ra_*` defaults, `lr_in_ip_routing_pre`, `lr_in_ip_routing`,
//! `lr_in_ip_routing_ecmp`: `build_ND_RA_flows_for_lrouter()`,
//! `build_ip_routing_pre_flows_for_lrouter()`,
//! `build_ip_routing_flows_for_lrouter_port()` (connected routes),
//! `build_static_route_flows_for_lrouter()` (static routes, ECMP groups,
//! route tables, discard routes, source-IP routes) and
//! `build_mcast_lookup_flows_for_lrouter()` in northd.c.
//!
//! Symmetric ECMP replies: [`super::ecmp_symmetric`]. BFD: routes whose
//! session is down are left out, and ports running BFD get a TTL-keeping
//! route for BFD control packets (`add_route()` with `op->has_bfd`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ovsdb::Uuid;

use super::net::{parse_v4_cidr, parse_v6_cidr};
use super::{LrpCtx, RouterCtx, SwitchRouterPort};
use crate::nb::StaticRoute;
use crate::rules::{Lflow, DROP};
use crate::stage::Stage;

const PRIO_MULTIPLIER: u16 = 3;
const PRIO_STATIC: u16 = 1;
const PRIO_CONNECTED: u16 = 2;

/// Priority 0 `next;` in both ND RA stages.
pub fn nd_ra_defaults(r: &RouterCtx, out: &mut Vec<Lflow>) {
    out.push(Lflow::new(
        r.dp(),
        Stage::LrInNdRaOptions,
        0,
        "1",
        "next;",
        11956,
    ));
    out.push(Lflow::new(
        r.dp(),
        Stage::LrInNdRaResponse,
        0,
        "1",
        "next;",
        11957,
    ));
}

/// Priority 0 `reg7 = 0; next;`.
pub fn ip_routing_pre(r: &RouterCtx, out: &mut Vec<Lflow>) {
    out.push(Lflow::new(
        r.dp(),
        Stage::LrInIpRoutingPre,
        0,
        "1",
        "reg7 = 0; next;",
        11968,
    ));
}

/// `build_mcast_lookup_flows_for_lrouter()` without the learned groups
/// (those are `rules::igmp::router_group_flow()`): IPv6 multicast that
/// must not be routed (priority 10550); with relay, unregistered multicast
/// is flooded to the router's `_MC_static` ports (IGMP/MLD from the
/// router's own MACs dropped, not relayed) when some port floods
/// statically, else dropped.
pub fn mcast_lookup(r: &RouterCtx, out: &mut Vec<Lflow>) {
    let dp = r.dp();
    let s = Stage::LrInIpRouting;
    out.push(Lflow::new(dp, s, 10550, "nd_rs || nd_ra", DROP, 12113));
    if !r.mcast_relay() {
        return;
    }
    if !r.mcast_flood_static() {
        out.push(Lflow::new(
            dp,
            s,
            10450,
            "ip4.mcast || ip6.mcast",
            DROP,
            12190,
        ));
        return;
    }
    for p in &r.ports {
        let mac = &p.net.ea_s;
        out.push(Lflow::new(
            dp,
            s,
            10550,
            &format!("eth.src == {mac} && igmp"),
            DROP,
            12160,
        ));
        out.push(Lflow::new(
            dp,
            s,
            10550,
            &format!("eth.src == {mac} && (mldv1 || mldv2)"),
            DROP,
            12166,
        ));
    }
    let clone = "clone { outport = \"_MC_static\"; next; };";
    out.push(Lflow::new(dp, s, 10460, "igmp", clone, 12170));
    out.push(Lflow::new(dp, s, 10460, "mldv1 || mldv2", clone, 12176));
    out.push(Lflow::new(
        dp,
        s,
        10450,
        "ip4.mcast || ip6.mcast",
        "clone { outport = \"_MC_static\"; ip.ttl--; next; };",
        12182,
    ));
}

/// `build_route_match()`: the match and priority of a route to
/// `network/plen`.
pub(super) fn route_match(
    inport: Option<&str>,
    rtb_id: u32,
    network: &str,
    plen: u8,
    is_src: bool,
    is_ipv4: bool,
    ofs: u16,
) -> (String, u16) {
    let (dir, ofs) = if is_src { ("src", 0) } else { ("dst", ofs) };
    let priority = plen as u16 * PRIO_MULTIPLIER + ofs;
    let mut m = String::new();
    if let Some(k) = inport {
        m.push_str(&format!("inport == {k} && "));
    }
    if rtb_id != 0 || ofs == PRIO_STATIC {
        m.push_str(&format!("reg7 == {rtb_id} && "));
    }
    let v = if is_ipv4 { "4" } else { "6" };
    m.push_str(&format!("ip{v}.{dir} == {network}/{plen}"));
    (m, priority)
}

/// What `add_route()` needs about the output.
pub(super) struct RouteOut<'a> {
    /// The output port.
    pub port: &'a LrpCtx,
    /// Its address on the next hop's network.
    pub lrp_addr: String,
}

/// `add_route()`: one `lr_in_ip_routing` flow.
#[allow(clippy::too_many_arguments)]
fn add_route(
    r: &RouterCtx,
    via: Option<&RouteOut>,
    network: &str,
    plen: u8,
    gateway: Option<&str>,
    is_src: bool,
    rtb_id: u32,
    hint: Uuid,
    ofs: u16,
    out: &mut Vec<Lflow>,
) {
    let is_ipv4 = network.contains('.');
    let inport = match (is_ipv4, via) {
        (false, Some(o)) => {
            let lla = network
                .parse::<std::net::Ipv6Addr>()
                .map(|n| n.segments()[0] & 0xffc0 == 0xfe80)
                .unwrap_or(false);
            lla.then(|| o.port.json_key())
        }
        _ => None,
    };
    let (m, priority) = route_match(
        inport.as_deref(),
        rtb_id,
        network,
        plen,
        is_src,
        is_ipv4,
        ofs,
    );
    let common = via.map(|o| {
        let (nh_reg, src_reg, dst) = if is_ipv4 {
            ("reg0", "reg1", "ip4.dst")
        } else {
            ("xxreg0", "xxreg1", "ip6.dst")
        };
        let gw = gateway.filter(|g| !g.is_empty()).unwrap_or(dst);
        format!(
            "reg8[0..15] = 0; {nh_reg} = {gw}; {src_reg} = {}; eth.src = {}; \
             outport = {}; flags.loopback = 1; next;",
            o.lrp_addr,
            o.port.net.ea_s,
            o.port.json_key()
        )
    });
    let actions = match &common {
        None => DROP.to_string(),
        Some(c) => format!("ip.ttl--; {c}"),
    };
    out.push(Lflow::new(r.dp(), Stage::LrInIpRouting, priority, &m, &actions, 10388).hint(hint));
    // BFD control packets to a port running BFD keep their TTL.
    if let (Some(o), Some(c)) = (via, &common) {
        if o.port.has_bfd {
            out.push(
                Lflow::new(
                    r.dp(),
                    Stage::LrInIpRouting,
                    priority + 1,
                    &format!("{m} && udp.dst == 3784"),
                    c,
                    10393,
                )
                .hint(hint),
            );
        }
    }
}

/// Connected routes of a router port: one per network (IPv6 link-local
/// routes only for packets that came in on the port).
pub fn connected_routes(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    for n in &p.net.ipv4 {
        let o = RouteOut {
            port: p,
            lrp_addr: n.addr_s(),
        };
        add_route(
            r,
            Some(&o),
            &n.network_s(),
            n.plen,
            None,
            false,
            0,
            p.lrp.uuid,
            PRIO_CONNECTED,
            out,
        );
    }
    for n in &p.net.ipv6 {
        let o = RouteOut {
            port: p,
            lrp_addr: n.addr_s(),
        };
        add_route(
            r,
            Some(&o),
            &n.network_s(),
            n.plen,
            None,
            false,
            0,
            p.lrp.uuid,
            PRIO_CONNECTED,
            out,
        );
    }
}

/// Routes in the router behind switch port `op` to the routable NAT and
/// VIP addresses of router port `other` on the same switch (the switch-port
/// half of `build_ip_routing_flows_for_lrouter_port()`): connected-route
/// priority, through `op`'s peer and its first IPv4 address.
pub fn routable_routes(op: &SwitchRouterPort, other: &SwitchRouterPort, out: &mut Vec<Lflow>) {
    let peer = &op.peer;
    let Some(first) = peer.net.ipv4.first() else {
        return;
    };
    let key = crate::rules::addr::json_key(&peer.name);
    for ip in other.routables.iter().flat_map(|(_, ips)| ips) {
        let (m, priority) = route_match(None, 0, ip, 32, false, true, PRIO_CONNECTED);
        let actions = format!(
            "ip.ttl--; reg8[0..15] = 0; reg0 = ip4.dst; reg1 = {}; eth.src = {}; \
             outport = {key}; flags.loopback = 1; next;",
            first.addr_s(),
            peer.net.ea_s
        );
        out.push(
            Lflow::new(peer.lr, Stage::LrInIpRouting, priority, &m, &actions, 10388)
                .hint(peer.uuid),
        );
        if peer.has_bfd {
            let common = actions.trim_start_matches("ip.ttl--; ");
            out.push(
                Lflow::new(
                    peer.lr,
                    Stage::LrInIpRouting,
                    priority + 1,
                    &format!("{m} && udp.dst == 3784"),
                    common,
                    10393,
                )
                .hint(peer.uuid),
            );
        }
    }
}

/// A static route northd accepted (`struct parsed_route`).
pub(super) struct Parsed<'a> {
    pub route: &'a StaticRoute,
    pub prefix: IpAddr,
    pub plen: u8,
    pub is_src: bool,
    pub rtb_id: u32,
    discard: bool,
}

impl Parsed<'_> {
    /// What groups routes into ECMP groups.
    fn key(&self) -> (IpAddr, u8, bool, u32) {
        (self.prefix, self.plen, self.is_src, self.rtb_id)
    }

    pub fn is_ipv4(&self) -> bool {
        self.prefix.is_ipv4()
    }

    /// `build_route_prefix_s()`: the masked prefix.
    pub fn prefix_s(&self) -> String {
        match self.prefix {
            IpAddr::V4(a) => {
                let m = if self.plen == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.plen as u32)
                };
                std::net::Ipv4Addr::from(u32::from(a) & m).to_string()
            }
            IpAddr::V6(a) => {
                let m = if self.plen == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.plen as u32)
                };
                std::net::Ipv6Addr::from(u128::from(a) & m).to_string()
            }
        }
    }

    pub fn ofs(&self) -> u16 {
        if self
            .route
            .options
            .iter()
            .any(|(k, v)| k == "origin" && v == "connected")
        {
            PRIO_CONNECTED
        } else {
            PRIO_STATIC
        }
    }
}

/// `ip46_parse_cidr()`.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    parse_v4_cidr(s)
        .map(|(a, p)| (IpAddr::V4(a), p))
        .or_else(|| parse_v6_cidr(s).map(|(a, p)| (IpAddr::V6(a), p)))
}

/// `find_static_route_outport()`: the output port and its address on the
/// next hop's network.
pub(super) fn route_outport<'a>(
    r: &'a RouterCtx,
    route: &StaticRoute,
    is_ipv4: bool,
) -> Option<RouteOut<'a>> {
    if let Some(name) = &route.output_port {
        let port = r.port(name)?;
        let mut addr = if route.nexthop.is_empty() {
            None
        } else {
            port.net.find_member_ip(&route.nexthop)
        };
        if addr.is_none() {
            addr = if is_ipv4 {
                port.net.ipv4.first().map(|n| n.addr_s())
            } else {
                port.net.ipv6.first().map(|n| n.addr_s())
            };
        }
        return addr.map(|lrp_addr| RouteOut { port, lrp_addr });
    }
    if route.nexthop.is_empty() {
        return None;
    }
    r.ports.iter().find_map(|port| {
        port.net
            .find_member_ip(&route.nexthop)
            .map(|lrp_addr| RouteOut { port, lrp_addr })
    })
}

/// `get_route_table_id()`: route table names numbered from 1 in the order
/// northd meets them (router ports' `options:route_table` first).
fn route_table_id(tables: &mut BTreeMap<String, u32>, name: &str) -> u32 {
    if name.is_empty() {
        return 0;
    }
    let next = tables.len() as u32 + 1;
    *tables.entry(name.to_string()).or_insert(next)
}

/// The checks of `parsed_routes_add()` before its BFD lookup: a next hop
/// that is a host address (or `discard`), a prefix of the same family, an
/// output port. `(prefix, prefix length, discard)` when they pass.
fn checked_route(r: &RouterCtx, route: &StaticRoute) -> Option<(IpAddr, u8, bool)> {
    let discard = route.nexthop == "discard";
    let valid_nexthop = !route.nexthop.is_empty() && !discard;
    let mut nh_v4 = None;
    if valid_nexthop {
        let (nh, plen) = parse_cidr(&route.nexthop)?;
        if (nh.is_ipv4() && plen != 32) || (nh.is_ipv6() && plen != 128) {
            return None;
        }
        nh_v4 = Some(nh.is_ipv4());
    }
    let (prefix, plen) = parse_cidr(&route.ip_prefix)?;
    if nh_v4.is_some_and(|v4| v4 != prefix.is_ipv4()) {
        return None;
    }
    if !discard {
        route_outport(r, route, prefix.is_ipv4())?;
    }
    Some((prefix, plen, discard))
}

/// The router's BFD sessions some static route reaches
/// `parsed_routes_add()`'s BFD lookup with (its `bfd` names the session
/// and its next hop is the session's `dst_ip`): northd turns their
/// `admin_down` into `down` and keeps them referenced
/// ([`super::bfd::nb_status`]).
pub fn bfd_refs(r: &RouterCtx) -> Vec<Uuid> {
    r.routes
        .iter()
        .filter_map(|route| {
            let b = route
                .bfd
                .and_then(|u| r.bfds.iter().find(|b| b.uuid == u))
                .filter(|b| b.dst_ip == route.nexthop)?;
            checked_route(r, route).map(|_| b.uuid)
        })
        .collect()
}

/// `parsed_routes_add()`: `None` for routes northd ignores.
fn parse_route<'a>(
    r: &RouterCtx,
    route: &'a StaticRoute,
    tables: &mut BTreeMap<String, u32>,
) -> Option<Parsed<'a>> {
    let (prefix, plen, discard) = checked_route(r, route)?;
    let bfd = route
        .bfd
        .and_then(|u| r.bfds.iter().find(|b| b.uuid == u))
        .filter(|b| b.dst_ip == route.nexthop);
    if bfd.is_some_and(|b| b.route_down()) {
        return None;
    }
    Some(Parsed {
        route,
        prefix,
        plen,
        is_src: route.policy.as_deref() == Some("src-ip"),
        rtb_id: route_table_id(tables, &route.route_table),
        discard,
    })
}

/// Static routes: defaults, route-table selection by input port, ECMP
/// groups (several routes with the same prefix, policy and table) and
/// single routes.
pub fn static_routes(r: &RouterCtx, out: &mut Vec<Lflow>) {
    let dp = r.dp();
    out.push(Lflow::new(
        dp,
        Stage::LrInIpRoutingEcmp,
        0,
        "1",
        DROP,
        12044,
    ));
    out.push(Lflow::new(dp, Stage::LrInIpRouting, 0, "1", DROP, 12045));
    out.push(Lflow::new(
        dp,
        Stage::LrInIpRoutingEcmp,
        150,
        "reg8[0..15] == 0",
        "next;",
        12046,
    ));
    let mut tables = BTreeMap::new();
    for p in &r.ports {
        let id = route_table_id(&mut tables, p.lrp.option("route_table").unwrap_or(""));
        if id != 0 {
            out.push(Lflow::new(
                dp,
                Stage::LrInIpRoutingPre,
                100,
                &format!("inport == \"{}\"", p.lrp.name),
                &format!("reg7 = {id}; next;"),
                9686,
            ));
        }
    }
    for (id, g) in route_groups(r) {
        if id != 0 {
            ecmp_route(r, &g, id, out);
        } else {
            static_route(r, &g[0], out);
        }
    }
}

/// The router's accepted static routes grouped by (prefix, length, policy,
/// route table), in the order northd meets them, each with its ECMP group
/// id (0 for a single route; groups of several routes are numbered in the
/// order in which they gained their second route).
pub(super) fn route_groups(r: &RouterCtx) -> Vec<(u16, Vec<Parsed<'_>>)> {
    let mut tables = BTreeMap::new();
    for p in &r.ports {
        route_table_id(&mut tables, p.lrp.option("route_table").unwrap_or(""));
    }
    let mut groups: Vec<Vec<Parsed>> = Vec::new();
    for route in &r.routes {
        let Some(p) = parse_route(r, route, &mut tables) else {
            continue;
        };
        match groups.iter_mut().find(|g| g[0].key() == p.key()) {
            Some(g) => g.push(p),
            None => groups.push(vec![p]),
        }
    }
    let mut order: Vec<(usize, usize)> = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.len() > 1)
        .map(|(i, g)| {
            let second = r
                .routes
                .iter()
                .position(|x| x.uuid == g[1].route.uuid)
                .unwrap_or(0);
            (second, i)
        })
        .collect();
    order.sort();
    let mut ecmp_of = vec![0u16; groups.len()];
    for (n, (_, i)) in order.into_iter().enumerate() {
        ecmp_of[i] = n as u16 + 1;
    }
    ecmp_of.into_iter().zip(groups).collect()
}

/// `build_static_route_flow()`.
fn static_route(r: &RouterCtx, p: &Parsed, out: &mut Vec<Lflow>) {
    let via = if p.discard {
        None
    } else {
        match route_outport(r, p.route, p.is_ipv4()) {
            Some(o) => Some(o),
            None => return,
        }
    };
    add_route(
        r,
        via.as_ref(),
        &p.prefix_s(),
        p.plen,
        Some(&p.route.nexthop),
        p.is_src,
        p.rtb_id,
        p.route.uuid,
        p.ofs(),
        out,
    );
}

/// `build_ecmp_route_flow()`: the group's routing flow selecting a member,
/// and one `lr_in_ip_routing_ecmp` flow per member.
fn ecmp_route(r: &RouterCtx, g: &[Parsed], id: u16, out: &mut Vec<Lflow>) {
    let first = &g[0];
    let is_ipv4 = first.is_ipv4();
    let (m, priority) = route_match(
        None,
        first.rtb_id,
        &first.prefix_s(),
        first.plen,
        first.is_src,
        is_ipv4,
        first.ofs(),
    );
    let members: Vec<String> = (1..=g.len()).map(|i| i.to_string()).collect();
    let actions = format!(
        "ip.ttl--; flags.loopback = 1; reg8[0..15] = {id}; reg8[16..31] = select({});",
        members.join(", ")
    );
    out.push(Lflow::new(
        r.dp(),
        Stage::LrInIpRouting,
        priority,
        &m,
        &actions,
        10287,
    ));
    for (i, p) in g.iter().enumerate() {
        let Some(o) = route_outport(r, p.route, is_ipv4) else {
            continue;
        };
        let (nh_reg, src_reg) = if is_ipv4 {
            ("reg0", "reg1")
        } else {
            ("xxreg0", "xxreg1")
        };
        let m = format!("reg8[0..15] == {id} && reg8[16..31] == {}", i + 1);
        let a = format!(
            "{nh_reg} = {}; {src_reg} = {}; eth.src = {}; outport = {}; next;",
            p.route.nexthop,
            o.lrp_addr,
            o.port.net.ea_s,
            o.port.json_key()
        );
        out.push(
            Lflow::new(r.dp(), Stage::LrInIpRoutingEcmp, 100, &m, &a, 10329).hint(p.route.uuid),
        );
    }
}
