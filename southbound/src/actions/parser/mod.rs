//! Parser for OVN logical actions (`ovnacts_parse` in `lib/actions.c` of
//! OVN 23.03), with OVN's error messages.
//!
//! The lexer's error is sticky, as in OVN: the first error recorded is the
//! one reported, so each parsing function simply returns `None` once an
//! error has been recorded.  Assignments and `dst = function(...)` actions
//! are in [`set`], conntrack actions with arguments and `select` in [`ct`],
//! other argument lists in [`args`], everything else here.

mod args;
mod ct;
mod set;

use super::ast::{Action, CtNat, CtNatKind, NestKind, Pipeline};
use super::ParseContext;
use crate::expr::annotate::field_prereqs;
use crate::expr::ast::{AndOr, Expr};
use crate::expr::lexer::{Lexer, TokenKind};
use crate::expr::parser::{parse_with, ConstantSet, FieldRef, Parser};
use crate::expr::symtab::WriteScope;
use crate::expr::LexFormat;

/// Maximum nesting of `{ ... }` actions (`MAX_NESTED_ACTION_DEPTH`).
const MAX_NESTED_ACTION_DEPTH: u32 = 32;

/// Parsing state (`struct action_context`).
pub(super) struct ActionParser<'a, 'l> {
    pub(super) lexer: &'l mut Lexer<'a>,
    pub(super) pp: &'l ParseContext<'l>,
    /// Prerequisites the actions add to the flow's match.
    pub(super) prereqs: Option<Expr>,
    depth: u32,
    scope: WriteScope,
}

/// The nested action called `name`, if it is one.
fn nest_kind(name: &str) -> Option<NestKind> {
    Some(match name {
        "clone" => NestKind::Clone,
        "arp" => NestKind::Arp,
        "icmp4" => NestKind::Icmp4,
        "icmp4_error" => NestKind::Icmp4Error,
        "icmp6" => NestKind::Icmp6,
        "icmp6_error" => NestKind::Icmp6Error,
        "tcp_reset" => NestKind::TcpReset,
        "sctp_abort" => NestKind::SctpAbort,
        "nd_na" => NestKind::NdNa,
        "nd_na_router" => NestKind::NdNaRouter,
        "nd_ns" => NestKind::NdNs,
        "reject" => NestKind::Reject,
        _ => return None,
    })
}

/// `expr_type_check`: `f` must be `n_bits` wide (0: a string field) and, if
/// `rw`, writable in `scope`.
pub(super) fn type_check(
    f: &FieldRef,
    n_bits: u32,
    rw: bool,
    scope: WriteScope,
) -> Result<(), String> {
    if n_bits != f.n_bits {
        return Err(if n_bits != 0 && f.n_bits != 0 {
            format!(
                "Cannot use {}-bit field {}[{}..{}] where {}-bit field is required.",
                f.n_bits,
                f.symbol.name,
                f.ofs,
                f.ofs + f.n_bits - 1,
                n_bits
            )
        } else if n_bits != 0 {
            format!(
                "Cannot use string field {} where numeric field is required.",
                f.symbol.name
            )
        } else {
            format!(
                "Cannot use numeric field {} where string field is required.",
                f.symbol.name
            )
        });
    }
    if rw && (f.symbol.rw == WriteScope::None || f.symbol.rw != scope) {
        return Err(format!("Field {} is not modifiable.", f.symbol.name));
    }
    Ok(())
}

impl<'a, 'l> ActionParser<'a, 'l> {
    /// A parser for top-level actions.
    pub(super) fn new(lexer: &'l mut Lexer<'a>, pp: &'l ParseContext<'l>) -> Self {
        ActionParser {
            lexer,
            pp,
            prereqs: None,
            depth: 0,
            scope: WriteScope::Default,
        }
    }

    pub(super) fn has_error(&self) -> bool {
        self.lexer.has_error()
    }

    pub(super) fn error(&mut self, message: impl Into<String>) {
        self.lexer.error(message);
    }

