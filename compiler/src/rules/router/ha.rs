//! SB `HA_Chassis_Group` / `HA_Chassis` of distributed gateway ports
//! (`ovn_port_update_sbrec()` for chassisredirect ports in northd.c).
//!
//! A port with `ha_chassis_group` gets an SB group of the NB group's name
//! with one `HA_Chassis` per NB `HA_Chassis` (`sync_ha_chassis_group_for_sbpb()`);
//! otherwise its `gateway_chassis` rows become a group named after the port
//! (`copy_gw_chassis_from_nbrp_to_sbpb()`). Each `HA_Chassis` carries the
//! priority and `external_ids:chassis-name`; its `chassis` reference is set
//! by northd only when a `Chassis` row of that name exists.

use crate::ids;
use crate::sb::{HaChassis, HaChassisGroup, SbRecord};

/// The SB rows of group `name` with `members` (`(chassis name, priority)`;
/// duplicates collapse into one row).
pub fn group_rows(name: &str, members: &[(String, i64)]) -> Vec<SbRecord> {
    let mut chassis: Vec<HaChassis> = members
        .iter()
        .map(|(c, prio)| HaChassis {
            uuid: ids::ha_chassis_uuid(name, c, *prio),
            priority: *prio,
            chassis_name: c.clone(),
        })
        .collect();
    chassis.sort();
    chassis.dedup();
    let mut refs: Vec<_> = chassis.iter().map(|c| c.uuid).collect();
    refs.sort();
    let group = HaChassisGroup {
        uuid: ids::ha_chassis_group_uuid(name),
        name: name.to_string(),
        ha_chassis: refs,
    };
    std::iter::once(SbRecord::HaChassisGroup(group))
        .chain(chassis.into_iter().map(SbRecord::HaChassis))
        .collect()
}
