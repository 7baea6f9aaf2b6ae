//! The logical-router pipeline (`lr_in_*`, `lr_out_*`) of ovn-northd 23.03
//! and what router ports change on their peer switches.
//!
//! One module per group of northd stages; [`router_flows`] is the single
//! dispatch point for the flows of one router, calling each module in the
//! order of `build_lswitch_and_lrouter_iterate_by_od()` (router-level) then
//! `build_lswitch_and_lrouter_iterate_by_op()` (per router port).
//!
//! Flows that need port tunnel keys ([`ecmp_symmetric`]) are rendered
//! apart; so are the SB `BFD` rows ([`bfd`]).

pub mod admission;
pub mod arp_resolve;
pub mod bfd;
pub mod binding;
pub mod delivery;
pub mod ecmp_symmetric;
pub mod gateway;
pub mod ha;
pub mod ip_input;
pub mod lb;
pub mod mtu;
pub mod nat;
pub mod nat_arp;
pub mod net;
pub mod policy;
pub mod ra;
pub mod routing;
pub mod switch_side;

use ovsdb::Uuid;

use super::{addr, Lflow};
use crate::nb::{smap_get_bool, Lrp, Policy, Router, StaticRoute};
pub use net::LrpNetworks;

/// What the router-level rules know about one router port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LrpCtx {
    /// The port.
    pub lrp: Lrp,
    /// `op->lrp_networks`.
    pub net: LrpNetworks,
    /// Name of the peer port (`op->peer`): the switch port of type
    /// `router` naming this port, or the router port named by `peer`.
    pub peer: Option<String>,
    /// The port's bucket in northd's ports hmap (orders port-level flows).
    pub hmap_order: u32,
    /// The peer is a switch port on a switch with a localnet port
    /// (`op->peer->od->n_localnet_ports`).
    pub peer_localnet: bool,
    /// The peer switch has a localnet port with a VLAN (`tag_request`).
    pub peer_localnet_vlan: bool,
    /// The peer switch has `vtep` ports
    /// (`l3dgw_port_has_associated_vtep_lports()`).
    pub peer_vtep: bool,
    /// `is_l3dgw_port()`: a distributed gateway port (`gateway_chassis` or
    /// `ha_chassis_group`) on a router that is not a gateway router (northd
    /// ignores gateway settings there). Set with the router context.
    pub dgp: bool,
    /// The router of the peer when the peer is a router port named by this
    /// port's `peer` column (`op->nbrp->peer`), not a switch port.
    pub peer_router: Option<Uuid>,
    /// `op->has_bfd`: some NB `BFD` row names this port.
    pub has_bfd: bool,
}

impl LrpCtx {
    /// `op->json_key`.
    pub fn json_key(&self) -> String {
        addr::json_key(&self.lrp.name)
    }

    /// The port is enabled and floods multicast (`options:mcast_flood`):
    /// a member of the router's `_MC_static`.
    pub fn mcast_flood_static(&self) -> bool {
        self.lrp.is_enabled() && crate::nb::smap_get_bool(&self.lrp.options, "mcast_flood", false)
    }

    /// `is_l3dgw_port()`: a distributed gateway port (`gateway_chassis` or
    /// `ha_chassis_group`).
    pub fn is_dgp(&self) -> bool {
        self.dgp
    }

    /// `op->cr_port->json_key`: the chassisredirect port's.
    pub fn cr_key(&self) -> String {
        cr_json_key(&self.lrp.name)
    }

    /// ` && is_chassis_resident(<cr port>)` for a distributed gateway port,
    /// else nothing.
    pub fn resident_suffix(&self) -> String {
        if self.is_dgp() {
            format!(" && is_chassis_resident({})", self.cr_key())
        } else {
            String::new()
        }
    }
}

