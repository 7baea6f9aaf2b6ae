//! JSON-RPC 1.0 as OVSDB speaks it (RFC 7047 §4): messages and a framer for
//! byte streams in which messages may be split or glued together anywhere.
//!
//! The framer scans each byte once (it keeps its state across chunks), so
//! feeding a large message in small pieces stays linear; messages larger
//! than a bound are an error for the connection, never a panic or a hang.

use serde_json::{json, Value};

/// One JSON-RPC message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A request expecting a response with the same id.
    Request {
        /// The method name.
        method: String,
        /// The parameters (an array).
        params: Value,
        /// The request id (never null).
        id: Value,
    },
    /// A response to a request.
    Response {
        /// The result (null on error).
        result: Value,
        /// The error (null on success).
        error: Value,
        /// The id of the request answered.
        id: Value,
    },
    /// A notification: a request with a null id and no response.
    Notification {
        /// The method name.
        method: String,
        /// The parameters.
        params: Value,
    },
}

/// A protocol error on a connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonRpcError {
    /// The bytes are not JSON, or not one JSON object per message.
    #[error("malformed JSON-RPC stream at byte {offset}: {message}")]
    Malformed {
        /// Offset in the stream of the offending byte or message.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A message exceeds the size bound.
    #[error("JSON-RPC message exceeds {limit} bytes")]
    TooLarge {
        /// The bound.
        limit: usize,
    },
}

impl Message {
    /// Parses a message from its JSON value.
    pub fn from_json(v: Value) -> Result<Message, String> {
        let Value::Object(mut m) = v else {
            return Err("message is not a JSON object".into());
        };
        let id = m.remove("id").unwrap_or(Value::Null);
        if let Some(method) = m.remove("method") {
            let method = method.as_str().ok_or("method is not a string")?.to_string();
            let params = m.remove("params").unwrap_or(Value::Array(Vec::new()));
            if !params.is_array() {
                return Err(format!("{method}: params is not an array"));
            }
            return Ok(if id.is_null() {
                Message::Notification { method, params }
            } else {
                Message::Request { method, params, id }
            });
        }
        if m.contains_key("result") || m.contains_key("error") {
            return Ok(Message::Response {
                result: m.remove("result").unwrap_or(Value::Null),
                error: m.remove("error").unwrap_or(Value::Null),
                id,
            });
        }
        Err("message is neither a request, a notification nor a response".into())
    }

    /// The JSON value of the message.
    pub fn to_json(&self) -> Value {
        match self {
            Message::Request { method, params, id } => {
                json!({"method": method, "params": params, "id": id})
            }
            Message::Response { result, error, id } => {
                json!({"result": result, "error": error, "id": id})
            }
            Message::Notification { method, params } => {
                json!({"method": method, "params": params, "id": null})
            }
        }
    }

    /// The message serialized as bytes for the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).expect("JSON values serialize")
    }
}

/// Splits a byte stream into JSON-RPC messages.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned.
    scanned: usize,
    /// Open brackets of the message being scanned.
    stack: Vec<u8>,
    in_string: bool,
    escape: bool,
    /// Stream offset of `buf[0]`.
    base: u64,
    limit: usize,
    failed: bool,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(64 << 20)
    }
}

impl Framer {
    /// A framer refusing messages larger than `limit` bytes.
    pub fn new(limit: usize) -> Framer {
        Framer {
            buf: Vec::new(),
            scanned: 0,
            stack: Vec::new(),
            in_string: false,
            escape: false,
            base: 0,
            limit,
            failed: false,
        }
    }

    /// Adds bytes received from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// True if bytes of an incomplete message are buffered.
    pub fn has_partial(&self) -> bool {
        self.buf.iter().any(|b| !b.is_ascii_whitespace())
    }

