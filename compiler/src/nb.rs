//! Northbound input relations: narrow records read from NB rows.
//!
//! Each NB table the compiler reads becomes one or more input collections of
//! small records (STYLE 6: narrow records, keyed joins). A parent row's
//! reference set (e.g. `Logical_Switch.ports`) becomes a separate membership
//! relation instead of being copied into the children.

use ovsdb::Uuid;

pub mod bfd;
pub mod copp;
pub mod fwd_group;
pub mod ha;
mod kind;
pub mod lb;
pub mod meter;
pub mod nat;
pub mod qos;
mod read;
pub use bfd::Bfd;
pub use copp::{Copp, CoppRef};
pub use fwd_group::{FwdGroup, SwitchFwdGroups};
pub use ha::{HaChassis, HaChassisGroup};
pub(crate) use kind::NbKind;
pub use lb::{ChassisTemplateVar, LbHealthCheck, LbRef, LoadBalancer};
pub use meter::{Meter, MeterBand};
pub use nat::{GatewayChassis, Nat};
pub use qos::{Qos, SwitchQos};
pub(crate) use read::requested_tnl_key;
use read::{map_get, Reader};
pub use read::{records, smap_get_bool, updates};

/// A change to one NB row, as the OVSDB layer (replicas, files) reports it.
pub use ovsdb::db::RowChange;

/// A NB row whose content the compiler cannot read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("table {table} row {uuid} column {column}: {message}")]
pub struct InputError {
    /// NB table.
    pub table: String,
    /// Row UUID.
    pub uuid: Uuid,
    /// Column.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

/// A logical switch. One row per NB `Logical_Switch`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Switch {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `other_config:requested-tnl-key` when it parses as a positive integer.
    pub requested_tnl_key: Option<u32>,
    /// `external_ids:neutron:network_name` (becomes SB `name2`).
    pub network_name: Option<String>,
    /// `other_config:interconn-ts`.
    pub interconn_ts: Option<String>,
    /// `other_config:vlan-passthru` is true.
    pub vlan_passthru: bool,
    /// Multicast snooping configuration from `other_config:mcast_*`.
    pub mcast: McastConfig,
    /// Where northd meets this switch among new ones: (batch, rank in the
    /// IDL order of that batch), see [`crate::idl_order`]. Set by the
    /// compiler when the row is inserted; 0 from [`records`].
    pub idl_rank: u64,
}

/// A switch's IGMP/MLD snooping settings (`init_mcast_info_for_switch_datapath()`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct McastConfig {
    /// `mcast_snoop` (default false).
    pub enabled: bool,
    /// `mcast_querier` (default true).
    pub querier: bool,
    /// `mcast_flood_unregistered` (default false).
    pub flood_unregistered: bool,
    /// `mcast_table_size` (default 2048).
    pub table_size: u64,
    /// `mcast_idle_timeout`, clamped to 15..=3600 (default 300).
    pub idle_timeout: u64,
    /// `mcast_query_interval`, clamped to 1..=3600 (default idle/2).
    pub query_interval: u64,
    /// `mcast_query_max_response` (default 1).
    pub query_max_response: u64,
    /// `mcast_eth_src`.
    pub eth_src: Option<String>,
    /// `mcast_ip4_src`.
    pub ip4_src: Option<String>,
    /// `mcast_ip6_src`.
    pub ip6_src: Option<String>,
}

impl McastConfig {
    /// Reads the settings from a switch's `other_config`.
    pub fn from_other_config(m: &[(String, String)]) -> McastConfig {
        let ull = |k: &str, def: u64| {
            map_get(m, k)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(def)
        };
        let idle_timeout = ull("mcast_idle_timeout", 300).clamp(15, 3600);
        // The clamped value is stored in 32 bits.
        let idle_timeout = idle_timeout as u32 as u64;
        let query_interval =
            (ull("mcast_query_interval", idle_timeout / 2) as u32 as u64).clamp(1, 3600);
        McastConfig {
            enabled: smap_get_bool(m, "mcast_snoop", false),
            querier: smap_get_bool(m, "mcast_querier", true),
            flood_unregistered: smap_get_bool(m, "mcast_flood_unregistered", false),
            table_size: ull("mcast_table_size", 2048),
            idle_timeout,
            query_interval,
            query_max_response: ull("mcast_query_max_response", 1),
            eth_src: map_get(m, "mcast_eth_src").map(str::to_string),
            ip4_src: map_get(m, "mcast_ip4_src").map(str::to_string),
            ip6_src: map_get(m, "mcast_ip6_src").map(str::to_string),
        }
    }
}

