//! Concurrent write-back: up to [`MAX_IN_FLIGHT`] writes are sent to the
//! API server at once (each is one HTTP round trip; sent one by one, a
//! cluster of thousands of pods waited minutes for its annotations), while
//! writes to the same target (one annotation of one object, or one
//! object's status) keep their order: a later write is sent only after the
//! earlier one finished, so the last decision wins as it would one by one.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::{self, JoinSet};

use super::resources::Kind;
use super::stats::SharedStats;
use super::stats_mut;
use super::writeback::{Write, Writer};

/// Writes sent at once.
pub const MAX_IN_FLIGHT: usize = 16;

/// What a write changes, for ordering: writes with the same target are
/// sent one after the other; events have none (each is a new object).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// One annotation of one object.
    Annotation(Kind, Option<String>, String, String),
    /// The status of one object.
    Status(Kind, Option<String>, String),
}

/// The target of `w`.
pub fn target(w: &Write) -> Option<Target> {
    match w {
        Write::Annotate {
            kind,
            namespace,
            name,
            key,
            ..
        } => Some(Target::Annotation(
            *kind,
            namespace.clone(),
            name.clone(),
            key.clone(),
        )),
        Write::Status {
            kind,
            namespace,
            name,
            ..
        } => Some(Target::Status(*kind, namespace.clone(), name.clone())),
        Write::Event { .. } => None,
    }
}

/// The ordering bookkeeping: which targets have a write in flight and the
/// writes waiting behind them.
#[derive(Debug, Default)]
pub struct Order {
    /// Targets with a write in flight → writes queued behind it.
    busy: BTreeMap<Target, VecDeque<Write>>,
}

impl Order {
    /// A new write: returned if it may be sent now, else queued.
    pub fn admit(&mut self, w: Write) -> Option<Write> {
        let Some(t) = target(&w) else {
            return Some(w);
        };
        match self.busy.get_mut(&t) {
            Some(queue) => {
                queue.push_back(w);
                None
            }
            None => {
                self.busy.insert(t, VecDeque::new());
                Some(w)
            }
        }
    }

    /// The write to `t` finished: the next one queued for `t`, if any.
    pub fn finished(&mut self, t: Option<Target>) -> Option<Write> {
        let t = t?;
        let queue = self.busy.get_mut(&t)?;
        let next = queue.pop_front();
        if next.is_none() {
            self.busy.remove(&t);
        }
        next
    }

    /// Writes queued (not in flight).
    pub fn queued(&self) -> usize {
        self.busy.values().map(VecDeque::len).sum()
    }
}

/// Sends what arrives on `rx` until the channel closes and every write is
/// done, counting successes and failures in `stats`.
pub async fn run(writer: Writer, mut rx: mpsc::UnboundedReceiver<Write>, stats: SharedStats) {
    let writer = Arc::new(writer);
    let mut order = Order::default();
    // Writes admitted but not yet started (in-flight limit reached).
    let mut ready: VecDeque<Write> = VecDeque::new();
    let mut tasks: JoinSet<Result<(), String>> = JoinSet::new();
    // Each task's target, to free it whether the task ends or panics.
    let mut targets: HashMap<task::Id, Option<Target>> = HashMap::new();
    let mut open = true;
    loop {
        while tasks.len() < MAX_IN_FLIGHT {
            let Some(w) = ready.pop_front() else { break };
            let t = target(&w);
            let writer = Arc::clone(&writer);
            let h = tasks.spawn(async move { writer.send(&w).await });
            targets.insert(h.id(), t);
        }
        if !open && tasks.is_empty() && ready.is_empty() {
            return;
        }
        tokio::select! {
            msg = rx.recv(), if open => match msg {
                Some(w) => ready.extend(order.admit(w)),
                None => open = false,
            },
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (id, r) = match done {
                    Ok(v) => v,
                    Err(e) => (e.id(), Err(format!("write task failed: {e}"))),
                };
                let t = targets.remove(&id).flatten();
                {
                    let mut s = stats_mut(&stats);
                    match r {
                        Ok(()) => s.writes += 1,
                        Err(e) => {
                            s.write_errors += 1;
                            tracing::warn!("write-back: {e}");
                        }
                    }
                }
                ready.extend(order.finished(t));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotate(name: &str, value: &str) -> Write {
        Write::Annotate {
            kind: Kind::Pod,
            namespace: Some("ns".into()),
            name: name.into(),
            key: "k".into(),
            value: value.into(),
        }
    }

    #[test]
    fn same_target_waits_other_targets_go() {
        let mut o = Order::default();
        assert_eq!(o.admit(annotate("a", "1")), Some(annotate("a", "1")));
        assert_eq!(o.admit(annotate("b", "1")), Some(annotate("b", "1")));
        assert_eq!(o.admit(annotate("a", "2")), None);
        assert_eq!(o.admit(annotate("a", "3")), None);
        assert_eq!(o.queued(), 2);
        let ta = target(&annotate("a", "")).unwrap();
        assert_eq!(o.finished(Some(ta.clone())), Some(annotate("a", "2")));
        assert_eq!(o.finished(Some(ta.clone())), Some(annotate("a", "3")));
        assert_eq!(o.finished(Some(ta.clone())), None);
        // Free again: the next write to it goes at once.
        assert_eq!(o.admit(annotate("a", "4")), Some(annotate("a", "4")));
        assert_eq!(o.queued(), 0);
    }

    #[test]
    fn events_are_never_held() {
        let mut o = Order::default();
        let ev = Write::Event {
            reference: Default::default(),
            reason: "R".into(),
            message: "m".into(),
        };
        assert!(o.admit(ev.clone()).is_some());
        assert!(o.admit(ev).is_some());
        assert_eq!(o.finished(None), None);
    }
}
