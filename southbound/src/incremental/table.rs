//! The engine's flow table, per key: which sources have flows at a key
//! ([`KeySources`]), and the first compute's walk over every source's
//! flows in key order ([`for_each_run`]).
//!
//! Both are about the memory the first compute peaks at (issue 9): most
//! keys have flows of one source only, so that source is held inline
//! rather than in a vector of its own (one allocation less per installed
//! flow); and the walk merges the sources' lists, each already in key
//! order, instead of sorting a list of every flow (a copy of all the
//! flows' pointers, and the sort's scratch space, at the moment the whole
//! table exists).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::{key_cmp, Source};
use crate::flow_table::OfFlow;

/// The sources with flows at one key, in source order, without
/// duplicates.  One source (nearly every key) needs no allocation; the
/// whole is no bigger than a vector's header (a boxed slice for several:
/// sources change rarely, a copy then costs nothing that matters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeySources {
    /// Exactly one source.
    One(Source),
    /// None, or two or more.
    Many(Box<[Source]>),
}

impl Default for KeySources {
    fn default() -> KeySources {
        KeySources::Many(Box::default())
    }
}

impl KeySources {
    /// The sources of `sorted` (in source order, without duplicates).
    pub(super) fn from_sorted(sorted: Vec<Source>) -> KeySources {
        match sorted.as_slice() {
            [one] => KeySources::One(*one),
            _ => KeySources::Many(sorted.into_boxed_slice()),
        }
    }

    /// The sources, in source order.
    pub(super) fn as_slice(&self) -> &[Source] {
        match self {
            KeySources::One(s) => std::slice::from_ref(s),
            KeySources::Many(v) => v,
        }
    }

    /// Adds `src` at its place (nothing if it is there).
    pub(super) fn insert(&mut self, src: Source) {
        match self {
            KeySources::Many(v) if v.is_empty() => *self = KeySources::One(src),
            KeySources::One(s) if *s == src => {}
            KeySources::One(s) => {
                let mut v = vec![*s, src];
                v.sort();
                *self = KeySources::Many(v.into_boxed_slice());
            }
            KeySources::Many(v) => {
                if let Err(p) = v.binary_search(&src) {
                    let mut more = v.to_vec();
                    more.insert(p, src);
                    *self = KeySources::Many(more.into_boxed_slice());
                }
            }
        }
    }

    /// Takes `src` out (nothing if it is not there).
    pub(super) fn remove(&mut self, src: Source) {
        match self {
            KeySources::One(s) if *s == src => *self = KeySources::default(),
            KeySources::One(_) => {}
            KeySources::Many(v) => {
                if v.contains(&src) {
                    let rest: Vec<Source> = v.iter().copied().filter(|s| *s != src).collect();
                    *self = KeySources::from_sorted(rest);
                }
            }
        }
    }
}