/// Membership of a port in a switch: one row per element of
/// `Logical_Switch.ports`; key `lsp`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwitchPort {
    /// The `Logical_Switch_Port` UUID.
    pub lsp: Uuid,
    /// The owning `Logical_Switch` UUID.
    pub ls: Uuid,
}

/// A logical switch port. One row per NB `Logical_Switch_Port`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsp {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `name` (the SB `logical_port`).
    pub name: String,
    /// `type` ("" for a VIF).
    pub type_: String,
    /// `addresses`, in OVSDB set order.
    pub addresses: Vec<String>,
    /// `port_security`, in OVSDB set order.
    pub port_security: Vec<String>,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
    /// `external_ids`, sorted by key.
    pub external_ids: Vec<(String, String)>,
    /// `parent_name`.
    pub parent_name: Option<String>,
    /// `tag`.
    pub tag: Option<i64>,
    /// `tag_request`.
    pub tag_request: Option<i64>,
    /// `enabled` (absent means enabled).
    pub enabled: Option<bool>,
    /// `dhcpv4_options` (a `DHCP_Options` row).
    pub dhcpv4_options: Option<Uuid>,
    /// `dhcpv6_options` (a `DHCP_Options` row).
    pub dhcpv6_options: Option<Uuid>,
    /// `ha_chassis_group` (an `HA_Chassis_Group` row; used by `external`
    /// ports).
    pub ha_chassis_group: Option<Uuid>,
}

impl Lsp {
    /// `lsp_is_enabled()`: absent or true.
    pub fn is_enabled(&self) -> bool {
        self.enabled != Some(false)
    }

    /// `smap_get_bool(&options, key, false)`.
    pub fn option_true(&self, key: &str) -> bool {
        smap_get_bool(&self.options, key, false)
    }

    /// An option value.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// An ACL. One row per NB `ACL`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Acl {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `priority` (0..=32767).
    pub priority: i64,
    /// `direction`: `from-lport` or `to-lport`.
    pub direction: String,
    /// `match`.
    pub match_: String,
    /// `action`: allow, allow-related, allow-stateless, drop, reject.
    pub action: String,
    /// `log`.
    pub log: bool,
    /// `name`.
    pub name: Option<String>,
    /// `severity`.
    pub severity: Option<String>,
    /// `meter`.
    pub meter: Option<String>,
    /// `label`.
    pub label: i64,
    /// `options:apply-after-lb`.
    pub apply_after_lb: bool,
    /// `options:log-related`.
    pub log_related: bool,
}

/// ACL of a switch or port group: one row per element of
/// `Logical_Switch.acls` / `Port_Group.acls`; key `(owner, acl)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclRef {
    /// The switch or port group UUID.
    pub owner: Uuid,
    /// The ACL UUID.
    pub acl: Uuid,
}

/// A port group. One row per NB `Port_Group`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortGroup {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
}

/// Membership of a port in a port group: one row per element of
/// `Port_Group.ports`; key `(pg, lsp)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortGroupPort {
    /// The port group UUID.
    pub pg: Uuid,
    /// The `Logical_Switch_Port` UUID.
    pub lsp: Uuid,
}

/// DHCP options. One row per NB `DHCP_Options`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DhcpOptions {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `cidr`.
    pub cidr: String,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
}

impl DhcpOptions {
    /// An option value.
    pub fn option(&self, key: &str) -> Option<&str> {
        map_get(&self.options, key)
    }
}

/// DNS records. One row per NB `DNS`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dns {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `records`, sorted by key.
    pub records: Vec<(String, String)>,
}

/// A switch's DNS records: one row per element of
/// `Logical_Switch.dns_records`; key `(ls, dns)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwitchDns {
    /// The switch UUID.
    pub ls: Uuid,
    /// The `DNS` UUID.
    pub dns: Uuid,
}

/// An address set. One row per NB `Address_Set`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressSet {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `addresses`.
    pub addresses: Vec<String>,
}

