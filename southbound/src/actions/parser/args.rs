//! Actions with argument lists: option lists (`put_dhcp_opts`...), `log`, `set_meter`, `trigger_event`,
//! `fwd_group`, ECMP and load-balancer affinity, `sample` (`lib/actions.c`
//! of OVN 23.03, same quirks and messages).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ActionParser;
use crate::actions::ast::{Action, ConstSet, ConstValues, GenOption, LbAff, Log, OptsKind, Sample};
use crate::actions::options::{
    OptionTable, OptionType, EMPTY_LB_LOAD_BALANCER, EMPTY_LB_PROTOCOL, EMPTY_LB_VIP, ND_OPT_DNSSL,
    ND_OPT_MTU, ND_OPT_PREFIX_INFORMATION, ND_OPT_RDNSS, ND_OPT_ROUTE_INFO_TYPE,
    ND_OPT_SOURCE_LINKADDR, ND_RA_FLAG_ADDR_MODE, ND_RA_FLAG_PRF,
};
use crate::expr::lexer::TokenKind;
use crate::expr::parser::FieldRef;
use crate::expr::LexFormat;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;

/// Parses `host[:port]` or `[ipv6][:port]` as OVS `inet_parse_active` does
/// with no default port and no name resolution.
pub(crate) fn parse_lb_key(s: &str) -> Option<(IpAddr, u16)> {
    let mut in_brackets = false;
    let mut colons = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '[' => in_brackets = true,
            ']' => in_brackets = false,
            ':' if !in_brackets => colons.push(i),
            _ => {}
        }
    }
    let unbracket = |t: &str| -> String {
        t.strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(t)
            .to_string()
    };
    let (host, port) = if colons.len() > 1 {
        (s.to_string(), None)
    } else if let Some(&c) = colons.first() {
        (unbracket(&s[..c]), Some(unbracket(&s[c + 1..])))
    } else {
        (unbracket(s), None)
    };
    let port = match port.as_deref() {
        Some(p) if !p.is_empty() => {
            let v: i64 = p.parse().ok()?;
            u16::try_from(v).ok()?
        }
        _ => 0,
    };
    let addr = if host.contains(':') {
        let addr = host.split('%').next()?;
        IpAddr::V6(addr.parse::<Ipv6Addr>().ok()?)
    } else {
        IpAddr::V4(host.parse::<Ipv4Addr>().ok()?)
    };
    Some((addr, port))
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

impl<'a, 'l> ActionParser<'a, 'l> {
    /// One `name = value` option (`parse_gen_opt`).
    fn parse_gen_opt(&mut self, table: Option<&OptionTable>, what: &str) -> Option<GenOption> {
        if self.lexer.token.kind != TokenKind::Id {
            self.lexer.syntax_error(None);
            return None;
        }
        let Some(option) = table.and_then(|t| t.get(&self.lexer.token.text)).cloned() else {
            self.syntax_error(&format!("expecting {what} option name"));
            return None;
        };
        self.lexer.get();
        if !self.lexer.force_match(TokenKind::Equals) {
            return None;
        }
        let cs = self.constant_set()?;
        let value = ConstSet {
            in_curlies: cs.in_curlies,
            values: if cs.is_string {
                ConstValues::Strings(cs.strings)
            } else {
                ConstValues::Ints(cs.ints)
            },
        };
        let is_string = matches!(value.values, ConstValues::Strings(_));
        if option.ty != OptionType::HostId {
            if option.ty.wants_string() && !is_string {
                self.error(format!(
                    "{what} option {} requires string value.",
                    option.name
                ));
                return None;
            } else if !option.ty.wants_string() && is_string {
                self.error(format!(
                    "{what} option {} requires numeric value.",
                    option.name
                ));
                return None;
            }
        }
        Some(GenOption { option, value })
    }

    /// `dst = put_dhcp_opts(...)`, `put_dhcpv6_opts`, `put_nd_ra_opts`
    /// (`parse_put_opts` and its callers' validation).
    pub(super) fn parse_put_opts(&mut self, kind: OptsKind, dst: FieldRef) -> Option<Action> {
        let pp = self.pp;
        let (table, what) = match kind {
            OptsKind::Dhcpv4 => (pp.dhcp_opts, "DHCPv4"),
            OptsKind::Dhcpv6 => (pp.dhcpv6_opts, "DHCPv6"),
            OptsKind::NdRa => (pp.nd_ra_opts, "IPv6 ND RA"),
        };
        self.lexer.get();
        self.lexer.get();
        self.check(&dst, 1, true)?;
        let mut options = Vec::new();
        while !self.lexer.match_kind(TokenKind::RParen) {
            options.push(self.parse_gen_opt(table, what)?);
            self.lexer.match_kind(TokenKind::Comma);
        }
        match kind {
            OptsKind::Dhcpv4 => {
                if !options.iter().any(|o| o.option.code == 0) {
                    self.error("put_dhcp_opts requires offerip to be specified.");
                    return None;
                }
            }
            OptsKind::Dhcpv6 => {}
            OptsKind::NdRa => {
                self.validate_nd_ra(&options)?;
                self.add_prerequisite("ip6");
            }
        }
        Some(Action::PutOpts { kind, dst, options })
    }

