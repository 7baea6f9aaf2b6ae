//! `lr_in_ip_input`: `build_misc_local_traffic_drop_flows_for_lrouter()`,
//! `build_dhcpv6_reply_flows_for_lrouter_port()`,
//! `build_ipv6_input_flows_for_lrouter_port()`,
//! `build_lrouter_ipv4_ip_input()` and `build_lrouter_drop_own_dest()` in
//! northd.c: replies to ARP, ND and pings for the router's own addresses,
//! ICMP errors (port unreachable, time exceeded), and drops.
//!
//! VIP and NAT responders are in [`super::nat_arp`]. Not handled yet:
//! distributed gateway ports' chassis checks.

use super::{LrpCtx, RouterCtx};
use crate::rules::{Lflow, DROP};
use crate::stage::Stage;

/// Router-level drops and defaults (priorities 100 down to 0).
pub fn misc_drops(r: &RouterCtx, out: &mut Vec<Lflow>) {
    let dp = r.dp();
    let s = Stage::LrInIpInput;
    // IGMP and MLD (TTL 1) go on when some port floods them statically.
    if r.mcast_flood_static() {
        out.push(Lflow::new(
            dp,
            s,
            120,
            "igmp && ip.ttl == 1",
            "next;",
            13012,
        ));
        out.push(Lflow::new(
            dp,
            s,
            120,
            "(mldv1 || mldv2) && ip.ttl == 1",
            "next;",
            13014,
        ));
    }
    out.push(Lflow::new(
        dp,
        s,
        100,
        "ip4.src_mcast ||ip4.src == 255.255.255.255 || ip4.src == 127.0.0.0/8 || \
         ip4.dst == 127.0.0.0/8 || ip4.src == 0.0.0.0/8 || ip4.dst == 0.0.0.0/8",
        DROP,
        13021,
    ));
    out.push(Lflow::new(dp, s, 85, "arp || nd", DROP, 13035));
    out.push(Lflow::new(dp, s, 84, "nd_rs || nd_ra", "next;", 13041));
    out.push(Lflow::new(dp, s, 83, "ip6.mcast_rsvd", DROP, 13045));
    // Other multicast goes on only when the router relays it.
    let mcast = if r.mcast_relay() { "next;" } else { DROP };
    out.push(Lflow::new(
        dp,
        s,
        82,
        "ip4.mcast || ip6.mcast",
        mcast,
        13049,
    ));
    out.push(Lflow::new(dp, s, 50, "eth.bcast", DROP, 13056));
    out.push(Lflow::new(
        dp,
        s,
        32,
        "ip.ttl == {0, 1} && !ip.later_frag && (ip4.mcast || ip6.mcast)",
        DROP,
        13073,
    ));
    out.push(Lflow::new(dp, s, 30, "ip.ttl == {0, 1}", DROP, 13078));
    out.push(Lflow::new(dp, s, 0, "1", "next;", 13083));
}

/// DHCPv6 replies to each IPv6 address of the port go to the controller.
pub fn dhcpv6_reply(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    for n in &p.net.ipv6 {
        out.push(Lflow::new(
            r.dp(),
            Stage::LrInIpInput,
            100,
            &format!(
                "ip6.dst == {} && udp.src == 547 && udp.dst == 546",
                n.addr_s()
            ),
            "reg0 = 0; handle_dhcpv6_reply;",
            13098,
        ));
    }
}

fn hinted(r: &RouterCtx, p: &LrpCtx, prio: u16, m: &str, a: &str, line: u32) -> Lflow {
    Lflow::new(r.dp(), Stage::LrInIpInput, prio, m, a, line).hint(p.lrp.uuid)
}

/// The chassis check of ARP replies for a port's own addresses when the
/// router has distributed gateway ports and the port's peer switch has a
/// localnet port: a distributed gateway port answers on its gateway
/// chassis; a port with `reside-on-redirect-chassis` on the chassis of the
/// router's only distributed gateway port.
fn arp_reply_resident(r: &RouterCtx, p: &LrpCtx) -> String {
    if r.n_l3dgw_ports() == 0 || p.peer.is_none() || !p.peer_localnet {
        return String::new();
    }
    if p.is_dgp() {
        return p.resident_suffix();
    }
    let reside = crate::nb::smap_get_bool(&p.lrp.options, "reside-on-redirect-chassis", false);
    match r.l3dgw_ports().next() {
        Some(g) if reside && r.n_l3dgw_ports() == 1 => g.resident_suffix(),
        _ => String::new(),
    }
}

