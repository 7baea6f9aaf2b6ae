//! High-availability chassis groups: NB `HA_Chassis_Group` and `HA_Chassis`
//! rows, which a distributed gateway port names in `ha_chassis_group` (the
//! alternative to its `gateway_chassis` rows).

use ovsdb::Uuid;

use super::{InputError, NbRecord, Reader};

/// An `HA_Chassis_Group` row. Key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HaChassisGroup {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `name` (also the SB group's name).
    pub name: String,
    /// `ha_chassis` (`HA_Chassis` rows), in OVSDB set order.
    pub ha_chassis: Vec<Uuid>,
}

/// An `HA_Chassis` row: one chassis of a group with its priority. Key
/// `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HaChassis {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `chassis_name`.
    pub chassis_name: String,
    /// `priority`.
    pub priority: i64,
}

/// The records of an `HA_Chassis_Group` or `HA_Chassis` row.
pub(super) fn records(r: &Reader<'_>) -> Result<Vec<NbRecord>, InputError> {
    let uuid = r.uuid;
    match r.table {
        "HA_Chassis_Group" => Ok(vec![NbRecord::HaChassisGroup(HaChassisGroup {
            uuid,
            name: r.string("name")?,
            ha_chassis: r.uuids("ha_chassis")?,
        })]),
        "HA_Chassis" => Ok(vec![NbRecord::HaChassis(HaChassis {
            uuid,
            chassis_name: r.string("chassis_name")?,
            priority: r.opt_i64("priority")?.unwrap_or(0),
        })]),
        _ => Ok(Vec::new()),
    }
}