/// What the router rules know about one logical router: the router, its
/// ports, static routes and policies, each in the order of the NB row's
/// reference set (sorted by UUID, as northd's IDL arrays are).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouterCtx {
    /// The router.
    pub router: Router,
    /// Its ports with valid MACs (`od->nbr->ports` that became `ovn_port`s).
    pub ports: Vec<LrpCtx>,
    /// Its static routes.
    pub routes: Vec<StaticRoute>,
    /// Its routing policies.
    pub policies: Vec<Policy>,
    /// Its load balancers (directly and through groups), by UUID.
    pub lbs: Vec<std::sync::Arc<lb::LbSummary>>,
    /// `od->lb_ips`.
    pub lb_ips: lb::LbIps,
    /// Its NAT rules, by UUID.
    pub nats: Vec<nat::NatRule>,
    /// The NB `BFD` rows its static routes reference, by UUID.
    pub bfds: Vec<crate::nb::Bfd>,
    /// Its datapath tunnel key (0 before it has one).
    pub tunnel_key: u32,
    /// Its control plane protection meters (`Logical_Router.copp`).
    pub copp: crate::rules::copp::Copp,
}

impl RouterCtx {
    /// The router's NB UUID (its datapath).
    pub fn dp(&self) -> Uuid {
        self.router.uuid
    }

    /// A router option as `smap_get_bool()` reads it.
    pub fn option_bool(&self, key: &str, def: bool) -> bool {
        smap_get_bool(&self.router.options, key, def)
    }

    /// `od->mcast_info.rtr.relay`: `options:mcast_relay`.
    pub fn mcast_relay(&self) -> bool {
        self.option_bool("mcast_relay", false)
    }

    /// `od->mcast_info.rtr.flood_static`: an enabled port of the router
    /// has `options:mcast_flood=true` (`build_mcast_groups()`).
    pub fn mcast_flood_static(&self) -> bool {
        self.ports.iter().any(|p| p.mcast_flood_static())
    }

    /// `od->is_gw_router`: `options:chassis` is set.
    pub fn is_gw_router(&self) -> bool {
        self.router.option("chassis").is_some()
    }

    /// `od->n_l3dgw_ports`: ports with gateway chassis.
    pub fn n_l3dgw_ports(&self) -> usize {
        self.ports.iter().filter(|p| p.dgp).count()
    }

    /// `od->l3dgw_ports`: the distributed gateway ports, in port order.
    pub fn l3dgw_ports(&self) -> impl Iterator<Item = &LrpCtx> {
        self.ports.iter().filter(|p| p.dgp)
    }

    /// `od->has_lb_vip`: some load balancer of the router has a VIP.
    pub fn has_lb_vip(&self) -> bool {
        self.lbs.iter().any(|l| l.has_vip)
    }

    /// `od->lb_force_snat_router_ip`: `lb_force_snat_ip=router_ip` on a
    /// gateway router.
    pub fn lb_force_snat_router_ip(&self) -> bool {
        self.router.option("lb_force_snat_ip") == Some("router_ip") && self.is_gw_router()
    }

    /// The first IPv4 and first IPv6 address of `options:<kind>_force_snat_ip`
    /// (`get_force_snat_ip()`; `kind` is `dnat` or `lb`): `(address, ipv6)`.
    /// Empty when any word fails to parse.
    pub fn force_snat_addrs(&self, kind: &str) -> Vec<(String, bool)> {
        let Some(v) = self.router.option(&format!("{kind}_force_snat_ip")) else {
            return Vec::new();
        };
        if kind == "lb" && self.lb_force_snat_router_ip() {
            return Vec::new();
        }
        let (mut v4, mut v6) = (None, None);
        for w in v.split_whitespace() {
            if let Ok(ip) = w.parse::<std::net::Ipv4Addr>() {
                v4.get_or_insert(ip.to_string());
            } else if let Ok(ip) = w.parse::<std::net::Ipv6Addr>() {
                v6.get_or_insert(ip.to_string());
            } else {
                return Vec::new();
            }
        }
        v4.map(|a| (a, false))
            .into_iter()
            .chain(v6.map(|a| (a, true)))
            .collect()
    }

    /// `lb_force_snat_ip` is in effect (addresses or `router_ip`).
    pub fn lb_force_snat(&self) -> bool {
        self.lb_force_snat_router_ip() || !self.force_snat_addrs("lb").is_empty()
    }

    /// The CoPP meter of control protocol `proto` on this router
    /// (`copp_meter_get(proto, od->nbr->copp, meter_groups)`).
    pub fn meter(&self, proto: &str) -> Option<String> {
        crate::rules::copp::meter(&self.copp, proto)
    }

