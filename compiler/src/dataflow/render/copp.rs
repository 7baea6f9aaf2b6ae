//! Rendering of `rules::copp`: each switch's or router's CoPP meters,
//! keeping only protocols whose meter exists in the NB (`copp_meter_get()`).

use ovsdb::Uuid;

use super::NbIn;
use crate::dataflow::{Coll, Named, NamedSet, Ops};
use crate::nb::NbKind;
use crate::nb::NbRecord;
use crate::rules::copp::Copp;

/// `(owner, resolved CoPP)` for every switch or router with a `copp` row
/// naming at least one existing meter.
pub(super) fn render_copp<'s>(nb: NbIn<'s>) -> Coll<'s, (Uuid, Copp)> {
    let refs = nb.of(NbKind::CoppRef).flat_map_rec(|r| match r {
        NbRecord::CoppRef(c) => Some((c.copp, c.owner)),
        _ => None,
    });
    let rows = nb.of(NbKind::Copp).flat_map_rec(|r| match r {
        NbRecord::Copp(c) => Some((c.uuid, c.meters)),
        _ => None,
    });
    let meter_names = nb
        .of(NbKind::Meter)
        .flat_map_rec(|r| match r {
            NbRecord::Meter(m) => Some(m.name),
            _ => None,
        })
        .distinct_named("copp: meter names");
    refs.join_named("copp: owner x copp row", rows)
        .flat_map_rec(|(_, (owner, meters))| {
            meters
                .into_iter()
                .map(move |(proto, meter)| (meter, (owner, proto)))
        })
        .semijoin_named("copp: existing meters", meter_names)
        .map_rec(|(meter, (owner, proto))| (owner, (proto, meter)))
        .group_named("copp: per owner", |_, vals, out| {
            let copp: Copp = vals.iter().map(|(pm, _)| (*pm).clone()).collect();
            out.push((copp, 1));
        })
}