/// What the compiler reads from the NB_Global row: one row; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NbGlobal {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `options:svc_monitor_mac`, normalized, when it is a valid MAC.
    pub svc_monitor_mac: Option<String>,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
    /// `nb_cfg`.
    pub nb_cfg: i64,
    /// `ipsec`.
    pub ipsec: bool,
}

/// A logical router. One row per NB `Logical_Router`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Router {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `enabled` (absent means enabled).
    pub enabled: Option<bool>,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
    /// `external_ids`, sorted by key.
    pub external_ids: Vec<(String, String)>,
    /// `options:requested-tnl-key` when it parses as a positive integer.
    pub requested_tnl_key: Option<u32>,
    /// Where northd meets this router among new datapaths (after the new
    /// switches of the same batch); set by the compiler.
    pub idl_rank: u64,
}

impl Router {
    /// An option value.
    pub fn option(&self, key: &str) -> Option<&str> {
        map_get(&self.options, key)
    }
}

/// Membership of a port in a router: one row per element of
/// `Logical_Router.ports`; key `lrp`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouterPort {
    /// The `Logical_Router_Port` UUID.
    pub lrp: Uuid,
    /// The owning `Logical_Router` UUID.
    pub lr: Uuid,
}

/// A logical router port. One row per NB `Logical_Router_Port`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lrp {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `mac`.
    pub mac: String,
    /// `networks`, in OVSDB set order.
    pub networks: Vec<String>,
    /// `peer` (a router port name).
    pub peer: Option<String>,
    /// `enabled` (absent means enabled).
    pub enabled: Option<bool>,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
    /// `external_ids`, sorted by key.
    pub external_ids: Vec<(String, String)>,
    /// Number of `gateway_chassis` rows plus `ha_chassis_group` (a
    /// distributed gateway port when non-zero).
    pub n_gateway: usize,
    /// `gateway_chassis` (`Gateway_Chassis` rows), in OVSDB set order.
    pub gateway_chassis: Vec<Uuid>,
    /// `ha_chassis_group` (an `HA_Chassis_Group` row).
    pub ha_chassis_group: Option<Uuid>,
    /// `ipv6_ra_configs`, sorted by key.
    pub ipv6_ra_configs: Vec<(String, String)>,
}

impl Lrp {
    /// `lrport_is_enabled()`.
    pub fn is_enabled(&self) -> bool {
        self.enabled != Some(false)
    }

    /// An option value.
    pub fn option(&self, key: &str) -> Option<&str> {
        map_get(&self.options, key)
    }
}

/// A static route. One row per NB `Logical_Router_Static_Route`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StaticRoute {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `ip_prefix`.
    pub ip_prefix: String,
    /// `nexthop`.
    pub nexthop: String,
    /// `output_port`.
    pub output_port: Option<String>,
    /// `policy` (`dst-ip` when absent).
    pub policy: Option<String>,
    /// `route_table`.
    pub route_table: String,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
    /// `bfd`: the BFD session watching the next hop.
    pub bfd: Option<Uuid>,
}

/// A routing policy. One row per NB `Logical_Router_Policy`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Policy {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `priority`.
    pub priority: i64,
    /// `match`.
    pub match_: String,
    /// `action`: allow, drop, reroute.
    pub action: String,
    /// `nexthop` (deprecated single next hop).
    pub nexthop: Option<String>,
    /// `nexthops`, in OVSDB set order.
    pub nexthops: Vec<String>,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
}

/// A row a router refers to (`static_routes`, `policies`): key `(lr, row)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouterRef {
    /// The router UUID.
    pub lr: Uuid,
    /// The referenced row UUID.
    pub row: Uuid,
}

