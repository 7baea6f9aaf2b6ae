//! DHCP/DNS defaults and destination lookup (`ls_in_dhcp_*`, `ls_in_dns_*`,
//! `ls_in_external_port`, `ls_in_l2_lkup`, `ls_in_l2_unknown`):
//! `build_lswitch_dhcp_and_dns_defaults()`,
//! `build_lswitch_destination_lookup_bmcast()`,
//! `build_lswitch_ip_unicast_lookup()` and `build_lswitch_flows()` in northd.c.
//!
//! Flows for learned IGMP groups, DHCP options, DNS records, dynamic
//! addresses and router ports are not handled yet.

use super::{addr, Lflow, PortCtx, SwitchCtx, DROP};
use crate::stage::Stage;

/// Priority 0 `next;` in the DHCP, DNS and external-port stages.
pub fn dhcp_and_dns_defaults(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    out.push(Lflow::new(
        dp,
        Stage::LsInDhcpOptions,
        0,
        "1",
        "next;",
        8863,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsInDhcpResponse,
        0,
        "1",
        "next;",
        8864,
    ));
    out.push(Lflow::new(dp, Stage::LsInDnsLookup, 0, "1", "next;", 8865));
    out.push(Lflow::new(
        dp,
        Stage::LsInDnsResponse,
        0,
        "1",
        "next;",
        8866,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsInExternalPort,
        0,
        "1",
        "next;",
        8867,
    ));
}

/// With DNS records (`build_lswitch_dns_lookup_and_response()`):
/// `ls_in_dns_lookup` priority 100 `dns_lookup()`, and `ls_in_dns_response`
/// priority 100 answering over IPv4 and IPv6.
pub fn dns_lookup_and_response(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    if !sw.has_dns_records {
        return;
    }
    let dp = sw.uuid;
    out.push(
        Lflow::new(
            dp,
            Stage::LsInDnsLookup,
            100,
            "udp.dst == 53",
            "reg0[4] = dns_lookup(); next;",
            8880,
        )
        .meter(super::copp::meter(&sw.copp, "dns")),
    );
    let m = "udp.dst == 53 && reg0[4]";
    for (ip, line) in [("ip4", 8889), ("ip6", 8894)] {
        let a = format!(
            "eth.dst <-> eth.src; {ip}.src <-> {ip}.dst; udp.dst = udp.src; udp.src = 53; outport = inport; \
             flags.loopback = 1; output;"
        );
        out.push(Lflow::new(dp, Stage::LsInDnsResponse, 100, m, &a, line));
    }
}

/// `ls_in_l2_lkup` (`build_lswitch_destination_lookup_bmcast()`): priority
/// 110 service-monitor punt; with IGMP/MLD snooping, priority 100 punting
/// IGMP/MLD to the controller, priority 85 flooding of link-local
/// multicast, and priority 80 for unregistered IP multicast (to
/// `_MC_static` when some port floods multicast, else dropped, unless
/// `mcast_flood_unregistered`); priority 70 flooding of
/// broadcast/multicast to `_MC_flood`. (Relay to multicast routers needs
/// routers.)
pub fn destination_lookup_bmcast(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    out.push(
        Lflow::new(
            dp,
            Stage::LsInL2Lkup,
            110,
            "eth.dst == $svc_monitor_mac && (tcp || icmp || icmp6)",
            "handle_svc_check(inport);",
            8926,
        )
        .meter(super::copp::meter(&sw.copp, "svc-monitor")),
    );
    if sw.mcast_snoop {
        out.push(
            Lflow::new(dp, Stage::LsInL2Lkup, 100, "igmp", "igmp;", 8938)
                .meter(super::copp::meter(&sw.copp, "igmp")),
        );
        out.push(
            Lflow::new(dp, Stage::LsInL2Lkup, 100, "mldv1 || mldv2", "igmp;", 8944)
                .meter(super::copp::meter(&sw.copp, "igmp")),
        );
        out.push(Lflow::new(
            dp,
            Stage::LsInL2Lkup,
            85,
            "ip4.mcast && ip4.dst == 224.0.0.0/24",
            "outport = \"_MC_flood_l2\"; output;",
            8952,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsInL2Lkup,
            85,
            "ip6.mcast_flood",
            "outport = \"_MC_flood\"; output;",
            8959,
        ));
        if !sw.mcast_flood_unregistered {
            // Unregistered IP multicast goes to relaying routers and to
            // statically flooding ports, else is dropped.
            let mut action = String::new();
            if sw.mcast_flood_relay {
                action.push_str("clone { outport = \"_MC_mrouter_flood\"; output; }; ");
            }
            if sw.mcast_flood_static {
                action.push_str("outport =\"_MC_static\"; output;");
            }
            if !sw.mcast_flood_relay && !sw.mcast_flood_static {
                action.push_str(DROP);
            }
            out.push(Lflow::new(
                dp,
                Stage::LsInL2Lkup,
                80,
                "ip4.mcast || ip6.mcast",
                &action,
                8991,
            ));
        }
    }
    out.push(Lflow::new(
        dp,
        Stage::LsInL2Lkup,
        70,
        "eth.mcast",
        "outport = \"_MC_flood\"; output;",
        8997,
    ));
}

/// `ls_in_l2_lkup` priority 0 `get_fdb`, `ls_in_l2_unknown` priority 50 for
/// `outport == "none"` (to `_MC_unknown` if some port has `unknown`, else
/// drop) and priority 0 `output;` (`build_lswitch_flows()`).
pub fn unknown_lookup(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    out.push(Lflow::new(
        dp,
        Stage::LsInL2Lkup,
        0,
        "1",
        "outport = get_fdb(eth.dst); next;",
        8373,
    ));
    if sw.has_unknown {
        out.push(Lflow::new(
            dp,
            Stage::LsInL2Unknown,
            50,
            "outport == \"none\"",
            "outport = \"_MC_unknown\"; output;",
            8377,
        ));
    } else {
        out.push(Lflow::new(
            dp,
            Stage::LsInL2Unknown,
            50,
            "outport == \"none\"",
            DROP,
            8381,
        ));
    }
    out.push(Lflow::new(
        dp,
        Stage::LsInL2Unknown,
        0,
        "1",
        "output;",
        8384,
    ));
}

/// `ls_in_l2_lkup` priority 50: for every `addresses` entry starting with a
/// MAC, `eth.dst == MAC` → `outport = PORT; output;` (drop if the port is
/// disabled). External ports get none.
pub fn unicast_lookup(p: &PortCtx, out: &mut Vec<Lflow>) {
    let lsp = &p.lsp;
    if lsp.type_ == "external" {
        return;
    }
    let key = p.json_key();
    let action = if lsp.is_enabled() {
        format!("outport = {key}; output;")
    } else {
        DROP.to_string()
    };
    for a in &lsp.addresses {
        if let Some(mac) = addr::leading_mac(a) {
            out.push(
                Lflow::new(
                    p.ls,
                    Stage::LsInL2Lkup,
                    50,
                    &format!("eth.dst == {mac}"),
                    &action,
                    9122,
                )
                .hint(lsp.uuid),
            );
        }
    }
}
