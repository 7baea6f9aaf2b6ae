//! Forwarding groups: NB `Forwarding_Group` rows and the ordered
//! `forwarding_groups` list of a switch.

use ovsdb::Uuid;

use super::{InputError, NbRecord, Reader};

/// A `Forwarding_Group` row. Key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FwdGroup {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `vip` (as written).
    pub vip: String,
    /// `vmac` (as written).
    pub vmac: String,
    /// `liveness`.
    pub liveness: bool,
    /// `child_port`, in OVSDB set order.
    pub child_port: Vec<String>,
}

/// A switch's `forwarding_groups`, in OVSDB set order (northd walks them
/// by index, see `rules::fwd_group`). Key `ls`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwitchFwdGroups {
    /// The switch.
    pub ls: Uuid,
    /// The groups.
    pub groups: Vec<Uuid>,
}

/// The record of a `Forwarding_Group` row.
pub(super) fn record(r: &Reader<'_>) -> Result<NbRecord, InputError> {
    Ok(NbRecord::FwdGroup(FwdGroup {
        uuid: r.uuid,
        vip: r.string("vip")?,
        vmac: r.string("vmac")?,
        liveness: r.opt_bool("liveness")?.unwrap_or(false),
        child_port: r.strings("child_port")?,
    }))
}

/// The `forwarding_groups` of a `Logical_Switch` row, when not empty.
pub(super) fn switch_ref(r: &Reader<'_>, ls: Uuid) -> Result<Option<NbRecord>, InputError> {
    let groups = r.uuids("forwarding_groups")?;
    Ok((!groups.is_empty()).then_some(NbRecord::SwitchFwdGroups(SwitchFwdGroups { ls, groups })))
}