    fn validate_nd_ra(&mut self, options: &[GenOption]) -> Option<()> {
        let (mut stateful, mut prefix_set, mut slla) = (false, false, false);
        for o in options {
            if o.value.len() > 1 {
                self.error(format!("Invalid value for \"{}\" option", o.option.name));
                return None;
            }
            let s = o.value.first_str();
            let i = o.value.first_int();
            let ok = match o.option.code {
                ND_RA_FLAG_ADDR_MODE => {
                    stateful = s == Some("dhcpv6_stateful");
                    matches!(s, Some("slaac" | "dhcpv6_stateful" | "dhcpv6_stateless"))
                }
                ND_RA_FLAG_PRF => matches!(s, Some("MEDIUM" | "HIGH" | "LOW")),
                ND_OPT_SOURCE_LINKADDR => {
                    slla = true;
                    i.is_some_and(|c| c.format == LexFormat::Ethernet)
                }
                ND_OPT_PREFIX_INFORMATION => {
                    prefix_set = true;
                    i.is_some_and(|c| c.format == LexFormat::Ipv6 && c.mask.is_some())
                }
                ND_OPT_MTU => i.is_some_and(|c| c.format == LexFormat::Decimal),
                ND_OPT_RDNSS => i.is_some_and(|c| c.format == LexFormat::Ipv6),
                ND_OPT_ROUTE_INFO_TYPE | ND_OPT_DNSSL => s.is_some(),
                _ => true,
            };
            if !ok {
                self.error(format!("Invalid value for \"{}\" option", o.option.name));
                return None;
            }
        }
        if !slla {
            self.error("slla option not present");
            return None;
        }
        if !stateful && !prefix_set {
            self.error(
                "prefix option needs to be set when address mode is slaac/dhcpv6_stateless.",
            );
            return None;
        }
        Some(())
    }

    /// `log(verdict=..., severity=..., name="...", meter="...")`.
    pub(super) fn parse_log(&mut self) -> Option<Action> {
        const UNKNOWN: u8 = u8::MAX;
        let mut log = Log {
            verdict: UNKNOWN,
            severity: 6,
            name: None,
            meter: None,
        };
        if self.lexer.match_kind(TokenKind::LParen) {
            while !self.lexer.match_kind(TokenKind::RParen) {
                self.parse_log_arg(&mut log)?;
                self.lexer.match_kind(TokenKind::Comma);
            }
        }
        if log.verdict == UNKNOWN {
            self.syntax_error("expecting verdict");
            return None;
        }
        Some(Action::Log(log))
    }

    fn parse_log_arg(&mut self, log: &mut Log) -> Option<()> {
        if self.lexer.match_id("verdict") {
            if !self.lexer.force_match(TokenKind::Equals) {
                return None;
            }
            log.verdict = if self.lexer.match_id("drop") {
                1
            } else if self.lexer.match_id("reject") {
                2
            } else if self.lexer.match_id("allow") {
                0
            } else {
                self.syntax_error("unknown verdict");
                return None;
            };
        } else if self.is_id("name") || self.is_id("meter") {
            let is_name = self.is_id("name");
            self.lexer.get();
            if !self.lexer.force_match(TokenKind::Equals) {
                return None;
            }
            if self.lexer.token.kind != TokenKind::String {
                self.syntax_error("expecting string");
                return None;
            }
            let s = self.lexer.token.text.clone();
            if is_name {
                if s.len() >= 64 {
                    self.syntax_error("name must be shorter than 64 characters");
                    return None;
                }
                log.name = Some(s);
            } else {
                log.meter = Some(s);
            }
            self.lexer.get();
        } else if self.lexer.match_id("severity") {
            if !self.lexer.force_match(TokenKind::Equals) {
                return None;
            }
            if self.lexer.token.kind != TokenKind::Id {
                self.syntax_error("expecting severity");
                return None;
            }
            log.severity = match self.lexer.token.text.as_str() {
                "alert" => 1,
                "warning" => 4,
                "notice" => 5,
                "info" => 6,
                "debug" => 7,
                _ => {
                    self.syntax_error("unknown severity");
                    return None;
                }
            };
            self.lexer.get();
        } else {
            self.lexer.syntax_error(None);
            return None;
        }
        Some(())
    }

