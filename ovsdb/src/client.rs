//! The async OVSDB client (tokio): one [`Connection`] per socket, with
//! request/response matching, automatic replies to the server's `echo`, an
//! inactivity probe, and the RFC 7047 methods plus ovsdb-server's
//! extensions (`monitor_cond`, `monitor_cond_since`, `update2`/`update3`);
//! and [`ReplicaSession`], which keeps a [`Replica`] in step with a server
//! across disconnects, resuming monitors from the last transaction id so
//! that no change is lost or applied twice, and following the RAFT leader
//! of a clustered database as ovn-northd does.
//!
//! Layout: `connection` (the socket, requests matched to responses, the
//! simple methods), `reader` (the reader task: messages received, the
//! server's `echo` answered, the inactivity probe), `transact` and
//! `stream` (transactions), `lock` (locks), `monitor` (monitors and the
//! tables and columns they ask for), `session` ([`ReplicaSession`]),
//! `probe` (the shared probe interval).
//!
//! [`Replica`]: crate::replica::Replica

use std::time::Duration;

use serde_json::Value;

use crate::rawjson::RawJson;

mod connection;
mod lock;
mod monitor;
mod probe;
mod reader;
mod session;
mod stream;
mod transact;

pub use connection::Connection;
pub use monitor::{MonitorStart, Selection};
pub use probe::{probe_from_msec, ProbeInterval};
pub use session::ReplicaSession;
pub use stream::TransactStream;

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
