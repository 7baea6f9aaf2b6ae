//! The named arrangement operators of [`super`]: joins (inner, outer,
//! semi, anti, against an arrangement of their own or a shared one), each
//! arranging under a name that shows in timely's logging and in the
//! `OVNFLOW_ARRLOG` memory report, and groupings and `distinct`, named
//! too, whose state is a hash map (`group.rs`), not an arrangement. With
//! one worker the records are arranged where they are (no exchange).

use std::any::TypeId;
use std::marker::PhantomData;
use std::rc::Rc;

use smallvec::SmallVec;

use super::group::{self, Project};
use super::quiet::arrange_quiet;
use super::{arrlog, Coll, Diff, Erased, ErasedColl, Ops, Rec, Time};

/// An arrangement of `(K, V)` records, each as its key view and value view
/// (`erased.rs`: two views of one shared record).
type ValArranged<'s> = differential_dataflow::operators::arrange::Arranged<
    's,
    differential_dataflow::operators::arrange::TraceAgent<
        differential_dataflow::trace::implementations::ValSpine<Erased, Erased, Time, Diff>,
    >,
>;
/// An arrangement of erased records by themselves.
type KeyArranged<'s> = differential_dataflow::operators::arrange::Arranged<
    's,
    differential_dataflow::operators::arrange::TraceAgent<
        differential_dataflow::trace::implementations::KeySpine<Erased, Time, Diff>,
    >,
>;

/// Inline bytes of one arranged update of `D` (with its time and diff).
fn record_size<D>() -> usize {
    std::mem::size_of::<D>() + std::mem::size_of::<(Time, Diff)>()
}

/// The key of each `(K, V)` record of a collection.
fn key_of<K: Rec, V: Rec>() -> Project {
    Rc::new(Erased::key_view::<K, V>)
}

/// The value of each `(K, V)` record of a collection, as arrangements and
/// groupings hold it under its key.
fn val_of<K: Rec, V: Rec>() -> Project {
    Rc::new(Erased::val_view::<K, V>)
}

/// Arranges the `(K, V)` records of `coll` by key under `name`: the
/// arrangement holds each record (shared, not copied) as its key view and
/// its value view, and joins read the record whole from the value view.
fn arrange_by_key<'s, K: Rec, V: Rec>(coll: Coll<'s, (K, V)>, name: &str) -> ValArranged<'s> {
    arrange_erased(coll.inner, key_of::<K, V>(), val_of::<K, V>(), name)
}

/// [`arrange_by_key`] on erased records. A single worker arranges the
/// records where they are (timely's `Pipeline`): the exchange by key hash
/// several workers need would hash and copy every record for nothing.
#[allow(clippy::disallowed_methods)]
fn arrange_erased<'s>(
    coll: ErasedColl<'s>,
    key_of: Project,
    val_of: Project,
    name: &str,
) -> ValArranged<'s> {
    use differential_dataflow::trace::implementations::{ValBatcher, ValSpine};
    arrlog::note_record_size(name, record_size::<(Erased, Erased)>());
    if coll.scope().peers() > 1 {
        return coll
            .map(move |r| (key_of(&r), val_of(&r)))
            .arrange_by_key_named(name);
    }
    arrange_quiet::<
        _,
        _,
        ValBatcher<Erased, Erased, Time, Diff>,
        ValSpine<Erased, Erased, Time, Diff>,
    >(
        coll.inner,
        name,
        move |records: &mut Vec<(Erased, Time, Diff)>,
              pairs: &mut Vec<((Erased, Erased), Time, Diff)>| {
            pairs.clear();
            pairs.extend(
                records
                    .drain(..)
                    .map(|(r, t, d)| ((key_of(&r), val_of(&r)), t, d)),
            );
        },
        ValBatcher::new,
    )
}

