//! QoS input relations: NB `QoS` rows and the switches' `qos_rules`.

use ovsdb::Uuid;

use super::{InputError, NbRecord, Reader};

/// A QoS rule. One row per NB `QoS`; key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qos {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `priority` (0..=32767).
    pub priority: i64,
    /// `direction`: `from-lport` or `to-lport`.
    pub direction: String,
    /// `match`.
    pub match_: String,
    /// `action:dscp`.
    pub dscp: Option<i64>,
    /// `bandwidth:rate` (0 when absent).
    pub rate: i64,
    /// `bandwidth:burst` (0 when absent).
    pub burst: i64,
}

/// A switch's QoS rule: one row per element of `Logical_Switch.qos_rules`;
/// key `(ls, qos)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwitchQos {
    /// The switch UUID.
    pub ls: Uuid,
    /// The `QoS` UUID.
    pub qos: Uuid,
}

/// The QoS records of a `Logical_Switch` row.
pub(super) fn switch_refs(r: &Reader<'_>, ls: Uuid) -> Result<Vec<NbRecord>, InputError> {
    Ok(r.uuids("qos_rules")?
        .into_iter()
        .map(|qos| NbRecord::SwitchQos(SwitchQos { ls, qos }))
        .collect())
}

/// The record of a `QoS` row.
pub(super) fn record(r: &Reader<'_>) -> Result<NbRecord, InputError> {
    let int_map = |column: &str| -> Result<Vec<(String, i64)>, InputError> {
        let Some(d) = r.datum(column) else {
            return Ok(Vec::new());
        };
        d.pairs()
            .iter()
            .map(|(k, v)| match (k.as_str(), v.as_i64()) {
                (Some(k), Some(v)) => Ok((k.to_string(), v)),
                _ => Err(r.err(column, format!("expected string:integer, found {k}={v}"))),
            })
            .collect()
    };
    let action = int_map("action")?;
    let bandwidth = int_map("bandwidth")?;
    let get = |m: &[(String, i64)], k: &str| m.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
    Ok(NbRecord::Qos(Qos {
        uuid: r.uuid,
        priority: r.opt_i64("priority")?.unwrap_or(0),
        direction: r.string("direction")?,
        match_: r.string("match")?,
        dscp: get(&action, "dscp"),
        rate: get(&bandwidth, "rate").unwrap_or(0),
        burst: get(&bandwidth, "burst").unwrap_or(0),
    }))
}
