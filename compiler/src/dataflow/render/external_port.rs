//! Rendering of `rules::external_port`: the NB HA chassis groups of
//! external ports, and each external port's view of its switch (localnet
//! ports, router ports' addresses, group name).

use std::sync::Arc;

use ovsdb::Uuid;

use super::NbIn;
use crate::dataflow::{Coll, Named, NamedSet, Ops};
use crate::nb::{HaChassisGroup, Lsp, NbKind, NbRecord};
use crate::rules::external_port::ExternalCtx;
use crate::rules::PortCtx;

/// `(lsp, NB group)` for every external port of a switch whose
/// `ha_chassis_group` names an existing NB `HA_Chassis_Group`.
pub(super) fn lsp_ha_groups<'s>(
    nb: NbIn<'s>,
    ports0: Coll<'s, (Uuid, Arc<Lsp>)>,
) -> Coll<'s, (Uuid, HaChassisGroup)> {
    ports0
        .flat_map_rec(|(_, lsp)| {
            (lsp.type_ == "external")
                .then_some(lsp.ha_chassis_group.map(|g| (g, lsp.uuid)))
                .flatten()
        })
        .join_map_named(
            "external ports: x nb ha group",
            nb.of(NbKind::HaChassisGroup).flat_map_rec(|r| match r {
                NbRecord::HaChassisGroup(g) => Some((g.uuid, g)),
                _ => None,
            }),
            move |_, a, b| {
                let (lsp, g) = (a.clone(), b.clone());
                (lsp, g)
            },
        )
}

/// Sets [`PortCtx::external`] on external ports: the localnet port names
/// and router ports' addresses of their switch (collected only on switches
/// with external ports), and their group's name.
pub(super) fn attach_external<'s>(
    ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    lsp_groups: Coll<'s, (Uuid, HaChassisGroup)>,
) -> Coll<'s, (Uuid, Arc<PortCtx>)> {
    let is_ext = |p: &Arc<PortCtx>| p.lsp.type_ == "external";
    let ext_switches = ports
        .clone()
        .filter_rec(move |(_, p)| is_ext(p))
        .map_rec(|(ls, _)| ls)
        .distinct_named("external ports: switches");
    // (ls, (localnet name, router port addresses)), one side set per row.
    type Side = (
        Option<String>,
        Option<Vec<crate::rules::addr::LportAddresses>>,
    );
    let sides: Coll<'s, (Uuid, Side)> = ports
        .clone()
        .flat_map_rec(|(ls, p)| {
            if p.lsp.type_ == "localnet" {
                Some((ls, (Some(p.lsp.name.clone()), None)))
            } else if p.lsp.type_ == "router" && p.router_peer.is_some() {
                Some((ls, (None, Some(p.lsp_addrs()))))
            } else {
                None
            }
        })
        .semijoin_named("external ports: switches with them", ext_switches);
    let per_switch = sides.group_named("external ports: switch view", |_, vals, out| {
        let mut ctx = ExternalCtx::default();
        for ((ln, rp), _) in vals {
            if let Some(n) = ln {
                ctx.localnet_ports.push(n.clone());
            }
            if let Some(a) = rp {
                ctx.router_ports.push(a.clone());
            }
        }
        out.push((ctx, 1));
    });
    let ext = ports.clone().filter_rec(move |(_, p)| is_ext(p));
    let others = ports.filter_rec(move |(_, p)| !is_ext(p));
    let with_view = ext.outer_join_map_named(
        "external ports: x switch view",
        per_switch,
        move |k, a, b| {
            let (ls, mut p, view) = (k.clone(), a.clone(), b.clone());
            Arc::make_mut(&mut p).external = Some(view);
            (ls, p)
        },
        |k, a| {
            let (ls, mut p) = (k.clone(), a.clone());
            Arc::make_mut(&mut p).external = Some(ExternalCtx::default());
            (ls, p)
        },
    );
    let keyed = with_view.map_rec(|(ls, p)| (p.lsp.uuid, (ls, p)));
    let names = lsp_groups.map_rec(|(lsp, g)| (lsp, g.name));
    let grouped = keyed.outer_join_map_named(
        "external ports: x ha group",
        names,
        move |_, a, b| {
            let ((ls, mut p), name) = (a.clone(), b.clone());
            if let Some(e) = Arc::make_mut(&mut p).external.as_mut() {
                e.ha_chassis_group = Some(name);
            }
            (ls, p)
        },
        |_, lp| lp.clone(),
    );
    others.concat(grouped)
}
