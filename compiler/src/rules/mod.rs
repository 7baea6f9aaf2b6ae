//! What the compiler computes, as pure functions over narrow records
//! (STYLE 1). How these functions are mapped onto differential dataflow is in
//! `dataflow::render`, with mirrored module names.
//!
//! One module per northd concept/stage group. [`switch_flows`] and
//! [`port_flows`] are the single dispatch points for logical flows: each
//! calls every stage module's rule in northd's order.

pub mod acl;
pub mod addr;
pub mod arp_nd;
pub mod copp;
pub mod datapath;
pub mod dhcp;
pub mod external_port;
pub mod fdb;
pub mod fwd_group;
pub mod global;
pub mod igmp;
pub mod l2;
pub mod lb;
pub mod multicast;
pub mod port_binding;
pub mod port_sec;
pub mod qos;
pub mod router;
pub mod virtual_port;

use std::sync::Arc;

use ovsdb::Uuid;

use crate::nb::{Lsp, Switch};
use crate::stage::Stage;

/// One logical flow added on one datapath (an `ovn_lflow_add*()` call).
/// Key for grouping into SB rows: `(stage, priority, match, actions, meter)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lflow {
    /// NB UUID of the datapath (switch).
    pub dp: Uuid,
    /// Stage (pipeline and table).
    pub stage: Stage,
    /// Priority.
    pub priority: u16,
    /// Match expression, exactly as northd writes it (shared with the
    /// flow's other records and its SB row).
    pub match_: Arc<str>,
    /// Actions, exactly as northd writes them (shared likewise).
    pub actions: Arc<str>,
    /// Controller meter.
    pub meter: Option<String>,
    /// `in_out_port` tag (`ovn_lflow_add_with_lport_and_hint`), shared
    /// with the SB row.
    pub io_port: Option<Arc<str>>,
    /// NB row the flow derives from (`stage-hint`).
    pub hint: Option<Uuid>,
    /// Line in northd.c v23.03.1 of the `ovn_lflow_add` call (`source`).
    pub source: u32,
    /// When northd adds this flow relative to others with the same key:
    /// datapath-level flows first, then port-level flows in the order of
    /// northd's ports hmap (see [`PortCtx::hmap_order`]). Among equal flows
    /// on several datapaths, the first one's hint, port tag and source win.
    /// The name (`None` for none) is shared by the flows of one port.
    pub origin: (u8, u32, Option<Arc<str>>),
}

impl Lflow {
    /// A flow without hint, port tag or meter.
    pub fn new(dp: Uuid, stage: Stage, priority: u16, m: &str, a: &str, source: u32) -> Lflow {
        Lflow {
            dp,
            stage,
            priority,
            match_: Arc::from(m),
            actions: Arc::from(a),
            meter: None,
            io_port: None,
            hint: None,
            source,
            origin: (0, 0, None),
        }
    }

    /// Sets the `stage-hint` row.
    pub fn hint(mut self, row: Uuid) -> Lflow {
        self.hint = Some(row);
        self
    }

    /// Sets the controller meter (CoPP, [`copp`]).
    pub fn meter(mut self, meter: Option<String>) -> Lflow {
        self.meter = meter;
        self
    }

    /// Sets the `in_out_port` tag.
    pub fn io_port(mut self, port: &str) -> Lflow {
        self.io_port = Some(Arc::from(port));
        self
    }
}

/// `debug_drop_action()` with the default `debug_drop_domain_id` (0).
pub const DROP: &str = "drop;";

/// What the switch-level rules know about one logical switch.
/// One per NB `Logical_Switch`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwitchCtx {
    /// NB switch UUID.
    pub uuid: Uuid,
    /// `other_config:vlan-passthru=true` (`is_vlan_transparent()`).
    pub vlan_passthru: bool,
    /// Some enabled port has the `unknown` address (`od->has_unknown`).
    pub has_unknown: bool,
    /// Some port is of type `vtep` (`od->has_vtep_lports`).
    pub has_vtep_lports: bool,
    /// The switch or one of its port groups has ACLs (`od->has_acls`).
    pub has_acls: bool,
    /// One of those ACLs is `allow-related` (`od->has_stateful_acl`).
    pub has_stateful_acl: bool,
    /// A load balancer of the switch (directly or through a group) has a
    /// VIP (`od->has_lb_vip`, `ls_has_lb_vip()`).
    pub has_lb_vip: bool,
    /// `other_config:mcast_snoop` (`mcast_sw_info->enabled`).
    pub mcast_snoop: bool,
    /// `other_config:mcast_flood_unregistered`.
    pub mcast_flood_unregistered: bool,
    /// `other_config:interconn-ts` is set (an interconnect transit switch).
    pub interconn_ts: bool,
    /// Some enabled port has `options:mcast_flood=true`
    /// (`mcast_sw_info->flood_static`).
    pub mcast_flood_static: bool,
    /// Some router port's router relays multicast (`mcast_relay`,
    /// `od->mcast_info.sw.flood_relay`).
    pub mcast_flood_relay: bool,
    /// Some of the switch's DNS rows has records (`ls_has_dns_records()`).
    pub has_dns_records: bool,
    /// The switch's control plane protection meters.
    pub copp: copp::Copp,
}

