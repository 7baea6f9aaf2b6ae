//! SB rows of routers: `Datapath_Binding` (`ovn_datapath_update_external_ids()`)
//! and router ports' `Port_Binding` (`ovn_port_update_sbrec()`) in northd.c.

use ovsdb::Uuid;

use super::{LrpCtx, RouterCtx};
use crate::ids;
use crate::nb::{smap_get_bool, Router};
use crate::sb::{DatapathBinding, PortBinding};

/// The `Datapath_Binding` of a router: `external_ids` `logical-router`,
/// `name`, `name2` (`external_ids:neutron:router_name`), `snat-ct-zone`
/// and `always_learn_from_arp_request=false` from the router's options.
pub fn datapath_binding(r: &Router, tunnel_key: u32) -> DatapathBinding {
    let mut ids = vec![
        ("logical-router".to_string(), r.uuid.to_string()),
        ("name".to_string(), r.name.clone()),
    ];
    let name2 = r
        .external_ids
        .iter()
        .find(|(k, v)| k == "neutron:router_name" && !v.is_empty());
    if let Some((_, n)) = name2 {
        ids.push(("name2".to_string(), n.clone()));
    }
    if let Some(z) = r
        .option("snat-ct-zone")
        .and_then(|v| v.trim().parse::<i32>().ok())
        .filter(|z| *z >= 0)
    {
        ids.push(("snat-ct-zone".to_string(), z.to_string()));
    }
    if !smap_get_bool(&r.options, "always_learn_from_arp_request", true) {
        ids.push((
            "always_learn_from_arp_request".to_string(),
            "false".to_string(),
        ));
    }
    ids.sort();
    DatapathBinding {
        uuid: ids::datapath_uuid(r.uuid),
        tunnel_key,
        external_ids: ids,
    }
}

/// The `Port_Binding` of a router port: type `patch` (`l3gateway` on a
/// gateway router), `options:peer` when connected (and
/// `chassis-redirect-port` for a distributed gateway port,
/// `l3gateway-chassis` on a gateway router), `mac` = MAC and networks.
pub fn port_binding(lr: Uuid, chassis: Option<&str>, p: &LrpCtx, tunnel_key: u32) -> PortBinding {
    let lrp = &p.lrp;
    let mut options = Vec::new();
    if let Some(peer) = &p.peer {
        options.push(("peer".to_string(), peer.clone()));
        if lrp.n_gateway > 0 {
            options.push((
                "chassis-redirect-port".to_string(),
                format!("cr-{}", lrp.name),
            ));
        }
    }
    if let Some(c) = chassis {
        options.push(("l3gateway-chassis".to_string(), c.to_string()));
    }
    options.extend(super::ra::binding_options(p));
    options.sort();
    let mut mac = lrp.mac.clone();
    for n in &lrp.networks {
        mac.push(' ');
        mac.push_str(n);
    }
    PortBinding {
        uuid: ids::port_binding_uuid(&lrp.name),
        logical_port: lrp.name.clone(),
        datapath: ids::datapath_uuid(lr),
        tunnel_key,
        type_: if chassis.is_some() {
            "l3gateway".to_string()
        } else {
            "patch".to_string()
        },
        mac: vec![mac],
        port_security: Vec::new(),
        options,
        external_ids: lrp.external_ids.clone(),
        parent_port: None,
        nat_addresses: Vec::new(),
        tag: None,
        ha_chassis_group: None,
    }
}

/// `od->has_distributed_nat`: a valid `dnat_and_snat` rule with both
/// `logical_port` and `external_mac` (`init_nat_entries()`).
pub fn has_distributed_nat(r: &RouterCtx) -> bool {
    r.nats.iter().any(|n| {
        n.nat.type_ == "dnat_and_snat"
            && n.nat.logical_port.is_some()
            && n.nat.external_mac.is_some()
            && n.ext_addr().is_some()
    })
}

/// Whether northd creates the chassisredirect port of router port `p`: a
/// distributed gateway port (`gateway_chassis` or `ha_chassis_group`) on a
/// router that is not a gateway router (`join_logical_ports()`).
pub fn has_cr_port(r: &RouterCtx, p: &LrpCtx) -> bool {
    p.dgp && !r.is_gw_router()
}

/// The `Port_Binding` of the chassisredirect port `cr-<name>` of
/// distributed gateway port `p` (`ovn_port_update_sbrec()` for
/// `is_cr_port()`): type `chassisredirect`, the port's `mac` and
/// `external_ids`, `options:distributed-port`, `redirect-type` when set,
/// `always-redirect=true` unless the router has distributed NAT, the peer
/// switch has `vtep` ports or the redirect type is `bridged`, and its HA
/// chassis group.
pub fn cr_port_binding(
    r: &RouterCtx,
    p: &LrpCtx,
    tunnel_key: u32,
    ha_chassis_group: Option<Uuid>,
) -> PortBinding {
    let lrp = &p.lrp;
    let mut options = vec![("distributed-port".to_string(), lrp.name.clone())];
    let mut always_redirect = !has_distributed_nat(r) && !p.peer_vtep;
    if let Some(t) = lrp.option("redirect-type") {
        options.push(("redirect-type".to_string(), t.to_string()));
        if t == "bridged" {
            always_redirect = false;
        }
    }
    if always_redirect {
        options.push(("always-redirect".to_string(), "true".to_string()));
    }
    options.sort();
    let mut row = port_binding(r.dp(), None, p, tunnel_key);
    let name = format!("cr-{}", lrp.name);
    row.uuid = ids::port_binding_uuid(&name);
    row.logical_port = name;
    row.type_ = "chassisredirect".to_string();
    row.options = options;
    row.ha_chassis_group = ha_chassis_group;
    row
}
