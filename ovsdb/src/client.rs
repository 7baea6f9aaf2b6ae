//! The async OVSDB client (tokio): one [`Connection`] per socket, with
//! request/response matching, automatic replies to the server's `echo`, an
//! inactivity probe, and the RFC 7047 methods plus ovsdb-server's
//! extensions (`monitor_cond`, `monitor_cond_since`, `update2`/`update3`);
//! and [`ReplicaSession`], which keeps a [`Replica`] in step with a server
//! across disconnects, resuming monitors from the last transaction id so
//! that no change is lost or applied twice, and following the RAFT leader
//! of a clustered database as ovn-northd does.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::atom::Uuid;
use crate::db::RowChange;
use crate::jsonrpc::{Envelope, Framer, Message};
use crate::rawjson::{RawJson, RawOps};
use crate::remote::Remote;
use crate::replica::{Replica, UpdateVersion};
use crate::schema::DatabaseSchema;

mod probe;
mod stream;

pub use probe::{probe_from_msec, ProbeInterval};
pub use stream::TransactStream;
use stream::{check_results, Out};

/// Client errors.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed.
    #[error("cannot connect to {remote}: {message}")]
    Connect {
        /// The remote.
        remote: String,
        /// The OS error.
        message: String,
    },
    /// The connection closed or broke (also: the inactivity probe expired).
    #[error("connection closed: {0}")]
    Disconnected(String),
    /// The server answered with an error.
    #[error("server error: {0}")]
    Server(Value),
    /// The server's answer does not have the expected shape.
    #[error("unexpected reply: {0}")]
    Protocol(String),
    /// No remote could be used (e.g. none is the cluster leader).
    #[error("no usable remote: {0}")]
    NoRemote(String),
}

/// A notification from the server (`update*`, `locked`, `stolen`…).
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The method name.
    pub method: String,
    /// The parameters. On a connection that keeps updates as text
    /// ([`Connection::keep_updates_as_text`]), the last parameter of an
    /// `update`/`update2`/`update3` (the table-updates object) is `null`
    /// here and its text is in [`Notification::updates`].
    pub params: Value,
    /// The table-updates object of an `update*` notification as text, on a
    /// connection that keeps updates as text.
    pub updates: Option<RawJson>,
}

/// Connection options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Idle time after which an echo is sent; after as long again with no
    /// byte received the connection is declared dead. `None` disables it.
    pub inactivity_probe: Option<Duration>,
    /// When set, the probe follows this shared interval instead of
    /// `inactivity_probe`, also when it changes while connected.
    pub shared_probe: Option<ProbeInterval>,
    /// Largest message accepted.
    pub max_message: usize,
}

