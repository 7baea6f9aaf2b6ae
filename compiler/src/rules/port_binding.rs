//! SB `Port_Binding` for logical switch ports (`build_ports()`,
//! `ovn_port_update_sbrec()` in northd.c).

use super::PortCtx;
use crate::ids;
use crate::nb::requested_tnl_key;
use crate::sb::PortBinding;

/// Port tunnel keys: 1..=2^15 - 1 (no VXLAN chassis).
pub const PORT_KEY_MIN: u32 = 1;
/// See [`PORT_KEY_MIN`].
pub const PORT_KEY_MAX: u32 = (1 << 15) - 1;

/// `ovn_is_known_nb_lsp_type()`.
fn is_known_type(t: &str) -> bool {
    matches!(
        t,
        "" | "l2gateway"
            | "localnet"
            | "localport"
            | "router"
            | "vtep"
            | "external"
            | "virtual"
            | "remote"
    )
}

/// `options:requested-tnl-key` of the port.
pub fn requested_key(p: &PortCtx) -> Option<u32> {
    requested_tnl_key(&p.lsp.options)
}

/// The `Port_Binding` of a switch port holding `tunnel_key`.
///
/// Non-router ports: `type` (unknown types leave it empty), `options` copied
/// from NB plus `vlan-passthru=true` from the switch. Router ports (`type`
/// `router`): `type=patch`, `options:peer` from `options:router-port`
/// (gateway routers' `l3gateway` and `nat_addresses` are not handled yet).
/// All: `mac`, `port_security`, `parent_port`, `tag`, `external_ids` copied,
/// plus `name` from `external_ids:neutron:port_name`.
pub fn port_binding(p: &PortCtx, tunnel_key: u32) -> PortBinding {
    let lsp = &p.lsp;
    let mut nat_addresses = Vec::new();
    let (type_, mut options) = if lsp.type_ == "router" {
        let mut opts = lsp
            .option("router-port")
            .map(|rp| vec![("peer".to_string(), rp.to_string())])
            .unwrap_or_default();
        let chassis = p.peer_nat.as_ref().and_then(|n| n.chassis.clone());
        if let Some(n) = &p.peer_nat {
            nat_addresses = crate::rules::router::gateway::binding_nat_addresses(
                &lsp.options,
                p.switch_has_localnet,
                n,
            );
        }
        match chassis {
            Some(c) => {
                opts.push(("l3gateway-chassis".to_string(), c));
                ("l3gateway".to_string(), opts)
            }
            None => ("patch".to_string(), opts),
        }
    } else {
        let mut opts = lsp.options.clone();
        if p.vlan_passthru {
            opts.retain(|(k, _)| k != "vlan-passthru");
            opts.push(("vlan-passthru".to_string(), "true".to_string()));
        }
        let t = if is_known_type(&lsp.type_) {
            lsp.type_.clone()
        } else {
            String::new()
        };
        (t, opts)
    };
    options.sort();
    let mut external_ids = lsp.external_ids.clone();
    if let Some((_, n)) = lsp
        .external_ids
        .iter()
        .find(|(k, v)| k == "neutron:port_name" && !v.is_empty())
    {
        let n = n.clone();
        external_ids.retain(|(k, _)| k != "name");
        external_ids.push(("name".to_string(), n));
        external_ids.sort();
    }
    PortBinding {
        uuid: ids::port_binding_uuid(&lsp.name),
        logical_port: lsp.name.clone(),
        datapath: ids::datapath_uuid(p.ls),
        tunnel_key,
        type_,
        mac: lsp.addresses.clone(),
        port_security: lsp.port_security.clone(),
        options,
        external_ids,
        parent_port: lsp.parent_name.clone(),
        nat_addresses,
        tag: lsp.tag,
        // External ports refer to their NB group's SB copy
        // (`sync_ha_chassis_group_for_sbpb()`).
        ha_chassis_group: p
            .external
            .as_ref()
            .and_then(|e| e.ha_chassis_group.as_deref())
            .map(ids::ha_chassis_group_uuid),
    }
}
