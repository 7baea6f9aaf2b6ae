//! Conntrack actions with arguments (legacy `ct_commit(...)`, `ct_dnat`,
//! `ct_snat` and their `_in_czone` forms, `ct_lb`, `ct_lb_mark`) and
//! `select` (`lib/actions.c` of OVN 23.03, same quirks and messages).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ActionParser;
use crate::actions::ast::{Action, CtLb, CtLbDst, CtLbFlag, CtNat, CtNatKind};
use crate::expr::lexer::TokenKind;
use crate::expr::parser::FieldRef;
use crate::expr::LexFormat;

fn token_ip(value: u128, format: LexFormat) -> IpAddr {
    if format == LexFormat::Ipv4 {
        IpAddr::V4(Ipv4Addr::from(value as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

impl<'a, 'l> ActionParser<'a, 'l> {
    /// Legacy `ct_commit(ct_mark=..., ct_label=...)` (`parse_CT_COMMIT_V1`).
    pub(super) fn parse_ct_commit_v1(&mut self) -> Option<Action> {
        self.add_prerequisite("ip");
        let (mut ct_mark, mut ct_mark_mask, mut ct_label, mut ct_label_mask) = (0, 0, 0, 0);
        if self.lexer.match_kind(TokenKind::LParen) {
            while !self.lexer.match_kind(TokenKind::RParen) {
                let is_mark = self.lexer.match_id("ct_mark");
                if !is_mark && !self.lexer.match_id("ct_label") {
                    self.lexer.syntax_error(None);
                    return None;
                }
                if !self.lexer.force_match(TokenKind::Equals) {
                    return None;
                }
                let t = &self.lexer.token;
                let (value, mask) = match t.kind {
                    TokenKind::Integer => (t.value, None),
                    TokenKind::MaskedInteger => (t.value, Some(t.mask)),
                    _ => {
                        self.syntax_error("expecting integer");
                        return None;
                    }
                };
                if is_mark {
                    ct_mark = value as u64 as u32;
                    ct_mark_mask = mask.map_or(u32::MAX, |m| m as u64 as u32);
                } else {
                    ct_label = value;
                    ct_label_mask = mask.unwrap_or(u128::MAX);
                }
                self.lexer.get();
                self.lexer.match_kind(TokenKind::Comma);
            }
        }
        Some(Action::CtCommitV1 {
            ct_mark,
            ct_mark_mask,
            ct_label,
            ct_label_mask,
        })
    }

    /// `ct_dnat`, `ct_snat` and their `_in_czone` forms (`parse_ct_nat`).
    pub(super) fn parse_ct_nat(&mut self, kind: CtNatKind) -> Option<Action> {
        self.add_prerequisite("ip");
        if self.pp.cur_ltable >= self.pp.n_tables {
            self.error(format!(
                "\"{}\" action not allowed in last table.",
                kind.name()
            ));
            return None;
        }
        let mut nat = CtNat {
            kind,
            addr: None,
            ports: None,
            ltable: self.pp.cur_ltable + 1,
        };
        if self.lexer.match_kind(TokenKind::LParen) {
            if !self.is_integer_in(&[LexFormat::Ipv4, LexFormat::Ipv6]) {
                self.syntax_error("expecting IPv4 or IPv6 address");
                return None;
            }
            nat.addr = Some(token_ip(self.lexer.token.value, self.lexer.token.format));
            self.lexer.get();
            if self.lexer.match_kind(TokenKind::Comma) {
                if !self.is_integer_in(&[LexFormat::Decimal]) {
                    self.syntax_error("expecting Integer for port range");
                    return None;
                }
                let lo = self.lexer.token.value as u64 as u16;
                if lo == 0 {
                    self.syntax_error("range can't be 0");
                    return None;
                }
                self.lexer.get();
                let mut hi = 0;
                if self.lexer.match_kind(TokenKind::Hyphen) {
                    if self.lexer.token.kind != TokenKind::Integer {
                        self.syntax_error("expecting Integer for port range");
                        return None;
                    }
                    hi = self.lexer.token.value as u64 as u16;
                    if hi <= lo {
                        self.syntax_error("range high should be greater than range low");
                        return None;
                    }
                    self.lexer.get();
                }
                nat.ports = Some((lo, hi));
            }
            if !self.lexer.force_match(TokenKind::RParen) {
                return None;
            }
        }
        Some(Action::CtNat(nat))
    }

    /// `ct_lb` and `ct_lb_mark` (`parse_ct_lb_action`).
    pub(super) fn parse_ct_lb(&mut self, mark: bool) -> Option<Action> {
        if self.pp.cur_ltable >= self.pp.n_tables {
            self.error("\"ct_lb\" action not allowed in last table.");
            return None;
        }
        self.add_prerequisite("ip");
        let mut lb = CtLb {
            mark,
            dsts: Vec::new(),
            hash_fields: None,
            flag: CtLbFlag::None,
            ltable: self.pp.cur_ltable + 1,
        };
        if self.lexer.match_kind(TokenKind::LParen) && !self.lexer.match_kind(TokenKind::RParen) {
            if !self.lexer.match_id("backends") || !self.lexer.force_match(TokenKind::Equals) {
                self.syntax_error("expecting backends");
                return None;
            }
            while !self.lexer.match_kind(TokenKind::Semicolon)
                && !self.lexer.match_kind(TokenKind::RParen)
            {
                let dst = self.parse_backend()?;
                self.lexer.match_kind(TokenKind::Comma);
                lb.dsts.push(dst);
            }
            if self.lexer.match_id("hash_fields") {
                if !self.lexer.match_kind(TokenKind::Equals)
                    || self.lexer.token.kind != TokenKind::String
                {
                    self.syntax_error("invalid hash_fields");
                    return None;
                }
                lb.hash_fields = Some(self.lexer.token.text.clone());
                self.lexer.get();
                if !self.lexer.match_kind(TokenKind::Semicolon) {
                    self.lexer.get();
                }
            }
            if self.lexer.match_id("skip_snat") {
                lb.flag = CtLbFlag::SkipSnat;
                self.lexer.get();
            } else if self.lexer.match_id("force_snat") {
                lb.flag = CtLbFlag::ForceSnat;
                self.lexer.get();
            }
        }
        Some(Action::CtLb(lb))
    }

    fn parse_backend(&mut self) -> Option<CtLbDst> {
        if self.lexer.match_kind(TokenKind::LSquare) {
            if !self.is_integer_in(&[LexFormat::Ipv6]) {
                self.syntax_error("expecting IPv6 address");
                return None;
            }
            let addr = token_ip(self.lexer.token.value, LexFormat::Ipv6);
            self.lexer.get();
            if !self.lexer.match_kind(TokenKind::RSquare) {
                self.syntax_error("no closing square bracket");
                return None;
            }
            let mut port = 0;
            if self.lexer.match_kind(TokenKind::Colon) {
                port = self.parse_uint16("port number")?;
            }
            return Some(CtLbDst { addr, port });
        }
        if !self.is_integer_in(&[LexFormat::Ipv4, LexFormat::Ipv6]) {
            self.syntax_error("expecting IP address");
            return None;
        }
        let addr = token_ip(self.lexer.token.value, self.lexer.token.format);
        self.lexer.get();
        let mut port = 0;
        if self.lexer.match_kind(TokenKind::Colon) {
            if addr.is_ipv6() {
                self.syntax_error("IPv6 address needs square brackets if port is included");
                return None;
            }
            port = self.parse_uint16("port number")?;
        }
        Some(CtLbDst { addr, port })
    }

    /// `dst = select(id[=weight], ...);` (`parse_select_action`).
    pub(super) fn parse_select(&mut self, dst: FieldRef) -> Option<Action> {
        self.check(&dst, dst.n_bits, true)?;
        if dst.n_bits < 16 {
            self.error(format!(
                "cannot use {}-bit field {}[{}..{}] for \"select\", which requires at least 16 bits.",
                dst.n_bits,
                dst.symbol.name,
                dst.ofs,
                dst.ofs + dst.n_bits - 1
            ));
            return None;
        }
        if self.pp.cur_ltable >= self.pp.n_tables {
            self.error("\"select\" action not allowed in last table.");
            return None;
        }
        self.lexer.get();
        self.lexer.get();
        let mut dsts = Vec::new();
        while !self.lexer.match_kind(TokenKind::RParen) {
            let id = self.parse_uint16("id")?;
            let mut weight = 0;
            if self.lexer.match_kind(TokenKind::Equals) {
                weight = self.parse_uint16("weight")?;
                if weight == 0 {
                    self.syntax_error("weight can't be 0");
                    return None;
                }
            }
            if weight == 0 {
                weight = 100;
            }
            self.lexer.match_kind(TokenKind::Comma);
            dsts.push((id, weight));
        }
        if dsts.len() <= 1 {
            self.syntax_error("expecting at least 2 group members");
            return None;
        }
        Some(Action::Select {
            dst,
            dsts,
            ltable: self.pp.cur_ltable + 1,
        })
    }
}
