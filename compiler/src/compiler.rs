//! The library API: an incremental NB → SB compiler.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ovsdb::{Row, Uuid};

use crate::dataflow::driver::{Batch, Driver};
use crate::dataflow::render::{HeldKey, Output};
use crate::idl_order::IdlTable;
use crate::nb::{self, InputError, NbRecord, RowChange};
use crate::sb::SbRecord;
use crate::sb_input::{self, SbInput};

/// northd sets `external_ids` (`stage-name`, `source`, `stage-hint`) and
/// `tags` of a `Logical_Flow` only when it inserts the row; an existing row
/// that still matches a flow keeps them (only its datapath group is
/// updated). Our flow UUIDs identify rows the way northd matches them, so a
/// modified flow row keeps its old values of these columns.
fn keep_sticky_columns(old: Option<&SbRecord>, new: SbRecord) -> SbRecord {
    match (old, new) {
        (Some(SbRecord::LogicalFlow(old)), SbRecord::LogicalFlow(mut new)) => {
            // `external_ids` (the stage's name, equal for equal UUIDs, the
            // source line and the hint) and `tags`.
            new.source = old.source;
            new.hint = old.hint;
            new.io_port = old.io_port.clone();
            SbRecord::LogicalFlow(new)
        }
        (_, new) => new,
    }
}

/// Compiler options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Number of timely workers; 1 (the default) runs the dataflow in the
    /// calling thread, more start worker threads.
    pub workers: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options { workers: 1 }
    }
}

/// Why a batch could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A NB row could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The dataflow could not be started.
    #[error("dataflow: {0}")]
    Dataflow(String),
}

/// The SB changes one NB batch causes: row-level inserts, modifies and
/// deletes (same shape as NB changes). Rows are complete (every column).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SbDelta {
    /// The changes, sorted by table then UUID.
    pub changes: Vec<RowChange>,
}

impl SbDelta {
    /// True when the batch changed nothing in the SB.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Number of (inserts, modifies, deletes).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for ch in &self.changes {
            match ch {
                RowChange::Insert { .. } => c.0 += 1,
                RowChange::Modify { .. } => c.1 += 1,
                RowChange::Delete { .. } => c.2 += 1,
            }
        }
        c
    }
}

