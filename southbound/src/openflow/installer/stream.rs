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

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{convert_add, InstallError, Installer, SyncReport};
use crate::actions::OfAction;
use crate::flow_table::{ByKey, OfFlow};
use crate::openflow::conn::{Bundle, ConnError};
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

/// A full install under way (see the module documentation).
pub struct FullStream {
    bundle: Bundle,
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
        let Some(conn) = installer.conn.as_mut() else {
            self.error = Some(ConnError::Closed.into());
            return;
        };
        match self.bundle.push_flow_add(conn, f) {
            Ok(()) => {
                self.streamed += 1;
                if self.streamed.is_multiple_of(64) {
                    self.bundle.flush_down_to(UNSENT_LIMIT);
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
    pub async fn begin_full(&mut self) -> Result<FullStream, InstallError> {
        self.ensure_connected().await?;
        self.flows.clear();
        self.groups.clear();
        self.meters.clear();
        let conn = self.conn.as_mut().ok_or(ConnError::Closed)?;
        if let Err(e) = conn
            .send(Body::MeterMod(convert::delete_all_meters()))
            .await
        {
            self.conn = None;
            return Err(e.into());
        }
        let mut bundle = conn.bundle_open_streaming();
        bundle.push(conn, Body::FlowMod(convert::delete_all_flows()));
        bundle.push(conn, Body::GroupMod(convert::delete_all_groups()));
        Ok(FullStream {
            bundle,
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
            bundles: 1,
            ..SyncReport::default()
        };
        // A failed stream: the bundle is discarded, the switch as it was.
        if let Some(e) = s.error.take() {
            s.bundle.abandon();
            let _ = conn.bundle_finish(s.bundle).await;
            self.lost_or_forget();
            return Err(e);
        }
        // The connection is the bundle's until here.
        s.bundle.release().await;
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
        let (result, flows) = tokio::join!(conn.bundle_finish(s.bundle), async {
            desired
                .flows
                .iter()
                .map(|f| ByKey(f.clone()))
                .collect::<BTreeSet<ByKey>>()
        });
        if let Err(e) = result {
            self.lost_or_forget();
            return Err(e.into());
        }
        report.adds = desired.flows.len();
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
