//! The in-process measures: the ovnflow compiler as a library, with no
//! database server in the way. Each run happens in a fresh worker process
//! (`ovnflow-bench worker`) so that its peak RSS is its own.

use std::time::Instant;

use ovnflow_compiler::{Compiler, Options};
use serde::{Deserialize, Serialize};

use super::changes::{self, ChangeKind, Nb};
use super::memory;

/// What one in-process run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InprocRun {
    /// Size of the NB transact JSON (bytes).
    pub nb_bytes: usize,
    /// NB rows.
    pub nb_rows: usize,
    /// Seconds to execute the NB transaction on an empty in-memory
    /// database (`ovsdb::transact_file`), not part of the compile.
    pub nb_load_s: f64,
    /// Peak RSS (kB) up to the end of the NB load (JSON + database).
    pub rss_load_kb: u64,
    /// Seconds of `Compiler::compile_database` (NB rows → complete SB).
    pub compile_s: f64,
    /// Peak RSS (kB) from the end of the NB load to the end of the
    /// compile (the peak is reset after the load; the NB database stays
    /// resident, the JSON is freed).
    pub rss_compile_kb: u64,
    /// SB rows the compile produced.
    pub sb_rows: usize,
    /// SB `Logical_Flow` rows.
    pub lflows: usize,
    /// Single changes: kind, seconds of `Compiler::apply` (NB row changes
    /// → SB delta), SB rows changed.
    pub changes: Vec<(ChangeKind, f64, usize)>,
}

/// One run: build the NB of `nb`, compile it, then apply `rounds`
/// rounds of single changes.
pub fn run_once(nb: &Nb, rounds: u32) -> Result<InprocRun, String> {
    let json = nb.json();
    let nb_bytes = json.to_string().len();
    let t = Instant::now();
    let mut db =
        ovsdb::transact_file::apply_transact_json(&json, "k8s").map_err(|e| e.to_string())?;
    let nb_load_s = t.elapsed().as_secs_f64();
    drop(json);
    let rss_load_kb = memory::peak_rss_kb("self")?;
    memory::reset_peak()?;
    let t = Instant::now();
    let mut compiler =
        Compiler::compile_database(&db, Options::default()).map_err(|e| e.to_string())?;
    let compile_s = t.elapsed().as_secs_f64();
    let rss_compile_kb = memory::peak_rss_kb("self")?;
    let sb_rows = compiler.sb_records().count();
    let lflows = compiler
        .sb_records()
        .filter(|r| r.table() == "Logical_Flow")
        .count();
    let mut measured = Vec::new();
    if rounds > 0 {
        nb.check()?;
    }
    // A profiling aid: `OVNFLOW_BENCH_ONLY="add port,delete port"` applies
    // only the kinds of change with these labels (a profile of many rounds
    // of small changes, without the big ones in between).
    let only: Option<Vec<String>> = std::env::var("OVNFLOW_BENCH_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    // The NB side of every change first (the NB database's own transaction
    // work is not what is measured, and a profile of the rounds should not
    // hold it), then the compiler's, one change at a time.
    let mut planned = Vec::new();
    for round in 0..rounds.min(changes::MAX_ROUNDS) {
        for &kind in nb.kinds() {
            if only
                .as_ref()
                .is_some_and(|o| !o.iter().any(|l| l == kind.label()))
            {
                continue;
            }
            let ops = nb.ops(kind, round);
            let out = ovsdb::txn::transact(&mut db, &ops, &ovsdb::txn::TxnContext::default());
            if let Some(e) = out.error {
                return Err(format!(
                    "{} (round {round}): NB rejected it: {e}",
                    kind.label()
                ));
            }
            planned.push((kind, round, out.changes));
        }
    }
    let cpu_start = only.as_ref().map(|_| (thread_cpu_ms(), Instant::now()));
    for (kind, round, changes) in planned {
        let t = Instant::now();
        let delta = compiler.apply(changes).map_err(|e| e.to_string())?;
        let s = t.elapsed().as_secs_f64();
        if delta.is_empty() {
            return Err(format!(
                "{} (round {round}): the compiler changed nothing in the SB",
                kind.label()
            ));
        }
        measured.push((kind, s, delta.changes.len()));
    }
    if let Some((cpu, wall)) = cpu_start {
        // CPU time is steadier than wall time on a loaded machine.
        eprintln!(
            "inproc: {} single changes: {:.1} ms CPU, {:.1} ms wall",
            measured.len(),
            thread_cpu_ms() - cpu,
            wall.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(InprocRun {
        nb_bytes,
        nb_rows: db.len(),
        nb_load_s,
        rss_load_kb,
        compile_s,
        rss_compile_kb,
        sb_rows,
        lflows,
        changes: measured,
    })
}

/// CPU time (user + system) of the calling thread so far, in milliseconds
/// (`/proc/thread-self/stat`, clock ticks of 10 ms: for spans of seconds).
fn thread_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks * 10.0
}
