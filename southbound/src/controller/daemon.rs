//! The controller's main loop (see the module documentation of
//! [`super`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ovsdb::client::{Options as DbOptions, ReplicaSession};
use ovsdb::db::RowChange;
use ovsdb::remote::Remote;
use ovsdb::sb::{ChassisPrivate, SbGlobal};
use ovsdb::typed::TypedRow;
use ovsdb::Database;
use serde_json::Value;
use tokio::sync::mpsc;

use super::ovs::{BridgePorts, LocalConfig, OvsView};
use super::pinctrl_buffer::Buffered;
use super::pinctrl_svc::Monitors;
use super::status::Status;
use super::{bindings, monitor, ports, register, sb_changes, ControllerError};
use crate::actions::OfAction;
use crate::flow_table::OfFlow;
use crate::incremental::{changed_keys, ChassisCompute, LocalChange, SbChange};
use crate::openflow::conn::{Connection, Options as OfOptions};
use crate::openflow::groups::group_from_spec;
use crate::openflow::installer::{Changes, Desired, Installer, SyncReport};
use crate::openflow::meters::meter_for_entry;
use crate::openflow::wire::Body;
use crate::sbdb::Southbound;

mod first;
mod packet_in;
mod startup;
mod svc;

use startup::Startup;

use packet_in::{new_mac_bindings, send_buffered};

/// `OFPT_SET_CONFIG`.
const OFPT_SET_CONFIG: u8 = 9;

/// Daemon settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The local Open_vSwitch database (`unix:PATH`).
    pub ovs_db: String,
    /// Where `BRIDGE.mgmt` is (`$OVS_RUNDIR`).
    pub ovs_rundir: PathBuf,
}

/// Requests from the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Stop.  `cleanup`: first release our bindings and delete our
    /// `Chassis`/`Chassis_Private` rows, as `ovn-appctl exit` does without
    /// `--restart`.
    Exit {
        /// Whether to unregister first.
        cleanup: bool,
    },
    /// Recompute and reinstall the difference.
    Recompute,
}

fn db_err(what: &str, e: impl std::fmt::Display) -> ControllerError {
    ControllerError::Database(format!("{what}: {e}"))
}

fn typed<T: TypedRow>(db: &Database) -> Vec<T> {
    db.table(T::TABLE)
        .into_iter()
        .flat_map(|t| t.iter())
        .filter_map(|(u, r)| T::from_row(*u, r).ok())
        .collect()
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn transact(session: &ReplicaSession, db: &str, ops: Vec<Value>) -> bool {
    if ops.is_empty() {
        return true;
    }
    let Some(conn) = session.connection() else {
        return false;
    };
    match conn.transact_checked(db, ops).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!("{db} transaction failed: {e}");
            false
        }
    }
}

/// Whether a flow uses a group or meter that is not installed.
fn uses_missing(actions: &[OfAction], groups: &BTreeSet<u32>, meters: &BTreeSet<u32>) -> bool {
    actions.iter().any(|a| match a {
        OfAction::Group(g) => !groups.contains(g),
        OfAction::Meter(m) => !meters.contains(m),
        OfAction::Clone(inner) => uses_missing(inner, groups, meters),
        OfAction::Ct { exec, .. } => uses_missing(exec, groups, meters),
        _ => false,
    })
}

struct Daemon {
    config: Config,
    status: Status,
    installer: Installer,
    pin: Option<Connection>,
    mgmt: PathBuf,
    last_bound: BTreeSet<String>,
    /// The incremental engine, once registered.
    compute: Option<ChassisCompute>,
    /// SB row changes not yet given to the engine.
    pending_sb: Vec<RowChange>,
    /// Whether the next install must compare the whole table (after a
    /// failed install or a new engine).
    force_full: bool,
    /// The local Open_vSwitch view, and the changes to the database not
    /// yet applied to it.
    ovs_view: Option<std::sync::Arc<OvsView>>,
    pending_ovs: Vec<RowChange>,
    /// The integration bridge as read from `ovs_view`, until it changes.
    bridge_ports: Option<std::sync::Arc<BridgePorts>>,
    /// Packets waiting for a next hop's MAC.
    buffered: Buffered,
    /// `MAC_Binding` rows (port, ip, mac) that appeared or changed and
    /// were not yet matched against the buffered packets.
    new_macs: Vec<(String, String, String)>,
    /// Our chassis name (`system-id`), for the rows packet-ins write.
    system_id: String,
    /// The last `Controller_Event.seq_num` we wrote.
    event_seq: i64,
    /// Load balancer health checks of local backends, and their next run.
    svc: Monitors,
    svc_next: Option<tokio::time::Instant>,
    /// The start-up timeline.
    startup: Startup,
}

