//! Rendering of `rules::port_binding`: port tunnel keys (per datapath) and rows.

use std::sync::Arc;

use ovsdb::Uuid;

use super::datapath::{allocate_checked, requests};
use super::{HeldKey, KeySpace};
use crate::dataflow::{arrange_shared, Coll, Named, Ops};
use crate::ids::{cr_port_owner, Hint};
use crate::nb::requested_tnl_key;
use crate::rules::port_binding::{port_binding, requested_key, PORT_KEY_MAX, PORT_KEY_MIN};
use crate::rules::router::LrpCtx;
use crate::rules::PortCtx;
use crate::sb::{PortBinding, SbRecord};

/// A port's tunnel key: `(switch UUID, (port UUID, key))`.
pub(super) type PortKey = (Uuid, (Uuid, u32));

/// Returns `(switch UUID, (port UUID, tunnel key))` for every port holding a key, the
/// `Port_Binding` rows, and the key spaces whose keys are not stable under
/// feedback ([`allocate_checked`]). New ports of a switch are numbered in the order of
/// `Logical_Switch.ports` (sorted by UUID), as northd meets them.
///
/// `cr_ports` are the chassisredirect ports of distributed gateway ports:
/// `(lrp UUID, (router, binding without key and group))`; `cr_groups`
/// their HA chassis group, `(lrp UUID, SB group UUID)`. A chassisredirect
/// port is numbered right after its router port.
pub(super) fn render_port_bindings<'s>(
    ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    router_ports: Coll<'s, (Uuid, (LrpCtx, Option<String>))>,
    cr_ports: Coll<'s, (Uuid, (Uuid, PortBinding))>,
    cr_groups: Coll<'s, (Uuid, Uuid)>,
    held: Coll<'s, HeldKey>,
) -> (Coll<'s, PortKey>, Coll<'s, SbRecord>, Coll<'s, KeySpace>) {
    let candidates = ports
        .clone()
        .map_rec(|(ls, p)| {
            let order = (0, p.lsp.uuid, 0);
            (ls, (p.lsp.uuid, Some((order, requested_key(&p))), None))
        })
        .concatenate([
            router_ports.clone().map_rec(|(lr, (p, _))| {
                let requested = requested_tnl_key(&p.lrp.options);
                (
                    lr,
                    (p.lrp.uuid, Some(((0, p.lrp.uuid, 0), requested)), None),
                )
            }),
            cr_ports.clone().map_rec(|(lrp, (lr, _))| {
                (lr, (cr_port_owner(lrp), Some(((0, lrp, 1), None)), None))
            }),
        ]);
    let previous = held.flat_map_rec(|h| match h.space {
        KeySpace::Ports(ls) => Some((ls, (h.owner, None, Some(h.key)))),
        KeySpace::Datapaths | KeySpace::Bfd | KeySpace::McastGroups(_) => None,
    });
    let allocated = candidates
        .concat(previous)
        .group_named("port tunnel keys", |_, vals, out| {
            allocate_checked(
                &requests(vals),
                PORT_KEY_MIN,
                PORT_KEY_MAX,
                Hint::MaxAssigned,
                out,
            );
        });
    let unstable = allocated
        .clone()
        .flat_map_rec(|(ls, a)| a.is_none().then_some(KeySpace::Ports(ls)));
    let keys = allocated.flat_map_rec(|(ls, a)| a.map(|owner_key| (ls, owner_key)));
    // Each port's key, by port: one arrangement for the three kinds of rows.
    let by_owner = arrange_shared(
        keys.clone().map_rec(|(_ls, owner_key)| owner_key),
        "port keys by port",
    );
    let rows = ports.map_rec(|(_, p)| (p.lsp.uuid, p)).join_map_shared(
        "port rows: port x key",
        &by_owner,
        move |_, a, b| {
            let (p, key) = (a.clone(), b.clone());
            SbRecord::PortBinding(Box::new(port_binding(&p, key)))
        },
    );
    let router_rows = router_ports
        .map_rec(|(lr, (p, chassis))| (p.lrp.uuid, (lr, p, chassis)))
        .join_map_shared("router port rows: port x key", &by_owner, move |_, a, b| {
            let ((lr, p, chassis), key) = (a.clone(), b.clone());
            SbRecord::PortBinding(Box::new(crate::rules::router::binding::port_binding(
                lr,
                chassis.as_deref(),
                &p,
                key,
            )))
        });
    let cr_rows = cr_ports
        .map_rec(|(lrp, (_, pb))| (cr_port_owner(lrp), (lrp, pb)))
        .join_map_shared(
            "chassisredirect rows: port x key",
            &by_owner,
            move |_, a, b| {
                let ((lrp, mut pb), key) = (a.clone(), b.clone());
                pb.tunnel_key = key;
                (lrp, pb)
            },
        )
        .join_map_named(
            "chassisredirect rows: x ha group",
            cr_groups,
            move |_, a, b| {
                let (mut pb, group) = (a.clone(), b.clone());
                pb.ha_chassis_group = Some(group);
                SbRecord::PortBinding(Box::new(pb))
            },
        );
    (keys, rows.concatenate([router_rows, cr_rows]), unstable)
}
