//! Transactions written while they are decided ([`TransactStream`]), the
//! socket writer that keeps other messages out of a message being
//! streamed, and the check of a `transact` reply that builds no value per
//! operation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::ClientError;
use crate::rawjson::{write_str, RawJson};

/// What the socket writer task is given.
pub(crate) enum Out {
    /// A whole message.
    Msg(Vec<u8>),
    /// The next part of the message being streamed (the first part starts
    /// it): whole messages wait until its end.
    Part(Vec<u8>),
    /// The streamed message is complete; the messages held meanwhile
    /// follow it.
    End,
}

/// Writes what it is given to the socket in order, holding whole messages
/// (replies to the server's `echo`, probes, other requests) while a
/// streamed message is incomplete, so that no message lands inside
/// another.
pub(crate) async fn write_loop(
    mut wr: impl AsyncWrite + Unpin,
    mut rx: mpsc::UnboundedReceiver<Out>,
) {
    let mut streaming = false;
    let mut held: Vec<Vec<u8>> = Vec::new();
    while let Some(out) = rx.recv().await {
        let ok = match out {
            Out::Msg(bytes) if streaming => {
                held.push(bytes);
                true
            }
            Out::Msg(bytes) => wr.write_all(&bytes).await.is_ok(),
            Out::Part(bytes) => {
                streaming = true;
                wr.write_all(&bytes).await.is_ok()
            }
            Out::End => {
                streaming = false;
                let mut ok = true;
                for bytes in held.drain(..) {
                    if wr.write_all(&bytes).await.is_err() {
                        ok = false;
                        break;
                    }
                }
                ok
            }
        };
        if !ok {
            break;
        }
    }
    let _ = wr.shutdown().await;
}

/// A `transact` request sent while its operations are being decided
/// ([`super::Connection::transact_stream`]): operations go to the socket
/// as they are written, the server parses them as they come, and the
/// whole transaction is never held in memory at once.
///
/// The transaction is all or nothing as any other: the server executes it
/// only once [`TransactStream::finish`] closed it. A stream dropped
/// unfinished is closed with an `abort` operation, so that the server
/// rejects what it received.
pub struct TransactStream {
    out: mpsc::UnboundedSender<Out>,
    busy: Arc<AtomicBool>,
    reply: Option<oneshot::Receiver<Result<RawJson, ClientError>>>,
    /// Operation text written so far.
    any: bool,
    /// Closed (finished or aborted).
    closed: bool,
}

impl TransactStream {
    /// Starts request `id` on database `db`: the request's head goes out
    /// now.
    pub(crate) fn start(
        out: mpsc::UnboundedSender<Out>,
        busy: Arc<AtomicBool>,
        id: u64,
        db: &str,
        reply: oneshot::Receiver<Result<RawJson, ClientError>>,
    ) -> Result<TransactStream, ClientError> {
        if busy.swap(true, Ordering::AcqRel) {
            return Err(ClientError::Protocol(
                "a streamed transaction is already being written on this connection".into(),
            ));
        }
        let mut stream = TransactStream {
            out,
            busy,
            reply: Some(reply),
            any: false,
            closed: false,
        };
        let mut head = Vec::with_capacity(64 + db.len());
        head.extend_from_slice(b"{\"id\":");
        head.extend_from_slice(id.to_string().as_bytes());
        head.extend_from_slice(b",\"method\":\"transact\",\"params\":[");
        write_str(&mut head, db);
        stream.part(head)?;
        Ok(stream)
    }

    fn part(&mut self, bytes: Vec<u8>) -> Result<(), ClientError> {
        self.out
            .send(Out::Part(bytes))
            .map_err(|_| ClientError::Disconnected("writer closed".into()))
    }

    /// Writes more operations: `text` continues what was written before,
    /// so that all the texts written, one after the other, are the
    /// operations separated by commas (as [`crate::rawjson::RawOps`] holds
    /// them; its [`crate::rawjson::RawOps::take_text`] hands them out so).
    pub fn write(&mut self, text: Vec<u8>) -> Result<(), ClientError> {
        if text.is_empty() {
            return Ok(());
        }
        if !self.any {
            self.any = true;
            self.part(b",".to_vec())?;
        }
        self.part(text)
    }

