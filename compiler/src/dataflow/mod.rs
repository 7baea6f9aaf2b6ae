//! The only module that names timely-dataflow and differential-dataflow types
//! (STYLE 4). Versions are pinned in the workspace (`timely =0.32.0`,
//! `differential-dataflow =0.26.0`); API changes between their minor versions
//! are absorbed here.
//!
//! Rules never call differential's `map`, `flat_map` and `filter`
//! either, but [`Ops`]' versions, which box their closure: a dataflow
//! operator's code (timely's operator builder, its input and output
//! handles, differential's wrapper) is then generated once per record
//! type, where a closure of its own, a type of its own, had it generated
//! once per call site (issue 3: the crate's release build went from 444
//! to 422 s on 2 cores; what is left is generated per record type).
//!
//! Rules never call differential's arrangement operators directly:
//! `compiler/clippy.toml` forbids them outside this module, and
//! [`Named`] and [`NamedSet`] (in `arrange.rs`) offer named versions, so
//! every arrangement shows up by name in timely's logging (STYLE 3).

mod arrange;
mod arrlog;
pub(crate) mod driver;
mod group;
mod oplog;
mod quiet;
pub(crate) mod render;

use differential_dataflow::Hashable;

pub(crate) use arrange::{arrange_shared, Named, NamedSet, Shared};

/// Logical time of the dataflow: one epoch per applied NB batch (and one per
/// tunnel-key feedback round).
pub(crate) type Time = u64;

/// Multiplicity change of a record.
pub(crate) type Diff = isize;

/// A timely scope of the compiler's dataflow.
pub(crate) type Scope<'s> = timely::dataflow::Scope<'s, Time>;

/// A collection of records `D` in scope `'s`.
pub(crate) type Coll<'s, D> = differential_dataflow::VecCollection<'s, Time, D, Diff>;

/// Record types that may flow through the dataflow (ordered, hashable,
/// cloneable, serializable for exchange between workers).
pub(crate) trait Rec:
    differential_dataflow::ExchangeData + Hashable + std::hash::Hash
{
}
impl<T: differential_dataflow::ExchangeData + Hashable + std::hash::Hash> Rec for T {}

/// The closures of [`Ops`], boxed: one type per record type (or pair of
/// them), whatever the call site.
type MapFn<D, O> = Box<dyn FnMut(D) -> O>;
type FlatMapFn<D, O> = Box<dyn FnMut(D, &mut Vec<O>)>;
type FilterFn<D> = Box<dyn FnMut(&D) -> bool>;

/// The record-by-record operators rules use instead of differential's
/// `map`, `flat_map` and `filter` (which `compiler/clippy.toml` forbids
/// outside this module): the same semantics, with the closure boxed (one
/// dynamic call per record) so that the operator is built once per record
/// type, not once per call site.
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
    fn map_rec<O: Rec>(self, logic: impl FnMut(D) -> O + 'static) -> Coll<'s, O> {
        map_boxed(self, Box::new(logic))
    }

    fn flat_map_rec<O: Rec, I: IntoIterator<Item = O>>(
        self,
        mut logic: impl FnMut(D) -> I + 'static,
    ) -> Coll<'s, O> {
        flat_map_boxed(self, Box::new(move |d, out| out.extend(logic(d))))
    }

    fn filter_rec(self, keep: impl FnMut(&D) -> bool + 'static) -> Coll<'s, D> {
        filter_boxed(self, Box::new(keep))
    }
}

#[allow(clippy::disallowed_methods)]
fn map_boxed<'s, D: Rec, O: Rec>(coll: Coll<'s, D>, logic: MapFn<D, O>) -> Coll<'s, O> {
    coll.map(logic)
}

#[allow(clippy::disallowed_methods)]
fn filter_boxed<'s, D: Rec>(coll: Coll<'s, D>, keep: FilterFn<D>) -> Coll<'s, D> {
    coll.filter(keep)
}

/// `flat_map` with the outputs of each record gathered in one buffer,
/// reused from record to record.
fn flat_map_boxed<'s, D: Rec, O: Rec>(
    coll: Coll<'s, D>,
    mut logic: FlatMapFn<D, O>,
) -> Coll<'s, O> {
    use differential_dataflow::AsCollection;
    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::channels::pact::Pipeline;
    use timely::dataflow::operators::generic::Operator;
    coll.inner
        .unary::<CapacityContainerBuilder<Vec<(O, Time, Diff)>>, _, _, _>(
            Pipeline,
            "FlatMap",
            move |_, _| {
                let mut outputs: Vec<O> = Vec::new();
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
    split_boxed(coll, Box::new(part))
}

/// [`split_by`] with `part` boxed.
fn split_boxed<'s, D: Rec, const N: usize>(
    coll: Coll<'s, D>,
    part: Box<dyn Fn(&D) -> usize>,
) -> [Coll<'s, D>; N] {
    use differential_dataflow::AsCollection;
    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::operators::core::Partition;
    let streams = coll
        .inner
        .partition::<CapacityContainerBuilder<Vec<(D, Time, Diff)>>, _, _>(
            N as u64,
            move |(d, t, r)| (part(&d).min(N - 1) as u64, (d, t, r)),
        );
    std::array::from_fn(|i| streams[i].clone().as_collection())
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
    mut logic: impl FnMut(D) -> I + 'static,
) -> Coll<'s, O> {
    flat_map_net_boxed(coll, name, Box::new(move |d, out| out.extend(logic(d))))
}

/// [`flat_map_net`] with its logic boxed.
fn flat_map_net_boxed<'s, D: Rec, O: Rec>(
    coll: Coll<'s, D>,
    name: &str,
    mut logic: FlatMapFn<D, O>,
) -> Coll<'s, O> {
    use differential_dataflow::consolidation::consolidate_updates;
    use differential_dataflow::AsCollection;
    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::channels::pact::Pipeline;
    use timely::dataflow::operators::generic::Operator;
    coll.inner
        .unary::<CapacityContainerBuilder<Vec<(O, Time, Diff)>>, _, _, _>(
            Pipeline,
            name,
            move |_, _| {
                let mut netted: Vec<(O, Time, Diff)> = Vec::new();
                let mut outputs: Vec<O> = Vec::new();
                move |input, output| {
                    input.for_each_stamp(|cap, data| {
                        let mut containers: Vec<&mut Vec<(D, Time, Diff)>> = data.collect();
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
