//! Where a dataflow round's time goes, operator by operator: with
//! `OVNFLOW_OPLOG=N` in the environment, the in-thread driver prints to
//! stderr, after every round, the round's time, the number of operator
//! runs and worker steps, the time outside operators (progress tracking)
//! and the `N` operators that took longest (exclusive time). A profiling
//! aid: nothing is registered without the variable.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use timely::logging::{StartStop, TimelyEvent, TimelyEventBuilder};
use timely::worker::Worker;

/// One operator's accumulated runs.
#[derive(Default, Clone, Copy)]
struct Acc {
    /// Time in the operator itself (nested operators' time excluded).
    own: Duration,
    /// Number of runs.
    runs: u64,
}

/// Operator id → name, from timely's `Operates` events (shared with
/// [`super::arrlog::ArrLog`]).
pub(crate) type Names = Rc<RefCell<HashMap<usize, String>>>;

#[derive(Default)]
struct Stats {
    /// Operator id → name.
    names: Names,
    /// Operators running: (id, start, time of nested operators).
    stack: Vec<(usize, Duration, Duration)>,
    /// This round's time per operator.
    round: HashMap<usize, Acc>,
}

impl Stats {
    fn take(&mut self, events: &[(Duration, TimelyEvent)]) {
        for (t, ev) in events {
            match ev {
                TimelyEvent::Operates(o) => {
                    self.names.borrow_mut().insert(o.id, o.name.clone());
                }
                TimelyEvent::Schedule(s) => match s.start_stop {
                    StartStop::Start => self.stack.push((s.id, *t, Duration::ZERO)),
                    StartStop::Stop => {
                        let Some((id, start, nested)) = self.stack.pop() else {
                            continue;
                        };
                        let all = t.saturating_sub(start);
                        let acc = self.round.entry(id).or_default();
                        acc.own += all.saturating_sub(nested);
                        acc.runs += 1;
                        if let Some(parent) = self.stack.last_mut() {
                            parent.2 += all;
                        }
                    }
                },
                _ => {}
            }
        }
    }
}

/// The per-round operator report of one worker.
pub(crate) struct OpLog {
    stats: Rc<RefCell<Stats>>,
    /// Operators to print per round; `None`: names only (for `ArrLog`).
    top: Option<usize>,
    rounds: u64,
}

impl OpLog {
    /// Registers the logger on `worker` (before its dataflow is built) when
    /// `OVNFLOW_OPLOG` is set to a number, or (names only) when `names` is
    /// asked for.
    pub(crate) fn install(worker: &mut Worker, names: bool) -> Option<OpLog> {
        let top: Option<usize> = std::env::var("OVNFLOW_OPLOG")
            .ok()
            .and_then(|v| v.parse().ok());
        if top.is_none() && !names {
            return None;
        }
        let stats: Rc<RefCell<Stats>> = Rc::default();
        let sink = stats.clone();
        worker
            .log_register()?
            .insert::<TimelyEventBuilder, _>("timely", move |_time, data| {
                if let Some(events) = data {
                    sink.borrow_mut().take(events);
                }
            });
        Some(OpLog {
            stats,
            top,
            rounds: 0,
        })
    }

    /// The operator names, shared.
    pub(crate) fn names(&self) -> Names {
        self.stats.borrow().names.clone()
    }

    /// Prints the round that just ended (`took`, in `steps` worker steps).
    pub(crate) fn report(&mut self, worker: &mut Worker, took: Duration, steps: u64) {
        if let Some(mut r) = worker.log_register() {
            r.flush();
        }
        self.rounds += 1;
        let mut s = self.stats.borrow_mut();
        let round = std::mem::take(&mut s.round);
        let Some(top) = self.top else { return };
        let names = s.names.borrow();
        let name = |id: &usize| names.get(id).map_or("?", String::as_str).to_string();
        // The dataflow itself (the root scope's operator) is where progress
        // tracking happens.
        let mut ops: Vec<(usize, Acc)> = round.into_iter().collect();
        ops.sort_by_key(|(_, a)| std::cmp::Reverse(a.own));
        let runs: u64 = ops.iter().map(|(_, a)| a.runs).sum();
        let in_ops: Duration = ops.iter().map(|(_, a)| a.own).sum();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        eprintln!(
            "oplog round {}: {:.3} ms, {} steps, {} operator runs over {} operators, {:.3} ms in them",
            self.rounds,
            ms(took),
            steps,
            runs,
            ops.len(),
            ms(in_ops),
        );
        // By kind (name without its details), then the top operators.
        let mut kinds: HashMap<String, Acc> = HashMap::new();
        for (id, a) in &ops {
            let n = name(id);
            let kind = n.split(':').next().unwrap_or("").to_string();
            let k = kinds.entry(kind).or_default();
            k.own += a.own;
            k.runs += a.runs;
        }
        let mut kinds: Vec<(String, Acc)> = kinds.into_iter().collect();
        kinds.sort_by_key(|(_, a)| std::cmp::Reverse(a.own));
        for (k, a) in kinds.iter().take(top) {
            eprintln!("  kind {:>9.3} ms {:>6} runs  {k}", ms(a.own), a.runs);
        }
        for (id, a) in ops.iter().take(top) {
            eprintln!(
                "  op   {:>9.3} ms {:>6} runs  {} #{id}",
                ms(a.own),
                a.runs,
                name(id)
            );
        }
    }
}
