//! Rendering of `rules::router::bfd`: UDP source ports of the NB `BFD`
//! sessions (a key space of their own, held across batches) and the SB
//! `BFD` rows.

use ovsdb::Uuid;

use super::datapath::requests;
use super::{HeldKey, KeySpace, NbIn};
use crate::dataflow::{Coll, Named};
use crate::idl_order::{final_mask, uuid_hash};
use crate::ids::{allocate, Hint};
use crate::nb::{Bfd, NbKind, NbRecord};
use crate::rules::router::bfd::{sb_row, SRC_PORT_MAX, SRC_PORT_MIN};
use crate::sb::SbRecord;

/// Returns `(session UUID, source port)` of every NB `BFD` row that got a
/// port, and the SB rows. New sessions are numbered in the order of
/// northd's IDL table (buckets of `uuid_hash()`), lowest free port first
/// (`bfd_get_unused_port()`).
pub(super) fn render_bfd<'s>(
    nb: NbIn<'s>,
    held: Coll<'s, HeldKey>,
) -> (Coll<'s, (Uuid, u32)>, Coll<'s, SbRecord>) {
    let rows: Coll<'s, (Uuid, Bfd)> = nb.of(NbKind::Bfd).flat_map(|r| match r {
        NbRecord::Bfd(b) => Some((b.uuid, b)),
        _ => None,
    });
    let candidates = rows.clone().map(|(u, _)| ((), (u, true, None)));
    let previous = held
        .filter(|h| h.space == KeySpace::Bfd)
        .map(|h| ((), (h.owner, false, Some(h.key))));
    let ports = candidates
        .concat(previous)
        .group_named("bfd source ports", |_, vals, out| {
            let n = vals.iter().filter(|((_, present, _), _)| *present).count();
            let mask = final_mask(n) as u32;
            let vals: Vec<_> = vals
                .iter()
                .map(|((owner, present, previous), diff)| {
                    let order = (u64::from(uuid_hash(owner) & mask), Uuid::nil(), 0u8);
                    ((*owner, present.then_some((order, None)), *previous), *diff)
                })
                .collect();
            let refs: Vec<_> = vals.iter().map(|(c, d)| (c, *d)).collect();
            for (owner, port) in allocate(&requests(&refs), SRC_PORT_MIN, SRC_PORT_MAX, Hint::Zero)
            {
                out.push(((owner, port), 1));
            }
        })
        .map(|((), owner_port)| owner_port);
    let sb = rows
        .join_named("bfd rows: x source port", ports.clone())
        .map(|(_, (b, port))| sb_row(&b, port));
    (ports, sb)
}
