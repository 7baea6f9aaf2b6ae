//! The main loop (ovn-northd.c `main()`): NB and SB monitors feed local
//! mirrors; NB changes go through the compiler; while this instance holds
//! the SB lock `ovn_northd` and is not paused, the resulting SB changes are
//! written in one SB transaction per iteration (asserting the lock), then
//! what northd reports back to the NB. A standby instance keeps compiling,
//! so that taking over is a reconciliation that normally writes nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ovnflow_compiler::sb::SB_TABLES;
use ovnflow_compiler::{Compiler, Options};
use ovsdb::rawjson::RawOps;
use ovsdb::remote::Remote;
use ovsdb::{Row, RowChange, Uuid};
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::feedback::{Cycle, Feedback};
use crate::link::{spawn_monitor, spawn_writer, Db, DbEvent, LockEvent, Probes, WriteCmd};
use crate::logging::wall_msec;
use crate::mirror::Mirror;
use crate::pending::Pending;
use crate::reconcile::Reconciler;
use crate::sbtxn::{assert_lock, transact, SbStream};
use crate::stats::Stats;
use crate::unixctl::{CommandSpec, Handler, Outcome, UnixctlServer};

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DaemonError(pub String);

/// The SB lock northd instances share.
pub const LOCK_NAME: &str = "ovn_northd";

/// SB tables written only by northd that the SB monitor leaves out: the
/// SB would otherwise send back every row of every transaction we write
/// (tens of thousands of flows, ports groups, address sets… after a full
/// compute) for a copy only a full reconciliation reads. A full
/// reconciliation reads them whole instead ([`WriteCmd::Snapshot`]); in
/// between, the SB holds what we last wrote (we hold the lock). Tables the compiler reads
/// back (`ovnflow_compiler::sb_input`: `Datapath_Binding`, `Port_Binding`,
/// `Service_Monitor`, `BFD`), tables with columns other daemons write
/// ([`crate::reconcile::unowned_columns`]) and those [`crate::feedback`]
/// reads stay monitored.
pub const UNMONITORED: &[&str] = &[
    "Logical_Flow",
    "Logical_DP_Group",
    "Multicast_Group",
    "Address_Set",
    "Port_Group",
    "Load_Balancer",
    "DNS",
    "Meter",
    "Meter_Band",
    "DHCP_Options",
    "DHCPv6_Options",
    "RBAC_Role",
    "RBAC_Permission",
    "Chassis_Template_Var",
];

