//! [`ReplicaSession`]: a [`Replica`] of one database kept in step with a
//! server across disconnects: reconnection with backoff, monitors resumed
//! from the last transaction id, and only the leader of a clustered
//! database used when asked (as ovn-northd does).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use super::{ClientError, Connection, Notification, Options, Selection};
use crate::atom::Uuid;
use crate::db::RowChange;
use crate::remote::Remote;
use crate::replica::{Replica, UpdateVersion};
use crate::schema::DatabaseSchema;

/// Keeps a [`Replica`] of one database in step with a server (or a
/// cluster), reconnecting and resuming as needed.
pub struct ReplicaSession {
    remotes: Vec<Remote>,
    db: String,
    selection: Selection,
    leader_only: bool,
    opts: Options,
    replica: Replica,
    conn: Option<(Connection, mpsc::UnboundedReceiver<Notification>)>,
    version: UpdateVersion,
    next_remote: usize,
    /// Changes produced while (re)connecting, handed out by the next `next()`.
    queued: Option<Vec<RowChange>>,
    reconnects: u64,
}

const MONITOR_ID: &str = "ovnflow";

/// The schema a connection expects of its server (see
/// [`ReplicaSession::expected_schema`]).
enum Expected {
    /// The replica's, from the last connection.
    Schema(Arc<DatabaseSchema>),
    /// The bundled one, not parsed yet.
    Bundled,
}

impl ReplicaSession {
    /// Connects to the first usable remote of `remotes`, fetches the schema
    /// and starts monitoring `tables` (all when empty). The initial contents
    /// are returned by the first [`ReplicaSession::next`].
    pub async fn connect(
        remotes: Vec<Remote>,
        db: &str,
        tables: &[&str],
        leader_only: bool,
        opts: Options,
    ) -> Result<ReplicaSession, ClientError> {
        Self::connect_selected(remotes, db, Selection::tables(tables), leader_only, opts).await
    }

    /// [`ReplicaSession::connect`] monitoring only the tables and columns
    /// of `selection`; the replica's rows hold only the columns selected
    /// ([`Replica::with_kept_columns`]: typed rows read the others as
    /// their defaults).
    pub async fn connect_selected(
        remotes: Vec<Remote>,
        db: &str,
        selection: Selection,
        leader_only: bool,
        opts: Options,
    ) -> Result<ReplicaSession, ClientError> {
        let mut s = ReplicaSession {
            remotes,
            db: db.to_string(),
            selection,
            leader_only,
            opts,
            replica: Replica::new(Arc::new(DatabaseSchema {
                name: db.into(),
                version: "0.0.0".into(),
                cksum: None,
                tables: Default::default(),
            })),
            conn: None,
            version: UpdateVersion::V2,
            next_remote: 0,
            queued: None,
            reconnects: 0,
        };
        s.establish().await?;
        Ok(s)
    }

    /// The replica.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The current connection, for transactions and locks.
    pub fn connection(&self) -> Option<&Connection> {
        self.conn.as_ref().map(|c| &c.0)
    }

