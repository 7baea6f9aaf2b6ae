//! Virtual ports (`type=virtual`, `options:virtual-ip`,
//! `options:virtual-parents`): the `bind_vport` flows of
//! `build_lswitch_arp_nd_responder_known_ips()` and the unclaimed-port
//! branch of `build_arp_resolve_flows_for_lrouter_port()` in northd.c.
//!
//! A virtual port is bound by ovn-controller to whichever of its parents
//! sends a GARP / ARP reply (IPv4) or an NS / unsolicited NA (IPv6) for the
//! virtual IP. Northd writes no ARP/ND responder for the virtual port's own
//! addresses; instead, per parent on the same switch, a priority-100
//! `ls_in_arp_rsp` flow `bind_vport(VPORT, inport); next;` tagged with the
//! parent. Routers on the switch resolve the virtual IP to
//! `00:00:00:00:00:00` while the port is unclaimed (SB
//! `Port_Binding:virtual_parent` or `chassis` empty: always so for northd
//! without ovn-controller), so that `lr_in_arp_request` asks for it; once
//! ovn-controller has claimed it for a parent (read back from the SB,
//! [`crate::sb_input`]), to the parent's MAC ([`arp_resolve_claimed`]).

use std::net::{Ipv4Addr, Ipv6Addr};

use ovsdb::Uuid;

use super::router::SwitchRouterPort;
use super::{addr, Lflow, PortCtx};
use crate::nb::Lsp;
use crate::stage::Stage;

/// The port's virtual IP when it is a virtual port with both
/// `options:virtual-ip` (a valid address) and `options:virtual-parents`:
/// `(text as configured, is IPv4)`. Like northd, an address with a `.` is
/// read as IPv4, anything else as IPv6.
pub fn virtual_ip(lsp: &Lsp) -> Option<(&str, bool)> {
    if lsp.type_ != "virtual" {
        return None;
    }
    let vip = lsp.option("virtual-ip")?;
    lsp.option("virtual-parents")?;
    let is_ipv4 = vip.contains('.');
    let valid = if is_ipv4 {
        vip.parse::<Ipv4Addr>().is_ok()
    } else {
        vip.parse::<Ipv6Addr>().is_ok()
    };
    valid.then_some((vip, is_ipv4))
}

