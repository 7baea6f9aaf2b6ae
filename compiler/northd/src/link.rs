//! The daemon's database connections, each in its own task so the main
//! loop only sees events:
//! - a monitor per database ([`spawn_monitor`]): a
//!   [`ReplicaSession`] (leader-only, as northd's IDLs), reconnecting and
//!   resuming by itself, recreated from scratch on `*-cluster-state-reset`;
//! - a writer per database ([`spawn_writer`]): a plain connection for
//!   transactions, which for the SB also holds the `ovn_northd` lock (a
//!   lock belongs to a session, so transactions asserting it go through the
//!   session holding it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ovsdb::client::{
    probe_from_msec, ClientError, Connection, Options, ProbeInterval, ReplicaSession, Selection,
};
use ovsdb::rawjson::RawOps;
use ovsdb::remote::Remote;
use ovsdb::replica::Replica;
use ovsdb::{DatabaseSchema, Row, RowChange};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

/// Which database an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    /// OVN_Northbound.
    Nb,
    /// OVN_Southbound.
    Sb,
}

impl Db {
    /// The database name.
    pub fn name(self) -> &'static str {
        match self {
            Db::Nb => "OVN_Northbound",
            Db::Sb => "OVN_Southbound",
        }
    }
}

/// What a monitor reports.
#[derive(Debug)]
pub enum DbEvent {
    /// The whole content, from a new session (all inserts), with the
    /// server's schema.
    Snapshot(Arc<DatabaseSchema>, Vec<RowChange>),
    /// The changes of one server transaction, or the net changes over a
    /// reconnection (`reconnected`).
    Changes {
        /// The row changes.
        changes: Vec<RowChange>,
        /// True when the session had reconnected before these changes.
        reconnected: bool,
    },
}

/// What the SB writer reports about the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockEvent {
    /// The lock is ours.
    Acquired,
    /// The lock is no longer ours (released, stolen or disconnected).
    Lost,
}

