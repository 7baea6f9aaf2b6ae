//! Writing RFC 7047 JSON straight into bytes, without building
//! [`serde_json::Value`] trees first.
//!
//! A daemon writing a large transaction (ovn-northd's first SB commit holds
//! tens of thousands of rows) would otherwise hold the operations as
//! `Value`s, clone them into the request message and serialize that: three
//! copies of the transaction at several times its text size. [`RawOps`]
//! collects the operations as text as they are produced, and
//! [`crate::client::Connection::transact_raw`] sends them as they are.

use std::io::Write;

use serde_json::Value;

use crate::atom::{Atom, Uuid};
use crate::datum::Datum;

/// Appends the JSON string literal of `s` (escaped as serde_json does).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Appends `["uuid","…"]`.
pub fn write_uuid(out: &mut Vec<u8>, u: &Uuid) {
    out.extend_from_slice(b"[\"uuid\",\"");
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.extend_from_slice(u.as_hyphenated().encode_lower(&mut buf).as_bytes());
    out.extend_from_slice(b"\"]");
}

impl Atom {
    /// Appends the RFC 7047 JSON form of this atom (as [`Atom::to_json`]).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Atom::Integer(i) => {
                let _ = write!(out, "{i}");
            }
            Atom::Real(r) => {
                let _ = serde_json::to_writer(&mut *out, &Atom::Real(*r).to_json());
            }
            Atom::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Atom::String(s) => write_str(out, s),
            Atom::Uuid(u) => write_uuid(out, u),
            Atom::NamedUuid(n) => {
                out.extend_from_slice(b"[\"named-uuid\",");
                write_str(out, n);
                out.push(b']');
            }
        }
    }
}

impl Datum {
    /// Appends the RFC 7047 JSON form of this datum (as [`Datum::to_json`]),
    /// with every atom passed through `map` first (e.g. to rename UUIDs).
    pub fn write_json_mapped(&self, out: &mut Vec<u8>, map: impl Fn(&Atom, bool) -> Option<Atom>) {
        let atom = |out: &mut Vec<u8>, a: &Atom, is_value: bool| match map(a, is_value) {
            Some(m) => m.write_json(out),
            None => a.write_json(out),
        };
        match self {
            Datum::Set(s) if s.len() == 1 => atom(out, &s[0], false),
            Datum::Set(s) => {
                out.extend_from_slice(b"[\"set\",[");
                for (i, a) in s.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    atom(out, a, false);
                }
                out.extend_from_slice(b"]]");
            }
            Datum::Map(m) => {
                out.extend_from_slice(b"[\"map\",[");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'[');
                    atom(out, k, false);
                    out.push(b',');
                    atom(out, v, true);
                    out.push(b']');
                }
                out.extend_from_slice(b"]]");
            }
        }
    }

    /// Appends the RFC 7047 JSON form of this datum (as [`Datum::to_json`]).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_mapped(out, |_, _| None)
    }
}

/// The operations of one transaction as JSON text, comma-separated, built
/// one operation at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawOps {
    buf: Vec<u8>,
    len: usize,
}

impl RawOps {
    /// No operations.
    pub fn new() -> RawOps {
        RawOps::default()
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no operation.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds one operation given as a value.
    pub fn push(&mut self, op: &Value) {
        self.push_with(|out| {
            let _ = serde_json::to_writer(out, op);
        });
    }

    /// Adds one operation that `write` appends as JSON text (one complete
    /// JSON object).
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if self.len > 0 {
            self.buf.push(b',');
        }
        write(&mut self.buf);
        self.len += 1;
    }

