//! Keeps ovs-vswitchd's table equal to the desired one, as ovn-controller's
//! `ofctrl_put` does, over a [`Connection`]:
//!
//! * the installed flows are remembered by key (table, priority, match);
//!   a sync sends only the difference — `DELETE_STRICT` for flows no
//!   longer wanted, `ADD` for new keys (and for a changed cookie, which an
//!   `ADD` replaces), `MODIFY_STRICT` for changed actions — in one atomic
//!   bundle, so a changed SB row yields just the flow mods it implies
//!   (a change adding hundreds of clause flows of new conjunctive matches
//!   spreads them over more connections and bundles, committed before the
//!   main one: [`Installer::sync_changes`]);
//! * groups and meters likewise (meters outside the bundle, which OVS
//!   bundles cannot carry: added before, deleted after);
//! * after (re)connecting, the first sync is a full resync (`ofctrl`'s
//!   `S_CLEAR_FLOWS`): delete every flow and group in one bundle with the
//!   whole desired state, meters deleted and re-added around it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::flow_table::{ByKey, OfFlow};

use super::conn::{ConnError, Connection, Lazy, Options};
use super::convert::{self, ConvertError};
use super::wire::mods::{group_command, meter_command, GroupMod, MeterMod};
use super::wire::Body;

mod installed;
mod stream;

use installed::Installed;

pub use stream::{uses_group_or_meter, FullStream};

/// Installation failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    /// A desired flow cannot be encoded.
    #[error("flow `{flow}': {err}")]
    Convert {
        /// The flow, as ovs-ofctl prints it.
        flow: String,
        /// Why.
        err: ConvertError,
    },
    /// The connection failed.
    #[error(transparent)]
    Conn(#[from] ConnError),
}

/// What one sync sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Whether this was a full resync after (re)connecting.
    pub full_resync: bool,
    /// `ADD` flow mods.
    pub adds: usize,
    /// `MODIFY_STRICT` flow mods.
    pub modifies: usize,
    /// `DELETE_STRICT` flow mods.
    pub deletes: usize,
    /// Group mods.
    pub group_mods: usize,
    /// Meter mods.
    pub meter_mods: usize,
    /// Bundles committed (0 when nothing changed).
    pub bundles: usize,
}

/// The desired switch state.  Flows are shared with whoever computed them
/// (the installer keeps the same allocations as its view of the switch).
#[derive(Debug, Clone, Default)]
pub struct Desired {
    /// Flows (one per key; of several with one key, the last counts).
    pub flows: Vec<Arc<OfFlow>>,
    /// Groups by id (`ADD` group mods).
    pub groups: BTreeMap<u32, GroupMod>,
    /// Meters by id (`ADD` meter mods).
    pub meters: BTreeMap<u32, MeterMod>,
}

/// The flows of the desired table that changed since the last sync.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Flows now wanted (new, or replacing a flow with the same key).
    pub added: Vec<Arc<OfFlow>>,
    /// Flows no longer wanted (unless `added` has one with their key).
    pub removed: Vec<Arc<OfFlow>>,
}

/// The connection and the state installed through it.
pub struct Installer {
    path: PathBuf,
    options: Options,
    reconnect_timeout: Duration,
    conn: Option<Connection>,
    /// The installed flows, by key.
    flows: Installed,
    groups: BTreeMap<u32, GroupMod>,
    meters: BTreeMap<u32, MeterMod>,
    connects: usize,
    /// A connection made ahead ([`Installer::connect_once`]) whose first
    /// sync is still to come: that sync starts from a clean switch, as
    /// after any new connection.
    unsynced: bool,
    /// Connections made with the main one, which carry part of a large
    /// install: the first full install into an empty switch (see
    /// [`stream`]) and the clause flows of new conjunctive matches (see
    /// [`Installer::sync_changes`]).  All [`HELPERS`] of them, or none.
    helpers: Vec<Connection>,
    /// Whether the switch held no flow when the connection was made
    /// ahead, and nothing was installed since: the next
    /// [`Installer::begin_full`] may then spread its flows over the
    /// helpers.
    empty: bool,
}

/// How many more connections carry a large install (see [`stream`] and
/// [`Installer::sync_changes`]).
const HELPERS: usize = 3;

/// The fewest hidden clause flows (see [`Installer::sync_changes`]) worth
/// spreading over the helpers: below this, ovs-vswitchd reads the change
/// in a few turns of its main loop anyway, and more bundles only add
/// round trips.
const SPREAD_MIN: usize = 200;

