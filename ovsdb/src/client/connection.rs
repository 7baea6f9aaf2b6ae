//! One JSON-RPC connection to an OVSDB server ([`Connection`]): the socket
//! and its reader and writer tasks, requests matched to their responses,
//! notifications, and the simple RFC 7047 methods (`list_dbs`,
//! `get_schema`, `cancel`, `echo`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::reader::read_loop;
use super::stream::{self, Out};
use super::{ClientError, Notification, Options};
use crate::jsonrpc::Message;
use crate::rawjson::RawJson;
use crate::remote::Remote;
use crate::schema::DatabaseSchema;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(super) type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<RawJson, ClientError>>>>>;

/// One JSON-RPC connection to an OVSDB server.
pub struct Connection {
    remote: Remote,
    pub(super) out: mpsc::UnboundedSender<Out>,
    pub(super) pending: Pending,
    pub(super) next_id: AtomicU64,
    reader: JoinHandle<()>,
    /// `update*` notifications keep their table-updates as text.
    raw_updates: Arc<AtomicBool>,
    /// A [`TransactStream`](super::TransactStream) is being written.
    pub(super) streaming: Arc<AtomicBool>,
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
    ///
    /// [`Replica::apply_update_json`]: crate::replica::Replica::apply_update_json
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
    pub(super) async fn request_text(
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

    /// `cancel` of an outstanding request id (a notification, RFC 7047 §4.1.4).
    pub fn cancel(&self, id: u64) -> Result<(), ClientError> {
        self.notify("cancel", json!([id]))
    }

    /// `echo`.
    pub async fn echo(&self, payload: Value) -> Result<Value, ClientError> {
        self.request("echo", payload).await
    }
}

pub(super) fn to_value(raw: RawJson) -> Result<Value, ClientError> {
    raw.to_value()
        .map_err(|e| ClientError::Protocol(e.to_string()))
}