/// Switch-level facts derived from its ports. One per switch with ports;
/// key: switch UUID.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwitchFacts {
    /// Some enabled port lists `unknown`.
    pub has_unknown: bool,
    /// Some port is a `vtep` port.
    pub has_vtep_lports: bool,
    /// Some ACL applies.
    pub has_acls: bool,
    /// Some `allow-related` ACL applies.
    pub has_stateful_acl: bool,
    /// Some load balancer of the switch has a VIP.
    pub has_lb_vip: bool,
    /// Some enabled port floods multicast (`options:mcast_flood`).
    pub mcast_flood_static: bool,
    /// Some router port's router relays multicast.
    pub mcast_flood_relay: bool,
    /// Some DNS row of the switch has records.
    pub has_dns_records: bool,
}

impl SwitchCtx {
    /// `od->has_stateful_acl || od->has_lb_vip`: traffic goes through
    /// conntrack.
    pub fn has_stateful(&self) -> bool {
        self.has_stateful_acl || self.has_lb_vip
    }

    /// The context of switch `uuid`.
    pub fn new(sw: &Switch, facts: SwitchFacts) -> SwitchCtx {
        SwitchCtx {
            uuid: sw.uuid,
            vlan_passthru: sw.vlan_passthru,
            has_unknown: facts.has_unknown,
            has_vtep_lports: facts.has_vtep_lports,
            has_acls: facts.has_acls,
            has_stateful_acl: facts.has_stateful_acl,
            has_lb_vip: facts.has_lb_vip,
            mcast_snoop: sw.mcast.enabled,
            mcast_flood_unregistered: sw.mcast.flood_unregistered,
            interconn_ts: sw.interconn_ts.is_some(),
            mcast_flood_static: facts.mcast_flood_static,
            mcast_flood_relay: facts.mcast_flood_relay,
            has_dns_records: facts.has_dns_records,
            copp: Vec::new(),
        }
    }
}

/// What the port-level rules know about one switch port.
/// One per (switch, port) membership; key `lsp.uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortCtx {
    /// NB switch UUID.
    pub ls: Uuid,
    /// The switch's `vlan-passthru`.
    pub vlan_passthru: bool,
    /// The switch has stateful ACLs.
    pub has_stateful_acl: bool,
    /// The switch has load balancer VIPs.
    pub has_lb_vip: bool,
    /// The port (shared with the dataflow's other records of it).
    pub lsp: std::sync::Arc<Lsp>,
    /// The port's `dhcpv4_options` row.
    pub dhcpv4: Option<crate::nb::DhcpOptions>,
    /// The port's `dhcpv6_options` row.
    pub dhcpv6: Option<crate::nb::DhcpOptions>,
    /// The port's bucket in northd's ports hmap (`hash_string(name) & mask`
    /// for the current number of ports), which orders port-level flow
    /// additions.
    pub hmap_order: u32,
    /// For a port of type `router`: the router port it connects to
    /// (`op->peer`).
    pub router_peer: Option<router::LrpPeer>,
    /// Every port of the switch is a connected router port
    /// (`od->n_router_ports == od->nbs->n_ports`).
    pub all_router_ports: bool,
    /// The switch has a localnet port (`od->n_localnet_ports`).
    pub switch_has_localnet: bool,
    /// The port's switch has a `vtep` port (`od->has_vtep_lports`).
    pub switch_has_vtep: bool,
    /// For a port of type `router`: what the peer's router adds (gateway
    /// chassis, NAT addresses), shared (`Arc`) with the arrangement it
    /// is joined from.
    pub peer_nat: Option<Arc<router::gateway::PeerNat>>,
    /// For a virtual port: its `virtual-parents` that are ports of the same
    /// switch, in the option's order ([`virtual_port::Parent`]).
    pub virtual_parents: Vec<virtual_port::Parent>,
    /// For an `external` port: its switch's localnet and router ports and
    /// its HA chassis group.
    pub external: Option<external_port::ExternalCtx>,
    /// The switch's control plane protection meters.
    pub copp: copp::Copp,
    /// The switch snoops multicast and is an interconnect transit switch
    /// (`other_config:mcast_snoop` and `interconn-ts`).
    pub switch_interconn_mcast: bool,
}

impl PortCtx {
    /// `op->has_unknown`: the port lists the `unknown` address.
    pub fn has_unknown(&self) -> bool {
        self.lsp.addresses.iter().any(|a| a == "unknown")
    }

