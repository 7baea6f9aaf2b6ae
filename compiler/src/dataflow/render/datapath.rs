//! Rendering of `rules::datapath`: datapath tunnel keys and rows.

use ovsdb::Uuid;

use super::{HeldKey, KeySpace};
use crate::dataflow::{Coll, Diff, Named, Ops};
use crate::idl_order::{uuid_hash, Hmap};
use crate::ids::{allocate, Hint, KeyRequest};
use crate::nb::{Router, Switch};
use crate::rules::datapath::{datapath_binding, DP_KEY_MAX, DP_KEY_MIN};
use crate::sb::SbRecord;

/// Tunnel key allocations: `Some((owner, key))` per owner holding a key;
/// `None` (once) when feeding the keys back would change them
/// ([`allocate_checked`]).
pub(super) type Allocated = Option<(Uuid, u32)>;

/// Returns `(switch UUID, tunnel key)` for every switch holding a key, the
/// `Datapath_Binding` rows, and [`KeySpace::Datapaths`] while the keys are
/// not stable under feedback ([`allocate_checked`]).
pub(super) fn render_datapaths<'s>(
    switches: Coll<'s, (Uuid, Switch)>,
    routers: Coll<'s, (Uuid, Router)>,
    held: Coll<'s, HeldKey>,
) -> (
    Coll<'s, (Uuid, u32)>,
    Coll<'s, SbRecord>,
    Coll<'s, KeySpace>,
) {
    let candidates = switches
        .clone()
        .map_rec(|(u, s)| {
            (
                (),
                (
                    u,
                    Some(((s.idl_rank, Uuid::nil(), 0), s.requested_tnl_key)),
                    None,
                ),
            )
        })
        .concat(routers.clone().map_rec(|(u, r)| {
            (
                (),
                (
                    u,
                    Some(((r.idl_rank, Uuid::nil(), 0), r.requested_tnl_key)),
                    None,
                ),
            )
        }));
    let previous = held
        .filter_rec(|h| h.space == KeySpace::Datapaths)
        .map_rec(|h| ((), (h.owner, None, Some(h.key))));
    let allocated =
        candidates
            .concat(previous)
            .group_named("datapath tunnel keys", |_, vals, out| {
                allocate_checked(&requests(vals), DP_KEY_MIN, DP_KEY_MAX, Hint::Zero, out);
            });
    let unstable = allocated
        .clone()
        .flat_map_rec(|((), a)| a.is_none().then_some(KeySpace::Datapaths));
    let keys = allocated.flat_map_rec(|((), a)| a);
    let rows = switches.join_map_named(
        "datapath rows: switch x key",
        keys.clone(),
        move |_, a, b| {
            let (sw, key) = (a.clone(), b.clone());
            SbRecord::DatapathBinding(datapath_binding(&sw, key))
        },
    );
    let router_rows = routers.join_map_named(
        "datapath rows: router x key",
        keys.clone(),
        move |_, a, b| {
            let (r, key) = (a.clone(), b.clone());
            SbRecord::DatapathBinding(crate::rules::router::binding::datapath_binding(&r, key))
        },
    );
    (keys, rows.concat(router_rows), unstable)
}

/// [`allocate`] into `out` as [`Allocated`] values, with a `None` when the
/// allocation is not stable under feedback: when the owners, reading their
/// new keys as the keys they hold (the next round's previous keys), would
/// get other keys. Only then does the driver need a feedback round before
/// the SB is complete; otherwise the new keys can go back with the next
/// batch, the result being the same.
pub(super) fn allocate_checked(
    reqs: &[KeyRequest<KeyOrder>],
    min: u32,
    max: u32,
    hint: Hint,
    out: &mut Vec<(Allocated, Diff)>,
) {
    let first = allocate(reqs, min, max, hint);
    let assigned: std::collections::BTreeMap<Uuid, u32> = first.iter().copied().collect();
    let again: Vec<KeyRequest<KeyOrder>> = reqs
        .iter()
        .map(|r| KeyRequest {
            previous: assigned.get(&r.owner).copied(),
            ..r.clone()
        })
        .collect();
    if allocate(&again, min, max, hint) != first {
        out.push((None, 1));
    }
    out.extend(first.into_iter().map(|a| (Some(a), 1)));
}

