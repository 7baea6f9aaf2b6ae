//! The SB transaction of one main-loop step: the lock assertion, then the
//! operations of the step's [`Plan`], sent whole when the plan is small,
//! streamed to the writer while it is being decided when it is large
//! ([`SbStream`]).

use ovsdb::rawjson::RawOps;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::daemon::LOCK_NAME;
use crate::link::{StreamPart, WriteCmd};
use crate::reconcile::{Plan, Spill};

/// The lock assertion every SB transaction starts with.
pub fn assert_lock() -> serde_json::Value {
    json!({"op": "assert", "lock": LOCK_NAME})
}

/// A plan's text goes to the SB writer in pieces of about this size once
/// it reaches it (below glibc's mmap threshold, so that the pieces reuse
/// the memory of the delta rows freed meanwhile).
pub const STREAM_AT: usize = 64 << 10;

/// The SB transaction of one step when its plan is large: streamed to the
/// writer ([`WriteCmd::Stream`]) from the plan's first spilled piece on,
/// while the rest is being decided, so that neither the whole text nor a
/// copy of it is ever held and the server parses the beginning meanwhile.
pub struct SbStream {
    parts: mpsc::UnboundedSender<StreamPart>,
    reply: oneshot::Receiver<Result<(), String>>,
}

impl SbStream {
    /// An empty plan that starts the stream on `writer` when it first
    /// spills, and the stream to finish it with.
    pub fn plan(writer: mpsc::UnboundedSender<WriteCmd>) -> (Plan, SbStream) {
        let (parts_tx, parts_rx) = mpsc::unbounded_channel();
        let (reply_tx, reply_rx) = oneshot::channel();
        let mut start = Some((writer, parts_rx, reply_tx));
        let parts = parts_tx.clone();
        let sink: Spill = Box::new(move |text: Vec<u8>| {
            let text = match start.take() {
                Some((writer, parts, reply)) => {
                    let _ = writer.send(WriteCmd::Stream { parts, reply });
                    let mut first = serde_json::to_vec(&assert_lock()).unwrap_or_default();
                    first.push(b',');
                    first.extend_from_slice(&text);
                    first
                }
                None => text,
            };
            let _ = parts.send(StreamPart::Ops(text));
        });
        (
            Plan::spilling(STREAM_AT, sink),
            SbStream {
                parts: parts_tx,
                reply: reply_rx,
            },
        )
    }

    /// Sends the rest of a spilled plan's text and waits for the outcome.
    pub async fn finish(self, rest: Vec<u8>) -> Result<(), String> {
        let _ = self.parts.send(StreamPart::Ops(rest));
        let _ = self.parts.send(StreamPart::Done);
        self.reply.await.map_err(|_| "writer gone".to_string())?
    }
}

/// Runs `ops` on the database of `writer`: whether they committed.
pub async fn transact(
    writer: &mpsc::UnboundedSender<WriteCmd>,
    ops: Vec<RawOps>,
) -> Result<(), String> {
    let (tx, rx) = oneshot::channel();
    writer
        .send(WriteCmd::Transact { ops, reply: tx })
        .map_err(|_| "writer gone".to_string())?;
    rx.await.map_err(|_| "writer gone".to_string())?
}
