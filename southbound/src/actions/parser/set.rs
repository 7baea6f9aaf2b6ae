//! Actions that start with a field: assignments (`=`), exchanges (`<->`)
//! and `dst = function(...)` (`parse_set_action` and its callees in
//! `lib/actions.c` of OVN 23.03).

use super::ActionParser;
use crate::actions::ast::{Action, Constant, OptsKind, ResultKind};
use crate::expr::lexer::TokenKind;
use crate::expr::parser::{ConstantSet, FieldRef, Parser};
use crate::expr::symtab::SymbolKind;

impl<'a, 'l> ActionParser<'a, 'l> {
    /// An assignment, exchange or `dst = function(...)` action
    /// (`parse_set_action`).
    pub(super) fn parse_set_action(&mut self) -> Option<Action> {
        let lhs = self.field_parse()?;
        if self.lexer.match_kind(TokenKind::Exchange) {
            return self.parse_assignment(true, lhs);
        }
        if !self.lexer.match_kind(TokenKind::Equals) {
            self.syntax_error("expecting `=' or `<->'");
            return None;
        }
        if self.lexer.token.kind != TokenKind::Id {
            return self.parse_load(lhs);
        }
        if self.lexer.lookahead() != TokenKind::LParen {
            return self.parse_assignment(false, lhs);
        }
        let name = self.lexer.token.text.clone();
        let result = |kind| Some(kind);
        let kind = match name.as_str() {
            "dns_lookup" => result(ResultKind::DnsLookup),
            "chk_lb_hairpin" => result(ResultKind::ChkLbHairpin),
            "chk_lb_hairpin_reply" => result(ResultKind::ChkLbHairpinReply),
            "check_in_port_sec" => result(ResultKind::CheckInPortSec),
            "check_out_port_sec" => result(ResultKind::CheckOutPortSec),
            "chk_ecmp_nh_mac" => result(ResultKind::ChkEcmpNhMac),
            "chk_ecmp_nh" => result(ResultKind::ChkEcmpNh),
            "chk_lb_aff" => result(ResultKind::ChkLbAff),
            _ => None,
        };
        if let Some(kind) = kind {
            return self.parse_result(kind, lhs);
        }
        match name.as_str() {
            "select" => self.parse_select(lhs),
            "put_dhcp_opts" => self.parse_put_opts(OptsKind::Dhcpv4, lhs),
            "put_dhcpv6_opts" => self.parse_put_opts(OptsKind::Dhcpv6, lhs),
            "put_nd_ra_opts" => self.parse_put_opts(OptsKind::NdRa, lhs),
            "check_pkt_larger" => {
                self.check(&lhs, 1, true)?;
                self.lexer.get();
                if !self.lexer.force_match(TokenKind::LParen) {
                    return None;
                }
                let pkt_len = self.get_int()?;
                if !self.lexer.force_match(TokenKind::RParen) {
                    return None;
                }
                Some(Action::CheckPktLarger {
                    pkt_len: pkt_len as u16,
                    dst: lhs,
                })
            }
            "lookup_arp" | "lookup_nd" | "lookup_arp_ip" | "lookup_nd_ip" => {
                let nd = name.starts_with("lookup_nd");
                let with_mac = !name.ends_with("_ip");
                self.check(&lhs, 1, true)?;
                self.lexer.get();
                self.lexer.get();
                let port = self.parse_field_checked(0, false)?;
                self.lexer.force_match(TokenKind::Comma);
                let ip = self.parse_field_checked(if nd { 128 } else { 32 }, false)?;
                if !with_mac {
                    self.lexer.force_match(TokenKind::RParen);
                    return Some(Action::LookupMacBindIp {
                        nd,
                        dst: lhs,
                        port,
                        ip,
                    });
                }
                self.lexer.force_match(TokenKind::Comma);
                let mac = self.parse_field_checked(48, false)?;
                self.lexer.force_match(TokenKind::RParen);
                Some(Action::LookupMacBind {
                    nd,
                    dst: lhs,
                    port,
                    ip,
                    mac,
                })
            }
            "get_fdb" => {
                self.lexer.get();
                self.lexer.get();
                if lhs.n_bits != 0 {
                    self.check(&lhs, 32, true)?;
                }
                let mac = self.parse_field_checked(48, false)?;
                self.lexer.force_match(TokenKind::RParen);
                Some(Action::GetFdb { dst: lhs, mac })
            }
            "lookup_fdb" => {
                self.lexer.get();
                self.lexer.get();
                self.check(&lhs, 1, true)?;
                let port = self.parse_field_checked(0, false)?;
                self.lexer.force_match(TokenKind::Comma);
                let mac = self.parse_field_checked(48, false)?;
                self.lexer.force_match(TokenKind::RParen);
                Some(Action::LookupFdb {
                    dst: lhs,
                    port,
                    mac,
                })
            }
            _ => self.parse_assignment(false, lhs),
        }
    }