    /// Closes the request with `tail` and lets held messages go.
    fn close(&mut self, tail: &[u8]) -> Result<(), ClientError> {
        self.closed = true;
        let r = self.part(tail.to_vec());
        let _ = self.out.send(Out::End);
        self.busy.store(false, Ordering::Release);
        r
    }

    /// Completes the request and waits for the outcome: `Ok` when the
    /// transaction committed, else the first operation error as
    /// [`ClientError::Server`].
    pub async fn finish(mut self) -> Result<(), ClientError> {
        self.close(b"]}")?;
        let reply = self.reply.take().expect("reply receiver");
        let raw = reply
            .await
            .map_err(|_| ClientError::Disconnected("connection task ended".into()))??;
        check_results(&raw)
    }
}

impl Drop for TransactStream {
    fn drop(&mut self) {
        if !self.closed {
            // Whatever was sent must not commit.
            let _ = self.close(b",{\"op\":\"abort\"}]}");
        }
    }
}

/// What a `transact` result element says about failure.
#[derive(Deserialize)]
struct Outcome {
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    details: Option<Value>,
}

/// Checks a `transact` reply (the results array, as text): the first
/// element with a non-null `error` becomes [`ClientError::Server`]; other
/// members (inserted UUIDs, selected rows, counts) are skipped unparsed.
pub(crate) fn check_results(raw: &RawJson) -> Result<(), ClientError> {
    let results: Vec<Option<Outcome>> = serde_json::from_str(raw.get()).map_err(|e| {
        ClientError::Protocol(format!("transact result is not an array of results: {e}"))
    })?;
    for r in results.into_iter().flatten() {
        match r.error {
            Some(e) if !e.is_null() => {
                let mut v = json!({ "error": e });
                if let Some(d) = r.details {
                    v["details"] = d;
                }
                return Err(ClientError::Server(v));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_checked_without_values() {
        let ok =
            RawJson::new(r#"[{"uuid":["uuid","x"]},{"count":1},{"rows":[{"a":1}]},{}]"#.into());
        assert_eq!(check_results(&ok), Ok(()));
        let failed = RawJson::new(
            r#"[{"uuid":["uuid","x"]},{"error":"constraint violation","details":"d"},null]"#.into(),
        );
        assert_eq!(
            check_results(&failed),
            Err(ClientError::Server(
                json!({"error": "constraint violation", "details": "d"})
            ))
        );
        let null_error = RawJson::new(r#"[{"error":null}]"#.into());
        assert_eq!(check_results(&null_error), Ok(()));
        assert!(matches!(
            check_results(&RawJson::new("{}".into())),
            Err(ClientError::Protocol(_))
        ));
    }

    #[tokio::test]
    async fn streamed_message_is_not_interleaved() {
        let (tx, rx) = mpsc::unbounded_channel();
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(write_loop(server, rx));
        let busy = Arc::new(AtomicBool::new(false));
        let (_reply_tx, reply_rx) = oneshot::channel();
        let mut s = TransactStream::start(tx.clone(), busy.clone(), 7, "DB", reply_rx).unwrap();
        let (_r2, rx2) = oneshot::channel();
        assert!(TransactStream::start(tx.clone(), busy.clone(), 8, "DB", rx2).is_err());
        s.write(b"{\"op\":\"a\"}".to_vec()).unwrap();
        tx.send(Out::Msg(b"{\"echo\":1}".to_vec())).unwrap();
        s.write(b",{\"op\":\"b\"}".to_vec()).unwrap();
        drop(s); // unfinished: aborted
        tx.send(Out::Msg(b"{\"last\":1}".to_vec())).unwrap();
        drop(tx);
        writer.await.unwrap();
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut client, &mut text)
            .await
            .unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"id":7,"method":"transact","params":["DB",{"op":"a"},{"op":"b"},{"op":"abort"}]}"#,
                r#"{"echo":1}{"last":1}"#
            )
        );
        assert!(!busy.load(Ordering::Acquire));
    }
}
