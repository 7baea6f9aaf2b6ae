//! The named arrangement operators of [`super`]: joins (inner, outer,
//! semi, anti, against an arrangement of their own or a shared one), each
//! arranging under a name that shows in timely's logging and in the
//! `OVNFLOW_ARRLOG` memory report, and groupings and `distinct`, named
//! too, whose state is a hash map (`group.rs`), not an arrangement. With
//! one worker the records are arranged where they are (no exchange).

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::quiet::arrange_quiet;
use super::{arrlog, group, split_by, Coll, Diff, Ops, Rec, Time};

/// An arrangement of `(K, V)` records by `K`.
type ValArranged<'s, K, V> = differential_dataflow::operators::arrange::Arranged<
    's,
    differential_dataflow::operators::arrange::TraceAgent<
        differential_dataflow::trace::implementations::ValSpine<K, V, Time, Diff>,
    >,
>;
/// An arrangement of records `K` by themselves.
type KeyArranged<'s, K> = differential_dataflow::operators::arrange::Arranged<
    's,
    differential_dataflow::operators::arrange::TraceAgent<
        differential_dataflow::trace::implementations::KeySpine<K, Time, Diff>,
    >,
>;

/// Inline bytes of one arranged update of `D` (with its time and diff).
fn record_size<D>() -> usize {
    std::mem::size_of::<D>() + std::mem::size_of::<(Time, Diff)>()
}

/// Arranges `coll` by key under `name`. A single worker arranges the
/// records where they are (timely's `Pipeline`): the exchange by key hash
/// several workers need would hash and copy every record for nothing.
#[allow(clippy::disallowed_methods)]
fn arrange_by_key<'s, K: Rec, V: Rec>(coll: Coll<'s, (K, V)>, name: &str) -> ValArranged<'s, K, V> {
    use differential_dataflow::trace::implementations::{ValBatcher, ValSpine};
    arrlog::note_record_size(name, record_size::<(K, V)>());
    if coll.scope().peers() > 1 {
        return coll.arrange_by_key_named(name);
    }
    arrange_quiet::<_, ValBatcher<K, V, Time, Diff>, ValSpine<K, V, Time, Diff>>(
        coll.inner,
        name,
        ValBatcher::new,
    )
}

/// Arranges the records of `coll` by themselves under `name` (in place
/// with a single worker, as [`arrange_by_key`]).
#[allow(clippy::disallowed_methods)]
fn arrange_by_self<'s, K: Rec>(coll: Coll<'s, K>, name: &str) -> KeyArranged<'s, K> {
    use differential_dataflow::trace::implementations::{KeyBatcher, KeySpine};
    arrlog::note_record_size(name, record_size::<K>());
    if coll.scope().peers() > 1 {
        return coll.arrange_by_self_named(name);
    }
    arrange_quiet::<_, KeyBatcher<K, Time, Diff>, KeySpine<K, Time, Diff>>(
        coll.map(|k| (k, ())).inner,
        name,
        KeyBatcher::new,
    )
}

/// One arrangement of `(K, V)` records by `K` that several joins read
/// ([`Named::join_map_shared`], [`Named::outer_join_map_shared`]): the
/// records are held once and arranged by one operator, where each join
/// arranging its own input would hold a copy per join.
#[derive(Clone)]
pub(crate) struct Shared<'s, K: Rec, V: Rec>(ValArranged<'s, K, V>);

/// Arranges `coll` by key under `name`, for several joins to share.
pub(crate) fn arrange_shared<'s, K: Rec, V: Rec>(
    coll: Coll<'s, (K, V)>,
    name: &str,
) -> Shared<'s, K, V> {
    Shared(arrange_by_key(coll, name))
}

