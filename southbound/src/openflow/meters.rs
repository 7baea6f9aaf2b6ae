//! Meters as ovn-controller 23.03 installs them (`controller/ofctrl.c`).
//!
//! Meter ids come from the extend table ([`crate::actions::ext_table`]),
//! keyed by a name:
//!
//! * `__string: uuid U kbps burst stats bands=...` for `set_meter` (the
//!   text is the meter: `add_meter_string`, see
//!   [`super::installer::meter_from_spec`]);
//! * any other name is an SB `Meter` row's (`log(meter="...")` of ACLs,
//!   a flow's `controller_meter` for CoPP): `update_ovs_meter` builds the
//!   meter from the row — flags `stats` plus `pktps` or `kbps` by `unit`,
//!   plus `burst` when a band has a burst size; one `drop` band per
//!   `Meter_Band` in the row's `bands` order (UUID order, as the IDL keeps
//!   a set).  A name without a row installs nothing ("could not find meter
//!   named"), until the row appears.

use std::collections::BTreeMap;

use ovsdb::sb::{Meter, MeterBand as SbBand};
use ovsdb::Uuid;

use super::installer::meter_from_spec;
use super::wire::mods::{meter_command, meter_flags, MeterBand, MeterMod};
use crate::sbdb::Southbound;

/// `OFPMBT13_DROP`.
const BAND_DROP: u16 = 1;

/// The prefix of `set_meter`'s self-describing meter names.
pub const STRING_PREFIX: &str = "__string: ";

/// The `ADD` meter mod for SB meter `m` under `id` (`update_ovs_meter`);
/// `None` when one of its bands is not in `bands`.
pub fn meter_from_sb(id: u32, m: &Meter, bands: &BTreeMap<Uuid, SbBand>) -> Option<MeterMod> {
    let mut flags = meter_flags::STATS;
    flags |= if m.unit == "pktps" {
        meter_flags::PKTPS
    } else {
        meter_flags::KBPS
    };
    let mut out = Vec::with_capacity(m.bands.len());
    for u in &m.bands {
        let b = bands.get(u)?;
        if b.burst_size != 0 {
            flags |= meter_flags::BURST;
        }
        out.push(MeterBand {
            // Only `drop` exists in the schema; anything else stays type 0
            // as in ovn-controller (which OVS then rejects).
            band_type: if b.action == "drop" { BAND_DROP } else { 0 },
            rate: u32::try_from(b.rate).ok()?,
            burst_size: u32::try_from(b.burst_size).ok()?,
            tail: vec![0; 4],
        });
    }
    Some(MeterMod {
        command: meter_command::ADD,
        flags,
        meter_id: id,
        bands: out,
    })
}

/// The meter for extend-table entry (`id`, `name`), or `None` (logged at
/// debug level) when it cannot be installed yet.
pub fn meter_for_entry(id: u32, name: &str, sb: &Southbound) -> Option<MeterMod> {
    if name.starts_with(STRING_PREFIX) {
        let m = meter_from_spec(id, name);
        if m.is_none() {
            tracing::warn!("new meter {id}: cannot parse `{name}'");
        }
        return m;
    }
    let Some(row) = sb.meters.iter().find(|m| m.name == name) else {
        tracing::debug!("could not find meter named \"{name}\"");
        return None;
    };
    let m = meter_from_sb(id, row, &sb.meter_bands);
    if m.is_none() {
        tracing::warn!("Meter {name}: a band is missing or out of range");
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(n: u128, rate: i64, burst: i64) -> SbBand {
        SbBand {
            uuid: Uuid::from_u128(n),
            action: "drop".into(),
            rate,
            burst_size: burst,
        }
    }

    #[test]
    fn sb_meter_flags_follow_unit_and_burst() {
        let (a, b) = (band(2, 10, 0), band(1, 20, 5));
        let mut ids = [a.uuid, b.uuid];
        ids.sort();
        let bands = BTreeMap::from([(a.uuid, a.clone()), (b.uuid, b.clone())]);
        let m = Meter {
            uuid: Uuid::from_u128(9),
            name: "acl-meter".into(),
            unit: "pktps".into(),
            bands: ids.to_vec(),
        };
        let mm = meter_from_sb(3, &m, &bands).unwrap();
        assert_eq!(
            mm.flags,
            meter_flags::STATS | meter_flags::PKTPS | meter_flags::BURST
        );
        assert_eq!(mm.meter_id, 3);
        assert_eq!(mm.bands.len(), 2);
        assert_eq!(mm.bands[0].rate, bands[&ids[0]].rate as u32);
        let only_a = Meter {
            unit: "kbps".into(),
            bands: vec![a.uuid],
            ..m.clone()
        };
        let mm = meter_from_sb(1, &only_a, &bands).unwrap();
        assert_eq!(mm.flags, meter_flags::STATS | meter_flags::KBPS);
        let dangling = Meter {
            bands: vec![Uuid::from_u128(7)],
            ..m
        };
        assert!(meter_from_sb(1, &dangling, &bands).is_none());
    }
}
