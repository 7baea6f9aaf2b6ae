//! The end-to-end measures: a northd-compatible daemon (real ovn-northd
//! 23.03, or `ovnflow northd`) between private NB and SB ovsdb-servers,
//! timed from sending an NB transaction to the SB update that carries the
//! transaction's `nb_cfg`.
//!
//! Every NB transaction the suite sends also increments `NB_Global.nb_cfg`.
//! ovn-northd copies it to `SB_Global.nb_cfg` in the same SB transaction as
//! the flows the change caused (`update_sequence_numbers()` in
//! northd/ovn-northd.c), and so does `ovnflow northd`; the suite monitors
//! `SB_Global` and stops the clock when that SB transaction's update
//! arrives. The times therefore include the NB ovsdb-server commit, the
//! daemon's compute, its SB transaction and the SB ovsdb-server commit, and
//! the monitor notification (the same for both daemons).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ovsdb::client::{Connection, Notification, Options as ClientOptions};
use ovsdb::remote::Remote;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use super::changes::{self, ChangeKind, Nb};
use super::memory;
use crate::cluster::Cluster;
use crate::oracle::Oracle;

/// Which daemon computes the SB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Daemon {
    /// Real `ovn-northd` (from PATH).
    Northd,
    /// `ovnflow northd`, the given `ovnflow` binary.
    Ovnflow(PathBuf),
}

impl Daemon {
    /// The name printed in tables.
    pub fn label(&self) -> &'static str {
        match self {
            Daemon::Northd => "ovn-northd",
            Daemon::Ovnflow(_) => "ovnflow northd",
        }
    }
}

/// What one end-to-end run measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct E2eRun {
    /// Seconds from starting the daemon to its first SB commit (empty NB).
    pub ready_s: f64,
    /// Seconds from sending the whole NB to its commit reply (NB
    /// ovsdb-server alone; part of `full_s`).
    pub nb_commit_s: f64,
    /// Seconds from sending the whole NB to the SB transaction that
    /// carries it.
    pub full_s: f64,
    /// The daemon's peak RSS (kB) after the full compute.
    pub rss_full_kb: u64,
    /// The daemon's peak RSS (kB) at the end of the run (after the changes).
    pub rss_end_kb: u64,
    /// SB `Logical_Flow` rows after the full compute.
    pub lflows: usize,
    /// Single changes: kind and seconds from sending to the SB update.
    pub changes: Vec<(ChangeKind, f64)>,
    /// Bytes the SB ovsdb-server appended to its database file for the full
    /// compute: the SB transaction(s) the daemon wrote, as stored
    /// (standalone servers only).
    #[serde(default)]
    pub sb_full_bytes: Option<u64>,
    /// The same for each single change, in the order of `changes`.
    #[serde(default)]
    pub sb_change_bytes: Vec<(ChangeKind, u64)>,
    /// CPU seconds (user + system) the SB ovsdb-server spent during the
    /// full compute (standalone only): its share of `full_s`, which no
    /// daemon writing the same SB rows can avoid.
    #[serde(default)]
    pub sb_server_cpu_s: Option<f64>,
}

/// The connections of one run and the `nb_cfg` the next change carries.
struct Session {
    rt: tokio::runtime::Runtime,
    nb: Connection,
    sb: Connection,
    sb_updates: UnboundedReceiver<Notification>,
    /// The highest `SB_Global.nb_cfg` seen so far.
    sb_cfg: i64,
    nb_cfg: i64,
    timeout: Duration,
}

fn bump_cfg() -> Value {
    json!({"op": "mutate", "table": "NB_Global", "where": [], "mutations": [["nb_cfg", "+=", 1]]})
}

/// The largest `SB_Global.nb_cfg` in a monitor (v1) update or initial reply.
fn cfg_in(update: &Value) -> Option<i64> {
    update
        .get("SB_Global")?
        .as_object()?
        .values()
        .filter_map(|row| row.get("new")?.get("nb_cfg")?.as_i64())
        .max()
}

