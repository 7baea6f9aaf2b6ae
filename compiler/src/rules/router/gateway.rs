//! What a router's NAT rules, load balancers and gateway role change on the
//! switch port peered with one of its ports: the `l3gateway` binding of
//! ports connected to gateway routers, `Port_Binding.nat_addresses`
//! (`options:nat-addresses`, `get_nat_addresses()` and the router-port
//! GARP entry in `ovn_port_update_sbrec()`), and the NAT/VIP addresses whose
//! ARP/ND requests the switch sends only to the router
//! (`build_lswitch_rport_arp_req_flows()`).

use std::sync::{Arc, OnceLock};

use super::lb::LbSummary;
use super::nat::NatRule;
use super::{cr_json_key, LrpCtx, RouterCtx};
use crate::idl_order::{hash_string, Hmap};
use crate::rules::addr::parse_mac;
use crate::rules::router::net::parse_v4_cidr;

/// The router side of a switch port of type `router`, beyond
/// [`super::LrpPeer`]. One per router port; key: the router port's name.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerNat {
    /// The router's `options:chassis` (a gateway router).
    pub chassis: Option<String>,
    /// `get_nat_addresses(peer, false, true)`.
    pub nat_addresses: Vec<String>,
    /// `get_nat_addresses(peer, false, false)` (`exclude-lb-vips-from-garp`).
    pub nat_addresses_no_lb: Vec<String>,
    /// The router has distributed gateway ports.
    pub has_l3dgw: bool,
    /// The GARP entry of the router port itself, for a distributed gateway
    /// port (or a port with `reside-on-redirect-chassis`): `MAC IPv4…
    /// is_chassis_resident(cr)`.
    pub dgp_garp: Option<String>,
    /// The GARP entry of the router port on a gateway router (used when the
    /// switch has a localnet port): `MAC IPv4…`.
    pub gw_garp: String,
    /// `is_chassis_resident(cr)` of the first distributed gateway port
    /// (appended to a literal `nat-addresses`).
    pub dgp_resident: Option<String>,
    /// Addresses (with `ipv6`) whose ARP/ND requests go only to the router:
    /// reachable VIPs, then DNAT external addresses that are not VIPs.
    pub arp_req: Vec<(String, bool)>,
    /// Source MACs of the router's own ARP/ND requests flooded on the
    /// switch (`build_lswitch_rport_arp_req_self_orig_flow()`): the port's
    /// MAC and the `external_mac` of every valid non-SNAT NAT rule, in sset
    /// order.
    pub self_orig_macs: Vec<String>,
    /// The chassisredirect port (json key) on whose chassis the switch
    /// delivers frames to the router port's MAC when it has a localnet port
    /// (`build_lswitch_ip_unicast_lookup()`).
    pub l2_resident: Option<String>,
    /// For a distributed gateway port: `(external_mac, logical_port)` of
    /// its router's distributed NAT rules, delivered to the router on the
    /// logical port's chassis.
    pub dnat_macs: Vec<(String, String)>,
    /// The chassisredirect port (json key) of a distributed gateway port.
    pub dgp_cr: Option<String>,
    /// `op->routables` of a distributed gateway port: `(MAC, IPv4
    /// addresses)` of each entry of `get_nat_addresses(op, true, true)`
    /// (NAT rules and load balancers with `add_route=true`).
    pub routables: Vec<(String, Vec<String>)>,
    /// The router is a gateway router or the port a distributed gateway
    /// port (`od->nbr` has `options:chassis` or `op->cr_port`).
    pub gw_or_dgp: bool,
}

/// The iteration order of the `od->lb_ips` sset of one family (only the
/// `add_route` VIPs with `routable_only`): `hash_string()` buckets, with
/// the VIPs inserted as `build_lrouter_lb_ips()` meets them (the router's
/// load balancers in NB order, each one's VIPs in order), which decides
/// the order within a bucket.
fn lb_ip_order(lbs: &[Arc<LbSummary>], v6: bool, routable_only: bool) -> Vec<String> {
    let mut set: Hmap<String> = Hmap::default();
    let mut seen = std::collections::BTreeSet::new();
    for lb in lbs {
        if routable_only && !lb.routable {
            continue;
        }
        for (ip, is_v6, _) in &lb.vips {
            if *is_v6 == v6 && seen.insert(ip.clone()) {
                set.insert(ip.clone(), hash_string(ip));
            }
        }
    }
    set.iter().cloned().collect()
}