    /// `set_meter(rate[, burst])` (`parse_set_meter_action`).
    pub(super) fn parse_set_meter(&mut self) -> Option<Action> {
        let (mut rate, mut burst) = (0u64, 0u64);
        self.lexer.force_match(TokenKind::LParen);
        if self.is_integer_in(&[LexFormat::Decimal]) {
            rate = self.lexer.token.value as u64;
        }
        self.lexer.get();
        if self.lexer.match_kind(TokenKind::Comma) {
            if self.is_integer_in(&[LexFormat::Decimal]) {
                burst = self.lexer.token.value as u64;
            }
            self.lexer.get();
        }
        self.lexer.force_match(TokenKind::RParen);
        if rate == 0 {
            self.error("Rate 0 for set_meter is not in valid.");
            return None;
        }
        Some(Action::SetMeter { rate, burst })
    }

    /// `trigger_event(event = "empty_lb_backends", ...)`.
    pub(super) fn parse_trigger_event(&mut self) -> Option<Action> {
        self.lexer.force_match(TokenKind::LParen);
        if !self.lexer.match_id("event") {
            self.syntax_error("Expecting 'event' option");
            return None;
        }
        if !self.lexer.force_match(TokenKind::Equals) {
            return None;
        }
        if self.lexer.token.kind != TokenKind::String || self.lexer.token.text.len() >= 64 {
            self.syntax_error("Expecting string");
            return None;
        }
        if self.lexer.token.text != "empty_lb_backends" {
            self.syntax_error("Unknown event '-1'");
            return None;
        }
        self.lexer.get();
        self.lexer.match_kind(TokenKind::Comma);
        let table = self.pp.event_opts;
        let mut options = Vec::new();
        while !self.lexer.match_kind(TokenKind::RParen) {
            options.push(self.parse_gen_opt(table, "empty_lb_backends")?);
            self.lexer.match_kind(TokenKind::Comma);
        }
        for o in &options {
            let s = match (&o.value.values, o.value.len()) {
                (ConstValues::Strings(v), 1) => v[0].clone(),
                _ => {
                    self.error(format!("Invalid value for \"{}\" option", o.option.name));
                    return None;
                }
            };
            let ok = match o.option.code {
                EMPTY_LB_VIP => parse_lb_key(&s).is_some(),
                EMPTY_LB_PROTOCOL => matches!(s.as_str(), "tcp" | "udp" | "sctp"),
                EMPTY_LB_LOAD_BALANCER => is_uuid(&s),
                _ => true,
            };
            if !ok {
                self.error(match o.option.code {
                    EMPTY_LB_VIP => format!("Invalid load balancer VIP '{s}'"),
                    EMPTY_LB_PROTOCOL => {
                        format!("Load balancer protocol '{s}' is not 'tcp', 'udp', or 'sctp'")
                    }
                    _ => format!("Load balancer '{s}' is not a UUID"),
                });
                return None;
            }
        }
        Some(Action::TriggerEvent { event: 0, options })
    }

    /// `fwd_group(liveness=..., childports="p1", "p2", ...)`.
    pub(super) fn parse_fwd_group(&mut self) -> Option<Action> {
        let mut liveness = false;
        let mut child_ports = Vec::new();
        if self.lexer.match_kind(TokenKind::LParen) {
            if self.lexer.match_id("liveness") {
                if !self.lexer.force_match(TokenKind::Equals) {
                    return None;
                }
                liveness = self.parse_bool()?;
                self.lexer.force_match(TokenKind::Comma);
            }
            if self.lexer.match_id("childports") {
                if !self.lexer.force_match(TokenKind::Equals) {
                    return None;
                }
                while !self.lexer.match_kind(TokenKind::RParen) {
                    if self.lexer.token.kind != TokenKind::String {
                        self.syntax_error("expecting logical switch port");
                        return None;
                    }
                    child_ports.push(self.lexer.token.text.clone());
                    self.lexer.get();
                    self.lexer.match_kind(TokenKind::Comma);
                }
            }
        }
        if self.has_error() {
            return None;
        }
        Some(Action::FwdGroup {
            liveness,
            child_ports,
            ltable: self.pp.cur_ltable.wrapping_add(1),
        })
    }

    fn parse_bool(&mut self) -> Option<bool> {
        if self.lexer.match_string("true") || self.lexer.match_id("true") {
            Some(true)
        } else if self.lexer.match_string("false") || self.lexer.match_id("false") {
            Some(false)
        } else {
            self.syntax_error("expecting true or false");
            None
        }
    }

    fn parse_proto(&mut self) -> Option<u8> {
        if self.lexer.match_id("tcp") {
            Some(IPPROTO_TCP)
        } else if self.lexer.match_id("udp") {
            Some(IPPROTO_UDP)
        } else if self.lexer.match_id("sctp") {
            Some(IPPROTO_SCTP)
        } else {
            self.syntax_error("invalid protocol");
            None
        }
    }

