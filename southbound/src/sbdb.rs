//! The Southbound rows a chassis reads (the tables ovn-controller 23.03
//! monitors for flow computation), as typed rows with the indexes
//! ovn-controller builds over them (`sbrec_port_binding_by_name`,
//! `sbrec_port_binding_by_datapath`, `mcgroup_lookup_by_dp_name`, …).

use std::collections::BTreeMap;

use ovsdb::sb::{
    AddressSet, Chassis, DatapathBinding, DhcpOptions, Dhcpv6Options, Encap, Fdb, HaChassis,
    HaChassisGroup, LoadBalancer, LogicalDpGroup, LogicalFlow, MacBinding, Meter, MeterBand,
    MulticastGroup, PortBinding, PortGroup, SbGlobal, StaticMacBinding,
};
use ovsdb::typed::TypedRow;
use ovsdb::{Database, Uuid};

use crate::Error;

/// The Southbound content relevant to OpenFlow generation, with indexes.
#[derive(Debug, Clone, Default)]
pub struct Southbound {
    /// `Datapath_Binding` by UUID.
    pub datapaths: BTreeMap<Uuid, DatapathBinding>,
    /// `Port_Binding` by UUID.
    pub port_bindings: BTreeMap<Uuid, PortBinding>,
    /// `Logical_Flow` by UUID.
    pub logical_flows: BTreeMap<Uuid, LogicalFlow>,
    /// `Logical_DP_Group` by UUID.
    pub dp_groups: BTreeMap<Uuid, LogicalDpGroup>,
    /// `Multicast_Group` by UUID.
    pub mc_groups: BTreeMap<Uuid, MulticastGroup>,
    /// `Address_Set` rows.
    pub address_sets: Vec<AddressSet>,
    /// `Port_Group` rows.
    pub port_groups: Vec<PortGroup>,
    /// `Chassis` by UUID.
    pub chassis: BTreeMap<Uuid, Chassis>,
    /// `Encap` by UUID.
    pub encaps: BTreeMap<Uuid, Encap>,
    /// `HA_Chassis_Group` by UUID.
    pub ha_groups: BTreeMap<Uuid, HaChassisGroup>,
    /// `HA_Chassis` by UUID.
    pub ha_chassis: BTreeMap<Uuid, HaChassis>,
    /// `Load_Balancer` rows.
    pub load_balancers: Vec<LoadBalancer>,
    /// `MAC_Binding` rows.
    pub mac_bindings: Vec<MacBinding>,
    /// `Static_MAC_Binding` rows.
    pub static_mac_bindings: Vec<StaticMacBinding>,
    /// `FDB` rows.
    pub fdbs: Vec<Fdb>,
    /// `Meter` rows.
    pub meters: Vec<Meter>,
    /// `Meter_Band` by UUID.
    pub meter_bands: BTreeMap<Uuid, MeterBand>,
    /// `DHCP_Options` rows.
    pub dhcp_options: Vec<DhcpOptions>,
    /// `DHCPv6_Options` rows.
    pub dhcpv6_options: Vec<Dhcpv6Options>,
    /// `SB_Global.options` (of the first row; empty without one).
    pub global_options: BTreeMap<String, String>,
    port_by_name: BTreeMap<String, Uuid>,
    dp_by_key: BTreeMap<i64, Uuid>,
    mc_by_dp_name: BTreeMap<(Uuid, String), Uuid>,
}

fn rows<T: TypedRow>(db: &Database) -> Result<Vec<T>, Error> {
    let Some(table) = db.table(T::TABLE) else {
        return Err(Error::Input(format!(
            "the database has no {} table (is it an OVN_Southbound database?)",
            T::TABLE
        )));
    };
    table
        .iter()
        .map(|(uuid, row)| T::from_row(*uuid, row).map_err(|e| Error::Input(e.to_string())))
        .collect()
}

fn by_uuid<T: TypedRow>(db: &Database) -> Result<BTreeMap<Uuid, T>, Error> {
    Ok(rows::<T>(db)?.into_iter().map(|r| (r.uuid(), r)).collect())
}