/// One NB input record, tagged by relation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NbRecord {
    /// A [`Switch`].
    Switch(Switch),
    /// A [`SwitchPort`] membership.
    SwitchPort(SwitchPort),
    /// An [`Lsp`].
    Lsp(Lsp),
    /// An [`Acl`].
    Acl(Acl),
    /// A switch's ACL ([`AclRef`]).
    SwitchAcl(AclRef),
    /// A port group's ACL ([`AclRef`]).
    PortGroupAcl(AclRef),
    /// A [`PortGroup`].
    PortGroup(PortGroup),
    /// A [`PortGroupPort`] membership.
    PortGroupPort(PortGroupPort),
    /// An [`AddressSet`].
    AddressSet(AddressSet),
    /// The [`NbGlobal`] row.
    NbGlobal(NbGlobal),
    /// A [`DhcpOptions`] row.
    DhcpOptions(DhcpOptions),
    /// A [`Dns`] row.
    Dns(Dns),
    /// A [`SwitchDns`] reference.
    SwitchDns(SwitchDns),
    /// A [`LoadBalancer`].
    LoadBalancer(LoadBalancer),
    /// A [`LbHealthCheck`].
    LbHealthCheck(LbHealthCheck),
    /// A switch's load balancer (`Logical_Switch.load_balancer`).
    SwitchLb(LbRef),
    /// A switch's load balancer group (`Logical_Switch.load_balancer_group`).
    SwitchLbGroup(LbRef),
    /// A group's load balancer (`Load_Balancer_Group.load_balancer`).
    LbGroupLb(LbRef),
    /// A [`Router`].
    Router(Router),
    /// A [`RouterPort`] membership.
    RouterPort(RouterPort),
    /// An [`Lrp`].
    Lrp(Lrp),
    /// A [`StaticRoute`].
    StaticRoute(StaticRoute),
    /// A router's static route ([`RouterRef`]).
    RouterRoute(RouterRef),
    /// A [`Policy`].
    Policy(Policy),
    /// A router's policy ([`RouterRef`]).
    RouterPolicy(RouterRef),
    /// A router's load balancer (`Logical_Router.load_balancer`).
    RouterLb(LbRef),
    /// A router's load balancer group (`Logical_Router.load_balancer_group`).
    RouterLbGroup(LbRef),
    /// A [`Nat`] rule.
    Nat(Nat),
    /// A router's NAT rule ([`RouterRef`]).
    RouterNat(RouterRef),
    /// A [`GatewayChassis`] row.
    GatewayChassis(GatewayChassis),
    /// A [`Qos`] rule.
    Qos(Qos),
    /// A switch's QoS rule ([`SwitchQos`]).
    SwitchQos(SwitchQos),
    /// A [`Meter`].
    Meter(Meter),
    /// A [`MeterBand`].
    MeterBand(MeterBand),
    /// An [`HaChassisGroup`] row.
    HaChassisGroup(HaChassisGroup),
    /// An [`HaChassis`] row.
    HaChassis(HaChassis),
    /// A [`Copp`] row.
    Copp(Copp),
    /// A switch's or router's `copp` ([`CoppRef`]).
    CoppRef(CoppRef),
    /// A [`ChassisTemplateVar`] row.
    ChassisTemplateVar(ChassisTemplateVar),
    /// A [`FwdGroup`] row.
    FwdGroup(FwdGroup),
    /// A switch's forwarding groups ([`SwitchFwdGroups`]).
    SwitchFwdGroups(SwitchFwdGroups),
    /// A [`Bfd`] session.
    Bfd(Bfd),
    /// SB input: a port's binding state ([`crate::sb_input::SbPort`]).
    SbPort(crate::sb_input::SbPort),
    /// SB input: a monitor's status ([`crate::sb_input::SbMonitor`]).
    SbMonitor(crate::sb_input::SbMonitor),
    /// SB input: a BFD row ([`crate::sb_input::SbBfd`]).
    SbBfd(crate::sb_input::SbBfd),
    /// SB input: a learned multicast group ([`crate::sb_input::SbIgmpGroup`]).
    SbIgmp(crate::sb_input::SbIgmpGroup),
}

/// NB tables the compiler reads; rows of other tables are ignored.
pub const NB_TABLES: &[&str] = &[
    "Logical_Switch",
    "Logical_Switch_Port",
    "ACL",
    "Port_Group",
    "Address_Set",
    "NB_Global",
    "Load_Balancer",
    "Load_Balancer_Group",
    "Load_Balancer_Health_Check",
    "Logical_Router",
    "Logical_Router_Port",
    "Logical_Router_Static_Route",
    "Logical_Router_Policy",
    "NAT",
    "Gateway_Chassis",
    "QoS",
    "Meter",
    "Meter_Band",
    "HA_Chassis_Group",
    "HA_Chassis",
    "Copp",
    "Forwarding_Group",
    "Chassis_Template_Var",
    "BFD",
];
