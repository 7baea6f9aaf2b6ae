//! IPv6 router advertisements of router ports (`ipv6_ra_configs`):
//! `build_ND_RA_flows_for_lrouter_port()` (`lr_in_nd_ra_options` /
//! `lr_in_nd_ra_response` replies to router solicitations) and the
//! `Port_Binding` options northd adds for ovn-controller's periodic RAs and
//! prefix delegation (`copy_ra_to_sb()` and the loop calling it).

use super::{LrpCtx, RouterCtx};
use crate::nb::smap_get_bool;
use crate::rules::Lflow;
use crate::stage::Stage;

fn ra_config<'a>(p: &'a LrpCtx, key: &str) -> Option<&'a str> {
    p.lrp
        .ipv6_ra_configs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// C `atoi()`: optional sign and leading digits, 0 when there are none.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let v = digits.parse::<i64>().unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// `smap_get_int()`: the whole value as a decimal `int`, else `def`.
fn get_int(p: &LrpCtx, key: &str, def: i64) -> i64 {
    ra_config(p, key)
        .and_then(|v| v.trim().parse::<i32>().ok())
        .map(i64::from)
        .unwrap_or(def)
}

/// A port northd considers for RAs: not peered with a router port, with a
/// peer, and a valid `address_mode`.
fn address_mode(p: &LrpCtx) -> Option<&str> {
    if p.lrp.peer.is_some() || p.peer.is_none() {
        return None;
    }
    ra_config(p, "address_mode")
        .filter(|m| matches!(*m, "slaac" | "dhcpv6_stateful" | "dhcpv6_stateless"))
}

/// The router-solicitation reply flows of port `p` (priority 50 in
/// `lr_in_nd_ra_options` and `lr_in_nd_ra_response`), when it has an
/// address mode and a non-link-local IPv6 network.
pub fn nd_ra_port(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    let Some(mode) = address_mode(p) else { return };
    let key = p.json_key();
    let ea = &p.net.ea_s;
    let mut a = format!("reg0[5] = put_nd_ra_opts(addr_mode = \"{mode}\", slla = {ea}");
    let mtu = ra_config(p, "mtu").map(atoi).filter(|m| *m >= 1280);
    if let Some(m) = mtu {
        a.push_str(&format!(", mtu = {m}"));
    }
    let prf = ra_config(p, "router_preference").unwrap_or("MEDIUM");
    if prf != "MEDIUM" {
        a.push_str(&format!(", router_preference = \"{prf}\""));
    }
    if let Some(v) = ra_config(p, "rdnss") {
        a.push_str(&format!(", rdnss = {v}"));
    }
    if let Some(v) = ra_config(p, "dnssl") {
        a.push_str(&format!(", dnssl = \"{v}\""));
    }
    if let Some(v) = ra_config(p, "route_info") {
        a.push_str(&format!(", route_info = \"{v}\""));
    }
    let prefixes: Vec<String> = p
        .net
        .ipv6
        .iter()
        .filter(|n| !n.is_lla())
        .map(|n| format!(", prefix = {}/{}", n.network_s(), n.plen))
        .collect();
    if prefixes.is_empty() {
        return;
    }
    a.push_str(&prefixes.concat());
    a.push_str("); next;");
    let m = format!("inport == {key} && ip6.dst == ff02::2 && nd_rs");
    out.push(
        Lflow::new(r.dp(), Stage::LrInNdRaOptions, 50, &m, &a, 11922)
            .hint(p.lrp.uuid)
            .meter(r.meter("nd-ra-opts")),
    );
    let lla = p
        .net
        .ipv6
        .iter()
        .rev()
        .find(|n| n.is_lla())
        .map(|n| n.addr_s())
        .unwrap_or_default();
    let m = format!("inport == {key} && ip6.dst == ff02::2 && nd_ra && reg0[5]");
    let a = format!(
        "eth.dst = eth.src; eth.src = {ea}; ip6.dst = ip6.src; ip6.src = {lla}; \
         outport = inport; flags.loopback = 1; output;"
    );
    out.push(Lflow::new(r.dp(), Stage::LrInNdRaResponse, 50, &m, &a, 11943).hint(p.lrp.uuid));
}

/// The `Port_Binding` options of port `p` for prefix delegation
/// (`ipv6_prefix_delegation`, `ipv6_prefix`) and periodic RAs
/// (`ipv6_ra_*`, with `send_periodic`). `ipv6_ra_pd_list`, which
/// ovn-controller writes, is not known here.
pub fn binding_options(p: &LrpCtx) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if p.lrp.peer.is_some() || p.peer.is_none() {
        return out;
    }
    let enabled = p.lrp.is_enabled();
    let opt = |k: &str| smap_get_bool(&p.lrp.options, k, false) && enabled;
    if opt("prefix_delegation") {
        out.push(("ipv6_prefix_delegation".into(), "true".into()));
    }
    if opt("prefix") {
        out.push(("ipv6_prefix".into(), "true".into()));
    }
    let Some(mode) = address_mode(p) else {
        return out;
    };
    if !smap_get_bool(&p.lrp.ipv6_ra_configs, "send_periodic", false) {
        return out;
    }
    let mut add = |k: &str, v: String| out.push((format!("ipv6_ra_{k}"), v));
    add("send_periodic", "true".into());
    add("address_mode", mode.to_string());
    let max = get_int(p, "max_interval", 600).clamp(4, 1800);
    add("max_interval", max.to_string());
    let min_default = if max >= 9 { max / 3 } else { max * 3 / 4 };
    let min = get_int(p, "min_interval", min_default)
        .min(max * 3 / 4)
        .max(3);
    add("min_interval", min.to_string());
    let mtu = get_int(p, "mtu", 0);
    if mtu >= 1280 {
        add("mtu", mtu.to_string());
    }
    let mut prefixes = Vec::new();
    for n in &p.net.ipv6 {
        if n.is_lla() {
            add("src_addr", n.addr_s());
        } else {
            prefixes.push(format!("{}/{}", n.network_s(), n.plen));
        }
    }
    add("prefixes", prefixes.join(" "));
    if let Some(v) = ra_config(p, "rdnss") {
        add("rdnss", v.to_string());
    }
    if let Some(v) = ra_config(p, "dnssl") {
        add("dnssl", v.to_string());
    }
    add("src_eth", p.net.ea_s.clone());
    let prf = ra_config(p, "router_preference")
        .filter(|v| matches!(*v, "HIGH" | "LOW"))
        .unwrap_or("MEDIUM");
    add("prf", prf.to_string());
    if let Some(v) = ra_config(p, "route_info") {
        add("route_info", v.to_string());
    }
    out
}
