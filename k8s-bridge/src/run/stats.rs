//! The figures a running controller keeps for tests, the benchmark and
//! logs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Figures of a running controller (for tests, the benchmark and logs).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// When the first full reconciliation was committed (or found nothing to do).
    pub synced_at: Option<Instant>,
    /// Batches of changes processed after the initial lists.
    pub batches: u64,
    /// NB transactions sent.
    pub transactions: u64,
    /// Operations in them.
    pub operations: u64,
    /// Per committed batch: from the receipt of its first watch event to
    /// the NB's reply.
    pub latencies: Vec<Duration>,
    /// Per committed batch after the first sync, where its latency went.
    pub phases: Vec<Phases>,
    /// Time spent translating / planning+committing, summed.
    pub translate_time: Duration,
    /// Time spent planning and committing, summed.
    pub commit_time: Duration,
    /// Objects not honoured, by identity, with the reason.
    pub rejected: BTreeMap<String, String>,
    /// API writes done, and failed.
    pub writes: u64,
    /// API writes that failed after retries.
    pub write_errors: u64,
    /// Errors (translation or NB) that made a batch be retried.
    pub errors: Vec<String>,
}

/// Where one batch's latency went: from its first watch event to the
/// start of the batch (queued behind other work), translation (stores and
/// incremental engine), planning (diff against the NB replica), and the
/// transaction (sent until the reply and its monitor update are in).
#[derive(Clone, Copy, Debug, Default)]
pub struct Phases {
    /// Watch event received → batch started.
    pub queued: Duration,
    /// Translation.
    pub translate: Duration,
    /// Planning the operations.
    pub plan: Duration,
    /// The NB transaction.
    pub transact: Duration,
}

/// Shared stats.
pub type SharedStats = Arc<Mutex<Stats>>;
