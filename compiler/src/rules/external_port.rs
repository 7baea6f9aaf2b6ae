//! External ports (`type=external`): ports of hosts reached through a
//! switch's localnet port, served (DHCP, router ARP/ND) by the chassis of
//! the port's `ha_chassis_group` that claims it.
//!
//! Reproduces `build_lswitch_external_port()` /
//! `build_drop_arp_nd_flows_for_unbound_router_ports()` (the
//! `ls_in_external_port` drops) and the external branch of
//! `build_lswitch_dhcp_options_and_response()` (DHCP requests taken from
//! the localnet ports, only on the chassis where the port resides, see
//! [`super::dhcp`]) in northd.c. Everything else northd does for external
//! ports is skipping them: no port security, ARP/ND responder, L2 lookup
//! or DHCP-reply ACL bypass.

use super::addr::LportAddresses;
use super::{addr, Lflow, PortCtx, DROP};
use crate::stage::Stage;

/// What an external port needs to know about its switch. Filled only for
/// ports of type `external`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExternalCtx {
    /// Names of the switch's localnet ports (`od->localnet_ports`).
    pub localnet_ports: Vec<String>,
    /// The addresses (`lsp_addrs`) of each of the switch's router ports
    /// (`od->router_ports`: `router` ports with a peer).
    pub router_ports: Vec<Vec<LportAddresses>>,
    /// The NB `HA_Chassis_Group` the port refers to, by name.
    pub ha_chassis_group: Option<String>,
}

/// Whether the port is an external port whose DHCP northd serves: the
/// switch has a localnet port and the port an HA chassis group.
pub fn serves_dhcp(p: &PortCtx) -> bool {
    p.external
        .as_ref()
        .is_some_and(|e| !e.localnet_ports.is_empty() && e.ha_chassis_group.is_some())
}

/// `ls_in_external_port` priority 100: on every localnet port, drop the
/// external port's ARP requests / NS for the switch's router IPs, and its
/// packets to the router MACs, on chassis where the external port is not
/// resident, so the router pipeline runs only on the claiming chassis.
pub fn unbound_router_drops(p: &PortCtx, out: &mut Vec<Lflow>) {
    let Some(ext) = p.external.as_ref() else {
        return;
    };
    let key = p.json_key();
    for ln in &ext.localnet_ports {
        let ln_key = addr::json_key(ln);
        for a in p.lsp_addrs() {
            let ea = &a.ea_s;
            for rp in ext.router_ports.iter().flatten() {
                let flow = |m: String, line| {
                    Lflow::new(p.ls, Stage::LsInExternalPort, 100, &m, DROP, line)
                        .io_port(ln)
                        .hint(p.lsp.uuid)
                };
                for ip in &rp.ipv4 {
                    out.push(flow(
                        format!(
                            "inport == {ln_key} && eth.src == {ea} && !is_chassis_resident({key}) \
                             && arp.tpa == {ip} && arp.op == 1"
                        ),
                        8309,
                    ));
                }
                for (ip, sn) in &rp.ipv6 {
                    out.push(flow(
                        format!(
                            "inport == {ln_key} && eth.src == {ea} && !is_chassis_resident({key}) \
                             && nd_ns && ip6.dst == {{{ip}, {sn}}} && nd.target == {ip}"
                        ),
                        8325,
                    ));
                }
                out.push(flow(
                    format!(
                        "inport == {ln_key} && eth.src == {ea} && eth.dst == {} \
                         && !is_chassis_resident({key})",
                        rp.ea_s
                    ),
                    8339,
                ));
            }
        }
    }
}