/// Each switch's position in northd's datapaths hmap (`uuid_hash()` of the
/// NB UUID), switches inserted in the order northd's IDL met them: the
/// order in which northd builds datapath-level flows.
pub(super) fn render_datapath_order<'s>(
    switches: Coll<'s, (Uuid, Switch)>,
    routers: Coll<'s, (Uuid, Router)>,
) -> Coll<'s, (Uuid, u32)> {
    switches
        .map_rec(|(u, s)| ((), (s.idl_rank, u)))
        .concat(routers.map_rec(|(u, r)| ((), (r.idl_rank, u))))
        .group_named("datapaths hmap order", |_, vals, out| {
            let mut hmap: Hmap<Uuid> = Hmap::default();
            for ((_, u), _) in vals {
                hmap.insert(*u, uuid_hash(u));
            }
            for (pos, u) in hmap.iter().enumerate() {
                out.push(((*u, pos as u32), 1));
            }
        })
        .map_rec(|((), dp_pos)| dp_pos)
}

/// Where a new owner comes in northd's allocation order: `(rank, UUID,
/// sub-rank)`, compared in that order before the owner's UUID. Datapaths
/// use the rank; ports the UUID of their NB row, with the chassisredirect
/// port of a distributed gateway port right after it (sub-rank 1).
pub(super) type KeyOrder = (u64, Uuid, u8);

/// Candidate value: `(owner, Some((order, requested key)) for a present
/// owner, previously held key)`.
pub(super) type Candidate = (Uuid, Option<(KeyOrder, Option<u32>)>, Option<u32>);

/// Merges present owners (with their requested key) and previously held keys
/// into allocation requests; owners no longer present are dropped.
/// New owners are ordered by `order`, then UUID.
pub(super) fn requests(vals: &[(&Candidate, isize)]) -> Vec<KeyRequest<KeyOrder>> {
    let mut present: std::collections::BTreeMap<Uuid, KeyRequest<KeyOrder>> = Default::default();
    for ((owner, present_as, _), _) in vals {
        if let Some((order, requested)) = present_as {
            present.insert(
                *owner,
                KeyRequest {
                    order: *order,
                    owner: *owner,
                    requested: *requested,
                    previous: None,
                },
            );
        }
    }
    for ((owner, _, previous), _) in vals {
        if let (Some(k), Some(r)) = (previous, present.get_mut(owner)) {
            r.previous = Some(*k);
        }
    }
    present.into_values().collect()
}

/// SB `DNS` (`sync_dns_entries()`): one row per NB `DNS` row referenced by
/// switches, on those switches' datapaths, records' values lowercased,
/// `external_ids:dns_id` naming the NB row.
pub(super) fn render_dns<'s>(
    dns_ls: Coll<'s, (Uuid, (Uuid, crate::nb::Dns))>,
    dp_keys: Coll<'s, (Uuid, u32)>,
) -> Coll<'s, SbRecord> {
    dns_ls
        .map_rec(|(dns, (ls, d))| (ls, (dns, d)))
        .semijoin_named("dns: switches with keys", dp_keys.map_rec(|(u, _)| u))
        .map_rec(|(ls, (dns, d))| (dns, (crate::ids::datapath_uuid(ls), d)))
        .group_named("dns: datapaths", |_, vals, out| {
            let mut dps: Vec<Uuid> = vals.iter().map(|((dp, _), _)| *dp).collect();
            dps.sort();
            dps.dedup();
            if let Some(((_, d), _)) = vals.first() {
                out.push(((dps, d.records.clone()), 1));
            }
        })
        .map_rec(|(dns, (datapaths, records))| {
            SbRecord::Dns(crate::sb::Dns {
                uuid: crate::ids::derive("DNS", &[dns.as_bytes()]),
                datapaths,
                records: records
                    .into_iter()
                    .map(|(k, v)| (k, v.to_lowercase()))
                    .collect(),
                external_ids: vec![("dns_id".to_string(), dns.to_string())],
            })
        })
}