fn convert_add(f: &OfFlow) -> Result<super::wire::FlowMod, InstallError> {
    convert::add_flow(f).map_err(|err| InstallError::Convert {
        flow: f.to_string(),
        err,
    })
}

/// One message of a bundle, converted only as it is sent (see
/// [`Connection::bundle_lazy`]): a full table's flow mods are never held
/// at once.
enum Op {
    /// `DELETE_STRICT` of an installed flow.
    Delete(Arc<OfFlow>),
    /// `ADD` of a flow.
    Add(Arc<OfFlow>),
    /// `MODIFY_STRICT` of a flow's actions.
    Modify(Arc<OfFlow>),
    /// A message made already (group mods, deleting everything).
    Ready(Body),
}

impl Op {
    fn make(self) -> Result<Lazy, InstallError> {
        Ok(Lazy::Body(Body::FlowMod(match self {
            Op::Delete(f) => convert::delete_flow(&f),
            Op::Add(f) => return Ok(Lazy::AddFlow(f)),
            Op::Modify(f) => {
                let mut fm = convert_add(&f)?;
                fm.command = super::wire::mods::flow_command::MODIFY_STRICT;
                fm.cookie = 0;
                fm
            }
            Op::Ready(body) => return Ok(Lazy::Body(body)),
        })))
    }
}

/// A flow that cannot be encoded, as the installer reports it.
fn flow_error(flow: &OfFlow, err: convert::ConvertError) -> InstallError {
    InstallError::Convert {
        flow: flow.to_string(),
        err,
    }
}

fn with_command<T: Clone>(m: &T, set: impl FnOnce(&mut T)) -> T {
    let mut m = m.clone();
    set(&mut m);
    m
}

impl Installer {
    /// An installer for the switch at `path` (not connected yet).
    pub fn new(path: &Path) -> Installer {
        Installer {
            path: path.to_path_buf(),
            options: Options::default(),
            reconnect_timeout: Duration::from_secs(30),
            conn: None,
            flows: Installed::default(),
            groups: BTreeMap::new(),
            meters: BTreeMap::new(),
            connects: 0,
            unsynced: false,
            helpers: Vec::new(),
            empty: false,
        }
    }

    /// Sets connection options and how long to keep retrying a connect.
    pub fn with_options(mut self, options: Options, reconnect_timeout: Duration) -> Installer {
        self.options = options;
        self.reconnect_timeout = reconnect_timeout;
        self
    }

    /// How many connections were made so far.
    pub fn connects(&self) -> usize {
        self.connects
    }

    /// Whether a connection is up (a sync of changes is then possible;
    /// otherwise the next sync is a full resync).
    pub fn is_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// Whether a connection is up and a sync was made on it: the switch
    /// then holds the table this installer knows.
    pub fn has_table(&self) -> bool {
        self.is_connected() && !self.unsynced
    }

    /// Connects now if not connected, once, without retrying: the
    /// connection is then ready when the first flows are (it is made while
    /// the databases are still read).  Returns whether connected.
    pub async fn connect_once(&mut self) -> bool {
        if self.is_connected() {
            return true;
        }
        match Connection::connect_with(&self.path, self.options).await {
            Ok(mut c) => {
                // The helpers are connected while the switch counts its
                // flows.
                let (count, helpers) = tokio::join!(c.flow_count(), self.connect_helpers());
                self.helpers = helpers;
                self.empty = count.is_ok_and(|n| n == 0) && !self.helpers.is_empty();
                self.conn = Some(c);
                self.connects += 1;
                self.unsynced = true;
                true
            }
            Err(e) => {
                tracing::debug!("{}: {e}", self.path.display());
                false
            }
        }
    }

    /// [`HELPERS`] more connections to the switch, made concurrently; none
    /// if one fails.
    async fn connect_helpers(&self) -> Vec<Connection> {
        let connecting: Vec<_> = (0..HELPERS)
            .map(|_| {
                let (path, options) = (self.path.clone(), self.options);
                tokio::spawn(async move { Connection::connect_with(&path, options).await })
            })
            .collect();
        let mut helpers = Vec::new();
        for h in connecting {
            if let Ok(Ok(h)) = h.await {
                helpers.push(h);
            }
        }
        if helpers.len() < HELPERS {
            helpers.clear();
        }
        helpers
    }

