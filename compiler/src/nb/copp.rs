//! Control plane protection: NB `Copp` rows (`meters`: protocol → meter
//! name) and the `copp` references of switches and routers.

use ovsdb::Uuid;

use super::{InputError, NbRecord, Reader};

/// A `Copp` row. Key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Copp {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `meters`: control protocol (`arp`, `dhcpv4-opts`, `reject`, …) →
    /// meter name, sorted by protocol.
    pub meters: Vec<(String, String)>,
}

/// A switch's or router's `copp` reference. Key `owner`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoppRef {
    /// The switch or router.
    pub owner: Uuid,
    /// The `Copp` row.
    pub copp: Uuid,
}

/// The record of a `Copp` row.
pub(super) fn record(r: &Reader<'_>) -> Result<NbRecord, InputError> {
    Ok(NbRecord::Copp(Copp {
        uuid: r.uuid,
        meters: r.string_map("meters")?,
    }))
}

/// The `copp` reference of a `Logical_Switch` / `Logical_Router` row.
pub(super) fn owner_ref(r: &Reader<'_>, owner: Uuid) -> Result<Option<NbRecord>, InputError> {
    Ok(r.uuids("copp")?
        .first()
        .map(|c| NbRecord::CoppRef(CoppRef { owner, copp: *c })))
}