impl Session {
    /// Connects to the NB and SB servers at `nb_remote` and `sb_remote`
    /// (the leaders, for clusters: transactions and the SB monitor then
    /// see commits first).
    fn connect(nb_remote: String, sb_remote: String, timeout: Duration) -> Result<Session, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let opts = ClientOptions {
            inactivity_probe: None,
            ..ClientOptions::default()
        };
        let connect = |remote: String| {
            let r = Remote::parse(&remote).map_err(|e| e.to_string());
            let opts = opts.clone();
            async move {
                Connection::connect(&r?, &opts)
                    .await
                    .map_err(|e| format!("{remote}: {e}"))
            }
        };
        let (nb, sb, sb_updates, initial) = rt.block_on(async {
            let (nb, _) = connect(nb_remote).await?;
            let (sb, notes) = connect(sb_remote).await?;
            let initial = sb
                .request(
                    "monitor",
                    json!(["OVN_Southbound", "bench", {"SB_Global": {"columns": ["nb_cfg"]}}]),
                )
                .await
                .map_err(|e| format!("SB monitor: {e}"))?;
            Ok::<_, String>((nb, sb, notes, initial))
        })?;
        Ok(Session {
            rt,
            nb,
            sb,
            sb_updates,
            sb_cfg: cfg_in(&initial).unwrap_or(0),
            nb_cfg: 0,
            timeout,
        })
    }

    /// Sends `ops` plus an `nb_cfg` increment; returns the seconds to the
    /// NB commit reply and to the SB update carrying the new `nb_cfg`.
    fn commit(&mut self, mut ops: Vec<Value>, what: &str) -> Result<(f64, f64), String> {
        ops.push(bump_cfg());
        self.nb_cfg += 1;
        let target = self.nb_cfg;
        let timeout = self.timeout;
        let Session {
            rt,
            nb,
            sb_updates,
            sb_cfg,
            ..
        } = self;
        let start = Instant::now();
        let (committed, applied) = rt.block_on(async {
            let commit = async {
                let r = nb.transact_checked("OVN_Northbound", ops).await;
                (r, start.elapsed())
            };
            let wait = async {
                while *sb_cfg < target {
                    match sb_updates.recv().await {
                        Some(n) if n.method == "update" => {
                            if let Some(c) = n.params.get(1).and_then(cfg_in) {
                                *sb_cfg = (*sb_cfg).max(c);
                            }
                        }
                        Some(_) => {}
                        None => return Err("the SB connection closed".to_string()),
                    }
                }
                Ok(start.elapsed())
            };
            tokio::join!(commit, tokio::time::timeout(timeout, wait))
        });
        let nb_s = match committed {
            (Ok(_), t) => t.as_secs_f64(),
            (Err(e), _) => return Err(format!("{what}: NB transaction failed: {e}")),
        };
        match applied {
            Ok(Ok(t)) => Ok((nb_s, t.as_secs_f64())),
            Ok(Err(e)) => Err(format!("{what}: {e}")),
            Err(_) => Err(format!(
                "{what}: SB_Global.nb_cfg did not reach {target} within {timeout:?}"
            )),
        }
    }

    /// Sends `ops` plus an `nb_cfg` increment without waiting for the SB.
    fn send(&mut self, mut ops: Vec<Value>, what: &str) -> Result<(), String> {
        ops.push(bump_cfg());
        self.nb_cfg += 1;
        self.rt
            .block_on(self.nb.transact_checked("OVN_Northbound", ops))
            .map(drop)
            .map_err(|e| format!("{what}: NB transaction failed: {e}"))
    }

    /// Waits (without sending anything) until the SB holds `nb_cfg`.
    fn wait_cfg(&mut self, target: i64) -> Result<f64, String> {
        let start = Instant::now();
        let Session {
            rt,
            sb_updates,
            sb_cfg,
            timeout,
            ..
        } = self;
        let wait = async {
            while *sb_cfg < target {
                match sb_updates.recv().await {
                    Some(n) if n.method == "update" => {
                        if let Some(c) = n.params.get(1).and_then(cfg_in) {
                            *sb_cfg = (*sb_cfg).max(c);
                        }
                    }
                    Some(_) => {}
                    None => return Err("the SB connection closed".to_string()),
                }
            }
            Ok(())
        };
        let timeout = *timeout;
        rt.block_on(async { tokio::time::timeout(timeout, wait).await })
            .map_err(|_| format!("SB_Global.nb_cfg did not reach {target} within {timeout:?}"))??;
        Ok(start.elapsed().as_secs_f64())
    }

    fn count_lflows(&self) -> Result<usize, String> {
        let r = self
            .rt
            .block_on(self.sb.transact_checked(
                "OVN_Southbound",
                vec![json!({"op": "select", "table": "Logical_Flow", "where": [], "columns": ["_uuid"]})],
            ))
            .map_err(|e| format!("counting SB Logical_Flow: {e}"))?;
        Ok(r.first()
            .and_then(|r| r.get("rows"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len))
    }
}

