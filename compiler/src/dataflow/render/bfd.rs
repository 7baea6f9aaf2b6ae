//! Rendering of `rules::router::bfd`: the sessions' status given their SB
//! rows (SB input), UDP source ports of the NB `BFD` sessions (a key space
//! of their own, held across batches) and the SB `BFD` rows.

use ovsdb::Uuid;

use super::datapath::requests;
use super::{HeldKey, KeySpace, NbIn};
use crate::dataflow::NamedSet;
use crate::dataflow::{Coll, Named, Ops};
use crate::idl_order::{final_mask, uuid_hash};
use crate::ids::{allocate, Hint};
use crate::nb::{Bfd, NbKind, NbRecord};
use crate::rules::router::bfd::{effective_status, nb_status, sb_row, SRC_PORT_MAX, SRC_PORT_MIN};
use crate::sb::SbRecord;

/// The sessions with their effective status, and the SB status of those
/// with an SB row.
pub(super) type EffectiveBfds<'s> = (Coll<'s, (Uuid, Bfd)>, Coll<'s, (Uuid, String)>);

/// The NB `BFD` sessions with the status northd works with
/// ([`effective_status`]: their SB row's, SB input, may win), and the
/// status of the sessions whose SB row exists.
pub(super) fn effective_bfds<'s>(nb: &NbIn<'s>) -> EffectiveBfds<'s> {
    let by_key = nb.of(NbKind::Bfd).flat_map_rec(|r| match r {
        NbRecord::Bfd(b) => Some(((b.logical_port.clone(), b.dst_ip.clone()), b)),
        _ => None,
    });
    let sb = nb.of(NbKind::SbBfd).flat_map_rec(|r| match r {
        NbRecord::SbBfd(b) => Some(((b.logical_port, b.dst_ip), b.status)),
        _ => None,
    });
    let with_sb =
        by_key
            .clone()
            .join_map_named("bfd: sessions x SB rows", sb.clone(), move |_, a, b| {
                let (b, st) = (a.clone(), b.clone());
                (b, Some(st))
            });
    let without_sb = by_key
        .antijoin_named(
            "bfd: sessions without SB rows",
            sb.map_rec(|(k, _)| k).distinct_named("bfd: SB row keys"),
        )
        .map_rec(|(_, b)| (b, None));
    let exists = with_sb
        .clone()
        .flat_map_rec(|(b, st)| st.map(|st| (b.uuid, st)));
    let sessions = with_sb
        .concat(without_sb)
        .map_rec(|(mut b, sb): (Bfd, Option<String>)| {
            b.status = Some(effective_status(b.status.as_deref(), sb.as_deref()));
            (b.uuid, b)
        });
    (sessions, exists)
}

/// Returns `(session UUID, source port)` of every NB `BFD` row that got a
/// port, and the SB rows. New sessions are numbered in the order of
/// northd's IDL table (buckets of `uuid_hash()`), lowest free port first
/// (`bfd_get_unused_port()`). `rows` are the [`effective_bfds`],
/// `referenced` the sessions static routes reach, `exists` the SB status
/// of those with an SB row.
pub(super) fn render_bfd<'s>(
    rows: Coll<'s, (Uuid, Bfd)>,
    held: Coll<'s, HeldKey>,
    referenced: Coll<'s, Uuid>,
    exists: Coll<'s, (Uuid, String)>,
) -> (Coll<'s, (Uuid, u32)>, Coll<'s, SbRecord>) {
    let candidates = rows.clone().map_rec(|(u, _)| ((), (u, true, None)));
    let previous = held
        .filter_rec(|h| h.space == KeySpace::Bfd)
        .map_rec(|h| ((), (h.owner, false, Some(h.key))));
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
        .map_rec(|((), owner_port)| owner_port);
    let flags = referenced
        .distinct_named("bfd: referenced sessions")
        .map_rec(|u| (u, None))
        .concat(exists.map_rec(|(u, st)| (u, Some(st))))
        .group_named("bfd: referenced, SB status", |_, vals, out| {
            let referenced = vals.iter().any(|(st, _)| st.is_none());
            let sb = vals.iter().find_map(|(st, _)| (*st).clone());
            out.push(((referenced, sb), 1));
        });
    let with_port = rows.join_named("bfd rows: x source port", ports.clone());
    let flagged = with_port.outer_join_map_named(
        "bfd rows: x flags",
        flags,
        move |_, a, b| {
            let ((b, port), (r, sb)) = (a.clone(), b.clone());
            (b, port, r, sb)
        },
        |_, a| {
            let (b, port) = a.clone();
            (b, port, false, None)
        },
    );
    let sb = flagged.map_rec(|(b, port, r, sb)| {
        let nb = nb_status(b.status(), r, sb.is_some());
        sb_row(&b, port, nb, sb)
    });
    (ports, sb)
}