/// The `od->lb_ips` orders ([`lb_ip_order`]) of one list of load
/// balancers, each computed once for all the routers that have them (held
/// by their shared [`LbVipSets`]) and all their ports (a router with a
/// thousand VIPs and a hundred ports would otherwise hash and copy them
/// four times per port).
#[derive(Debug, Default)]
pub struct LbIpOrders {
    /// By `2 * v6 + routable_only`.
    orders: [OnceLock<Vec<String>>; 4],
    /// By `routable_only`: ` <ip>` for each IPv4 then each IPv6 VIP in
    /// order, the tail `get_nat_addresses()` appends to every port's
    /// entry (built once, not once per port).
    joined: [OnceLock<String>; 2],
    /// The IPv4 VIPs (all, in order), parsed once.
    parsed_v4: OnceLock<Vec<(String, Option<std::net::Ipv4Addr>)>>,
    /// The IPv6 VIPs (all, in order), parsed once.
    parsed_v6: OnceLock<Vec<(String, Option<std::net::Ipv6Addr>)>>,
}

impl LbIpOrders {
    /// [`lb_ip_order`] of router `r`'s load balancers (always the same
    /// ones).
    fn get(&self, r: &RouterCtx, v6: bool, routable_only: bool) -> &[String] {
        self.orders[2 * usize::from(v6) + usize::from(routable_only)]
            .get_or_init(|| lb_ip_order(&r.lbs, v6, routable_only))
    }

    /// ` <ip>` for every VIP of both families, IPv4 first, in order.
    fn joined(&self, r: &RouterCtx, routable_only: bool) -> &str {
        self.joined[usize::from(routable_only)].get_or_init(|| {
            let v4 = self.get(r, false, routable_only);
            let v6 = self.get(r, true, routable_only);
            let mut s = String::new();
            for ip in v4.iter().chain(v6) {
                s.push(' ');
                s.push_str(ip);
            }
            s
        })
    }

    /// All IPv4 VIPs in order, each with its address when it parses.
    fn parsed_v4(&self, r: &RouterCtx) -> &[(String, Option<std::net::Ipv4Addr>)] {
        self.parsed_v4
            .get_or_init(|| parse_each(self.get(r, false, false)))
    }

    /// All IPv6 VIPs in order, each with its address when it parses.
    fn parsed_v6(&self, r: &RouterCtx) -> &[(String, Option<std::net::Ipv6Addr>)] {
        self.parsed_v6
            .get_or_init(|| parse_each(self.get(r, true, false)))
    }
}

/// Each address with its parsed form, when it parses.
fn parse_each<A: std::str::FromStr>(ips: &[String]) -> Vec<(String, Option<A>)> {
    ips.iter().map(|ip| (ip.clone(), ip.parse().ok())).collect()
}

/// `is_nat_gateway_port()`, with `n_dgp` the router's number of
/// distributed gateway ports northd knows at that point.
fn is_nat_gateway_port(n_dgp: usize, rule: &NatRule, p: &LrpCtx) -> bool {
    if n_dgp <= 1 {
        return true;
    }
    match &rule.gateway_port {
        None => p.net.find_member_ip(&rule.nat.external_ip).is_some(),
        Some(g) => *g == p.lrp.name,
    }
}

/// `get_nat_addresses(op, false, include_lb_ips)`.
fn nat_addresses(
    r: &RouterCtx,
    orders: &LbIpOrders,
    p: &LrpCtx,
    include_lb_ips: bool,
) -> Vec<String> {
    get_nat_addresses(r, orders, p, false, include_lb_ips, r.n_l3dgw_ports())
}

