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

use differential_dataflow::consolidation::consolidate_slice;
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

/// A grouping's key with its hash, computed once when its record arrives
/// (for the epoch's changes), not again for each lookup in the state.
#[derive(PartialEq, Eq)]
struct Key {
    hash: u64,
    key: Erased,
}

impl Key {
    fn new(key: Erased) -> Key {
        Key {
            hash: key.hash_u64(),
            key,
        }
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The key, or the value, of a record, as a grouping or an arrangement
/// holds it (see [`group_core`]).
pub(super) type Project = Rc<dyn Fn(&Erased) -> Erased>;

/// A grouping's logic (see [`group_core`]), over erased records: the
/// typed implementation (`arrange.rs`) runs the rule's logic on the
/// values, nets old output against new and turns the net change into
/// records, all on its own types.
pub(super) trait Logic {
    /// Adds the output of `key`'s `records` (sorted, each with its
    /// multiplicity, never empty), times `sign`, to the key's pending
    /// change.
    fn run(&mut self, key: &Erased, records: &[(&Erased, Diff)], sign: Diff);
    /// Nets the key's pending change and appends the records it makes,
    /// with their multiplicities, to `out`.
    fn finish(&mut self, key: &Erased, out: &mut Vec<(Erased, Diff)>);
}

/// Groups the records of `coll` by `key_of(record)`, holding
/// `val_of(record)` under the key: when an epoch is complete, for each key
/// the epoch changed, `logic` runs on the key's old values (sign -1) and
/// new ones (sign +1) and makes the records of the change. A key without
/// values has no output. Named `name` in timely's logging.
pub(super) fn group_core<'s>(
    coll: ErasedColl<'s>,
    key_of: Project,
    val_of: Project,
    name: &str,
    logic: Box<dyn Logic>,
) -> ErasedColl<'s> {
    if coll.scope().peers() > 1 {
        let key = key_of.clone();
        let pact = Exchange::new(move |(r, _, _): &(Erased, Time, Diff)| key(r).hashed());
        group_with(coll, pact, key_of, val_of, name, logic)
    } else {
        group_with(coll, Pipeline, key_of, val_of, name, logic)
    }
}

/// [`group_core`] with records delivered by `pact`.
fn group_with<'s, P>(
    coll: ErasedColl<'s>,
    pact: P,
    key_of: Project,
    val_of: Project,
    name: &str,
    mut logic: Box<dyn Logic>,
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
            let mut state: Map<Key, Erased> = HashMap::default();
            // The changes of epochs not complete yet, by key, each epoch
            // with a capability to send its output.
            let mut pending: BTreeMap<Time, (Capability<Time>, Map<Key, Erased>)> = BTreeMap::new();
            let mut outputs: Vec<(Erased, Diff)> = Vec::new();
            move |input, frontier, output| {
                let port = output.output_index();
                input.for_each(|cap, data| {
                    for (rec, t, r) in data.drain(..) {
                        let (_, changes) = pending
                            .entry(t)
                            .or_insert_with(|| (cap.delayed(&t, port), HashMap::default()));
                        changes
                            .entry(Key::new(key_of(&rec)))
                            .or_default()
                            .push((val_of(&rec), r));
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
                        apply(&mut state, key, changes, &mut *logic, &mut outputs);
                        session.give_iterator(outputs.drain(..).map(|(o, r)| (o, t, r)));
                    }
                }
            }
        },
    )
    .as_collection()
}

/// Applies `changes` to the records of `key` and appends the records of
/// the change of the key's output (old output retracted, new one added,
/// netted by `logic`) to `out`.
fn apply(
    state: &mut Map<Key, Erased>,
    key: Key,
    mut changes: Values<Erased>,
    logic: &mut dyn Logic,
    out: &mut Vec<(Erased, Diff)>,
) {
    use std::collections::hash_map::Entry;
    // Changes that cancel out (a record retracted and added again, as
    // `map` passes on an upstream change that does not reach the key's
    // value) change nothing: the key's output is not computed at all.
    consolidate_values(&mut changes);
    if changes.is_empty() {
        return;
    }
    let erased = key.key.clone();
    match state.entry(key) {
        Entry::Occupied(mut entry) => {
            let values = entry.get_mut();
            run(&erased, values, logic, -1);
            values.append(&mut changes);
            consolidate_values(values);
            if values.is_empty() {
                entry.remove();
            } else {
                run(&erased, values, logic, 1);
            }
        }
        Entry::Vacant(entry) => {
            run(&erased, &changes, logic, 1);
            changes.shrink_to_fit();
            entry.insert(changes);
        }
    }
    logic.finish(&erased, out);
}

/// Sorts `values` and sums the multiplicities of equal ones, dropping
/// those that cancel (differential's consolidation, on inline storage).
fn consolidate_values(values: &mut Values<Erased>) {
    let kept = consolidate_slice(values);
    values.truncate(kept);
}

/// Runs `logic` on `values` with `sign`.
fn run(key: &Erased, values: &Values<Erased>, logic: &mut dyn Logic, sign: Diff) {
    if let [(v, r)] = values.as_slice() {
        logic.run(key, &[(v, *r)], sign);
    } else {
        let input: SmallVec<[(&Erased, Diff); 8]> = values.iter().map(|(v, r)| (v, *r)).collect();
        logic.run(key, &input, sign);
    }
}
