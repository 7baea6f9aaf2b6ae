//! Southbound output records and their conversion to generic OVSDB rows.
//!
//! The dataflow's output is one collection of [`SbRecord`]s; each record is a
//! whole SB row (with its UUID). A changed row shows up as a retraction of the
//! old record and an insertion of the new one under the same UUID.

use std::sync::Arc;

use ovsdb::{Atom, Datum, Row, Uuid};
use serde::{Deserialize, Serialize};

use crate::stage::Stage;

/// One SB row the compiler writes. Key: `(table, uuid)`.
///
/// The widest rows, rare beside logical flows, are boxed: every record
/// (the dataflow's output, the compiler's SB map) is as wide as the widest
/// variant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChassisTemplateVar {
    /// Row UUID.
    pub uuid: Uuid,
    /// `chassis`.
    pub chassis: String,
    /// `variables`, sorted by name.
    pub variables: Vec<(String, String)>,
}

/// SB `BFD` (`build_bfd_table()`); `status` is also ovn-controller's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HaChassis {
    /// Row UUID.
    pub uuid: Uuid,
    /// `priority`.
    pub priority: i64,
    /// `external_ids:chassis-name`.
    pub chassis_name: String,
}

/// SB `Load_Balancer` (`sync_lbs()`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RbacRole {
    /// Row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `permissions`: table name → `RBAC_Permission` UUID, sorted.
    pub permissions: Vec<(String, Uuid)>,
}

/// SB `RBAC_Permission`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortGroup {
    /// Row UUID.
    pub uuid: Uuid,
    /// `name`: `<datapath tunnel key>_<NB name>`.
    pub name: String,
    /// `ports`: logical port names.
    pub ports: Vec<String>,
}

/// SB `Address_Set`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AddressSet {
    /// Row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `addresses`.
    pub addresses: Vec<String>,
}

/// SB `IP_Multicast`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DatapathBinding {
    /// Row UUID.
    pub uuid: Uuid,
    /// `tunnel_key`.
    pub tunnel_key: u32,
    /// `external_ids`, sorted by key.
    pub external_ids: Vec<(String, String)>,
}

/// SB `Port_Binding`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// SB tables the compiler writes, in the order [`SbRecord`] lists them.
pub const SB_TABLES: &[&str] = &[
    "Datapath_Binding",
    "Port_Binding",
    "Multicast_Group",
    "Logical_DP_Group",
    "Logical_Flow",
    "IP_Multicast",
    "Port_Group",
    "Address_Set",
    "SB_Global",
    "DHCP_Options",
    "DHCPv6_Options",
    "RBAC_Role",
    "RBAC_Permission",
    "DNS",
    "Load_Balancer",
    "Meter",
    "Meter_Band",
    "Service_Monitor",
    "HA_Chassis_Group",
    "HA_Chassis",
    "Chassis_Template_Var",
    "BFD",
];

