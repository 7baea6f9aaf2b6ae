//! Meter input relations: NB `Meter` and `Meter_Band` rows.

use ovsdb::Uuid;

use super::{InputError, NbRecord, Reader};

/// A meter. One row per NB `Meter`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Meter {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `unit`: `kbps` or `pktps`.
    pub unit: String,
    /// `bands` (`Meter_Band` rows), in OVSDB set order.
    pub bands: Vec<Uuid>,
    /// `fair`: ACLs logging through this meter get a private copy each.
    pub fair: bool,
}

/// A meter band. One row per NB `Meter_Band`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MeterBand {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `action` (`drop`).
    pub action: String,
    /// `rate`.
    pub rate: i64,
    /// `burst_size`.
    pub burst_size: i64,
}

/// The record of a `Meter` or `Meter_Band` row.
pub(super) fn records(r: &Reader<'_>) -> Result<Vec<NbRecord>, InputError> {
    match r.table {
        "Meter" => Ok(vec![NbRecord::Meter(Meter {
            uuid: r.uuid,
            name: r.string("name")?,
            unit: r.string("unit")?,
            bands: r.uuids("bands")?,
            fair: r.opt_bool("fair")?.unwrap_or(false),
        })]),
        "Meter_Band" => Ok(vec![NbRecord::MeterBand(MeterBand {
            uuid: r.uuid,
            action: r.string("action")?,
            rate: r.opt_i64("rate")?.unwrap_or(0),
            burst_size: r.opt_i64("burst_size")?.unwrap_or(0),
        })]),
        _ => Ok(Vec::new()),
    }
}
