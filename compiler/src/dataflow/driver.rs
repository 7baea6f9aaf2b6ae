//! Running the dataflow: one in-thread worker by default, or several worker
//! threads under `timely::execute`. Either way the driver feeds one epoch of
//! input updates, runs the workers until the output for that epoch is
//! complete, and returns the output updates.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use timely::dataflow::operators::probe::Handle as Probe;
use timely::worker::Worker;

use super::arrlog::ArrLog;
use super::oplog::OpLog;
use super::render::{render, HeldKey, Output};
use super::{input, Diff, Erased, InputSession, Time};
use crate::nb::NbRecord;

/// One epoch of input updates.
#[derive(Clone, Debug, Default)]
pub(crate) struct Batch {
    /// NB record updates.
    pub nb: Vec<(NbRecord, Diff)>,
    /// Held-key updates (SB feedback).
    pub held: Vec<(HeldKey, Diff)>,
}

/// The output containers of the current epoch, as the dataflow handed them
/// over.
type Sink = Rc<RefCell<Vec<Vec<(Output, Time, Diff)>>>>;

/// The per-worker state: inputs, probe and the collected output.
struct WorkerState {
    /// NB records, erased.
    nb: InputSession,
    /// Held keys, erased.
    held: InputSession,
    probe: Probe<Time>,
    /// The output containers of the current epoch.
    sink: Sink,
    /// Worker steps the last epoch took.
    steps: u64,
}

impl WorkerState {
    fn build(worker: &mut Worker) -> WorkerState {
        let sink: Sink = Rc::default();
        let out = sink.clone();
        let (nb, held, probe) = worker.dataflow_named::<Time, _, _>("ovnflow", move |scope| {
            let (nb_in, nb) = input::<NbRecord>(scope);
            let (held_in, held) = input::<HeldKey>(scope);
            let probe = super::sink(render(scope, nb, held), "ovnflow output", move |chunk| {
                out.borrow_mut().push(chunk)
            });
            (nb_in, held_in, probe)
        });
        WorkerState {
            nb,
            held,
            probe,
            sink,
            steps: 0,
        }
    }

    /// Feeds `batch` (if this worker is the one receiving input), closes the
    /// epoch and runs until the output for it is complete.
    fn run_epoch(&mut self, worker: &mut Worker, batch: Batch, epoch: Time) -> Vec<(Output, Diff)> {
        self.steps = 0;
        for (r, d) in batch.nb {
            self.nb.update(Erased::new(r), d);
        }
        for (r, d) in batch.held {
            self.held.update(Erased::new(r), d);
        }
        self.nb.advance_to(epoch);
        self.held.advance_to(epoch);
        self.nb.flush();
        self.held.flush();
        while self.probe.less_than(&epoch) {
            worker.step();
            self.steps += 1;
        }
        // One vector of the exact size, each container freed once moved:
        // a compile from scratch outputs the whole SB, and a vector grown
        // record by record would hold up to twice that (three times while
        // reallocating).
        let chunks = std::mem::take(&mut *self.sink.borrow_mut());
        let mut out = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
        for chunk in chunks {
            out.extend(chunk.into_iter().map(|(d, _t, r)| (d, r)));
        }
        out
    }
}

/// A single in-thread worker.
struct Local {
    worker: Worker,
    state: WorkerState,
    /// Per-operator report of each round (`OVNFLOW_OPLOG`).
    oplog: Option<OpLog>,
    /// Per-arrangement memory report of each round (`OVNFLOW_ARRLOG`).
    arrlog: Option<ArrLog>,
}

/// Commands to worker threads.
enum Command {
    Epoch(Batch, Time),
}

/// Worker threads under `timely::execute`.
struct Threads {
    commands: Vec<Sender<Command>>,
    results: Receiver<Vec<(Output, Diff)>>,
    guard: Option<JoinHandle<()>>,
}

enum Backend {
    Local(Box<Local>),
    Threads(Threads),
}

/// Owns the running dataflow.
pub(crate) struct Driver {
    backend: Backend,
    epoch: Time,
}

impl Driver {
    /// Starts the dataflow with `workers` workers (1 = in this thread).
    pub(crate) fn new(workers: usize) -> Result<Driver, String> {
        let backend = if workers <= 1 {
            let alloc = timely::communication::Allocator::Thread(Default::default());
            let mut worker = Worker::new(worker_config(), alloc, Some(std::time::Instant::now()));
            let oplog = OpLog::install(&mut worker, super::arrlog::enabled());
            let arrlog = oplog
                .as_ref()
                .and_then(|o| ArrLog::install(&mut worker, o.names()));
            let state = WorkerState::build(&mut worker);
            if arrlog.is_some() {
                // The operator names, before any arrangement event.
                if let Some(mut r) = worker.log_register() {
                    r.flush();
                }
            }
            Backend::Local(Box::new(Local {
                worker,
                state,
                oplog,
                arrlog,
            }))
        } else {
            Backend::Threads(Threads::start(workers)?)
        };
        Ok(Driver { backend, epoch: 0 })
    }

