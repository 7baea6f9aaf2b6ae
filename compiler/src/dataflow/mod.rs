//! The only module that names timely-dataflow and differential-dataflow types
//! (STYLE 4). Versions are pinned in the workspace (`timely =0.32.0`,
//! `differential-dataflow =0.26.0`); API changes between their minor versions
//! are absorbed here.
//!
//! Every stream and arrangement carries one record type, [`Erased`]
//! (`erased.rs`): [`Coll`] is a collection of erased records that keeps
//! their type `D` at compile time only, and the operators below wrap the
//! rules' typed closures into boxed closures over erased records. So
//! timely's and differential's code (operator builders, channels,
//! batchers, spines, merges, joins, sorts) is generated once, not once per
//! record type and call site as it was (issue 3: the crate's release build
//! took 422–565 s on 2 cores with one copy per record type, about 60 s
//! erased; `cargo build --release --workspace` from empty, 17–21 minutes
//! before, 7m16s after).
//!
//! Rules never call differential's `map`, `flat_map` and `filter`
//! either, but [`Ops`]' versions (`compiler/clippy.toml` forbids the
//! others outside this module).
//!
//! Rules never call differential's arrangement operators directly:
//! `compiler/clippy.toml` forbids them outside this module, and
//! [`Named`] and [`NamedSet`] (in `arrange.rs`) offer named versions, so
//! every arrangement shows up by name in timely's logging (STYLE 3).

mod arrange;
mod arrlog;
pub(crate) mod driver;
mod erased;
mod group;
mod oplog;
mod quiet;
pub(crate) mod render;

use std::marker::PhantomData;

pub(crate) use arrange::{arrange_shared, Named, NamedSet, Shared};
pub(crate) use erased::Erased;

/// Logical time of the dataflow: one epoch per applied NB batch (and one per
/// tunnel-key feedback round).
pub(crate) type Time = u64;

/// Multiplicity change of a record.
pub(crate) type Diff = isize;

/// A timely scope of the compiler's dataflow.
pub(crate) type Scope<'s> = timely::dataflow::Scope<'s, Time>;

/// What every stream of the dataflow carries: [`Erased`] records.
type ErasedColl<'s> = differential_dataflow::VecCollection<'s, Time, Erased, Diff>;

/// A collection of records `D` in scope `'s`: a differential collection
/// of [`Erased`] records that are all `D`s (see `erased.rs`: timely's and
/// differential's code is generated once, for [`Erased`], not once per
/// record type).
pub(crate) struct Coll<'s, D> {
    inner: ErasedColl<'s>,
    record: PhantomData<fn() -> D>,
}

impl<D> Clone for Coll<'_, D> {
    fn clone(&self) -> Self {
        Coll {
            inner: self.inner.clone(),
            record: PhantomData,
        }
    }
}

impl<'s, D: Rec> Coll<'s, D> {
    /// `inner`, whose records must all be `D`s.
    fn wrap(inner: ErasedColl<'s>) -> Coll<'s, D> {
        Coll {
            inner,
            record: PhantomData,
        }
    }

    /// The records of both collections.
    pub(crate) fn concat(self, other: Coll<'s, D>) -> Coll<'s, D> {
        Coll::wrap(self.inner.concat(other.inner))
    }

    /// The records of this collection and all of `others`.
    pub(crate) fn concatenate(self, others: impl IntoIterator<Item = Coll<'s, D>>) -> Coll<'s, D> {
        let others: Vec<ErasedColl<'s>> = others.into_iter().map(|c| c.inner).collect();
        Coll::wrap(self.inner.concatenate(others))
    }

    /// Every record with its multiplicity negated.
    pub(crate) fn negate(self) -> Coll<'s, D> {
        Coll::wrap(self.inner.negate())
    }
}

/// The input session of a collection fed from outside the dataflow (see
/// [`input`]): the records given to it must be the collection's `D`s,
/// erased ([`Erased::new`]).
pub(crate) type InputSession = differential_dataflow::input::InputSession<Time, Erased, Diff>;

/// A new input collection of `D`s in `scope`.
pub(crate) fn input<'s, D: Rec>(scope: Scope<'s>) -> (InputSession, Coll<'s, D>) {
    use differential_dataflow::input::Input;
    let (session, coll) = scope.new_collection::<Erased, Diff>();
    (session, Coll::wrap(coll))
}

/// A collection holding `records` from the first epoch on.
pub(crate) fn collection_from<'s, D: Rec>(scope: Scope<'s>, records: Vec<D>) -> Coll<'s, D> {
    use differential_dataflow::input::Input;
    let records: Vec<Erased> = records.into_iter().map(Erased::new).collect();
    let (_, coll) = scope.new_collection_from(records);
    Coll::wrap(coll)
}

