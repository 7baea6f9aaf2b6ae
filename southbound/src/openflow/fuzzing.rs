//! Entry points of the cargo-fuzz target `openflow_parse` (in `fuzz/`) and
//! of the test replaying its corpus on stable.

use super::wire::{frame_len, Message};

/// OpenFlow message parsing: never panics; whatever parses emits to bytes
/// that parse to the same message, and emitting that again gives the same
/// bytes.  The input is also split into frames as a stream would be.
pub fn openflow_parse(data: &[u8]) {
    check(data);
    let mut rest = data;
    while let Ok(Some(n)) = frame_len(rest) {
        check(&rest[..n]);
        rest = &rest[n..];
    }
}

fn check(bytes: &[u8]) {
    if let Ok(m) = Message::parse(bytes) {
        let out = m.to_bytes().expect("a parsed message emits");
        let again = Message::parse(&out).expect("our own bytes parse");
        assert_eq!(again, m);
        assert_eq!(again.to_bytes().expect("emits again"), out);
        assert_eq!(m.buffer_len(), out.len());
    }
}
