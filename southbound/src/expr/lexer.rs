//! Tokenizer for OVN's logical-flow language, reproducing `lib/lex.c` of
//! OVN 23.03.
//!
//! The lexer turns an input string into [`Token`]s.  Integer-like constants
//! (decimal, hexadecimal, IPv4, IPv6 and Ethernet addresses, optionally with
//! a `/mask`) become [`TokenKind::Integer`] or [`TokenKind::MaskedInteger`]
//! tokens whose value is a 128-bit unsigned integer plus the
//! [`LexFormat`] it was written in.  Errors are tokens too
//! ([`TokenKind::Error`]) carrying OVN's exact message.
//!
//! OVN stores constants in a 1024-bit buffer; we keep the low 128 bits (the
//! widest OVN field) and, for wider hexadecimal constants, the number of
//! significant bits in [`Token::wide_bits`], so that width checks report the
//! same errors OVN does.

use std::fmt::{self, Write as _};

pub(crate) use super::json_string::json_escape;
use super::json_string::json_unescape;
use super::util::{format_hex, format_ipv4, format_ipv6, format_mac, ipv6_cidr_bits};

/// The kind of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// End of the input.
    End,
    /// An identifier such as `ip4.src`.
    Id,
    /// A quoted string, already unescaped.
    String,
    /// An integer constant.
    Integer,
    /// An integer constant with a mask, e.g. `10.0.0.0/8`.
    MaskedInteger,
    /// An address-set reference `$name`.
    Macro,
    /// A port-group reference `@name`.
    PortGroup,
    /// A template reference `^name`.
    Template,
    /// A lexical error; the token's text is the message.
    Error,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LCurly,
    /// `}`
    RCurly,
    /// `[`
    LSquare,
    /// `]`
    RSquare,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `!`
    LogNot,
    /// `&&`
    LogAnd,
    /// `||`
    LogOr,
    /// `..`
    Ellipsis,
    /// `,`
    Comma,
    /// `;`
    Semicolon,
    /// `=`
    Equals,
    /// `<->`
    Exchange,
    /// `--`
    Decrement,
    /// `:`
    Colon,
    /// `-`
    Hyphen,
}

/// The notation an integer constant was written in (OVN `enum lex_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LexFormat {
    /// Decimal, e.g. `123`.
    Decimal,
    /// Hexadecimal, e.g. `0x7b`.
    Hexadecimal,
    /// Dotted-quad IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
    /// Ethernet address `xx:xx:xx:xx:xx:xx`.
    Ethernet,
}

/// One token of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What kind of token this is.
    pub kind: TokenKind,
    /// Text for identifiers, strings, `$`/`@`/`^` names and error messages.
    pub text: String,
    /// Value of an integer token.
    pub value: u128,
    /// Mask of a masked-integer token (zero otherwise).
    pub mask: u128,
    /// Notation of an integer token.
    pub format: LexFormat,
    /// For a hexadecimal constant wider than 128 bits, its number of
    /// significant bits (`value` then holds the low 128 bits); 0 otherwise.
    pub wide_bits: u32,
}

impl Token {
    fn new(kind: TokenKind) -> Token {
        Token {
            kind,
            text: String::new(),
            value: 0,
            mask: 0,
            format: LexFormat::Decimal,
            wide_bits: 0,
        }
    }

    fn error(message: impl Into<String>) -> Token {
        Token {
            text: message.into(),
            ..Token::new(TokenKind::Error)
        }
    }

    /// The format in which the value is actually printed: the token's own
    /// format, unless the value does not fit in it (`lex_token_get_format`).
    fn effective_format(&self) -> LexFormat {
        let limit_bits = match self.format {
            LexFormat::Decimal => 64,
            LexFormat::Hexadecimal | LexFormat::Ipv6 => 128,
            LexFormat::Ipv4 => 32,
            LexFormat::Ethernet => 48,
        };
        let fits = |v: u128| limit_bits == 128 || v >> limit_bits == 0;
        if fits(self.value) && (self.kind != TokenKind::MaskedInteger || fits(self.mask)) {
            self.format
        } else {
            LexFormat::Hexadecimal
        }
    }
}

