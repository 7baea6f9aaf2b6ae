//! What the monitors and the SB lock report: NB and SB snapshots and
//! changes kept in the mirrors and fed to the compiler (a reconnection
//! forces a full reconciliation, as ovn-northd forces a recompute), and
//! the lock acquired or lost (active / standby).

use ovnflow_compiler::sb::SB_TABLES;

use super::Daemon;
use crate::link::{Db, DbEvent, LockEvent};
use crate::reconcile::Reconciler;

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

impl Daemon {
    /// The `NB_Global` row, if any.
    fn nb_global(&self) -> Option<&ovsdb::Row> {
        self.nb.table("NB_Global").values().next().map(|r| &**r)
    }

    pub(super) fn on_db(&mut self, db: Db, ev: DbEvent) {
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
    }

    pub(super) fn on_lock(&mut self, ev: LockEvent) {
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
}
