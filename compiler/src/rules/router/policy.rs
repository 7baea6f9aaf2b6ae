//! `lr_in_policy`, `lr_in_policy_ecmp`: `build_ingress_policy_flows_for_lrouter()`,
//! `build_routing_policy_flow()` and `build_ecmp_routing_policy_flows()` in
//! northd.c: allow, drop and reroute policies; a reroute to several next
//! hops selects one of them (service chaining).

use super::{LrpCtx, RouterCtx};
use crate::nb::Policy;
use crate::rules::{Lflow, DROP};
use crate::stage::Stage;

/// `get_outport_for_routing_policy_nexthop()` and `find_lrp_member_ip()`:
/// the first router port with a network containing `nexthop`.
fn nexthop_port<'a>(r: &'a RouterCtx, nexthop: &str) -> Option<(&'a LrpCtx, String)> {
    r.ports
        .iter()
        .find_map(|p| p.net.find_member_ip(nexthop).map(|a| (p, a)))
}

/// `ovn_smap_get_uint(&options, "pkt_mark", 0)` as an action prefix.
fn pkt_mark(p: &Policy) -> String {
    let mark = p
        .options
        .iter()
        .find(|(k, _)| k == "pkt_mark")
        .and_then(|(_, v)| v.parse::<u32>().ok())
        .unwrap_or(0);
    if mark != 0 {
        format!("pkt.mark = {mark}; ")
    } else {
        String::new()
    }
}

/// The next-hop part of a reroute: `reg0 = NH; reg1 = ADDR; eth.src = MAC;
/// outport = PORT; flags.loopback = 1; ` (IPv6 registers for IPv6).
fn reroute_to(nexthop: &str, port: &LrpCtx, addr: &str) -> String {
    let (nh, src) = if nexthop.contains('.') {
        ("reg0", "reg1")
    } else {
        ("xxreg0", "xxreg1")
    };
    format!(
        "{nh} = {nexthop}; {src} = {addr}; eth.src = {}; outport = {}; flags.loopback = 1; ",
        port.net.ea_s,
        port.json_key()
    )
}

/// Defaults and every policy of the router (ECMP group ids numbered from 1
/// in policy order).
pub fn policies(r: &RouterCtx, out: &mut Vec<Lflow>) {
    let dp = r.dp();
    out.push(Lflow::new(
        dp,
        Stage::LrInPolicy,
        0,
        "1",
        "reg8[0..15] = 0; next;",
        12213,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LrInPolicyEcmp,
        150,
        "reg8[0..15] == 0",
        "next;",
        12215,
    ));
    out.push(Lflow::new(dp, Stage::LrInPolicyEcmp, 0, "1", DROP, 12217));
    let mut ecmp_id = 1u16;
    for p in &r.policies {
        if p.action == "reroute" && p.nexthops.len() > 1 {
            ecmp_policy(r, p, ecmp_id, out);
            ecmp_id += 1;
        } else {
            policy(r, p, out);
        }
    }
}

/// `build_routing_policy_flow()`.
fn policy(r: &RouterCtx, p: &Policy, out: &mut Vec<Lflow>) {
    let actions = match p.action.as_str() {
        "reroute" => {
            let nexthop = match p.nexthops.as_slice() {
                [one] => Some(one.as_str()),
                _ => p.nexthop.as_deref(),
            };
            let Some(nexthop) = nexthop else { return };
            let Some((port, addr)) = nexthop_port(r, nexthop) else {
                return;
            };
            format!(
                "{}{}reg8[0..15] = 0; next;",
                pkt_mark(p),
                reroute_to(nexthop, port, &addr)
            )
        }
        "drop" => DROP.to_string(),
        "allow" => format!("{}reg8[0..15] = 0; next;", pkt_mark(p)),
        _ => String::new(),
    };
    let Ok(priority) = u16::try_from(p.priority) else {
        return;
    };
    out.push(
        Lflow::new(
            r.dp(),
            Stage::LrInPolicy,
            priority,
            &p.match_,
            &actions,
            9526,
        )
        .hint(p.uuid),
    );
}

/// `build_ecmp_routing_policy_flows()`: one `lr_in_policy_ecmp` flow per
/// next hop (until one has no route), then the selecting policy flow.
fn ecmp_policy(r: &RouterCtx, p: &Policy, id: u16, out: &mut Vec<Lflow>) {
    let v4 = p.nexthops[0].contains('.');
    if p.nexthops.iter().any(|n| n.contains('.') != v4) {
        return;
    }
    let Ok(priority) = u16::try_from(p.priority) else {
        return;
    };
    for (i, nh) in p.nexthops.iter().enumerate() {
        let Some((port, addr)) = nexthop_port(r, nh) else {
            return;
        };
        let m = format!("reg8[0..15] == {id} && reg8[16..31] == {}", i + 1);
        let a = format!("{}{}next;", pkt_mark(p), reroute_to(nh, port, &addr));
        out.push(Lflow::new(r.dp(), Stage::LrInPolicyEcmp, 100, &m, &a, 9606).hint(p.uuid));
    }
    let members: Vec<String> = (1..=p.nexthops.len()).map(|i| i.to_string()).collect();
    let a = format!(
        "reg8[0..15] = {id}; reg8[16..31] = select({});",
        members.join(", ")
    );
    out.push(Lflow::new(r.dp(), Stage::LrInPolicy, priority, &p.match_, &a, 9624).hint(p.uuid));
}
