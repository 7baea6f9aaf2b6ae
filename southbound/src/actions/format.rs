//! The canonical text of actions (`ovnacts_format` and the `format_*`
//! functions of `lib/actions.c`, OVN 23.03): what `ovn-trace` and
//! `ovstest test-ovn parse-actions` print, and what parses back to the same
//! actions.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use super::ast::{
    Action, ConstSet, ConstValues, Constant, CtLbFlag, CtNatKind, GenOption, NestKind, Pipeline,
};
use crate::expr::lexer::{format_constant, json_escape};
use crate::expr::parser::FieldRef;
use crate::expr::util::{format_hex, format_ipv4, format_ipv6};

/// `expr_field_format`: `name`, `name[3]` or `name[0..15]`.
pub(crate) fn field_text(f: &FieldRef) -> String {
    let mut s = f.symbol.name.clone();
    if f.ofs != 0 || f.n_bits != f.symbol.width {
        if f.n_bits != 1 {
            let _ = write!(s, "[{}..{}]", f.ofs, f.ofs + f.n_bits - 1);
        } else {
            let _ = write!(s, "[{}]", f.ofs);
        }
    }
    s
}

/// An address as `inet_ntop` prints it.
pub(crate) fn ip_text(addr: &IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => format_ipv4(u32::from(*a)),
        IpAddr::V6(a) => format_ipv6(u128::from(*a)),
    }
}

fn constant_text(c: &Constant) -> String {
    match c {
        Constant::Str(s) => {
            let mut out = String::new();
            json_escape(s, &mut out);
            out
        }
        Constant::Int(i) => format_constant(i.value, i.mask, i.format),
    }
}

/// `expr_constant_set_format`.
fn const_set_text(cs: &ConstSet) -> String {
    let curlies = cs.in_curlies || cs.len() != 1;
    let items: Vec<String> = match &cs.values {
        ConstValues::Ints(v) => v
            .iter()
            .map(|i| format_constant(i.value, i.mask, i.format))
            .collect(),
        ConstValues::Strings(v) => v
            .iter()
            .map(|s| {
                let mut out = String::new();
                json_escape(s, &mut out);
                out
            })
            .collect(),
    };
    let body = items.join(", ");
    if curlies {
        format!("{{{body}}}")
    } else {
        body
    }
}