/// Named stateful operators over keyed collections `(K, V)`.
pub(crate) trait Named<'s, K: Rec, V: Rec> {
    /// Equi-join on the key; both inputs are arranged under `name`.
    fn join_named<V2: Rec>(self, name: &str, other: Coll<'s, (K, V2)>) -> Coll<'s, (K, (V, V2))>;
    /// Equi-join on the key, each match turned into a record by `logic`
    /// (from references: no copy of both values, no separate `map`
    /// operator).
    fn join_map_named<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: Coll<'s, (K, V2)>,
        logic: impl Fn(&K, &V, &V2) -> O + 'static,
    ) -> Coll<'s, O>;
    /// Left outer join against `other`, whose keys must be distinct (at
    /// most one value per key): each record of `self` becomes
    /// `with(key, value, other's value)` when `other` has its key, else
    /// `without(key, value)`. One pair of arrangements and one join, where
    /// a join plus an antijoin on `other`'s keys would arrange `self`
    /// twice and `other`'s keys once more.
    fn outer_join_map_named<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: Coll<'s, (K, V2)>,
        with: impl Fn(&K, &V, &V2) -> O + 'static,
        without: impl Fn(&K, &V) -> O + 'static,
    ) -> Coll<'s, O>;
    /// [`Named::join_map_named`] against an arrangement shared with other
    /// joins.
    fn join_map_shared<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: &Shared<'s, K, V2>,
        logic: impl Fn(&K, &V, &V2) -> O + 'static,
    ) -> Coll<'s, O>;
    /// [`Named::join_map_shared`] keeping only the matches `logic` turns
    /// into a record.
    fn join_filter_map_shared<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: &Shared<'s, K, V2>,
        logic: impl Fn(&K, &V, &V2) -> Option<O> + 'static,
    ) -> Coll<'s, O>;
    /// [`Named::outer_join_map_named`] against an arrangement shared with
    /// other joins.
    fn outer_join_map_shared<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: &Shared<'s, K, V2>,
        with: impl Fn(&K, &V, &V2) -> O + 'static,
        without: impl Fn(&K, &V) -> O + 'static,
    ) -> Coll<'s, O>;
    /// Keeps the records whose key occurs in `keys` (which should be distinct).
    fn semijoin_named(self, name: &str, keys: Coll<'s, K>) -> Coll<'s, (K, V)>;
    /// Keeps the records whose key does not occur in `keys` (distinct).
    fn antijoin_named(self, name: &str, keys: Coll<'s, K>) -> Coll<'s, (K, V)>;
    /// Groups by key: `logic(key, values-with-counts, output)`; values arrive
    /// sorted, each with its positive multiplicity.
    fn group_named<V2: Rec>(
        self,
        name: &str,
        logic: impl FnMut(&K, &[(&V, Diff)], &mut Vec<(V2, Diff)>) + 'static,
    ) -> Coll<'s, (K, V2)>;
    /// [`Named::group_named`] whose output is read twice straight from the
    /// grouping's arrangement, `first` and `second` each keeping (and
    /// mapping) the records it wants: no copy of every output record as a
    /// collection, split into two afterwards.
    fn group_split_named<V2: Rec, A: Rec, B: Rec>(
        self,
        name: &str,
        logic: impl FnMut(&K, &[(&V, Diff)], &mut Vec<(V2, Diff)>) + 'static,
        first: impl FnMut(&K, &V2) -> Option<A> + 'static,
        second: impl FnMut(&K, &V2) -> Option<B> + 'static,
    ) -> (Coll<'s, A>, Coll<'s, B>);
}

#[allow(clippy::disallowed_methods)]
impl<'s, K: Rec, V: Rec> Named<'s, K, V> for Coll<'s, (K, V)> {
    fn join_named<V2: Rec>(self, name: &str, other: Coll<'s, (K, V2)>) -> Coll<'s, (K, (V, V2))> {
        let left = arrange_by_key(self, &format!("{name} (left)"));
        let right = arrange_by_key(other, &format!("{name} (right)"));
        left.join_core(right, |k: &K, v1: &V, v2: &V2| {
            Some((k.clone(), (v1.clone(), v2.clone())))
        })
    }

    fn join_map_named<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: Coll<'s, (K, V2)>,
        logic: impl Fn(&K, &V, &V2) -> O + 'static,
    ) -> Coll<'s, O> {
        let right = arrange_shared(other, &format!("{name} (right)"));
        self.join_map_shared(name, &right, logic)
    }

    fn outer_join_map_named<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: Coll<'s, (K, V2)>,
        with: impl Fn(&K, &V, &V2) -> O + 'static,
        without: impl Fn(&K, &V) -> O + 'static,
    ) -> Coll<'s, O> {
        let right = arrange_shared(other, &format!("{name} (right)"));
        self.outer_join_map_shared(name, &right, with, without)
    }

    fn join_map_shared<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: &Shared<'s, K, V2>,
        logic: impl Fn(&K, &V, &V2) -> O + 'static,
    ) -> Coll<'s, O> {
        self.join_filter_map_shared(name, other, move |k, v1, v2| Some(logic(k, v1, v2)))
    }

    fn join_filter_map_shared<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: &Shared<'s, K, V2>,
        logic: impl Fn(&K, &V, &V2) -> Option<O> + 'static,
    ) -> Coll<'s, O> {
        join_filter_map_boxed(self, name, other, Box::new(logic))
    }

    fn outer_join_map_shared<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: &Shared<'s, K, V2>,
        with: impl Fn(&K, &V, &V2) -> O + 'static,
        without: impl Fn(&K, &V) -> O + 'static,
    ) -> Coll<'s, O> {
        outer_join_map_boxed(self, name, other, Box::new(with), Rc::new(without))
    }

    fn semijoin_named(self, name: &str, keys: Coll<'s, K>) -> Coll<'s, (K, V)> {
        let left = arrange_by_key(self, &format!("{name} (records)"));
        let right = arrange_by_self(keys, &format!("{name} (keys)"));
        left.join_core(right, |k: &K, v: &V, _| Some((k.clone(), v.clone())))
    }

    fn antijoin_named(self, name: &str, keys: Coll<'s, K>) -> Coll<'s, (K, V)> {
        let matched = self.clone().semijoin_named(name, keys);
        self.concat(matched.negate())
    }

    fn group_named<V2: Rec>(
        self,
        name: &str,
        logic: impl FnMut(&K, &[(&V, Diff)], &mut Vec<(V2, Diff)>) + 'static,
    ) -> Coll<'s, (K, V2)> {
        group::group_core(
            self,
            name,
            Box::new(logic),
            Box::new(|k, v, out| out.push((k.clone(), v))),
        )
    }

    fn group_split_named<V2: Rec, A: Rec, B: Rec>(
        self,
        name: &str,
        logic: impl FnMut(&K, &[(&V, Diff)], &mut Vec<(V2, Diff)>) + 'static,
        mut first: impl FnMut(&K, &V2) -> Option<A> + 'static,
        mut second: impl FnMut(&K, &V2) -> Option<B> + 'static,
    ) -> (Coll<'s, A>, Coll<'s, B>) {
        let both = group::group_core(
            self,
            name,
            Box::new(logic),
            Box::new(move |k, v, out| {
                out.extend(first(k, &v).map(Either::First));
                out.extend(second(k, &v).map(Either::Second));
            }),
        );
        let [a, b] = split_by(both, |e| match e {
            Either::First(_) => 0,
            Either::Second(_) => 1,
        });
        (
            a.flat_map_rec(|e| match e {
                Either::First(a) => Some(a),
                Either::Second(_) => None,
            }),
            b.flat_map_rec(|e| match e {
                Either::Second(b) => Some(b),
                Either::First(_) => None,
            }),
        )
    }
}