    /// The next complete message, `Ok(None)` if more bytes are needed. After
    /// an error the stream is unusable and every call fails.
    pub fn next_message(&mut self) -> Result<Option<Message>, JsonRpcError> {
        let Some(frame) = self.next_frame()? else {
            return Ok(None);
        };
        let at = self.base - frame.len() as u64;
        let bad = |message: String| JsonRpcError::Malformed {
            offset: at,
            message,
        };
        let parsed = serde_json::from_slice(&frame)
            .map_err(|e| bad(format!("invalid JSON: {e}")))
            .and_then(|v| Message::from_json(v).map_err(bad));
        if parsed.is_err() {
            self.failed = true;
        }
        parsed.map(Some)
    }

    /// The bytes of the next complete message (one top-level JSON object
    /// or array, not yet parsed), `Ok(None)` if more bytes are needed.
    /// After an error the stream is unusable and every call fails.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, JsonRpcError> {
        if self.failed {
            return Err(self.malformed(0, "stream already failed"));
        }
        match self.scan() {
            Ok(Some(end)) => {
                let rest = self.buf.split_off(end);
                let frame = std::mem::replace(&mut self.buf, rest);
                self.base += end as u64;
                self.scanned = 0;
                Ok(Some(frame))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    fn malformed(&self, at: usize, message: &str) -> JsonRpcError {
        JsonRpcError::Malformed {
            offset: self.base + at as u64,
            message: message.to_string(),
        }
    }

    /// Scans on from where the last call stopped; returns the length of
    /// the first complete message in `buf`.
    fn scan(&mut self) -> Result<Option<usize>, JsonRpcError> {
        // Skip whitespace between messages.
        if self.stack.is_empty() && self.scanned == 0 {
            let ws = self
                .buf
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            self.buf.drain(..ws);
            self.base += ws as u64;
        }
        let len = self.buf.len();
        let mut i = self.scanned;
        while i < len {
            if self.in_string {
                if self.escape {
                    self.escape = false;
                    i += 1;
                } else {
                    // The bulk of a large message is string contents: jump
                    // to the next quote or backslash.
                    match self.buf[i..].iter().position(|&b| b == b'"' || b == b'\\') {
                        None => i = len,
                        Some(p) => {
                            i += p;
                            if self.buf[i] == b'"' {
                                self.in_string = false;
                            } else {
                                self.escape = true;
                            }
                            i += 1;
                        }
                    }
                }
            } else {
                let b = self.buf[i];
                match b {
                    b'"' if !self.stack.is_empty() => self.in_string = true,
                    b'{' | b'[' => self.stack.push(b),
                    b'}' | b']' if !self.stack.is_empty() => {
                        let open = if b == b'}' { b'{' } else { b'[' };
                        if self.stack.pop() != Some(open) {
                            return Err(self.malformed(i, "mismatched closing bracket"));
                        }
                        if self.stack.is_empty() {
                            return Ok(Some(i + 1));
                        }
                    }
                    _ if self.stack.is_empty() && !b.is_ascii_whitespace() => {
                        return Err(self.malformed(i, "expected a JSON object"));
                    }
                    _ => {}
                }
                i += 1;
            }
            if i > self.limit {
                return Err(JsonRpcError::TooLarge { limit: self.limit });
            }
        }
        self.scanned = i;
        Ok(None)
    }
}

/// Where the members of one JSON-RPC message lie in its text: each a
/// byte range of a complete JSON value (parsed later, as needed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub id: Option<std::ops::Range<usize>>,
    pub method: Option<std::ops::Range<usize>>,
    pub params: Option<std::ops::Range<usize>>,
    pub result: Option<std::ops::Range<usize>>,
    pub error: Option<std::ops::Range<usize>>,
}

impl Envelope {
    /// Finds the members of the message `text` (checking that it is one
    /// JSON object, without building values for the members).
    pub fn parse(text: &str) -> Result<Envelope, String> {
        let mut d = serde_json::Deserializer::from_str(text);
        let members: Members = serde::Deserialize::deserialize(&mut d)
            .and_then(|m| d.end().map(|()| m))
            .map_err(|e| e.to_string())?;
        let at = |r: Option<&serde_json::value::RawValue>| {
            r.and_then(|r| crate::rawjson::range_in(text, r.get()))
        };
        Ok(Envelope {
            id: at(members.id),
            method: at(members.method),
            params: at(members.params),
            result: at(members.result),
            error: at(members.error),
        })
    }
}

/// The members of a JSON-RPC message, borrowed as raw text.
#[derive(Default)]
struct Members<'a> {
    id: Option<&'a serde_json::value::RawValue>,
    method: Option<&'a serde_json::value::RawValue>,
    params: Option<&'a serde_json::value::RawValue>,
    result: Option<&'a serde_json::value::RawValue>,
    error: Option<&'a serde_json::value::RawValue>,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MembersVisitor(std::marker::PhantomData))
    }
}