impl Options {
    /// The interval this connection follows.
    fn probe(&self) -> ProbeInterval {
        self.shared_probe
            .clone()
            .unwrap_or_else(|| ProbeInterval::new(self.inactivity_probe))
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            inactivity_probe: Some(Duration::from_secs(5)),
            shared_probe: None,
            max_message: 256 << 20,
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<RawJson, ClientError>>>>>;

/// One JSON-RPC connection to an OVSDB server.
pub struct Connection {
    remote: Remote,
    out: mpsc::UnboundedSender<Out>,
    pending: Pending,
    next_id: AtomicU64,
    reader: JoinHandle<()>,
    /// `update*` notifications keep their table-updates as text.
    raw_updates: Arc<AtomicBool>,
    /// A [`TransactStream`] is being written.
    streaming: Arc<AtomicBool>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Connection {
    /// Connects to an active remote (`unix:` or `tcp:`). Notifications
    /// arrive on the returned receiver, which ends when the connection does.
    pub async fn connect(
        remote: &Remote,
        opts: &Options,
    ) -> Result<(Connection, mpsc::UnboundedReceiver<Notification>), ClientError> {
        let fail = |e: std::io::Error| ClientError::Connect {
            remote: remote.to_string(),
            message: e.to_string(),
        };
        let io: Box<dyn Io> = match remote {
            Remote::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await.map_err(fail)?),
            Remote::Tcp(h, port) => {
                let s = tokio::net::TcpStream::connect((h.as_str(), *port))
                    .await
                    .map_err(fail)?;
                s.set_nodelay(true).ok();
                Box::new(s)
            }
            other => {
                return Err(ClientError::Connect {
                    remote: other.to_string(),
                    message: "a passive remote cannot be connected to".into(),
                })
            }
        };
        let (mut rd, wr) = tokio::io::split(io);
        let (out_tx, out_rx) = mpsc::unbounded_channel::<Out>();
        let (note_tx, note_rx) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        tokio::spawn(stream::write_loop(wr, out_rx));
        let reader_pending = pending.clone();
        let reply_tx = out_tx.clone();
        let probe = opts.probe();
        let limit = opts.max_message;
        let raw_updates = Arc::new(AtomicBool::new(false));
        let reader_raw = raw_updates.clone();
        let reader = tokio::spawn(async move {
            let why = read_loop(
                &mut rd,
                limit,
                probe,
                &reader_pending,
                &reply_tx,
                &note_tx,
                &reader_raw,
            )
            .await;
            for (_, tx) in reader_pending.lock().expect("pending lock").drain() {
                let _ = tx.send(Err(ClientError::Disconnected(why.clone())));
            }
        });
        let conn = Connection {
            remote: remote.clone(),
            out: out_tx,
            pending,
            next_id: AtomicU64::new(1),
            reader,
            raw_updates,
            streaming: Arc::default(),
        };
        Ok((conn, note_rx))
    }

    /// From now on, `update`/`update2`/`update3` notifications carry their
    /// table-updates as text ([`Notification::updates`]), for parsing
    /// straight into rows ([`Replica::apply_update_json`]) instead of
    /// building a [`Value`] tree of a whole transaction first.
    pub fn keep_updates_as_text(&self) {
        self.raw_updates.store(true, Ordering::Relaxed);
    }

    /// The remote this connection goes to.
    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// Sends a request and waits for its response's result.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        to_value(self.request_raw(method, params).await?)
    }

    /// Sends a request and waits for its response's result, as JSON text
    /// (for large replies parsed straight into their final form).
    pub async fn request_raw(&self, method: &str, params: Value) -> Result<RawJson, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending lock").insert(id, tx);
        let msg = Message::Request {
            method: method.to_string(),
            params,
            id: json!(id),
        };
        if self.out.send(Out::Msg(msg.to_bytes())).is_err() {
            self.pending.lock().expect("pending lock").remove(&id);
            return Err(ClientError::Disconnected("writer closed".into()));
        }
        rx.await
            .map_err(|_| ClientError::Disconnected("connection task ended".into()))?
    }

