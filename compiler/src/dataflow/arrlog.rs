//! Which arrangements hold the memory: with `OVNFLOW_ARRLOG=N` in the
//! environment, the in-thread driver prints to stderr, after every round,
//! the `N` arrangements and batchers that held the most bytes when the sum
//! over all of them peaked, with their record counts and record sizes. A
//! profiling aid: nothing is registered without the variable.
//!
//! Counts come from differential's own events: a trace holds the updates
//! of the batches it was given (`Batch`), minus those merged away or
//! dropped (`Merge`, `Drop`); a merge under way holds its output besides
//! its two inputs (counted at the inputs' length); a batcher reports its
//! records (`Batcher`). Bytes are records times the record's inline size
//! (key, value, time and diff as the operator stores them: pointers to
//! erased records, see `erased.rs`), which [`note_record_size`] registers
//! by operator name while the dataflow is built; what the records point to
//! (the records themselves, shared by the arrangements holding them) is
//! not counted: heap profilers see that.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use differential_dataflow::logging::{DifferentialEvent, DifferentialEventBuilder};
use timely::worker::Worker;

use super::oplog::Names;

thread_local! {
    /// Operator name → inline bytes of one record of its arrangement.
    static RECORD_SIZES: RefCell<HashMap<String, usize>> = RefCell::new(HashMap::new());
}

/// Whether `OVNFLOW_ARRLOG` asks for the report (read once).
pub(crate) fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("OVNFLOW_ARRLOG").is_some())
}

/// Registers the inline size of one record of the arrangement that
/// operator `name` holds (when the report is on).
pub(crate) fn note_record_size(name: &str, bytes: usize) {
    if enabled() {
        RECORD_SIZES.with(|m| {
            m.borrow_mut().insert(name.to_string(), bytes);
        });
    }
}

/// Records held by one operator, now and at its own peak.
#[derive(Default, Clone, Copy)]
struct Held {
    /// Records in trace batches (or in the batcher).
    now: isize,
    /// Records of merges under way (their output being built).
    merging: isize,
    /// Highest `now + merging` seen.
    peak: isize,
}

impl Held {
    fn total(&self) -> isize {
        self.now + self.merging
    }
}

#[derive(Default)]
struct Stats {
    /// Operator id → held records, for traces and batchers.
    traces: HashMap<usize, Held>,
    batchers: HashMap<usize, Held>,
    /// Operator id → bytes per record (resolved lazily from the names).
    sizes: HashMap<usize, usize>,
    /// Estimated bytes of all traces and batchers, and their peak.
    bytes: isize,
    peak_bytes: isize,
    /// Per-operator `(trace records, batcher records)` when `peak_bytes`
    /// was reached.
    at_peak: HashMap<usize, (isize, isize)>,
    /// Whether `at_peak` must be taken again (a new peak since the last
    /// snapshot).
    dirty: bool,
}

/// The per-round arrangement report of one worker.
pub(crate) struct ArrLog {
    stats: Rc<RefCell<Stats>>,
    names: Names,
    top: usize,
    rounds: u64,
}

impl ArrLog {
    /// Registers differential's logger on `worker` (before its dataflow
    /// is built) when `OVNFLOW_ARRLOG` is set to a number; `names` are
    /// the operator names timely's log fills in.
    pub(crate) fn install(worker: &mut Worker, names: Names) -> Option<ArrLog> {
        let top: usize = std::env::var("OVNFLOW_ARRLOG").ok()?.parse().ok()?;
        let stats: Rc<RefCell<Stats>> = Rc::default();
        let sink = stats.clone();
        let sink_names = names.clone();
        worker
            .log_register()?
            .insert::<DifferentialEventBuilder, _>("differential/arrange", move |_time, data| {
                if let Some(events) = data {
                    let mut s = sink.borrow_mut();
                    for (_, ev) in events.iter() {
                        s.take(ev, &sink_names);
                    }
                }
            });
        Some(ArrLog {
            stats,
            names,
            top,
            rounds: 0,
        })
    }

