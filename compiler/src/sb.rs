//! Southbound output records (their conversion to generic OVSDB rows is in
//! `sb/row.rs`).
//!
//! The dataflow's output is one collection of [`SbRecord`]s; each record is a
//! whole SB row (with its UUID). A changed row shows up as a retraction of the
//! old record and an insertion of the new one under the same UUID.

use std::sync::Arc;

use ovsdb::Uuid;

use crate::stage::Stage;

mod row;
pub use row::SB_TABLES;

/// One SB row the compiler writes. Key: `(table, uuid)`.
///
/// The widest rows, rare beside logical flows, are boxed: every record
/// (the dataflow's output, the compiler's SB map) is as wide as the widest
/// variant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SbRecord {
    /// A `Datapath_Binding` row (one per logical switch).
    DatapathBinding(DatapathBinding),
    /// A `Port_Binding` row (one per logical switch port).
    PortBinding(Box<PortBinding>),
    /// A `Multicast_Group` row.
    MulticastGroup(MulticastGroup),
    /// A `Logical_DP_Group` row (one per distinct set of datapaths sharing flows).
    LogicalDpGroup(LogicalDpGroup),
    /// A `Logical_Flow` row.
    LogicalFlow(LogicalFlow),
    /// An `IP_Multicast` row (one per logical switch).
    IpMulticast(IpMulticast),
    /// A `Port_Group` row (one per NB port group and switch it spans).
    PortGroup(PortGroup),
    /// An `Address_Set` row.
    AddressSet(AddressSet),
    /// The `SB_Global` row.
    SbGlobal(SbGlobal),
    /// A `DHCP_Options` row.
    DhcpOptions(DhcpOption),
    /// A `DHCPv6_Options` row.
    Dhcpv6Options(DhcpOption),
    /// An `RBAC_Role` row.
    RbacRole(RbacRole),
    /// An `RBAC_Permission` row.
    RbacPermission(RbacPermission),
    /// A `DNS` row.
    Dns(Dns),
    /// A `Load_Balancer` row (one per NB load balancer applied to a switch).
    LoadBalancer(LoadBalancer),
    /// A `Meter` row.
    Meter(Meter),
    /// A `Meter_Band` row.
    MeterBand(MeterBand),
    /// A `Service_Monitor` row.
    ServiceMonitor(Box<ServiceMonitor>),
    /// An `HA_Chassis_Group` row (one per distributed gateway port's group).
    HaChassisGroup(HaChassisGroup),
    /// An `HA_Chassis` row (one per chassis of a group).
    HaChassis(HaChassis),
    /// A `Chassis_Template_Var` row (one per NB row).
    ChassisTemplateVar(ChassisTemplateVar),
    /// A `BFD` row (one per NB `BFD` row).
    Bfd(Box<Bfd>),
}

/// SB `Chassis_Template_Var` (`sync_template_vars()`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChassisTemplateVar {
    /// Row UUID.
    pub uuid: Uuid,
    /// `chassis`.
    pub chassis: String,
    /// `variables`, sorted by name.
    pub variables: Vec<(String, String)>,
}

/// SB `BFD` (`build_bfd_table()`); `status` is also ovn-controller's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bfd {
    /// Row UUID.
    pub uuid: Uuid,
    /// `logical_port`.
    pub logical_port: String,
    /// `dst_ip`.
    pub dst_ip: String,
    /// `src_port`: allocated from 49152.
    pub src_port: u32,
    /// `disc`: the local discriminator (random in northd).
    pub disc: i64,
    /// `min_tx`.
    pub min_tx: i64,
    /// `min_rx`.
    pub min_rx: i64,
    /// `detect_mult`.
    pub detect_mult: i64,
    /// `status`.
    pub status: String,
    /// Not an SB column: the status northd writes back into the NB `BFD`
    /// row of this session ([`crate::rules::router::bfd::nb_status`]).
    pub nb_status: String,
    /// Not written: the status the SB row holds (SB input), so that the
    /// row changes, and `status` is written again where northd would,
    /// when ovn-controller changes it.
    pub reported: Option<String>,
}

/// SB `Meter` (`sync_meters()`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Meter {
    /// Row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `unit`.
    pub unit: String,
    /// `bands` (`Meter_Band` UUIDs), sorted.
    pub bands: Vec<Uuid>,
}

/// SB `Meter_Band`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MeterBand {
    /// Row UUID.
    pub uuid: Uuid,
    /// `action`.
    pub action: String,
    /// `rate`.
    pub rate: i64,
    /// `burst_size`.
    pub burst_size: i64,
}