    /// Sends a request whose `params` array is already JSON text, and
    /// waits for its response's result.
    async fn request_text(
        &self,
        method: &str,
        size_hint: usize,
        params: impl FnOnce(&mut Vec<u8>),
    ) -> Result<RawJson, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending lock").insert(id, tx);
        let mut msg = Vec::with_capacity(size_hint + method.len() + 48);
        msg.extend_from_slice(b"{\"id\":");
        msg.extend_from_slice(id.to_string().as_bytes());
        msg.extend_from_slice(b",\"method\":");
        crate::rawjson::write_str(&mut msg, method);
        msg.extend_from_slice(b",\"params\":");
        params(&mut msg);
        msg.push(b'}');
        if self.out.send(Out::Msg(msg)).is_err() {
            self.pending.lock().expect("pending lock").remove(&id);
            return Err(ClientError::Disconnected("writer closed".into()));
        }
        rx.await
            .map_err(|_| ClientError::Disconnected("connection task ended".into()))?
    }

    /// Sends a notification (no response).
    pub fn notify(&self, method: &str, params: Value) -> Result<(), ClientError> {
        let msg = Message::Notification {
            method: method.to_string(),
            params,
        };
        self.out
            .send(Out::Msg(msg.to_bytes()))
            .map_err(|_| ClientError::Disconnected("writer closed".into()))
    }

    /// `list_dbs`.
    pub async fn list_dbs(&self) -> Result<Vec<String>, ClientError> {
        let v = self.request("list_dbs", json!([])).await?;
        serde_json::from_value(v).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `get_schema`, parsed.
    pub async fn get_schema(&self, db: &str) -> Result<DatabaseSchema, ClientError> {
        let v = self.request("get_schema", json!([db])).await?;
        DatabaseSchema::from_json(&v).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `transact`: the results array, one element per operation (an
    /// operation's error is an element with an `"error"` member).
    pub async fn transact(&self, db: &str, ops: Vec<Value>) -> Result<Vec<Value>, ClientError> {
        let mut params = vec![json!(db)];
        params.extend(ops);
        match self.request("transact", Value::Array(params)).await? {
            Value::Array(results) => Ok(results),
            other => Err(ClientError::Protocol(format!(
                "transact result is not an array: {other}"
            ))),
        }
    }

    /// `transact`, turning the first operation error into [`ClientError::Server`].
    pub async fn transact_checked(
        &self,
        db: &str,
        ops: Vec<Value>,
    ) -> Result<Vec<Value>, ClientError> {
        let results = self.transact(db, ops).await?;
        match results
            .iter()
            .find(|r| r.get("error").is_some_and(|e| !e.is_null()))
        {
            Some(e) => Err(ClientError::Server(e.clone())),
            None => Ok(results),
        }
    }

    /// `transact` of operations already serialized: the operations of
    /// `groups` in order, sent without building JSON values (the groups are
    /// dropped once the request is written, before the reply arrives). The
    /// first operation error becomes [`ClientError::Server`], as in
    /// [`Connection::transact_checked`].
    pub async fn transact_raw(
        &self,
        db: &str,
        groups: Vec<RawOps>,
    ) -> Result<Vec<Value>, ClientError> {
        let reply = to_value(self.transact_raw_request(db, groups).await?)?;
        let results = match reply {
            Value::Array(results) => results,
            other => {
                return Err(ClientError::Protocol(format!(
                    "transact result is not an array: {other}"
                )))
            }
        };
        match results
            .iter()
            .find(|r| r.get("error").is_some_and(|e| !e.is_null()))
        {
            Some(e) => Err(ClientError::Server(e.clone())),
            None => Ok(results),
        }
    }

    /// Sends a `transact` of the non-empty `groups` on `db`, written straight
    /// from their text, and returns the reply's result as text.
    async fn transact_raw_request(
        &self,
        db: &str,
        groups: Vec<RawOps>,
    ) -> Result<RawJson, ClientError> {
        let size: usize = groups.iter().map(|g| g.text_len() + 1).sum();
        let params = |out: &mut Vec<u8>| {
            out.push(b'[');
            crate::rawjson::write_str(out, db);
            for g in groups.into_iter().filter(|g| !g.is_empty()) {
                out.push(b',');
                out.extend_from_slice(g.as_bytes());
            }
            out.push(b']');
        };
        self.request_text("transact", size + db.len() + 8, params)
            .await
    }

    /// [`Connection::transact_raw`] answering only whether the transaction
    /// committed (the first operation error as [`ClientError::Server`]):
    /// the results are checked as text, without building a [`Value`] per
    /// operation (a first full compute inserts tens of thousands of rows).
    pub async fn transact_raw_checked(
        &self,
        db: &str,
        groups: Vec<RawOps>,
    ) -> Result<(), ClientError> {
        check_results(&self.transact_raw_request(db, groups).await?)
    }

    /// Starts a `transact` on `db` whose operations are written while they
    /// are decided ([`TransactStream`]): the server reads and parses the
    /// beginning while the rest is being computed, and no copy of the whole
    /// transaction is ever held. One stream at a time per connection.
    pub fn transact_stream(&self, db: &str) -> Result<TransactStream, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending lock").insert(id, tx);
        TransactStream::start(self.out.clone(), self.streaming.clone(), id, db, rx).inspect_err(
            |_| {
                self.pending.lock().expect("pending lock").remove(&id);
            },
        )
    }

    /// `cancel` of an outstanding request id (a notification, RFC 7047 §4.1.4).
    pub fn cancel(&self, id: u64) -> Result<(), ClientError> {
        self.notify("cancel", json!([id]))
    }

    /// `echo`.
    pub async fn echo(&self, payload: Value) -> Result<Value, ClientError> {
        self.request("echo", payload).await
    }

    /// `lock`: true if acquired now, false if queued (a `locked`
    /// notification follows when it is granted).
    pub async fn lock(&self, name: &str) -> Result<bool, ClientError> {
        lock_reply(self.request("lock", json!([name])).await?)
    }

    /// `steal`: takes the lock from its holder (who gets `stolen`).
    pub async fn steal(&self, name: &str) -> Result<bool, ClientError> {
        lock_reply(self.request("steal", json!([name])).await?)
    }

    /// `unlock`.
    pub async fn unlock(&self, name: &str) -> Result<(), ClientError> {
        self.request("unlock", json!([name])).await.map(|_| ())
    }

    /// Starts a monitor of every column of `tables` (all tables when empty),
    /// with the newest method the server knows: `monitor_cond_since`, else
    /// `monitor_cond`, else `monitor`. Returns the notation, whether the
    /// server still knew `last_txn_id` (`found`: the initial contents are
    /// then only the changes since), the new last id, and the initial contents.
    pub async fn monitor_all(
        &self,
        schema: &DatabaseSchema,
        monitor_id: &str,
        tables: &[&str],
        last_txn_id: Option<Uuid>,
    ) -> Result<MonitorStart, ClientError> {
        self.monitor(schema, monitor_id, &Selection::tables(tables), last_txn_id)
            .await
    }

    /// [`Connection::monitor_all`] of the tables and columns of `selection`.
    pub async fn monitor(
        &self,
        schema: &DatabaseSchema,
        monitor_id: &str,
        selection: &Selection,
        last_txn_id: Option<Uuid>,
    ) -> Result<MonitorStart, ClientError> {
        let reqs = Value::Object(selection.requests(schema));
        let last = last_txn_id.map_or(Uuid::nil(), |u| u).to_string();
        match self
            .request_raw(
                "monitor_cond_since",
                json!([schema.name, monitor_id, reqs, last]),
            )
            .await
        {
            Ok(raw) => return monitor_cond_since_reply(raw),
            Err(e) if !unknown_method(&e) => return Err(e),
            Err(_) => {}
        }
        match self
            .request_raw("monitor_cond", json!([schema.name, monitor_id, reqs]))
            .await
        {
            Ok(initial) => {
                return Ok(MonitorStart {
                    version: UpdateVersion::V2,
                    found: false,
                    last_txn_id: None,
                    initial,
                    method: "monitor_cond",
                })
            }
            Err(e) if !unknown_method(&e) => return Err(e),
            Err(_) => {}
        }
        let mut v1 = serde_json::Map::new();
        for (t, r) in reqs.as_object().expect("object") {
            v1.insert(t.clone(), r[0].clone());
        }
        let initial = self
            .request_raw("monitor", json!([schema.name, monitor_id, v1]))
            .await?;
        Ok(MonitorStart {
            version: UpdateVersion::V1,
            found: false,
            last_txn_id: None,
            initial,
            method: "monitor",
        })
    }
}

/// `[found, last-txn-id, table-updates]`, the table-updates kept as text
/// (not even scanned here: whoever parses it checks it).
fn monitor_cond_since_reply(raw: RawJson) -> Result<MonitorStart, ClientError> {
    let bad = || ClientError::Protocol(format!("monitor_cond_since reply: {}", snippet(raw.get())));
    let (found, id, range) = split3(raw.get()).ok_or_else(bad)?;
    let range = raw.locate(&raw.get()[range]).ok_or_else(bad)?;
    Ok(MonitorStart {
        version: UpdateVersion::V2,
        found: found.as_bool().unwrap_or(false),
        last_txn_id: id.as_str().and_then(|s| Uuid::parse_str(s).ok()),
        initial: raw.narrow(range),
        method: "monitor_cond_since",
    })
}

/// At most 60 characters of a text, for messages.
fn snippet(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Splits the JSON array `[a, b, c]`: `a` and `b` parsed, `c` as the
/// range of its text, unparsed.
fn split3(text: &str) -> Option<(Value, Value, std::ops::Range<usize>)> {
    let skip_ws = |pos: usize| pos + (text[pos..].len() - text[pos..].trim_start().len());
    let mut pos = skip_ws(0);
    if !text[pos..].starts_with('[') {
        return None;
    }
    pos += 1;
    let mut first_two = [Value::Null, Value::Null];
    for slot in &mut first_two {
        let mut values = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<Value>();
        *slot = values.next()?.ok()?;
        pos = skip_ws(pos + values.byte_offset());
        if !text[pos..].starts_with(',') {
            return None;
        }
        pos = skip_ws(pos + 1);
    }
    let end = text.trim_end().strip_suffix(']')?.trim_end().len();
    let [a, b] = first_two;
    (pos < end).then_some((a, b, pos..end))
}

/// Splits the JSON array `text`: its elements but the last parsed (the
/// last replaced by `null`), and the range of the last one's text.
fn split_last(text: &str) -> Option<(Value, std::ops::Range<usize>)> {
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(text).ok()?;
    let (last, rest) = items.split_last()?;
    let mut params = rest
        .iter()
        .map(|r| serde_json::from_str(r.get()).ok())
        .collect::<Option<Vec<Value>>>()?;
    params.push(Value::Null);
    let range = crate::rawjson::range_in(text, last.get())?;
    Some((Value::Array(params), range))
}

fn to_value(raw: RawJson) -> Result<Value, ClientError> {
    raw.to_value()
        .map_err(|e| ClientError::Protocol(e.to_string()))
}

/// Which tables and columns a monitor asks for.
///
/// The default ([`Selection::all`]) is every column of every table. A
/// daemon that reads only some columns can ask for just those, as
/// ovn-northd's IDL leaves out the columns it never reads: the server then
/// sends less and the replica builds less. In a replica, the columns left
/// out hold their schema defaults (0, "", empty set…), as in the IDL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Table → its columns (`None`: all of them); empty: every table.
    tables: BTreeMap<String, Option<Vec<String>>>,
}

impl Selection {
    /// Every column of every table.
    pub fn all() -> Selection {
        Selection::default()
    }

    /// Every column of `tables` (every table when empty).
    pub fn tables<S: AsRef<str>>(tables: &[S]) -> Selection {
        Selection {
            tables: tables
                .iter()
                .map(|t| (t.as_ref().to_string(), None))
                .collect(),
        }
    }

    /// Adds every column of `table`.
    pub fn table(mut self, table: &str) -> Selection {
        self.tables.insert(table.to_string(), None);
        self
    }

    /// Adds `table` with only `columns` (on top of columns already asked
    /// for it; a table already asked for whole stays whole).
    pub fn columns<S: AsRef<str>>(mut self, table: &str, columns: &[S]) -> Selection {
        let entry = self
            .tables
            .entry(table.to_string())
            .or_insert_with(|| Some(Vec::new()));
        if let Some(cols) = entry {
            for c in columns {
                if !cols.iter().any(|x| x == c.as_ref()) {
                    cols.push(c.as_ref().to_string());
                }
            }
        }
        self
    }

    /// True when every column of every table is asked for.
    pub fn is_all(&self) -> bool {
        self.tables.is_empty()
    }

    /// Whether `column` of `table` is asked for.
    pub fn contains(&self, table: &str, column: &str) -> bool {
        if self.tables.is_empty() {
            return true;
        }
        match self.tables.get(table) {
            Some(None) => true,
            Some(Some(cols)) => cols.iter().any(|c| c == column),
            None => false,
        }
    }

    /// The `monitor-requests` object for `schema`: every column listed
    /// explicitly. Tables and columns the server's schema lacks are left
    /// out with a warning, as ovsdb-cs does when a server is older than
    /// the client.
    pub fn requests(&self, schema: &DatabaseSchema) -> serde_json::Map<String, Value> {
        for (t, cols) in &self.tables {
            match schema.table(t) {
                None => tracing::warn!("{}: no table {t} to monitor", schema.name),
                Some(ts) => {
                    for c in cols.iter().flatten() {
                        if ts.column(c).is_none() {
                            tracing::warn!(
                                "{}: table {t} has no column {c} to monitor",
                                schema.name
                            );
                        }
                    }
                }
            }
        }
        let mut reqs = serde_json::Map::new();
        for (name, t) in &schema.tables {
            if !self.tables.is_empty() && !self.tables.contains_key(name) {
                continue;
            }
            let cols: Vec<&String> = t
                .columns
                .keys()
                .filter(|c| self.contains(name, c))
                .collect();
            reqs.insert(name.clone(), json!([{ "columns": cols }]));
        }
        reqs
    }
}

/// The answer to starting a monitor.
#[derive(Clone, Debug)]
pub struct MonitorStart {
    /// The notation of the initial contents and of later notifications.
    pub version: UpdateVersion,
    /// True if the initial contents are only the changes since the given id.
    pub found: bool,
    /// The server's last transaction id (monitor_cond_since only).
    pub last_txn_id: Option<Uuid>,
    /// The initial contents (a table-updates object), as JSON text: give
    /// it to [`Replica::reset_to_json`] or [`Replica::apply_update_json`].
    pub initial: RawJson,
    /// Which method the server accepted.
    pub method: &'static str,
}

fn unknown_method(e: &ClientError) -> bool {
    matches!(e, ClientError::Server(v) if v.as_str() == Some("unknown method") || v.get("error").and_then(Value::as_str) == Some("unknown method"))
}

fn lock_reply(v: Value) -> Result<bool, ClientError> {
    v.get("locked")
        .and_then(Value::as_bool)
        .ok_or_else(|| ClientError::Protocol(format!("lock reply: {v}")))
}

/// Sleeps for `d`, or forever without it.
async fn sleep_or_forever(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

async fn read_loop(
    rd: &mut (impl AsyncRead + Unpin),
    limit: usize,
    probe: ProbeInterval,
    pending: &Pending,
    reply: &mpsc::UnboundedSender<Out>,
    notes: &mpsc::UnboundedSender<Notification>,
    raw_updates: &AtomicBool,
) -> String {
    let mut framer = Framer::new(limit);
    // 64 kB a read: a monitor reply of megabytes takes a few more reads,
    // but every page of this buffer that a read once filled stays
    // resident for the connection's life (a 256 kB one cost the
    // controller 200 kB of its peak RSS; issue 9).
    let mut buf = vec![0u8; 64 * 1024];
    let mut probing = false;
    let mut probe = probe.watch();
    loop {
        let interval = *probe.borrow_and_update();
        // The wait ends with bytes, with the interval (the probe), or when
        // the interval changes (the wait starts again under the new one;
        // `read` is cancel-safe).
        let read = tokio::select! {
            r = rd.read(&mut buf) => r,
            _ = sleep_or_forever(interval) => {
                if probing {
                    let p = interval.unwrap_or_default();
                    return format!("inactivity probe: no reply within {p:?}");
                }
                probing = true;
                let echo = Message::Request {
                    method: "echo".into(),
                    params: json!([]),
                    id: json!("echo"),
                };
                let _ = reply.send(Out::Msg(echo.to_bytes()));
                continue;
            }
            Ok(()) = probe.changed() => continue,
        };
        let n = match read {
            Ok(0) => return "end of stream".into(),
            Ok(n) => n,
            Err(e) => return e.to_string(),
        };
        probing = false;
        framer.push(&buf[..n]);
        loop {
            let frame = match framer.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return e.to_string(),
            };
            let raw = raw_updates.load(Ordering::Relaxed);
            if let Err(e) = dispatch(frame, pending, reply, notes, raw) {
                return format!("malformed JSON-RPC message: {e}");
            }
        }
    }
}

/// Handles one received message. Responses go to their waiting request
/// as text, unparsed (a monitor reply may be megabytes); requests and
/// notifications are parsed.
fn dispatch(
    frame: Vec<u8>,
    pending: &Pending,
    reply: &mpsc::UnboundedSender<Out>,
    notes: &mpsc::UnboundedSender<Notification>,
    raw_updates: bool,
) -> Result<(), String> {
    let text = String::from_utf8(frame).map_err(|_| "not UTF-8".to_string())?;
    let env = Envelope::parse(&text)?;
    let value = |r: &Option<std::ops::Range<usize>>| -> Result<Value, String> {
        match r {
            Some(r) => serde_json::from_str(&text[r.clone()]).map_err(|e| e.to_string()),
            None => Ok(Value::Null),
        }
    };
    if let Some(m) = &env.method {
        let method: String = serde_json::from_str(&text[m.clone()])
            .map_err(|_| "method is not a string".to_string())?;
        let is_update = matches!(method.as_str(), "update" | "update2" | "update3");
        let no_id = env
            .id
            .as_ref()
            .is_none_or(|r| text[r.clone()].trim() == "null");
        if let (true, true, true, Some(p)) = (raw_updates, is_update, no_id, &env.params) {
            let (params, last) = split_last(&text[p.clone()])
                .ok_or_else(|| format!("{method}: params is not a non-empty array"))?;
            let start = p.start + last.start;
            let updates = RawJson::slice(text, start..start + last.len());
            let _ = notes.send(Notification {
                method,
                params,
                updates: Some(updates),
            });
            return Ok(());
        }
        let params = match &env.params {
            Some(_) => value(&env.params)?,
            None => Value::Array(Vec::new()),
        };
        if !params.is_array() {
            return Err(format!("{method}: params is not an array"));
        }
        let id = value(&env.id)?;
        if id.is_null() {
            let _ = notes.send(Notification {
                method,
                params,
                updates: None,
            });
        } else if method == "echo" {
            let echo = Message::Response {
                result: params,
                error: Value::Null,
                id,
            };
            let _ = reply.send(Out::Msg(echo.to_bytes()));
        } else {
            let err = Message::Response {
                result: Value::Null,
                error: json!("unknown method"),
                id,
            };
            let _ = reply.send(Out::Msg(err.to_bytes()));
        }
        return Ok(());
    }
    if env.result.is_none() && env.error.is_none() {
        return Err("message is neither a request, a notification nor a response".into());
    }
    let Some(id) = value(&env.id)?.as_u64() else {
        return Ok(());
    };
    let Some(tx) = pending.lock().expect("pending lock").remove(&id) else {
        return Ok(());
    };
    let error = value(&env.error)?;
    let r = if !error.is_null() {
        Err(ClientError::Server(error))
    } else {
        match env.result {
            Some(r) => Ok(RawJson::slice(text, r)),
            None => Ok(RawJson::null()),
        }
    };
    let _ = tx.send(r);
    Ok(())
}

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
    /// of `selection`; the replica's other columns hold their defaults.
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

    async fn try_remote(&mut self, remote: &Remote) -> Result<(), ClientError> {
        let (conn, notes) = Connection::connect(remote, &self.opts).await?;
        conn.keep_updates_as_text();
        // Both questions in one round trip.
        let (member, schema) = tokio::join!(
            check_cluster_member(&conn, &self.db, self.leader_only),
            conn.get_schema(&self.db)
        );
        member?;
        let schema = schema?;
        if schema != **self.replica.database().schema() {
            // First connection (or the schema changed): start from empty.
            let old = std::mem::replace(&mut self.replica, Replica::new(Arc::new(schema.clone())));
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
        let start = conn
            .monitor(
                &schema,
                MONITOR_ID,
                &self.selection,
                self.replica.last_txn_id(),
            )
            .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split3_keeps_the_third_element_as_text() {
        let text = r#" [ true , "a,]b" ,{"T": {"u": [1, "]"]}} ] "#;
        let (a, b, r) = split3(text).unwrap();
        assert_eq!(a, json!(true));
        assert_eq!(b, json!("a,]b"));
        assert_eq!(&text[r], r#"{"T": {"u": [1, "]"]}}"#);
        for bad in [
            "[true, \"x\"]",
            "{}",
            "[true \"x\", {}]",
            "[1, 2, ]",
            "[1, 2, {}",
        ] {
            assert!(split3(bad).is_none(), "{bad}");
        }
        let raw = RawJson::new(r#"[false,"4e0b20f2-9b9b-4c17-8d74-a331eff9070b",{}]"#.into());
        let m = monitor_cond_since_reply(raw).unwrap();
        assert_eq!(m.initial.get(), "{}");
        assert!(!m.found);
        assert!(m.last_txn_id.is_some());
        assert!(monitor_cond_since_reply(RawJson::new("[1]".into())).is_err());
    }

    #[test]
    fn update_notifications_keep_their_updates_as_text() {
        let (a, _keep) = split_last(r#"["m", "id", {"T": {}} ]"#).unwrap();
        assert_eq!(a, json!(["m", "id", null]));
        assert!(split_last("[]").is_none() && split_last("{}").is_none());
        let pending: Pending = Arc::default();
        let (reply, _r) = mpsc::unbounded_channel();
        let (notes, mut got) = mpsc::unbounded_channel();
        let frame = |t: &str| t.as_bytes().to_vec();
        let update =
            r#"{"id":null,"method":"update3","params":["m","u",{"T":{"x":{"insert":{}}}}]}"#;
        dispatch(frame(update), &pending, &reply, &notes, true).unwrap();
        let n = got.try_recv().unwrap();
        assert_eq!(n.params, json!(["m", "u", null]));
        assert_eq!(n.updates.unwrap().get(), r#"{"T":{"x":{"insert":{}}}}"#);
        dispatch(frame(update), &pending, &reply, &notes, false).unwrap();
        let n = got.try_recv().unwrap();
        assert_eq!(n.params[2], json!({"T": {"x": {"insert": {}}}}));
        assert!(n.updates.is_none());
        let locked = r#"{"id":null,"method":"locked","params":["l"]}"#;
        dispatch(frame(locked), &pending, &reply, &notes, true).unwrap();
        assert!(got.try_recv().unwrap().updates.is_none());
    }
}
