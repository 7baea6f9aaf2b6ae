//! Reading NB rows into input records ([`records`], [`updates`]): each
//! column read through [`Reader`], whose errors name the table, row and
//! column.

use std::collections::BTreeSet;

use ovsdb::{Atom, Datum, Row, Uuid};

use super::{bfd, copp, fwd_group, ha, lb, meter, nat, qos};
use super::{
    Acl, AclRef, AddressSet, DhcpOptions, Dns, InputError, Lrp, Lsp, McastConfig, NbGlobal,
    NbRecord, Policy, PortGroup, PortGroupPort, Router, RouterPort, RouterRef, RowChange,
    StaticRoute, Switch, SwitchDns, SwitchPort,
};

/// One NB row being read; its table and UUID name it in errors.
pub(super) struct Reader<'a> {
    pub(super) table: &'a str,
    pub(super) uuid: Uuid,
    pub(super) row: &'a Row,
}

impl Reader<'_> {
    pub(super) fn err(&self, column: &str, message: impl Into<String>) -> InputError {
        InputError {
            table: self.table.to_string(),
            uuid: self.uuid,
            column: column.to_string(),
            message: message.into(),
        }
    }

    pub(super) fn datum(&self, column: &str) -> Option<&Datum> {
        self.row.get(column)
    }

    pub(super) fn string(&self, column: &str) -> Result<String, InputError> {
        match self.datum(column) {
            None => Ok(String::new()),
            Some(d) if d.is_empty() => Ok(String::new()),
            Some(d) => d
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| self.err(column, format!("expected a string, found {d}"))),
        }
    }

    pub(super) fn opt_string(&self, column: &str) -> Result<Option<String>, InputError> {
        match self.datum(column) {
            None => Ok(None),
            Some(d) if d.is_empty() => Ok(None),
            Some(d) => d
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| self.err(column, format!("expected a string, found {d}"))),
        }
    }

    pub(super) fn opt_i64(&self, column: &str) -> Result<Option<i64>, InputError> {
        match self.datum(column) {
            None => Ok(None),
            Some(d) if d.is_empty() => Ok(None),
            Some(d) => d
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.err(column, format!("expected an integer, found {d}"))),
        }
    }

    pub(super) fn opt_bool(&self, column: &str) -> Result<Option<bool>, InputError> {
        match self.datum(column) {
            None => Ok(None),
            Some(d) if d.is_empty() => Ok(None),
            Some(d) => d
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.err(column, format!("expected a boolean, found {d}"))),
        }
    }

    pub(super) fn strings(&self, column: &str) -> Result<Vec<String>, InputError> {
        let Some(d) = self.datum(column) else {
            return Ok(Vec::new());
        };
        if d.is_map() {
            return Err(self.err(column, "expected a set of strings, found a map"));
        }
        d.atoms()
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| self.err(column, format!("expected a string, found {a}")))
            })
            .collect()
    }

    pub(super) fn uuids(&self, column: &str) -> Result<Vec<Uuid>, InputError> {
        let Some(d) = self.datum(column) else {
            return Ok(Vec::new());
        };
        d.atoms()
            .iter()
            .map(|a| match a {
                Atom::Uuid(u) => Ok(*u),
                other => Err(self.err(column, format!("expected a uuid, found {other}"))),
            })
            .collect()
    }

    pub(super) fn string_map(&self, column: &str) -> Result<Vec<(String, String)>, InputError> {
        let Some(d) = self.datum(column) else {
            return Ok(Vec::new());
        };
        if !d.is_map() && !d.is_empty() {
            return Err(self.err(column, "expected a map"));
        }
        d.pairs()
            .iter()
            .map(|(k, v)| match (k.as_str(), v.as_str()) {
                (Some(k), Some(v)) => Ok((k.to_string(), v.to_string())),
                _ => Err(self.err(column, format!("expected string:string, found {k}={v}"))),
            })
            .collect()
    }
}

pub(super) fn map_get<'a>(m: &'a [(String, String)], key: &str) -> Option<&'a str> {
    m.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// OVS `smap_get_bool()`: with default false only "true" is true, with
/// default true only "false" is false (both case-insensitive).
pub fn smap_get_bool(m: &[(String, String)], key: &str, def: bool) -> bool {
    let v = map_get(m, key).unwrap_or("");
    if def {
        !v.eq_ignore_ascii_case("false")
    } else {
        v.eq_ignore_ascii_case("true")
    }
}

/// `smap_get_int(..., "requested-tnl-key", 0)`: a positive integer or nothing.
pub(crate) fn requested_tnl_key(m: &[(String, String)]) -> Option<u32> {
    map_get(m, "requested-tnl-key")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|k| *k > 0 && *k <= u32::MAX as i64)
        .map(|k| k as u32)
}

