//! The start-up timeline (issue 9): from `run` to the first `nb_cfg`
//! acknowledgement, each step is logged once with the time since start,
//! so that waiting (for the switch, the databases) and working can be
//! told apart in the log.

use std::time::Instant;

/// Milestones of the start, logged until the first acknowledgement.
#[derive(Debug)]
pub(super) struct Startup {
    t0: Instant,
    done: bool,
}

impl Startup {
    /// The timeline of a start beginning now.
    pub(super) fn new() -> Startup {
        Startup {
            t0: Instant::now(),
            done: false,
        }
    }

    /// Whether the start is over (the first acknowledgement was written).
    pub(super) fn is_done(&self) -> bool {
        self.done
    }

    /// Logs `what` with the time since start, while starting.
    pub(super) fn mark(&self, what: impl FnOnce() -> String) {
        if !self.done {
            tracing::info!(
                "startup +{:.1} ms: {}",
                self.t0.elapsed().as_secs_f64() * 1000.0,
                what()
            );
        }
    }

    /// Logs `what` and ends the timeline.
    pub(super) fn finish(&mut self, what: impl FnOnce() -> String) {
        self.mark(what);
        self.done = true;
    }
}
