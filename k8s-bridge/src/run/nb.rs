//! The Northbound side of run mode: a monitored replica of the tables this
//! crate writes, kept across changes, with an index of the rows this crate
//! owns that follows the monitor, and one transaction per change batch:
//! [`crate::reconcile::plan_rows`] over the rows the translation changed
//! and the owned rows others changed, or [`crate::reconcile::plan`] over
//! everything at start-up and on resync.

use std::collections::BTreeSet;
use std::time::Duration;

use ovsdb::client::{ClientError, ReplicaSession};
use ovsdb::{Database, Uuid};

use crate::error::{Error, Result};
use crate::model::{Nb, RowId, TABLES};
use crate::reconcile::{self, Owned, Plan};

/// A live NB connection with its replica.
pub struct NbWriter {
    remote: String,
    session: ReplicaSession,
    owned: Owned,
    /// Owned rows changed in the NB since the last commit (by anyone).
    drift: BTreeSet<RowId>,
    /// The last commit's planning time and transaction time (sent until
    /// the reply and our monitor update are in).
    pub last_timing: (Duration, Duration),
}

impl NbWriter {
    /// Connects and reads the current content.
    pub async fn connect(remote: &str) -> Result<NbWriter> {
        let nb_err = |m: String| Error::Nb {
            remote: remote.to_string(),
            message: m,
        };
        let remotes =
            ovsdb::remote::Remote::parse_list(remote).map_err(|e| nb_err(e.to_string()))?;
        let tables: Vec<&str> = TABLES.to_vec();
        let mut session = ReplicaSession::connect(
            remotes,
            "OVN_Northbound",
            &tables,
            true,
            ovsdb::client::Options::default(),
        )
        .await
        .map_err(|e| nb_err(e.to_string()))?;
        session
            .next()
            .await
            .map_err(|e| nb_err(format!("monitor: {e}")))?;
        let owned = Owned::of(session.replica().database());
        Ok(NbWriter {
            remote: remote.to_string(),
            session,
            owned,
            drift: BTreeSet::new(),
            last_timing: Default::default(),
        })
    }

    fn err(&self, m: String) -> Error {
        Error::Nb {
            remote: self.remote.clone(),
            message: m,
        }
    }

    /// The replica's database.
    pub fn database(&self) -> &Database {
        self.session.replica().database()
    }

    /// Waits for the next change of the monitored tables (by anyone):
    /// whether any row changed. Cancel-safe.
    pub async fn changed(&mut self) -> Result<bool> {
        match self.session.next().await {
            Ok(c) => {
                let ids = self.owned.apply(&c);
                let any = !ids.is_empty();
                self.drift.extend(ids);
                Ok(any)
            }
            Err(e) => Err(self.err(format!("monitor: {e}"))),
        }
    }

    /// Applies the updates that have already arrived, without waiting.
    fn drain(&mut self) -> Result<bool> {
        let mut any = false;
        loop {
            let fut = self.session.next();
            // `next` completes in one poll when a notification is queued.
            match futures::FutureExt::now_or_never(fut) {
                None => return Ok(any),
                Some(Ok(c)) => {
                    let ids = self.owned.apply(&c);
                    any |= !ids.is_empty();
                    self.drift.extend(ids);
                }
                Some(Err(e)) => return Err(self.err(format!("monitor: {e}"))),
            }
        }
    }

    /// Makes the owned rows equal `desired` in one transaction (none when
    /// nothing differs). After it returns the replica includes the
    /// transaction's effect, so the next plan starts from it.
    pub async fn commit(&mut self, desired: &Nb) -> Result<Plan> {
        let t = std::time::Instant::now();
        self.drain()?;
        let plan = reconcile::plan(desired, self.database());
        self.drift.clear();
        let planned = t.elapsed();
        let r = self.send(plan).await;
        self.last_timing = (planned, t.elapsed() - planned);
        r
    }

    /// Makes the rows `changed`, and the owned rows others changed since
    /// the last commit, equal `desired` in one transaction (none when
    /// nothing differs).
    pub async fn commit_rows(&mut self, desired: &Nb, changed: &BTreeSet<RowId>) -> Result<Plan> {
        let t = std::time::Instant::now();
        self.drain()?;
        let mut ids = std::mem::take(&mut self.drift);
        ids.extend(changed.iter().cloned());
        let plan = reconcile::plan_rows(desired, &ids, self.database(), &self.owned);
        let planned = t.elapsed();
        let r = self.send(plan).await;
        self.last_timing = (planned, t.elapsed() - planned);
        match r {
            Ok(p) => Ok(p),
            Err(e) => {
                // Retried with the next batch.
                self.drift.extend(ids);
                Err(e)
            }
        }
    }

    async fn send(&mut self, plan: Plan) -> Result<Plan> {
        if plan.is_empty() {
            return Ok(plan);
        }
        let Some(conn) = self.session.connection() else {
            // Reconnect (the session does that in `next`) and let the
            // caller retry.
            let _ = tokio::time::timeout(Duration::from_secs(1), self.session.next()).await;
            return Err(self.err("not connected; will retry".into()));
        };
        let results = match conn
            .transact_checked("OVN_Northbound", plan.ops.clone())
            .await
        {
            Ok(r) => r,
            Err(ClientError::Disconnected(m)) => {
                return Err(self.err(format!("connection lost during the transaction: {m}")))
            }
            Err(e) => return Err(self.err(format!("transaction failed, nothing was changed: {e}"))),
        };
        // The server sends a transaction's monitor update before its reply
        // (RFC 7047 §4.1.5), so it is queued now; wait a little for the
        // inserted rows in case it is not.
        let inserted: Vec<Uuid> = results
            .iter()
            .filter_map(|r| r.get("uuid"))
            .filter_map(|u| u.get(1).and_then(|s| s.as_str()))
            .filter_map(|s| Uuid::parse_str(s).ok())
            .collect();
        self.drain()?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.has_all(&inserted, &plan) {
            match tokio::time::timeout_at(deadline, self.session.next()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(self.err(format!("monitor: {e}"))),
                Err(_) => return Err(self.err("no monitor update for our transaction".into())),
            }
        }
        Ok(plan)
    }

    fn has_all(&self, inserted: &[Uuid], plan: &Plan) -> bool {
        let db = self.database();
        let mut i = 0;
        for op in &plan.ops {
            if op["op"] == "insert" {
                let Some(u) = inserted.get(i) else {
                    return true;
                };
                i += 1;
                let table = op["table"].as_str().unwrap_or("");
                if db.get(table, u).is_none() {
                    return false;
                }
            }
        }
        true
    }
}