fn smap(pairs: &[(String, String)]) -> Datum {
    Datum::string_map(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn strings(v: &[String]) -> Datum {
    Datum::set(v.iter().map(|s| Atom::String(s.clone())))
}

fn uuids(v: &[Uuid]) -> Datum {
    Datum::set(v.iter().map(|u| Atom::Uuid(*u)))
}

fn opt<T: Into<Atom>>(v: Option<T>) -> Datum {
    Datum::set(v.map(Into::into))
}

fn empty(row: &mut Row, columns: &[&str]) {
    for c in columns {
        row.insert((*c).to_string(), Datum::empty_set());
    }
}

impl SbRecord {
    /// The SB table of this row.
    pub fn table(&self) -> &'static str {
        match self {
            SbRecord::DatapathBinding(_) => "Datapath_Binding",
            SbRecord::PortBinding(_) => "Port_Binding",
            SbRecord::MulticastGroup(_) => "Multicast_Group",
            SbRecord::LogicalDpGroup(_) => "Logical_DP_Group",
            SbRecord::LogicalFlow(_) => "Logical_Flow",
            SbRecord::IpMulticast(_) => "IP_Multicast",
            SbRecord::PortGroup(_) => "Port_Group",
            SbRecord::AddressSet(_) => "Address_Set",
            SbRecord::SbGlobal(_) => "SB_Global",
            SbRecord::DhcpOptions(_) => "DHCP_Options",
            SbRecord::Dhcpv6Options(_) => "DHCPv6_Options",
            SbRecord::RbacRole(_) => "RBAC_Role",
            SbRecord::RbacPermission(_) => "RBAC_Permission",
            SbRecord::Dns(_) => "DNS",
            SbRecord::LoadBalancer(_) => "Load_Balancer",
            SbRecord::Meter(_) => "Meter",
            SbRecord::MeterBand(_) => "Meter_Band",
            SbRecord::ServiceMonitor(_) => "Service_Monitor",
            SbRecord::HaChassisGroup(_) => "HA_Chassis_Group",
            SbRecord::HaChassis(_) => "HA_Chassis",
            SbRecord::ChassisTemplateVar(_) => "Chassis_Template_Var",
            SbRecord::Bfd(_) => "BFD",
        }
    }

    /// The SB row UUID.
    pub fn uuid(&self) -> Uuid {
        match self {
            SbRecord::DatapathBinding(r) => r.uuid,
            SbRecord::PortBinding(r) => r.uuid,
            SbRecord::MulticastGroup(r) => r.uuid,
            SbRecord::LogicalDpGroup(r) => r.uuid,
            SbRecord::LogicalFlow(r) => r.uuid,
            SbRecord::IpMulticast(r) => r.uuid,
            SbRecord::PortGroup(r) => r.uuid,
            SbRecord::AddressSet(r) => r.uuid,
            SbRecord::SbGlobal(r) => r.uuid,
            SbRecord::DhcpOptions(r) | SbRecord::Dhcpv6Options(r) => r.uuid,
            SbRecord::RbacRole(r) => r.uuid,
            SbRecord::RbacPermission(r) => r.uuid,
            SbRecord::Dns(r) => r.uuid,
            SbRecord::LoadBalancer(r) => r.uuid,
            SbRecord::Meter(r) => r.uuid,
            SbRecord::MeterBand(r) => r.uuid,
            SbRecord::ServiceMonitor(r) => r.uuid,
            SbRecord::HaChassisGroup(r) => r.uuid,
            SbRecord::HaChassis(r) => r.uuid,
            SbRecord::ChassisTemplateVar(r) => r.uuid,
            SbRecord::Bfd(r) => r.uuid,
        }
    }

    /// The row with every column of the SB 23.03 schema, columns the compiler
    /// does not own holding their defaults (as ovsdb-server stores them).
    pub fn to_row(&self) -> Row {
        let mut row = Row::new();
        match self {
            SbRecord::DatapathBinding(r) => {
                row.insert("tunnel_key".into(), Datum::scalar(r.tunnel_key as i64));
                row.insert("external_ids".into(), smap(&r.external_ids));
                empty(&mut row, &["load_balancers"]);
            }
            SbRecord::PortBinding(r) => {
                row.insert(
                    "logical_port".into(),
                    Datum::scalar(r.logical_port.as_str()),
                );
                row.insert("datapath".into(), Datum::scalar(r.datapath));
                row.insert("tunnel_key".into(), Datum::scalar(r.tunnel_key as i64));
                row.insert("type".into(), Datum::scalar(r.type_.as_str()));
                row.insert("mac".into(), strings(&r.mac));
                row.insert("port_security".into(), strings(&r.port_security));
                row.insert("options".into(), smap(&r.options));
                row.insert("external_ids".into(), smap(&r.external_ids));
                row.insert("parent_port".into(), opt(r.parent_port.clone()));
                row.insert("nat_addresses".into(), strings(&r.nat_addresses));
                row.insert("tag".into(), opt(r.tag));
                row.insert("ha_chassis_group".into(), opt(r.ha_chassis_group));
                row.insert("up".into(), Datum::scalar(false));
                empty(
                    &mut row,
                    &[
                        "additional_chassis",
                        "additional_encap",
                        "chassis",
                        "encap",
                        "gateway_chassis",
                        "mirror_rules",
                        "requested_additional_chassis",
                        "requested_chassis",
                        "virtual_parent",
                    ],
                );
            }
            SbRecord::MulticastGroup(r) => {
                row.insert("datapath".into(), Datum::scalar(r.datapath));
                row.insert("name".into(), Datum::scalar(r.name.as_str()));
                row.insert("tunnel_key".into(), Datum::scalar(r.tunnel_key as i64));
                row.insert("ports".into(), uuids(&r.ports));
            }
            SbRecord::LogicalDpGroup(r) => {
                row.insert("datapaths".into(), uuids(&r.datapaths));
            }
            SbRecord::LogicalFlow(r) => {
                row.insert("logical_datapath".into(), opt(r.logical_datapath));
                row.insert("logical_dp_group".into(), opt(r.logical_dp_group));
                row.insert("pipeline".into(), Datum::scalar(r.pipeline()));
                row.insert("table_id".into(), Datum::scalar(r.table_id() as i64));
                row.insert("priority".into(), Datum::scalar(r.priority as i64));
                row.insert("match".into(), Datum::scalar(&*r.match_));
                row.insert("actions".into(), Datum::scalar(&*r.actions));
                row.insert("external_ids".into(), smap(&r.external_ids()));
                row.insert("tags".into(), smap(&r.tags()));
                row.insert("controller_meter".into(), opt(r.controller_meter.clone()));
            }
            SbRecord::IpMulticast(r) => {
                row.insert("datapath".into(), Datum::scalar(r.datapath));
                row.insert("enabled".into(), Datum::scalar(r.enabled));
                row.insert("querier".into(), Datum::scalar(r.querier));
                row.insert("table_size".into(), Datum::scalar(r.table_size as i64));
                row.insert("idle_timeout".into(), Datum::scalar(r.idle_timeout as i64));
                row.insert(
                    "query_interval".into(),
                    Datum::scalar(r.query_interval as i64),
                );
                row.insert(
                    "query_max_resp".into(),
                    Datum::scalar(r.query_max_resp as i64),
                );
                row.insert("eth_src".into(), Datum::scalar(r.eth_src.as_str()));
                row.insert("ip4_src".into(), Datum::scalar(r.ip4_src.as_str()));
                row.insert("ip6_src".into(), Datum::scalar(r.ip6_src.as_str()));
                row.insert("seq_no".into(), Datum::scalar(0i64));
            }
            SbRecord::PortGroup(r) => {
                row.insert("name".into(), Datum::scalar(r.name.as_str()));
                row.insert("ports".into(), strings(&r.ports));
            }
            SbRecord::AddressSet(r) => {
                row.insert("name".into(), Datum::scalar(r.name.as_str()));
                row.insert("addresses".into(), strings(&r.addresses));
            }
            SbRecord::SbGlobal(r) => {
                row.insert("options".into(), smap(&r.options));
                row.insert("nb_cfg".into(), Datum::scalar(r.nb_cfg));
                row.insert("ipsec".into(), Datum::scalar(r.ipsec));
                row.insert("external_ids".into(), Datum::empty_map());
                empty(&mut row, &["connections", "ssl"]);
            }
            SbRecord::DhcpOptions(r) | SbRecord::Dhcpv6Options(r) => {
                row.insert("code".into(), Datum::scalar(r.code));
                row.insert("name".into(), Datum::scalar(r.name.as_str()));
                row.insert("type".into(), Datum::scalar(r.type_.as_str()));
            }
            SbRecord::RbacRole(r) => {
                row.insert("name".into(), Datum::scalar(r.name.as_str()));
                let perms = r
                    .permissions
                    .iter()
                    .map(|(t, u)| (Atom::String(t.clone()), Atom::Uuid(*u)));
                row.insert("permissions".into(), Datum::map(perms));
            }
            SbRecord::Dns(r) => {
                row.insert("datapaths".into(), uuids(&r.datapaths));
                row.insert("records".into(), smap(&r.records));
                row.insert("external_ids".into(), smap(&r.external_ids));
            }
            SbRecord::LoadBalancer(r) => {
                row.insert("name".into(), Datum::scalar(r.name.as_str()));
                row.insert("vips".into(), smap(&r.vips));
                row.insert("protocol".into(), opt(r.protocol.clone()));
                row.insert("datapath_group".into(), Datum::scalar(r.datapath_group));
                row.insert("options".into(), smap(&r.options));
                row.insert("external_ids".into(), smap(&r.external_ids));
                empty(&mut row, &["datapaths"]);
            }
            SbRecord::Meter(r) => {
                row.insert("name".into(), Datum::scalar(r.name.as_str()));
                row.insert("unit".into(), Datum::scalar(r.unit.as_str()));
                row.insert("bands".into(), uuids(&r.bands));
            }
            SbRecord::MeterBand(r) => {
                row.insert("action".into(), Datum::scalar(r.action.as_str()));
                row.insert("rate".into(), Datum::scalar(r.rate));
                row.insert("burst_size".into(), Datum::scalar(r.burst_size));
            }
            SbRecord::ServiceMonitor(r) => {
                row.insert("ip".into(), Datum::scalar(r.ip.as_str()));
                row.insert("protocol".into(), Datum::scalar(r.protocol.as_str()));
                row.insert("port".into(), Datum::scalar(r.port as i64));
                row.insert(
                    "logical_port".into(),
                    Datum::scalar(r.logical_port.as_str()),
                );
                row.insert("src_mac".into(), Datum::scalar(r.src_mac.as_str()));
                row.insert("src_ip".into(), Datum::scalar(r.src_ip.as_str()));
                row.insert("options".into(), smap(&r.options));
                row.insert("external_ids".into(), Datum::empty_map());
                row.insert("status".into(), opt(r.status.as_deref()));
            }
            SbRecord::HaChassisGroup(r) => {
                row.insert("name".into(), Datum::scalar(r.name.as_str()));
                row.insert("ha_chassis".into(), uuids(&r.ha_chassis));
                row.insert("external_ids".into(), Datum::empty_map());
                empty(&mut row, &["ref_chassis"]);
            }
            SbRecord::HaChassis(r) => {
                row.insert("priority".into(), Datum::scalar(r.priority));
                row.insert(
                    "external_ids".into(),
                    Datum::string_map([("chassis-name", r.chassis_name.as_str())]),
                );
                empty(&mut row, &["chassis"]);
            }
            SbRecord::ChassisTemplateVar(r) => {
                row.insert("chassis".into(), Datum::scalar(r.chassis.as_str()));
                row.insert("variables".into(), smap(&r.variables));
            }
            SbRecord::Bfd(r) => {
                row.insert(
                    "logical_port".into(),
                    Datum::scalar(r.logical_port.as_str()),
                );
                row.insert("dst_ip".into(), Datum::scalar(r.dst_ip.as_str()));
                row.insert("src_port".into(), Datum::scalar(r.src_port as i64));
                row.insert("disc".into(), Datum::scalar(r.disc));
                row.insert("min_tx".into(), Datum::scalar(r.min_tx));
                row.insert("min_rx".into(), Datum::scalar(r.min_rx));
                row.insert("detect_mult".into(), Datum::scalar(r.detect_mult));
                row.insert("status".into(), Datum::scalar(r.status.as_str()));
                row.insert("external_ids".into(), Datum::empty_map());
                row.insert("options".into(), Datum::empty_map());
            }
            SbRecord::RbacPermission(r) => {
                row.insert("table".into(), Datum::scalar(r.table.as_str()));
                row.insert("authorization".into(), strings(&r.authorization));
                row.insert("insert_delete".into(), Datum::scalar(r.insert_delete));
                row.insert("update".into(), strings(&r.update));
            }
        }
        row
    }
}