    /// `dst = name();` (`parse_ovnact_result`).
    fn parse_result(&mut self, kind: ResultKind, dst: FieldRef) -> Option<Action> {
        self.lexer.get();
        self.lexer.get();
        if !self.lexer.match_kind(TokenKind::RParen) {
            self.error(format!("{} doesn't take any parameters", kind.name()));
            return None;
        }
        self.check(&dst, 1, true)?;
        if kind == ResultKind::DnsLookup {
            self.add_prerequisite("udp");
        }
        Some(Action::Result { kind, dst })
    }

    /// `field = constant;` (`parse_LOAD`).
    fn parse_load(&mut self, dst: FieldRef) -> Option<Action> {
        self.check(&dst, dst.n_bits, true)?;
        let mut cs = ConstantSet::default();
        {
            let mut p = Parser::new(self.lexer, self.pp.symtab);
            if p.parse_constant(&mut cs) {
                p.type_check(&dst, &cs);
            }
        }
        if self.has_error() {
            return None;
        }
        let value = if cs.is_string {
            Constant::Str(cs.strings.into_iter().next()?)
        } else {
            Constant::Int(cs.ints.into_iter().next()?)
        };
        if matches!(dst.symbol.kind, SymbolKind::Ovn(_)) {
            let Constant::Int(value) = value else {
                return None;
            };
            return Some(Action::OvnFieldLoad { dst, value });
        }
        Some(Action::Load { dst, value })
    }

    /// `lhs = rhs;` or `lhs <-> rhs;` (`parse_assignment_action`).
    fn parse_assignment(&mut self, exchange: bool, lhs: FieldRef) -> Option<Action> {
        let rhs = self.field_parse()?;
        let (ls, rs) = (&lhs.symbol, &rhs.symbol);
        let kind = |w: u32| if w != 0 { "integer" } else { "string" };
        if (ls.width != 0) != (rs.width != 0) {
            let msg = if exchange {
                format!(
                    "Can't exchange {} field ({}) with {} field ({}).",
                    kind(ls.width),
                    ls.name,
                    kind(rs.width),
                    rs.name
                )
            } else {
                format!(
                    "Can't assign {} field ({}) to {} field ({}).",
                    kind(rs.width),
                    rs.name,
                    kind(ls.width),
                    ls.name
                )
            };
            self.error(msg);
            return None;
        }
        if lhs.n_bits != rhs.n_bits {
            let msg = if exchange {
                format!(
                    "Can't exchange {}-bit field with {}-bit field.",
                    lhs.n_bits, rhs.n_bits
                )
            } else {
                format!(
                    "Can't assign {}-bit value to {}-bit destination.",
                    rhs.n_bits, lhs.n_bits
                )
            };
            self.error(msg);
            return None;
        }
        if lhs.n_bits == 0 && ls.field().map(|f| f.n_bits()) != rs.field().map(|f| f.n_bits()) {
            self.error(format!(
                "String fields {} and {} are incompatible for {}.",
                ls.name,
                rs.name,
                if exchange { "exchange" } else { "assignment" }
            ));
            return None;
        }
        self.check(&lhs, lhs.n_bits, true)?;
        self.check(&rhs, rhs.n_bits, exchange)?;
        Some(if exchange {
            Action::Exchange { lhs, rhs }
        } else {
            Action::Move { lhs, rhs }
        })
    }
}
