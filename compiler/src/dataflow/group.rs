//! Grouping by key with its state in a hash map: the operator behind
//! [`super::Named::group_named`], [`super::Named::group_split_named`] and
//! [`super::NamedSet::distinct_named`].
//!
//! Differential's `reduce` keeps two arrangements per grouping (its input
//! by key and its output by key) and, being written for partially ordered
//! times, replays both traces' histories for every key it revisits. The
//! compiler's time is one totally ordered epoch counter, and a grouping's
//! consumers only read its output as a collection, so a grouping needs
//! less: the current values of each key (with their multiplicities), and,
//! when an epoch is complete, the output of the keys it changed, old
//! against new. The old output is computed again from the old values
//! (groupings are functions of their input, as differential requires of
//! `reduce` too) rather than stored, so the state is the input alone.
//!
//! A compile from scratch of 1,000 routers groups 235,000 flows by key:
//! an arrangement sorting them and a `reduce` walking the sorted batches,
//! nearly half of the compile, where a hash map takes each flow once.
//! A round of one change pays only for the keys it changed, and nothing
//! for the groupings it does not reach: they are not even scheduled
//! (`quiet.rs`).
//!
//! With several workers the records are exchanged by key hash, so that all
//! the values of a key meet in one worker, as differential's arrangements
//! do.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use differential_dataflow::consolidation::{consolidate, consolidate_slice};
use differential_dataflow::{AsCollection, Hashable};
use foldhash::fast::FixedState;
use smallvec::SmallVec;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, ParallelizationContract, Pipeline};
use timely::dataflow::operators::Capability;

use super::quiet::unary_quiet;
use super::{Diff, Erased, ErasedColl, Time};

/// The records of one key, sorted, with their (non-zero) multiplicities:
/// most keys have one, held inline (no allocation of its own).
type Values<V> = SmallVec<[(V, Diff); 1]>;

/// A map from keys, hashed with a fixed seed (the same in every run).
type Map<K, V> = HashMap<K, Values<V>, FixedState>;

/// The key of a record (see [`group_core`]).
pub(super) type KeyOf = Rc<dyn Fn(&Erased) -> Erased>;

/// A grouping's logic (see [`group_core`]), boxed: the operator is built
/// once, whatever the record types and the call site (issue 3).
pub(super) type Logic = Box<dyn FnMut(&Erased, &[(&Erased, Diff)], &mut Vec<(Erased, Diff)>)>;

/// How a grouping's outputs become records (see [`group_core`]), boxed.
pub(super) type Emit = Box<dyn FnMut(&Erased, Erased, &mut Vec<Erased>)>;

/// Groups the records of `coll` by `key_of(record)`: when an epoch is
/// complete, `logic(key, records, output)` runs for each key the epoch
/// changed, on the key's records (sorted, each with its multiplicity,
/// never empty), and `emit(key, output, records)` turns each change of
/// the key's output into records (none, one or several), which inherit
/// the change's multiplicity. A key without records has no output.
/// Named `name` in timely's logging.
pub(super) fn group_core<'s>(
    coll: ErasedColl<'s>,
    key_of: KeyOf,
    name: &str,
    logic: Logic,
    emit: Emit,
) -> ErasedColl<'s> {
    if coll.scope().peers() > 1 {
        let key = key_of.clone();
        let pact = Exchange::new(move |(r, _, _): &(Erased, Time, Diff)| key(r).hashed());
        group_with(coll, pact, key_of, name, logic, emit)
    } else {
        group_with(coll, Pipeline, key_of, name, logic, emit)
    }
}

