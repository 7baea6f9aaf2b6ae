//! `lr_in_ip_input` and `lr_in_arp_resolve` flows for addresses the router
//! owns through NAT and load balancers: ARP/ND responders for NAT external
//! addresses (`build_lrouter_arp_nd_for_datapath()`,
//! `build_lrouter_port_nat_arp_nd_flow()`), for reachable VIPs (the
//! `_rtr_lb_<key>_ip4/6` address sets), and the split of
//! `build_lrouter_drop_own_dest()` between `lr_in_ip_input` (priority 60)
//! and `lr_in_arp_resolve` (priority 2) for router addresses that are SNAT
//! or VIP addresses.

use std::collections::BTreeMap;

use super::lb::address_set_name;
use super::nat::{cr_key, NatRule};
use super::net::parse_v6_cidr;
use super::{LrpCtx, RouterCtx};
use crate::rules::addr::solicited_node;
use crate::rules::{Lflow, DROP};
use crate::stage::Stage;

const ARP_REPLY: &str = "eth.dst = eth.src; eth.src = {MAC}; arp.op = 2; /* ARP reply */ \
     arp.tha = arp.sha; arp.sha = {MAC}; arp.tpa <-> arp.spa; outport = inport; \
     flags.loopback = 1; output;";
const ND_REPLY: &str = "nd_na { eth.src = {MAC}; ip6.src = nd.target; nd.tll = {MAC}; \
     outport = inport; flags.loopback = 1; output; };";

/// `od->snat_ips`: the unique SNAT addresses (of `snat` rules, and the
/// first address of each family of `dnat_force_snat_ip` and
/// `lb_force_snat_ip`), each with its first `snat` rule.
pub fn snat_ips(r: &RouterCtx) -> BTreeMap<String, Option<&NatRule>> {
    let mut out: BTreeMap<String, Option<&NatRule>> = BTreeMap::new();
    let mut forced = r.force_snat_addrs("dnat");
    if !r.lb_force_snat_router_ip() {
        forced.extend(r.force_snat_addrs("lb"));
    }
    for (ip, _) in forced {
        out.entry(ip).or_insert(None);
    }
    for rule in r.nats.iter().filter(|n| n.nat.type_ == "snat") {
        if let Some((ip, _)) = rule.ext_addr() {
            let e = out.entry(ip).or_insert(None);
            if e.is_none() {
                *e = Some(rule);
            }
        }
    }
    out
}

/// The NAT rules that get ARP/ND responders: every valid non-`snat` rule,
/// then one `snat` rule per unique SNAT address.
fn responder_rules(r: &RouterCtx) -> Vec<&NatRule> {
    let mut out: Vec<&NatRule> = r
        .nats
        .iter()
        .filter(|n| n.nat.type_ != "snat" && n.ext_addr().is_some())
        .collect();
    out.extend(snat_ips(r).into_values().flatten());
    out
}

fn arp(r: &RouterCtx, m: String, mac: &str, prio: u16, drop: bool) -> Lflow {
    let a = if drop {
        DROP.to_string()
    } else {
        ARP_REPLY.replace("{MAC}", mac)
    };
    Lflow::new(r.dp(), Stage::LrInIpInput, prio, &m, &a, 11115)
}

fn nd(r: &RouterCtx, m: String, mac: &str, prio: u16, drop: bool) -> Lflow {
    if drop {
        Lflow::new(r.dp(), Stage::LrInIpInput, prio, &m, DROP, 11156)
    } else {
        let a = ND_REPLY.replace("{MAC}", mac);
        Lflow::new(r.dp(), Stage::LrInIpInput, prio, &m, &a, 11171).meter(r.meter("nd-na"))
    }
}

/// `ip6.dst == {IP, SN} && nd_ns && nd.target == IP`.
fn nd_match(ip: &str) -> String {
    let sn = parse_v6_cidr(ip)
        .map(|(a, _)| solicited_node(&a).to_string())
        .unwrap_or_default();
    format!("ip6.dst == {{{ip}, {sn}}} && nd_ns && nd.target == {ip}")
}

/// Router-level priority-90 ARP/ND replies for NAT external addresses
/// (`build_lrouter_arp_nd_for_datapath()`).
pub fn nat_responders(r: &RouterCtx, out: &mut Vec<Lflow>) {
    for rule in responder_rules(r) {
        let Some((ip, v6)) = rule.ext_addr() else {
            continue;
        };
        let f = if v6 {
            nd(r, nd_match(&ip), "xreg0[0..47]", 90, false)
        } else {
            arp(
                r,
                format!("arp.op == 1 && arp.tpa == {ip}"),
                "xreg0[0..47]",
                90,
                false,
            )
        };
        out.push(f.hint(rule.nat.uuid));
    }
}