/// A request to a writer.
#[derive(Debug)]
pub enum WriteCmd {
    /// Runs a transaction (operations without the database name, already
    /// serialized, in groups sent one after the other); the reply says
    /// whether it committed, or why not (a failed operation's error
    /// included).
    Transact {
        /// The operations.
        ops: Vec<RawOps>,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Runs a transaction whose operations arrive on `parts` while they
    /// are decided (streamed to the server as they come); the reply says
    /// whether it committed. Should `parts` end before
    /// [`StreamPart::Done`], the server is made to reject what it got.
    Stream {
        /// The operations' text, in pieces.
        parts: mpsc::UnboundedReceiver<StreamPart>,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Reads the whole of `tables` (every column) at one point: the
    /// initial contents of a monitor, cancelled at once, parsed straight
    /// into rows (no JSON values: a full reconciliation reads tens of
    /// thousands of flows). The reply is the rows as inserts.
    Snapshot {
        /// The server's schema.
        schema: Arc<DatabaseSchema>,
        /// The tables (of `schema`).
        tables: Vec<String>,
        /// Where the rows go.
        reply: oneshot::Sender<Result<Vec<RowChange>, String>>,
    },
    /// Whether to hold (or wait for) the lock.
    WantLock(bool),
}

/// `tables` of `schema`'s database read whole, at one point, through a
/// one-shot monitor ([`WriteCmd::Snapshot`]).
async fn snapshot(
    conn: &Connection,
    schema: Arc<DatabaseSchema>,
    tables: &[String],
) -> Result<Vec<RowChange>, ClientError> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    if tables.is_empty() {
        // (An empty selection would be every table.)
        return Ok(Vec::new());
    }
    let id = format!("ovnflow-snapshot-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let start = conn
        .monitor(&schema, &id, &Selection::tables(&tables), None)
        .await?;
    // Later changes are not wanted.
    conn.request("monitor_cancel", json!([id])).await?;
    Replica::new(schema)
        .apply_update_json(start.version, start.initial.get())
        .map_err(|e| ClientError::Protocol(e.to_string()))
}

/// A piece of a streamed transaction ([`WriteCmd::Stream`]).
#[derive(Debug)]
pub enum StreamPart {
    /// More operation text: the pieces one after the other are the
    /// operations separated by commas.
    Ops(Vec<u8>),
    /// The transaction is complete.
    Done,
}

/// Streams the transaction of `parts` on `conn`.
async fn stream_transact(
    conn: &Connection,
    db: Db,
    mut parts: mpsc::UnboundedReceiver<StreamPart>,
) -> Result<(), ClientError> {
    let mut stream = conn.transact_stream(db.name())?;
    while let Some(part) = parts.recv().await {
        match part {
            StreamPart::Ops(text) => stream.write(text)?,
            StreamPart::Done => return stream.finish().await,
        }
    }
    // Dropping the unfinished stream aborts it.
    Err(ClientError::Protocol(
        "the transaction was abandoned before its end".into(),
    ))
}

/// The inactivity probes of the daemon's NB and SB connections, as
/// ovn-northd sets them on its two IDLs (`get_probe_interval()`): by
/// default only streams that need it are probed
/// (`stream_or_pstream_needs_probes()`, false for unix sockets), every 5 s
/// (`DEFAULT_PROBE_INTERVAL_MSEC`); `NB_Global.options:
/// northd_probe_interval` (milliseconds, 0 = never) overrides that for both
/// databases, re-read whenever `NB_Global` changes, and applies to the open
/// connections at once. (A probe on a unix socket gave up on a server busy
/// for more than 10 s with one of our large transactions on a loaded
/// machine, and the full reconciliation that followed was cut off the same
/// way, again and again: hence none there by default.)
#[derive(Clone, Debug)]
pub struct Probes {
    nb: (ProbeInterval, Option<Duration>),
    sb: (ProbeInterval, Option<Duration>),
}

impl Probes {
    /// The default probes of connections to `nb` and `sb`.
    pub fn new(nb: &[Remote], sb: &[Remote]) -> Probes {
        let default = |remotes: &[Remote]| {
            let needs = remotes.iter().any(|r| !matches!(r, Remote::Unix(_)));
            needs.then_some(Duration::from_secs(5))
        };
        let (nb, sb) = (default(nb), default(sb));
        Probes {
            nb: (ProbeInterval::new(nb), nb),
            sb: (ProbeInterval::new(sb), sb),
        }
    }

    /// Follows `NB_Global` (the row, when there is one: without it
    /// ovn-northd keeps the intervals it has).
    pub fn follow(&self, nb_global: Option<&Row>) {
        let Some(row) = nb_global else { return };
        let configured = row
            .get("options")
            .and_then(|o| o.get_str("northd_probe_interval"))
            .and_then(|v| v.trim().parse::<i64>().ok());
        for (probe, default) in [&self.nb, &self.sb] {
            probe.set(configured.map_or(*default, probe_from_msec));
        }
    }

    /// The probe of `db`'s connections.
    pub fn of(&self, db: Db) -> &ProbeInterval {
        match db {
            Db::Nb => &self.nb.0,
            Db::Sb => &self.sb.0,
        }
    }
}

/// Connection options following `probe`.
fn options_for(probe: &ProbeInterval) -> Options {
    Options {
        shared_probe: Some(probe.clone()),
        ..Options::default()
    }
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Starts the monitor of `tables` of `db` (all when empty): events go to
/// `events`; a message on `reset` drops the session and starts a new one
/// (its content arrives as a [`DbEvent::Snapshot`]).
pub fn spawn_monitor(
    remotes: Vec<Remote>,
    db: Db,
    tables: Vec<String>,
    events: mpsc::UnboundedSender<(Db, DbEvent)>,
    mut reset: mpsc::UnboundedReceiver<()>,
    probe: ProbeInterval,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut delay = BACKOFF_MIN;
        let mut logged = false;
        loop {
            // Rows leave out empty columns: most of an NB or SB row's
            // columns are empty, and the daemon's readers take a missing
            // column as empty (the replicas were half its memory).
            let selection = Selection::tables(&tables).omit_empty();
            let mut session = match ReplicaSession::connect_selected(
                remotes.clone(),
                db.name(),
                selection,
                true,
                options_for(&probe),
            )
            .await
            {
                Ok(s) => s,
                Err(e) => {
                    if !logged {
                        tracing::warn!("{}: {e} (retrying)", db.name());
                        logged = true;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(BACKOFF_MAX);
                    continue;
                }
            };
            tracing::info!("{}: connected", db.name());
            delay = BACKOFF_MIN;
            logged = false;
            let mut first = true;
            let mut reconnects = session.reconnects();
            loop {
                tokio::select! {
                    r = session.next() => match r {
                        Ok(changes) => {
                            let ev = if first {
                                DbEvent::Snapshot(session.replica().database().schema().clone(), changes)
                            } else {
                                let reconnected = session.reconnects() != reconnects;
                                reconnects = session.reconnects();
                                if reconnected {
                                    tracing::info!("{}: reconnected", db.name());
                                }
                                DbEvent::Changes { changes, reconnected }
                            };
                            first = false;
                            if events.send((db, ev)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!("{}: {e}; starting a new session", db.name());
                            break;
                        }
                    },
                    r = reset.recv() => {
                        if r.is_none() {
                            return;
                        }
                        let which = if db == Db::Nb { "northbound" } else { "southbound" };
                        tracing::info!("Resetting {which} database cluster state");
                        break;
                    }
                }
            }
        }
    })
}

/// Connects to the first remote that serves `db` (the leader, for a
/// cluster).
async fn connect_leader(
    remotes: &[Remote],
    db: Db,
    probe: &ProbeInterval,
) -> Result<
    (
        Connection,
        mpsc::UnboundedReceiver<ovsdb::client::Notification>,
    ),
    ClientError,
> {
    let mut last = ClientError::NoRemote("no remotes".into());
    for r in remotes {
        let (conn, notes) = match Connection::connect(r, &options_for(probe)).await {
            Ok(c) => c,
            Err(e) => {
                last = e;
                continue;
            }
        };
        let rows = conn
            .transact(
                "_Server",
                vec![json!({"op": "select", "table": "Database",
                    "where": [["name", "==", db.name()]], "columns": ["model", "leader"]})],
            )
            .await?;
        let row = rows.first().and_then(|x| x["rows"].get(0)).cloned();
        match row {
            Some(row) if row["model"] != "clustered" || row["leader"] == true => {
                return Ok((conn, notes))
            }
            Some(_) => last = ClientError::NoRemote(format!("{r}: not the cluster leader")),
            None => last = ClientError::NoRemote(format!("{r}: no database {}", db.name())),
        }
    }
    Err(last)
}

/// Starts the writer of `db`; with `lock` it takes that lock whenever the
/// daemon wants it and reports on `locks`.
pub fn spawn_writer(
    remotes: Vec<Remote>,
    db: Db,
    lock: Option<&'static str>,
    mut cmds: mpsc::UnboundedReceiver<WriteCmd>,
    locks: mpsc::UnboundedSender<LockEvent>,
    probe: ProbeInterval,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut want_lock = false;
        let mut delay = BACKOFF_MIN;
        loop {
            let (conn, mut notes) = match connect_leader(&remotes, db, &probe).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!("{} writer: {e}", db.name());
                    // Answer what is asked meanwhile, then retry.
                    let sleep = tokio::time::sleep(delay);
                    tokio::pin!(sleep);
                    loop {
                        tokio::select! {
                            _ = &mut sleep => break,
                            c = cmds.recv() => match c {
                                None => return,
                                Some(WriteCmd::WantLock(w)) => want_lock = w,
                                Some(WriteCmd::Transact { reply, .. }) => {
                                    let _ = reply.send(Err(format!("{}: not connected", db.name())));
                                }
                                Some(WriteCmd::Stream { reply, .. }) => {
                                    let _ = reply.send(Err(format!("{}: not connected", db.name())));
                                }
                                Some(WriteCmd::Snapshot { reply, .. }) => {
                                    let _ = reply.send(Err(format!("{}: not connected", db.name())));
                                }
                            }
                        }
                    }
                    delay = (delay * 2).min(BACKOFF_MAX);
                    continue;
                }
            };
            delay = BACKOFF_MIN;
            let mut held = false;
            let mut requested = false;
            // (Re)requests the lock as wanted; returns false if the
            // connection failed.
            macro_rules! sync_lock {
                () => {{
                    let mut ok = true;
                    if let Some(name) = lock {
                        if want_lock && !requested {
                            match conn.lock(name).await {
                                Ok(now) => {
                                    requested = true;
                                    if now {
                                        held = true;
                                        let _ = locks.send(LockEvent::Acquired);
                                    }
                                }
                                Err(_) => ok = false,
                            }
                        } else if !want_lock && requested {
                            let _ = conn.unlock(name).await;
                            requested = false;
                            if held {
                                held = false;
                                let _ = locks.send(LockEvent::Lost);
                            }
                        }
                    }
                    ok
                }};
            }
            let mut alive = sync_lock!();
            while alive {
                tokio::select! {
                    n = notes.recv() => match n {
                        None => alive = false,
                        Some(n) if n.method == "locked" && requested => {
                            if !held {
                                held = true;
                                let _ = locks.send(LockEvent::Acquired);
                            }
                        }
                        Some(n) if n.method == "stolen" => {
                            tracing::warn!("{}: lock stolen", db.name());
                            // The server forgets the request of a robbed
                            // session; ask again, as the IDL does.
                            requested = false;
                            if held {
                                held = false;
                                let _ = locks.send(LockEvent::Lost);
                            }
                            alive = sync_lock!();
                        }
                        Some(_) => {}
                    },
                    c = cmds.recv() => match c {
                        None => return,
                        Some(WriteCmd::WantLock(w)) => {
                            want_lock = w;
                            alive = sync_lock!();
                        }
                        Some(WriteCmd::Transact { ops, reply }) => {
                            let r = conn.transact_raw_checked(db.name(), ops).await;
                            if let Err(ClientError::Disconnected(_)) = &r {
                                alive = false;
                            }
                            let _ = reply.send(r.map_err(|e| e.to_string()));
                        }
                        Some(WriteCmd::Stream { parts, reply }) => {
                            let r = stream_transact(&conn, db, parts).await;
                            if let Err(ClientError::Disconnected(_)) = &r {
                                alive = false;
                            }
                            let _ = reply.send(r.map_err(|e| e.to_string()));
                        }
                        Some(WriteCmd::Snapshot { schema, tables, reply }) => {
                            let r = snapshot(&conn, schema, &tables).await;
                            if let Err(ClientError::Disconnected(_)) = &r {
                                alive = false;
                            }
                            let _ = reply.send(r.map_err(|e| e.to_string()));
                        }
                    }
                }
            }
            tracing::info!("{} writer: connection lost", db.name());
            if held {
                let _ = locks.send(LockEvent::Lost);
            }
            tokio::time::sleep(BACKOFF_MIN).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_sockets_are_not_probed() {
        let r = |s: &str| Remote::parse(s).unwrap();
        let p = Probes::new(
            &[r("unix:/x.sock")],
            &[r("unix:/x.sock"), r("tcp:127.0.0.1:6642")],
        );
        assert_eq!(p.of(Db::Nb).get(), None);
        assert_eq!(p.of(Db::Sb).get(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn northd_probe_interval_overrides_both() {
        let r = |s: &str| Remote::parse(s).unwrap();
        let p = Probes::new(&[r("unix:/x.sock")], &[r("tcp:127.0.0.1:6642")]);
        let global = |opts: &[(&str, &str)]| {
            Row::from([(
                "options".to_string(),
                ovsdb::Datum::string_map(opts.iter().copied()),
            )])
        };
        p.follow(Some(&global(&[("northd_probe_interval", "30000")])));
        assert_eq!(p.of(Db::Nb).get(), Some(Duration::from_secs(30)));
        assert_eq!(p.of(Db::Sb).get(), Some(Duration::from_secs(30)));
        p.follow(Some(&global(&[("northd_probe_interval", "0")])));
        assert_eq!((p.of(Db::Nb).get(), p.of(Db::Sb).get()), (None, None));
        p.follow(None);
        assert_eq!(p.of(Db::Sb).get(), None, "kept without NB_Global");
        p.follow(Some(&global(&[("northd_probe_interval", "200")])));
        assert_eq!(
            p.of(Db::Nb).get(),
            Some(Duration::from_secs(1)),
            "at least 1 s"
        );
        p.follow(Some(&global(&[])));
        assert_eq!(p.of(Db::Nb).get(), None, "default again");
        assert_eq!(p.of(Db::Sb).get(), Some(Duration::from_secs(5)));
    }
}
