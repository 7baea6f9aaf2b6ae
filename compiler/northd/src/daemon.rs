//! The main loop (ovn-northd.c `main()`): NB and SB monitors feed local
//! mirrors; NB changes go through the compiler; while this instance holds
//! the SB lock `ovn_northd` and is not paused, the resulting SB changes are
//! written in one SB transaction per iteration (asserting the lock), then
//! what northd reports back to the NB. A standby instance keeps compiling,
//! so that taking over is a reconciliation that normally writes nothing.
//!
//! Layout: this module holds the daemon's state and the loop; `events`
//! takes in what the monitors and the lock report, `compile` feeds the
//! compiler (and rebuilds it), `step` writes one iteration's SB
//! transaction and NB feedback, `control` answers the control socket.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ovnflow_compiler::Compiler;
use ovsdb::remote::Remote;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::feedback::Feedback;
use crate::link::{spawn_monitor, spawn_writer, Db, Probes, WriteCmd};
use crate::mirror::Mirror;
use crate::pending::Pending;
use crate::reconcile::Reconciler;
use crate::stats::Stats;
use crate::unixctl::UnixctlServer;

mod compile;
mod control;
mod events;
mod step;

use control::{commands, handler};
pub use control::{Ctl, Shared};

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
}

fn remotes(list: &str, what: &str) -> Result<Vec<Remote>, DaemonError> {
    Remote::parse_list(list).map_err(|e| DaemonError(format!("{what} {list}: {e}")))
}

/// The daemon: runs until `exit` or a termination signal. Await it in a
/// tokio runtime (multi-threaded, so connections run while we compile).
/// The pid file (`config.pidfile`) is written once the control socket
/// listens and removed when the daemon stops.
///
/// Boxed here so that the daemon's code is compiled once, in this crate:
/// an `async fn`'s body is compiled in every crate that awaits it (issue 3).
pub fn run(
    config: Config,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), DaemonError>>>> {
    Box::pin(daemon(config))
}

async fn daemon(config: Config) -> Result<(), DaemonError> {
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
    let _pidfile = config
        .pidfile
        .as_deref()
        .map(crate::process::PidFile::create)
        .transpose()
        .map_err(|e| DaemonError(e.to_string()))?;
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
