//! Natural keys: how ovn-northd recognizes an existing SB row as the row
//! it computed (`build_datapaths()` by `external_ids:logical-switch` /
//! `logical-router`, `build_ports()` by `logical_port`, `build_lflows()`
//! by datapath(s), pipeline, table, priority, match, actions and meter,
//! `sync_port_groups()`/address sets by name, …).

use std::collections::HashMap;

use ovsdb::{Datum, Row, Uuid};

use super::owned_column;

/// The natural key of an SB row (references already in SB UUIDs;
/// `groups` gives the datapaths of `Logical_DP_Group` rows).
pub(super) fn natural_key(table: &str, row: &Row, groups: &HashMap<Uuid, Datum>) -> String {
    // Empty the same whichever way a row holds it: left out (the
    // daemon's replica, [`ovsdb::replica::Replica::omit_empty`]), an empty
    // set or an empty map.
    let col = |c: &str| {
        row.get(c)
            .filter(|d| !d.is_empty())
            .cloned()
            .unwrap_or_else(Datum::empty_set)
    };
    let s = |c: &str| format!("{:?}", col(c));
    match table {
        "Datapath_Binding" => {
            let ids = col("external_ids");
            match ids
                .get_str("logical-switch")
                .map(|v| ("ls", v))
                .or_else(|| ids.get_str("logical-router").map(|v| ("lr", v)))
            {
                Some((k, v)) => format!("{k}:{v}"),
                None => format!("other:{ids:?}"),
            }
        }
        "Port_Binding" => s("logical_port"),
        "Multicast_Group" => format!("{} {}", s("datapath"), s("name")),
        "Logical_DP_Group" => s("datapaths"),
        "IP_Multicast" => s("datapath"),
        "Port_Group" | "Address_Set" | "DHCP_Options" | "DHCPv6_Options" | "RBAC_Role"
        | "Meter" | "HA_Chassis_Group" => s("name"),
        // `sync_template_vars()` finds its rows by chassis.
        "Chassis_Template_Var" => s("chassis"),
        "RBAC_Permission" => s("table"),
        // `create_or_get_service_mon()` finds its rows by these.
        "Service_Monitor" => format!(
            "{} {} {} {}",
            s("ip"),
            s("port"),
            s("protocol"),
            s("logical_port")
        ),
        // `build_bfd_table()` finds its rows by these.
        "BFD" => format!("{} {}", s("logical_port"), s("dst_ip")),
        "SB_Global" => String::new(),
        "DNS" => format!("{:?}", col("external_ids").get_str("dns_id")),
        // `sync_lbs()` finds its rows by `external_ids:lb_id`.
        "Load_Balancer" => format!("{:?}", col("external_ids").get_str("lb_id")),
        "Logical_Flow" => {
            let dps = match col("logical_dp_group").as_uuid() {
                Some(g) => groups.get(&g).cloned().unwrap_or_else(|| Datum::scalar(g)),
                None => col("logical_datapath"),
            };
            format!(
                "{dps:?} {} {} {} {} {} {}",
                s("pipeline"),
                s("table_id"),
                s("priority"),
                s("match"),
                s("actions"),
                s("controller_meter")
            )
        }
        _ => {
            let owned: Vec<(&str, &Datum)> =
                row.iter().filter(|(c, _)| owned_column(table, c)).collect();
            format!("{owned:?}")
        }
    }
}