/// The next flow of one source's list, ordered by key, then by source
/// order, then by place in the list: the order a stable sort of all the
/// lists, concatenated in source order, gives.
struct Head {
    flow: Arc<OfFlow>,
    list: usize,
    pos: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> Ordering {
        key_cmp(&self.flow, &other.flow)
            .then(self.list.cmp(&other.list))
            .then(self.pos.cmp(&other.pos))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Head {}

/// Calls `run` with the flows of `lists` (each a source's flows in key
/// order; the lists in source order) one key at a time, in key order:
/// each run holds the flows at one key with their sources, in source
/// order and, within a source, in the list's order.
pub(super) fn for_each_run(
    lists: &[(Source, &[Arc<OfFlow>])],
    mut run: impl FnMut(&[(Arc<OfFlow>, Source)]),
) {
    let head = |list: usize, pos: usize| {
        lists[list].1.get(pos).map(|f| {
            Reverse(Head {
                flow: Arc::clone(f),
                list,
                pos,
            })
        })
    };
    let mut heap: BinaryHeap<Reverse<Head>> = (0..lists.len()).filter_map(|i| head(i, 0)).collect();
    let mut at_key: Vec<(Arc<OfFlow>, Source)> = Vec::new();
    while let Some(Reverse(first)) = heap.pop() {
        at_key.clear();
        let mut next = Some(first);
        while let Some(h) = next.take() {
            heap.extend(head(h.list, h.pos + 1));
            at_key.push((h.flow, lists[h.list].0));
            if heap
                .peek()
                .is_some_and(|Reverse(n)| key_cmp(&n.flow, &at_key[0].0).is_eq())
            {
                next = heap.pop().map(|Reverse(n)| n);
            }
        }
        run(&at_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::OfAction;
    use crate::expr::OfMatch;
    use ovsdb::Uuid;

    fn flow(table: u8, priority: u16, cookie: u64) -> Arc<OfFlow> {
        Arc::new(OfFlow {
            table,
            priority,
            cookie,
            of_match: OfMatch::default(),
            actions: vec![OfAction::Resubmit(table + 1)],
        })
    }

    #[test]
    fn key_sources_stay_sorted_and_inline_when_one() {
        let (a, b, c) = (
            Source::LogicalFlow(Uuid::from_u128(1)),
            Source::LogicalFlow(Uuid::from_u128(2)),
            Source::Defaults,
        );
        let mut s = KeySources::default();
        assert!(s.as_slice().is_empty());
        s.insert(c);
        assert_eq!(s, KeySources::One(c));
        s.insert(a);
        s.insert(b);
        s.insert(a);
        assert_eq!(s.as_slice(), [a, b, c]);
        s.remove(b);
        s.remove(a);
        assert_eq!(s, KeySources::One(c));
        s.remove(a);
        assert_eq!(s, KeySources::One(c));
        s.remove(c);
        assert!(s.as_slice().is_empty());
        assert_eq!(KeySources::from_sorted(vec![b]), KeySources::One(b));
        assert_eq!(KeySources::from_sorted(vec![a, b]).as_slice(), [a, b]);
        // No bigger than the vector it replaces.
        assert!(std::mem::size_of::<KeySources>() <= std::mem::size_of::<Vec<Source>>());
    }

    #[test]
    fn runs_are_the_stable_sort_of_all_flows() {
        let (a, b) = (Source::LogicalFlow(Uuid::from_u128(1)), Source::Defaults);
        // Each list in key order; key (8, 10) in both, twice in `a`.
        let la = vec![flow(8, 10, 1), flow(8, 10, 2), flow(9, 5, 3)];
        let lb = vec![flow(0, 1, 4), flow(8, 10, 5), flow(10, 1, 6)];
        let lists = [(a, la.as_slice()), (b, lb.as_slice())];
        let mut got: Vec<Vec<(u64, Source)>> = Vec::new();
        for_each_run(&lists, |run| {
            got.push(run.iter().map(|(f, s)| (f.cookie, *s)).collect());
        });
        let mut all: Vec<(Arc<OfFlow>, Source)> = la
            .iter()
            .map(|f| (f.clone(), a))
            .chain(lb.iter().map(|f| (f.clone(), b)))
            .collect();
        all.sort_by(|x, y| key_cmp(&x.0, &y.0));
        let mut want: Vec<Vec<(u64, Source)>> = Vec::new();
        for (i, (f, s)) in all.iter().enumerate() {
            let same_key = i > 0 && key_cmp(&all[i - 1].0, f).is_eq();
            match want.last_mut() {
                Some(last) if same_key => last.push((f.cookie, *s)),
                _ => want.push(vec![(f.cookie, *s)]),
            }
        }
        assert_eq!(
            got,
            vec![
                vec![(4, b)],
                vec![(1, a), (2, a), (5, b)],
                vec![(3, a)],
                vec![(6, b)],
            ]
        );
        assert_eq!(got, want);
    }
}
