//! Rendering of meters (`sync_meters()` in northd.c): every NB `Meter`
//! becomes an SB `Meter` of the same name with copies of its bands, and
//! every ACL that logs through a *fair* meter gets a private copy named
//! `<meter>__<acl-uuid>` (`alloc_acl_log_unique_meter_name()`), which its
//! `log(meter=…)` action names (`build_acl_log_meter()`).

use ovsdb::Uuid;

use super::NbIn;
use crate::dataflow::{Coll, Named, Ops};
use crate::ids;
use crate::nb::{Acl, Meter, MeterBand, NbKind, NbRecord};
use crate::sb::{self, SbRecord};

/// What meters contribute to the rest of the dataflow.
pub(super) struct MeterOutputs<'s> {
    /// SB `Meter` and `Meter_Band` rows.
    pub rows: Coll<'s, SbRecord>,
    /// Names of the fair NB meters.
    pub fair: Coll<'s, String>,
}

/// A meter's unit and bands `(action, rate, burst_size)` in `bands` order.
type MeterSpec = (String, Vec<(String, i64, i64)>);

pub(super) fn render_meters<'s>(nb: NbIn<'s>) -> MeterOutputs<'s> {
    let meters: Coll<'s, (Uuid, Meter)> = nb.of(NbKind::Meter).flat_map_rec(|r| match r {
        NbRecord::Meter(m) => Some((m.uuid, m)),
        _ => None,
    });
    let bands: Coll<'s, (Uuid, MeterBand)> = nb.of(NbKind::MeterBand).flat_map_rec(|r| match r {
        NbRecord::MeterBand(b) => Some((b.uuid, b)),
        _ => None,
    });
    let acls: Coll<'s, (String, Uuid)> = nb.of(NbKind::Acl).flat_map_rec(|r| match r {
        NbRecord::Acl(a) => a.meter.map(|m| (m, a.uuid)),
        _ => None,
    });
    // (meter, (position, band)) for the bands that exist.
    let meter_bands = meters
        .clone()
        .flat_map_rec(|(m, row)| {
            row.bands
                .into_iter()
                .enumerate()
                .map(move |(i, b)| (b, (m, i)))
        })
        .join_map_named("meters: bands x rows", bands, move |_, a, b| {
            let ((m, i), b) = (a.clone(), b.clone());
            (m, (i, (b.action, b.rate, b.burst_size)))
        });
    // Per meter name (unique in the NB schema): unit, bands, fairness. A
    // meter none of whose bands exists is left out (the SB requires a band;
    // northd's transaction would fail).
    let band_lists = meter_bands.group_named("meters: band lists", |_, vals, out| {
        let mut v: Vec<(usize, (String, i64, i64))> =
            vals.iter().map(|(b, _)| (*b).clone()).collect();
        v.sort();
        out.push((v.into_iter().map(|(_, b)| b).collect::<Vec<_>>(), 1));
    });
    let specs: Coll<'s, (String, (MeterSpec, bool))> =
        meters.join_map_named("meters: rows x bands", band_lists, move |_, a, b| {
            let (row, bands) = (a.clone(), b.clone());
            (row.name, ((row.unit, bands), row.fair))
        });
    let fair = specs
        .clone()
        .flat_map_rec(|(name, (_, fair))| fair.then_some(name));
    let private = acls.join_map_named(
        "meters: fair x acls",
        specs.clone().filter_rec(|(_, (_, fair))| *fair),
        move |k, a, b| {
            let (name, acl, (spec, _)) = (k.clone(), a.clone(), b.clone());
            (format!("{name}__{acl}"), spec)
        },
    );
    let rows = specs
        .map_rec(|(name, (spec, _))| (name, spec))
        .concat(private)
        .flat_map_rec(|(name, spec)| sb_rows(&name, &spec));
    MeterOutputs { rows, fair }
}

/// The SB `Meter` row named `name` and its `Meter_Band` rows.
fn sb_rows(name: &str, (unit, bands): &MeterSpec) -> Vec<SbRecord> {
    let mut out = Vec::new();
    let mut refs = Vec::new();
    for (i, (action, rate, burst_size)) in bands.iter().enumerate() {
        let uuid = ids::derive("Meter_Band", &[name.as_bytes(), &i.to_be_bytes()]);
        refs.push(uuid);
        out.push(SbRecord::MeterBand(sb::MeterBand {
            uuid,
            action: action.clone(),
            rate: *rate,
            burst_size: *burst_size,
        }));
    }
    refs.sort();
    out.push(SbRecord::Meter(sb::Meter {
        uuid: ids::derive("Meter", &[name.as_bytes()]),
        name: name.to_string(),
        unit: unit.clone(),
        bands: refs,
    }));
    out
}

/// ACLs as their flows see them: the meter of an ACL logging through a fair
/// meter is its private copy.
pub(super) fn fair_acl_meters<'s>(
    acl_ls: Coll<'s, (Uuid, Acl)>,
    fair: Coll<'s, String>,
) -> Coll<'s, (Uuid, Acl)> {
    let fair_acls = acl_ls
        .clone()
        .flat_map_rec(|(ls, a)| a.meter.clone().map(|m| (m, (ls, a))))
        .semijoin_named("acls: fair meters", fair)
        .map_rec(|(_, la)| la);
    let renamed = fair_acls.clone().map_rec(|(ls, mut a)| {
        a.meter = a.meter.map(|m| format!("{m}__{}", a.uuid));
        (ls, a)
    });
    acl_ls.concatenate([fair_acls.negate(), renamed])
}