/// Arranges the records of `coll` by themselves under `name` (in place
/// with a single worker, as [`arrange_erased`]).
#[allow(clippy::disallowed_methods)]
fn arrange_by_self<'s>(coll: ErasedColl<'s>, name: &str) -> KeyArranged<'s> {
    use differential_dataflow::trace::implementations::{KeyBatcher, KeySpine};
    arrlog::note_record_size(name, record_size::<Erased>());
    if coll.scope().peers() > 1 {
        return coll.arrange_by_self_named(name);
    }
    arrange_quiet::<_, _, KeyBatcher<Erased, Time, Diff>, KeySpine<Erased, Time, Diff>>(
        coll.inner,
        name,
        |keys: &mut Vec<(Erased, Time, Diff)>, pairs: &mut Vec<((Erased, ()), Time, Diff)>| {
            pairs.clear();
            pairs.extend(keys.drain(..).map(|(k, t, d)| ((k, ()), t, d)));
        },
        KeyBatcher::new,
    )
}

/// One arrangement of `(K, V)` records by `K` that several joins read
/// ([`Named::join_map_shared`], [`Named::outer_join_map_shared`]): the
/// records are held once and arranged by one operator, where each join
/// arranging its own input would hold a copy per join.
pub(crate) struct Shared<'s, K, V>(ValArranged<'s>, PhantomData<fn() -> (K, V)>);

impl<K, V> Clone for Shared<'_, K, V> {
    fn clone(&self) -> Self {
        Shared(self.0.clone(), PhantomData)
    }
}

/// Arranges `coll` by key under `name`, for several joins to share.
pub(crate) fn arrange_shared<'s, K: Rec, V: Rec>(
    coll: Coll<'s, (K, V)>,
    name: &str,
) -> Shared<'s, K, V> {
    Shared(arrange_by_key(coll, name), PhantomData)
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