    /// `key =` where anything wrong is "invalid parameter".
    fn param(&mut self, key: &str) -> Option<()> {
        if !self.lexer.match_id(key) {
            self.syntax_error("invalid parameter");
            return None;
        }
        if !self.lexer.force_match(TokenKind::Equals) {
            return None;
        }
        Some(())
    }

    /// `commit_ecmp_nh(ipv6 = B, proto = P)`.
    pub(super) fn parse_commit_ecmp_nh(&mut self) -> Option<Action> {
        self.lexer.force_match(TokenKind::LParen);
        self.param("ipv6")?;
        let ipv6 = self.parse_bool()?;
        self.lexer.force_match(TokenKind::Comma);
        self.param("proto")?;
        let proto = self.parse_proto()?;
        self.lexer.force_match(TokenKind::RParen);
        Some(Action::CommitEcmpNh { ipv6, proto })
    }

    fn lb_key_param(&mut self, key: &str) -> Option<(IpAddr, u16)> {
        self.param(key)?;
        if self.lexer.token.kind != TokenKind::String {
            self.syntax_error("invalid parameter");
            return None;
        }
        let Some(v) = parse_lb_key(&self.lexer.token.text) else {
            self.syntax_error("invalid parameter");
            return None;
        };
        Some(v)
    }

    /// `commit_lb_aff(vip = "...", backend = "...", proto = P, timeout = N)`.
    pub(super) fn parse_commit_lb_aff(&mut self) -> Option<Action> {
        self.lexer.force_match(TokenKind::LParen);
        let (vip, vip_port) = self.lb_key_param("vip")?;
        self.lexer.get();
        self.lexer.force_match(TokenKind::Comma);
        let (backend, backend_port) = self.lb_key_param("backend")?;
        if backend.is_ipv6() != vip.is_ipv6() {
            self.syntax_error("invalid protocol family");
            return None;
        }
        self.lexer.get();
        self.lexer.force_match(TokenKind::Comma);
        let mut proto = 0;
        if vip_port != 0 {
            self.param("proto")?;
            proto = self.parse_proto()?;
            self.lexer.force_match(TokenKind::Comma);
        }
        self.param("timeout")?;
        let timeout = self.parse_uint16("affinity timeout")?;
        self.lexer.force_match(TokenKind::RParen);
        Some(Action::CommitLbAff(LbAff {
            vip,
            vip_port,
            proto,
            backend,
            backend_port,
            timeout,
        }))
    }

    /// `sample(probability=N, collector_set=N, obs_domain=N, obs_point=N)`.
    pub(super) fn parse_sample(&mut self) -> Option<Action> {
        let mut s = Sample {
            probability: 0,
            obs_domain_id: 0,
            collector_set_id: 0,
            obs_point_id: 0,
            use_cookie: false,
        };
        if self.lexer.match_kind(TokenKind::LParen) {
            while !self.lexer.match_kind(TokenKind::RParen) {
                self.parse_sample_arg(&mut s)?;
                self.lexer.match_kind(TokenKind::Comma);
            }
        }
        if s.probability == 0 {
            self.error("probability must be greater than zero");
            return None;
        }
        Some(Action::Sample(s))
    }

    fn parse_sample_arg(&mut self, s: &mut Sample) -> Option<()> {
        let decimal = |p: &Self| p.is_integer_in(&[LexFormat::Decimal]);
        if self.lexer.match_id("probability") {
            if !self.lexer.force_match(TokenKind::Equals) {
                return None;
            }
            if decimal(self) {
                s.probability = self.parse_uint16("probability")?;
            }
        } else if self.lexer.match_id("obs_point") {
            if !self.lexer.force_match(TokenKind::Equals) {
                return None;
            }
            if self.lexer.token.kind == TokenKind::Macro && self.lexer.token.text == "cookie" {
                s.use_cookie = true;
                self.lexer.get();
            } else if decimal(self) {
                s.obs_point_id = self.lexer.token.value as u64 as u32;
                self.lexer.get();
            } else {
                self.syntax_error("malformed sample observation_point_id");
                return None;
            }
        } else if self.lexer.match_id("obs_domain") {
            if !self.lexer.force_match(TokenKind::Equals) {
                return None;
            }
            if decimal(self) {
                let v = self.lexer.token.value as u64 as u32;
                if v > u32::from(u8::MAX) {
                    self.syntax_error("obs_domain must be 8-bit long");
                    return None;
                }
                s.obs_domain_id = v as u8;
            }
            self.lexer.get();
        } else if self.lexer.match_id("collector_set") {
            if !self.lexer.force_match(TokenKind::Equals) {
                return None;
            }
            if decimal(self) {
                s.collector_set_id = self.lexer.token.value as u64 as u32;
            }
            self.lexer.get();
        } else {
            self.syntax_error("unknown argument");
            return None;
        }
        Some(())
    }
}