/// The SB tables the monitor follows: those of the bundled schema but
/// [`UNMONITORED`] (tables the server lacks are skipped by the monitor).
fn monitored_sb_tables() -> Vec<String> {
    ovsdb::transact_file::bundled_schema(Db::Sb.name())
        .map(|s| {
            s.tables
                .keys()
                .filter(|t| !UNMONITORED.contains(&t.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The tables what northd writes back to the NB depends on
/// ([`crate::feedback`]): other changes do not make it look again.
const FEEDBACK_INPUTS: &[(Db, &str)] = &[
    (Db::Nb, "NB_Global"),
    (Db::Nb, "Logical_Switch_Port"),
    (Db::Sb, "SB_Global"),
    (Db::Sb, "Port_Binding"),
    (Db::Sb, "Chassis"),
    (Db::Sb, "Chassis_Private"),
    (Db::Nb, "BFD"),
    (Db::Sb, "BFD"),
];

/// How long to wait before retrying after a failed commit.
const RETRY: Duration = Duration::from_millis(500);

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
fn commands() -> Vec<CommandSpec> {
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

fn handler(shared: Arc<Mutex<Shared>>) -> Handler<Ctl> {
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

/// Tunnel keys: `(datapath owner, key)`, `(datapath owner, port owner,
/// key)` and learned multicast groups' `(datapath owner, name, key)`.
type Keys = (
    Vec<(Uuid, u32)>,
    Vec<(Uuid, Uuid, u32)>,
    Vec<(Uuid, String, u32)>,
);

/// `SB_Global.nb_cfg` as the compiler wants it.
fn wanted_cfg(c: &Compiler) -> Option<i64> {
    c.sb_table("SB_Global").find_map(|r| match r {
        ovnflow_compiler::SbRecord::SbGlobal(g) => Some(g.nb_cfg),
        _ => None,
    })
}

/// The tunnel keys the SB holds, by NB owner: datapaths by
/// `external_ids:logical-switch`/`logical-router`, ports by name through
/// the NB (for [`Compiler::adopt_keys`]).
fn sb_keys(nb: &Mirror, sb: &Mirror) -> Keys {
    let key = |r: &Row| {
        r.get("tunnel_key")
            .and_then(|d| d.as_i64())
            .and_then(|k| u32::try_from(k).ok())
    };
    let mut dp_owner: BTreeMap<Uuid, Uuid> = BTreeMap::new();
    let mut dps = Vec::new();
    for (u, r) in sb.table("Datapath_Binding") {
        let ids = r.get("external_ids");
        let owner = ids
            .and_then(|d| {
                d.get_str("logical-switch")
                    .or_else(|| d.get_str("logical-router"))
            })
            .and_then(|s| Uuid::parse_str(s).ok());
        if let (Some(o), Some(k)) = (owner, key(r)) {
            dp_owner.insert(*u, o);
            dps.push((o, k));
        }
    }
    let mut port_owner: BTreeMap<&str, Uuid> = BTreeMap::new();
    for t in ["Logical_Switch_Port", "Logical_Router_Port"] {
        for (u, r) in nb.table(t) {
            if let Some(n) = r.get("name").and_then(|d| d.as_str()) {
                port_owner.insert(n, *u);
            }
        }
    }
    let mut ports = Vec::new();
    for r in sb.table("Port_Binding").values() {
        let dp = r
            .get("datapath")
            .and_then(|d| d.as_uuid())
            .and_then(|d| dp_owner.get(&d));
        let port = r
            .get("logical_port")
            .and_then(|d| d.as_str())
            .and_then(|n| port_owner.get(n));
        if let (Some(dp), Some(p), Some(k)) = (dp, port, key(r)) {
            ports.push((*dp, *p, k));
        }
    }
    let mut groups = Vec::new();
    for r in sb.table("Multicast_Group").values() {
        let dp = r
            .get("datapath")
            .and_then(|d| d.as_uuid())
            .and_then(|d| dp_owner.get(&d));
        let name = r.get("name").and_then(|d| d.as_str());
        match (dp, name, key(r)) {
            (Some(dp), Some(n), Some(k)) if k >= ovnflow_compiler::rules::igmp::GROUP_KEY_MIN => {
                groups.push((*dp, n.to_string(), k));
            }
            _ => {}
        }
    }
    (dps, ports, groups)
}

/// The daemon's state.
struct Daemon {
    shared: Arc<Mutex<Shared>>,
    n_threads: usize,
    nb: Mirror,
    sb: Mirror,
    nb_ready: bool,
    reconciler: Option<Reconciler>,
    compiler: Option<Compiler>,
    /// The NB could not be compiled: rebuild from the whole NB next time.
    rebuild: bool,
    pending: Pending,
    need_full: bool,
    lock_held: bool,
    paused: bool,
    /// `nb_cfg` the SB is known to hold (northd's `cur_cfg`).
    sb_cfg: Option<i64>,
    /// `SB_Global.nb_cfg` the compiler wants.
    target_cfg: Option<i64>,
    feedback: Feedback,
    /// Something [`Feedback::plan`] reads changed since it last ran.
    feedback_due: bool,
    sb_writer: mpsc::UnboundedSender<WriteCmd>,
    nb_writer: mpsc::UnboundedSender<WriteCmd>,
    retry_at: Option<tokio::time::Instant>,
    started: Instant,
    first_sync_done: bool,
    /// The NB and SB connections' inactivity probes
    /// (`NB_Global.options:northd_probe_interval`).
    probes: Probes,
}

impl Daemon {
    fn stats(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.shared.lock().expect("shared state").stats);
    }

    fn publish(&self) {
        // `paused` is the control socket's: it changes when `pause` or
        // `resume` is answered, as in ovn-northd.
        let mut sh = self.shared.lock().expect("shared state");
        sh.active = self.lock_held && !self.paused;
        sh.n_threads = self.n_threads;
        sh.connected = (self.nb_ready, self.reconciler.is_some());
    }

    /// Follows `SB_Global.nb_cfg` as the compiler wants it (the NB's
    /// `nb_cfg`, which northd copies).
    fn note_cfg(&mut self) {
        self.target_cfg = self.compiler.as_ref().and_then(wanted_cfg);
    }

    fn compile(&mut self, changes: Vec<RowChange>) {
        if changes.is_empty() {
            return;
        }
        let Some(c) = self.compiler.as_mut() else {
            return;
        };
        if self.rebuild {
            return;
        }
        let t = Instant::now();
        match c.apply_touched(changes) {
            Ok(touched) => {
                let elapsed = t.elapsed();
                self.stats(|s| {
                    s.time("compile", elapsed);
                    s.add("nb_change_sets", 1);
                });
                // The NB BFD status northd writes back follows the
                // compiler's BFD rows (which may change no SB column).
                self.feedback_due |= touched.iter().any(|((table, _), _)| *table == "BFD");
                self.pending.add_touched(touched, t);
                self.note_cfg();
            }
            Err(e) => {
                tracing::error!("Northbound database cannot be compiled: {e}");
                self.stats(|s| s.add("nb_compile_errors", 1));
                self.rebuild = true;
            }
        }
    }

    /// Feeds SB changes to the compiler: the columns northd reads back
    /// from the SB (`ovnflow_compiler::sb_input`; nothing for our own rows).
    fn compile_sb(&mut self, changes: &[RowChange]) {
        let Some(c) = self.compiler.as_mut() else {
            return;
        };
        if self.rebuild {
            return;
        }
        let t = Instant::now();
        let delta = c.apply_sb(changes);
        if delta.is_empty() {
            return;
        }
        let elapsed = t.elapsed();
        self.stats(|s| {
            s.time("compile", elapsed);
            s.add("sb_input_change_sets", 1);
        });
        self.feedback_due |= delta.changes.iter().any(|c| c.table() == "BFD");
        self.pending.add_rows(delta.changes, t);
        self.note_cfg();
    }

    /// The `NB_Global` row, if any.
    fn nb_global(&self) -> Option<&ovsdb::Row> {
        self.nb.table("NB_Global").values().next().map(|r| &**r)
    }

    fn on_db(&mut self, db: Db, ev: DbEvent) {
        let at = Instant::now();
        self.feedback_due |= match &ev {
            DbEvent::Snapshot(..) => true,
            DbEvent::Changes { changes, .. } => changes
                .iter()
                .any(|c| FEEDBACK_INPUTS.contains(&(db, c.table()))),
        };
        match (db, ev) {
            (Db::Nb, DbEvent::Snapshot(_, rows)) => {
                let changes = self.nb.replace(&rows);
                self.probes.follow(self.nb_global());
                self.feedback.rescan();
                if self.nb_ready {
                    tracing::info!("OVN NB IDL reconnected, force recompute.");
                }
                self.nb_ready = true;
                self.need_full = true;
                self.compile(changes);
            }
            (
                Db::Nb,
                DbEvent::Changes {
                    changes,
                    reconnected,
                },
            ) => {
                self.nb.apply(&changes);
                if changes.iter().any(|c| c.table() == "NB_Global") {
                    self.probes.follow(self.nb_global());
                }
                self.feedback.observe(true, &changes);
                if reconnected {
                    tracing::info!("OVN NB IDL reconnected, force recompute.");
                    self.need_full = true;
                }
                self.compile(changes);
            }
            (Db::Sb, DbEvent::Snapshot(schema, rows)) => {
                let changes = self.sb.replace(&rows);
                self.feedback.rescan();
                self.compile_sb(&changes);
                if self.reconciler.is_some() {
                    tracing::info!("OVN SB IDL reconnected, force recompute.");
                }
                self.reconciler = Some(Reconciler::new(schema, SB_TABLES));
                self.need_full = true;
            }
            (
                Db::Sb,
                DbEvent::Changes {
                    changes,
                    reconnected,
                },
            ) => {
                self.sb.apply(&changes);
                self.feedback.observe(false, &changes);
                if reconnected {
                    tracing::info!("OVN SB IDL reconnected, force recompute.");
                    self.need_full = true;
                }
                self.compile_sb(&changes);
            }
        }
        let _ = at;
    }

    fn on_lock(&mut self, ev: LockEvent) {
        match ev {
            LockEvent::Acquired if !self.lock_held => {
                tracing::info!("ovn-northd lock acquired. This ovn-northd instance is now active.");
                self.lock_held = true;
                self.need_full = true;
            }
            LockEvent::Lost if self.lock_held => {
                tracing::info!("ovn-northd lock lost. This ovn-northd instance is now on standby.");
                self.lock_held = false;
            }
            _ => {}
        }
    }

    /// (Re)builds the compiler from the whole NB, with the SB's tunnel keys.
    fn build_compiler(&mut self) {
        let t = Instant::now();
        let mut c = match Compiler::new(Options {
            workers: self.n_threads,
        }) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cannot start the compiler: {e}");
                return;
            }
        };
        let (dps, ports, groups) = sb_keys(&self.nb, &self.sb);
        c.adopt_keys(dps, ports, groups);
        c.apply_sb(&self.sb.to_changes());
        match c.load(self.nb.to_changes()) {
            Ok(()) => {
                self.target_cfg = wanted_cfg(&c);
                self.rebuild = false;
                self.compiler = Some(c);
                let elapsed = t.elapsed();
                self.stats(|s| {
                    s.time("full_compile", elapsed);
                    s.add("recompute", 1);
                });
                tracing::info!(
                    "compiled the Northbound database from scratch in {:.1} ms",
                    elapsed.as_secs_f64() * 1000.0
                );
            }
            Err(e) => {
                tracing::error!("Northbound database cannot be compiled: {e}");
                self.compiler = None;
                self.rebuild = true;
            }
        }
        self.pending.clear();
        self.need_full = true;
    }

    /// The SB as a full reconciliation reads it: the monitored tables and
    /// the [`UNMONITORED`] ones, read now (all at one point).
    async fn sb_view(&self) -> Result<Mirror, String> {
        let schema = self
            .reconciler
            .as_ref()
            .map(|r| r.schema().clone())
            .ok_or("no Southbound schema yet")?;
        let tables: Vec<String> = UNMONITORED
            .iter()
            .filter(|t| schema.table(t).is_some())
            .map(|t| t.to_string())
            .collect();
        let (tx, rx) = oneshot::channel();
        self.sb_writer
            .send(WriteCmd::Snapshot {
                schema,
                tables: tables.clone(),
                reply: tx,
            })
            .map_err(|_| "writer gone".to_string())?;
        let rows = rx.await.map_err(|_| "writer gone".to_string())??;
        let mut view = self.sb.clone();
        for table in &tables {
            view.set_table(table, crate::mirror::Rows::new());
        }
        view.apply(&rows);
        Ok(view)
    }

    /// One iteration: write what the SB and NB lack, if active.
    async fn step(&mut self) {
        self.publish();
        if !self.nb_ready || self.reconciler.is_none() {
            return;
        }
        if self.compiler.is_none() || self.rebuild {
            self.build_compiler();
            if self.compiler.is_none() {
                return;
            }
        }
        if !self.lock_held || self.paused {
            // Standby: keep compiling; reconcile when we become active.
            self.pending.clear();
            self.need_full = true;
            return;
        }
        if self.retry_at.is_some() {
            return;
        }
        let now_ms = wall_msec();
        let t = Instant::now();
        let full = self.need_full;
        let view = if full {
            match self.sb_view().await {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!("cannot read the Southbound database: {e}");
                    self.retry_at = Some(tokio::time::Instant::now() + RETRY);
                    return;
                }
            }
        } else {
            None
        };
        let (Some(compiler), Some(reconciler)) = (self.compiler.as_mut(), self.reconciler.as_ref())
        else {
            return;
        };
        let since = self.pending.since;
        let (plan, stream) = SbStream::plan(self.sb_writer.clone());
        let mut plan = if let Some(view) = view {
            let (dps, ports, groups) = sb_keys(&self.nb, &view);
            compiler.adopt_keys(dps, ports, groups);
            reconciler.full_into(plan, &compiler.sb_state(), &view)
        } else {
            let delta = self.pending.take(compiler);
            reconciler.incremental_into(plan, delta, &self.sb)
        };
        let plan_time = t.elapsed();
        let target_cfg = self.target_cfg;
        let sb_has_cfg = self
            .sb
            .table("SB_Global")
            .values()
            .next()
            .and_then(|g| g.get("nb_cfg").and_then(|d| d.as_i64()));
        let copied = target_cfg.is_some() && target_cfg != sb_has_cfg;
        let committed = !plan.is_empty();
        if !plan.is_empty() {
            let counts = (plan.inserts, plan.updates, plan.deletes);
            let bytes = plan.text_len() as u64;
            let streamed = plan.spilled();
            let t = Instant::now();
            let r = if streamed {
                stream.finish(plan.ops.take_text()).await
            } else {
                let assert = RawOps::from(vec![assert_lock()]);
                let ops = std::mem::take(&mut plan.ops);
                transact(&self.sb_writer, vec![assert, ops]).await
            };
            let commit = t.elapsed();
            match r {
                Ok(_) => {
                    if let Some(rec) = self.reconciler.as_mut() {
                        rec.committed(plan);
                    }
                    self.stats(|s| {
                        s.time(if full { "full_reconcile" } else { "sb_plan" }, plan_time);
                        s.time("sb_commit", commit);
                        if let Some(since) = since {
                            s.time("nb_to_sb", since.elapsed());
                        }
                        s.add("sb_txn", 1);
                        s.add("sb_txn_streamed", u64::from(streamed));
                        s.add("sb_txn_bytes", bytes);
                        s.add("sb_rows_inserted", counts.0 as u64);
                        s.add("sb_rows_updated", counts.1 as u64);
                        s.add("sb_rows_deleted", counts.2 as u64);
                        if full {
                            s.add("sb_full_reconcile", 1);
                        }
                    });
                    if full {
                        tracing::info!(
                            "Southbound reconciled: {} inserted, {} updated, {} deleted",
                            counts.0,
                            counts.1,
                            counts.2
                        );
                    }
                }
                Err(e) => {
                    tracing::info!("OVNSB commit failed, force recompute next time. ({e})");
                    self.stats(|s| s.add("sb_txn_failed", 1));
                    self.need_full = true;
                    self.retry_at = Some(tokio::time::Instant::now() + RETRY);
                    return;
                }
            }
        } else if full {
            let adopted = self.reconciler.as_ref().map_or(0, |r| r.binding.adopted());
            tracing::info!("Southbound already up to date ({adopted} rows adopted)");
            if let Some(rec) = self.reconciler.as_mut() {
                rec.committed(plan);
            }
            self.stats(|s| {
                s.time("full_reconcile", plan_time);
                s.add("sb_full_reconcile", 1);
            });
        }
        self.need_full = false;
        self.pending.clear();
        self.sb_cfg = target_cfg;
        if !self.first_sync_done {
            self.first_sync_done = true;
            let d = self.started.elapsed();
            self.stats(|s| s.time("start_to_sb", d));
            tracing::info!(
                "Southbound in step {:.1} ms after start",
                d.as_secs_f64() * 1000.0
            );
        }
        if !(self.feedback_due || copied || committed || full) {
            return;
        }
        self.feedback_due = false;
        let t = Instant::now();
        let bfd = self
            .compiler
            .as_ref()
            .map(|c| {
                c.sb_table("BFD")
                    .filter_map(|r| match r {
                        ovnflow_compiler::SbRecord::Bfd(b) => Some((
                            (b.logical_port.clone(), b.dst_ip.clone()),
                            b.nb_status.clone(),
                        )),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let nb_ops = self.feedback.plan(
            &self.nb,
            &self.sb,
            Cycle {
                sb_cfg: self.sb_cfg,
                copied_nb_cfg: copied,
                now_ms,
                bfd,
            },
        );
        let elapsed = t.elapsed();
        self.stats(|s| s.time("nb_feedback_plan", elapsed));
        if !nb_ops.is_empty() {
            match transact(&self.nb_writer, vec![RawOps::from(nb_ops)]).await {
                Ok(_) => self.stats(|s| s.add("nb_txn", 1)),
                Err(e) => {
                    tracing::info!("OVNNB commit failed, force recompute next time. ({e})");
                    self.stats(|s| s.add("nb_txn_failed", 1));
                    self.feedback = Feedback::default();
                    self.feedback_due = true;
                    self.retry_at = Some(tokio::time::Instant::now() + RETRY);
                }
            }
        }
    }
}

fn remotes(list: &str, what: &str) -> Result<Vec<Remote>, DaemonError> {
    Remote::parse_list(list).map_err(|e| DaemonError(format!("{what} {list}: {e}")))
}

/// Runs the daemon until `exit` or a termination signal. Call from within
/// a tokio runtime (multi-threaded, so connections run while we compile).
pub async fn run(config: Config) -> Result<(), DaemonError> {
    run_with_ready(config, |_| Ok(())).await
}

/// [`run`], calling `ready` once the control socket listens; what it
/// returns (e.g. a pid file) is kept until the daemon stops.
pub async fn run_with_ready<G>(
    config: Config,
    ready: impl FnOnce(&Config) -> std::io::Result<G>,
) -> Result<(), DaemonError> {
    let nb_remotes = remotes(&config.nb_db, "--ovnnb-db")?;
    let sb_remotes = remotes(&config.sb_db, "--ovnsb-db")?;
    tracing::info!(
        "OVN internal version is : [{}]",
        ovnflow_compiler::rules::global::NORTHD_INTERNAL_VERSION
    );
    let shared = Arc::new(Mutex::new(Shared {
        paused: config.paused,
        n_threads: config.n_threads,
        ..Shared::default()
    }));
    let (ctl_tx, mut ctl_rx) = mpsc::unbounded_channel();
    let _unixctl =
        UnixctlServer::start(&config.unixctl, commands(), handler(shared.clone()), ctl_tx)
            .map_err(|e| DaemonError(e.to_string()))?;
    let _ready = ready(&config).map_err(|e| DaemonError(e.to_string()))?;
    let (db_tx, mut db_rx) = mpsc::unbounded_channel();
    let (nb_reset_tx, nb_reset_rx) = mpsc::unbounded_channel();
    let (sb_reset_tx, sb_reset_rx) = mpsc::unbounded_channel();
    let (lock_tx, mut lock_rx) = mpsc::unbounded_channel();
    let (sb_w_tx, sb_w_rx) = mpsc::unbounded_channel();
    let (nb_w_tx, nb_w_rx) = mpsc::unbounded_channel();
    let (nb_lock_tx, _nb_lock_rx) = mpsc::unbounded_channel();
    let probes = Probes::new(&nb_remotes, &sb_remotes);
    let tasks = [
        spawn_monitor(
            nb_remotes.clone(),
            Db::Nb,
            Vec::new(),
            db_tx.clone(),
            nb_reset_rx,
            probes.of(Db::Nb).clone(),
        ),
        spawn_monitor(
            sb_remotes.clone(),
            Db::Sb,
            monitored_sb_tables(),
            db_tx,
            sb_reset_rx,
            probes.of(Db::Sb).clone(),
        ),
        spawn_writer(
            sb_remotes,
            Db::Sb,
            Some(LOCK_NAME),
            sb_w_rx,
            lock_tx,
            probes.of(Db::Sb).clone(),
        ),
        spawn_writer(
            nb_remotes,
            Db::Nb,
            None,
            nb_w_rx,
            nb_lock_tx,
            probes.of(Db::Nb).clone(),
        ),
    ];
    let mut d = Daemon {
        shared,
        n_threads: config.n_threads,
        nb: Mirror::default(),
        sb: Mirror::default(),
        nb_ready: false,
        reconciler: None,
        compiler: None,
        rebuild: false,
        pending: Pending::default(),
        need_full: true,
        lock_held: false,
        paused: config.paused,
        sb_cfg: None,
        target_cfg: None,
        feedback: Feedback::default(),
        feedback_due: true,
        sb_writer: sb_w_tx,
        nb_writer: nb_w_tx,
        retry_at: None,
        started: Instant::now(),
        first_sync_done: false,
        probes,
    };
    if !d.paused {
        let _ = d.sb_writer.send(WriteCmd::WantLock(true));
    }
    d.publish();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| DaemonError(format!("SIGTERM handler: {e}")))?;
    let mut exiting = false;
    while !exiting {
        let retry = d.retry_at;
        let mut ctls = Vec::new();
        tokio::select! {
            Some((db, ev)) = db_rx.recv() => d.on_db(db, ev),
            Some(l) = lock_rx.recv() => d.on_lock(l),
            Some(c) = ctl_rx.recv() => ctls.push(c),
            _ = async { tokio::time::sleep_until(retry.unwrap_or_else(tokio::time::Instant::now)).await }, if retry.is_some() => {
                d.retry_at = None;
            }
            _ = tokio::signal::ctrl_c() => exiting = true,
            _ = term.recv() => exiting = true,
        }
        // Take everything already queued before computing.
        while let Ok((db, ev)) = db_rx.try_recv() {
            d.on_db(db, ev);
        }
        while let Ok(l) = lock_rx.try_recv() {
            d.on_lock(l);
        }
        while let Ok(c) = ctl_rx.try_recv() {
            ctls.push(c);
        }
        for c in ctls {
            match c {
                Ctl::Exit => exiting = true,
                Ctl::Pause => {
                    if !d.paused {
                        tracing::info!("This ovn-northd instance is now paused.");
                    }
                    d.paused = true;
                    let _ = d.sb_writer.send(WriteCmd::WantLock(false));
                }
                Ctl::Resume => {
                    d.paused = false;
                    let _ = d.sb_writer.send(WriteCmd::WantLock(true));
                }
                Ctl::Recompute => d.rebuild = true,
                Ctl::ResetNb => {
                    let _ = nb_reset_tx.send(());
                }
                Ctl::ResetSb => {
                    let _ = sb_reset_tx.send(());
                }
                Ctl::SetThreads(n) => {
                    d.n_threads = n;
                    d.rebuild = true;
                }
            }
        }
        if !exiting {
            d.step().await;
        }
        d.publish();
    }
    tracing::info!("exiting");
    for t in tasks {
        t.abort();
    }
    Ok(())
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