/// The last lines of a daemon's log, for error messages.
fn log_tail(dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// Where the databases run: standalone servers (the oracle's) or two
/// 3-member RAFT clusters, and the daemon between them.
enum Servers {
    Standalone(Oracle),
    Raft {
        nb: Cluster,
        sb: Cluster,
        dir: tempfile::TempDir,
        daemon: Option<std::process::Child>,
    },
}

impl Servers {
    fn start(raft: bool) -> Result<Servers, String> {
        if !raft {
            return Oracle::start()
                .map(Servers::Standalone)
                .map_err(|e| e.to_string());
        }
        let nb = Cluster::start("ovn-nb.ovsschema", "nb", 3).map_err(|e| e.to_string())?;
        let sb = Cluster::start("ovn-sb.ovsschema", "sb", 3).map_err(|e| e.to_string())?;
        let dir = tempfile::Builder::new()
            .prefix("ovnflow-bench-raft")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        Ok(Servers::Raft {
            nb,
            sb,
            dir,
            daemon: None,
        })
    }

    /// The remotes a client writing to the NB and reading the SB uses.
    fn session_remotes(&self) -> Result<(String, String), String> {
        match self {
            Servers::Standalone(o) => Ok((o.nb_remote(), o.sb_remote())),
            Servers::Raft { nb, sb, .. } => {
                let leader = |c: &Cluster| {
                    c.leader(30)
                        .map(|i| c.remote(i))
                        .ok_or_else(|| format!("no {} leader", c.db))
                };
                Ok((leader(nb)?, leader(sb)?))
            }
        }
    }

    /// The SB database file, whose growth is the size of what the daemon
    /// committed (standalone only: a RAFT log holds more than transactions).
    fn sb_file(&self) -> Option<PathBuf> {
        match self {
            Servers::Standalone(o) => Some(o.dir().join("sb.db")),
            Servers::Raft { .. } => None,
        }
    }

    /// The pid of the standalone ovsdb-server `db` ("nb" or "sb").
    fn server_pid(&self, db: &str) -> Option<String> {
        match self {
            Servers::Standalone(o) => std::fs::read_to_string(o.dir().join(format!("{db}.pid")))
                .ok()
                .map(|p| p.trim().to_string()),
            Servers::Raft { .. } => None,
        }
    }

    fn dir(&self) -> &Path {
        match self {
            Servers::Standalone(o) => o.dir(),
            Servers::Raft { dir, .. } => dir.path(),
        }
    }

    /// Starts the daemon (ovn-northd's flags, all members for clusters)
    /// as `name`; returns its pid.
    fn start_daemon(&mut self, daemon: &Daemon, name: &str) -> Result<u32, String> {
        let (program, pre): (PathBuf, &[&str]) = match daemon {
            Daemon::Northd => (PathBuf::from("ovn-northd"), &[]),
            Daemon::Ovnflow(bin) => (bin.clone(), &["northd"]),
        };
        match self {
            Servers::Standalone(o) => o
                .start_daemon(&program, pre, name)
                .map_err(|e| e.to_string()),
            Servers::Raft {
                nb,
                sb,
                dir,
                daemon,
            } => {
                let d = dir.path();
                let mut cmd = std::process::Command::new(&program);
                for v in [
                    "OVS_RUNDIR",
                    "OVS_LOGDIR",
                    "OVS_DBDIR",
                    "OVN_RUNDIR",
                    "OVN_LOGDIR",
                ] {
                    cmd.env(v, d);
                }
                let child = cmd
                    .args(pre)
                    .arg("--no-chdir")
                    .arg(format!(
                        "--unixctl={}",
                        d.join(format!("{name}.ctl")).display()
                    ))
                    .arg(format!(
                        "--log-file={}",
                        d.join(format!("{name}.log")).display()
                    ))
                    .arg(format!("--ovnnb-db={}", nb.remotes()))
                    .arg(format!("--ovnsb-db={}", sb.remotes()))
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
                let pid = child.id();
                *daemon = Some(child);
                Ok(pid)
            }
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Servers::Raft {
            daemon: Some(c), ..
        } = self
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How long the processes a change waits behind must stay idle before
/// the change is sent ([`settle`]).
const SETTLE_WINDOW: Duration = Duration::from_millis(200);

/// One clock tick of `/proc` CPU times (USER_HZ = 100), with rounding.
const CPU_TICK_S: f64 = 0.011;

/// Waits (at most `limit`) until the processes `pids` use no CPU for
/// [`SETTLE_WINDOW`]: their user + system time, read from `/proc`, moves
/// by at most one clock tick (10 ms: periodic probes and timers) over the
/// window.
fn settle(pids: &[String], limit: Duration) {
    let cpu = || -> f64 { pids.iter().filter_map(|p| memory::cpu_s(p).ok()).sum() };
    let start = Instant::now();
    let mut last = cpu();
    while start.elapsed() < limit {
        std::thread::sleep(SETTLE_WINDOW);
        let now = cpu();
        if now - last <= CPU_TICK_S {
            return;
        }
        last = now;
    }
}

/// One run: fresh databases (standalone, or 3-member RAFT clusters when
/// `raft`), the daemon, the whole NB of `nb` in one transaction, then
/// `rounds` rounds of single changes.
pub fn run_once(
    daemon: &Daemon,
    nb: &Nb,
    rounds: u32,
    timeout: Duration,
    raft: bool,
) -> Result<E2eRun, String> {
    let mut oracle = Servers::start(raft)?;
    let (nb_remote, sb_remote) = oracle.session_remotes()?;
    let mut session = Session::connect(nb_remote, sb_remote, timeout)?;
    // NB_Global first, alone (nb_cfg 1): the daemon is ready once the SB
    // holds it. Everything else is the full-compute transaction.
    let mut ops: Vec<Value> = match nb.json() {
        Value::Array(a) => a.into_iter().skip(1).collect(),
        _ => return Err("generator: not a transact array".into()),
    };
    let global = ops
        .iter()
        .position(|op| op["table"] == "NB_Global")
        .map(|i| ops.remove(i))
        .ok_or("generator: no NB_Global row")?;
    session.send(vec![global], "NB_Global")?;
    let name = "daemon";
    let pid = oracle.start_daemon(daemon, name)?;
    let with_log = |e: String, oracle: &Servers| {
        format!("{}: {e}\n{}", daemon.label(), log_tail(oracle.dir(), name))
    };
    let ready_s = session.wait_cfg(1).map_err(|e| with_log(e, &oracle))?;
    let sb_file = oracle.sb_file();
    let sb_len = || {
        sb_file
            .as_ref()
            .and_then(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
    };
    let grown = |before: Option<u64>, after: Option<u64>| Some(after?.saturating_sub(before?));
    let before = sb_len();
    let sb_pid = oracle.server_pid("sb");
    let sb_cpu = || sb_pid.as_deref().and_then(|p| memory::cpu_s(p).ok());
    let cpu_before = sb_cpu();
    let (nb_commit_s, full_s) = session
        .commit(ops, "full NB")
        .map_err(|e| with_log(e, &oracle))?;
    let sb_server_cpu_s = cpu_before.zip(sb_cpu()).map(|(b, a)| a - b);
    let sb_full_bytes = grown(before, sb_len());
    let pid = pid.to_string();
    let rss_full_kb = memory::peak_rss_kb(&pid)?;
    let lflows = session.count_lflows()?;
    let mut measured = Vec::new();
    let mut sb_change_bytes = Vec::new();
    if rounds > 0 {
        nb.check()?;
    }
    // The processes whose work a change waits behind: the daemon and, when
    // known (standalone), both servers.
    let busy: Vec<String> = std::iter::once(pid.clone())
        .chain(sb_pid.clone())
        .chain(oracle.server_pid("nb"))
        .collect();
    for round in 0..rounds.min(changes::MAX_ROUNDS) {
        for &kind in nb.kinds() {
            // A single change on a settled system: both daemons go on
            // working after the SB commit a change waits for (SB updates
            // read back, NB written back, ovn-northd's recompute on SB
            // changes); a change sent meanwhile would measure that queue
            // too (e.g. "add port" right after "add switch").
            settle(&busy, timeout);
            let before = sb_len();
            let (_, s) = session
                .commit(nb.ops(kind, round), kind.label())
                .map_err(|e| with_log(e, &oracle))?;
            measured.push((kind, s));
            if let Some(b) = grown(before, sb_len()) {
                sb_change_bytes.push((kind, b));
            }
        }
    }
    let rss_end_kb = memory::peak_rss_kb(&pid)?;
    drop(session);
    drop(oracle);
    Ok(E2eRun {
        ready_s,
        nb_commit_s,
        full_s,
        rss_full_kb,
        rss_end_kb,
        lflows,
        changes: measured,
        sb_full_bytes,
        sb_change_bytes,
        sb_server_cpu_s,
    })
}