/// `op->routables` (`assign_routable_addresses()`): computed while northd
/// joins the router's ports, when only the distributed gateway ports up to
/// this one (in `Logical_Router.ports` order) are known.
fn routables(r: &RouterCtx, orders: &LbIpOrders, p: &LrpCtx) -> Vec<(String, Vec<String>)> {
    if !p.is_dgp() {
        return Vec::new();
    }
    let n_dgp = r
        .ports
        .iter()
        .filter(|q| q.is_dgp() && q.lrp.uuid <= p.lrp.uuid)
        .count();
    get_nat_addresses(r, orders, p, true, true, n_dgp)
        .iter()
        .filter_map(|a| {
            // `extract_addresses()`: a MAC, then addresses up to the first
            // word that is none (e.g. `is_chassis_resident(...)`).
            let mut words = a.split_whitespace();
            let mac = parse_mac(words.next()?)?;
            let mut v4 = Vec::new();
            for w in words {
                if let Ok(ip) = w.parse::<std::net::Ipv4Addr>() {
                    v4.push(ip.to_string());
                } else if w.parse::<std::net::Ipv6Addr>().is_err() {
                    break;
                }
            }
            Some((mac, v4))
        })
        .collect()
}

/// `get_nat_addresses()`, with `n_dgp` as `od->n_l3dgw_ports`.
fn get_nat_addresses(
    r: &RouterCtx,
    orders: &LbIpOrders,
    p: &LrpCtx,
    routable_only: bool,
    include_lb_ips: bool,
    n_dgp: usize,
) -> Vec<String> {
    if r.nats.is_empty() && !r.has_lb_vip() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut central = p.net.ea_s.clone();
    let mut has_central = false;
    for rule in &r.nats {
        let nat = &rule.nat;
        if routable_only
            && (nat.type_ == "snat" || !crate::nb::smap_get_bool(&nat.options, "add_route", false))
        {
            continue;
        }
        if !matches!(parse_v4_cidr(&nat.external_ip), Some((_, 32))) {
            continue;
        }
        if !is_nat_gateway_port(n_dgp, rule, p) {
            continue;
        }
        if n_dgp > 0
            && nat.type_ == "dnat_and_snat"
            && nat.logical_port.is_some()
            && nat.external_mac.is_some()
        {
            if let Some(mac) = nat.external_mac.as_deref().and_then(parse_mac) {
                out.push(format!(
                    "{mac} {} is_chassis_resident(\"{}\")",
                    nat.external_ip,
                    nat.logical_port.as_deref().unwrap_or("")
                ));
            }
        } else {
            let is_router_ip = p.net.ipv4.iter().any(|n| n.addr_s() == nat.external_ip)
                || p.net.ipv6.iter().any(|n| n.addr_s() == nat.external_ip);
            if !is_router_ip {
                central.push_str(&format!(" {}", nat.external_ip));
                has_central = true;
            }
        }
    }
    if include_lb_ips {
        let vips = orders.joined(r, routable_only);
        if !vips.is_empty() {
            central.push_str(vips);
            has_central = true;
        }
    }
    if has_central {
        if p.is_dgp() {
            central.push_str(&format!(
                " is_chassis_resident({})",
                cr_json_key(&p.lrp.name)
            ));
        }
        out.push(central);
    }
    out
}