    /// The port named `name`.
    pub fn port(&self, name: &str) -> Option<&LrpCtx> {
        self.ports.iter().find(|p| p.lrp.name == name)
    }
}

/// The `json_key` of the chassisredirect port of distributed gateway port
/// `name` (`cr-<name>`).
pub fn cr_json_key(name: &str) -> String {
    nat::cr_key(name)
}

/// A router port as its peer switch sees it (`op->peer` of a switch port of
/// type `router`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LrpPeer {
    /// The router (datapath of the router port).
    pub lr: Uuid,
    /// The router port's name.
    pub name: String,
    /// The router port's NB UUID.
    pub uuid: Uuid,
    /// `lrport_is_enabled()`.
    pub enabled: bool,
    /// Its networks.
    pub net: LrpNetworks,
    /// The router's `options:dynamic_neigh_routers`.
    pub dynamic_neigh_routers: bool,
    /// The router's `options:mcast_relay`.
    pub mcast_relay: bool,
    /// `op->has_bfd` of the router port.
    pub has_bfd: bool,
    /// The router port's `options:mcast_flood` (`op->mcast_info.flood`).
    pub mcast_flood: bool,
    /// The router port is a distributed gateway port (it has a
    /// chassisredirect port, `op->cr_port`).
    pub dgp: bool,
}

/// A switch port of type `router` with its router-port peer, on switch `ls`
/// (an element of `od->router_ports`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwitchRouterPort {
    /// The switch.
    pub ls: Uuid,
    /// The switch port's UUID.
    pub lsp: Uuid,
    /// The switch port's name.
    pub lsp_name: String,
    /// Whether the switch port is enabled.
    pub lsp_enabled: bool,
    /// The switch port's bucket in northd's ports hmap.
    pub hmap_order: u32,
    /// The router port it connects to.
    pub peer: LrpPeer,
    /// The router port's routable NAT and VIP addresses
    /// ([`gateway::PeerNat::routables`]).
    pub routables: Vec<(String, Vec<String>)>,
    /// The router port's router is a gateway router or the port a
    /// distributed gateway port.
    pub peer_gw: bool,
}

/// Every logical flow of one router, in northd's order: router-level flows
/// first, then each port's.
pub fn router_flows(r: &RouterCtx) -> Vec<Lflow> {
    let mut out = Vec::new();
    admission::admission(r, &mut out);
    admission::neighbor(r, &mut out);
    routing::nd_ra_defaults(r, &mut out);
    routing::ip_routing_pre(r, &mut out);
    routing::static_routes(r, &mut out);
    routing::mcast_lookup(r, &mut out);
    policy::policies(r, &mut out);
    arp_resolve::defaults(r, &mut out);
    delivery::chk_pkt_len(r, &mut out);
    mtu::check_pkt_len(r, &mut out);
    delivery::gw_redirect(r, &mut out);
    delivery::arp_request(r, &mut out);
    ip_input::misc_drops(r, &mut out);
    nat_arp::nat_responders(r, &mut out);
    nat::nat_defrag_and_lb(r, &mut out);
    delivery::lb_affinity_defaults(r, &mut out);
    for f in &mut out {
        f.origin = (0, 0, None);
    }
    for p in &r.ports {
        let start = out.len();
        admission::admission_port(r, p, &mut out);
        admission::neighbor_port(r, p, &mut out);
        routing::connected_routes(r, p, &mut out);
        ra::nd_ra_port(r, p, &mut out);
        arp_resolve::port(r, p, &mut out);
        delivery::delivery_port(r, p, &mut out);
        ip_input::dhcpv6_reply(r, p, &mut out);
        ip_input::ipv6_input(r, p, &mut out);
        ip_input::ipv4_input(r, p, &mut out);
        ip_input::bfd(r, p, &mut out);
        nat::force_snat_op(r, p, &mut out);
        for f in &mut out[start..] {
            f.origin = (
                1,
                p.hmap_order,
                Some(std::sync::Arc::from(p.lrp.name.as_str())),
            );
        }
    }
    out
}
