//! SB `Multicast_Group` membership of switch ports (`build_mcast_groups()`
//! and `build_lswitch_ip_unicast_lookup()` in northd.c). A group row exists
//! on a datapath as soon as one port joins it.

use super::{copp, Lflow, PortCtx};
use crate::ids;
use crate::nb::Switch;
use crate::sb::IpMulticast;
use crate::stage::Stage;

/// `_MC_flood`: every enabled port.
pub const MC_FLOOD: (&str, u32) = ("_MC_flood", 32768);
/// `_MC_unknown`: enabled ports with the `unknown` address.
pub const MC_UNKNOWN: (&str, u32) = ("_MC_unknown", 32769);
/// `_MC_mrouter_flood`: enabled ports with `options:mcast_flood_reports=true`
/// and router ports whose router relays multicast (`mcast_relay`).
pub const MC_MROUTER_FLOOD: (&str, u32) = ("_MC_mrouter_flood", 32770);
/// `_MC_static`: enabled ports with `options:mcast_flood=true`.
pub const MC_STATIC: (&str, u32) = ("_MC_static", 32771);
/// `_MC_flood_l2`: enabled ports that are not router ports.
pub const MC_FLOOD_L2: (&str, u32) = ("_MC_flood_l2", 32772);

/// The groups (name, tunnel key) a switch port joins.
pub fn port_groups(p: &PortCtx) -> Vec<(&'static str, u32)> {
    let lsp = &p.lsp;
    if !lsp.is_enabled() {
        return Vec::new();
    }
    let mut out = vec![MC_FLOOD];
    if lsp.type_ != "router" {
        out.push(MC_FLOOD_L2);
    }
    let relay = p.router_peer.as_ref().is_some_and(|r| r.mcast_relay);
    if relay || lsp.option_true("mcast_flood_reports") {
        out.push(MC_MROUTER_FLOOD);
    }
    if lsp.option_true("mcast_flood") {
        out.push(MC_STATIC);
    }
    if p.has_unknown() {
        out.push(MC_UNKNOWN);
    }
    out
}

/// The `IP_Multicast` row of a switch (`build_ip_mcast()`,
/// `store_mcast_info_for_switch_datapath()`).
pub fn ip_multicast(sw: &Switch) -> IpMulticast {
    let m = &sw.mcast;
    IpMulticast {
        uuid: ids::derive("IP_Multicast", &[sw.uuid.as_bytes()]),
        datapath: ids::datapath_uuid(sw.uuid),
        enabled: m.enabled,
        querier: m.querier,
        table_size: m.table_size,
        idle_timeout: m.idle_timeout,
        query_interval: m.query_interval,
        query_max_resp: m.query_max_response,
        eth_src: m.eth_src.clone().unwrap_or_default(),
        ip4_src: m.ip4_src.clone().unwrap_or_default(),
        ip6_src: m.ip6_src.clone().unwrap_or_default(),
    }
}

/// `build_interconn_mcast_snoop_flows()`: on an interconnect transit switch
/// that snoops multicast, IGMP and MLD arriving from a `remote` port (the
/// other availability zones) are punted to ovn-controller
/// (`clone { igmp; }`) in `ls_out_pre_lb` priority 120, under the switch's
/// CoPP `igmp` meter.
pub fn interconn_remote_port(p: &PortCtx, out: &mut Vec<Lflow>) {
    if !p.switch_interconn_mcast || p.lsp.type_ != "remote" {
        return;
    }
    let meter = copp::meter(&p.copp, "igmp");
    let key = p.json_key();
    for (m, line) in [
        (format!("inport == {key} && igmp"), 6009),
        (format!("inport == {key} && (mldv1 || mldv2)"), 6017),
    ] {
        out.push(
            Lflow::new(
                p.ls,
                Stage::LsOutPreLb,
                120,
                &m,
                "clone { igmp; }; next;",
                line,
            )
            .meter(meter.clone()),
        );
    }
}