/// Appends `value` in `format` to `out` (`lex_token_format_value`).
pub(crate) fn format_value(value: u128, format: LexFormat, out: &mut String) {
    match format {
        LexFormat::Decimal => {
            let _ = write!(out, "{}", value as u64);
        }
        LexFormat::Hexadecimal => out.push_str(&format_hex(value)),
        LexFormat::Ipv4 => out.push_str(&format_ipv4(value as u32)),
        LexFormat::Ipv6 => out.push_str(&format_ipv6(value)),
        LexFormat::Ethernet => out.push_str(&format_mac(value as u64)),
    }
}

fn ipv4_is_cidr(mask: u32) -> bool {
    let x = !mask;
    x & x.wrapping_add(1) == 0
}

impl fmt::Display for Token {
    /// Formats the token so that the lexer parses it back losslessly
    /// (`lex_token_format`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        match self.kind {
            TokenKind::End => s.push('$'),
            TokenKind::Id => s.push_str(&self.text),
            TokenKind::Error => {
                s.push_str("error(");
                json_escape(&self.text, &mut s);
                s.push(')');
            }
            TokenKind::String => json_escape(&self.text, &mut s),
            TokenKind::Integer => format_value(self.value, self.effective_format(), &mut s),
            TokenKind::MaskedInteger => {
                let format = self.effective_format();
                format_value(self.value, format, &mut s);
                s.push('/');
                if format == LexFormat::Ipv4 && ipv4_is_cidr(self.mask as u32) {
                    let bits = 32 - (self.mask as u32).trailing_zeros().min(32);
                    let _ = write!(s, "{bits}");
                } else if self.format == LexFormat::Ipv6 && ipv6_cidr_bits(self.mask).is_some() {
                    let _ = write!(s, "{}", ipv6_cidr_bits(self.mask).unwrap_or(0));
                } else {
                    format_value(self.mask, format, &mut s);
                }
            }
            TokenKind::Macro => {
                s.push('$');
                s.push_str(&self.text);
            }
            TokenKind::PortGroup => {
                s.push('@');
                s.push_str(&self.text);
            }
            TokenKind::Template => {
                s.push('^');
                s.push_str(&self.text);
            }
            other => s.push_str(punctuation(other)),
        }
        f.write_str(&s)
    }
}

/// The spelling of a punctuation token kind.
pub(crate) fn punctuation(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::LParen => "(",
        TokenKind::RParen => ")",
        TokenKind::LCurly => "{",
        TokenKind::RCurly => "}",
        TokenKind::LSquare => "[",
        TokenKind::RSquare => "]",
        TokenKind::Eq => "==",
        TokenKind::Ne => "!=",
        TokenKind::Lt => "<",
        TokenKind::Le => "<=",
        TokenKind::Gt => ">",
        TokenKind::Ge => ">=",
        TokenKind::LogNot => "!",
        TokenKind::LogAnd => "&&",
        TokenKind::LogOr => "||",
        TokenKind::Ellipsis => "..",
        TokenKind::Comma => ",",
        TokenKind::Semicolon => ";",
        TokenKind::Equals => "=",
        TokenKind::Exchange => "<->",
        TokenKind::Decrement => "--",
        TokenKind::Colon => ":",
        TokenKind::Hyphen => "-",
        TokenKind::End => "$",
        _ => "",
    }
}

fn is_id1(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'.'
}

fn is_idn(c: u8) -> bool {
    is_id1(c) || c.is_ascii_digit()
}

/// Byte at `i`, or NUL past the end (C string semantics).
fn at(input: &[u8], i: usize) -> u8 {
    input.get(i).copied().unwrap_or(0)
}