/// Record types that may flow through the dataflow: ordered, hashable,
/// cloneable, printable, and shareable between worker threads.
pub(crate) trait Rec:
    Clone + Ord + std::hash::Hash + std::fmt::Debug + Send + Sync + 'static
{
}
impl<T: Clone + Ord + std::hash::Hash + std::fmt::Debug + Send + Sync + 'static> Rec for T {}

/// The closures of the erased operators, boxed: one operator whatever the
/// record types and call site.
type MapFn = Box<dyn FnMut(Erased) -> Erased>;
type FlatMapFn = Box<dyn FnMut(Erased, &mut Vec<Erased>)>;
type FilterFn = Box<dyn FnMut(&Erased) -> bool>;
type TakeFn = Box<dyn FnMut(Vec<(Erased, Time, Diff)>)>;

/// The record-by-record operators rules use instead of differential's
/// `map`, `flat_map` and `filter` (which `compiler/clippy.toml` forbids
/// outside this module): the same semantics, on records of their types.
pub(crate) trait Ops<'s, D: Rec> {
    /// Each record `d` becomes `logic(d)`.
    fn map_rec<O: Rec>(self, logic: impl FnMut(D) -> O + 'static) -> Coll<'s, O>;
    /// Each record `d` becomes the records of `logic(d)`.
    fn flat_map_rec<O: Rec, I: IntoIterator<Item = O>>(
        self,
        logic: impl FnMut(D) -> I + 'static,
    ) -> Coll<'s, O>;
    /// Keeps the records for which `keep` holds.
    fn filter_rec(self, keep: impl FnMut(&D) -> bool + 'static) -> Coll<'s, D>;
}

impl<'s, D: Rec> Ops<'s, D> for Coll<'s, D> {
    fn map_rec<O: Rec>(self, mut logic: impl FnMut(D) -> O + 'static) -> Coll<'s, O> {
        Coll::wrap(map_erased(
            self.inner,
            Box::new(move |d| Erased::new(logic(d.take()))),
        ))
    }

    fn flat_map_rec<O: Rec, I: IntoIterator<Item = O>>(
        self,
        logic: impl FnMut(D) -> I + 'static,
    ) -> Coll<'s, O> {
        Coll::wrap(flat_map_erased(self.inner, typed_flat_map(logic)))
    }

    fn filter_rec(self, mut keep: impl FnMut(&D) -> bool + 'static) -> Coll<'s, D> {
        Coll::wrap(filter_erased(self.inner, Box::new(move |d| keep(d.get()))))
    }
}

/// `logic` over erased records: each `D` taken out, its `O`s erased.
fn typed_flat_map<D: Rec, O: Rec, I: IntoIterator<Item = O>>(
    mut logic: impl FnMut(D) -> I + 'static,
) -> FlatMapFn {
    Box::new(move |d, out| out.extend(logic(d.take()).into_iter().map(Erased::new)))
}

#[allow(clippy::disallowed_methods)]
fn map_erased<'s>(coll: ErasedColl<'s>, logic: MapFn) -> ErasedColl<'s> {
    coll.map(logic)
}

#[allow(clippy::disallowed_methods)]
fn filter_erased<'s>(coll: ErasedColl<'s>, keep: FilterFn) -> ErasedColl<'s> {
    coll.filter(keep)
}

/// `flat_map` with the outputs of each record gathered in one buffer,
/// reused from record to record.
fn flat_map_erased<'s>(coll: ErasedColl<'s>, mut logic: FlatMapFn) -> ErasedColl<'s> {
    use differential_dataflow::AsCollection;
    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::channels::pact::Pipeline;
    use timely::dataflow::operators::generic::Operator;
    coll.inner
        .unary::<CapacityContainerBuilder<Vec<(Erased, Time, Diff)>>, _, _, _>(
            Pipeline,
            "FlatMap",
            move |_, _| {
                let mut outputs: Vec<Erased> = Vec::new();
                move |input, output| {
                    input.for_each(|cap, data| {
                        let mut session = output.session(&cap);
                        for (d, t, r) in data.drain(..) {
                            logic(d, &mut outputs);
                            session.give_iterator(outputs.drain(..).map(|o| (o, t, r)));
                        }
                    });
                }
            },
        )
        .as_collection()
}

/// Splits `coll` into `N` collections, record `r` going to `part(&r)`
/// (which must be below `N`): one pass and no copies, where filtering the
/// same collection `N` times would copy every record for every filter.
pub(crate) fn split_by<'s, D: Rec, const N: usize>(
    coll: Coll<'s, D>,
    part: impl Fn(&D) -> usize + 'static,
) -> [Coll<'s, D>; N] {
    let parts = split_erased(coll.inner, N, Box::new(move |d| part(d.get())));
    let mut parts = parts.into_iter();
    std::array::from_fn(|_| Coll::wrap(parts.next().expect("one stream per part")))
}

