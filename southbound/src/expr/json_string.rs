//! JSON string escaping and unescaping as OVS `lib/json.c` does it, used
//! for quoted strings in the OVN lexer (`json_string_escape`,
//! `json_string_unescape`).

use std::fmt::Write as _;

use super::lexer::hexit;

/// Appends `s` as a JSON string literal, escaped as OVS `json_string_escape`.
pub(crate) fn json_escape(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Unescapes the body of a quoted string as OVS `json_string_unescape`.
pub(crate) fn json_unescape(raw: &[u8]) -> Result<String, String> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    let hex4 = |i: usize| -> Result<u32, String> {
        if i + 4 > raw.len() {
            return Err("quoted string ends within \\u escape".into());
        }
        let mut v = 0u32;
        for &c in &raw[i..i + 4] {
            match hexit(c) {
                Some(h) => v = v * 16 + u32::from(h),
                None => return Err("malformed \\u escape".into()),
            }
        }
        if v == 0 {
            return Err("null bytes not supported in quoted strings".into());
        }
        Ok(v)
    };
    while i < raw.len() {
        let c = raw[i];
        if c == b'"' {
            return Err("quoted string may not include unescaped \"".into());
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        if i >= raw.len() {
            return Err("quoted string may not end with backslash".into());
        }
        let e = raw[i];
        i += 1;
        match e {
            b'"' | b'\\' | b'/' => out.push(e),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let c0 = hex4(i)?;
                i += 4;
                let code = if (0xd800..0xdc00).contains(&c0) {
                    if i + 2 > raw.len() || raw[i] != b'\\' || raw[i + 1] != b'u' {
                        return Err("malformed escaped surrogate pair".into());
                    }
                    i += 2;
                    let c1 = hex4(i)?;
                    i += 4;
                    if !(0xdc00..0xe000).contains(&c1) {
                        return Err(
                            "second half of escaped surrogate pair is not trailing surrogate"
                                .into(),
                        );
                    }
                    0x10000 + ((c0 - 0xd800) << 10) + (c1 - 0xdc00)
                } else {
                    c0
                };
                // A lone trailing surrogate cannot be represented in UTF-8;
                // OVS emits it raw, we substitute U+FFFD.
                let ch = char::from_u32(code).unwrap_or('\u{fffd}');
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            other => return Err(format!("bad escape \\{}", other as char)),
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