    pub(super) fn syntax_error(&mut self, message: &str) {
        self.lexer.syntax_error(Some(message));
    }

    pub(super) fn is_id(&self, id: &str) -> bool {
        self.lexer.token.kind == TokenKind::Id && self.lexer.token.text == id
    }

    /// `lexer_get_int`: reads a small integer without recording an error.
    pub(super) fn get_int(&mut self) -> Option<i32> {
        if self.lexer.is_int() {
            let v = self.lexer.token.value as i32;
            self.lexer.get();
            Some(v)
        } else {
            None
        }
    }

    /// `action_parse_uint16`.
    pub(super) fn parse_uint16(&mut self, what: &str) -> Option<u16> {
        if self.lexer.is_int() && self.lexer.token.value <= u128::from(u16::MAX) {
            let v = self.lexer.token.value as u16;
            self.lexer.get();
            return Some(v);
        }
        self.syntax_error(&format!("expecting {what}"));
        None
    }

    /// ANDs `prerequisite` (unannotated, as OVN does) into the prerequisites
    /// (`add_prerequisite`).
    pub(super) fn add_prerequisite(&mut self, prerequisite: &str) {
        if let Ok(e) = parse_with(prerequisite, self.pp.symtab, None, 0) {
            self.prereqs = Expr::combine(AndOr::And, self.prereqs.take(), Some(e));
        }
    }

    /// Parses a field and adds the prerequisites of it and its parents
    /// (`expr_field_parse`).
    pub(super) fn field_parse(&mut self) -> Option<FieldRef> {
        let f = Parser::new(self.lexer, self.pp.symtab).parse_field();
        if let Some(f) = &f {
            if f.symbol.predicate().is_some() {
                self.error(format!(
                    "Predicate symbol {} used where lvalue required.",
                    f.symbol.name
                ));
            }
        }
        if self.has_error() {
            return None;
        }
        let f = f?;
        match field_prereqs(&f.symbol, self.pp.symtab) {
            Ok(p) => self.prereqs = Expr::combine(AndOr::And, self.prereqs.take(), p),
            Err(e) => {
                self.error(e);
                return None;
            }
        }
        Some(f)
    }

    /// `action_parse_field`: a field of `n_bits` bits (0: string), writable
    /// if `rw`.
    pub(super) fn parse_field_checked(&mut self, n_bits: u32, rw: bool) -> Option<FieldRef> {
        let f = self.field_parse()?;
        self.check(&f, n_bits, rw)?;
        Some(f)
    }

    /// Records the error of [`type_check`], if any.
    pub(super) fn check(&mut self, f: &FieldRef, n_bits: u32, rw: bool) -> Option<()> {
        match type_check(f, n_bits, rw, self.scope) {
            Ok(()) => Some(()),
            Err(e) => {
                self.error(e);
                None
            }
        }
    }

    /// Parses a constant set with the expression parser
    /// (`expr_constant_set_parse`).
    pub(super) fn constant_set(&mut self) -> Option<ConstantSet> {
        Parser::new(self.lexer, self.pp.symtab).parse_constant_set()
    }

    /// Parses actions up to `sentinel` (`parse_actions`).
    pub(super) fn parse_actions(&mut self, sentinel: TokenKind) -> Vec<Action> {
        let mut out = Vec::new();
        if self.is_id("drop") && self.lexer.lookahead() == TokenKind::Semicolon {
            self.lexer.get();
            self.lexer.get();
            self.lexer.force_match(sentinel);
            return out;
        }
        while !self.lexer.match_kind(sentinel) {
            if !self.parse_action(&mut out) {
                break;
            }
        }
        out
    }

