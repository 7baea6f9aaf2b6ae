//! NAT input relations: `NAT` rows and the routers' references to them and
//! to load balancers, and what makes a router port a distributed gateway
//! port (`gateway_chassis`, `ha_chassis_group`).

use ovsdb::Uuid;

use super::{map_get, InputError, LbRef, NbRecord, Reader, RouterRef};

/// A NAT rule. One row per NB `NAT`; key `uuid`. Parsed and validated the
/// way `lrouter_check_nat_entry()` does by `crate::rules::router::nat`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nat {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `type`: `snat`, `dnat` or `dnat_and_snat`.
    pub type_: String,
    /// `external_ip`.
    pub external_ip: String,
    /// `external_mac`.
    pub external_mac: Option<String>,
    /// `external_port_range` (empty when unset).
    pub external_port_range: String,
    /// `logical_ip`.
    pub logical_ip: String,
    /// `logical_port`.
    pub logical_port: Option<String>,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
    /// `allowed_ext_ips` (an `Address_Set`).
    pub allowed_ext_ips: Option<Uuid>,
    /// `exempted_ext_ips` (an `Address_Set`).
    pub exempted_ext_ips: Option<Uuid>,
    /// `gateway_port` (a `Logical_Router_Port`).
    pub gateway_port: Option<Uuid>,
}

impl Nat {
    /// An option value.
    pub fn option(&self, key: &str) -> Option<&str> {
        map_get(&self.options, key)
    }
}

/// A `Gateway_Chassis` row: which chassis may host a distributed gateway
/// port, with its priority. Key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GatewayChassis {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `chassis_name`.
    pub chassis_name: String,
    /// `priority`.
    pub priority: i64,
}

/// The router records of a `Logical_Router` row beyond its ports, routes
/// and policies: load balancers, load balancer groups and NAT rules.
pub(super) fn router_refs(r: &Reader<'_>, lr: Uuid) -> Result<Vec<NbRecord>, InputError> {
    let mut out = Vec::new();
    for lb in r.uuids("load_balancer")? {
        out.push(NbRecord::RouterLb(LbRef {
            owner: lr,
            target: lb,
        }));
    }
    for group in r.uuids("load_balancer_group")? {
        out.push(NbRecord::RouterLbGroup(LbRef {
            owner: lr,
            target: group,
        }));
    }
    for row in r.uuids("nat")? {
        out.push(NbRecord::RouterNat(RouterRef { lr, row }));
    }
    Ok(out)
}

/// The records of a `NAT` or `Gateway_Chassis` row.
pub(super) fn records(r: &Reader<'_>) -> Result<Vec<NbRecord>, InputError> {
    let uuid = r.uuid;
    match r.table {
        "NAT" => Ok(vec![NbRecord::Nat(Nat {
            uuid,
            type_: r.string("type")?,
            external_ip: r.string("external_ip")?,
            external_mac: r.opt_string("external_mac")?,
            external_port_range: r.string("external_port_range")?,
            logical_ip: r.string("logical_ip")?,
            logical_port: r.opt_string("logical_port")?,
            options: r.string_map("options")?,
            allowed_ext_ips: r.uuids("allowed_ext_ips")?.first().copied(),
            exempted_ext_ips: r.uuids("exempted_ext_ips")?.first().copied(),
            gateway_port: r.uuids("gateway_port")?.first().copied(),
        })]),
        "Gateway_Chassis" => Ok(vec![NbRecord::GatewayChassis(GatewayChassis {
            uuid,
            name: r.string("name")?,
            chassis_name: r.string("chassis_name")?,
            priority: r.opt_i64("priority")?.unwrap_or(0),
        })]),
        _ => Ok(Vec::new()),
    }
}