/// Parses the extent of an "integer" token starting at `p`
/// (`lex_parse_integer__`).  Returns the token and the end offset.
fn parse_integer_plain(input: &[u8], p: usize) -> (Token, usize) {
    let mut end = p;
    let mut saw_dot = false;
    loop {
        let c = at(input, end);
        if c.is_ascii_alphanumeric()
            || (c == b':' && !saw_dot)
            || (c == b'.' && at(input, end + 1) != b'.')
        {
            if c == b'.' {
                saw_dot = true;
            }
            end += 1;
        } else {
            break;
        }
    }
    let text = &input[p..end];
    let len = text.len();
    let mut token = Token::new(TokenKind::Integer);
    if len == 0 {
        return (Token::error("Integer constant expected."), end);
    }
    if len == 17 {
        if let Some(mac) = parse_mac(text) {
            token.value = u128::from(mac);
            token.format = LexFormat::Ethernet;
            return (token, end);
        }
    }
    if text.iter().all(u8::is_ascii_digit) {
        if text[0] == b'0' && len > 1 {
            return (
                Token::error("Decimal constants must not have leading zeros."),
                end,
            );
        }
        let digits = String::from_utf8_lossy(text);
        match digits.parse::<u64>() {
            Ok(v) => {
                token.value = u128::from(v);
                token.format = LexFormat::Decimal;
            }
            Err(_) => {
                return (
                    Token::error("Decimal constants must be less than 2**64."),
                    end,
                )
            }
        }
        return (token, end);
    }
    if text[0] == b'0' && (text.get(1) == Some(&b'x') || text.get(1) == Some(&b'X')) {
        if len > 2 {
            return (parse_hex(&text[2..]), end);
        }
        return (
            Token::error(format!(
                "Hex digits expected following 0{}.",
                text[1] as char
            )),
            end,
        );
    }
    if len < 46 {
        let s = String::from_utf8_lossy(text);
        if let Ok(v4) = s.parse::<std::net::Ipv4Addr>() {
            token.value = u128::from(u32::from(v4));
            token.format = LexFormat::Ipv4;
            return (token, end);
        }
        if let Ok(v6) = s.parse::<std::net::Ipv6Addr>() {
            token.value = u128::from(v6);
            token.format = LexFormat::Ipv6;
            return (token, end);
        }
    }
    (Token::error("Invalid numeric constant."), end)
}

/// Parses `xx:xx:xx:xx:xx:xx` (each part one or more hex digits, as
/// `sscanf("%hhx:...")` accepts within a 17-character token).
fn parse_mac(text: &[u8]) -> Option<u64> {
    let parts: Vec<&[u8]> = text.split(|&c| c == b':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = 0u64;
    for part in parts {
        if part.is_empty() || !part.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut byte = 0u8;
        for &c in part {
            byte = byte.wrapping_mul(16).wrapping_add(hexit(c)?);
        }
        mac = (mac << 8) | u64::from(byte);
    }
    Some(mac)
}

pub(crate) fn hexit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn parse_hex(digits: &[u8]) -> Token {
    let mut value = 0u128;
    let mut wide_bits = 0;
    for (i, &c) in digits.iter().rev().enumerate() {
        let Some(h) = hexit(c) else {
            return Token::error("Invalid syntax in hexadecimal constant.");
        };
        if h != 0 {
            if i / 2 >= 128 {
                return Token::error("Hexadecimal constant requires more than 1024 bits.");
            }
            if i < 32 {
                value |= u128::from(h) << (4 * i);
            } else {
                wide_bits = 4 * i as u32 + (32 - u32::from(h).leading_zeros());
            }
        }
    }
    Token {
        value,
        format: LexFormat::Hexadecimal,
        wide_bits,
        ..Token::new(TokenKind::Integer)
    }
}

/// Formats an integer constant as the lexer would print it
/// (`expr_constant_format` for integers).
pub(crate) fn format_constant(value: u128, mask: Option<u128>, format: LexFormat) -> String {
    let token = Token {
        kind: if mask.is_some() {
            TokenKind::MaskedInteger
        } else {
            TokenKind::Integer
        },
        value,
        mask: mask.unwrap_or(0),
        format,
        ..Token::new(TokenKind::Integer)
    };
    token.to_string()
}

fn ipv4_prefix_mask(bits: u32) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    }
}

fn ipv6_prefix_mask(bits: u32) -> u128 {
    if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    }
}