    /// Parses one action and its `;` (`parse_action`).
    fn parse_action(&mut self, out: &mut Vec<Action>) -> bool {
        match self.lexer.token.kind {
            TokenKind::Template => {
                self.error("Unexpanded template.");
                return false;
            }
            TokenKind::Id => {}
            _ => {
                self.lexer.syntax_error(None);
                return false;
            }
        }
        let lookahead = self.lexer.lookahead();
        if matches!(
            lookahead,
            TokenKind::Equals | TokenKind::Exchange | TokenKind::LSquare
        ) {
            if let Some(a) = self.parse_set_action() {
                out.push(a);
            }
        } else {
            let name = self.lexer.token.text.clone();
            if !self.is_action_name(&name) {
                self.syntax_error("expecting action");
            } else {
                self.lexer.get();
                if let Some(a) = self.parse_named(&name) {
                    out.push(a);
                }
            }
        }
        self.lexer.force_match(TokenKind::Semicolon);
        !self.has_error()
    }

    fn is_action_name(&self, name: &str) -> bool {
        matches!(
            name,
            "next"
                | "push"
                | "pop"
                | "output"
                | "ip.ttl"
                | "ct_next"
                | "ct_commit"
                | "ct_dnat"
                | "ct_snat"
                | "ct_dnat_in_czone"
                | "ct_snat_in_czone"
                | "ct_lb"
                | "ct_lb_mark"
                | "ct_clear"
                | "ct_commit_nat"
                | "clone"
                | "arp"
                | "icmp4"
                | "icmp4_error"
                | "icmp6"
                | "icmp6_error"
                | "igmp"
                | "tcp_reset"
                | "sctp_abort"
                | "nd_na"
                | "nd_na_router"
                | "nd_ns"
                | "get_arp"
                | "put_arp"
                | "get_nd"
                | "put_nd"
                | "set_queue"
                | "log"
                | "set_meter"
                | "trigger_event"
                | "bind_vport"
                | "handle_svc_check"
                | "fwd_group"
                | "handle_dhcpv6_reply"
                | "handle_bfd_msg"
                | "reject"
                | "ct_snat_to_vip"
                | "put_fdb"
                | "commit_ecmp_nh"
                | "commit_lb_aff"
                | "sample"
        )
    }