struct MembersVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> serde::de::Visitor<'de> for MembersVisitor<'a> {
    type Value = Members<'a>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON-RPC message (a JSON object)")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members<'a>, A::Error> {
        const NAMES: &[&str] = &["id", "method", "params", "result", "error"];
        let mut m = Members::default();
        while let Some(k) = map.next_key_seed(crate::de::Word(NAMES))? {
            let slot = match k {
                Ok(0) => &mut m.id,
                Ok(1) => &mut m.method,
                Ok(2) => &mut m.params,
                Ok(3) => &mut m.result,
                Ok(4) => &mut m.error,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value()?);
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages() -> Vec<Message> {
        vec![
            Message::Request {
                method: "transact".into(),
                params: json!(["OVN_Northbound", {"op": "comment", "comment": "}{\"\\"}]),
                id: json!(1),
            },
            Message::Notification {
                method: "update2".into(),
                params: json!([null, {"T": {}}]),
            },
            Message::Response {
                result: json!({"ok": "é ✓"}),
                error: Value::Null,
                id: json!("x"),
            },
        ]
    }

    #[test]
    fn split_at_every_byte_and_glued() {
        let wire: Vec<u8> = messages()
            .iter()
            .flat_map(|m| {
                let mut b = m.to_bytes();
                b.extend_from_slice(b" \n");
                b
            })
            .collect();
        for cut in 0..wire.len() {
            let mut f = Framer::default();
            let mut got = Vec::new();
            f.push(&wire[..cut]);
            while let Some(m) = f.next_message().unwrap() {
                got.push(m);
            }
            f.push(&wire[cut..]);
            while let Some(m) = f.next_message().unwrap() {
                got.push(m);
            }
            assert_eq!(got, messages(), "cut at {cut}");
            assert!(!f.has_partial());
        }
    }

    #[test]
    fn garbage_and_oversize_are_errors() {
        let mut f = Framer::default();
        f.push(b"hello");
        assert!(matches!(
            f.next_message(),
            Err(JsonRpcError::Malformed { offset: 0, .. })
        ));
        assert!(f.next_message().is_err(), "a failed stream stays failed");
        let mut f = Framer::default();
        f.push(b"{\"id\": 1, \"result\": [1,}");
        assert!(f.next_message().is_err());
        let mut f = Framer::default();
        f.push(b"]");
        assert!(f.next_message().is_err());
        let mut f = Framer::new(16);
        f.push(b"{\"method\": \"echo\", \"params\": [], \"id\": \"0123456789\"}");
        assert_eq!(f.next_message(), Err(JsonRpcError::TooLarge { limit: 16 }));
        let mut f = Framer::default();
        f.push(b"{\"x\": 1}");
        assert!(f.next_message().is_err(), "not a JSON-RPC message");
    }

    #[test]
    fn truncated_input_waits() {
        let mut f = Framer::default();
        f.push(b"{\"method\": \"echo\", \"params\": [");
        assert_eq!(f.next_message(), Ok(None));
        assert!(f.has_partial());
    }
}