impl<'s, K: Rec, V: Rec> Named<'s, K, V> for Coll<'s, (K, V)> {
    fn join_named<V2: Rec>(self, name: &str, other: Coll<'s, (K, V2)>) -> Coll<'s, (K, (V, V2))> {
        let right = arrange_shared(other, &format!("{name} (right)"));
        self.join_map_shared(name, &right, |k, v1, v2| {
            (k.clone(), (v1.clone(), v2.clone()))
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
        let left = arrange_by_key(self, &format!("{name} (left)"));
        Coll::wrap(join_erased(
            left,
            other.0.clone(),
            Box::new(move |l, r| {
                let (k, v1) = l.record::<K, V>();
                let (_, v2) = r.record::<K, V2>();
                logic(k, v1, v2).map(Erased::new)
            }),
        ))
    }

    fn outer_join_map_shared<V2: Rec, O: Rec>(
        self,
        name: &str,
        other: &Shared<'s, K, V2>,
        with: impl Fn(&K, &V, &V2) -> O + 'static,
        without: impl Fn(&K, &V) -> O + 'static,
    ) -> Coll<'s, O> {
        let plain = self.inner.clone();
        let left = arrange_by_key(self, &format!("{name} (left)"));
        Coll::wrap(outer_join_erased(
            plain,
            left,
            other.0.clone(),
            name,
            Box::new(move |l, r| {
                let (k, v1) = l.record::<K, V>();
                Erased::new(with(k, v1, &r.record::<K, V2>().1))
            }),
            Rc::new(move |l| {
                let (k, v1) = l.record::<K, V>();
                Erased::new(without(k, v1))
            }),
        ))
    }

    fn semijoin_named(self, name: &str, keys: Coll<'s, K>) -> Coll<'s, (K, V)> {
        let left = arrange_by_key(self, &format!("{name} (records)"));
        let right = arrange_by_self(keys.inner, &format!("{name} (keys)"));
        Coll::wrap(semijoin_erased(
            left,
            right,
            Box::new(Erased::unview_val::<K, V>),
        ))
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
        let logic = Typed::<K, V, V2>::new(
            Box::new(logic),
            Box::new(|k, v2, d, out| out.push((Erased::new((k.clone(), v2)), d))),
        );
        Coll::wrap(group::group_core(
            self.inner,
            key_of::<K, V>(),
            val_of::<K, V>(),
            name,
            Box::new(logic),
        ))
    }

    fn group_split_named<V2: Rec, A: Rec, B: Rec>(
        self,
        name: &str,
        logic: impl FnMut(&K, &[(&V, Diff)], &mut Vec<(V2, Diff)>) + 'static,
        mut first: impl FnMut(&K, &V2) -> Option<A> + 'static,
        mut second: impl FnMut(&K, &V2) -> Option<B> + 'static,
    ) -> (Coll<'s, A>, Coll<'s, B>) {
        // The two outputs go in one stream and are told apart by type:
        // their own when they differ (no copy), else the second ones in a
        // wrapper, taken off after the split.
        let distinct = TypeId::of::<A>() != TypeId::of::<B>();
        let logic = Typed::<K, V, V2>::new(
            Box::new(logic),
            Box::new(move |k, v2, d, out| {
                out.extend(first(k, &v2).map(|a| (Erased::new(a), d)));
                out.extend(second(k, &v2).map(|b| match distinct {
                    true => (Erased::new(b), d),
                    false => (Erased::new(Second(b)), d),
                }));
            }),
        );
        let both = group::group_core(
            self.inner,
            key_of::<K, V>(),
            val_of::<K, V>(),
            name,
            Box::new(logic),
        );
        let mut parts = super::split_erased(both, 2, Box::new(|e| usize::from(!e.is::<A>())));
        let b = parts.pop().expect("two parts");
        let a = parts.pop().expect("two parts");
        let b = match distinct {
            true => Coll::wrap(b),
            false => Coll::<Second<B>>::wrap(b).map_rec(|Second(b)| b),
        };
        (Coll::wrap(a), b)
    }
}

/// The second output of [`Named::group_split_named`] when both have the
/// same type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Second<B>(B);

/// A grouping's logic on `(K, V)` records (see [`group::Logic`]): `logic`
/// makes a key's output from its values, and `emit` turns each net
/// change of the output into records.
struct Typed<K, V, V2> {
    logic: TypedLogic<K, V, V2>,
    emit: TypedEmit<K, V2>,
    /// The output of one run.
    outputs: Vec<(V2, Diff)>,
    /// The key's pending change.
    net: Vec<(V2, Diff)>,
    records: PhantomData<fn() -> V>,
}

/// A rule's grouping logic, boxed (one [`Typed`] per record types, not
/// per call site).
type TypedLogic<K, V, V2> = Box<dyn FnMut(&K, &[(&V, Diff)], &mut Vec<(V2, Diff)>)>;

/// How a change of a grouping's output becomes records, boxed.
type TypedEmit<K, V2> = Box<dyn FnMut(&K, V2, Diff, &mut Vec<(Erased, Diff)>)>;

impl<K: Rec, V: Rec, V2: Rec> Typed<K, V, V2> {
    fn new(logic: TypedLogic<K, V, V2>, emit: TypedEmit<K, V2>) -> Self {
        Typed {
            logic,
            emit,
            outputs: Vec::new(),
            net: Vec::new(),
            records: PhantomData,
        }
    }
}

impl<K: Rec, V: Rec, V2: Rec> group::Logic for Typed<K, V, V2> {
    fn run(&mut self, key: &Erased, records: &[(&Erased, Diff)], sign: Diff) {
        let values: SmallVec<[(&V, Diff); 8]> = records
            .iter()
            .map(|(r, d)| (&r.record::<K, V>().1, *d))
            .collect();
        (self.logic)(key.key::<K>(), &values, &mut self.outputs);
        self.net
            .extend(self.outputs.drain(..).map(|(v2, d)| (v2, d * sign)));
    }

    fn finish(&mut self, key: &Erased, out: &mut Vec<(Erased, Diff)>) {
        differential_dataflow::consolidation::consolidate(&mut self.net);
        let key = key.key::<K>();
        for (v2, d) in self.net.drain(..) {
            (self.emit)(key, v2, d, out);
        }
    }
}

/// [`NamedSet::distinct_named`]'s grouping: each record is its own key,
/// present while its multiplicity is positive.
#[derive(Default)]
struct Distinct {
    /// The key's pending change.
    net: Diff,
}

impl group::Logic for Distinct {
    fn run(&mut self, _: &Erased, records: &[(&Erased, Diff)], sign: Diff) {
        if records[0].1 > 0 {
            self.net += sign;
        }
    }

    fn finish(&mut self, key: &Erased, out: &mut Vec<(Erased, Diff)>) {
        if self.net != 0 {
            out.push((key.clone(), self.net));
        }
        self.net = 0;
    }
}

/// A join's logic on erased records: the left record and the right one
/// (value views of `(K, V)` records, see [`arrange_by_key`]).
type JoinLogic = Box<dyn Fn(&Erased, &Erased) -> Option<Erased>>;

/// Joins two arrangements by key: `logic` makes the output of each match.
#[allow(clippy::disallowed_methods)]
fn join_erased<'s>(
    left: ValArranged<'s>,
    right: ValArranged<'s>,
    logic: JoinLogic,
) -> ErasedColl<'s> {
    left.join_core(right, move |_: &Erased, l: &Erased, r: &Erased| logic(l, r))
}