/// A join's logic, boxed: the join operator is built once per record
/// type, not once per call site's closure (issue 3).
type JoinLogic<K, V, V2, O> = Box<dyn Fn(&K, &V, &V2) -> O>;

/// What an outer join makes of an unmatched record, shared by its two
/// operators.
type Unmatched<K, V, O> = Rc<dyn Fn(&K, &V) -> O>;

/// [`Named::join_filter_map_shared`] with its logic boxed.
#[allow(clippy::disallowed_methods)]
fn join_filter_map_boxed<'s, K: Rec, V: Rec, V2: Rec, O: Rec>(
    coll: Coll<'s, (K, V)>,
    name: &str,
    other: &Shared<'s, K, V2>,
    logic: JoinLogic<K, V, V2, Option<O>>,
) -> Coll<'s, O> {
    let left = arrange_by_key(coll, &format!("{name} (left)"));
    left.join_core(other.0.clone(), move |k: &K, v1: &V, v2: &V2| {
        logic(k, v1, v2)
    })
}

/// [`Named::outer_join_map_shared`] with its logic boxed (`without` is
/// shared by the unmatched records' map and the join).
fn outer_join_map_boxed<'s, K: Rec, V: Rec, V2: Rec, O: Rec>(
    coll: Coll<'s, (K, V)>,
    name: &str,
    other: &Shared<'s, K, V2>,
    with: JoinLogic<K, V, V2, O>,
    without: Unmatched<K, V, O>,
) -> Coll<'s, O> {
    use differential_dataflow::consolidation::ConsolidatingContainerBuilder;
    use differential_dataflow::operators::cursor::join::join_traces;
    use differential_dataflow::AsCollection;
    use timely::container::PushInto;
    let unmatched = without.clone();
    let plain = coll.clone().map_rec(move |(k, v)| unmatched(&k, &v));
    let left = arrange_by_key(coll, &format!("{name} (left)"));
    // A match replaces the record's `without` form (other's keys being
    // distinct, each record matches at most once).
    let matched = join_traces::<_, _, _, _, ConsolidatingContainerBuilder<Vec<(O, Time, Diff)>>>(
        left,
        other.0.clone(),
        name,
        move |k: &K, v1: &V, v2: &V2, t: Time, r1: &Diff, r2: &Diff, out| {
            let r = r1 * r2;
            out.push_into((with(k, v1, v2), t, r));
            out.push_into((without(k, v1), t, -r));
        },
    )
    .as_collection();
    plain.concat(matched)
}