    /// `op->json_key`.
    pub fn json_key(&self) -> String {
        addr::json_key(&self.lsp.name)
    }

    /// `op->lsp_addrs`: parsed static addresses (not `unknown`, `router`,
    /// dynamic), then the peer router port's networks when the port lists
    /// `router`.
    pub fn lsp_addrs(&self) -> Vec<addr::LportAddresses> {
        let mut out: Vec<addr::LportAddresses> = self
            .lsp
            .addresses
            .iter()
            .filter(|a| *a != "unknown" && *a != "router" && !addr::is_dynamic(a))
            .filter_map(|a| addr::extract_lsp_addresses(a))
            .collect();
        if let Some(peer) = &self.router_peer {
            if self.lsp.addresses.iter().any(|a| a == "router") {
                out.push(peer.net.as_lport_addresses());
            }
        }
        out
    }

    /// `op->n_ps_addrs`.
    pub fn n_ps_addrs(&self) -> usize {
        self.lsp
            .port_security
            .iter()
            .filter(|a| addr::extract_lsp_addresses(a).is_some())
            .count()
    }
}

/// `skip_port_from_conntrack()`: priority-110 flows in `in_stage` /
/// `out_stage` that keep the port's IP traffic out of conntrack (conntrack
/// cannot follow connections through localnet or router ports); egress also
/// clears conntrack state unless the switch has stateful ACLs.
pub fn skip_port_from_conntrack(
    p: &PortCtx,
    in_stage: Stage,
    out_stage: Stage,
    out: &mut Vec<Lflow>,
) {
    let key = p.json_key();
    let (name, hint) = (&p.lsp.name, p.lsp.uuid);
    let egress = if p.has_stateful_acl {
        "next;"
    } else {
        "ct_clear; next;"
    };
    let ingress_match = format!("ip && inport == {key}");
    out.push(
        Lflow::new(p.ls, in_stage, 110, &ingress_match, "next;", 5806)
            .io_port(name)
            .hint(hint),
    );
    let egress_match = format!("ip && outport == {key}");
    out.push(
        Lflow::new(p.ls, out_stage, 110, &egress_match, egress, 5809)
            .io_port(name)
            .hint(hint),
    );
}

/// Every switch-level logical flow of one switch, in northd's order
/// (`build_lswitch_and_lrouter_iterate_by_od()` then `build_lswitch_flows()`).
pub fn switch_flows(sw: &SwitchCtx) -> Vec<Lflow> {
    let mut out = Vec::new();
    acl::pre_acls(sw, &mut out);
    lb::pre_lb(sw, &mut out);
    lb::pre_stateful(sw, &mut out);
    acl::acl_hints(sw, &mut out);
    acl::acls(sw, &mut out);
    lb::qos(sw, &mut out);
    lb::stateful(sw, &mut out);
    lb::lb_hairpin(sw, &mut out);
    lb::vtep_hairpin(sw, &mut out);
    port_sec::admission_control(sw, &mut out);
    fdb::learn_fdb_od(sw, &mut out);
    arp_nd::responder_default(sw, &mut out);
    l2::dns_lookup_and_response(sw, &mut out);
    l2::dhcp_and_dns_defaults(sw, &mut out);
    l2::destination_lookup_bmcast(sw, &mut out);
    port_sec::output_port_sec_od(sw, &mut out);
    lb::lb_affinity_defaults(sw, &mut out);
    l2::unknown_lookup(sw, &mut out);
    out
}

/// Every port-level logical flow of one switch port, in northd's order
/// (`build_lswitch_and_lrouter_iterate_by_op()`).
pub fn port_flows(p: &PortCtx) -> Vec<Lflow> {
    let mut out = Vec::new();
    acl::localnet_skip_conntrack(p, &mut out);
    lb::localnet_skip_conntrack(p, &mut out);
    port_sec::port_sec_op(p, &mut out);
    fdb::learn_fdb_op(p, &mut out);
    arp_nd::skip_local(p, &mut out);
    arp_nd::known_ips(p, &mut out);
    dhcp::dhcp_options_and_response(p, &mut out);
    dhcp::acl_dhcp_reply(p, &mut out);
    external_port::unbound_router_drops(p, &mut out);
    l2::unicast_lookup(p, &mut out);
    router::switch_side::router_port_flows(p, &mut out);
    multicast::interconn_remote_port(p, &mut out);
    let name: Arc<str> = Arc::from(p.lsp.name.as_str());
    for f in &mut out {
        f.origin = (1, p.hmap_order, Some(name.clone()));
    }
    out
}

/// The flows of one ACL on one switch (`consider_acl()` and the stateless
/// pre-ACL filter).
pub fn acl_flows(a: &acl::AclCtx) -> Vec<Lflow> {
    let mut out = Vec::new();
    acl::acl_flows(a, &mut out);
    for f in &mut out {
        f.origin = (2, 0, None);
    }
    out
}