/// Parses an integer and an optional `/mask` (`lex_parse_integer`).
fn parse_integer(input: &[u8], p: usize) -> (Token, usize) {
    let (mut token, end) = parse_integer_plain(input, p);
    if token.kind != TokenKind::Integer || at(input, end) != b'/' {
        return (token, end);
    }
    let (mask, end) = parse_integer_plain(input, end + 1);
    if mask.kind == TokenKind::Error {
        return (mask, end);
    }
    let prefix_bits = mask.value as u64 as u32;
    token.kind = TokenKind::MaskedInteger;
    if token.format == mask.format {
        token.mask = mask.value;
    } else if token.format == LexFormat::Ipv4
        && mask.format == LexFormat::Decimal
        && prefix_bits <= 32
    {
        token.mask = u128::from(ipv4_prefix_mask(prefix_bits));
    } else if token.format == LexFormat::Ipv6
        && mask.format == LexFormat::Decimal
        && prefix_bits <= 128
    {
        token.mask = ipv6_prefix_mask(prefix_bits);
    } else if token.format == LexFormat::Decimal
        && mask.format == LexFormat::Hexadecimal
        && token.value == 0
    {
        token.format = LexFormat::Hexadecimal;
        token.mask = mask.value;
    } else {
        return (
            Token::error("Value and mask have incompatible formats."),
            end,
        );
    }
    token.value &= token.mask;
    (token, end)
}