/// The records of `left` whose key is in `keys`, each made from its value
/// in `left` by `record`.
#[allow(clippy::disallowed_methods)]
fn semijoin_erased<'s>(
    left: ValArranged<'s>,
    keys: KeyArranged<'s>,
    record: Box<dyn Fn(&Erased) -> Erased>,
) -> ErasedColl<'s> {
    left.join_core(keys, move |_: &Erased, l: &Erased, _: &()| Some(record(l)))
}

/// What an outer join makes of a match (left and right records).
type Matched = Box<dyn Fn(&Erased, &Erased) -> Erased>;

/// What an outer join makes of an unmatched record, shared by its two
/// operators.
type Unmatched = Rc<dyn Fn(&Erased) -> Erased>;

/// [`Named::outer_join_map_shared`] on erased records: `plain` are the
/// records of `left` as a collection.
fn outer_join_erased<'s>(
    plain: ErasedColl<'s>,
    left: ValArranged<'s>,
    right: ValArranged<'s>,
    name: &str,
    with: Matched,
    without: Unmatched,
) -> ErasedColl<'s> {
    use differential_dataflow::consolidation::ConsolidatingContainerBuilder;
    use differential_dataflow::operators::cursor::join::join_traces;
    use differential_dataflow::AsCollection;
    use timely::container::PushInto;
    let unmatched = without.clone();
    let plain = super::map_erased(plain, Box::new(move |r| unmatched(&r)));
    // A match replaces the record's `without` form (right's keys being
    // distinct, each record matches at most once).
    let matched =
        join_traces::<_, _, _, _, ConsolidatingContainerBuilder<Vec<(Erased, Time, Diff)>>>(
            left,
            right,
            name,
            move |_: &Erased, l: &Erased, r: &Erased, t: Time, r1: &Diff, r2: &Diff, out| {
                let d = r1 * r2;
                out.push_into((with(l, r), t, d));
                out.push_into((without(l), t, -d));
            },
        )
        .as_collection();
    plain.concat(matched)
}

/// Named set operators.
pub(crate) trait NamedSet<'s, D: Rec> {
    /// One copy of every record with positive multiplicity.
    fn distinct_named(self, name: &str) -> Coll<'s, D>;
}

impl<'s, D: Rec> NamedSet<'s, D> for Coll<'s, D> {
    fn distinct_named(self, name: &str) -> Coll<'s, D> {
        Coll::wrap(group::group_core(
            self.inner,
            Rc::new(Erased::clone),
            Rc::new(Erased::clone),
            name,
            Box::<Distinct>::default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::dataflow::{input, sink};

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
        let collected: Updates<O> = Rc::default();
        let out = collected.clone();
        let (mut ia, mut ib, probe) = worker.dataflow::<Time, _, _>(move |scope| {
            let (ia, ca) = input::<A>(scope);
            let (ib, cb) = input::<B>(scope);
            let probe = sink(build(ca, cb), "test output", move |chunk| {
                out.borrow_mut().extend(chunk)
            });
            (ia, ib, probe)
        });
        let epochs = a.len().max(b.len());
        let (mut a, mut b) = (a.into_iter(), b.into_iter());
        for e in 1..=epochs as Time {
            for (d, r) in a.next().unwrap_or_default() {
                ia.update(Erased::new(d), r);
            }
            for (d, r) in b.next().unwrap_or_default() {
                ib.update(Erased::new(d), r);
            }
            ia.advance_to(e);
            ib.advance_to(e);
            ia.flush();
            ib.flush();
            while probe.less_than(&e) {
                worker.step();
            }
        }
        let mut v = collected.borrow().clone();
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
