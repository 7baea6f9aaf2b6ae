//! One iteration of an active instance: the SB transaction that brings
//! the SB in step (a full reconciliation against the SB read whole, or
//! the compiler's pending changes), `nb_cfg` copied, then what northd
//! writes back to the NB; a failed commit is retried after [`RETRY`] with
//! a full reconciliation.

use std::time::{Duration, Instant};

use ovsdb::rawjson::RawOps;
use tokio::sync::oneshot;

use super::compile::sb_keys;
use super::{Daemon, UNMONITORED};
use crate::feedback::{Cycle, Feedback};
use crate::link::WriteCmd;
use crate::logging::wall_msec;
use crate::mirror::Mirror;
use crate::sbtxn::{assert_lock, transact, SbStream};

/// How long to wait before retrying after a failed commit.
const RETRY: Duration = Duration::from_millis(500);

impl Daemon {
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
    pub(super) async fn step(&mut self) {
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
            match transact(&self.nb_writer, vec![nb_ops]).await {
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
