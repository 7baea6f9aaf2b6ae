//! The stages after routing: `lr_in_chk_pkt_len`, `lr_in_larger_pkts`,
//! `lr_in_gw_redirect`, `lr_in_arp_request`, the LB affinity defaults and `lr_out_delivery`: `build_check_pkt_len_flows_for_lrouter()`,
//! `build_gateway_redirect_flows_for_lrouter()`,
//! `build_arp_request_flows_for_lrouter()`,
//! `build_lb_affinity_default_flows()` and
//! `build_egress_delivery_flows_for_lrouter_port()` in northd.c.

use super::net::parse_v6_cidr;
use super::{LrpCtx, RouterCtx};
use crate::rules::addr::solicited_node;
use crate::rules::{Lflow, DROP};
use crate::stage::Stage;

/// Priority 0 `next;` in both packet-length stages (`gateway_mtu` flows are
/// not handled yet).
pub fn chk_pkt_len(r: &RouterCtx, out: &mut Vec<Lflow>) {
    out.push(Lflow::new(
        r.dp(),
        Stage::LrInChkPktLen,
        0,
        "1",
        "next;",
        12776,
    ));
    out.push(Lflow::new(
        r.dp(),
        Stage::LrInLargerPkts,
        0,
        "1",
        "next;",
        12778,
    ));
}

/// Traffic leaving a distributed gateway port goes to its chassisredirect
/// port (priority 50) unless its peer switch has vtep ports; priority 0
/// `next;`. Not handled: the stateless NAT `allowed_ext_ips` /
/// `exempted_ext_ips` flows.
pub fn gw_redirect(r: &RouterCtx, out: &mut Vec<Lflow>) {
    // Ports whose peer switch has vtep ports stay distributed.
    for p in r.l3dgw_ports().filter(|p| !p.peer_vtep) {
        out.push(
            Lflow::new(
                r.dp(),
                Stage::LrInGwRedirect,
                50,
                &format!("outport == {}", p.json_key()),
                &format!("outport = {}; next;", super::cr_json_key(&p.lrp.name)),
                12830,
            )
            .hint(p.lrp.uuid),
        );
    }
    out.push(Lflow::new(
        r.dp(),
        Stage::LrInGwRedirect,
        0,
        "1",
        "next;",
        12872,
    ));
}

/// Neighbor solicitation for IPv6 static-route next hops (priority 200),
/// ARP and ND requests for unresolved next hops (priority 100), output
/// (priority 0).
pub fn arp_request(r: &RouterCtx, out: &mut Vec<Lflow>) {
    let dp = r.dp();
    for route in &r.routes {
        let Some((gw, 128)) = parse_v6_cidr(&route.nexthop) else {
            continue;
        };
        let sn = solicited_node(&gw);
        let o = sn.octets();
        let m = format!(
            "eth.dst == 00:00:00:00:00:00 && ip6 && xxreg0 == {}",
            route.nexthop
        );
        let a = format!(
            "nd_ns {{ eth.dst = 33:33:{:02x}:{:02x}:{:02x}:{:02x}; ip6.dst = {sn}; nd.target = {}; output; }};",
            o[12], o[13], o[14], o[15], route.nexthop
        );
        out.push(
            Lflow::new(dp, Stage::LrInArpRequest, 200, &m, &a, 12921)
                .hint(route.uuid)
                .meter(r.meter("nd-ns-resolve")),
        );
    }
    out.push(Lflow::new(
        dp,
        Stage::LrInArpRequest,
        100,
        "eth.dst == 00:00:00:00:00:00 && ip4",
        "arp { eth.dst = ff:ff:ff:ff:ff:ff; arp.spa = reg1; arp.tpa = reg0; arp.op = 1; output; };",
        12929,
    ).meter(r.meter("arp-resolve")));
    out.push(
        Lflow::new(
            dp,
            Stage::LrInArpRequest,
            100,
            "eth.dst == 00:00:00:00:00:00 && ip6",
            "nd_ns { nd.target = xxreg0; output; };",
            12940,
        )
        .meter(r.meter("nd-ns-resolve")),
    );
    out.push(Lflow::new(
        dp,
        Stage::LrInArpRequest,
        0,
        "1",
        "output;",
        12948,
    ));
}

/// Priority 0 `next;` in the router's load-balancer affinity stages.
pub fn lb_affinity_defaults(r: &RouterCtx, out: &mut Vec<Lflow>) {
    out.push(Lflow::new(
        r.dp(),
        Stage::LrInLbAffCheck,
        0,
        "1",
        "next;",
        7490,
    ));
    out.push(Lflow::new(
        r.dp(),
        Stage::LrInLbAffLearn,
        0,
        "1",
        "next;",
        7491,
    ));
}

/// Enabled ports: priority 100 output, and the default drop.
pub fn delivery_port(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    if !p.lrp.is_enabled() {
        return;
    }
    if r.mcast_relay() {
        // Relayed multicast leaves with the port's MAC as source.
        out.push(Lflow::new(
            r.dp(),
            Stage::LrOutDelivery,
            110,
            &format!("(ip4.mcast || ip6.mcast) && outport == {}", p.json_key()),
            &format!("eth.src = {}; output;", p.net.ea_s),
            12989,
        ));
    }
    out.push(Lflow::new(
        r.dp(),
        Stage::LrOutDelivery,
        100,
        &format!("outport == {}", p.json_key()),
        "output;",
        12995,
    ));
    out.push(Lflow::new(
        r.dp(),
        Stage::LrOutDelivery,
        0,
        "1",
        DROP,
        12998,
    ));
}