/// The peer facts of router port `p` of router `r`.
pub fn peer_nat(r: &RouterCtx, orders: &LbIpOrders, p: &LrpCtx) -> PeerNat {
    let garp_ips: String = p
        .net
        .ipv4
        .iter()
        .map(|n| format!(" {}", n.addr_s()))
        .collect();
    let gw_garp = format!("{}{garp_ips}", p.net.ea_s);
    let first_dgp = r.l3dgw_ports().next();
    let garp_port = if p.is_dgp() { Some(p) } else { first_dgp };
    let dgp_resident =
        garp_port.map(|g| format!("is_chassis_resident({})", cr_json_key(&g.lrp.name)));
    let dgp_garp = if r.n_l3dgw_ports() > 0
        && (p.is_dgp()
            || (crate::nb::smap_get_bool(&p.lrp.options, "reside-on-redirect-chassis", false)
                && r.n_l3dgw_ports() == 1))
    {
        Some(format!(
            "{gw_garp} {}",
            dgp_resident.clone().unwrap_or_default()
        ))
    } else {
        None
    };
    let mut arp_req = Vec::new();
    for (ip, a) in orders.parsed_v4(r) {
        if let Some(a) = a {
            if p.net.ipv4.iter().any(|n| n.contains(*a)) {
                arp_req.push((ip.clone(), false));
            }
        }
    }
    for (ip, a) in orders.parsed_v6(r) {
        if let Some(a) = a {
            if p.net.ipv6.iter().any(|n| n.contains(*a)) {
                arp_req.push((ip.clone(), true));
            }
        }
    }
    for rule in &r.nats {
        if rule.nat.type_ == "snat" {
            continue;
        }
        let Some((_, v6)) = rule.ext_addr() else {
            continue;
        };
        let ip = &rule.nat.external_ip;
        let in_lb = if v6 {
            r.lb_ips.sets.v6.contains(ip)
        } else {
            r.lb_ips.sets.v4.contains(ip)
        };
        if !in_lb {
            arp_req.push((ip.clone(), v6));
        }
    }
    // An sset: iteration follows the hmap's buckets, which depend on the
    // insertion order (the port's MAC, then the NAT rules in NB order).
    let mut macs: Hmap<String> = Hmap::default();
    let mut seen = std::collections::BTreeSet::new();
    let nat_macs = r.nats.iter().filter_map(|rule| {
        if rule.nat.type_ == "snat" || rule.ext_addr().is_none() {
            return None;
        }
        rule.nat.external_mac.clone()
    });
    for m in std::iter::once(p.net.ea_s.clone()).chain(nat_macs) {
        if seen.insert(m.clone()) {
            macs.insert(m.clone(), hash_string(&m));
        }
    }
    let l2_resident = if r.n_l3dgw_ports() == 0 {
        None
    } else if p.is_dgp() {
        Some(p.cr_key())
    } else if crate::nb::smap_get_bool(&p.lrp.options, "reside-on-redirect-chassis", false)
        && r.n_l3dgw_ports() == 1
    {
        first_dgp.map(LrpCtx::cr_key)
    } else {
        None
    };
    let dnat_macs = if p.is_dgp() {
        r.nats
            .iter()
            .filter(|n| n.nat.type_ == "dnat_and_snat")
            .filter_map(|n| {
                let lport = n.nat.logical_port.clone()?;
                let mac = parse_mac(n.nat.external_mac.as_deref()?)?;
                Some((mac, lport))
            })
            .collect()
    } else {
        Vec::new()
    };
    PeerNat {
        routables: routables(r, orders, p),
        gw_or_dgp: r.is_gw_router() || p.is_dgp(),
        self_orig_macs: macs.iter().cloned().collect(),
        dgp_cr: p.is_dgp().then(|| p.cr_key()),
        l2_resident,
        dnat_macs,
        chassis: r.router.option("chassis").map(str::to_string),
        nat_addresses: nat_addresses(r, orders, p, true),
        nat_addresses_no_lb: nat_addresses(r, orders, p, false),
        has_l3dgw: r.n_l3dgw_ports() > 0,
        dgp_garp,
        gw_garp,
        dgp_resident,
        arp_req,
    }
}

/// `Port_Binding.nat_addresses` of switch port with options `options` and a
/// localnet port on its switch or not, peered with a router port described
/// by `peer`.
pub fn binding_nat_addresses(
    options: &[(String, String)],
    switch_has_localnet: bool,
    peer: &PeerNat,
) -> Vec<String> {
    let get = |k: &str| {
        options
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let gateway = peer.chassis.is_some() || peer.has_l3dgw;
    let mut out = match get("nat-addresses") {
        Some("router") if gateway => {
            if crate::nb::smap_get_bool(options, "exclude-lb-vips-from-garp", false) {
                peer.nat_addresses_no_lb.clone()
            } else {
                peer.nat_addresses.clone()
            }
        }
        Some("router") | None => Vec::new(),
        Some(s) if gateway && crate::rules::addr::extract_lsp_addresses(s).is_some() => {
            match (&peer.dgp_resident, peer.has_l3dgw) {
                (Some(res), true) => vec![format!("{s} {res}")],
                _ => vec![s.to_string()],
            }
        }
        Some(_) => Vec::new(),
    };
    if peer.has_l3dgw {
        out.extend(peer.dgp_garp.clone());
    } else if peer.chassis.is_some() && switch_has_localnet {
        out.push(peer.gw_garp.clone());
    }
    out
}