/// The daemon: runs until `exit` or SIGTERM/SIGINT.  Await it in a tokio
/// runtime.
///
/// Boxed here so that the daemon's code is compiled once, in this crate:
/// an `async fn`'s body is compiled in every crate that awaits it, and
/// both binaries of `ovnflow` did (issue 3).
pub fn run(
    config: Config,
    status: Status,
    control: mpsc::UnboundedReceiver<Control>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ControllerError>>>> {
    Box::pin(daemon(config, status, control))
}

async fn daemon(
    config: Config,
    status: Status,
    mut control: mpsc::UnboundedReceiver<Control>,
) -> Result<(), ControllerError> {
    let startup = Startup::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| ControllerError::Input(format!("SIGTERM handler: {e}")))?;
    let remotes = Remote::parse_list(&config.ovs_db).map_err(|e| db_err(&config.ovs_db, e))?;
    // The settings the Southbound connection needs, read first with one
    // `select`: the Southbound monitor (and the switch connection) are
    // then set up while the local database's monitor is.
    let early = startup::external_ids(&remotes)
        .await
        .and_then(|ids| LocalConfig::from_external_ids(&ids).ok().flatten())
        .and_then(|c| Some((Remote::parse_list(&c.remote).ok()?, c)));
    startup.mark(|| "Open_vSwitch external_ids read".into());
    let ovs_connect = ReplicaSession::connect_selected(
        remotes,
        "Open_vSwitch",
        monitor::open_vswitch(),
        false,
        DbOptions::default(),
    );
    let mut early_installer = None;
    let (ovs, early_sb) = match &early {
        Some((sb_remotes, c)) => {
            let installer = early_installer.insert(new_installer(&config, &c.bridge));
            let ovs_connect = async {
                let r = ovs_connect.await;
                startup.mark(|| "Open_vSwitch monitor reply applied".into());
                r
            };
            // The Southbound first: its monitor reply is the longer wait.
            // The local database's connection starts a turn of the
            // runtime later, so that its schema is parsed after the
            // Southbound's requests are out, not before.
            let (sb, ovs) = tokio::join!(
                connect_sb(sb_remotes.clone(), installer, Some(&startup)),
                async {
                    tokio::task::yield_now().await;
                    ovs_connect.await
                }
            );
            (ovs, Some(sb))
        }
        None => (ovs_connect.await, None),
    };
    let mut ovs = ovs.map_err(|e| db_err(&config.ovs_db, e))?;
    let n = ovs
        .next()
        .await
        .map_err(|e| db_err(&config.ovs_db, e))?
        .len();
    tracing::info!("{}: connected", config.ovs_db);
    startup.mark(|| format!("Open_vSwitch monitored ({n} rows)"));
    // Wait for system-id and ovn-remote.
    let (cfg, ovs_view) = loop {
        let view = OvsView::from_database(ovs.replica().database())?;
        let ids = view
            .root
            .as_ref()
            .map(|r| r.external_ids.clone())
            .unwrap_or_default();
        if let Some(c) = LocalConfig::from_external_ids(&ids)? {
            break (c, view);
        }
        tokio::select! {
            r = ovs.next() => { r.map_err(|e| db_err(&config.ovs_db, e))?; }
            Some(Control::Exit { .. }) = control.recv() => return Ok(()),
            _ = term.recv() => return Ok(()),
        }
    };
    let sb_remotes = Remote::parse_list(&cfg.remote)
        .map_err(|e| db_err("Open_vSwitch external_ids:ovn-remote", e))?;
    let mgmt = config.ovs_rundir.join(format!("{}.mgmt", cfg.bridge));
    // What was set up early counts if the settings still say the same.
    let same = early
        .as_ref()
        .is_some_and(|(_, c)| c.remote == cfg.remote && c.bridge == cfg.bridge);
    let mut installer = match early_installer {
        Some(i) if same => i,
        _ => new_installer(&config, &cfg.bridge),
    };
    let mut early_sb = early_sb.filter(|_| same);
    let mut delay = Duration::from_millis(100);
    let mut sb = loop {
        let result = match early_sb.take() {
            Some(r) => r,
            None => connect_sb(sb_remotes.clone(), &mut installer, None).await,
        };
        match result {
            Ok(s) => break s,
            Err(e) => tracing::info!("{}: {e}; retrying", cfg.remote),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            Some(Control::Exit { .. }) = control.recv() => return Ok(()),
            _ = term.recv() => return Ok(()),
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    };
    startup.mark(|| "OVN_Southbound monitor reply applied".into());
    let initial = sb.next().await.map_err(|e| db_err(&cfg.remote, e))?;
    tracing::info!("{}: connected", cfg.remote);
    startup.mark(|| format!("OVN_Southbound: {} rows", initial.len()));
    // The first compute reads the whole replica: these need no
    // classification.
    drop(initial);
    let mut d = Daemon {
        config,
        status,
        installer,
        pin: None,
        mgmt,
        last_bound: BTreeSet::new(),
        compute: None,
        pending_sb: Vec::new(),
        force_full: true,
        // As just read (nothing was received since).
        ovs_view: Some(std::sync::Arc::new(ovs_view)),
        pending_ovs: Vec::new(),
        bridge_ports: None,
        buffered: Buffered::new(),
        new_macs: Vec::new(),
        system_id: cfg.system_id.clone(),
        event_seq: 0,
        svc: Monitors::new(),
        svc_next: None,
        startup,
    };
    let mut dirty = true;
    let mut retry: Option<tokio::time::Instant> = None;
    loop {
        if dirty {
            dirty = false;
            // Take every update already received, so that one run (one
            // bundle) covers them all.
            loop {
                tokio::select! {
                    biased;
                    r = sb.next() => d.pending_sb.extend(r.map_err(|e| db_err(&cfg.remote, e))?),
                    r = ovs.next() => d.pending_ovs.extend(r.map_err(|e| db_err(&d.config.ovs_db, e))?),
                    _ = std::future::ready(()) => break,
                }
            }
            match d.run_once(&ovs, &sb).await {
                Ok(()) => retry = None,
                Err(e) => {
                    tracing::warn!("{e}");
                    retry = Some(tokio::time::Instant::now() + Duration::from_millis(500));
                }
            }
            d.ensure_pinctrl().await;
            d.svc_sync(&sb).await;
        }
        if let Ok(mut s) = d.status.lock() {
            s.sb_connected = sb.connection().is_some();
        }
        let svc_at = d.svc_next;
        let pin = &mut d.pin;
        tokio::select! {
            r = ovs.next() => { d.pending_ovs.extend(r.map_err(|e| db_err(&d.config.ovs_db, e))?); dirty = true; }
            r = sb.next() => { d.pending_sb.extend(r.map_err(|e| db_err(&cfg.remote, e))?); dirty = true; }
            m = async {
                match pin.as_mut() {
                    Some(c) => c.next_async().await,
                    None => std::future::pending().await,
                }
            } => match m {
                Some(m) => d.packet_in(&sb, m.body).await,
                None => { d.pin = None; retry.get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_secs(1)); }
            },
            c = control.recv() => match c {
                Some(Control::Recompute) => {
                    // A full recompute from the whole Southbound.
                    d.compute = None;
                    dirty = true;
                }
                Some(Control::Exit { cleanup }) => {
                    if cleanup {
                        d.unregister(&sb, &cfg).await;
                    }
                    break;
                }
                None => {}
            },
            _ = async { tokio::time::sleep_until(retry.unwrap_or_else(tokio::time::Instant::now)).await }, if retry.is_some() => {
                retry = None;
                dirty = true;
            }
            _ = async { tokio::time::sleep_until(svc_at.unwrap_or_else(tokio::time::Instant::now)).await }, if svc_at.is_some() => {
                d.svc_tick(&sb).await;
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    tracing::info!("exiting");
    Ok(())
}

/// The installer for `bridge`'s management socket (not connected).
fn new_installer(config: &Config, bridge: &str) -> Installer {
    let mgmt = config.ovs_rundir.join(format!("{bridge}.mgmt"));
    Installer::new(&mgmt).with_options(OfOptions::default(), Duration::from_secs(2))
}

/// One attempt at the Southbound monitor; the switch connection is tried
/// once meanwhile, unless it is up ([`Installer::connect_once`]: without
/// a socket yet, that fails at once).
async fn connect_sb(
    remotes: Vec<Remote>,
    installer: &mut Installer,
    startup: Option<&Startup>,
) -> Result<ReplicaSession, ovsdb::client::ClientError> {
    let attempt = ReplicaSession::connect_selected(
        remotes,
        "OVN_Southbound",
        monitor::southbound(),
        false,
        DbOptions::default(),
    );
    let switch = async {
        let connected = installer.connect_once().await;
        if let Some(s) = startup {
            s.mark(|| format!("switch connected: {connected}"));
        }
    };
    tokio::join!(attempt, switch).0
}

impl Daemon {
    async fn ensure_pinctrl(&mut self) {
        if self.pin.as_ref().is_some_and(|c| !c.is_closed()) {
            return;
        }
        self.pin = None;
        if !self.mgmt.exists() {
            return;
        }
        match Connection::connect(&self.mgmt).await {
            Ok(mut c) => {
                // pinctrl's setup: packet-ins as NXT_PACKET_IN2, and
                // OFPT_SET_CONFIG miss_send_len=65535 — without it a
                // service connection (the `.mgmt` socket) gets no
                // packet-ins at all.
                let set_config = Body::Unknown {
                    msg_type: OFPT_SET_CONFIG,
                    body: vec![0, 0, 0xff, 0xff],
                };
                if c.set_packet_in_format().await.is_ok() && c.send(set_config).await.is_ok() {
                    self.pin = Some(c);
                }
            }
            Err(e) => tracing::debug!("pinctrl: {e}"),
        }
    }

    /// `exit` without `--restart`: release our bindings, delete our rows.
    async fn unregister(&mut self, sb: &ReplicaSession, cfg: &LocalConfig) {
        let db = sb.replica().database();
        let Ok(view) = Southbound::from_database(db) else {
            return;
        };
        let Some(me) = view.chassis_by_name(&cfg.system_id).map(|c| c.uuid) else {
            return;
        };
        let (mut ops, _) = bindings::sb_ops(&view, me, &cfg.system_id, &BTreeSet::new());
        for p in typed::<ChassisPrivate>(db) {
            if p.name == cfg.system_id {
                ops.push(super::ops::delete("Chassis_Private", &p.uuid));
            }
        }
        ops.push(super::ops::delete("Chassis", &me));
        transact(sb, "OVN_Southbound", ops).await;
    }

    async fn run_once(
        &mut self,
        ovs: &ReplicaSession,
        sb: &ReplicaSession,
    ) -> Result<(), ControllerError> {
        let t0 = Instant::now();
        // The OVS view follows the OVS updates row by row (our own writes
        // after each acknowledgement come back as one); it is read whole
        // only when there is none, or an update did not read.
        let ovs_changes = std::mem::take(&mut self.pending_ovs);
        if !ovs_changes.is_empty() || self.ovs_view.is_none() {
            self.bridge_ports = None;
        }
        match self.ovs_view.as_mut() {
            Some(_) if ovs_changes.is_empty() => {}
            Some(v) => {
                if let Err(e) = std::sync::Arc::make_mut(v).apply(&ovs_changes) {
                    self.ovs_view = None;
                    return Err(e);
                }
            }
            None => {
                self.ovs_view = Some(std::sync::Arc::new(OvsView::from_database(
                    ovs.replica().database(),
                )?))
            }
        }
        drop(ovs_changes);
        let Some(ovsv) = self.ovs_view.clone() else {
            return Ok(());
        };
        let ovsv = &*ovsv;
        let Some(root) = ovsv.root.clone() else {
            return Ok(());
        };
        let Some(cfg) = LocalConfig::from_external_ids(&root.external_ids)? else {
            return Ok(());
        };
        let Some(bridge) = ovsv.bridges.get(&cfg.bridge).cloned() else {
            tracing::info!("creating integration bridge {}", cfg.bridge);
            transact(ovs, "Open_vSwitch", ports::create_bridge_ops(ovsv, &cfg)).await;
            return Ok(());
        };
        let sbdb = sb.replica().database();
        let pending = std::mem::take(&mut self.pending_sb);
        if !self.buffered.is_empty() {
            self.new_macs.extend(new_mac_bindings(&pending));
        }
        let classified = match sb_changes::classify(&pending) {
            Ok(c) => c,
            Err(e) => {
                // The engine missed these rows: start again from the whole
                // Southbound once it is readable.
                self.compute = None;
                return Err(e);
            }
        };
        // The changes hold the rows as they were before (the replica
        // holds them as they are): let those go before computing and
        // installing, not after.
        drop(pending);
        let privates = typed::<ChassisPrivate>(sbdb);
        let sb_nb_cfg = typed::<SbGlobal>(sbdb).first().map_or(0, |g| g.nb_cfg);
        let read_all =
            || Southbound::from_database(sbdb).map_err(|e| ControllerError::Input(e.to_string()));

        // The local configuration: VIFs and patch ports on the bridge.
        let bridge_ports = match &self.bridge_ports {
            Some(b) if b.bridge == cfg.bridge => b.clone(),
            _ => self
                .bridge_ports
                .insert(std::sync::Arc::new(BridgePorts::read(ovsv, &cfg.bridge)))
                .clone(),
        };
        let BridgePorts {
            vifs,
            vif_ports,
            patch_ofports,
            ct_zones: have_zones,
            tunnels,
            ..
        } = &*bridge_ports;
        if self.compute.as_ref().is_some_and(|c| {
            c.chassis().name != cfg.system_id || c.chassis().patch_ofports != *patch_ofports
        }) {
            self.compute = None;
        }

        // The engine: SB and VIF changes in, flow changes out.
        let t1 = Instant::now();
        let mut whole = None;
        if classified.full && self.compute.is_some() {
            match read_all() {
                Ok(v) => whole = Some(v),
                Err(e) => {
                    self.compute = None;
                    return Err(e);
                }
            }
        }
        let mut fresh = None;
        let delta = match self.compute.as_mut() {
            Some(c) => {
                let mut local = Vec::new();
                for lp in changed_keys(&c.chassis().vifs, vif_ports) {
                    local.push(match vif_ports.get(lp) {
                        Some(&ofport) => LocalChange::BindVif(lp.clone(), ofport),
                        None => LocalChange::UnbindVif(lp.clone()),
                    });
                }
                // Tunnel ports made (by us, once the remote chassis is in
                // the Southbound) or gone.
                for name in changed_keys(&c.chassis().tunnels, tunnels) {
                    local.push(LocalChange::Tunnel(
                        name.clone(),
                        tunnels.get(name).copied(),
                    ));
                }
                if classified.is_empty() && local.is_empty() {
                    None
                } else {
                    let changes = match whole {
                        Some(v) => vec![SbChange::Other(Box::new(v))],
                        None => classified.changes,
                    };
                    Some(c.apply(changes, local))
                }
            }
            None => {
                fresh = Some(read_all()?);
                None
            }
        };
        let read = t0.elapsed().saturating_sub(t1.elapsed());

        // Registration (before the first compute: the view just read).
        let view_now = match (&fresh, &self.compute) {
            (Some(v), _) => v,
            (None, Some(c)) => c.southbound(),
            (None, None) => return Ok(()),
        };
        let me_row = view_now.chassis_by_name(&cfg.system_id);
        let existing = register::Existing {
            chassis: me_row,
            encaps: me_row
                .map(|c| {
                    c.encaps
                        .iter()
                        .filter_map(|e| view_now.encaps.get(e))
                        .collect()
                })
                .unwrap_or_default(),
            private: privates.iter().find(|p| p.name == cfg.system_id),
        };
        let dp_type = if cfg.datapath_type.is_empty() {
            bridge.datapath_type.clone()
        } else {
            cfg.datapath_type.clone()
        };
        let other = register::other_config(&root.external_ids, &dp_type, &root.iface_types);
        let reg = register::ops(&cfg, &other, &existing);
        let mut me = me_row.map(|c| c.uuid);
        let rows_missing = me.is_none() || existing.private.is_none();
        // A first compute does not wait for our new rows: the registration
        // is committed while the flows are computed and streamed, and the
        // acknowledgement below takes our rows' uuids from its reply.  The
        // engine sees them with the monitor's next update (no port refers
        // to our new `Chassis` row yet: nothing is recomputed).
        let mut registering = None;
        if !reg.is_empty() {
            if fresh.is_some() && rows_missing {
                registering = Some(reg);
            } else {
                transact(sb, "OVN_Southbound", reg).await;
                self.startup
                    .mark(|| "registration committed (Chassis, Chassis_Private)".into());
                if rows_missing {
                    // Go on once the monitor shows our rows.
                    return Ok(());
                }
            }
        } else if me.is_none() {
            return Ok(());
        }
        let full_compute = fresh.is_some();
        let mut stream = None;
        let mut registered = None;
        if let Some(view) = fresh {
            let chassis = bridge_ports.chassis(&cfg.system_id);
            let installer = &mut self.installer;
            let (c, s) = match registering.take() {
                None => first::compute_streamed(installer, view, chassis).await,
                Some(reg) => {
                    let commit = async {
                        let conn = sb.connection()?;
                        conn.transact_checked("OVN_Southbound", reg.clone())
                            .await
                            .map_err(|e| tracing::warn!("OVN_Southbound transaction failed: {e}"))
                            .ok()
                    };
                    let (results, cs) =
                        tokio::join!(commit, first::compute_streamed(installer, view, chassis));
                    registered = Some(register::inserted(&reg, &results.unwrap_or_default()));
                    cs
                }
            };
            self.compute = Some(c);
            stream = s;
            self.force_full = true;
        }
        let Some(compute) = self.compute.as_ref() else {
            return Ok(());
        };
        let compute_time = t1.elapsed();
        if full_compute {
            self.startup.mark(|| {
                format!(
                    "SB read {read:?}, full compute {compute_time:?} ({} sources, {} flows)",
                    compute.last_recomputed,
                    compute.installed_len()
                )
            });
        }

        // Groups and meters; flows using one that cannot be installed are
        // left out.
        let mut groups = BTreeMap::new();
        for (id, spec) in compute.groups().iter() {
            if let Some(g) = group_from_spec(id, spec) {
                groups.insert(id, g);
            }
        }
        let mut meters = BTreeMap::new();
        for (id, name) in compute.meters().iter() {
            if let Some(m) = meter_for_entry(id, name, compute.southbound()) {
                meters.insert(id, m);
            }
        }
        let group_ids: BTreeSet<u32> = groups.keys().copied().collect();
        let meter_ids: BTreeSet<u32> = meters.keys().copied().collect();
        let usable =
            |f: &&std::sync::Arc<OfFlow>| !uses_missing(&f.actions, &group_ids, &meter_ids);
        let t2 = Instant::now();
        let installer = &mut self.installer;
        let full = self.force_full || !installer.is_connected();
        let mut total = 0;
        let mut skipped = 0;
        let result = if let Some(s) = stream {
            total = compute.installed_len();
            let wanted: Vec<std::sync::Arc<OfFlow>> =
                compute.installed_shared().filter(usable).cloned().collect();
            skipped = total - wanted.len();
            let finals = first::finals(compute, |f| usable(&f));
            let desired = Desired {
                flows: wanted,
                groups,
                meters,
            };
            installer.finish_full(s, &desired, finals).await
        } else if full {
            total = compute.installed_len();
            let wanted: Vec<std::sync::Arc<OfFlow>> =
                compute.installed_shared().filter(usable).cloned().collect();
            skipped = total - wanted.len();
            let desired = Desired {
                flows: wanted,
                groups,
                meters,
            };
            installer.sync(&desired).await
        } else {
            let desired = Desired {
                flows: Vec::new(),
                groups,
                meters,
            };
            let changes = match &delta {
                Some(d) => Changes {
                    added: d.added.iter().filter(usable).cloned().collect(),
                    // Not filtered: a flow whose group is gone now was
                    // installed with it, and must go.
                    removed: d.removed.clone(),
                },
                None => Changes::default(),
            };
            installer.sync_changes(&desired, &changes).await
        };
        let report = match result {
            Ok(r) => {
                self.force_full = false;
                r
            }
            Err(e) => {
                self.force_full = true;
                return Err(ControllerError::OpenFlow(format!(
                    "{}: {e}",
                    self.mgmt.display()
                )));
            }
        };
        let install = t2.elapsed();
        self.startup
            .mark(|| format!("installed in {install:?}: {report:?}"));
        // Buffered packets whose next hop's MAC is now known
        // (`run_buffered_binding` + `send_mac_binding_buffered_pkts`).
        let macs = std::mem::take(&mut self.new_macs);
        self.buffered.gc(Instant::now());
        if !macs.is_empty() {
            let outs = self.buffered.release_for(compute.southbound(), &macs);
            send_buffered(&mut self.pin, &self.status, outs).await;
        }
        // Packet-ins also reach the installer's connection: drop them.
        if let Some(c) = installer.connection() {
            // Only what is there already: not `timeout(ZERO, …)`, whose
            // timer waits for the runtime's next millisecond tick.
            loop {
                tokio::select! {
                    biased;
                    m = c.next_async() => if m.is_none() { break },
                    _ = std::future::ready(()) => break,
                }
            }
        }

        // Our rows, when inserted during this run: as the transaction's
        // reply names them (the monitor shows them in a later run).
        let mut privates = privates;
        if let Some((chassis, private)) = registered {
            me = me.or(chassis);
            let have_private = privates.iter().any(|p| p.name == cfg.system_id);
            match (me, private) {
                (Some(_), _) if have_private => {}
                (Some(c), Some(uuid)) => privates.push(ChassisPrivate {
                    uuid,
                    name: cfg.system_id.clone(),
                    chassis: Some(c),
                    ..ChassisPrivate::default()
                }),
                _ => {
                    // The next run registers again (the flows are in).
                    return Err(ControllerError::Database(format!(
                        "{}: registering chassis '{}' failed",
                        cfg.remote, cfg.system_id
                    )));
                }
            }
            self.startup
                .mark(|| "registration committed (Chassis, Chassis_Private)".into());
        }
        let Some(me) = me else {
            return Ok(());
        };

        // With the flows in the switch: bindings, up, nb_cfg, zones, ports.
        let view = compute.southbound();
        let local = compute.local();
        let zones = local.ct_zones.clone();
        let now = wall_ms();
        let bound: BTreeSet<String> = local.bound.keys().cloned().collect();
        let (mut sb_ops, changes) = bindings::sb_ops(view, me, &cfg.system_id, &bound);
        let private = privates.iter().find(|p| p.name == cfg.system_id);
        let mut acked = None;
        if let Some(op) = private.and_then(|p| bindings::nb_cfg_op(p, sb_nb_cfg, now)) {
            sb_ops.push(op);
            acked = Some((sb_nb_cfg, now));
        }
        for p in &changes.claimed {
            tracing::info!("Claiming lport {p} for this chassis.");
        }
        for p in &changes.released {
            tracing::info!("Releasing lport {p} from this chassis.");
        }
        let bridge_cfg = match (acked, bridge.external_ids.get("ovn-nb-cfg")) {
            (Some(a), _) => Some(a),
            (None, Some(v)) if *v != sb_nb_cfg.to_string() => Some((sb_nb_cfg, now)),
            _ => None,
        };
        let mut ovs_ops = bindings::ovs_ops(vifs, &bound, now);
        ovs_ops.extend(bindings::bridge_ops(
            bridge.uuid,
            have_zones,
            &zones,
            bridge_cfg,
        ));
        ovs_ops.extend(ports::sync_ops(
            ovsv,
            "ovn-localnet-port",
            &ports::wanted_patch_ports(view, local, &cfg, ovsv),
        ));
        ovs_ops.extend(ports::sync_ops(
            ovsv,
            "ovn-chassis-id",
            &ports::wanted_tunnels(view, &cfg),
        ));
        let published = Published {
            zones,
            groups: compute
                .groups()
                .iter()
                .map(|(id, n)| (n.to_string(), id))
                .collect(),
            meters: compute
                .meters()
                .iter()
                .map(|(id, n)| (n.to_string(), id))
                .collect(),
            flows: if full { total } else { compute.installed_len() },
            skipped,
            recomputed: compute.last_recomputed,
        };
        let published_recomputed = published.recomputed;
        // Both transactions in flight together.
        tokio::join!(
            transact(sb, "OVN_Southbound", sb_ops),
            transact(ovs, "Open_vSwitch", ovs_ops)
        );
        self.last_bound = bound;
        if acked.is_some() && !self.startup.is_done() {
            self.startup
                .finish(|| "claims, up and nb_cfg committed: started".into());
        }
        self.publish(
            published,
            read,
            compute_time,
            install,
            &report,
            acked,
            private,
        );
        let msg = format!(
            "run: read {read:?}, compute {compute_time:?} ({} sources), install {install:?} ({} add, {} modify, {} delete)",
            published_recomputed, report.adds, report.modifies, report.deletes
        );
        if compute_time + install > Duration::from_millis(20) {
            tracing::info!("{msg}");
        } else {
            tracing::debug!("{msg}");
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn publish(
        &self,
        p: Published,
        read: Duration,
        compute: Duration,
        install: Duration,
        report: &SyncReport,
        acked: Option<(i64, i64)>,
        private: Option<&ChassisPrivate>,
    ) {
        let Ok(mut s) = self.status.lock() else {
            return;
        };
        s.ct_zones = p.zones;
        s.groups = p.groups;
        s.meters = p.meters;
        let st = &mut s.stats;
        st.runs += 1;
        st.flows = p.flows;
        if p.skipped > 0 || report.full_resync {
            st.skipped_flows = p.skipped;
        }
        st.last_recomputed = p.recomputed;
        st.last_read = read;
        st.last_compute = compute;
        st.last_install = install;
        st.max_compute = st.max_compute.max(compute);
        st.max_install = st.max_install.max(install);
        st.total_compute += compute;
        st.total_install += install;
        st.last_flow_mods = (report.adds, report.modifies, report.deletes);
        st.flow_mods.0 += report.adds as u64;
        st.flow_mods.1 += report.modifies as u64;
        st.flow_mods.2 += report.deletes as u64;
        if report.bundles > 0 {
            st.installs += 1;
        }
        if report.full_resync {
            st.full_resyncs += 1;
        }
        if let Some((c, _)) = acked {
            st.nb_cfg = c;
        } else if let Some(p) = private {
            st.nb_cfg = p.nb_cfg;
        }
    }
}

/// What one run publishes besides timings.
struct Published {
    zones: BTreeMap<String, u32>,
    groups: BTreeMap<String, u32>,
    meters: BTreeMap<String, u32>,
    flows: usize,
    skipped: usize,
    recomputed: usize,
}
