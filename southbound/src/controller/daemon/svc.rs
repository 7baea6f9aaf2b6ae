//! Service monitors in the main loop: kept in step with the SB after each
//! run, probes sent when due (and after each `handle_svc_check`
//! packet-in), `Service_Monitor.status` written when it changes.

use std::time::Instant;

use ovsdb::client::ReplicaSession;
use ovsdb::sb::ServiceMonitor;

use super::{transact, typed, Daemon};
use crate::openflow::wire::PacketOut;
use crate::sbdb::Southbound;

impl Daemon {
    /// `sync_svc_monitors`, then a run.
    pub(super) async fn svc_sync(&mut self, sb: &ReplicaSession) {
        let db = sb.replica().database();
        let rows = typed::<ServiceMonitor>(db);
        if rows.is_empty() && self.svc.is_empty() {
            return;
        }
        let fresh;
        let view = match &self.compute {
            Some(c) => c.southbound(),
            None => match Southbound::from_database(db) {
                Ok(v) => {
                    fresh = v;
                    &fresh
                }
                Err(_) => return,
            },
        };
        let me = view.chassis_by_name(&self.system_id).map(|c| c.uuid);
        self.svc.sync(view, &rows, me, Instant::now());
        self.svc_tick(sb).await;
    }

    /// `svc_monitors_run`: probes out, the next run scheduled, statuses
    /// written.
    pub(super) async fn svc_tick(&mut self, sb: &ReplicaSession) {
        let (outs, _, next) = self.svc.run(Instant::now());
        self.svc_next = next.map(tokio::time::Instant::from_std);
        self.send_packets(outs, "service monitor").await;
        let rows = typed::<ServiceMonitor>(sb.replica().database());
        let ops = self.svc.status_ops(&rows);
        if !ops.is_empty() && transact(sb, "OVN_Southbound", ops).await {
            if let Ok(mut s) = self.status.lock() {
                s.stats.sb_writes += 1;
            }
        }
    }

    /// Sends packet-outs on the pinctrl connection.
    pub(super) async fn send_packets(&mut self, outs: Vec<PacketOut>, what: &str) {
        let Some(conn) = self.pin.as_mut() else {
            return;
        };
        for po in outs {
            match conn.packet_out(po).await {
                Ok(()) => {
                    if let Ok(mut s) = self.status.lock() {
                        s.stats.packets_out += 1;
                    }
                }
                Err(e) => tracing::warn!("{what}: packet-out: {e}"),
            }
        }
    }
}