/// On a router port: ARP/ND replies for reachable VIPs, and on a
/// distributed gateway port the chassis-resident NAT responders (priority
/// 92) with the drop elsewhere (priority 91).
pub fn port_responders(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    let key = p.json_key();
    let dgp = p.is_dgp();
    let resident = if dgp {
        format!(" && is_chassis_resident({})", cr_key(&p.lrp.name))
    } else {
        String::new()
    };
    if !r.lb_ips.v4_reachable.is_empty() {
        let set = address_set_name(r.tunnel_key, false);
        let m = format!("inport == {key} && arp.op == 1 && arp.tpa == ${set}{resident}");
        out.push(arp(r, m, "xreg0[0..47]", 90, false));
    }
    if !r.lb_ips.v6_reachable.is_empty() {
        let set = address_set_name(r.tunnel_key, true);
        let m = format!("inport == {key} && nd_ns && nd.target == ${set}{resident}");
        out.push(nd(r, m, "xreg0[0..47]", 90, false));
    }
}

/// The NAT responders of a distributed gateway port (after the port's own
/// drops in `build_lrouter_ipv4_ip_input()`).
pub fn dgp_nat_responders(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    if !p.is_dgp() {
        return;
    }
    let key = p.json_key();
    let multi = r.n_l3dgw_ports() > 1;
    for rule in responder_rules(r) {
        let nat = &rule.nat;
        let on_port = match &rule.gateway_port {
            _ if !multi => true,
            None => p.net.find_member_ip(&nat.external_ip).is_some(),
            Some(g) => *g == p.lrp.name,
        };
        if !on_port {
            continue;
        }
        let Some((ip, v6)) = rule.ext_addr() else {
            continue;
        };
        let distributed_mac = nat
            .external_mac
            .as_deref()
            .filter(|m| crate::rules::addr::parse_mac(m).is_some() && nat.logical_port.is_some());
        let (mac, extra) = match distributed_mac {
            Some(m) => (
                m.to_string(),
                format!(
                    "is_chassis_resident(\"{}\")",
                    nat.logical_port.as_deref().unwrap_or("")
                ),
            ),
            None => (
                "xreg0[0..47]".to_string(),
                format!("is_chassis_resident({})", cr_key(&p.lrp.name)),
            ),
        };
        if v6 {
            let base = format!("inport == {key} && {}", nd_match(&ip));
            out.push(nd(r, format!("{base} && {extra}"), &mac, 92, false).hint(nat.uuid));
            out.push(nd(r, base, &mac, 91, true).hint(nat.uuid));
        } else {
            let base = format!("inport == {key} && arp.op == 1 && arp.tpa == {ip}");
            out.push(arp(r, format!("{base} && {extra}"), &mac, 92, false).hint(nat.uuid));
            out.push(arp(r, base, &mac, 91, true).hint(nat.uuid));
        }
    }
}

/// `build_lrouter_drop_own_dest()`: with `snat_or_lb` false, the port's
/// addresses that are neither SNAT nor VIP addresses; with it true, those
/// that are.
pub fn drop_own_dest(
    r: &RouterCtx,
    p: &LrpCtx,
    stage: Stage,
    prio: u16,
    snat_or_lb: bool,
    out: &mut Vec<Lflow>,
) {
    let snat = snat_ips(r);
    let owned = |ip: &String| snat.contains_key(ip) || r.lb_ips.contains(ip);
    let v4: Vec<String> = p
        .net
        .ipv4
        .iter()
        .map(|n| n.addr_s())
        .filter(|ip| owned(ip) == snat_or_lb)
        .collect();
    if !v4.is_empty() {
        let m = format!("ip4.dst == {{{}}}", v4.join(", "));
        out.push(Lflow::new(r.dp(), stage, prio, &m, DROP, 11304).hint(p.lrp.uuid));
    }
    let v6: Vec<String> = p
        .net
        .ipv6
        .iter()
        .map(|n| n.addr_s())
        .filter(|ip| owned(ip) == snat_or_lb)
        .collect();
    if !v6.is_empty() {
        let m = format!("ip6.dst == {{{}}}", v6.join(", "));
        out.push(Lflow::new(r.dp(), stage, prio, &m, DROP, 11333).hint(p.lrp.uuid));
    }
}
