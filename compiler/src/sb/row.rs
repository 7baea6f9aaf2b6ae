//! [`SbRecord`]s as generic OVSDB rows: the table each record goes to,
//! its UUID, and the row with every column of the SB 23.03 schema (the
//! columns the compiler does not own at ovsdb-server's defaults).

use ovsdb::{Atom, Datum, Row, Uuid};

use super::SbRecord;

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
                row.insert("tunnel_key", Datum::scalar(r.tunnel_key as i64));
                row.insert("external_ids", smap(&r.external_ids));
                empty(&mut row, &["load_balancers"]);
            }
            SbRecord::PortBinding(r) => {
                row.insert("logical_port", Datum::scalar(r.logical_port.as_str()));
                row.insert("datapath", Datum::scalar(r.datapath));
                row.insert("tunnel_key", Datum::scalar(r.tunnel_key as i64));
                row.insert("type", Datum::scalar(r.type_.as_str()));
                row.insert("mac", strings(&r.mac));
                row.insert("port_security", strings(&r.port_security));
                row.insert("options", smap(&r.options));
                row.insert("external_ids", smap(&r.external_ids));
                row.insert("parent_port", opt(r.parent_port.clone()));
                row.insert("nat_addresses", strings(&r.nat_addresses));
                row.insert("tag", opt(r.tag));
                row.insert("ha_chassis_group", opt(r.ha_chassis_group));
                row.insert("up", Datum::scalar(false));
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
                row.insert("datapath", Datum::scalar(r.datapath));
                row.insert("name", Datum::scalar(r.name.as_str()));
                row.insert("tunnel_key", Datum::scalar(r.tunnel_key as i64));
                row.insert("ports", uuids(&r.ports));
            }
            SbRecord::LogicalDpGroup(r) => {
                row.insert("datapaths", uuids(&r.datapaths));
            }
            SbRecord::LogicalFlow(r) => {
                row.insert("logical_datapath", opt(r.logical_datapath));
                row.insert("logical_dp_group", opt(r.logical_dp_group));
                row.insert("pipeline", Datum::scalar(r.pipeline()));
                row.insert("table_id", Datum::scalar(r.table_id() as i64));
                row.insert("priority", Datum::scalar(r.priority as i64));
                row.insert("match", Datum::scalar(&*r.match_));
                row.insert("actions", Datum::scalar(&*r.actions));
                row.insert("external_ids", smap(&r.external_ids()));
                row.insert("tags", smap(&r.tags()));
                row.insert("controller_meter", opt(r.controller_meter.clone()));
            }
            SbRecord::IpMulticast(r) => {
                row.insert("datapath", Datum::scalar(r.datapath));
                row.insert("enabled", Datum::scalar(r.enabled));
                row.insert("querier", Datum::scalar(r.querier));
                row.insert("table_size", Datum::scalar(r.table_size as i64));
                row.insert("idle_timeout", Datum::scalar(r.idle_timeout as i64));
                row.insert("query_interval", Datum::scalar(r.query_interval as i64));
                row.insert("query_max_resp", Datum::scalar(r.query_max_resp as i64));
                row.insert("eth_src", Datum::scalar(r.eth_src.as_str()));
                row.insert("ip4_src", Datum::scalar(r.ip4_src.as_str()));
                row.insert("ip6_src", Datum::scalar(r.ip6_src.as_str()));
                row.insert("seq_no", Datum::scalar(0i64));
            }
            SbRecord::PortGroup(r) => {
                row.insert("name", Datum::scalar(r.name.as_str()));
                row.insert("ports", strings(&r.ports));
            }
            SbRecord::AddressSet(r) => {
                row.insert("name", Datum::scalar(r.name.as_str()));
                row.insert("addresses", strings(&r.addresses));
            }
            SbRecord::SbGlobal(r) => {
                row.insert("options", smap(&r.options));
                row.insert("nb_cfg", Datum::scalar(r.nb_cfg));
                row.insert("ipsec", Datum::scalar(r.ipsec));
                row.insert("external_ids", Datum::empty_map());
                empty(&mut row, &["connections", "ssl"]);
            }
            SbRecord::DhcpOptions(r) | SbRecord::Dhcpv6Options(r) => {
                row.insert("code", Datum::scalar(r.code));
                row.insert("name", Datum::scalar(r.name.as_str()));
                row.insert("type", Datum::scalar(r.type_.as_str()));
            }
            SbRecord::RbacRole(r) => {
                row.insert("name", Datum::scalar(r.name.as_str()));
                let perms = r
                    .permissions
                    .iter()
                    .map(|(t, u)| (Atom::String(t.clone()), Atom::Uuid(*u)));
                row.insert("permissions", Datum::map(perms));
            }
            SbRecord::Dns(r) => {
                row.insert("datapaths", uuids(&r.datapaths));
                row.insert("records", smap(&r.records));
                row.insert("external_ids", smap(&r.external_ids));
            }
            SbRecord::LoadBalancer(r) => {
                row.insert("name", Datum::scalar(r.name.as_str()));
                row.insert("vips", smap(&r.vips));
                row.insert("protocol", opt(r.protocol.clone()));
                row.insert("datapath_group", Datum::scalar(r.datapath_group));
                row.insert("options", smap(&r.options));
                row.insert("external_ids", smap(&r.external_ids));
                empty(&mut row, &["datapaths"]);
            }
            SbRecord::Meter(r) => {
                row.insert("name", Datum::scalar(r.name.as_str()));
                row.insert("unit", Datum::scalar(r.unit.as_str()));
                row.insert("bands", uuids(&r.bands));
            }
            SbRecord::MeterBand(r) => {
                row.insert("action", Datum::scalar(r.action.as_str()));
                row.insert("rate", Datum::scalar(r.rate));
                row.insert("burst_size", Datum::scalar(r.burst_size));
            }
            SbRecord::ServiceMonitor(r) => {
                row.insert("ip", Datum::scalar(r.ip.as_str()));
                row.insert("protocol", Datum::scalar(r.protocol.as_str()));
                row.insert("port", Datum::scalar(r.port as i64));
                row.insert("logical_port", Datum::scalar(r.logical_port.as_str()));
                row.insert("src_mac", Datum::scalar(r.src_mac.as_str()));
                row.insert("src_ip", Datum::scalar(r.src_ip.as_str()));
                row.insert("options", smap(&r.options));
                row.insert("external_ids", Datum::empty_map());
                row.insert("status", opt(r.status.as_deref()));
            }
            SbRecord::HaChassisGroup(r) => {
                row.insert("name", Datum::scalar(r.name.as_str()));
                row.insert("ha_chassis", uuids(&r.ha_chassis));
                row.insert("external_ids", Datum::empty_map());
                empty(&mut row, &["ref_chassis"]);
            }
            SbRecord::HaChassis(r) => {
                row.insert("priority", Datum::scalar(r.priority));
                row.insert(
                    "external_ids",
                    Datum::string_map([("chassis-name", r.chassis_name.as_str())]),
                );
                empty(&mut row, &["chassis"]);
            }
            SbRecord::ChassisTemplateVar(r) => {
                row.insert("chassis", Datum::scalar(r.chassis.as_str()));
                row.insert("variables", smap(&r.variables));
            }
            SbRecord::Bfd(r) => {
                row.insert("logical_port", Datum::scalar(r.logical_port.as_str()));
                row.insert("dst_ip", Datum::scalar(r.dst_ip.as_str()));
                row.insert("src_port", Datum::scalar(r.src_port as i64));
                row.insert("disc", Datum::scalar(r.disc));
                row.insert("min_tx", Datum::scalar(r.min_tx));
                row.insert("min_rx", Datum::scalar(r.min_rx));
                row.insert("detect_mult", Datum::scalar(r.detect_mult));
                row.insert("status", Datum::scalar(r.status.as_str()));
                row.insert("external_ids", Datum::empty_map());
                row.insert("options", Datum::empty_map());
            }
            SbRecord::RbacPermission(r) => {
                row.insert("table", Datum::scalar(r.table.as_str()));
                row.insert("authorization", strings(&r.authorization));
                row.insert("insert_delete", Datum::scalar(r.insert_delete));
                row.insert("update", strings(&r.update));
            }
        }
        row
    }
}
