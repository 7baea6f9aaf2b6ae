//! A full install streamed while the flows are computed (issue 9).
//!
//! At start the switch parses ~10,000 bundled flow mods, which costs it
//! about as much CPU as computing them costs us.  Rather than compute
//! everything and then wait for the switch, the flows are written into the
//! open bundle as each source yields them ([`FullStream::flow`], never
//! waiting for the socket), so that the switch parses while we compute.
//! The bundle is ordered and atomic: at commit the switch applies its
//! messages in order, so the last `ADD` at a key is what gets installed.
//! [`Installer::finish_full`] therefore adds, after the groups, every flow
//! whose key several sources share (merged, as the full compute merges
//! them) and the flows that use groups or meters (held back until their
//! groups are in the bundle and their meters on the switch); a merged flow
//! that cannot be installed is deleted again.  The result is the same
//! table as [`Installer::sync`] of the whole desired state, in one bundle.
//! Into an empty switch the flows outside table 0 are spread over helper
//! connections and their bundles, committed before the main one (see
//! [`Installer::begin_full`]): what each final `ADD` or `DELETE` in the
//! main bundle overrides was committed before it.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{convert_add, join_helpers, InstallError, Installed, Installer, SyncReport, HELPERS};
use crate::actions::OfAction;
use crate::flow_table::{ByKey, OfFlow};
use crate::openflow::conn::{Bundle, ConnError, Connection};
use crate::openflow::convert;
use crate::openflow::wire::mods::{group_command, meter_command};
use crate::openflow::wire::Body;

/// The most bytes of a streamed install held unsent before computing
/// waits for the switch (see [`Bundle::flush_down_to`]).
const UNSENT_LIMIT: usize = 256 * 1024;

/// Whether a flow uses a group or a meter (it then waits for
/// [`Installer::finish_full`]).
pub fn uses_group_or_meter(actions: &[OfAction]) -> bool {
    actions.iter().any(|a| match a {
        OfAction::Group(_) | OfAction::Meter(_) => true,
        OfAction::Clone(inner) => uses_group_or_meter(inner),
        OfAction::Ct { exec, .. } => uses_group_or_meter(exec),
        _ => false,
    })
}

/// How many consecutive streamed flows go to one connection before the
/// next takes over (see [`Installer::begin_full`]).
pub(super) const TURN: usize = 64;

/// A full install under way (see the module documentation).
pub struct FullStream {
    bundle: Bundle,
    /// Into an empty switch: the helper connections and their bundles.
    helpers: Vec<(Connection, Bundle)>,
    /// Flows written so far (not counting those held back).
    streamed: usize,
    /// A flow that could not be encoded: the bundle is discarded.
    error: Option<InstallError>,
}

impl FullStream {
    /// Adds `f` to the bundle unless it uses a group or meter, and writes
    /// what the socket takes.
    pub fn flow(&mut self, installer: &mut Installer, f: &OfFlow) {
        if self.error.is_some() || uses_group_or_meter(&f.actions) {
            return;
        }
        // Table 0, where packets enter the pipeline, only on the main
        // connection: its bundle commits last.
        let turn = match f.table {
            0 => 0,
            _ => (self.streamed / TURN) % (self.helpers.len() + 1),
        };
        let (conn, bundle) = match turn {
            0 => match installer.conn.as_mut() {
                Some(conn) => (conn, &mut self.bundle),
                None => {
                    self.error = Some(ConnError::Closed.into());
                    return;
                }
            },
            n => {
                let (conn, bundle) = &mut self.helpers[n - 1];
                (conn, bundle)
            }
        };
        match bundle.push_flow_add(conn, f) {
            Ok(()) => {
                self.streamed += 1;
                if self.streamed.is_multiple_of(TURN) {
                    bundle.flush_down_to(UNSENT_LIMIT);
                }
            }
            Err(err) => {
                self.error = Some(InstallError::Convert {
                    flow: f.to_string(),
                    err,
                })
            }
        }
    }
}