/// The two outputs of [`Named::group_split_named`] in one stream.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Either<A, B> {
    First(A),
    Second(B),
}

/// Named set operators.
pub(crate) trait NamedSet<'s, D: Rec> {
    /// One copy of every record with positive multiplicity.
    fn distinct_named(self, name: &str) -> Coll<'s, D>;
}

impl<'s, D: Rec> NamedSet<'s, D> for Coll<'s, D> {
    fn distinct_named(self, name: &str) -> Coll<'s, D> {
        group::group_core(
            self.map_rec(|d| (d, ())),
            name,
            Box::new(|_, s, t| {
                if s[0].1 > 0 {
                    t.push(((), 1))
                }
            }),
            Box::new(|k, (), out| out.push(k.clone())),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use differential_dataflow::input::Input;

    use super::*;

    type Updates<D> = Rc<RefCell<Vec<(D, Time, Diff)>>>;

    /// Runs `build` over two input collections fed with `a` and `b` (each a
    /// list of epochs of updates) and returns the consolidated output
    /// updates `(data, time, diff)`.
    fn run<A: Rec, B: Rec, O: Rec>(
        a: Vec<Vec<(A, Diff)>>,
        b: Vec<Vec<(B, Diff)>>,
        build: impl for<'s> Fn(Coll<'s, A>, Coll<'s, B>) -> Coll<'s, O> + 'static,
    ) -> Vec<(O, Time, Diff)> {
        let alloc = timely::communication::Allocator::Thread(Default::default());
        let mut worker = timely::worker::Worker::new(Default::default(), alloc, None);
        let out: Updates<O> = Rc::default();
        let sink = out.clone();
        let (mut ia, mut ib, probe) = worker.dataflow::<Time, _, _>(move |scope| {
            let (ia, ca) = scope.new_collection::<A, Diff>();
            let (ib, cb) = scope.new_collection::<B, Diff>();
            let (probe, _) = build(ca, cb)
                .inspect(move |(d, t, r)| sink.borrow_mut().push((d.clone(), *t, *r)))
                .probe();
            (ia, ib, probe)
        });
        let epochs = a.len().max(b.len());
        let (mut a, mut b) = (a.into_iter(), b.into_iter());
        for e in 1..=epochs as Time {
            for (d, r) in a.next().unwrap_or_default() {
                ia.update(d, r);
            }
            for (d, r) in b.next().unwrap_or_default() {
                ib.update(d, r);
            }
            ia.advance_to(e);
            ib.advance_to(e);
            ia.flush();
            ib.flush();
            while probe.less_than(&e) {
                worker.step();
            }
        }
        let mut v = out.borrow().clone();
        v.sort();
        let mut merged: Vec<(O, Time, Diff)> = Vec::new();
        for (d, t, r) in v {
            match merged.last_mut() {
                Some((ld, lt, lr)) if *ld == d && *lt == t => *lr += r,
                _ => merged.push((d, t, r)),
            }
        }
        merged.retain(|(_, _, r)| *r != 0);
        merged
    }

    #[test]
    fn join_named_matches_keys_and_retracts() {
        let got = run(
            vec![vec![((1u32, 'a'), 1), ((2, 'b'), 1)], vec![((1, 'a'), -1)]],
            vec![vec![((1u32, 10u8), 1), ((3, 30), 1)]],
            |a, b| a.join_named("test join", b),
        );
        assert_eq!(got, vec![((1, ('a', 10)), 0, 1), ((1, ('a', 10)), 1, -1)]);
    }

    #[test]
    fn semijoin_and_antijoin_partition_the_records() {
        let a = vec![vec![((1u32, 'a'), 1), ((2, 'b'), 1)]];
        let keys = vec![vec![(1u32, 1)], vec![(2, 1)]];
        let semi = run(a.clone(), keys.clone(), |a, k| a.semijoin_named("semi", k));
        assert_eq!(semi, vec![((1, 'a'), 0, 1), ((2, 'b'), 1, 1)]);
        let anti = run(a, keys, |a, k| a.antijoin_named("anti", k));
        assert_eq!(anti, vec![((2, 'b'), 0, 1), ((2, 'b'), 1, -1)]);
    }

    #[test]
    fn outer_join_map_named_matches_or_falls_back_incrementally() {
        // Epoch 0: 1 matches, 2 does not; epoch 1: 2 gets a match, 1 loses
        // its; epoch 2: 1's match comes back with another value.
        let got = run(
            vec![vec![((1u32, 'a'), 1), ((2, 'b'), 1)]],
            vec![
                vec![((1u32, 10u8), 1)],
                vec![((2, 20), 1), ((1, 10), -1)],
                vec![((1, 11), 1)],
            ],
            |a, b| {
                a.outer_join_map_named(
                    "outer",
                    b,
                    |k, v, w| (*k, *v, Some(*w)),
                    |k, v| (*k, *v, None),
                )
            },
        );
        assert_eq!(
            got,
            vec![
                ((1, 'a', None), 1, 1),
                ((1, 'a', None), 2, -1),
                ((1, 'a', Some(10)), 0, 1),
                ((1, 'a', Some(10)), 1, -1),
                ((1, 'a', Some(11)), 2, 1),
                ((2, 'b', None), 0, 1),
                ((2, 'b', None), 1, -1),
                ((2, 'b', Some(20)), 1, 1),
            ]
        );
    }

    #[test]
    fn joins_sharing_one_arrangement_see_every_update() {
        // Two joins read one arrangement of `b`: an inner join and a
        // filtering join, each as if it had arranged `b` itself.
        let got = run(
            vec![vec![((1u32, 'a'), 1), ((2, 'b'), 1)], vec![((3, 'c'), 1)]],
            vec![
                vec![((1u32, 10u8), 1), ((2, 20), 1)],
                vec![((2, 20), -1), ((3, 30), 1)],
            ],
            |a, b| {
                let shared = arrange_shared(b, "test shared");
                let inner = a
                    .clone()
                    .join_map_shared("inner", &shared, |k, v, w| (*k, *v, *w));
                let big = a.join_filter_map_shared("filtered", &shared, |k, v, w| {
                    (*w >= 20).then_some((*k + 100, *v, *w))
                });
                inner.concat(big)
            },
        );
        assert_eq!(
            got,
            vec![
                ((1, 'a', 10), 0, 1),
                ((2, 'b', 20), 0, 1),
                ((2, 'b', 20), 1, -1),
                ((3, 'c', 30), 1, 1),
                ((102, 'b', 20), 0, 1),
                ((102, 'b', 20), 1, -1),
                ((103, 'c', 30), 1, 1),
            ]
        );
    }

    #[test]
    fn group_named_sees_sorted_values_and_updates_incrementally() {
        let got = run(
            vec![vec![((1u32, 5u32), 1), ((1, 3), 1)], vec![((1, 4), 1)]],
            Vec::<Vec<((), Diff)>>::new(),
            |a, _| {
                a.group_named("collect", |_, vals, out| {
                    out.push((vals.iter().map(|(v, _)| **v).collect::<Vec<u32>>(), 1))
                })
            },
        );
        assert_eq!(
            got,
            vec![
                ((1, vec![3, 4, 5]), 1, 1),
                ((1, vec![3, 5]), 0, 1),
                ((1, vec![3, 5]), 1, -1)
            ]
        );
    }

    #[test]
    fn group_named_forgets_keys_whose_values_cancel() {
        // Epoch 0: key 1 gets two values, key 2 one that cancels in the
        // same epoch; epoch 1: key 1 loses both (its output goes), key 3
        // arrives; epoch 2: key 1 comes back with one value.
        let got = run(
            vec![
                vec![
                    ((1u32, 'a'), 1),
                    ((1, 'b'), 1),
                    ((2, 'z'), 1),
                    ((2, 'z'), -1),
                ],
                vec![((1, 'a'), -1), ((1, 'b'), -1), ((3, 'c'), 1)],
                vec![((1, 'd'), 1)],
            ],
            Vec::<Vec<((), Diff)>>::new(),
            |a, _| {
                a.group_named("count", |_, vals, out| {
                    out.push((vals.iter().map(|(_, r)| *r).sum::<Diff>(), 1))
                })
            },
        );
        assert_eq!(
            got,
            vec![
                ((1, 1), 2, 1),
                ((1, 2), 0, 1),
                ((1, 2), 1, -1),
                ((3, 1), 1, 1)
            ]
        );
    }

    #[test]
    fn group_split_named_sends_each_output_where_it_is_wanted() {
        // Even counts go first, odd ones second, multiples of 3 both ways.
        let got = run(
            vec![
                vec![((1u32, 'a'), 1), ((1, 'b'), 1), ((2, 'c'), 1)],
                vec![((1, 'c'), 1), ((2, 'c'), -1)],
            ],
            Vec::<Vec<((), Diff)>>::new(),
            |a, _| {
                let (even, odd) = a.group_split_named(
                    "split",
                    |_, vals, out| out.push((vals.len(), 1)),
                    |k, n| (n % 2 == 0 || n % 3 == 0).then_some((*k, *n, 'f')),
                    |k, n| (n % 2 == 1 || n % 3 == 0).then_some((*k, *n, 's')),
                );
                even.concat(odd)
            },
        );
        assert_eq!(
            got,
            vec![
                ((1, 2, 'f'), 0, 1),
                ((1, 2, 'f'), 1, -1),
                ((1, 3, 'f'), 1, 1),
                ((1, 3, 's'), 1, 1),
                ((2, 1, 's'), 0, 1),
                ((2, 1, 's'), 1, -1),
            ]
        );
    }

    #[test]
    fn distinct_named_counts_each_record_once() {
        let got = run(
            vec![vec![(7u32, 2), (8, 1)], vec![(7, -1)], vec![(7, -1)]],
            Vec::<Vec<((), Diff)>>::new(),
            |a, _| a.distinct_named("distinct"),
        );
        assert_eq!(got, vec![(7, 0, 1), (7, 2, -1), (8, 0, 1)]);
    }
}
