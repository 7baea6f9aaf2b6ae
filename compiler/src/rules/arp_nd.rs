//! ARP/ND responder (`ls_in_arp_rsp`): `build_lswitch_arp_nd_responder_default()`,
//! `build_lswitch_arp_nd_responder_skip_local()` and
//! `build_lswitch_arp_nd_responder_known_ips()` in northd.c.
//!
//! With NB_Global `options:ignore_lsp_down` at its default (true), replies are
//! generated whether or not the port is up. Virtual ports get `bind_vport`
//! flows instead ([`super::virtual_port`]). Router ports' proxy ARP is not
//! handled yet.

use super::{Lflow, PortCtx, SwitchCtx};
use crate::stage::Stage;

/// Priority 0 `next;`.
pub fn responder_default(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    out.push(Lflow::new(
        sw.uuid,
        Stage::LsInArpRsp,
        0,
        "1",
        "next;",
        8727,
    ));
}

/// Localnet ports: priority 100 `next;` for requests they bring in.
pub fn skip_local(p: &PortCtx, out: &mut Vec<Lflow>) {
    if p.lsp.type_ == "localnet" {
        out.push(
            Lflow::new(
                p.ls,
                Stage::LsInArpRsp,
                100,
                &format!("inport == {}", p.json_key()),
                "next;",
                8453,
            )
            .io_port(&p.lsp.name)
            .hint(p.lsp.uuid),
        );
    }
}

/// For every IPv4 and IPv6 address of a port without `unknown`: priority 50
/// ARP reply / `nd_na` (`nd_na_router` for router ports), and priority 100
/// `next;` for requests coming from the owning port itself.
pub fn known_ips(p: &PortCtx, out: &mut Vec<Lflow>) {
    let lsp = &p.lsp;
    if lsp.type_ == "virtual" {
        super::virtual_port::bind_vport_flows(p, out);
        return;
    }
    if lsp.type_ == "external" || p.has_unknown() || p.vlan_passthru {
        return;
    }
    let key = p.json_key();
    let na = if lsp.type_ == "router" {
        "nd_na_router"
    } else {
        "nd_na"
    };
    for a in p.lsp_addrs() {
        let ea = &a.ea_s;
        for ip in &a.ipv4 {
            let m = format!("arp.tpa == {ip} && arp.op == 1");
            let actions = format!(
                "eth.dst = eth.src; eth.src = {ea}; arp.op = 2; /* ARP reply */ \
                 arp.tha = arp.sha; arp.sha = {ea}; arp.tpa = arp.spa; \
                 arp.spa = {ip}; outport = inport; flags.loopback = 1; output;"
            );
            out.push(Lflow::new(p.ls, Stage::LsInArpRsp, 50, &m, &actions, 8601).hint(lsp.uuid));
            out.push(
                Lflow::new(
                    p.ls,
                    Stage::LsInArpRsp,
                    100,
                    &format!("{m} && inport == {key}"),
                    "next;",
                    8620,
                )
                .io_port(&lsp.name)
                .hint(lsp.uuid),
            );
        }
        for (ip, sn) in &a.ipv6 {
            let m = format!("nd_ns && ip6.dst == {{{ip}, {sn}}} && nd.target == {ip}");
            let actions = format!(
                "{na} {{ eth.src = {ea}; ip6.src = {ip}; nd.target = {ip}; \
                 nd.tll = {ea}; outport = inport; flags.loopback = 1; output; }};"
            );
            out.push(
                Lflow::new(p.ls, Stage::LsInArpRsp, 50, &m, &actions, 8654)
                    .hint(lsp.uuid)
                    .meter(super::copp::meter(&p.copp, "nd-na")),
            );
            out.push(
                Lflow::new(
                    p.ls,
                    Stage::LsInArpRsp,
                    100,
                    &format!("{m} && inport == {key}"),
                    "next;",
                    8667,
                )
                .io_port(&lsp.name)
                .hint(lsp.uuid),
            );
        }
    }
}