/// [`group_core`] with records delivered by `pact`.
fn group_with<'s, P>(
    coll: ErasedColl<'s>,
    pact: P,
    key_of: KeyOf,
    name: &str,
    mut logic: Logic,
    mut emit: Emit,
) -> ErasedColl<'s>
where
    P: ParallelizationContract<Time, Vec<(Erased, Time, Diff)>>,
{
    // Told of frontier changes only while it holds epochs not complete
    // yet: a grouping a round does not reach is not scheduled when the
    // round ends.
    unary_quiet::<_, CapacityContainerBuilder<Vec<(Erased, Time, Diff)>>, _, _, _>(
        coll.inner,
        pact,
        name,
        move |_| {
            let mut state: Map<Erased, Erased> = HashMap::default();
            // The changes of epochs not complete yet, by key, each epoch
            // with a capability to send its output.
            let mut pending: BTreeMap<Time, (Capability<Time>, Map<Erased, Erased>)> =
                BTreeMap::new();
            let mut net: Vec<(Erased, Diff)> = Vec::new();
            let mut outputs: Vec<Erased> = Vec::new();
            move |input, frontier, output| {
                let port = output.output_index();
                input.for_each(|cap, data| {
                    for (rec, t, r) in data.drain(..) {
                        let (_, changes) = pending
                            .entry(t)
                            .or_insert_with(|| (cap.delayed(&t, port), HashMap::default()));
                        changes.entry(key_of(&rec)).or_default().push((rec, r));
                    }
                });
                while let Some(entry) = pending.first_entry() {
                    let t = *entry.key();
                    if frontier.less_equal(&t) {
                        break;
                    }
                    let (cap, changes) = entry.remove();
                    state.reserve(changes.len());
                    let mut session = output.session(&cap);
                    for (key, changes) in changes {
                        apply(
                            &mut state,
                            key,
                            changes,
                            &mut logic,
                            &mut net,
                            |key, net| {
                                for (v2, r) in net.drain(..) {
                                    emit(key, v2, &mut outputs);
                                    session.give_iterator(outputs.drain(..).map(|o| (o, t, r)));
                                }
                            },
                        );
                    }
                }
            }
        },
    )
    .as_collection()
}

/// Applies `changes` to the values of `key` and hands the change of the
/// key's output (old output retracted, new one added, netted) to `out`
/// in `net` (empty on return), when there is one.
fn apply<K: Eq + std::hash::Hash, V: Ord, V2: Ord>(
    state: &mut Map<K, V>,
    key: K,
    mut changes: Values<V>,
    logic: &mut impl FnMut(&K, &[(&V, Diff)], &mut Vec<(V2, Diff)>),
    net: &mut Vec<(V2, Diff)>,
    out: impl FnOnce(&K, &mut Vec<(V2, Diff)>),
) {
    // Changes that cancel out (a record retracted and added again, as
    // `map` passes on an upstream change that does not reach the key's
    // value) change nothing: the key's output is not computed at all.
    consolidate_values(&mut changes);
    if changes.is_empty() {
        return;
    }
    // A new key's values, inserted once its output is sent (the key moves).
    let mut new = None;
    match state.get_mut(&key) {
        Some(values) => {
            run(&key, values, logic, net);
            for (_, r) in net.iter_mut() {
                *r = -*r;
            }
            values.append(&mut changes);
            consolidate_values(values);
            if values.is_empty() {
                state.remove(&key);
            } else {
                run(&key, values, logic, net);
            }
        }
        None => {
            run(&key, &changes, logic, net);
            new = Some(changes);
        }
    }
    consolidate(net);
    if !net.is_empty() {
        out(&key, net);
    }
    net.clear();
    if let Some(mut values) = new {
        values.shrink_to_fit();
        state.insert(key, values);
    }
}

/// Sorts `values` and sums the multiplicities of equal ones, dropping
/// those that cancel (differential's consolidation, on inline storage).
fn consolidate_values<V: Ord>(values: &mut Values<V>) {
    let kept = consolidate_slice(values);
    values.truncate(kept);
}

/// Appends `logic`'s output for `values` to `out`.
fn run<K, V, V2>(
    key: &K,
    values: &Values<V>,
    logic: &mut impl FnMut(&K, &[(&V, Diff)], &mut Vec<(V2, Diff)>),
    out: &mut Vec<(V2, Diff)>,
) {
    if let [(v, r)] = values.as_slice() {
        logic(key, &[(v, *r)], out);
    } else {
        let input: Vec<(&V, Diff)> = values.iter().map(|(v, r)| (v, *r)).collect();
        logic(key, &input, out);
    }
}