    /// Adds every operation of `other` after these.
    pub fn append(&mut self, other: &RawOps) {
        if other.is_empty() {
            return;
        }
        if self.len > 0 {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(&other.buf);
        self.len += other.len;
    }

    /// Hands out the text written so far, keeping the count: the next
    /// operation's text starts with its separating comma. The texts taken
    /// one after the other, then what remains, are the operations
    /// separated by commas (for [`crate::client::TransactStream::write`]).
    pub fn take_text(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Makes room for `additional` more bytes of text.
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// The operations' text: JSON values separated by commas.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Size of the text in bytes.
    pub fn text_len(&self) -> usize {
        self.buf.len()
    }

    /// The operations parsed back (for tests and diagnostics).
    pub fn to_values(&self) -> Vec<Value> {
        let mut text = Vec::with_capacity(self.buf.len() + 2);
        text.push(b'[');
        text.extend_from_slice(&self.buf);
        text.push(b']');
        match serde_json::from_slice(&text) {
            Ok(Value::Array(a)) => a,
            _ => Vec::new(),
        }
    }
}

impl From<Vec<Value>> for RawOps {
    fn from(ops: Vec<Value>) -> RawOps {
        let mut r = RawOps::new();
        for op in &ops {
            r.push(op);
        }
        r
    }
}

/// A JSON value received as text (a part of one JSON-RPC message), kept
/// as text so that large replies are parsed once, straight into their
/// final form (e.g. [`crate::replica::Replica::reset_to_json`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawJson {
    text: String,
    start: usize,
    end: usize,
}

impl RawJson {
    /// The whole of `text`, which must be one JSON value.
    pub fn new(text: String) -> RawJson {
        let end = text.len();
        RawJson {
            text,
            start: 0,
            end,
        }
    }

    /// The JSON `null`.
    pub fn null() -> RawJson {
        RawJson::new("null".into())
    }

    /// The text of `text[range]`, keeping `text` without copying it.
    pub(crate) fn slice(text: String, range: std::ops::Range<usize>) -> RawJson {
        debug_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
        RawJson {
            text,
            start: range.start,
            end: range.end,
        }
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.text[self.start..self.end]
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        self.get() == "null"
    }

    /// The value as a [`Value`] tree.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.get())
    }

    /// Where `part`, a slice of [`RawJson::get`] (as a borrowed
    /// [`serde_json::value::RawValue`] of it is), lies in the kept text.
    pub(crate) fn locate(&self, part: &str) -> Option<std::ops::Range<usize>> {
        range_in(&self.text, part)
    }

    /// Narrows to a range [`RawJson::locate`] gave.
    pub(crate) fn narrow(self, range: std::ops::Range<usize>) -> RawJson {
        RawJson::slice(self.text, range)
    }
}

/// Where `part` lies inside `whole`, if it is a slice of it.
pub(crate) fn range_in(whole: &str, part: &str) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::Real;
    use serde_json::json;

    #[test]
    fn datums_write_as_to_json() {
        let u = Uuid::from_u128(0x1234);
        let datums = [
            Datum::empty_set(),
            Datum::scalar(5i64),
            Datum::scalar(-7i64),
            Datum::scalar("a \"quoted\"\n\\ é \u{1}"),
            Datum::scalar(u),
            Datum::scalar(true),
            Datum::set([Atom::Real(Real(1.5)), Atom::Real(Real(-2.0))]),
            Datum::set([Atom::Uuid(u), Atom::Uuid(Uuid::from_u128(9))]),
            Datum::string_map([("k", "v"), ("x", "y")]),
            Datum::set([Atom::NamedUuid("row".into())]),
        ];
        for d in datums {
            let mut out = Vec::new();
            d.write_json(&mut out);
            let back: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, d.to_json(), "{}", String::from_utf8_lossy(&out));
        }
    }

    #[test]
    fn mapped_atoms_and_ops() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let d = Datum::map([(Atom::String("p".into()), Atom::Uuid(a))]);
        let mut out = Vec::new();
        d.write_json_mapped(&mut out, |x, is_value| match x {
            Atom::Uuid(u) if *u == a && is_value => Some(Atom::Uuid(b)),
            _ => None,
        });
        let back: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, json!(["map", [["p", ["uuid", b.to_string()]]]]));
        let mut split = RawOps::from(vec![json!({"op": "a"})]);
        let mut text = split.take_text();
        split.push(&json!({"op": "b"}));
        text.extend(split.take_text());
        assert_eq!(split.len(), 2);
        assert_eq!(text, br#"{"op":"a"},{"op":"b"}"#);
        let mut ops = RawOps::from(vec![json!({"op": "comment", "comment": "x"})]);
        let mut more = RawOps::new();
        more.push_with(|o| o.extend_from_slice(b"{\"op\":\"abort\"}"));
        ops.append(&more);
        assert_eq!(ops.len(), 2);
        assert_eq!(
            ops.to_values(),
            vec![
                json!({"op": "comment", "comment": "x"}),
                json!({"op": "abort"})
            ]
        );
    }
}