/// Whether port-unreachable replies are generated (not on gateway routers
/// nor on routers with distributed gateway ports).
fn port_unreachable(r: &RouterCtx) -> bool {
    !r.is_gw_router() && r.n_l3dgw_ports() == 0
}

/// IPv6 on a port: echo replies, ND replies for the port's addresses, port
/// unreachable, time exceeded (not for the link-local network).
pub fn ipv6_input(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    let key = p.json_key();
    let net = &p.net;
    if !net.ipv6.is_empty() {
        let m = format!(
            "ip6.dst == {} && icmp6.type == 128 && icmp6.code == 0",
            net.v6_set()
        );
        out.push(hinted(
            r,
            p,
            90,
            &m,
            "ip6.dst <-> ip6.src; ip.ttl = 255; icmp6.type = 129; flags.loopback = 1; next; ",
            13129,
        ));
    }
    for n in &net.ipv6 {
        let a = n.addr_s();
        // Only the gateway chassis answers for a distributed gateway port.
        let m = format!(
            "inport == {key} && ip6.dst == {{{a}, {}}} && nd_ns && nd.target == {a}{}",
            n.sn_addr_s(),
            p.resident_suffix()
        );
        out.push(hinted(
            r,
            p,
            90,
            &m,
            "nd_na_router { eth.src = xreg0[0..47]; ip6.src = nd.target; nd.tll = xreg0[0..47]; \
             outport = inport; flags.loopback = 1; output; };",
            11171,
        ).meter(r.meter("nd-na")));
    }
    if port_unreachable(r) {
        for n in &net.ipv6 {
            let a = n.addr_s();
            let base = format!("ip6 && ip6.dst == {a} && !ip.later_frag");
            out.push(
                hinted(
                    r,
                    p,
                    80,
                    &format!("{base} && tcp"),
                    "tcp_reset {eth.dst <-> eth.src; ip6.dst <-> ip6.src; next; };",
                    13166,
                )
                .meter(r.meter("tcp-reset")),
            );
            out.push(
                hinted(
                    r,
                    p,
                    80,
                    &format!("{base} && sctp"),
                    "sctp_abort {eth.dst <-> eth.src; ip6.dst <-> ip6.src; next; };",
                    13182,
                )
                .meter(r.meter("tcp-reset")),
            );
            out.push(hinted(
                r,
                p,
                80,
                &format!("{base} && udp"),
                "icmp6 {eth.dst <-> eth.src; ip6.dst <-> ip6.src; ip.ttl = 255; icmp6.type = 1; \
                 icmp6.code = 4; next; };",
                13201,
            ).meter(r.meter("icmp6-error")));
            out.push(hinted(
                r,
                p,
                70,
                &base,
                "icmp6 {eth.dst <-> eth.src; ip6.dst <-> ip6.src; ip.ttl = 255; icmp6.type = 1; \
                 icmp6.code = 3; next; };",
                13220,
            ).meter(r.meter("icmp6-error")));
        }
    }
    for n in net.ipv6.iter().filter(|n| !n.is_lla()) {
        let ip = if p.is_dgp() {
            "ip6.dst <-> ip6.src".to_string()
        } else {
            format!("ip6.dst = ip6.src; ip6.src = {}", n.addr_s())
        };
        let m = format!(
            "inport == {key} && ip6 && ip6.src == {}/{} && ip.ttl == {{0, 1}} && !ip.later_frag",
            n.network_s(),
            n.plen
        );
        let a = format!(
            "icmp6 {{eth.dst <-> eth.src; {ip} ; ip.ttl = 254; icmp6.type = 3; /* Time exceeded */ \
             icmp6.code = 0; /* TTL exceeded in transit */ outport = {key}; flags.loopback = 1; output; }};"
        );
        out.push(hinted(r, p, 31, &m, &a, 13262).meter(r.meter("icmp6-error")));
    }
}