/// The names listed in `options:virtual-parents`, in order
/// (`strtok_r(…, ",")`: empty fields skipped, no trimming).
pub fn parent_names(lsp: &Lsp) -> Vec<String> {
    if lsp.type_ != "virtual" {
        return Vec::new();
    }
    lsp.option("virtual-parents")
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A parent of a virtual port found on the virtual port's switch: its name
/// and NB row (the flow's `stage-hint`).
pub type Parent = (String, Uuid);

/// `ls_in_arp_rsp` priority 100, per parent on the same switch (unknown
/// parents and parents on other switches are skipped): bind the virtual
/// port on the GARP / ARP reply (IPv4) or NS / NA (IPv6) for its IP.
pub fn bind_vport_flows(p: &PortCtx, out: &mut Vec<Lflow>) {
    let Some((vip, is_ipv4)) = virtual_ip(&p.lsp) else {
        return;
    };
    let m_tail = if is_ipv4 {
        format!(
            "((arp.op == 1 && arp.spa == {vip} && arp.tpa == {vip}) || \
             (arp.op == 2 && arp.spa == {vip}))"
        )
    } else {
        let Ok(ip) = vip.parse::<Ipv6Addr>() else {
            return;
        };
        let sn = addr::solicited_node(&ip);
        // No space before the second alternative, as northd writes it.
        format!("((nd_ns && ip6.dst == {{{vip}, {sn}}} && nd.target == {vip}) ||(nd_na && nd.target == {vip}))")
    };
    let actions = format!("bind_vport({}, inport); next;", p.json_key());
    for (name, uuid) in &p.virtual_parents {
        out.push(
            Lflow::new(
                p.ls,
                Stage::LsInArpRsp,
                100,
                &format!("inport == \"{name}\" && {m_tail}"),
                &actions,
                8553,
            )
            .io_port(name)
            .hint(*uuid),
        );
    }
}

/// `lr_in_arp_resolve` priority 100 for an unclaimed virtual port `p`
/// (no `virtual_parent` in the SB): in the router behind the first router
/// port of the switch, in `od->router_ports` order, with a network
/// containing the virtual IP, `eth.dst = 00:00:00:00:00:00` sends the
/// packet to `lr_in_arp_request`. `router_ports` are the switch's router
/// ports, in any order: `od->router_ports` is filled walking northd's
/// ports hmap, so the first is the one with the smallest
/// [`SwitchRouterPort::hmap_order`] (then name).
pub fn arp_resolve_unclaimed(p: &PortCtx, router_ports: &[SwitchRouterPort]) -> Option<Lflow> {
    let (vip, is_ipv4) = virtual_ip(&p.lsp)?;
    if !p.lsp.is_enabled() {
        return None;
    }
    let rp = first_router_port(vip, router_ports)?;
    let reg = if is_ipv4 { "reg0" } else { "xxreg0" };
    let key = addr::json_key(&rp.peer.name);
    let mut f = Lflow::new(
        rp.peer.lr,
        Stage::LrInArpResolve,
        100,
        &format!("outport == {key} && {reg} == {vip}"),
        "eth.dst = 00:00:00:00:00:00; next;",
        12508,
    )
    .hint(p.lsp.uuid);
    f.origin = (
        1,
        p.hmap_order,
        Some(std::sync::Arc::from(p.lsp.name.as_str())),
    );
    Some(f)
}

/// The router port `build_arp_resolve_flows_for_lrouter_port()` picks for
/// a virtual IP among a switch's router ports: the first in
/// `od->router_ports` order (smallest [`SwitchRouterPort::hmap_order`],
/// then name) with a network containing it.
fn first_router_port<'a>(
    vip: &str,
    router_ports: &'a [SwitchRouterPort],
) -> Option<&'a SwitchRouterPort> {
    router_ports
        .iter()
        .filter(|rp| rp.peer.net.find_member_ip(vip).is_some())
        .min_by(|a, b| (a.hmap_order, &a.lsp_name).cmp(&(b.hmap_order, &b.lsp_name)))
}

/// `lr_in_arp_resolve` priority 100 for a virtual port `p` that
/// ovn-controller claimed for `parent` (SB `virtual_parent` and `chassis`
/// set): the virtual IP resolves to the MAC of the parent's first address,
/// in the router behind the first router port of the *parent's* switch
/// (`parent_router_ports`, any order) with a network containing it. The
/// virtual port's own switch must have router ports (checked by the
/// caller); nothing when the parent has no address.
pub fn arp_resolve_claimed(
    p: &PortCtx,
    parent: &PortCtx,
    parent_router_ports: &[SwitchRouterPort],
) -> Option<Lflow> {
    let (vip, is_ipv4) = virtual_ip(&p.lsp)?;
    if !p.lsp.is_enabled() {
        return None;
    }
    let ea = parent.lsp_addrs().into_iter().next()?.ea_s;
    let rp = first_router_port(vip, parent_router_ports)?;
    let reg = if is_ipv4 { "reg0" } else { "xxreg0" };
    let key = addr::json_key(&rp.peer.name);
    let mut f = Lflow::new(
        rp.peer.lr,
        Stage::LrInArpResolve,
        100,
        &format!("outport == {key} && {reg} == {vip}"),
        &format!("eth.dst = {ea}; next;"),
        12547,
    )
    .hint(p.lsp.uuid);
    f.origin = (
        1,
        p.hmap_order,
        Some(std::sync::Arc::from(p.lsp.name.as_str())),
    );
    Some(f)
}