fn options_text(options: &[GenOption]) -> String {
    options
        .iter()
        .map(|o| format!("{} = {}", o.option.name, const_set_text(&o.value)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn proto_name(proto: u8) -> &'static str {
    match proto {
        17 => "udp",
        132 => "sctp",
        _ => "tcp",
    }
}

/// Formats a list of actions: `drop;` when empty, else each action
/// followed by `;`, separated by spaces.
pub(crate) fn actions_text(actions: &[Action]) -> String {
    if actions.is_empty() {
        return "drop;".to_string();
    }
    actions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn nested(name: &str, actions: &[Action]) -> String {
    format!("{name} {{ {} }};", actions_text(actions))
}

impl fmt::Display for Action {
    /// The action's canonical text, including its trailing `;`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Action::Output => "output;".to_string(),
            Action::Next {
                ltable,
                pipeline,
                src_ltable,
                src_pipeline,
            } => {
                if pipeline != src_pipeline {
                    let p = match pipeline {
                        Pipeline::Ingress => "ingress",
                        Pipeline::Egress => "egress",
                    };
                    format!("next(pipeline={p}, table={ltable});")
                } else if u32::from(*ltable) != u32::from(*src_ltable) + 1 {
                    format!("next({ltable});")
                } else {
                    "next;".to_string()
                }
            }
            Action::Load { dst, value } => {
                format!("{} = {};", field_text(dst), constant_text(value))
            }
            Action::OvnFieldLoad { dst, value } => {
                format!("{} = {};", dst.symbol.name, value.value as u16)
            }
            Action::Move { lhs, rhs } => format!("{} = {};", field_text(lhs), field_text(rhs)),
            Action::Exchange { lhs, rhs } => {
                format!("{} <-> {};", field_text(lhs), field_text(rhs))
            }
            Action::Push(fr) => format!("push({});", field_text(fr)),
            Action::Pop(fr) => format!("pop({});", field_text(fr)),
            Action::DecTtl => "ip.ttl--;".to_string(),
            Action::CtNext { .. } => "ct_next;".to_string(),
            Action::CtCommitV1 {
                ct_mark,
                ct_mark_mask,
                ct_label,
                ct_label_mask,
            } => {
                let mut s = String::from("ct_commit(");
                if *ct_mark_mask != 0 {
                    let _ = write!(s, "ct_mark={}", c_hex(u128::from(*ct_mark)));
                    if *ct_mark_mask != u32::MAX {
                        let _ = write!(s, "/{}", c_hex(u128::from(*ct_mark_mask)));
                    }
                }
                if *ct_label_mask != 0 {
                    if !s.ends_with('(') {
                        s.push_str(", ");
                    }
                    let _ = write!(s, "ct_label={}", format_hex(*ct_label));
                    if *ct_label_mask != u128::MAX {
                        let _ = write!(s, "/{}", format_hex(*ct_label_mask));
                    }
                }
                if s.ends_with('(') {
                    s.pop();
                } else {
                    s.push(')');
                }
                s.push(';');
                s
            }
            Action::CtCommit(actions) => {
                if actions.is_empty() {
                    "ct_commit;".to_string()
                } else {
                    nested("ct_commit", actions)
                }
            }
            Action::CtNat(cn) => {
                if cn.kind == CtNatKind::CommitNat {
                    "ct_commit_nat;".to_string()
                } else {
                    let mut s = cn.kind.name().to_string();
                    if let Some(a) = &cn.addr {
                        let _ = write!(s, "({})", ip_text(a));
                    }
                    if let Some((lo, hi)) = cn.ports {
                        if s.ends_with(')') {
                            s.pop();
                        }
                        let _ = write!(s, ",{lo}");
                        if hi != 0 {
                            let _ = write!(s, "-{hi}");
                        }
                        s.push(')');
                    }
                    s.push(';');
                    s
                }
            }
            Action::CtLb(lb) => {
                let mut s = String::from(if lb.mark { "ct_lb_mark" } else { "ct_lb" });
                if !lb.dsts.is_empty() {
                    s.push_str("(backends=");
                    for (i, d) in lb.dsts.iter().enumerate() {
                        if i > 0 {
                            s.push(',');
                        }
                        match d.addr {
                            IpAddr::V4(_) => {
                                s.push_str(&ip_text(&d.addr));
                                if d.port != 0 {
                                    let _ = write!(s, ":{}", d.port);
                                }
                            }
                            IpAddr::V6(_) if d.port != 0 => {
                                let _ = write!(s, "[{}]:{}", ip_text(&d.addr), d.port);
                            }
                            IpAddr::V6(_) => s.push_str(&ip_text(&d.addr)),
                        }
                    }
                    if let Some(h) = &lb.hash_fields {
                        let _ = write!(s, "; hash_fields=\"{h}\"");
                    }
                    match lb.flag {
                        CtLbFlag::SkipSnat => s.push_str("; skip_snat"),
                        CtLbFlag::ForceSnat => s.push_str("; force_snat"),
                        CtLbFlag::None => {}
                    }
                    s.push(')');
                }
                s.push(';');
                s
            }
            Action::Select { dst, dsts, .. } => {
                let items: Vec<String> = dsts.iter().map(|(id, w)| format!("{id}={w}")).collect();
                format!("{} = select({});", field_text(dst), items.join(", "))
            }
            Action::CtClear => "ct_clear;".to_string(),
            Action::Nested { kind, actions } => nested(kind.name(), actions),
            Action::Igmp => "igmp;".to_string(),
            Action::GetMacBind { nd, port, ip } => format!(
                "{}({}, {});",
                if *nd { "get_nd" } else { "get_arp" },
                field_text(port),
                field_text(ip)
            ),
            Action::PutMacBind { nd, port, ip, mac } => format!(
                "{}({}, {}, {});",
                if *nd { "put_nd" } else { "put_arp" },
                field_text(port),
                field_text(ip),
                field_text(mac)
            ),
            Action::LookupMacBind {
                nd,
                dst,
                port,
                ip,
                mac,
            } => format!(
                "{} = {}({}, {}, {});",
                field_text(dst),
                if *nd { "lookup_nd" } else { "lookup_arp" },
                field_text(port),
                field_text(ip),
                field_text(mac)
            ),
            Action::LookupMacBindIp { nd, dst, port, ip } => format!(
                "{} = {}({}, {});",
                field_text(dst),
                if *nd { "lookup_nd_ip" } else { "lookup_arp_ip" },
                field_text(port),
                field_text(ip)
            ),
            Action::PutOpts { kind, dst, options } => format!(
                "{} = {}({});",
                field_text(dst),
                kind.name(),
                options_text(options)
            ),
            Action::SetQueue(q) => format!("set_queue({q});"),
            Action::Result { kind, dst } => format!("{} = {}();", field_text(dst), kind.name()),
            Action::Log(log) => {
                let mut s = String::from("log(");
                if let Some(n) = &log.name {
                    let _ = write!(s, "name=\"{n}\", ");
                }
                let verdict = match log.verdict {
                    0 => "allow",
                    1 => "drop",
                    2 => "reject",
                    _ => "<unknown>",
                };
                let severity = match log.severity {
                    1 => "alert",
                    4 => "warning",
                    5 => "notice",
                    6 => "info",
                    7 => "debug",
                    _ => "<unknown>",
                };
                let _ = write!(s, "verdict={verdict}, severity={severity}");
                if let Some(m) = &log.meter {
                    let _ = write!(s, ", meter=\"{m}\"");
                }
                s.push_str(");");
                s
            }
            Action::SetMeter { rate, burst } => {
                if *burst != 0 {
                    format!("set_meter({rate}, {burst});")
                } else {
                    format!("set_meter({rate});")
                }
            }
            Action::CheckPktLarger { pkt_len, dst } => {
                format!("{} = check_pkt_larger({pkt_len});", field_text(dst))
            }
            Action::TriggerEvent { options, .. } => {
                let mut s = String::from("trigger_event(event = \"empty_lb_backends\"");
                for o in options {
                    let _ = write!(s, ", {} = {}", o.option.name, const_set_text(&o.value));
                }
                s.push_str(");");
                s
            }
            Action::BindVport { vport, parent } => {
                format!("bind_vport(\"{vport}\", {});", field_text(parent))
            }
            Action::HandleSvcCheck { port } => format!("handle_svc_check({});", field_text(port)),
            Action::FwdGroup {
                liveness,
                child_ports,
                ..
            } => {
                let mut s = String::from("fwd_group(");
                if *liveness {
                    s.push_str("liveness=\"true\", ");
                }
                if !child_ports.is_empty() {
                    s.push_str("childports=");
                    let ports: Vec<String> =
                        child_ports.iter().map(|p| format!("\"{p}\"")).collect();
                    s.push_str(&ports.join(", "));
                }
                s.push_str(");");
                s
            }
            Action::Dhcp6Reply => "handle_dhcpv6_reply;".to_string(),
            Action::CtSnatToVip => "ct_snat_to_vip;".to_string(),
            Action::BfdMsg => "handle_bfd_msg();".to_string(),
            Action::PutFdb { port, mac } => {
                format!("put_fdb({}, {});", field_text(port), field_text(mac))
            }
            Action::GetFdb { dst, mac } => {
                format!("{} = get_fdb({});", field_text(dst), field_text(mac))
            }
            Action::LookupFdb { dst, port, mac } => format!(
                "{} = lookup_fdb({}, {});",
                field_text(dst),
                field_text(port),
                field_text(mac)
            ),
            Action::CommitEcmpNh { ipv6, proto } => format!(
                "commit_ecmp_nh(ipv6 = {ipv6}, proto = {});",
                proto_name(*proto)
            ),
            Action::CommitLbAff(a) => {
                let host = |addr: &IpAddr| match addr {
                    IpAddr::V6(_) => format!("[{}]", ip_text(addr)),
                    IpAddr::V4(_) => ip_text(addr),
                };
                let mut s = format!("commit_lb_aff(vip = \"{}", host(&a.vip));
                if a.vip_port != 0 {
                    let _ = write!(s, ":{}", a.vip_port);
                }
                let _ = write!(s, "\", backend = \"{}", host(&a.backend));
                if a.backend_port != 0 {
                    let _ = write!(s, ":{}", a.backend_port);
                }
                s.push('"');
                if a.proto != 0 {
                    let _ = write!(s, ", proto = {}", proto_name(a.proto));
                }
                let _ = write!(s, ", timeout = {});", a.timeout);
                s
            }
            Action::Sample(x) => {
                let mut s = format!(
                    "sample(probability={},collector_set={},obs_domain={}",
                    x.probability, x.collector_set_id, x.obs_domain_id
                );
                if x.use_cookie {
                    s.push_str(",obs_point=$cookie");
                } else {
                    let _ = write!(s, ",obs_point={}", x.obs_point_id);
                }
                s.push_str(");");
                s
            }
        };
        f.write_str(&s)
    }
}

/// C `printf("%#x")`.
fn c_hex(v: u128) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

impl NestKind {
    /// The prerequisite OVN adds for this nested action, if any.
    pub fn prerequisite(self) -> Option<&'static str> {
        match self {
            NestKind::Clone | NestKind::Reject => None,
            NestKind::Arp | NestKind::Icmp4 | NestKind::Icmp4Error => Some("ip4"),
            NestKind::Icmp6 | NestKind::Icmp6Error | NestKind::NdNs => Some("ip6"),
            NestKind::TcpReset => Some("tcp"),
            NestKind::SctpAbort => Some("sctp"),
            NestKind::NdNa | NestKind::NdNaRouter => Some("nd_ns"),
        }
    }
}
