//! What a router port changes on its peer switch, for the switch port of
//! type `router` connected to it: conntrack bypass (`skip_port_from_conntrack()`
//! from `build_pre_acls()` / `build_pre_lb()`), ARP/ND requests for the
//! router's addresses sent only to the router
//! (`build_lswitch_rport_arp_req_flows()`), flooding of the router's own
//! requests (`build_lswitch_rport_arp_req_self_orig_flow()`) and unicast
//! lookup of the `router` address (`build_lswitch_ip_unicast_lookup()`).
//! The ARP/ND responder for the router's addresses comes from the port's
//! `router` address ([`crate::rules::PortCtx::lsp_addrs`]).
//!
//! NAT and VIP addresses, NAT MACs and the chassis checks of distributed
//! gateway ports come from [`super::gateway::PeerNat`].

use crate::rules::{skip_port_from_conntrack, Lflow, PortCtx, DROP};
use crate::stage::Stage;

/// Every switch-side flow of a router-type switch port with a peer.
pub fn router_port_flows(p: &PortCtx, out: &mut Vec<Lflow>) {
    let Some(peer) = &p.router_peer else { return };
    let key = p.json_key();
    let lsp = &p.lsp;
    if p.has_stateful_acl {
        skip_port_from_conntrack(p, Stage::LsInPreAcl, Stage::LsOutPreAcl, out);
    }
    skip_port_from_conntrack(p, Stage::LsInPreLb, Stage::LsOutPreLb, out);

    if peer.enabled {
        let (actions, line) = if p.all_router_ports {
            (format!("outport = {key}; output;"), 8027)
        } else {
            (
                format!("clone {{outport = {key}; output; }}; outport = \"_MC_flood_l2\"; output;"),
                8022,
            )
        };
        let mut req = |m: String| {
            out.push(Lflow::new(p.ls, Stage::LsInL2Lkup, 80, &m, &actions, line).hint(lsp.uuid));
        };
        for (ip, v6) in p.peer_nat.iter().flat_map(|n| n.arp_req.iter()) {
            req(if *v6 {
                format!("flags[1] == 0 && nd_ns && nd.target == {ip}")
            } else {
                format!("flags[1] == 0 && arp.op == 1 && arp.tpa == {ip}")
            });
        }
        for n in &peer.net.ipv4 {
            req(format!(
                "flags[1] == 0 && arp.op == 1 && arp.tpa == {}",
                n.addr_s()
            ));
        }
        for n in &peer.net.ipv6 {
            req(format!(
                "flags[1] == 0 && nd_ns && nd.target == {}",
                n.addr_s()
            ));
        }
        if !p.all_router_ports {
            let self_orig = match &p.peer_nat {
                Some(n) if !n.self_orig_macs.is_empty() => n.self_orig_macs.join(", "),
                _ => peer.net.ea_s.clone(),
            };
            out.push(Lflow::new(
                p.ls,
                Stage::LsInL2Lkup,
                75,
                &format!(
                    "eth.src == {{{}}} && (arp.op == 1 || rarp.op == 3 || nd_ns)",
                    self_orig
                ),
                "outport = \"_MC_flood_l2\"; output;",
                7938,
            ));
        }
    }

    // On a switch with vtep ports, traffic from the VTEP ramp switch
    // reaches a distributed gateway port's ARP/ND hairpin only on its
    // gateway chassis (`build_vtep_hairpin()`).
    if p.switch_has_vtep {
        if let Some(cr) = p.peer_nat.as_ref().and_then(|n| n.dgp_cr.as_ref()) {
            out.push(Lflow::new(
                p.ls,
                Stage::LsInHairpin,
                2000,
                &format!("reg0[14] == 1 && is_chassis_resident({cr})"),
                "next;",
                7705,
            ));
        }
    }

    if lsp.addresses.iter().any(|a| a == "router") {
        let action = if lsp.is_enabled() {
            format!("outport = {key}; output;")
        } else {
            DROP.to_string()
        };
        let resident = match p.peer_nat.as_ref().and_then(|n| n.l2_resident.as_ref()) {
            Some(cr) if p.switch_has_localnet => format!(" && is_chassis_resident({cr})"),
            _ => String::new(),
        };
        out.push(
            Lflow::new(
                p.ls,
                Stage::LsInL2Lkup,
                50,
                &format!("eth.dst == {}{resident}", peer.net.ea_s),
                &action,
                9193,
            )
            .hint(lsp.uuid),
        );
        for (mac, lport) in p.peer_nat.iter().flat_map(|n| n.dnat_macs.iter()) {
            out.push(
                Lflow::new(
                    p.ls,
                    Stage::LsInL2Lkup,
                    50,
                    &format!("eth.dst == {mac} && is_chassis_resident(\"{lport}\")"),
                    &action,
                    9216,
                )
                .hint(lsp.uuid),
            );
        }
    }
}