/// [`split_by`] on erased records, into `n` streams.
pub(super) fn split_erased<'s>(
    coll: ErasedColl<'s>,
    n: usize,
    part: Box<dyn Fn(&Erased) -> usize>,
) -> Vec<ErasedColl<'s>> {
    use differential_dataflow::AsCollection;
    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::operators::core::Partition;
    let streams = coll
        .inner
        .partition::<CapacityContainerBuilder<Vec<(Erased, Time, Diff)>>, _, _>(
            n as u64,
            move |(d, t, r)| (part(&d).min(n - 1) as u64, (d, t, r)),
        );
    streams.into_iter().map(|s| s.as_collection()).collect()
}

/// `coll.flat_map(logic)` for records that are replaced whole when one of
/// their parts changes (a router's context after one NAT rule or route
/// changed, a port's after its peer's NAT did): when the records of a time
/// retract something, the outputs of old and new versions are netted
/// (consolidated) before they are sent, so only the outputs that differ go
/// on, where a plain `flat_map` sends every output of both versions (the
/// router's hundred flows, hashed, arranged and grouped twice, to cancel
/// there). The records of one time that arrive together are netted
/// together; a time without retractions (a compile from scratch) is
/// streamed out as `flat_map` does, with no buffer. Named `name` in
/// timely's logging.
pub(crate) fn flat_map_net<'s, D: Rec, O: Rec, I: IntoIterator<Item = O>>(
    coll: Coll<'s, D>,
    name: &str,
    logic: impl FnMut(D) -> I + 'static,
) -> Coll<'s, O> {
    Coll::wrap(flat_map_net_erased(coll.inner, name, typed_flat_map(logic)))
}

/// [`flat_map_net`] on erased records.
fn flat_map_net_erased<'s>(
    coll: ErasedColl<'s>,
    name: &str,
    mut logic: FlatMapFn,
) -> ErasedColl<'s> {
    use differential_dataflow::consolidation::consolidate_updates;
    use differential_dataflow::AsCollection;
    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::channels::pact::Pipeline;
    use timely::dataflow::operators::generic::Operator;
    coll.inner
        .unary::<CapacityContainerBuilder<Vec<(Erased, Time, Diff)>>, _, _, _>(
            Pipeline,
            name,
            move |_, _| {
                let mut netted: Vec<(Erased, Time, Diff)> = Vec::new();
                let mut outputs: Vec<Erased> = Vec::new();
                move |input, output| {
                    input.for_each_stamp(|cap, data| {
                        let mut containers: Vec<&mut Vec<(Erased, Time, Diff)>> = data.collect();
                        let retracts = containers.iter().any(|c| c.iter().any(|(_, _, r)| *r < 0));
                        let updates = containers.iter_mut().flat_map(|c| c.drain(..));
                        let mut session = output.session(&cap);
                        if !retracts {
                            for (d, t, r) in updates {
                                logic(d, &mut outputs);
                                session.give_iterator(outputs.drain(..).map(|o| (o, t, r)));
                            }
                            return;
                        }
                        for (d, t, r) in updates {
                            logic(d, &mut outputs);
                            netted.extend(outputs.drain(..).map(|o| (o, t, r)));
                        }
                        consolidate_updates(&mut netted);
                        session.give_iterator(netted.drain(..));
                    });
                }
            },
        )
        .as_collection()
}

/// Hands the updates of `coll` to `take`, a whole container at a time (the
/// records are neither copied nor moved one by one) and returns a probe
/// whose frontier passes an epoch once `take` has seen all of that epoch's
/// updates.
pub(crate) fn sink<'s, D: Rec>(
    coll: Coll<'s, D>,
    name: &str,
    mut take: impl FnMut(Vec<(D, Time, Diff)>) + 'static,
) -> timely::dataflow::operators::probe::Handle<Time> {
    sink_erased(
        coll.inner,
        name,
        Box::new(move |data| take(data.into_iter().map(|(d, t, r)| (d.take(), t, r)).collect())),
    )
}

/// [`sink`] on erased records.
fn sink_erased<'s>(
    coll: ErasedColl<'s>,
    name: &str,
    mut take: TakeFn,
) -> timely::dataflow::operators::probe::Handle<Time> {
    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::channels::pact::Pipeline;
    use timely::dataflow::operators::generic::Operator;
    use timely::dataflow::operators::Probe;
    let done = coll
        .inner
        .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(Pipeline, name, |cap, _| {
            // Outputs nothing: the probe follows the input frontier.
            drop(cap);
            move |input, _output| {
                input.for_each(|_time, data| take(std::mem::take(data)));
            }
        });
    let (probe, _) = done.probe();
    probe
}