    /// How many times the session reconnected.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Tries each remote once; on success the session is monitoring.
    async fn establish(&mut self) -> Result<(), ClientError> {
        let mut last_err = ClientError::NoRemote("no remotes".into());
        for _ in 0..self.remotes.len() {
            let remote = self.remotes[self.next_remote % self.remotes.len()].clone();
            self.next_remote += 1;
            match self.try_remote(&remote).await {
                Ok(()) => return Ok(()),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    /// Connects to `remote` and starts the monitor. The monitor request is
    /// sent together with `get_schema`, for the schema this session expects
    /// ([`ReplicaSession::expected_schema`]), saving a round trip (and the
    /// server's time to send the schema) on every connection. Should the
    /// server's schema differ, that connection is dropped and a new one
    /// asks for the schema first (the monitor request may name tables or
    /// columns the server lacks, or miss some it has).
    ///
    /// On a first connection the schema expected is the bundled one: when
    /// the selection names every table and column it wants, the monitor
    /// request is made without it ([`Selection::explicit_requests`]) and
    /// the schema parsed while the server answers (~0.4 ms for the
    /// Southbound's, otherwise between the connection and the request:
    /// issue 9's start-up).  Should the bundled schema lack some of those
    /// columns, the request is not used either.
    async fn try_remote(&mut self, remote: &Remote) -> Result<(), ClientError> {
        let mut expected = self.expected_schema();
        loop {
            let (conn, notes) = Connection::connect(remote, &self.opts).await?;
            conn.keep_updates_as_text();
            // Every question in one round trip.
            let last_txn_id = self.replica.last_txn_id();
            // Made without the schema (and checked against it below), or
            // from the schema expected.
            let explicit = match expected {
                Some(Expected::Bundled) => self.selection.explicit_requests(),
                _ => None,
            };
            if explicit.is_none() && matches!(expected, Some(Expected::Bundled)) {
                expected = crate::schema::bundled(&self.db).map(|s| Expected::Schema(Arc::new(s)));
            }
            let mut reqs = match &expected {
                Some(Expected::Schema(s)) => Some(self.selection.requests(s)),
                Some(Expected::Bundled) => explicit.clone(),
                None => None,
            };
            let early_monitor = async {
                match reqs.take() {
                    Some(r) => Some(
                        conn.monitor_requests(&self.db, MONITOR_ID, r, last_txn_id)
                            .await,
                    ),
                    None => None,
                }
            };
            // The bundled schema, parsed once the requests are out, and
            // whether it has every column asked for.
            let bundled = async {
                let asked = explicit.as_ref()?;
                tokio::task::yield_now().await;
                let parsed = Arc::new(crate::schema::bundled(&self.db)?);
                let as_asked = *asked == self.selection.requests(&parsed);
                Some((parsed, as_asked))
            };
            let (member, schema, early, bundled) = tokio::join!(
                check_cluster_member(&conn, &self.db, self.leader_only),
                conn.get_schema(&self.db),
                early_monitor,
                bundled
            );
            member?;
            let schema = schema?;
            let expected_schema = match expected.take() {
                Some(Expected::Schema(s)) => Some((s, true)),
                Some(Expected::Bundled) => bundled,
                None => None,
            };
            let schema = match expected_schema {
                // The one expected (and possibly the replica's already),
                // asked for as it is.
                Some((e, true)) if *e == schema => e,
                Some(_) => {
                    tracing::debug!(
                        "{remote}: {} schema {} is not the one expected: reconnecting to ask for it first",
                        self.db,
                        schema.version
                    );
                    continue;
                }
                None => Arc::new(schema),
            };
            return self.start(conn, notes, schema, early).await;
        }
    }

    /// The schema the server is expected to have: the one of the last
    /// connection, else the schema bundled for this database, if any.
    fn expected_schema(&self) -> Option<Expected> {
        let current = self.replica.database().schema();
        if !current.tables.is_empty() {
            return Some(Expected::Schema(current.clone()));
        }
        crate::schema::has_bundled(&self.db).then_some(Expected::Bundled)
    }

    /// Takes `conn` into use with the server's `schema`: a fresh replica if
    /// the schema changed, then the monitor's initial contents (`early`: the
    /// reply to a monitor request sent before the schema was known to match).
    async fn start(
        &mut self,
        conn: Connection,
        notes: mpsc::UnboundedReceiver<Notification>,
        schema: Arc<DatabaseSchema>,
        early: Option<Result<super::MonitorStart, ClientError>>,
    ) -> Result<(), ClientError> {
        let current = self.replica.database().schema();
        if !Arc::ptr_eq(&schema, current) && *schema != **current {
            // First connection (or the schema changed): start from empty.
            let fresh =
                Replica::with_kept_columns(Arc::clone(&schema), self.selection.kept_columns())
                    .omit_empty(self.selection.omits_empty());
            let old = std::mem::replace(&mut self.replica, fresh);
            self.queued = Some(
                old.database()
                    .to_changes()
                    .into_iter()
                    .map(|c| match c {
                        RowChange::Insert { table, uuid, new } => RowChange::Delete {
                            table,
                            uuid,
                            old: new,
                        },
                        other => other,
                    })
                    .collect(),
            );
        }
        let start = match early {
            Some(start) => start?,
            None => {
                conn.monitor(
                    &schema,
                    MONITOR_ID,
                    &self.selection,
                    self.replica.last_txn_id(),
                )
                .await?
            }
        };
        self.version = start.version;
        let changes = if start.found {
            self.replica
                .apply_update_json(start.version, start.initial.get())
        } else {
            self.replica
                .reset_to_json(start.version, start.initial.get())
        }
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.replica.set_last_txn_id(start.last_txn_id);
        self.queued.get_or_insert_with(Vec::new).extend(changes);
        self.conn = Some((conn, notes));
        Ok(())
    }

    /// Waits for the next batch of row changes: one per server transaction,
    /// or the net changes of a (re)connection. Reconnects with exponential
    /// backoff (100 ms doubling to 5 s) when the connection is lost.
    pub async fn next(&mut self) -> Result<Vec<RowChange>, ClientError> {
        loop {
            if let Some(q) = self.queued.take() {
                return Ok(q);
            }
            let Some((_, notes)) = self.conn.as_mut() else {
                self.reconnect().await?;
                continue;
            };
            let Some(n) = notes.recv().await else {
                self.conn = None;
                continue;
            };
            let (updates, txn_id) =
                match (n.method.as_str(), n.params.as_array().map(Vec::as_slice)) {
                    ("update3", Some([_, id, u])) => {
                        (u, id.as_str().and_then(|s| Uuid::parse_str(s).ok()))
                    }
                    ("update2" | "update", Some([_, u])) => (u, None),
                    _ => continue, // locked/stolen and others belong to other users
                };
            // The table-updates as text (this session's connections keep
            // them so), parsed straight into rows.
            let changes = match &n.updates {
                Some(text) => self.replica.apply_update_json(self.version, text.get()),
                None => self.replica.apply_update(self.version, updates),
            }
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
            if txn_id.is_some() {
                self.replica.set_last_txn_id(txn_id);
            }
            return Ok(changes);
        }
    }

    async fn reconnect(&mut self) -> Result<(), ClientError> {
        let mut delay = Duration::from_millis(100);
        loop {
            self.reconnects += 1;
            match self.establish().await {
                Ok(()) => return Ok(()),
                Err(e) => tracing::debug!("reconnect to {} failed: {e}", self.db),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

/// For a clustered database, checks through `_Server.Database` that this
/// server is connected to its cluster and, if required, is the leader (as
/// ovsdb-cs does for ovn-northd). Standalone databases always pass.
async fn check_cluster_member(
    conn: &Connection,
    db: &str,
    leader_only: bool,
) -> Result<(), ClientError> {
    let r = conn
        .transact("_Server", vec![json!({"op": "select", "table": "Database", "where": [["name", "==", db]], "columns": ["model", "connected", "leader"]})])
        .await?;
    let Some(row) = r.first().and_then(|x| x["rows"].get(0)) else {
        return Err(ClientError::NoRemote(format!(
            "{}: no database {db}",
            conn.remote()
        )));
    };
    if row["model"] != "clustered" {
        return Ok(());
    }
    if row["connected"] != true {
        return Err(ClientError::NoRemote(format!(
            "{}: not connected to its cluster",
            conn.remote()
        )));
    }
    if leader_only && row["leader"] != true {
        return Err(ClientError::NoRemote(format!(
            "{}: not the cluster leader",
            conn.remote()
        )));
    }
    Ok(())
}
