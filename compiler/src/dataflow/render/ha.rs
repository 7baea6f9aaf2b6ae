//! Rendering of `rules::router::ha` and of the chassisredirect ports of
//! distributed gateway ports: which SB HA chassis group each such port
//! refers to, the group rows, and the ports' `Port_Binding` templates.

use std::sync::Arc;

use ovsdb::Uuid;

use super::NbIn;
use crate::dataflow::{Coll, Named, Ops};
use crate::ids;
use crate::nb::{Lrp, NbKind, NbRecord};
use crate::rules::router::{binding, ha, RouterCtx};
use crate::sb::{PortBinding, SbRecord};

/// What the chassisredirect ports need: `(lrp UUID, (router, binding
/// without key and group))`, `(lrp UUID, SB group UUID)`, and the SB
/// `HA_Chassis_Group` / `HA_Chassis` rows.
pub(super) struct CrPorts<'s> {
    pub ports: Coll<'s, (Uuid, (Uuid, PortBinding))>,
    pub groups: Coll<'s, (Uuid, Uuid)>,
    pub rows: Coll<'s, SbRecord>,
}

/// `lsp_groups` are the NB groups of external switch ports (`(lsp,
/// group)`): their SB copies are written with the routers' groups.
pub(super) fn render_cr_ports<'s>(
    nb: NbIn<'s>,
    ctx: Coll<'s, Arc<RouterCtx>>,
    lsp_groups: Coll<'s, (Uuid, crate::nb::HaChassisGroup)>,
) -> CrPorts<'s> {
    let ports = ctx.clone().flat_map_rec(|r| {
        r.ports
            .iter()
            .filter(|p| binding::has_cr_port(&r, p))
            .map(|p| {
                (
                    p.lrp.uuid,
                    (r.dp(), binding::cr_port_binding(&r, p, 0, None)),
                )
            })
            .collect::<Vec<_>>()
    });
    let dgps: Coll<'s, (Uuid, Lrp)> = ctx.flat_map_rec(|r| {
        r.ports
            .iter()
            .filter(|p| binding::has_cr_port(&r, p))
            .map(|p| (p.lrp.uuid, p.lrp.clone()))
            .collect::<Vec<_>>()
    });

    // Ports with an NB HA_Chassis_Group: the group's name and chassis.
    let nb_groups = nb.of(NbKind::HaChassisGroup).flat_map_rec(|r| match r {
        NbRecord::HaChassisGroup(g) => Some((g.uuid, g)),
        _ => None,
    });
    let via_group = dgps
        .clone()
        .flat_map_rec(|(u, lrp)| lrp.ha_chassis_group.map(|g| (g, u)))
        .join_map_named("ha groups: port x nb group", nb_groups, move |_, a, b| {
            let (lrp, g) = (a.clone(), b.clone());
            (lrp, g)
        });
    let group_members = via_group
        .clone()
        .concat(lsp_groups.clone())
        .flat_map_rec(|(_, g)| {
            g.ha_chassis
                .iter()
                .map(|c| (*c, g.name.clone()))
                .collect::<Vec<_>>()
        })
        .join_map_named(
            "ha groups: nb group x ha chassis",
            nb.of(NbKind::HaChassis).flat_map_rec(|r| match r {
                NbRecord::HaChassis(c) => Some((c.uuid, c)),
                _ => None,
            }),
            move |_, a, b| {
                let (name, c) = (a.clone(), b.clone());
                (name, Some((c.chassis_name, c.priority)))
            },
        );

    // Ports with gateway_chassis only: a group named after the port.
    let via_gw = dgps.filter_rec(|(_, lrp)| lrp.ha_chassis_group.is_none());
    let gw_members = via_gw
        .clone()
        .flat_map_rec(|(_, lrp)| {
            lrp.gateway_chassis
                .iter()
                .map(|c| (*c, lrp.name.clone()))
                .collect::<Vec<_>>()
        })
        .join_map_named(
            "ha groups: port x gateway chassis",
            nb.of(NbKind::GatewayChassis).flat_map_rec(|r| match r {
                NbRecord::GatewayChassis(c) => Some((c.uuid, c)),
                _ => None,
            }),
            move |_, a, b| {
                let (name, c) = (a.clone(), b.clone());
                (name, Some((c.chassis_name, c.priority)))
            },
        );

    let names = via_group
        .map_rec(|(lrp, g)| (lrp, g.name))
        .concat(via_gw.map_rec(|(u, lrp)| (u, lrp.name)));
    let rows = names
        .clone()
        .concat(lsp_groups.map_rec(|(lsp, g)| (lsp, g.name)))
        .map_rec(|(_, name)| (name, None))
        .concatenate([group_members, gw_members])
        .group_named("ha chassis groups", |name, vals, out| {
            let members: Vec<(String, i64)> =
                vals.iter().filter_map(|(m, _)| (*m).clone()).collect();
            for row in ha::group_rows(name, &members) {
                out.push((row, 1));
            }
        })
        .map_rec(|(_, row)| row);
    CrPorts {
        ports,
        groups: names.map_rec(|(lrp, name)| (lrp, ids::ha_chassis_group_uuid(&name))),
        rows,
    }
}