    /// Prints the state after the round that just ended.
    pub(crate) fn report(&mut self, worker: &mut Worker) {
        if let Some(mut r) = worker.log_register() {
            r.flush();
        }
        self.rounds += 1;
        let mut s = self.stats.borrow_mut();
        if s.dirty {
            // Still at the peak.
            s.snapshot_undo(usize::MAX, 0, 0);
        }
        let names = self.names.borrow();
        let mb = |b: isize| b as f64 / 1e6;
        let now: isize = s
            .traces
            .iter()
            .map(|(id, h)| h.total() * s.sizes.get(id).copied().unwrap_or(0) as isize)
            .sum();
        eprintln!(
            "arrlog round {}: arrangements {:.1} MB now (records x inline size), peak {:.1} MB (with batchers)",
            self.rounds,
            mb(now),
            mb(s.peak_bytes)
        );
        let mut rows: Vec<(usize, isize, isize, usize)> = s
            .at_peak
            .iter()
            .map(|(id, (t, b))| (*id, *t, *b, s.sizes.get(id).copied().unwrap_or(0)))
            .collect();
        rows.sort_by_key(|(id, t, b, size)| (std::cmp::Reverse((t + b) * *size as isize), *id));
        eprintln!(
            "  {:>8} {:>9} {:>9} {:>6} {:>9} {:>9}  at the peak: operator",
            "MB", "trace", "batcher", "B/rec", "now", "own peak"
        );
        for (id, t, b, size) in rows.iter().take(self.top) {
            let held = s.traces.get(id).copied().unwrap_or_default();
            let batcher_peak = s.batchers.get(id).map_or(0, |h| h.peak);
            eprintln!(
                "  {:>8.2} {:>9} {:>9} {:>6} {:>9} {:>9}  {} #{id}",
                mb((t + b) * *size as isize),
                t,
                b,
                size,
                held.total(),
                held.peak.max(batcher_peak),
                names.get(id).map_or("?", String::as_str)
            );
        }
    }
}

impl Stats {
    fn take(&mut self, ev: &DifferentialEvent, names: &Names) {
        let (op, trace_diff, merging_diff, batcher_diff) = match ev {
            DifferentialEvent::Batch(b) => (b.operator, b.length as isize, 0, 0),
            DifferentialEvent::Merge(m) => {
                let inputs = (m.length1 + m.length2) as isize;
                match m.complete {
                    None => (m.operator, 0, inputs, 0),
                    Some(n) => (m.operator, n as isize - inputs, -inputs, 0),
                }
            }
            DifferentialEvent::Drop(d) => (d.operator, -(d.length as isize), 0, 0),
            DifferentialEvent::Batcher(b) => (b.operator, 0, 0, b.records_diff),
            _ => return,
        };
        let size = *self.sizes.entry(op).or_insert_with(|| {
            let names = names.borrow();
            let name = names.get(&op).map_or("", String::as_str);
            RECORD_SIZES.with(|m| m.borrow().get(name).copied().unwrap_or(0))
        }) as isize;
        if trace_diff != 0 || merging_diff != 0 {
            let h = self.traces.entry(op).or_default();
            h.now += trace_diff;
            h.merging += merging_diff;
            h.peak = h.peak.max(h.total());
        }
        if batcher_diff != 0 {
            let h = self.batchers.entry(op).or_default();
            h.now += batcher_diff;
            h.peak = h.peak.max(h.now);
        }
        self.bytes += (trace_diff + merging_diff + batcher_diff) * size;
        if self.bytes > self.peak_bytes {
            self.peak_bytes = self.bytes;
            self.dirty = true;
        } else if self.dirty && self.bytes < self.peak_bytes {
            // Leaving a peak: keep what every operator held at it.
            self.snapshot_undo(op, trace_diff + merging_diff, batcher_diff);
        }
    }

    /// Takes the per-operator snapshot of the peak just left (the last
    /// event, `op`'s, is undone from the current counts).
    fn snapshot_undo(&mut self, op: usize, trace_diff: isize, batcher_diff: isize) {
        self.dirty = false;
        self.at_peak.clear();
        let ids: Vec<usize> = self
            .traces
            .keys()
            .chain(self.batchers.keys())
            .copied()
            .collect();
        for id in ids {
            let t = self.traces.get(&id).map_or(0, Held::total);
            let b = self.batchers.get(&id).map_or(0, |h| h.now);
            let (t, b) = if id == op {
                (t - trace_diff, b - batcher_diff)
            } else {
                (t, b)
            };
            self.at_peak.insert(id, (t, b));
        }
    }
}
