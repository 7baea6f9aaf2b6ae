//! Rendering of `rules::qos`: each switch's QoS rules joined with their
//! rows (a reference to a missing row adds nothing).

use ovsdb::Uuid;

use super::NbIn;
use crate::dataflow::{Coll, Named, Ops};
use crate::nb::{NbKind, NbRecord, Qos};
use crate::rules::{qos::qos_flows, Lflow};

/// The QoS flows of every switch.
pub(super) fn render_qos<'s>(nb: NbIn<'s>) -> Coll<'s, Lflow> {
    let refs: Coll<'s, (Uuid, Uuid)> = nb.of(NbKind::SwitchQos).flat_map_rec(|r| match r {
        NbRecord::SwitchQos(q) => Some((q.qos, q.ls)),
        _ => None,
    });
    let rows: Coll<'s, (Uuid, Qos)> = nb.of(NbKind::Qos).flat_map_rec(|r| match r {
        NbRecord::Qos(q) => Some((q.uuid, q)),
        _ => None,
    });
    refs.join_named("qos: switch rules x rows", rows)
        .flat_map_rec(|(_, (ls, q))| qos_flows(ls, &q))
}
