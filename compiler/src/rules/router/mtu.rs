//! `gateway_mtu` on router ports: `build_gateway_mtu_flow()` (the packet
//! length check added to admission and `lr_in_chk_pkt_len` flows, with the
//! `gateway_mtu_bypass` exception), `build_check_pkt_len_flows_for_lrp()`
//! and `build_icmperr_pkt_big_flows()` (ICMPv4 "fragmentation needed" /
//! ICMPv6 "packet too big" in `lr_in_ip_input` and `lr_in_larger_pkts`), and
//! `build_lrouter_ingress_nat_check_pkt_len()` for distributed NAT.

use ovsdb::Uuid;

use super::{LrpCtx, RouterCtx};
use crate::rules::Lflow;
use crate::stage::Stage;

/// `smap_get_int(&options, "gateway_mtu", 0)`.
pub fn gateway_mtu(p: &LrpCtx) -> i64 {
    p.lrp
        .option("gateway_mtu")
        .and_then(|v| v.trim().parse::<i32>().ok())
        .map(i64::from)
        .unwrap_or(0)
}

/// `build_gateway_get_l2_hdr_size()`: 18 when the peer switch has a
/// localnet port with a VLAN (`tag_request`), else 14.
fn l2_hdr_size(p: &LrpCtx) -> i64 {
    if p.peer_localnet_vlan {
        18
    } else {
        14
    }
}

/// `build_gateway_mtu_flow()` for port `p`: the flow at `prio_low` with
/// `reg9[1] = check_pkt_larger(mtu + L2 header)` before `extra` when the
/// port has a `gateway_mtu`, and then for `gateway_mtu_bypass` the flow at
/// `prio_high` matching the bypass without the check.
#[allow(clippy::too_many_arguments)]
pub fn gateway_mtu_flow(
    r: &RouterCtx,
    p: &LrpCtx,
    stage: Stage,
    prio_low: u16,
    prio_high: u16,
    m: &str,
    extra: &str,
    hint: Uuid,
    out: &mut Vec<Lflow>,
) {
    let mtu = gateway_mtu(p);
    let a = if mtu > 0 {
        format!(
            "reg9[1] = check_pkt_larger({}); {extra}",
            mtu + l2_hdr_size(p)
        )
    } else {
        extra.to_string()
    };
    out.push(Lflow::new(r.dp(), stage, prio_low, m, &a, 11554).hint(hint));
    if mtu > 0 {
        if let Some(bypass) = p.lrp.option("gateway_mtu_bypass") {
            let m = format!("{m} && ({bypass})");
            out.push(Lflow::new(r.dp(), stage, prio_high, &m, extra, 11566).hint(hint));
        }
    }
}

/// `build_icmperr_pkt_big_flows()`: ICMP errors for packets entering on
/// `op` (to `outport`, if given) that are larger than `mtu`.
fn pkt_big(
    r: &RouterCtx,
    op: &LrpCtx,
    mtu: i64,
    stage: Stage,
    outport: Option<&LrpCtx>,
    out: &mut Vec<Lflow>,
) {
    let key = op.json_key();
    let to = outport
        .map(|o| format!("outport == {} && ", o.json_key()))
        .unwrap_or_default();
    let admission = Stage::LrInAdmission.table();
    let ea = &op.net.ea_s;
    if let Some(v4) = op.net.ipv4.first() {
        let m = format!("inport == {key} && {to}ip4 && reg9[1] && reg9[0] == 0");
        let a = format!(
            "icmp4_error {{reg9[0] = 1; reg9[1] = 0; eth.dst = {ea}; ip4.dst = ip4.src; \
             ip4.src = {}; ip.ttl = 255; icmp4.type = 3; /* Destination Unreachable. */ \
             icmp4.code = 4; /* Frag Needed and DF was Set. */ icmp4.frag_mtu = {mtu}; \
             next(pipeline=ingress, table={admission}); }};",
            v4.addr_s()
        );
        out.push(
            Lflow::new(r.dp(), stage, 150, &m, &a, 12669)
                .hint(op.lrp.uuid)
                .meter(r.meter("icmp4-error")),
        );
    }
    if let Some(v6) = op.net.ipv6.first() {
        let m = format!("inport == {key} && {to}ip6 && reg9[1] && reg9[0] == 0");
        let a = format!(
            "icmp6_error {{reg9[0] = 1; reg9[1] = 0; eth.dst = {ea}; ip6.dst = ip6.src; \
             ip6.src = {}; ip.ttl = 255; icmp6.type = 2; /* Packet Too Big. */ \
             icmp6.code = 0; icmp6.frag_mtu = {mtu}; \
             next(pipeline=ingress, table={admission}); }};",
            v6.addr_s()
        );
        out.push(
            Lflow::new(r.dp(), stage, 150, &m, &a, 12702)
                .hint(op.lrp.uuid)
                .meter(r.meter("icmp6-error")),
        );
    }
}