impl Installer {
    /// Connects if needed and opens the bundle of a full install: every
    /// meter deleted (outside the bundle, which cannot carry meters),
    /// every flow and group deleted first in the bundle.
    ///
    /// Into a switch that held no flow when the connection was made (a new
    /// chassis, a restarted ovs-vswitchd), the flows are spread over
    /// several connections, each with its bundle: ovs-vswitchd reads at
    /// most 50 messages from a connection per turn of its main loop, and
    /// every turn also polls each of the bridge's ports (with 100 VIFs,
    /// a good part of its time in a start).  The helpers' bundles commit
    /// first (without a barrier, as soon as the switch has parsed them:
    /// [`Connection::bundle_finish_unchecked`]), then the main one, which
    /// holds every flow of table 0: until it commits, no packet enters the
    /// flows already committed, so the switch goes from no table to the
    /// whole table at once, as with one bundle.  A switch that held flows gets one bundle (its flows are
    /// deleted in the bundle that adds ours).
    pub async fn begin_full(&mut self) -> Result<FullStream, InstallError> {
        self.ensure_connected().await?;
        self.flows.clear();
        self.groups.clear();
        self.meters.clear();
        // The helpers carry part of the install only into an empty
        // switch; they are given back by `finish_full`.
        let mut helpers = match std::mem::take(&mut self.empty) {
            true => std::mem::take(&mut self.helpers),
            false => Vec::new(),
        };
        helpers.retain(|h| !h.is_closed());
        if helpers.len() < HELPERS {
            helpers.clear();
        }
        let conn = self.conn.as_mut().ok_or(ConnError::Closed)?;
        if let Err(e) = conn
            .send(Body::MeterMod(convert::delete_all_meters()))
            .await
        {
            self.conn = None;
            return Err(e.into());
        }
        let mut bundle = conn.bundle_open_streaming();
        if helpers.is_empty() {
            bundle.push(conn, Body::FlowMod(convert::delete_all_flows()));
        }
        bundle.push(conn, Body::GroupMod(convert::delete_all_groups()));
        let helpers = helpers
            .into_iter()
            .map(|mut h| {
                let b = h.bundle_open_streaming();
                (h, b)
            })
            .collect();
        Ok(FullStream {
            bundle,
            helpers,
            streamed: 0,
            error: None,
        })
    }

    /// Ends a full install: meters, groups, then `finals` — the flows to
    /// add again or hold back until now: `(flow, usable)`, an unusable
    /// one (its group cannot be installed) deleted if it was streamed —
    /// and commit.  `desired.flows` is what is installed afterwards.
    pub async fn finish_full(
        &mut self,
        mut s: FullStream,
        desired: &super::Desired,
        finals: Vec<(Arc<OfFlow>, bool)>,
    ) -> Result<SyncReport, InstallError> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(ConnError::Closed.into());
        };
        let mut report = SyncReport {
            full_resync: true,
            meter_mods: 1,
            bundles: 1 + s.helpers.len(),
            ..SyncReport::default()
        };
        // A failed stream: the bundles are discarded, the switch as it was.
        if let Some(e) = s.error.take() {
            s.bundle.abandon();
            let _ = conn.bundle_finish(s.bundle).await;
            for (mut h, mut b) in s.helpers {
                b.abandon();
                let _ = h.bundle_finish(b).await;
            }
            self.lost_or_forget();
            return Err(e);
        }
        // The connections are the bundles' until here.
        s.bundle.release().await;
        for (_, b) in &mut s.helpers {
            b.release().await;
        }
        for m in desired.meters.values() {
            let mut m = m.clone();
            m.command = meter_command::ADD;
            if let Err(e) = conn.send(Body::MeterMod(m)).await {
                self.conn = None;
                return Err(e.into());
            }
            report.meter_mods += 1;
        }
        for g in desired.groups.values() {
            let mut g = g.clone();
            g.command = group_command::ADD;
            s.bundle.push(conn, Body::GroupMod(g));
            report.group_mods += 1;
        }
        for (f, usable) in &finals {
            if *usable {
                s.bundle.push(conn, Body::FlowMod(convert_add(f)?));
            } else if !uses_group_or_meter(&f.actions) {
                s.bundle.push(conn, Body::FlowMod(convert::delete_flow(f)));
            }
        }
        // The installed set is built while the switch works through the
        // bundle's last messages and the commit: it is ready when the
        // commit's reply comes.  Built in one go (full nodes, where
        // inserting in key order leaves them about half full); of several
        // flows at one key the last counts, as with `replace` one by one.
        // The helpers' bundles commit (concurrently) before the main one.
        // If the main one then fails, what they committed is forgotten with
        // the rest below: the next sync starts from a fresh connection.
        let helpers: Vec<_> = s
            .helpers
            .into_iter()
            .map(|(mut h, b)| {
                tokio::spawn(async move {
                    let r = h.bundle_finish_unchecked(b).await;
                    (h, r)
                })
            })
            .collect();
        let mut back = Vec::new();
        let helpers_committed = join_helpers(helpers, &mut back);
        let committed = conn.bundle_finish_after(s.bundle, helpers_committed);
        let (result, flows) = tokio::join!(committed, async {
            Installed::new(
                desired
                    .flows
                    .iter()
                    .map(|f| ByKey(f.clone()))
                    .collect::<BTreeSet<ByKey>>(),
            )
        });
        if let Err(e) = result {
            self.lost_or_forget();
            return Err(e.into());
        }
        report.adds = desired.flows.len();
        if !back.is_empty() {
            self.helpers = back;
        }
        self.flows = flows;
        self.groups = desired.groups.clone();
        self.meters = desired.meters.clone();
        Ok(report)
    }

    /// After a failed full install: the switch's state is unknown, the
    /// next sync starts from a fresh connection.
    fn lost_or_forget(&mut self) {
        self.conn = None;
        self.flows.clear();
        self.groups.clear();
        self.meters.clear();
    }
}