/// The SB rows a batch touched, by (table, UUID) in order, with their
/// records before it ran (`None`: the row did not exist): what
/// [`SbDelta`] says with complete rows, without building them. The records
/// after are the compiler's current ones ([`Compiler::sb_record`]); a
/// touched row may end as it was. (Boxed, as the compiler holds them: see
/// `Before`.)
pub type SbTouched = Vec<((&'static str, Uuid), Option<Box<SbRecord>>)>;

/// The records of the rows a batch touched before it ran.
///
/// Boxed: a compile from scratch touches every row (63k on the k8s
/// 100×100 benchmark), none of which existed, and an `Option<SbRecord>`
/// is as large as the largest record: the map of `None`s alone was 22 MB
/// at the daemon's peak.
type Before = BTreeMap<(&'static str, Uuid), Option<Box<SbRecord>>>;

/// An incremental compiler from NB rows to the SB rows ovn-northd 23.03
/// writes (for the features listed in the crate documentation).
///
/// Feed NB row changes with [`Compiler::apply`]; read the SB with
/// [`Compiler::sb_state`]. SB row UUIDs are derived from what identifies each
/// row, so an unchanged row keeps its UUID; tunnel keys stay with their
/// owners as long as they exist, like northd's.
pub struct Compiler {
    driver: Driver,
    /// northd's IDL view of `Logical_Switch` (for the order of new switches).
    idl_switches: IdlTable,
    /// `Switch::idl_rank` of every present switch.
    switch_ranks: BTreeMap<Uuid, u64>,
    /// northd's IDL view of `Logical_Router`.
    idl_routers: IdlTable,
    /// `Router::idl_rank` of every present router.
    router_ranks: BTreeMap<Uuid, u64>,
    batches: u64,
    /// The SB rows, each in its own allocation: the map's nodes (about
    /// half full after ordered inserts) hold pointers, not whole records.
    sb: BTreeMap<(&'static str, Uuid), Box<SbRecord>>,
    /// The tunnel keys the dataflow assigned (its accumulated `Key` output).
    held: BTreeSet<HeldKey>,
    /// The content of the dataflow's held-key input: the keys it reads as
    /// "present in the SB". Equal to `held` after every batch, except while
    /// [`Compiler::adopt_keys`] imposes the keys of an existing SB.
    held_input: BTreeSet<HeldKey>,
    /// Whether `held_input` equals `held` (false after
    /// [`Compiler::adopt_keys`] until the next round feeds the difference).
    held_synced: bool,
    /// Held-key updates already counted in `held_input` but not yet fed to
    /// the dataflow: they go with the next batch (see [`Compiler::run`]).
    pending_held: Vec<(HeldKey, isize)>,
    /// Number of key spaces whose assignments are not stable under
    /// feedback (the dataflow's accumulated `Unstable` output).
    unstable: isize,
    /// The SB input records fed so far, with their multiplicity (two SB
    /// rows may give the same record; the dataflow sees it once).
    sb_inputs: BTreeMap<SbInput, isize>,
    /// What the SB rows given to [`Compiler::apply_sb`] reference.
    sb_refs: sb_input::SbRefs,
}

/// The output vector of a round gives its memory back every this many
/// rows moved into the SB map.
const SHRINK_EVERY: usize = 4096;

/// Held-key feedback up to this many updates may wait for the next batch
/// (when it changes nothing); a larger one (a compile from scratch) is fed
/// at once, so that no later batch pays for it.
const DEFERRED_KEYS_MAX: usize = 256;

impl Compiler {
    /// Starts a compiler with an empty NB.
    pub fn new(options: Options) -> Result<Compiler, CompileError> {
        let driver = Driver::new(options.workers).map_err(CompileError::Dataflow)?;
        Ok(Compiler {
            driver,
            idl_switches: IdlTable::default(),
            switch_ranks: BTreeMap::new(),
            idl_routers: IdlTable::default(),
            router_ranks: BTreeMap::new(),
            batches: 0,
            sb: BTreeMap::new(),
            held: BTreeSet::new(),
            held_input: BTreeSet::new(),
            held_synced: true,
            pending_held: Vec::new(),
            unstable: 0,
            sb_inputs: BTreeMap::new(),
            sb_refs: sb_input::SbRefs::default(),
        })
    }

    /// Compiles a whole NB from scratch: `rows` are `(table, uuid, row)`.
    pub fn compile_rows<'a>(
        rows: impl IntoIterator<Item = (&'a str, Uuid, &'a Row)>,
        options: Options,
    ) -> Result<Compiler, CompileError> {
        let mut c = Compiler::new(options)?;
        c.apply_changes(RowChange::inserts(rows), false)?;
        Ok(c)
    }

    /// Compiles a whole NB database from scratch.
    pub fn compile_database(
        nb: &ovsdb::db::Database,
        options: Options,
    ) -> Result<Compiler, CompileError> {
        let mut c = Compiler::new(options)?;
        c.apply_changes(nb.to_changes(), false)?;
        Ok(c)
    }

    /// Applies one batch of NB row changes (one NB transaction, or any
    /// number of them) and returns the resulting SB changes.
    ///
    /// A batch that contains an unreadable row is rejected as a whole and
    /// leaves the compiler unchanged.
    pub fn apply(
        &mut self,
        changes: impl IntoIterator<Item = RowChange>,
    ) -> Result<SbDelta, CompileError> {
        self.apply_changes(changes, true)
    }

    /// [`Compiler::apply`]; `want_delta` false skips building the delta
    /// (a compile from scratch, whose caller reads the SB instead).
    fn apply_changes(
        &mut self,
        changes: impl IntoIterator<Item = RowChange>,
        want_delta: bool,
    ) -> Result<SbDelta, CompileError> {
        let batch = self.nb_batch(changes)?;
        Ok(self.run(batch, want_delta))
    }

    /// [`Compiler::apply`] answering which SB rows the batch touched
    /// ([`SbTouched`]) instead of building their rows: a caller writing
    /// the changes out one at a time builds each row when it needs it
    /// (a first full compute changes tens of thousands of rows).
    pub fn apply_touched(
        &mut self,
        changes: impl IntoIterator<Item = RowChange>,
    ) -> Result<SbTouched, CompileError> {
        let batch = self.nb_batch(changes)?;
        Ok(self.run_batch(batch, true).into_iter().collect())
    }

    /// [`Compiler::apply`] without working out what changed (a compile
    /// from scratch, whose caller reads the SB with
    /// [`Compiler::sb_records`]).
    pub fn load(
        &mut self,
        changes: impl IntoIterator<Item = RowChange>,
    ) -> Result<(), CompileError> {
        self.apply_changes(changes, false).map(drop)
    }

    /// The dataflow batch of NB row changes.
    fn nb_batch(
        &mut self,
        changes: impl IntoIterator<Item = RowChange>,
    ) -> Result<Batch, CompileError> {
        let changes: Vec<RowChange> = changes.into_iter().collect();
        let mut nb = nb::updates(changes.iter().cloned())?;
        self.batches += 1;
        self.rank_switches(&changes, &mut nb);
        self.rank_routers(&changes, &mut nb);
        Ok(Batch {
            nb,
            held: Vec::new(),
        })
    }

    /// Applies changes of SB rows (any tables; those northd reads back are
    /// picked, see [`crate::sb_input`]) and returns the resulting SB
    /// changes. Rows are named by their own UUIDs, which only have to be
    /// consistent across calls (an SB replica's, a dump's).
    pub fn apply_sb(&mut self, changes: &[RowChange]) -> SbDelta {
        let updates = self.sb_refs.updates(changes);
        self.apply_sb_updates(updates)
    }

    /// Makes the SB input exactly `inputs` (e.g. read from a stored SB)
    /// and returns the resulting SB changes.
    pub fn set_sb_inputs(&mut self, inputs: impl IntoIterator<Item = SbInput>) -> SbDelta {
        let wanted: BTreeSet<SbInput> = inputs.into_iter().collect();
        let mut updates: Vec<(SbInput, isize)> = Vec::new();
        for (rec, n) in &self.sb_inputs {
            let keep = isize::from(wanted.contains(rec));
            if *n != keep {
                updates.push((rec.clone(), keep - n));
            }
        }
        for rec in wanted {
            if !self.sb_inputs.contains_key(&rec) {
                updates.push((rec, 1));
            }
        }
        self.apply_sb_updates(updates)
    }

    /// The SB input records the compiler holds.
    pub fn sb_inputs(&self) -> impl Iterator<Item = &SbInput> {
        self.sb_inputs.keys()
    }

    /// Counts SB input updates and feeds the records whose presence
    /// changed.
    fn apply_sb_updates(&mut self, updates: Vec<(SbInput, isize)>) -> SbDelta {
        let mut feed: Vec<(NbRecord, isize)> = Vec::new();
        for (rec, diff) in updates {
            if diff == 0 {
                continue;
            }
            let before = self.sb_inputs.get(&rec).copied().unwrap_or(0);
            let after = before + diff;
            let record = || match rec.clone() {
                SbInput::Port(p) => NbRecord::SbPort(p),
                SbInput::Monitor(m) => NbRecord::SbMonitor(m),
                SbInput::Bfd(b) => NbRecord::SbBfd(b),
                SbInput::Igmp(g) => NbRecord::SbIgmp(g),
            };
            if before <= 0 && after > 0 {
                feed.push((record(), 1));
            } else if before > 0 && after <= 0 {
                feed.push((record(), -1));
            }
            if after == 0 {
                self.sb_inputs.remove(&rec);
            } else {
                self.sb_inputs.insert(rec, after);
            }
        }
        if feed.is_empty() {
            return SbDelta::default();
        }
        self.batches += 1;
        self.run(
            Batch {
                nb: feed,
                held: Vec::new(),
            },
            true,
        )
    }

    /// Takes the tunnel keys an existing SB holds as the keys present in the
    /// SB, as northd reads them before allocating (`build_datapaths()`,
    /// `build_ports()`, `ovn_igmp_group_add()`): owners keep them unless a
    /// `requested-tnl-key` or an earlier owner takes them. `datapaths` are
    /// `(NB switch or router UUID, key)`, `ports` are `(NB switch UUID, NB
    /// port UUID, key)`, `groups` the learned multicast groups' `(NB switch
    /// or router UUID, group name, key)`; owners the NB does not have are
    /// ignored. Used by a daemon taking over an SB written by another
    /// northd. Returns the resulting SB changes.
    pub fn adopt_keys(
        &mut self,
        datapaths: impl IntoIterator<Item = (Uuid, u32)>,
        ports: impl IntoIterator<Item = (Uuid, Uuid, u32)>,
        groups: impl IntoIterator<Item = (Uuid, String, u32)>,
    ) -> SbDelta {
        use crate::dataflow::render::KeySpace;
        let wanted: BTreeSet<HeldKey> = datapaths
            .into_iter()
            .map(|(owner, key)| HeldKey {
                space: KeySpace::Datapaths,
                owner,
                key,
            })
            .chain(ports.into_iter().map(|(ls, owner, key)| HeldKey {
                space: KeySpace::Ports(ls),
                owner,
                key,
            }))
            .chain(groups.into_iter().map(|(dp, name, key)| HeldKey {
                space: KeySpace::McastGroups(dp),
                owner: crate::ids::multicast_group_uuid(dp, &name),
                key,
            }))
            .collect();
        let held = self.feed_held(&wanted);
        self.held_synced = false;
        self.run(
            Batch {
                nb: Vec::new(),
                held,
            },
            true,
        )
    }

    /// The held-key input updates that make the input equal `wanted`.
    fn feed_held(&mut self, wanted: &BTreeSet<HeldKey>) -> Vec<(HeldKey, isize)> {
        let mut feed: Vec<(HeldKey, isize)> = Vec::new();
        for k in self.held_input.difference(wanted) {
            feed.push((k.clone(), -1));
        }
        for k in wanted.difference(&self.held_input) {
            feed.push((k.clone(), 1));
        }
        self.held_input = wanted.clone();
        feed
    }

    /// The held-key input updates that follow this round's key output, when
    /// the input equalled `held` before it: without a pass over all keys.
    fn feed_key_changes(&mut self, changes: Vec<(HeldKey, isize)>) -> Vec<(HeldKey, isize)> {
        let mut feed = Vec::new();
        for (k, diff) in changes {
            if diff > 0 {
                if self.held_input.insert(k.clone()) {
                    feed.push((k, 1));
                }
            } else if self.held_input.remove(&k) {
                feed.push((k, -1));
            }
        }
        feed
    }

    /// Runs one batch, then feeds the assigned tunnel keys back until they
    /// are stable, and returns the SB changes (none unless `want_delta`).
    ///
    /// Feeding keys back changes nothing when every allocation is stable
    /// under feedback (the dataflow says which are not, [`Output::Unstable`]):
    /// then a small feedback waits for the next batch instead of costing a
    /// dataflow round now; the next batch sees the same held keys either way.
    fn run(&mut self, batch: Batch, want_delta: bool) -> SbDelta {
        let before = self.run_batch(batch, want_delta);
        self.delta(before)
    }

    /// [`Compiler::run`], answering what the touched rows were before
    /// (nothing unless `want_delta`).
    fn run_batch(&mut self, mut batch: Batch, want_delta: bool) -> Before {
        let mut before: Before = BTreeMap::new();
        batch.held.append(&mut self.pending_held);
        // Round 1 computes the SB; later rounds feed the new tunnel keys back
        // (as northd reads them from the SB next time) and must not change
        // anything else. Three rounds bound a misbehaving allocation.
        for _ in 0..3 {
            let out = self.driver.run(batch);
            // The rows go from `out` straight into `self.sb` (a compile
            // from scratch outputs the whole SB: no copy of it is made);
            // first the keys, for the removals and the `before` images.
            let mut removed: BTreeSet<(&'static str, Uuid)> = BTreeSet::new();
            let mut key_changes: Vec<(HeldKey, isize)> = Vec::new();
            for (o, diff) in &out {
                match o {
                    Output::Sb(_) if *diff > 0 => {}
                    Output::Sb(rec) => {
                        removed.insert((rec.table(), rec.uuid()));
                    }
                    Output::Key(k) => {
                        if *diff > 0 {
                            self.held.insert(k.clone());
                        } else {
                            self.held.remove(k);
                        }
                        key_changes.push((k.clone(), *diff));
                    }
                    Output::Unstable(_) => self.unstable += *diff,
                }
            }
            // The rows added, needed only for the `before` images and for
            // rows both removed and added (changed): not for a compile
            // from scratch.
            let added: BTreeSet<(&'static str, Uuid)> = if want_delta || !removed.is_empty() {
                out.iter()
                    .filter_map(|(o, diff)| match o {
                        Output::Sb(rec) if *diff > 0 => Some((rec.table(), rec.uuid())),
                        _ => None,
                    })
                    .collect()
            } else {
                BTreeSet::new()
            };
            if want_delta {
                for key in removed.iter().chain(added.iter()) {
                    before
                        .entry(*key)
                        .or_insert_with(|| self.sb.get(key).cloned());
                }
            }
            for key in removed {
                if !added.contains(&key) {
                    self.sb.remove(&key);
                }
            }
            drop(added);
            // Moved from the back (in the output's order), the vector
            // shrinking as it empties: a compile from scratch outputs the
            // whole SB, which would otherwise be held twice, in the vector
            // and in the map, until the last row is moved.
            let mut out = out;
            out.reverse();
            while let Some((o, diff)) = out.pop() {
                if let (Output::Sb(rec), true) = (o, diff > 0) {
                    let key = (rec.table(), rec.uuid());
                    let rec = keep_sticky_columns(self.sb.get(&key).map(|r| &**r), rec);
                    self.sb.insert(key, Box::new(rec));
                }
                if out.len().is_multiple_of(SHRINK_EVERY) {
                    out.shrink_to_fit();
                }
            }
            let held = if self.held_synced {
                self.feed_key_changes(key_changes)
            } else {
                let assigned = self.held.clone();
                self.held_synced = true;
                self.feed_held(&assigned)
            };
            if held.is_empty() {
                break;
            }
            if self.unstable == 0 && want_delta && held.len() <= DEFERRED_KEYS_MAX {
                self.pending_held = held;
                break;
            }
            batch = Batch {
                nb: Vec::new(),
                held,
            };
        }
        before
    }

    /// Stamps `Switch::idl_rank` on the switch records of a batch: inserted
    /// switches get their rank in northd's IDL order, retractions carry the
    /// rank they were inserted with.
    fn rank_switches(&mut self, changes: &[RowChange], nb: &mut [(NbRecord, isize)]) {
        let (mut changed, mut inserted, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
        for ch in changes {
            match ch {
                RowChange::Insert { table, uuid, .. } if table == "Logical_Switch" => {
                    changed.push(*uuid);
                    inserted.push(*uuid);
                }
                RowChange::Modify { table, uuid, .. } if table == "Logical_Switch" => {
                    changed.push(*uuid)
                }
                RowChange::Delete { table, uuid, .. } if table == "Logical_Switch" => {
                    changed.push(*uuid);
                    deleted.push(*uuid);
                }
                _ => {}
            }
        }
        if changed.is_empty() {
            return;
        }
        let order = self.idl_switches.update(&changed, &inserted, &deleted);
        let mut new_ranks = BTreeMap::new();
        for (i, u) in order.iter().enumerate() {
            new_ranks.insert(*u, (self.batches << 32) | i as u64);
        }
        for (rec, diff) in nb.iter_mut() {
            if let NbRecord::Switch(s) = rec {
                let rank = if *diff < 0 {
                    self.switch_ranks.get(&s.uuid)
                } else {
                    None
                };
                s.idl_rank = rank
                    .or_else(|| new_ranks.get(&s.uuid))
                    .or_else(|| self.switch_ranks.get(&s.uuid))
                    .copied()
                    .unwrap_or(0);
            }
        }
        for d in deleted {
            self.switch_ranks.remove(&d);
        }
        self.switch_ranks.extend(new_ranks);
    }

    /// Stamps `Router::idl_rank` like [`Self::rank_switches`]; northd meets
    /// new routers after the new switches of the same run
    /// (`join_datapaths()`), hence the offset.
    fn rank_routers(&mut self, changes: &[RowChange], nb: &mut [(NbRecord, isize)]) {
        let (mut changed, mut inserted, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
        for ch in changes {
            match ch {
                RowChange::Insert { table, uuid, .. } if table == "Logical_Router" => {
                    changed.push(*uuid);
                    inserted.push(*uuid);
                }
                RowChange::Modify { table, uuid, .. } if table == "Logical_Router" => {
                    changed.push(*uuid)
                }
                RowChange::Delete { table, uuid, .. } if table == "Logical_Router" => {
                    changed.push(*uuid);
                    deleted.push(*uuid);
                }
                _ => {}
            }
        }
        if changed.is_empty() {
            return;
        }
        let order = self.idl_routers.update(&changed, &inserted, &deleted);
        let mut new_ranks = BTreeMap::new();
        for (i, u) in order.iter().enumerate() {
            new_ranks.insert(*u, (self.batches << 32) | (1 << 31) | i as u64);
        }
        for (rec, diff) in nb.iter_mut() {
            if let NbRecord::Router(r) = rec {
                let rank = if *diff < 0 {
                    self.router_ranks.get(&r.uuid)
                } else {
                    None
                };
                r.idl_rank = rank
                    .or_else(|| new_ranks.get(&r.uuid))
                    .or_else(|| self.router_ranks.get(&r.uuid))
                    .copied()
                    .unwrap_or(0);
            }
        }
        for d in deleted {
            self.router_ranks.remove(&d);
        }
        self.router_ranks.extend(new_ranks);
    }

    fn delta(&self, before: Before) -> SbDelta {
        let mut changes = Vec::new();
        for ((table, uuid), old) in before {
            let new = self.sb.get(&(table, uuid));
            let table = table.to_string();
            match (old, new) {
                (None, Some(n)) => changes.push(RowChange::Insert {
                    table,
                    uuid,
                    new: Arc::new(n.to_row()),
                }),
                (Some(o), None) => changes.push(RowChange::Delete {
                    table,
                    uuid,
                    old: Arc::new(o.to_row()),
                }),
                (Some(o), Some(n)) if o != *n => changes.push(RowChange::Modify {
                    table,
                    uuid,
                    old: Arc::new(o.to_row()),
                    new: Arc::new(n.to_row()),
                }),
                _ => {}
            }
        }
        SbDelta { changes }
    }

    /// The SB content as typed records, keyed by (table, UUID).
    pub fn sb_records(&self) -> impl Iterator<Item = &SbRecord> {
        self.sb.values().map(|r| &**r)
    }

    /// The SB record of one row.
    pub fn sb_record(&self, table: &'static str, uuid: Uuid) -> Option<&SbRecord> {
        self.sb.get(&(table, uuid)).map(|r| &**r)
    }

    /// The SB records of one table.
    pub fn sb_table(&self, table: &'static str) -> impl Iterator<Item = &SbRecord> {
        self.sb
            .range((table, Uuid::nil())..=(table, Uuid::from_u128(u128::MAX)))
            .map(|(_, r)| &**r)
    }

    /// The full SB content the compiler owns: table → UUID → row.
    pub fn sb_state(&self) -> BTreeMap<String, BTreeMap<Uuid, Row>> {
        let mut out: BTreeMap<String, BTreeMap<Uuid, Row>> = BTreeMap::new();
        for t in crate::sb::SB_TABLES {
            out.insert((*t).to_string(), BTreeMap::new());
        }
        for ((table, uuid), rec) in &self.sb {
            out.entry((*table).to_string())
                .or_default()
                .insert(*uuid, rec.to_row());
        }
        out
    }
}