    /// The connection, if up.
    pub fn connection(&mut self) -> Option<&mut Connection> {
        self.conn.as_mut()
    }

    /// Connects (retrying until the reconnect timeout) unless connected.
    /// Returns whether a new connection was made.
    async fn ensure_connected(&mut self) -> Result<bool, ConnError> {
        if self.conn.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(std::mem::take(&mut self.unsynced));
        }
        self.conn = None;
        self.unsynced = false;
        self.helpers.clear();
        self.empty = false;
        let deadline = Instant::now() + self.reconnect_timeout;
        let mut backoff = Duration::from_millis(100);
        loop {
            match Connection::connect_with(&self.path, self.options).await {
                Ok(c) => {
                    self.helpers = self.connect_helpers().await;
                    self.conn = Some(c);
                    self.connects += 1;
                    return Ok(true);
                }
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Like [`Installer::sync`], but only the flows in `changed` (the
    /// desired table's difference since the last sync, as
    /// [`crate::incremental::FlowDelta`] reports it) are looked at and
    /// converted: the cost follows the change, not the table.  Groups and
    /// meters are compared whole (they are few).  Without a connection, or
    /// when it fails, nothing is retried: the caller must then [`sync`]
    /// the whole table.
    ///
    /// A change that adds many clause flows of new conjunctive matches (an
    /// ACL on a large address set: one `conjunction(...)` flow per
    /// address) is spread over the helper connections as well, each with
    /// its bundle: ovs-vswitchd reads at most 50 messages from a
    /// connection per turn of its main loop, and with 100 VIFs a turn
    /// costs it half a millisecond.  Only clause flows at new keys whose
    /// every conjunction id is new (no installed flow matches its
    /// `conj_id`; this change adds the one that does) go to the helpers:
    /// until that `conj_id` flow is installed, a packet matching every
    /// clause is looked up as if the clauses were not there (OVS's
    /// classifier ignores a conjunctive match without its `conj_id`
    /// flow).  The helpers' bundles commit first (each commit sent right
    /// behind its flows, without a barrier: [`Connection::
    /// bundle_finish_unchecked`]), then the main one, with everything
    /// else: the `conj_id` flows, deletes, modifies, groups.  So the change
    /// takes effect at once, as in one bundle.  If any bundle
    /// fails, the connection is dropped, and the next sync deletes and
    /// installs the whole table.
    ///
    /// [`sync`]: Installer::sync
    pub async fn sync_changes(
        &mut self,
        desired: &Desired,
        changed: &Changes,
    ) -> Result<SyncReport, InstallError> {
        if !self.is_connected() {
            return Err(ConnError::Closed.into());
        }
        // In key order, each key once (the last flow given for it), as a
        // sorted list: the engine gives its changes in key order, so this
        // is one pass, not a tree insert per flow.
        let mut want: Vec<ByKey> = changed.added.iter().map(|f| ByKey(f.clone())).collect();
        want.sort();
        want.dedup_by(|later, earlier| {
            let same = later == earlier;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        let gone: Vec<ByKey> = changed
            .removed
            .iter()
            .map(|f| ByKey(f.clone()))
            .filter(|k| want.binary_search(k).is_err())
            .collect();
        match self.send_changes(&want, &gone, desired).await {
            Ok(r) => Ok(r),
            Err(e) => {
                self.lost();
                Err(e)
            }
        }
    }

    /// Of `want`, the clause flows that no packet can reach before this
    /// change is committed (see [`Installer::sync_changes`]), when there
    /// are enough of them to be worth spreading (and helpers to carry
    /// them); else none.
    fn hidden_clauses(&self, want: &[ByKey], old: &[Option<&ByKey>]) -> Vec<bool> {
        // A helper the switch closed would fail the whole change.
        if self.helpers.len() < HELPERS || self.helpers.iter().any(Connection::is_closed) {
            return Vec::new();
        }
        let new = || {
            want.iter()
                .zip(old)
                .filter(|(_, o)| o.is_none())
                .map(|(k, _)| k)
        };
        if new().filter(|k| k.0.is_conjunction()).count() < SPREAD_MIN {
            return Vec::new();
        }
        let new_ids: BTreeSet<u32> = new()
            .filter_map(|k| k.0.of_match.conj_id())
            .filter(|&id| !self.flows.has_conj_id(id))
            .collect();
        let hidden: Vec<bool> = want
            .iter()
            .zip(old)
            .map(|(k, o)| {
                o.is_none()
                    && k.0.is_conjunction()
                    && k.0.conjunction_ids().all(|id| new_ids.contains(&id))
            })
            .collect();
        if hidden.iter().filter(|&&h| h).count() < SPREAD_MIN {
            return Vec::new();
        }
        hidden
    }

    async fn send_changes(
        &mut self,
        want: &[ByKey],
        gone: &[ByKey],
        desired: &Desired,
    ) -> Result<SyncReport, InstallError> {
        let mut report = SyncReport::default();
        let (meters_before, meters_after) = self.meter_changes(desired);
        let mut bundle: Vec<Op> = Vec::new();
        for k in gone {
            if let Some(old) = self.flows.get(k) {
                bundle.push(Op::Delete(old.0.clone()));
                report.deletes += 1;
            }
        }
        report.group_mods += self.group_adds(desired, &mut bundle);
        // The hidden clause flows in turns of `stream::TURN`, over the
        // main connection and the helpers.
        // The installed flow at each wanted key, found once.
        let old: Vec<Option<&ByKey>> = want.iter().map(|k| self.flows.get(k)).collect();
        let hidden = self.hidden_clauses(want, &old);
        let mut parts: Vec<Vec<Op>> = Vec::new();
        if !hidden.is_empty() {
            parts.resize_with(self.helpers.len(), Vec::new);
        }
        let mut spread = 0;
        for (i, f) in want.iter().enumerate() {
            if hidden.get(i).copied().unwrap_or(false) {
                let turn = (spread / stream::TURN) % (parts.len() + 1);
                let to = if turn == 0 {
                    &mut bundle
                } else {
                    &mut parts[turn - 1]
                };
                to.push(Op::Add(f.0.clone()));
                report.adds += 1;
                spread += 1;
            } else {
                Self::flow_change(old[i], f, &mut bundle, &mut report);
            }
        }
        drop(old);
        report.group_mods += self.group_deletes(desired, &mut bundle);
        let spread = !parts.is_empty();
        let sent = self
            .send(meters_before, bundle, parts, meters_after, &mut report)
            .await;
        if sent.is_err() && spread {
            // What the helpers committed is unknown: start afresh.
            self.conn = None;
            self.helpers.clear();
        }
        sent?;
        for k in gone {
            self.flows.remove(k);
        }
        for f in want {
            self.flows.replace(f.clone());
        }
        self.groups = desired.groups.clone();
        self.meters = desired.meters.clone();
        Ok(report)
    }

    /// Meter mods before the bundle (new, changed) and after (gone).
    fn meter_changes(&self, desired: &Desired) -> (Vec<MeterMod>, Vec<MeterMod>) {
        let mut before = Vec::new();
        let mut after = Vec::new();
        for (id, m) in &desired.meters {
            match self.meters.get(id) {
                None => before.push(with_command(m, |m| m.command = meter_command::ADD)),
                Some(old) if old != m => {
                    before.push(with_command(m, |m| m.command = meter_command::MODIFY))
                }
                Some(_) => {}
            }
        }
        for id in self.meters.keys() {
            if !desired.meters.contains_key(id) {
                after.push(meter_delete(*id));
            }
        }
        (before, after)
    }

    /// Group adds and modifies into `bundle`; how many.
    fn group_adds(&self, desired: &Desired, bundle: &mut Vec<Op>) -> usize {
        let mut n = 0;
        for (id, g) in &desired.groups {
            match self.groups.get(id) {
                None => bundle.push(Op::Ready(Body::GroupMod(with_command(g, |g| {
                    g.command = group_command::ADD
                })))),
                Some(old) if old != g => bundle
                    .push(Op::Ready(Body::GroupMod(with_command(g, |g| {
                        g.command = group_command::MODIFY
                    })))),
                Some(_) => continue,
            }
            n += 1;
        }
        n
    }

    /// Deletes of groups no longer wanted into `bundle`; how many.
    fn group_deletes(&self, desired: &Desired, bundle: &mut Vec<Op>) -> usize {
        let mut n = 0;
        for (id, g) in &self.groups {
            if !desired.groups.contains_key(id) {
                bundle.push(Op::Ready(Body::GroupMod(with_command(g, |g| {
                    g.command = group_command::DELETE;
                    g.buckets.clear();
                    g.properties.clear();
                }))));
                n += 1;
            }
        }
        n
    }

    /// The flow mod that makes the installed flow at `f`'s key (`old`)
    /// equal `f` (converted when sent, and only when one is needed).
    fn flow_change(old: Option<&ByKey>, f: &ByKey, bundle: &mut Vec<Op>, report: &mut SyncReport) {
        let old = old.map(|o| &o.0);
        let new = &f.0;
        match old {
            Some(old) if Arc::ptr_eq(old, new) => {}
            None => {
                bundle.push(Op::Add(new.clone()));
                report.adds += 1;
            }
            Some(old) if old.cookie != new.cookie => {
                bundle.push(Op::Add(new.clone()));
                report.adds += 1;
            }
            Some(old) if old.actions != new.actions => {
                bundle.push(Op::Modify(new.clone()));
                report.modifies += 1;
            }
            Some(_) => {}
        }
    }

    /// Meters before, the bundle, meters after, then a barrier (not after
    /// a bundle alone: its commit reply already says it is in place).
    /// With `parts` (one per helper), those flows go in bundles of their
    /// own over the helpers, committed before the main `bundle`; the
    /// helpers are the installer's again afterwards, if all went well.
    async fn send(
        &mut self,
        meters_before: Vec<MeterMod>,
        bundle: Vec<Op>,
        parts: Vec<Vec<Op>>,
        meters_after: Vec<MeterMod>,
        report: &mut SyncReport,
    ) -> Result<(), InstallError> {
        report.meter_mods = meters_before.len() + meters_after.len();
        let helpers = match parts.is_empty() {
            true => Vec::new(),
            false => std::mem::take(&mut self.helpers),
        };
        let conn = self.conn.as_mut().ok_or(ConnError::Closed)?;
        for m in meters_before {
            conn.send(Body::MeterMod(m)).await?;
        }
        let bundled = !bundle.is_empty();
        if !parts.is_empty() {
            report.bundles = 1 + parts.iter().filter(|p| !p.is_empty()).count();
            self.helpers = send_spread(conn, bundle, helpers, parts).await?;
        } else if bundled {
            conn.bundle_lazy(bundle.into_iter().map(Op::make), flow_error)
                .await?;
            report.bundles = 1;
        }
        let after = !meters_after.is_empty();
        for m in meters_after {
            conn.send(Body::MeterMod(m)).await?;
        }
        // A committed bundle is in place (its commit was answered) and
        // came after the meters sent before it.
        if after || !bundled {
            conn.barrier().await?;
        }
        Ok(())
    }

    /// Makes the switch's flows, groups and meters equal to `desired`,
    /// sending only the difference (or everything after a reconnect).  A
    /// connection lost during the sync is re-established once and the
    /// state resynchronized fully.
    pub async fn sync(&mut self, desired: &Desired) -> Result<SyncReport, InstallError> {
        let mut want: BTreeSet<ByKey> = BTreeSet::new();
        for f in &desired.flows {
            want.replace(ByKey(f.clone()));
        }
        // Only a streamed full install uses the helpers for a full install.
        self.empty = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let fresh = self.ensure_connected().await?;
            if fresh {
                self.flows.clear();
                self.groups.clear();
                self.meters.clear();
            }
            match self.sync_once(fresh, &want, desired).await {
                Ok(r) => return Ok(r),
                Err(InstallError::Conn(e)) if attempt < 2 && self.lost() => {
                    let _ = e;
                    continue;
                }
                Err(e @ InstallError::Convert { .. }) => {
                    // The bundle was discarded (the switch is as it was),
                    // but a fresh connection's flows were forgotten: start
                    // from a clean switch next time.
                    if fresh {
                        self.conn = None;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn lost(&mut self) -> bool {
        let lost = self.conn.as_ref().is_none_or(Connection::is_closed);
        if lost {
            self.conn = None;
        }
        lost
    }

    async fn sync_once(
        &mut self,
        full: bool,
        want: &BTreeSet<ByKey>,
        desired: &Desired,
    ) -> Result<SyncReport, InstallError> {
        let mut report = SyncReport {
            full_resync: full,
            ..SyncReport::default()
        };
        let mut meters_before = Vec::new();
        let mut bundle: Vec<Op> = Vec::new();
        if full {
            meters_before.push(convert::delete_all_meters());
            bundle.push(Op::Ready(Body::FlowMod(convert::delete_all_flows())));
            bundle.push(Op::Ready(Body::GroupMod(convert::delete_all_groups())));
        }
        // Meters: new or changed before the flows, gone after.
        let (before, meters_after) = self.meter_changes(desired);
        meters_before.extend(before);
        // Flows to delete first, then groups, then flows to add/modify,
        // then groups no longer referenced.
        for old in self.flows.iter() {
            if !want.contains(old) {
                bundle.push(Op::Delete(old.0.clone()));
                report.deletes += 1;
            }
        }
        report.group_mods += self.group_adds(desired, &mut bundle);
        for f in want {
            Self::flow_change(self.flows.get(f), f, &mut bundle, &mut report);
        }
        report.group_mods += self.group_deletes(desired, &mut bundle);
        self.send(meters_before, bundle, Vec::new(), meters_after, &mut report)
            .await?;
        self.flows = Installed::new(want.clone());
        self.groups = desired.groups.clone();
        self.meters = desired.meters.clone();
        Ok(report)
    }
}

/// The main `bundle` over `conn` and each of `parts` over its helper, in
/// a bundle of its own: the helpers' commit first, the main one last (and
/// not if one of theirs failed).  Returns the helpers.
async fn send_spread(
    conn: &mut Connection,
    bundle: Vec<Op>,
    helpers: Vec<Connection>,
    parts: Vec<Vec<Op>>,
) -> Result<Vec<Connection>, InstallError> {
    let tasks: Vec<_> = helpers
        .into_iter()
        .zip(parts)
        .map(|(mut h, ops)| {
            tokio::spawn(async move {
                let r = match ops.is_empty() {
                    true => Ok(()),
                    false => {
                        h.bundle_lazy_unchecked(ops.into_iter().map(Op::make), flow_error)
                            .await
                    }
                };
                (h, r)
            })
        })
        .collect();
    let mut back = Vec::new();
    let mut failed = None;
    let helpers_committed = async {
        join_helpers(tasks, &mut back).await.map_err(|e| {
            failed = Some(e);
            ConnError::Protocol("a helper's bundle failed".into())
        })
    };
    let committed = conn
        .bundle_lazy_after(
            bundle.into_iter().map(Op::make),
            flow_error,
            helpers_committed,
        )
        .await;
    if let Some(e) = failed {
        return Err(e);
    }
    committed.map(|()| back)
}

/// Waits for the helpers' tasks, each giving back its connection (into
/// `back`) and its result; the first failure, if any.
async fn join_helpers<E: From<ConnError>>(
    tasks: Vec<tokio::task::JoinHandle<(Connection, Result<(), E>)>>,
    back: &mut Vec<Connection>,
) -> Result<(), E> {
    let mut result = Ok(());
    for t in tasks {
        let r = match t.await {
            Ok((h, r)) => {
                back.push(h);
                r
            }
            Err(_) => Err(ConnError::Closed.into()),
        };
        result = result.and(r);
    }
    result
}

/// The meter mod deleting meter `id` (`ofctrl_meter_bands_erase`: the
/// id alone, no flags, no bands).
pub fn meter_delete(id: u32) -> MeterMod {
    MeterMod {
        command: meter_command::DELETE,
        flags: 0,
        meter_id: id,
        bands: Vec::new(),
    }
}

/// A meter from the specification text ovn-controller's extend table
/// keeps for it (`__string: uuid U kbps burst stats bands=type=drop
/// rate=R burst_size=B`, or an SB `Meter` row rendered the same way).
pub fn meter_from_spec(id: u32, spec: &str) -> Option<MeterMod> {
    use super::wire::mods::{meter_flags, MeterBand};
    let mut flags = 0;
    let mut rate = None;
    let mut burst = 0;
    for word in spec.split([' ', ',']) {
        match word {
            "kbps" => flags |= meter_flags::KBPS,
            "pktps" => flags |= meter_flags::PKTPS,
            "burst" => flags |= meter_flags::BURST,
            "stats" => flags |= meter_flags::STATS,
            w => {
                if let Some(r) = w.strip_prefix("rate=") {
                    rate = r.parse().ok();
                } else if let Some(b) = w.strip_prefix("burst_size=") {
                    burst = b.parse().ok()?;
                }
            }
        }
    }
    Some(MeterMod {
        command: meter_command::ADD,
        flags,
        meter_id: id,
        bands: vec![MeterBand {
            band_type: 1,
            rate: rate?,
            burst_size: burst,
            tail: vec![0; 4],
        }],
    })
}
