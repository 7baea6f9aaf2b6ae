//! `transact` (RFC 7047 §4.1.3) and its variants: operations given as
//! values, as text already serialized ([`RawOps`]), or streamed while they
//! are decided ([`TransactStream`]).

use std::sync::atomic::Ordering;

use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::connection::to_value;
use super::stream::check_results;
use super::{ClientError, Connection, TransactStream};
use crate::rawjson::{RawJson, RawOps};

impl Connection {
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
}