/// Parses one token from `input` starting at byte `p`.  Returns the token,
/// the offset where the token text starts (after white space and comments)
/// and the offset just past it (`lex_token_parse`).
pub fn parse_token(input: &[u8], mut p: usize) -> (Token, usize, usize) {
    loop {
        let start = p;
        let c = at(input, p);
        let simple = |kind: TokenKind, len: usize| (Token::new(kind), start, start + len);
        match c {
            0 => return (Token::new(TokenKind::End), start, p),
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                p += 1;
                continue;
            }
            b'/' => {
                p += 1;
                if at(input, p) == b'/' {
                    while at(input, p) != 0 && at(input, p) != b'\n' {
                        p += 1;
                    }
                    continue;
                } else if at(input, p) == b'*' {
                    p += 1;
                    loop {
                        let c = at(input, p);
                        if c == b'*' && at(input, p + 1) == b'/' {
                            p += 2;
                            break;
                        } else if c == 0 || c == b'\n' {
                            return (Token::error("`/*' without matching `*/'."), start, p);
                        }
                        p += 1;
                    }
                    continue;
                }
                return (
                    Token::error("`/' is only valid as part of `//' or `/*'."),
                    start,
                    p,
                );
            }
            b'(' => return simple(TokenKind::LParen, 1),
            b')' => return simple(TokenKind::RParen, 1),
            b'{' => return simple(TokenKind::LCurly, 1),
            b'}' => return simple(TokenKind::RCurly, 1),
            b'[' => return simple(TokenKind::LSquare, 1),
            b']' => return simple(TokenKind::RSquare, 1),
            b'=' => {
                return if at(input, p + 1) == b'=' {
                    simple(TokenKind::Eq, 2)
                } else {
                    simple(TokenKind::Equals, 1)
                }
            }
            b'!' => {
                return if at(input, p + 1) == b'=' {
                    simple(TokenKind::Ne, 2)
                } else {
                    simple(TokenKind::LogNot, 1)
                }
            }
            b'&' => {
                return if at(input, p + 1) == b'&' {
                    simple(TokenKind::LogAnd, 2)
                } else {
                    (
                        Token::error("`&' is only valid as part of `&&'."),
                        start,
                        p + 1,
                    )
                }
            }
            b'|' => {
                return if at(input, p + 1) == b'|' {
                    simple(TokenKind::LogOr, 2)
                } else {
                    (
                        Token::error("`|' is only valid as part of `||'."),
                        start,
                        p + 1,
                    )
                }
            }
            b'<' => {
                return if at(input, p + 1) == b'=' {
                    simple(TokenKind::Le, 2)
                } else if at(input, p + 1) == b'-' && at(input, p + 2) == b'>' {
                    simple(TokenKind::Exchange, 3)
                } else {
                    simple(TokenKind::Lt, 1)
                }
            }
            b'>' => {
                return if at(input, p + 1) == b'=' {
                    simple(TokenKind::Ge, 2)
                } else {
                    simple(TokenKind::Gt, 1)
                }
            }
            b'.' => {
                return if at(input, p + 1) == b'.' {
                    simple(TokenKind::Ellipsis, 2)
                } else {
                    (
                        Token::error("`.' is only valid as part of `..' or a number."),
                        start,
                        p + 1,
                    )
                }
            }
            b',' => return simple(TokenKind::Comma, 1),
            b';' => return simple(TokenKind::Semicolon, 1),
            b'-' => {
                return if at(input, p + 1) == b'-' {
                    simple(TokenKind::Decrement, 2)
                } else {
                    simple(TokenKind::Hyphen, 1)
                }
            }
            b'$' | b'@' | b'^' => {
                let (kind, what) = match c {
                    b'$' => (TokenKind::Macro, '$'),
                    b'@' => (TokenKind::PortGroup, '@'),
                    _ => (TokenKind::Template, '^'),
                };
                p += 1;
                if !is_id1(at(input, p)) {
                    return (
                        Token::error(format!("`{what}' must be followed by a valid identifier.")),
                        start,
                        p,
                    );
                }
                let (token, end) = parse_id(input, p, kind);
                return (token, start, end);
            }
            b':' if at(input, p + 1) != b':' => return simple(TokenKind::Colon, 1),
            b':' | b'0'..=b'9' => {
                let (token, end) = parse_integer(input, p);
                return (token, start, end);
            }
            b'"' => {
                let body = p + 1;
                let mut q = body;
                loop {
                    match at(input, q) {
                        0 => return (Token::error("Input ends inside quoted string."), start, q),
                        b'"' => {
                            let token = match json_unescape(&input[body..q]) {
                                Ok(s) => Token {
                                    text: s,
                                    ..Token::new(TokenKind::String)
                                },
                                Err(e) => Token::error(e),
                            };
                            return (token, start, q + 1);
                        }
                        b'\\' => {
                            q += 1;
                            if at(input, q) != 0 {
                                q += 1;
                            }
                        }
                        _ => q += 1,
                    }
                }
            }
            b'a'..=b'f' | b'A'..=b'F' => {
                let mut q = p;
                while at(input, q).is_ascii_hexdigit() {
                    q += 1;
                }
                let (token, end) = if at(input, q) == b':' {
                    parse_integer(input, p)
                } else {
                    parse_id(input, p, TokenKind::Id)
                };
                return (token, start, end);
            }
            c if is_id1(c) => {
                let (token, end) = parse_id(input, p, TokenKind::Id);
                return (token, start, end);
            }
            c => {
                let message = if (0x20..0x7f).contains(&c) {
                    format!("Invalid character `{}' in input.", c as char)
                } else {
                    // OVS prints the (signed) char with "0x%d".
                    format!("Invalid byte 0x{} in input.", c as i8)
                };
                return (Token::error(message), start, p + 1);
            }
        }
    }
}

fn parse_id(input: &[u8], p: usize, kind: TokenKind) -> (Token, usize) {
    let mut end = p + 1;
    while is_idn(at(input, end)) {
        end += 1;
    }
    let token = Token {
        text: String::from_utf8_lossy(&input[p..end]).into_owned(),
        ..Token::new(kind)
    };
    (token, end)
}

/// A lexer with one token of lookahead and a sticky error, like OVN's
/// `struct lexer`.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
    start: usize,
    /// The current token.
    pub token: Token,
    error: Option<String>,
}

