//! Rendering of `rules::fwd_group`: each switch's forwarding groups, in
//! its list's order, to flows.

use ovsdb::Uuid;

use super::NbIn;
use crate::dataflow::{Coll, Named, Ops};
use crate::nb::{FwdGroup, NbKind, NbRecord};
use crate::rules::{fwd_group, Lflow};

/// The forwarding-group flows of every switch.
pub(super) fn render_fwd_groups<'s>(nb: NbIn<'s>) -> Coll<'s, Lflow> {
    let lists = nb.of(NbKind::SwitchFwdGroups).flat_map_rec(|r| match r {
        NbRecord::SwitchFwdGroups(s) => s
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (*g, (s.ls, i)))
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    });
    let rows = nb.of(NbKind::FwdGroup).flat_map_rec(|r| match r {
        NbRecord::FwdGroup(g) => Some((g.uuid, g)),
        _ => None,
    });
    lists
        .join_map_named("forwarding groups: switch x group", rows, move |_, a, b| {
            let ((ls, i), g) = (a.clone(), b.clone());
            (ls, (i, g))
        })
        .group_named("forwarding groups: per switch", |ls, vals, out| {
            let mut v: Vec<&(usize, FwdGroup)> = vals.iter().map(|(x, _)| *x).collect();
            v.sort();
            let groups: Vec<FwdGroup> = v.into_iter().map(|(_, g)| g.clone()).collect();
            // A revisited group adds the same flows again: one row each.
            let flows: std::collections::BTreeSet<Lflow> =
                fwd_group::flows(*ls, &groups).into_iter().collect();
            for f in flows {
                out.push((f, 1));
            }
        })
        .map_rec(|(_, f): (Uuid, Lflow)| f)
}