/// The input records one NB row contributes. Rows of tables the compiler does
/// not read contribute nothing.
pub fn records(table: &str, uuid: Uuid, row: &Row) -> Result<Vec<NbRecord>, InputError> {
    let r = Reader { table, uuid, row };
    match table {
        "Logical_Switch" => {
            let other_config = r.string_map("other_config")?;
            let external_ids = r.string_map("external_ids")?;
            let mut out = vec![NbRecord::Switch(Switch {
                uuid,
                name: r.string("name")?,
                requested_tnl_key: requested_tnl_key(&other_config),
                network_name: map_get(&external_ids, "neutron:network_name").map(str::to_string),
                interconn_ts: map_get(&other_config, "interconn-ts").map(str::to_string),
                vlan_passthru: smap_get_bool(&other_config, "vlan-passthru", false),
                mcast: McastConfig::from_other_config(&other_config),
                idl_rank: 0,
            })];
            for lsp in r.uuids("ports")? {
                out.push(NbRecord::SwitchPort(SwitchPort { lsp, ls: uuid }));
            }
            for acl in r.uuids("acls")? {
                out.push(NbRecord::SwitchAcl(AclRef { owner: uuid, acl }));
            }
            for dns in r.uuids("dns_records")? {
                out.push(NbRecord::SwitchDns(SwitchDns { ls: uuid, dns }));
            }
            out.extend(lb::switch_refs(&r, uuid)?);
            out.extend(qos::switch_refs(&r, uuid)?);
            out.extend(copp::owner_ref(&r, uuid)?);
            out.extend(fwd_group::switch_ref(&r, uuid)?);
            Ok(out)
        }
        "ACL" => {
            let options = r.string_map("options")?;
            Ok(vec![NbRecord::Acl(Acl {
                uuid,
                priority: r.opt_i64("priority")?.unwrap_or(0),
                direction: r.string("direction")?,
                match_: r.string("match")?,
                action: r.string("action")?,
                log: r.opt_bool("log")?.unwrap_or(false),
                name: r.opt_string("name")?,
                severity: r.opt_string("severity")?,
                meter: r.opt_string("meter")?,
                label: r.opt_i64("label")?.unwrap_or(0),
                apply_after_lb: smap_get_bool(&options, "apply-after-lb", false),
                log_related: smap_get_bool(&options, "log-related", false),
            })])
        }
        "Port_Group" => {
            let mut out = vec![NbRecord::PortGroup(PortGroup {
                uuid,
                name: r.string("name")?,
            })];
            for lsp in r.uuids("ports")? {
                out.push(NbRecord::PortGroupPort(PortGroupPort { pg: uuid, lsp }));
            }
            for acl in r.uuids("acls")? {
                out.push(NbRecord::PortGroupAcl(AclRef { owner: uuid, acl }));
            }
            Ok(out)
        }
        "NB_Global" => {
            let options = r.string_map("options")?;
            let mac = map_get(&options, "svc_monitor_mac").and_then(crate::rules::addr::parse_mac);
            Ok(vec![NbRecord::NbGlobal(NbGlobal {
                uuid,
                svc_monitor_mac: mac,
                nb_cfg: r.opt_i64("nb_cfg")?.unwrap_or(0),
                ipsec: r.opt_bool("ipsec")?.unwrap_or(false),
                options,
            })])
        }
        "DNS" => Ok(vec![NbRecord::Dns(Dns {
            uuid,
            records: r.string_map("records")?,
        })]),
        "DHCP_Options" => Ok(vec![NbRecord::DhcpOptions(DhcpOptions {
            uuid,
            cidr: r.string("cidr")?,
            options: r.string_map("options")?,
        })]),
        "Address_Set" => Ok(vec![NbRecord::AddressSet(AddressSet {
            uuid,
            name: r.string("name")?,
            addresses: r.strings("addresses")?,
        })]),
        "Logical_Router" => {
            let options = r.string_map("options")?;
            let mut out = vec![NbRecord::Router(Router {
                uuid,
                name: r.string("name")?,
                enabled: r.opt_bool("enabled")?,
                requested_tnl_key: requested_tnl_key(&options),
                options,
                external_ids: r.string_map("external_ids")?,
                idl_rank: 0,
            })];
            for lrp in r.uuids("ports")? {
                out.push(NbRecord::RouterPort(RouterPort { lrp, lr: uuid }));
            }
            for row in r.uuids("static_routes")? {
                out.push(NbRecord::RouterRoute(RouterRef { lr: uuid, row }));
            }
            for row in r.uuids("policies")? {
                out.push(NbRecord::RouterPolicy(RouterRef { lr: uuid, row }));
            }
            out.extend(nat::router_refs(&r, uuid)?);
            out.extend(copp::owner_ref(&r, uuid)?);
            Ok(out)
        }
        "Logical_Router_Port" => Ok(vec![NbRecord::Lrp(Lrp {
            uuid,
            name: r.string("name")?,
            mac: r.string("mac")?,
            networks: r.strings("networks")?,
            peer: r.opt_string("peer")?,
            enabled: r.opt_bool("enabled")?,
            options: r.string_map("options")?,
            external_ids: r.string_map("external_ids")?,
            n_gateway: r.uuids("gateway_chassis")?.len() + r.uuids("ha_chassis_group")?.len(),
            gateway_chassis: r.uuids("gateway_chassis")?,
            ha_chassis_group: r.uuids("ha_chassis_group")?.first().copied(),
            ipv6_ra_configs: r.string_map("ipv6_ra_configs")?,
        })]),
        "Logical_Router_Static_Route" => Ok(vec![NbRecord::StaticRoute(StaticRoute {
            uuid,
            ip_prefix: r.string("ip_prefix")?,
            nexthop: r.string("nexthop")?,
            output_port: r.opt_string("output_port")?,
            policy: r.opt_string("policy")?,
            route_table: r.string("route_table")?,
            options: r.string_map("options")?,
            bfd: r.uuids("bfd")?.first().copied(),
        })]),
        "Logical_Router_Policy" => Ok(vec![NbRecord::Policy(Policy {
            uuid,
            priority: r.opt_i64("priority")?.unwrap_or(0),
            match_: r.string("match")?,
            action: r.string("action")?,
            nexthop: r.opt_string("nexthop")?,
            nexthops: r.strings("nexthops")?,
            options: r.string_map("options")?,
        })]),
        "Logical_Switch_Port" => Ok(vec![NbRecord::Lsp(Lsp {
            uuid,
            name: r.string("name")?,
            type_: r.string("type")?,
            addresses: r.strings("addresses")?,
            port_security: r.strings("port_security")?,
            options: r.string_map("options")?,
            external_ids: r.string_map("external_ids")?,
            parent_name: r.opt_string("parent_name")?,
            tag: r.opt_i64("tag")?,
            tag_request: r.opt_i64("tag_request")?,
            enabled: r.opt_bool("enabled")?,
            dhcpv4_options: r.uuids("dhcpv4_options")?.first().copied(),
            dhcpv6_options: r.uuids("dhcpv6_options")?.first().copied(),
            ha_chassis_group: r.uuids("ha_chassis_group")?.first().copied(),
        })]),
        "Load_Balancer"
        | "Load_Balancer_Group"
        | "Load_Balancer_Health_Check"
        | "Chassis_Template_Var" => lb::records(&r),
        "NAT" | "Gateway_Chassis" => nat::records(&r),
        "QoS" => Ok(vec![qos::record(&r)?]),
        "Meter" | "Meter_Band" => meter::records(&r),
        "HA_Chassis_Group" | "HA_Chassis" => ha::records(&r),
        "Copp" => Ok(vec![copp::record(&r)?]),
        "Forwarding_Group" => Ok(vec![fwd_group::record(&r)?]),
        "BFD" => Ok(vec![bfd::record(&r)?]),
        _ => Ok(Vec::new()),
    }
}

/// Record-level updates (`+1` insert, `-1` retract) for a batch of row changes.
pub fn updates(
    changes: impl IntoIterator<Item = RowChange>,
) -> Result<Vec<(NbRecord, isize)>, InputError> {
    let mut out = Vec::new();
    for change in changes {
        match change {
            RowChange::Insert { table, uuid, new } => {
                out.extend(records(&table, uuid, &new)?.into_iter().map(|r| (r, 1)));
            }
            RowChange::Modify {
                table,
                uuid,
                old,
                new,
            } => {
                let old: BTreeSet<NbRecord> = records(&table, uuid, &old)?.into_iter().collect();
                let new: BTreeSet<NbRecord> = records(&table, uuid, &new)?.into_iter().collect();
                out.extend(old.difference(&new).map(|r| (r.clone(), -1)));
                out.extend(new.difference(&old).map(|r| (r.clone(), 1)));
            }
            RowChange::Delete { table, uuid, old } => {
                out.extend(records(&table, uuid, &old)?.into_iter().map(|r| (r, -1)));
            }
        }
    }
    Ok(out)
}