impl<'a> Lexer<'a> {
    /// Creates a lexer over `input`.  Call [`Lexer::get`] to read the first
    /// token.  A NUL byte ends the input, as in C.
    pub fn new(input: &'a str) -> Lexer<'a> {
        let bytes = input.as_bytes();
        let bytes = match bytes.iter().position(|&b| b == 0) {
            Some(n) => &bytes[..n],
            None => bytes,
        };
        Lexer {
            input: bytes,
            pos: 0,
            start: 0,
            token: Token::new(TokenKind::End),
            error: None,
        }
    }

    /// Advances to the next token and returns its kind.
    pub fn get(&mut self) -> TokenKind {
        let (token, start, end) = parse_token(self.input, self.pos);
        self.token = token;
        self.start = start;
        self.pos = end;
        self.token.kind
    }

    /// The kind of the token after the current one.
    pub fn lookahead(&self) -> TokenKind {
        parse_token(self.input, self.pos).0.kind
    }

    /// If the current token has `kind`, advances and returns true.
    pub fn match_kind(&mut self, kind: TokenKind) -> bool {
        if self.token.kind == kind {
            self.get();
            true
        } else {
            false
        }
    }

    /// Like [`Lexer::match_kind`], but records a syntax error on mismatch.
    pub fn force_match(&mut self, kind: TokenKind) -> bool {
        if kind == TokenKind::End {
            return self.force_end();
        }
        if self.match_kind(kind) {
            return true;
        }
        self.syntax_error(Some(&format!("expecting `{}'", punctuation(kind))));
        false
    }

    /// If the current token is identifier `id`, advances and returns true.
    pub fn match_id(&mut self, id: &str) -> bool {
        if self.token.kind == TokenKind::Id && self.token.text == id {
            self.get();
            true
        } else {
            false
        }
    }

    /// Whether the current token is a small nonnegative decimal integer.
    pub fn is_int(&self) -> bool {
        self.token.kind == TokenKind::Integer
            && self.token.format == LexFormat::Decimal
            && self.token.value <= i32::MAX as u128
    }

    /// Reads a small integer, or records "expecting small integer".
    pub fn force_int(&mut self) -> Option<i32> {
        if self.is_int() {
            let v = self.token.value as i32;
            self.get();
            Some(v)
        } else {
            self.syntax_error(Some("expecting small integer"));
            None
        }
    }

    /// Requires the end of input.
    pub fn force_end(&mut self) -> bool {
        if self.token.kind == TokenKind::End {
            true
        } else {
            self.syntax_error(Some("expecting end of input"));
            false
        }
    }

    fn error_handled(&mut self) -> bool {
        if self.error.is_some() {
            true
        } else if self.token.kind == TokenKind::Error {
            self.error = Some(self.token.text.clone());
            true
        } else {
            false
        }
    }

    /// Records `message` as the error, unless one is already recorded or the
    /// current token is a lexical error (which is reported instead).
    pub fn error(&mut self, message: impl Into<String>) {
        if !self.error_handled() {
            self.error = Some(message.into());
        }
    }

    /// Records "Syntax error at `TOKEN' MESSAGE." (`lexer_syntax_error`).
    pub fn syntax_error(&mut self, message: Option<&str>) {
        if self.error_handled() {
            return;
        }
        let mut s = String::from("Syntax error");
        if self.token.kind == TokenKind::End {
            s.push_str(" at end of input");
        } else {
            let text = String::from_utf8_lossy(&self.input[self.start..self.pos]);
            let _ = write!(s, " at `{text}'");
        }
        if let Some(m) = message {
            s.push(' ');
            s.push_str(m);
        }
        s.push('.');
        self.error = Some(s);
    }

    /// The recorded error, if any.
    pub fn error_message(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// If the current token is the string `s`, advances and returns true
    /// (`lexer_match_string`).
    pub fn match_string(&mut self, s: &str) -> bool {
        if self.token.kind == TokenKind::String && self.token.text == s {
            self.get();
            true
        } else {
            false
        }
    }

    /// Whether an error has been recorded.
    pub fn has_error(&self) -> bool {
        self.error.is_some()
    }

    /// Takes the recorded error.
    pub fn take_error(&mut self) -> Option<String> {
        self.error.take()
    }
}

/// Lexes all of `input` and returns its tokens up to (not including) the
/// end; convenient for tests and tools.
pub fn tokenize(input: &str) -> Vec<Token> {
    let mut lexer = Lexer::new(input);
    let mut out = Vec::new();
    while lexer.get() != TokenKind::End {
        out.push(lexer.token.clone());
    }
    out
}