/// Tables that older schemas may lack; missing means empty.
fn optional_rows<T: TypedRow>(db: &Database) -> Result<Vec<T>, Error> {
    if db.table(T::TABLE).is_none() {
        return Ok(Vec::new());
    }
    rows(db)
}

impl Southbound {
    /// Reads the relevant tables of an `OVN_Southbound` database.
    pub fn from_database(db: &Database) -> Result<Southbound, Error> {
        let mut sb = Southbound {
            datapaths: by_uuid(db)?,
            port_bindings: by_uuid(db)?,
            logical_flows: by_uuid(db)?,
            dp_groups: by_uuid(db)?,
            mc_groups: by_uuid(db)?,
            address_sets: rows(db)?,
            port_groups: rows(db)?,
            chassis: by_uuid(db)?,
            encaps: by_uuid(db)?,
            ha_groups: by_uuid(db)?,
            ha_chassis: by_uuid(db)?,
            load_balancers: rows(db)?,
            mac_bindings: rows(db)?,
            static_mac_bindings: optional_rows(db)?,
            fdbs: rows(db)?,
            meters: rows(db)?,
            meter_bands: by_uuid(db)?,
            dhcp_options: rows(db)?,
            dhcpv6_options: rows(db)?,
            global_options: optional_rows::<SbGlobal>(db)?
                .into_iter()
                .next()
                .map(|g| g.options)
                .unwrap_or_default(),
            ..Southbound::default()
        };
        sb.reindex();
        Ok(sb)
    }

    /// Rebuilds the indexes after rows were changed in place.
    pub fn reindex(&mut self) {
        let sb = self;
        sb.port_by_name = sb
            .port_bindings
            .values()
            .map(|pb| (pb.logical_port.clone(), pb.uuid))
            .collect();
        sb.dp_by_key = sb
            .datapaths
            .values()
            .map(|dp| (dp.tunnel_key, dp.uuid))
            .collect();
        sb.mc_by_dp_name = sb
            .mc_groups
            .values()
            .map(|mc| ((mc.datapath, mc.name.clone()), mc.uuid))
            .collect();
    }

    /// A port binding by logical port name (`lport_lookup_by_name`).
    pub fn port(&self, name: &str) -> Option<&PortBinding> {
        self.port_by_name
            .get(name)
            .and_then(|u| self.port_bindings.get(u))
    }

    /// A datapath by UUID.
    pub fn datapath(&self, uuid: &Uuid) -> Option<&DatapathBinding> {
        self.datapaths.get(uuid)
    }

    /// A datapath by tunnel key.
    pub fn datapath_by_key(&self, key: i64) -> Option<&DatapathBinding> {
        self.dp_by_key.get(&key).and_then(|u| self.datapaths.get(u))
    }

    /// A multicast group by datapath and name (`mcgroup_lookup_by_dp_name`).
    pub fn mc_group(&self, dp: &Uuid, name: &str) -> Option<&MulticastGroup> {
        self.mc_by_dp_name
            .get(&(*dp, name.to_string()))
            .and_then(|u| self.mc_groups.get(u))
    }

    /// The port bindings of a datapath (`sbrec_port_binding_by_datapath`).
    pub fn ports_of<'a>(&'a self, dp: &'a Uuid) -> impl Iterator<Item = &'a PortBinding> + 'a {
        self.port_bindings
            .values()
            .filter(move |pb| pb.datapath == *dp)
    }

    /// A chassis row by name.
    pub fn chassis_by_name(&self, name: &str) -> Option<&Chassis> {
        self.chassis.values().find(|c| c.name == name)
    }

    /// Whether a datapath is a logical switch (`datapath_is_switch`: it has
    /// `external_ids:logical-switch`).
    pub fn is_switch(&self, dp: &DatapathBinding) -> bool {
        dp.external_ids.contains_key("logical-switch")
    }
}