    /// Parses the rest of the action named `name`, which has been consumed.
    fn parse_named(&mut self, name: &str) -> Option<Action> {
        if let Some(kind) = nest_kind(name) {
            // "clone" runs in the normal scope even inside ct_commit.
            let scope = if kind == NestKind::Clone {
                WriteScope::Default
            } else {
                self.scope
            };
            return self.nested(kind, kind.prerequisite(), scope);
        }
        let cur = self.pp.cur_ltable;
        match name {
            "next" => self.parse_next(),
            "push" | "pop" => self.parse_push_pop(name == "push"),
            "output" => Some(Action::Output),
            "ip.ttl" => {
                self.lexer.force_match(TokenKind::Decrement);
                self.add_prerequisite("ip");
                Some(Action::DecTtl)
            }
            "ct_next" => {
                if cur >= self.pp.n_tables {
                    self.error("\"ct_next\" action not allowed in last table.");
                    return None;
                }
                self.add_prerequisite("ip");
                Some(Action::CtNext { ltable: cur + 1 })
            }
            "ct_commit" => self.parse_ct_commit(),
            "ct_dnat" => self.parse_ct_nat(CtNatKind::Dnat),
            "ct_snat" => self.parse_ct_nat(CtNatKind::Snat),
            "ct_dnat_in_czone" => self.parse_ct_nat(CtNatKind::DnatInCzone),
            "ct_snat_in_czone" => self.parse_ct_nat(CtNatKind::SnatInCzone),
            "ct_lb" => self.parse_ct_lb(false),
            "ct_lb_mark" => self.parse_ct_lb(true),
            "ct_clear" => Some(Action::CtClear),
            "ct_commit_nat" => {
                self.add_prerequisite("ip");
                if cur >= self.pp.n_tables {
                    self.error("\"ct_commit_related\" action not allowed in last table.");
                    return None;
                }
                Some(Action::CtNat(CtNat {
                    kind: CtNatKind::CommitNat,
                    addr: None,
                    ports: None,
                    ltable: cur + 1,
                }))
            }
            "igmp" => Some(Action::Igmp),
            "get_arp" | "get_nd" => {
                let nd = name == "get_nd";
                self.lexer.force_match(TokenKind::LParen);
                let port = self.parse_field_checked(0, false)?;
                self.lexer.force_match(TokenKind::Comma);
                let ip = self.parse_field_checked(if nd { 128 } else { 32 }, false)?;
                self.lexer.force_match(TokenKind::RParen);
                Some(Action::GetMacBind { nd, port, ip })
            }
            "put_arp" | "put_nd" => {
                let nd = name == "put_nd";
                self.lexer.force_match(TokenKind::LParen);
                let port = self.parse_field_checked(0, false)?;
                self.lexer.force_match(TokenKind::Comma);
                let ip = self.parse_field_checked(if nd { 128 } else { 32 }, false)?;
                self.lexer.force_match(TokenKind::Comma);
                let mac = self.parse_field_checked(48, false)?;
                self.lexer.force_match(TokenKind::RParen);
                Some(Action::PutMacBind { nd, port, ip, mac })
            }
            "set_queue" => {
                if !self.lexer.force_match(TokenKind::LParen) {
                    return None;
                }
                let queue = self.get_int()?;
                if !self.lexer.force_match(TokenKind::RParen) {
                    return None;
                }
                if !(0..=0xf000).contains(&queue) {
                    self.error(format!(
                        "Queue ID {queue} for set_queue is not in valid range 0 to 61440."
                    ));
                    return None;
                }
                Some(Action::SetQueue(queue as u16))
            }
            "log" => self.parse_log(),
            "set_meter" => self.parse_set_meter(),
            "trigger_event" => self.parse_trigger_event(),
            "bind_vport" => {
                if !self.lexer.force_match(TokenKind::LParen) {
                    return None;
                }
                if self.lexer.token.kind != TokenKind::String {
                    self.syntax_error("expecting port name string");
                    return None;
                }
                let vport = self.lexer.token.text.clone();
                self.lexer.get();
                if !self.lexer.force_match(TokenKind::Comma) {
                    return None;
                }
                let parent = self.parse_field_checked(0, false)?;
                self.lexer.force_match(TokenKind::RParen);
                Some(Action::BindVport { vport, parent })
            }
            "handle_svc_check" => {
                if !self.lexer.force_match(TokenKind::LParen) {
                    return None;
                }
                let port = self.parse_field_checked(0, false)?;
                self.lexer.force_match(TokenKind::RParen);
                Some(Action::HandleSvcCheck { port })
            }
            "fwd_group" => self.parse_fwd_group(),
            "handle_dhcpv6_reply" => Some(Action::Dhcp6Reply),
            "handle_bfd_msg" => {
                if !self.lexer.force_match(TokenKind::LParen) {
                    return None;
                }
                self.lexer.force_match(TokenKind::RParen);
                Some(Action::BfdMsg)
            }
            "ct_snat_to_vip" => Some(Action::CtSnatToVip),
            "put_fdb" => {
                self.lexer.force_match(TokenKind::LParen);
                let port = self.parse_field_checked(0, false)?;
                self.lexer.force_match(TokenKind::Comma);
                let mac = self.parse_field_checked(48, false)?;
                self.lexer.force_match(TokenKind::RParen);
                Some(Action::PutFdb { port, mac })
            }
            "commit_ecmp_nh" => self.parse_commit_ecmp_nh(),
            "commit_lb_aff" => self.parse_commit_lb_aff(),
            "sample" => self.parse_sample(),
            _ => {
                self.syntax_error("expecting action");
                None
            }
        }
    }

