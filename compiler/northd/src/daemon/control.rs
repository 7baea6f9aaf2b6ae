//! The control socket's side of the daemon (ovn-northd.c's unixctl
//! commands): the commands it answers, the state they read ([`Shared`]:
//! active, standby or paused, connections, counters) and the actions they
//! hand to the main loop ([`Ctl`]).

use std::sync::{Arc, Mutex};

use crate::stats::Stats;
use crate::unixctl::{CommandSpec, Handler, Outcome};

/// Control-socket actions the main loop carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctl {
    /// `exit`.
    Exit,
    /// `pause`.
    Pause,
    /// `resume`.
    Resume,
    /// `inc-engine/recompute`.
    Recompute,
    /// `nb-cluster-state-reset`.
    ResetNb,
    /// `sb-cluster-state-reset`.
    ResetSb,
    /// `parallel-build/set-n-threads`.
    SetThreads(usize),
}

/// State the control socket reads.
#[derive(Debug, Default)]
pub struct Shared {
    /// Paused by `pause` or `--dry-run`.
    pub paused: bool,
    /// Holding the lock.
    pub active: bool,
    /// Dataflow workers.
    pub n_threads: usize,
    /// NB / SB monitors have content.
    pub connected: (bool, bool),
    /// Counters and timings.
    pub stats: Stats,
}

impl Shared {
    /// `status` text, as ovn-northd prints it.
    pub fn status(&self) -> String {
        let s = if self.paused {
            "paused"
        } else if self.active {
            "active"
        } else {
            "standby"
        };
        format!("Status: {s}\n")
    }
}

/// The commands of the control socket.
pub(super) fn commands() -> Vec<CommandSpec> {
    let c = |name, usage, min_args, max_args| CommandSpec {
        name,
        usage,
        min_args,
        max_args,
    };
    vec![
        c("exit", "", 0, 0),
        c("pause", "", 0, 0),
        c("resume", "", 0, 0),
        c("is-paused", "", 0, 0),
        c("status", "", 0, 0),
        c("inc-engine/recompute", "", 0, 0),
        c("sb-cluster-state-reset", "", 0, 0),
        c("nb-cluster-state-reset", "", 0, 0),
        c("parallel-build/set-n-threads", "N_THREADS", 1, 1),
        c("parallel-build/get-n-threads", "", 0, 0),
        c("nb-connection-status", "", 0, 0),
        c("sb-connection-status", "", 0, 0),
        c("coverage/show", "", 0, 0),
        c("stats", "", 0, 0),
    ]
}

/// `unixctl_command_reply()` adds a final newline to a non-empty body.
fn reply(text: String) -> Result<String, String> {
    if text.is_empty() || text.ends_with('\n') {
        Ok(text)
    } else {
        Ok(text + "\n")
    }
}

pub(super) fn handler(shared: Arc<Mutex<Shared>>) -> Handler<Ctl> {
    Arc::new(move |cmd, args| {
        let mut sh = shared.lock().expect("shared state");
        match cmd {
            "pause" => sh.paused = true,
            "resume" => sh.paused = false,
            _ => {}
        }
        let then = |c| Outcome {
            reply: Ok(String::new()),
            then: Some(c),
        };
        match cmd {
            "exit" => then(Ctl::Exit),
            "pause" => then(Ctl::Pause),
            "resume" => then(Ctl::Resume),
            "is-paused" => Outcome {
                reply: reply(sh.paused.to_string()),
                then: None,
            },
            "status" => Outcome::text(sh.status()),
            "inc-engine/recompute" => then(Ctl::Recompute),
            "sb-cluster-state-reset" => then(Ctl::ResetSb),
            "nb-cluster-state-reset" => then(Ctl::ResetNb),
            "parallel-build/get-n-threads" => Outcome::text(format!("{}\n", sh.n_threads)),
            "parallel-build/set-n-threads" => match args[0].parse::<usize>() {
                Ok(n) if (1..=crate::config::MAX_THREADS).contains(&n) => then(Ctl::SetThreads(n)),
                _ => Outcome {
                    reply: Err(format!("invalid n_threads: {}\n", args[0])),
                    then: None,
                },
            },
            "nb-connection-status" | "sb-connection-status" => {
                let up = if cmd.starts_with("nb") {
                    sh.connected.0
                } else {
                    sh.connected.1
                };
                Outcome::text(if up { "connected\n" } else { "not connected\n" })
            }
            "coverage/show" => Outcome::text(sh.stats.coverage_text()),
            "stats" => Outcome::text(sh.stats.stats_text()),
            _ => Outcome {
                reply: Err(format!("\"{cmd}\" is not implemented")),
                then: None,
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_matches_northd() {
        let mut s = Shared::default();
        assert_eq!(s.status(), "Status: standby\n");
        s.active = true;
        assert_eq!(s.status(), "Status: active\n");
        s.paused = true;
        assert_eq!(s.status(), "Status: paused\n");
    }
}