/// SB `Service_Monitor` (`ovn_lb_svc_create()`); `status` is
/// ovn-controller's, except that northd turns `online` into `offline` while
/// the backend's port is not up.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceMonitor {
    /// Row UUID.
    pub uuid: Uuid,
    /// `ip`: the backend address.
    pub ip: String,
    /// `protocol`: `tcp` or `udp`.
    pub protocol: String,
    /// `port`.
    pub port: u16,
    /// `logical_port`: the backend's port.
    pub logical_port: String,
    /// `src_mac`: `NB_Global:options:svc_monitor_mac`.
    pub src_mac: String,
    /// `src_ip`: from the load balancer's `ip_port_mappings`.
    pub src_ip: String,
    /// `options`: the health check's, sorted by key.
    pub options: Vec<(String, String)>,
    /// `status`: what ovn-controller reported (SB input), `offline` in
    /// place of `online` for a port that is not up; empty when unreported.
    pub status: Option<String>,
    /// Not written: the status the SB holds (SB input), so that the row
    /// changes, and `offline` is written again, when ovn-controller
    /// reports `online` for a port that is still down.
    pub reported: Option<String>,
}

/// SB `HA_Chassis_Group` (`sync_ha_chassis_group_for_sbpb()`,
/// `copy_gw_chassis_from_nbrp_to_sbpb()`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HaChassisGroup {
    /// Row UUID.
    pub uuid: Uuid,
    /// `name`: the NB group's name, or the router port's for
    /// `gateway_chassis`.
    pub name: String,
    /// `ha_chassis` (SB `HA_Chassis` UUIDs), sorted.
    pub ha_chassis: Vec<Uuid>,
}

/// SB `HA_Chassis`. `chassis` stays empty: northd sets it only when a
/// `Chassis` row of that name exists, which the compiler does not read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HaChassis {
    /// Row UUID.
    pub uuid: Uuid,
    /// `priority`.
    pub priority: i64,
    /// `external_ids:chassis-name`.
    pub chassis_name: String,
}

/// SB `Load_Balancer` (`sync_lbs()`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoadBalancer {
    /// Row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `vips`, sorted by key.
    pub vips: Vec<(String, String)>,
    /// `protocol` as in NB.
    pub protocol: Option<String>,
    /// `datapath_group`: always a group, even of one switch.
    pub datapath_group: Uuid,
    /// `options`: NB's plus `hairpin_orig_tuple=true`, sorted by key.
    pub options: Vec<(String, String)>,
    /// `external_ids` (`lb_id`).
    pub external_ids: Vec<(String, String)>,
}

/// SB `DNS`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dns {
    /// Row UUID.
    pub uuid: Uuid,
    /// `datapaths` (SB UUIDs), sorted.
    pub datapaths: Vec<Uuid>,
    /// `records`, sorted by key.
    pub records: Vec<(String, String)>,
    /// `external_ids` (`dns_id`).
    pub external_ids: Vec<(String, String)>,
}

/// SB `SB_Global`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SbGlobal {
    /// Row UUID.
    pub uuid: Uuid,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
    /// `nb_cfg`.
    pub nb_cfg: i64,
    /// `ipsec`.
    pub ipsec: bool,
}

/// SB `DHCP_Options` / `DHCPv6_Options`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DhcpOption {
    /// Row UUID.
    pub uuid: Uuid,
    /// `code`.
    pub code: i64,
    /// `name`.
    pub name: String,
    /// `type`.
    pub type_: String,
}

/// SB `RBAC_Role`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RbacRole {
    /// Row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `permissions`: table name → `RBAC_Permission` UUID, sorted.
    pub permissions: Vec<(String, Uuid)>,
}

/// SB `RBAC_Permission`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RbacPermission {
    /// Row UUID.
    pub uuid: Uuid,
    /// `table`.
    pub table: String,
    /// `authorization`.
    pub authorization: Vec<String>,
    /// `insert_delete`.
    pub insert_delete: bool,
    /// `update`.
    pub update: Vec<String>,
}

/// SB `Port_Group`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortGroup {
    /// Row UUID.
    pub uuid: Uuid,
    /// `name`: `<datapath tunnel key>_<NB name>`.
    pub name: String,
    /// `ports`: logical port names.
    pub ports: Vec<String>,
}

/// SB `Address_Set`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressSet {
    /// Row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `addresses`.
    pub addresses: Vec<String>,
}

/// SB `IP_Multicast`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpMulticast {
    /// Row UUID.
    pub uuid: Uuid,
    /// `datapath` (SB UUID).
    pub datapath: Uuid,
    /// `enabled`.
    pub enabled: bool,
    /// `querier`.
    pub querier: bool,
    /// `table_size`.
    pub table_size: u64,
    /// `idle_timeout`.
    pub idle_timeout: u64,
    /// `query_interval`.
    pub query_interval: u64,
    /// `query_max_resp`.
    pub query_max_resp: u64,
    /// `eth_src`.
    pub eth_src: String,
    /// `ip4_src`.
    pub ip4_src: String,
    /// `ip6_src`.
    pub ip6_src: String,
}

