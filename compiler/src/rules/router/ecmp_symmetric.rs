//! Symmetric ECMP replies (`options:ecmp_symmetric_reply=true` on static
//! routes of an ECMP group): `add_ecmp_symmetric_reply_flows()`, called by
//! `build_ecmp_route_flow()` in northd.c.
//!
//! Only on gateway routers (`options:chassis`): traffic arriving over a
//! member's output port from the route's prefix is committed to conntrack
//! with its source MAC and input port (`lr_in_defrag`,
//! `lr_in_ecmp_stateful`); replies skip ECMP selection and policies and get
//! their MAC back from the connection (`lr_in_ip_routing` 10300,
//! `lr_in_policy` 65535, `lr_in_arp_resolve` 200). The connection's port is
//! the output port's tunnel key, hence the keys passed in: these flows are
//! rendered apart from [`super::router_flows`].

use std::collections::BTreeSet;
use std::net::IpAddr;

use ovsdb::Uuid;

use super::routing::{route_groups, route_match, route_outport, Parsed};
use super::{LrpCtx, RouterCtx};
use crate::idl_order::{hash_bytes, Hmap};
use crate::rules::Lflow;
use crate::stage::Stage;

/// `REGBIT_KNOWN_ECMP_NH`.
const KNOWN_ECMP_NH: &str = "reg9[5]";
/// `ct_mark.ecmp_reply_port`: northd uses the `ct_mark` field unless some
/// chassis lacks `ct_no_masked_label` (with no chassis, as here, it is set).
const REPLY_PORT: &str = "ct_mark.ecmp_reply_port";

/// Whether the router has any flow of this module (a gateway router with a
/// route asking for symmetric replies).
pub fn wanted(r: &RouterCtx) -> bool {
    r.is_gw_router()
        && r.routes
            .iter()
            .any(|x| crate::nb::smap_get_bool(&x.options, "ecmp_symmetric_reply", false))
}

/// The flows of router `r`, given the tunnel keys of its ports
/// (`port_key(lrp UUID)`).
pub fn flows(r: &RouterCtx, port_key: impl Fn(Uuid) -> Option<u32>) -> Vec<Lflow> {
    let mut out = Vec::new();
    if !wanted(r) {
        return out;
    }
    // northd walks its ECMP groups in hash-map order (`route_hash()`); two
    // groups through one port add the same reply flows, and the first
    // call's stage hint stays.
    let groups: Vec<(u16, Vec<Parsed>)> = route_groups(r)
        .into_iter()
        .filter(|(id, _)| *id != 0)
        .collect();
    let mut hmap: Hmap<usize> = Hmap::default();
    for (i, (_, g)) in groups.iter().enumerate() {
        hmap.insert(i, route_hash(&g[0]));
    }
    for (pos, &i) in hmap.iter().enumerate() {
        let group = &groups[i].1;
        let start = out.len();
        let first = &group[0];
        let (route_m, _) = route_match(
            None,
            first.rtb_id,
            &first.prefix_s(),
            first.plen,
            first.is_src,
            first.is_ipv4(),
            first.ofs(),
        );
        // One set of flows per output port of the group.
        let mut visited = BTreeSet::new();
        for p in group {
            if !crate::nb::smap_get_bool(&p.route.options, "ecmp_symmetric_reply", false) {
                continue;
            }
            let Some(o) = route_outport(r, p.route, first.is_ipv4()) else {
                continue;
            };
            if !visited.insert(o.port.lrp.name.clone()) {
                continue;
            }
            let Some(key) = port_key(o.port.lrp.uuid) else {
                continue;
            };
            reply_flows(r, p, o.port, &o.lrp_addr, key, &route_m, &mut out);
        }
        for f in &mut out[start..] {
            f.origin = (1, pos as u32, None);
        }
    }
    out
}

/// `route_hash()`: `hash_bytes()` of the (v4-mapped) prefix with the
/// prefix length as basis.
fn route_hash(p: &Parsed) -> u32 {
    let bytes = match p.prefix {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    };
    hash_bytes(&bytes, u32::from(p.plen))
}

/// `normalize_v46_prefix()`: the masked prefix, without a length for a
/// host route.
fn normalized_prefix(p: &Parsed) -> String {
    let full = match p.prefix {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    if p.plen == full {
        p.prefix_s()
    } else {
        format!("{}/{}", p.prefix_s(), p.plen)
    }
}

/// `add_ecmp_symmetric_reply_flows()` for one route and its output port.
fn reply_flows(
    r: &RouterCtx,
    p: &Parsed,
    port: &LrpCtx,
    port_ip: &str,
    key: u32,
    route_m: &str,
    out: &mut Vec<Lflow>,
) {
    let dp = r.dp();
    let hint = p.route.uuid;
    let v4 = p.is_ipv4();
    let base = format!(
        "inport == {} && ip{}.{} == {}",
        port.json_key(),
        if v4 { "4" } else { "6" },
        if p.is_src { "dst" } else { "src" },
        normalized_prefix(p)
    );
    let flow =
        |stage, prio, m: &str, a: &str, line| Lflow::new(dp, stage, prio, m, a, line).hint(hint);
    out.push(flow(
        Stage::LrInDefrag,
        100,
        &base,
        &format!("{KNOWN_ECMP_NH} = chk_ecmp_nh_mac(); ct_next;"),
        10107,
    ));
    out.push(flow(
        Stage::LrInDefrag,
        100,
        route_m,
        &format!("{KNOWN_ECMP_NH} = chk_ecmp_nh(); ct_next;"),
        10113,
    ));
    let commit = |proto: &str| {
        format!(
            "ct_commit {{ ct_label.ecmp_reply_eth = eth.src;  {REPLY_PORT} = {key};}}; \
             commit_ecmp_nh(ipv6 = {}, proto = {proto}); next;",
            if v4 { "false" } else { "true" }
        )
    };
    for (proto, line) in [("tcp", 10132), ("udp", 10145), ("sctp", 10158)] {
        out.push(flow(
            Stage::LrInEcmpStateful,
            100,
            &format!("{base} && (ct.new && !ct.est) && {proto}"),
            &commit(proto),
            line,
        ));
    }
    for (proto, line) in [("tcp", 10173), ("udp", 10188), ("sctp", 10202)] {
        out.push(flow(
            Stage::LrInEcmpStateful,
            100,
            &format!("{base} && (!ct.rpl && ct.est) && {proto} && {KNOWN_ECMP_NH} == 0"),
            &commit(proto),
            line,
        ));
    }
    let reply = format!("ct.rpl && {KNOWN_ECMP_NH} == 1 && {REPLY_PORT} == {key}");
    out.push(flow(
        Stage::LrInIpRouting,
        10300,
        &format!("{reply} && {route_m}"),
        &format!(
            "ip.ttl--; flags.loopback = 1; eth.src = {}; {}reg1 = {port_ip}; outport = {}; next;",
            port.net.ea_s,
            if v4 { "" } else { "xx" },
            port.json_key()
        ),
        10221,
    ));
    out.push(flow(Stage::LrInPolicy, 65535, &reply, "next;", 10226));
    out.push(flow(
        Stage::LrInArpResolve,
        200,
        &reply,
        "push(xxreg1); xxreg1 = ct_label; eth.dst = xxreg1[32..79]; pop(xxreg1); next;",
        10242,
    ));
}