    /// `next;` with optional `(table)` or `(pipeline=..., table=...)`.
    fn parse_next(&mut self) -> Option<Action> {
        if self.pp.n_tables == 0 {
            self.error("\"next\" action not allowed here.");
            return None;
        }
        let mut pipeline = self.pp.pipeline;
        let mut table = i32::from(self.pp.cur_ltable) + 1;
        if self.lexer.match_kind(TokenKind::LParen) {
            if self.lexer.is_int() {
                table = self.get_int()?;
            } else {
                loop {
                    if self.lexer.match_id("pipeline") {
                        if !self.lexer.force_match(TokenKind::Equals) {
                            return None;
                        }
                        if self.lexer.match_id("ingress") {
                            pipeline = Pipeline::Ingress;
                        } else if self.lexer.match_id("egress") {
                            pipeline = Pipeline::Egress;
                        } else {
                            self.syntax_error("expecting \"ingress\" or \"egress\"");
                            return None;
                        }
                    } else if self.lexer.match_id("table") {
                        if !self.lexer.force_match(TokenKind::Equals) {
                            return None;
                        }
                        table = self.lexer.force_int()?;
                    } else {
                        self.syntax_error("expecting \"pipeline\" or \"table\"");
                        return None;
                    }
                    if !self.lexer.match_kind(TokenKind::Comma) {
                        break;
                    }
                }
            }
            if !self.lexer.force_match(TokenKind::RParen) {
                return None;
            }
        }
        if table >= i32::from(self.pp.n_tables) {
            self.error(format!(
                "\"next\" action cannot advance beyond table {}.",
                i32::from(self.pp.n_tables) - 1
            ));
            return None;
        }
        Some(Action::Next {
            ltable: table as u8,
            pipeline,
            src_ltable: self.pp.cur_ltable,
            src_pipeline: self.pp.pipeline,
        })
    }

    fn parse_push_pop(&mut self, push: bool) -> Option<Action> {
        self.lexer.force_match(TokenKind::LParen);
        let f = self.field_parse()?;
        self.check(&f, f.n_bits, !push)?;
        self.lexer.force_match(TokenKind::RParen);
        Some(if push {
            Action::Push(f)
        } else {
            Action::Pop(f)
        })
    }

    /// `ct_commit;`, `ct_commit { ... };` or legacy `ct_commit(...)`.
    fn parse_ct_commit(&mut self) -> Option<Action> {
        match self.lexer.token.kind {
            TokenKind::LCurly => {
                let actions = self.nested_actions(Some("ip"), WriteScope::CtCommit)?;
                Some(Action::CtCommit(actions))
            }
            TokenKind::LParen => self.parse_ct_commit_v1(),
            _ => {
                self.add_prerequisite("ip");
                Some(Action::CtCommit(Vec::new()))
            }
        }
    }

    /// A `{ ... }` action (`parse_nested_action`).
    fn nested(
        &mut self,
        kind: NestKind,
        prereq: Option<&str>,
        scope: WriteScope,
    ) -> Option<Action> {
        let actions = self.nested_actions(prereq, scope)?;
        Some(Action::Nested { kind, actions })
    }

    fn nested_actions(&mut self, prereq: Option<&str>, scope: WriteScope) -> Option<Vec<Action>> {
        if !self.lexer.force_match(TokenKind::LCurly) {
            return None;
        }
        if self.depth + 1 == MAX_NESTED_ACTION_DEPTH {
            self.error("maximum depth of nested actions reached");
            return None;
        }
        let (actions, inner_prereqs) = {
            let mut inner = ActionParser {
                lexer: &mut *self.lexer,
                pp: self.pp,
                prereqs: None,
                depth: self.depth + 1,
                scope,
            };
            let actions = inner.parse_actions(TokenKind::RCurly);
            (actions, inner.prereqs)
        };
        match prereq {
            // OVN drops the inner prerequisites of actions on derived
            // packets and requires the outer packet type instead.
            Some(p) => self.add_prerequisite(p),
            None => {
                self.prereqs = Expr::combine(AndOr::And, inner_prereqs, self.prereqs.take());
            }
        }
        if self.has_error() {
            return None;
        }
        Some(actions)
    }

    /// Whether the current token is an integer constant in `format`.
    pub(super) fn is_integer_in(&self, formats: &[LexFormat]) -> bool {
        self.lexer.token.kind == TokenKind::Integer && formats.contains(&self.lexer.token.format)
    }
}
