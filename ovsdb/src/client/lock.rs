//! Locks (RFC 7047 §4.1.8): `lock`, `steal` and `unlock`. The server's
//! `locked` and `stolen` notifications arrive as [`super::Notification`]s.

use serde_json::{json, Value};

use super::{ClientError, Connection};

impl Connection {
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
}

fn lock_reply(v: Value) -> Result<bool, ClientError> {
    v.get("locked")
        .and_then(Value::as_bool)
        .ok_or_else(|| ClientError::Protocol(format!("lock reply: {v}")))
}