    /// Runs one epoch and returns the consolidated output updates.
    pub(crate) fn run(&mut self, batch: Batch) -> Vec<(Output, Diff)> {
        // After the first round (which outputs the constant rows), an
        // epoch without input changes no output: skip the round (every
        // operator would be stepped for nothing).
        if self.epoch > 0 && batch.nb.is_empty() && batch.held.is_empty() {
            return Vec::new();
        }
        self.epoch += 1;
        let mut out = match &mut self.backend {
            Backend::Local(l) => {
                let start = Instant::now();
                let out = l.state.run_epoch(&mut l.worker, batch, self.epoch);
                if let Some(log) = &mut l.oplog {
                    log.report(&mut l.worker, start.elapsed(), l.state.steps);
                }
                if let Some(log) = &mut l.arrlog {
                    log.report(&mut l.worker);
                }
                out
            }
            Backend::Threads(t) => t.run(batch, self.epoch),
        };
        consolidate(&mut out);
        out
    }
}

/// The worker configuration: timely's defaults, with two tuning knobs
/// read from the environment for measurements (`OVNFLOW_PROGRESS=eager`
/// or `demand`: timely's progress mode; `OVNFLOW_IDLE_MERGE=N`:
/// differential's idle merge effort).
fn worker_config() -> timely::WorkerConfig {
    use timely::worker::ProgressMode;
    let mut config = timely::WorkerConfig::default();
    match std::env::var("OVNFLOW_PROGRESS").as_deref() {
        Ok("eager") => config = config.progress_mode(ProgressMode::Eager),
        Ok("demand") => config = config.progress_mode(ProgressMode::Demand),
        _ => {}
    }
    if let Some(effort) = std::env::var("OVNFLOW_IDLE_MERGE")
        .ok()
        .and_then(|v| v.parse::<isize>().ok())
    {
        differential_dataflow::configure(
            &mut config,
            &differential_dataflow::Config::default().idle_merge_effort(Some(effort)),
        );
    }
    config
}

impl Threads {
    fn start(workers: usize) -> Result<Threads, String> {
        let (result_tx, results) = channel::<Vec<(Output, Diff)>>();
        let mut commands = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..workers {
            let (tx, rx) = channel::<Command>();
            commands.push(tx);
            receivers.push(Some(rx));
        }
        let receivers = Arc::new(Mutex::new(receivers));
        let result_tx = Arc::new(Mutex::new(result_tx));
        let config = timely::Config::process(workers);
        let guard = std::thread::Builder::new()
            .name("ovnflow-timely".into())
            .spawn(move || {
                let run = timely::execute(config, move |worker| {
                    let index = worker.index();
                    let rx = receivers.lock().ok().and_then(|mut r| r[index].take());
                    let tx = result_tx.lock().map(|t| t.clone());
                    let (Some(rx), Ok(tx)) = (rx, tx) else { return };
                    let mut state = WorkerState::build(worker);
                    while let Ok(Command::Epoch(batch, epoch)) = rx.recv() {
                        let out = state.run_epoch(worker, batch, epoch);
                        if tx.send(out).is_err() {
                            return;
                        }
                    }
                });
                if let Ok(guards) = run {
                    drop(guards.join());
                }
            })
            .map_err(|e| format!("cannot start timely workers: {e}"))?;
        Ok(Threads {
            commands,
            results,
            guard: Some(guard),
        })
    }

    fn run(&mut self, batch: Batch, epoch: Time) -> Vec<(Output, Diff)> {
        // Worker 0 receives the input; every worker advances its epoch.
        let mut first = Some(batch);
        let mut live = 0;
        for tx in &self.commands {
            let b = first.take().unwrap_or_default();
            if tx.send(Command::Epoch(b, epoch)).is_ok() {
                live += 1;
            }
        }
        let mut out = Vec::new();
        for _ in 0..live {
            match self.results.recv() {
                Ok(part) => out.extend(part),
                Err(_) => break,
            }
        }
        out
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.commands.clear();
        if let Some(g) = self.guard.take() {
            drop(g.join());
        }
    }
}

/// Sums the diffs of equal records and drops the zeros, in place (the
/// output of a compile from scratch is the whole SB: no second copy).
pub(crate) fn consolidate(updates: &mut Vec<(Output, Diff)>) {
    updates.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    // `dedup_by` hands each record with the last one kept before it.
    updates.dedup_by(|(r, d), (kept, kd)| {
        let same = r == kept;
        if same {
            *kd += *d;
        }
        same
    });
    updates.retain(|(_, d)| *d != 0);
}
