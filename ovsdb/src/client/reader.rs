//! The reader task of a connection: bytes framed into JSON-RPC messages,
//! responses handed to the requests waiting for them, the server's `echo`
//! answered, notifications passed on, and the inactivity probe.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use super::connection::Pending;
use super::stream::Out;
use super::{ClientError, Notification, ProbeInterval};
use crate::jsonrpc::{Envelope, Framer, Message};
use crate::rawjson::RawJson;

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

/// Sleeps for `d`, or forever without it.
async fn sleep_or_forever(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

pub(super) async fn read_loop(
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

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