/// SB `Datapath_Binding`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatapathBinding {
    /// Row UUID.
    pub uuid: Uuid,
    /// `tunnel_key`.
    pub tunnel_key: u32,
    /// `external_ids`, sorted by key.
    pub external_ids: Vec<(String, String)>,
}

/// SB `Port_Binding`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortBinding {
    /// Row UUID.
    pub uuid: Uuid,
    /// `logical_port`.
    pub logical_port: String,
    /// `datapath` (SB `Datapath_Binding` UUID).
    pub datapath: Uuid,
    /// `tunnel_key`.
    pub tunnel_key: u32,
    /// `type`.
    pub type_: String,
    /// `mac`.
    pub mac: Vec<String>,
    /// `port_security`.
    pub port_security: Vec<String>,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
    /// `external_ids`, sorted by key.
    pub external_ids: Vec<(String, String)>,
    /// `parent_port`.
    pub parent_port: Option<String>,
    /// `nat_addresses`.
    pub nat_addresses: Vec<String>,
    /// `tag`.
    pub tag: Option<i64>,
    /// `ha_chassis_group` (SB `HA_Chassis_Group` UUID) of an external port or
    /// of a chassisredirect
    /// port.
    pub ha_chassis_group: Option<Uuid>,
}

/// SB `Multicast_Group`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MulticastGroup {
    /// Row UUID.
    pub uuid: Uuid,
    /// `datapath` (SB UUID).
    pub datapath: Uuid,
    /// `name`.
    pub name: String,
    /// `tunnel_key`.
    pub tunnel_key: u32,
    /// `ports` (SB `Port_Binding` UUIDs), sorted.
    pub ports: Vec<Uuid>,
}

/// SB `Logical_DP_Group`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogicalDpGroup {
    /// Row UUID.
    pub uuid: Uuid,
    /// `datapaths` (SB UUIDs), sorted.
    pub datapaths: Vec<Uuid>,
}

/// SB `Logical_Flow`. Compact: the columns northd derives from the stage
/// (`pipeline`, `table_id`, `external_ids:stage-name`) and from the
/// `ovn_lflow_add()` call (`external_ids:source`, `stage-hint`,
/// `tags:in_out_port`) are kept as what they derive from, and `match` and
/// `actions` are shared (`Arc`) with the dataflow's record of the flow: a
/// cluster's SB holds tens of thousands of flows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogicalFlow {
    /// Row UUID.
    pub uuid: Uuid,
    /// `logical_datapath` (set when the flow applies to one datapath).
    pub logical_datapath: Option<Uuid>,
    /// `logical_dp_group` (set when it applies to several).
    pub logical_dp_group: Option<Uuid>,
    /// The stage: `pipeline`, `table_id` and `external_ids:stage-name`.
    pub stage: Stage,
    /// `priority`.
    pub priority: u16,
    /// `match`.
    pub match_: Arc<str>,
    /// `actions`.
    pub actions: Arc<str>,
    /// `external_ids:source`: the line of the `ovn_lflow_add()` call in
    /// northd.c v23.03.1 (`northd.c:LINE`).
    pub source: u32,
    /// `external_ids:stage-hint`: the NB row the flow derives from (the
    /// first 8 hex digits of its UUID).
    pub hint: Option<Uuid>,
    /// `tags:in_out_port`.
    pub io_port: Option<Arc<str>>,
    /// `controller_meter`.
    pub controller_meter: Option<String>,
}

impl LogicalFlow {
    /// `pipeline`: "ingress" or "egress".
    pub fn pipeline(&self) -> &'static str {
        self.stage.pipeline().name()
    }

    /// `table_id`.
    pub fn table_id(&self) -> u8 {
        self.stage.table()
    }

    /// `external_ids` (`source`, `stage-hint`, `stage-name`), sorted by key.
    pub fn external_ids(&self) -> Vec<(String, String)> {
        let mut ids = Vec::with_capacity(3);
        ids.push(("source".to_string(), format!("northd.c:{}", self.source)));
        if let Some(h) = self.hint {
            ids.push((
                "stage-hint".to_string(),
                h.simple().to_string()[..8].to_string(),
            ));
        }
        ids.push(("stage-name".to_string(), self.stage.name().to_string()));
        ids
    }

    /// `tags` (`in_out_port`).
    pub fn tags(&self) -> Vec<(String, String)> {
        self.io_port
            .iter()
            .map(|p| ("in_out_port".to_string(), p.to_string()))
            .collect()
    }
}
