//! Database-wide SB rows: `SB_Global` (`ovnnb_db_run()` copying NB_Global),
//! and the tables northd fills with constants on every run: the supported
//! DHCP options (`check_and_add_supported_dhcp_opts_to_sb_db()`,
//! lib/ovn-l7.h) and ovn-controller's RBAC role (`check_and_update_rbac()`).

use crate::ids;
use crate::nb::NbGlobal;
use crate::sb::{DhcpOption, RbacPermission, RbacRole, SbGlobal, SbRecord};

/// `ovn_get_internal_version()` of ovn-northd 23.03.1.
pub const NORTHD_INTERNAL_VERSION: &str = "23.03.1-20.27.0-70.6";

/// `max_tunid`: the highest datapath key without VXLAN chassis.
pub const MAX_TUNID: u32 = crate::rules::datapath::DP_KEY_MAX;

/// DHCPv4 options ovn-controller supports: (code, name, type).
const DHCPV4: &[(i64, &str, &str)] = &[
    (0, "offerip", "ipv4"),
    (1, "netmask", "ipv4"),
    (3, "router", "ipv4"),
    (6, "dns_server", "ipv4"),
    (7, "log_server", "ipv4"),
    (9, "lpr_server", "ipv4"),
    (12, "hostname", "str"),
    (15, "domain_name", "str"),
    (16, "swap_server", "ipv4"),
    (19, "ip_forward_enable", "bool"),
    (21, "policy_filter", "ipv4"),
    (23, "default_ttl", "uint8"),
    (26, "mtu", "uint16"),
    (28, "broadcast_address", "ipv4"),
    (31, "router_discovery", "bool"),
    (32, "router_solicitation", "ipv4"),
    (35, "arp_cache_timeout", "uint32"),
    (36, "ethernet_encap", "bool"),
    (37, "tcp_ttl", "uint8"),
    (38, "tcp_keepalive_interval", "uint32"),
    (41, "nis_server", "ipv4"),
    (42, "ntp_server", "ipv4"),
    (44, "netbios_name_server", "ipv4"),
    (46, "netbios_node_type", "uint8"),
    (51, "lease_time", "uint32"),
    (54, "server_id", "ipv4"),
    (58, "T1", "uint32"),
    (59, "T2", "uint32"),
    (66, "tftp_server", "host_id"),
    (67, "bootfile_name", "str"),
    (119, "domain_search_list", "domains"),
    (121, "classless_static_route", "static_routes"),
    (150, "tftp_server_address", "ipv4"),
    (210, "path_prefix", "str"),
    (249, "ms_classless_static_route", "static_routes"),
    (252, "wpad", "str"),
    (253, "next_server", "ipv4"),
    (254, "bootfile_name_alt", "str"),
];

/// DHCPv6 options ovn-controller supports.
const DHCPV6: &[(i64, &str, &str)] = &[
    (2, "server_id", "mac"),
    (5, "ia_addr", "ipv6"),
    (23, "dns_server", "ipv6"),
    (24, "domain_search", "str"),
];

/// ovn-controller's permissions: (table, authorization, insert_delete, update).
const RBAC: &[(&str, &str, bool, &[&str])] = &[
    ("BFD", "", false, &["status"]),
    (
        "Port_Binding",
        "",
        false,
        &[
            "additional_chassis",
            "additional_encap",
            "chassis",
            "encap",
            "options",
            "up",
            "virtual_parent",
        ],
    ),
    ("Service_Monitor", "", false, &["status"]),
    (
        "Controller_Event",
        "",
        true,
        &["chassis", "event_info", "event_type", "seq_num"],
    ),
    ("FDB", "", true, &["dp_key", "mac", "port_key"]),
    (
        "IGMP_Group",
        "",
        true,
        &["address", "chassis", "datapath", "ports"],
    ),
    (
        "MAC_Binding",
        "",
        true,
        &["datapath", "ip", "logical_port", "mac", "timestamp"],
    ),
    ("Encap", "chassis_name", true, &["ip", "options", "type"]),
    (
        "Chassis",
        "name",
        true,
        &[
            "encaps",
            "external_ids",
            "nb_cfg",
            "other_config",
            "transport_zones",
            "vtep_logical_switches",
        ],
    ),
    (
        "Chassis_Private",
        "name",
        true,
        &["chassis", "external_ids", "nb_cfg", "nb_cfg_timestamp"],
    ),
];

/// The rows northd writes whatever the NB holds.
pub fn static_rows() -> Vec<SbRecord> {
    let mut out = Vec::new();
    for (table, list) in [("DHCP_Options", DHCPV4), ("DHCPv6_Options", DHCPV6)] {
        for (code, name, type_) in list {
            let option = DhcpOption {
                uuid: ids::derive(table, &[name.as_bytes()]),
                code: *code,
                name: name.to_string(),
                type_: type_.to_string(),
            };
            out.push(if table == "DHCP_Options" {
                SbRecord::DhcpOptions(option)
            } else {
                SbRecord::Dhcpv6Options(option)
            });
        }
    }
    let mut permissions = Vec::new();
    for (table, authorization, insert_delete, update) in RBAC {
        let uuid = ids::derive("RBAC_Permission", &[table.as_bytes()]);
        permissions.push((table.to_string(), uuid));
        out.push(SbRecord::RbacPermission(RbacPermission {
            uuid,
            table: table.to_string(),
            authorization: vec![authorization.to_string()],
            insert_delete: *insert_delete,
            update: update.iter().map(|c| c.to_string()).collect(),
        }));
    }
    permissions.sort();
    out.push(SbRecord::RbacRole(RbacRole {
        uuid: ids::derive("RBAC_Role", &[b"ovn-controller"]),
        name: "ovn-controller".to_string(),
        permissions,
    }));
    out
}

/// `set_mac_prefix()`: a valid, non-zero `xx:xx:xx` prefix, normalized.
/// (Without one northd picks a random prefix, which we cannot reproduce.)
fn mac_prefix(v: &str) -> Option<String> {
    let mac = crate::rules::addr::parse_mac(&format!("{v}:00:00:00"))?;
    let prefix = mac[..8].to_string();
    (prefix != "00:00:00").then_some(prefix)
}

/// `SB_Global`: `options` copied from NB_Global plus `mac_prefix`,
/// `svc_monitor_mac` (when NB has none northd picks a random one, which it
/// also writes back to NB), `max_tunid` and `northd_internal_version`;
/// `nb_cfg` and `ipsec` copied.
pub fn sb_global(nb: &NbGlobal) -> SbRecord {
    let mut options: std::collections::BTreeMap<String, String> =
        nb.options.iter().cloned().collect();
    match nb
        .options
        .iter()
        .find(|(k, _)| k == "mac_prefix")
        .and_then(|(_, v)| mac_prefix(v))
    {
        Some(p) => {
            options.insert("mac_prefix".into(), p);
        }
        None => {
            options.remove("mac_prefix");
        }
    }
    options.insert("max_tunid".into(), MAX_TUNID.to_string());
    options.insert(
        "northd_internal_version".into(),
        NORTHD_INTERNAL_VERSION.into(),
    );
    options.remove("lb_hairpin_use_ct_mark");
    SbRecord::SbGlobal(SbGlobal {
        uuid: ids::derive("SB_Global", &[]),
        options: options.into_iter().collect(),
        nb_cfg: nb.nb_cfg,
        ipsec: nb.ipsec,
    })
}
