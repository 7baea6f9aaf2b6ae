//! Load balancer input relations: `Load_Balancer`, `Load_Balancer_Group`,
//! `Load_Balancer_Health_Check`, the switches' references to them, and the
//! `Chassis_Template_Var` rows template load balancers use.

use ovsdb::Uuid;

use super::{InputError, NbRecord, Reader};

/// A load balancer. One row per NB `Load_Balancer`; key `uuid`.
/// The VIP map is kept as written; `crate::rules::lb::vip` parses it the way
/// `ovn_northd_lb_create()` does.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoadBalancer {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `vips` (`"IP[:PORT]"` → `"IP[:PORT],…"`), sorted by key.
    pub vips: Vec<(String, String)>,
    /// `protocol` (absent means tcp).
    pub protocol: Option<String>,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
    /// `selection_fields`, in OVSDB set order.
    pub selection_fields: Vec<String>,
    /// `ip_port_mappings`, sorted by key.
    pub ip_port_mappings: Vec<(String, String)>,
    /// `health_check` rows.
    pub health_check: Vec<Uuid>,
}

/// The chassis template variables of one chassis (NB
/// `Chassis_Template_Var`, whose `chassis` is an index). Key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChassisTemplateVar {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `chassis`: the chassis name.
    pub chassis: String,
    /// `variables`, sorted by name.
    pub variables: Vec<(String, String)>,
}

/// A load balancer health check. One row per NB
/// `Load_Balancer_Health_Check`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LbHealthCheck {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `vip`: the VIP key it monitors.
    pub vip: String,
    /// `options`, sorted by key.
    pub options: Vec<(String, String)>,
}

/// A reference from a switch or group to a load balancer or group: one row
/// per element of `Logical_Switch.load_balancer`,
/// `Logical_Switch.load_balancer_group` or `Load_Balancer_Group.load_balancer`;
/// key `(owner, target)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LbRef {
    /// The switch or load balancer group UUID.
    pub owner: Uuid,
    /// The load balancer or load balancer group UUID.
    pub target: Uuid,
}

/// The load-balancer records of a `Logical_Switch` row.
pub(super) fn switch_refs(r: &Reader<'_>, ls: Uuid) -> Result<Vec<NbRecord>, InputError> {
    let mut out = Vec::new();
    for lb in r.uuids("load_balancer")? {
        out.push(NbRecord::SwitchLb(LbRef {
            owner: ls,
            target: lb,
        }));
    }
    for group in r.uuids("load_balancer_group")? {
        out.push(NbRecord::SwitchLbGroup(LbRef {
            owner: ls,
            target: group,
        }));
    }
    Ok(out)
}

/// The records of a `Load_Balancer`, `Load_Balancer_Group` or
/// `Load_Balancer_Health_Check` row.
pub(super) fn records(r: &Reader<'_>) -> Result<Vec<NbRecord>, InputError> {
    let uuid = r.uuid;
    match r.table {
        "Load_Balancer" => Ok(vec![NbRecord::LoadBalancer(LoadBalancer {
            uuid,
            name: r.string("name")?,
            vips: r.string_map("vips")?,
            protocol: r.opt_string("protocol")?,
            options: r.string_map("options")?,
            selection_fields: r.strings("selection_fields")?,
            ip_port_mappings: r.string_map("ip_port_mappings")?,
            health_check: r.uuids("health_check")?,
        })]),
        "Load_Balancer_Group" => Ok(r
            .uuids("load_balancer")?
            .into_iter()
            .map(|lb| {
                NbRecord::LbGroupLb(LbRef {
                    owner: uuid,
                    target: lb,
                })
            })
            .collect()),
        "Load_Balancer_Health_Check" => Ok(vec![NbRecord::LbHealthCheck(LbHealthCheck {
            uuid,
            vip: r.string("vip")?,
            options: r.string_map("options")?,
        })]),
        "Chassis_Template_Var" => Ok(vec![NbRecord::ChassisTemplateVar(ChassisTemplateVar {
            uuid,
            chassis: r.string("chassis")?,
            variables: r.string_map("variables")?,
        })]),
        _ => Ok(Vec::new()),
    }
}