/// IPv4 on a port: drops of the router's own and broadcast source
/// addresses, echo replies, time exceeded, ARP replies, port unreachable,
/// and drops of traffic to the router's addresses (priority 60).
pub fn ipv4_input(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    let key = p.json_key();
    let net = &p.net;
    if !net.ipv4.is_empty() {
        out.push(hinted(
            r,
            p,
            100,
            &format!("ip4.src == {} && reg9[0] == 0", net.v4_set(true)),
            DROP,
            13340,
        ));
        out.push(hinted(
            r,
            p,
            90,
            &format!(
                "ip4.dst == {} && icmp4.type == 8 && icmp4.code == 0",
                net.v4_set(false)
            ),
            "ip4.dst <-> ip4.src; ip.ttl = 255; icmp4.type = 0; flags.loopback = 1; next; ",
            13359,
        ));
    }
    for n in &net.ipv4 {
        let ip = if p.is_dgp() {
            "ip4.dst <-> ip4.src".to_string()
        } else {
            format!("ip4.dst = ip4.src; ip4.src = {}", n.addr_s())
        };
        let m = format!("inport == {key} && ip4 && ip.ttl == {{0, 1}} && !ip.later_frag");
        let a = format!(
            "icmp4 {{eth.dst <-> eth.src; icmp4.type = 11; /* Time exceeded */ icmp4.code = 0; \
             /* TTL exceeded in transit */ {ip} ; ip.ttl = 254; outport = {key}; \
             flags.loopback = 1; output; }};"
        );
        out.push(hinted(r, p, 31, &m, &a, 13390).meter(r.meter("icmp4-error")));
    }
    let resident = arp_reply_resident(r, p);
    for n in &net.ipv4 {
        let m = format!(
            "inport == {key} && arp.op == 1 && arp.tpa == {} && arp.spa == {}/{}{resident}",
            n.addr_s(),
            n.network_s(),
            n.plen
        );
        out.push(hinted(
            r,
            p,
            90,
            &m,
            "eth.dst = eth.src; eth.src = xreg0[0..47]; arp.op = 2; /* ARP reply */ \
             arp.tha = arp.sha; arp.sha = xreg0[0..47]; arp.tpa <-> arp.spa; \
             outport = inport; flags.loopback = 1; output;",
            11115,
        ));
    }
    super::nat_arp::port_responders(r, p, out);
    if port_unreachable(r) {
        for n in &net.ipv4 {
            let base = format!("ip4 && ip4.dst == {} && !ip.later_frag", n.addr_s());
            out.push(hinted(
                r,
                p,
                80,
                &format!("{base} && udp"),
                "icmp4 {eth.dst <-> eth.src; ip4.dst <-> ip4.src; ip.ttl = 255; icmp4.type = 3; \
                 icmp4.code = 3; next; };",
                13494,
            ).meter(r.meter("icmp4-error")));
            out.push(
                hinted(
                    r,
                    p,
                    80,
                    &format!("{base} && tcp"),
                    "tcp_reset {eth.dst <-> eth.src; ip4.dst <-> ip4.src; next; };",
                    13510,
                )
                .meter(r.meter("tcp-reset")),
            );
            out.push(
                hinted(
                    r,
                    p,
                    80,
                    &format!("{base} && sctp"),
                    "sctp_abort {eth.dst <-> eth.src; ip4.dst <-> ip4.src; next; };",
                    13526,
                )
                .meter(r.meter("tcp-reset")),
            );
            out.push(hinted(
                r,
                p,
                70,
                &base,
                "icmp4 {eth.dst <-> eth.src; ip4.dst <-> ip4.src; ip.ttl = 255; icmp4.type = 3; \
                 icmp4.code = 2; next; };",
                13545,
            ).meter(r.meter("icmp4-error")));
        }
    }
    if !r.lb_force_snat_router_ip() {
        super::nat_arp::drop_own_dest(r, p, Stage::LrInIpInput, 60, false, out);
    }
    super::nat_arp::dgp_nat_responders(r, p, out);
}

/// BFD control packets (`build_lrouter_bfd_flows()`), for a port some NB
/// `BFD` row names: those from the port's addresses pass, those to them go
/// to ovn-controller (`handle_bfd_msg()`, under the router's CoPP `bfd`
/// meter).
pub fn bfd(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    if !p.has_bfd {
        return;
    }
    let meter = r.meter("bfd");
    let mut add = |m: String, a: &str, line| {
        let f = hinted(r, p, 110, &m, a, line);
        // Only the flows punting to ovn-controller are metered.
        let f = if a.starts_with("handle_bfd_msg") {
            f.meter(meter.clone())
        } else {
            f
        };
        out.push(f)
    };
    if !p.net.ipv4.is_empty() {
        let ips = p.net.v4_set(false);
        add(
            format!("ip4.src == {ips} && udp.dst == 3784"),
            "next; ",
            11455,
        );
        add(
            format!("ip4.dst == {ips} && udp.dst == 3784"),
            "handle_bfd_msg(); ",
            11461,
        );
    }
    if !p.net.ipv6.is_empty() {
        let ips = p.net.v6_set();
        add(
            format!("ip6.src == {ips} && udp.dst == 3784"),
            "next; ",
            11474,
        );
        add(
            format!("ip6.dst == {ips} && udp.dst == 3784"),
            "handle_bfd_msg(); ",
            11480,
        );
    }
}