/// `build_check_pkt_len_flows_for_lrp()` for every port of the router with
/// a positive `gateway_mtu`: the length check of traffic to it, the ICMP
/// error for traffic entering on it (`lr_in_ip_input`) and for traffic
/// from each other port to it (`lr_in_larger_pkts`).
pub fn check_pkt_len(r: &RouterCtx, out: &mut Vec<Lflow>) {
    for p in &r.ports {
        let mtu = gateway_mtu(p);
        if mtu <= 0 {
            continue;
        }
        let m = format!("outport == {}", p.json_key());
        gateway_mtu_flow(
            r,
            p,
            Stage::LrInChkPktLen,
            50,
            55,
            &m,
            "next;",
            p.lrp.uuid,
            out,
        );
        pkt_big(r, p, mtu, Stage::LrInIpInput, None, out);
        for q in r.ports.iter().filter(|q| q.lrp.uuid != p.lrp.uuid) {
            pkt_big(r, q, mtu, Stage::LrInLargerPkts, Some(p), out);
        }
    }
}

/// `build_lrouter_ingress_nat_check_pkt_len()`: on the distributed gateway
/// port `dgp` with a `gateway_mtu`, the ICMP error answering from the
/// distributed NAT's external address and MAC (`lr_in_ip_input` 160).
#[allow(clippy::too_many_arguments)]
pub fn nat_pkt_too_big(
    r: &RouterCtx,
    dgp: &LrpCtx,
    nat: Uuid,
    external_ip: &str,
    external_mac: &str,
    v6: bool,
    out: &mut Vec<Lflow>,
) {
    let mtu = gateway_mtu(dgp);
    if mtu == 0 {
        return;
    }
    let key = dgp.json_key();
    let base = format!("inport == {key} && reg9[1] && reg9[0] == 0");
    let (m, a, line, proto) = if v6 {
        (
            format!("{base} && ip6 && ip6.dst == {external_ip}"),
            format!(
                "icmp6_error {{reg9[0] = 1; reg9[1] = 0; eth.dst = eth.src; eth.src = {external_mac}; \
                 ip6.dst = ip6.src; ip6.src = {external_ip}; ip.ttl = 254; icmp6.type = 2; \
                 /* Packet Too Big. */ icmp6.code = 0; icmp6.frag_mtu = {mtu}; \
                 outport = {key}; flags.loopback = 1; output; }};"
            ),
            14042,
            "icmp6-error",
        )
    } else {
        (
            format!("{base} && ip4 && ip4.dst == {external_ip}"),
            format!(
                "icmp4_error {{reg9[0] = 1; reg9[1] = 0; eth.dst = eth.src; eth.src = {external_mac}; \
                 ip4.dst = ip4.src; ip4.src = {external_ip}; ip.ttl = 254; icmp4.type = 3; \
                 /* Destination Unreachable. */ icmp4.code = 4; /* Frag Needed and DF was Set. */ \
                 icmp4.frag_mtu = {mtu}; outport = {key}; flags.loopback = 1; output; }};"
            ),
            14015,
            "icmp4-error",
        )
    };
    out.push(
        Lflow::new(r.dp(), Stage::LrInIpInput, 160, &m, &a, line)
            .hint(nat)
            .meter(r.meter(proto)),
    );
}
