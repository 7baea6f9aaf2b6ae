//! [`OfMatch`]'s text form, exactly as `ovs-ofctl` prints a match (OVS
//! 3.1 `match_format`).

use std::fmt::{self, Write as _};

use super::super::util::{
    format_hex, format_ipv4, format_ipv6, format_mac, ipv6_cidr_bits, low_bits,
};
use super::{OfMatch, Slot, IP_DSCP_MASK, IP_ECN_MASK};

fn ct_state_name(bit: u32) -> Option<&'static str> {
    Some(match bit {
        0x01 => "new",
        0x02 => "est",
        0x04 => "rel",
        0x08 => "rpl",
        0x10 => "inv",
        0x20 => "trk",
        0x40 => "snat",
        0x80 => "dnat",
        _ => return None,
    })
}

fn tcp_flag_name(bit: u32) -> Option<&'static str> {
    Some(match bit {
        0x001 => "fin",
        0x002 => "syn",
        0x004 => "rst",
        0x008 => "psh",
        0x010 => "ack",
        0x020 => "urg",
        0x040 => "ece",
        0x080 => "cwr",
        0x100 => "ns",
        0x200 => "[200]",
        0x400 => "[400]",
        0x800 => "[800]",
        _ => return None,
    })
}

/// OVS `format_flags`.
fn format_flags(s: &mut String, name: fn(u32) -> Option<&'static str>, mut flags: u32, del: char) {
    if flags == 0 {
        s.push('0');
        return;
    }
    let mut bad = 0;
    while flags != 0 {
        let bit = flags & flags.wrapping_neg();
        match name(bit) {
            Some(n) => {
                s.push_str(n);
                s.push(del);
            }
            None => bad |= bit,
        }
        flags &= !bit;
    }
    if bad != 0 {
        let _ = write!(s, "{bad:#x}{del}");
    }
    if s.ends_with(del) {
        s.pop();
    }
}

/// OVS `format_flags_masked`.
fn format_flags_masked(
    s: &mut String,
    label: &str,
    name: fn(u32) -> Option<&'static str>,
    flags: u32,
    mut mask: u32,
    max: u32,
) {
    let _ = write!(s, "{label}=");
    if mask == max {
        format_flags(s, name, flags, '|');
        return;
    }
    if mask == 0 {
        s.push_str("0/0");
        return;
    }
    while mask != 0 {
        let bit = mask & mask.wrapping_neg();
        s.push(if flags & bit != 0 { '+' } else { '-' });
        s.push_str(name(bit).unwrap_or("[Unknown]"));
        mask &= !bit;
    }
}

/// C `printf("%#x")`: `0` for zero, else `0x...`.
fn c_hex(v: u128) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

fn fmt_u32(s: &mut String, label: &str, (v, m): (u128, u128)) {
    if m != 0 {
        let _ = write!(s, "{label}={}", c_hex(v));
        if m != 0xffff_ffff {
            let _ = write!(s, "/{}", c_hex(m));
        }
        s.push(',');
    }
}

fn fmt_u64(s: &mut String, label: &str, (v, m): (u128, u128)) {
    if m != 0 {
        let _ = write!(s, "{label}={}", c_hex(v));
        if m != u128::from(u64::MAX) {
            let _ = write!(s, "/{}", c_hex(m));
        }
        s.push(',');
    }
}

fn fmt_be16(s: &mut String, label: &str, (v, m): (u128, u128)) {
    if m != 0 {
        if m == 0xffff {
            let _ = write!(s, "{label}={v},");
        } else {
            let _ = write!(s, "{label}={v:#x}/{m:#x},");
        }
    }
}

fn fmt_eth(s: &mut String, label: &str, (v, m): (u128, u128)) {
    if m != 0 {
        let _ = write!(s, "{label}={}", format_mac(v as u64));
        if m != low_bits(48) {
            let _ = write!(s, "/{}", format_mac(m as u64));
        }
        s.push(',');
    }
}

fn fmt_ip(s: &mut String, label: &str, (v, m): (u128, u128)) {
    if m != 0 {
        let _ = write!(s, "{label}={}", format_ipv4(v as u32));
        let m = m as u32;
        if m != u32::MAX {
            let inv = !m;
            if inv & inv.wrapping_add(1) == 0 {
                let _ = write!(s, "/{}", 32 - m.trailing_zeros());
            } else {
                let _ = write!(s, "/{}", format_ipv4(m));
            }
        }
        s.push(',');
    }
}

fn fmt_ipv6(s: &mut String, label: &str, (v, m): (u128, u128)) {
    if m != 0 {
        let _ = write!(s, "{label}={}", format_ipv6(v));
        if m != u128::MAX {
            match ipv6_cidr_bits(m) {
                Some(bits) => {
                    let _ = write!(s, "/{bits}");
                }
                None => {
                    let _ = write!(s, "/{}", format_ipv6(m));
                }
            }
        }
        s.push(',');
    }
}

impl fmt::Display for OfMatch {
    /// The match as `ovs-ofctl dump-flows` prints it, e.g.
    /// `tcp,reg14=0x1,metadata=0x1,nw_src=10.0.0.1,tp_dst=80`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        let d = self.dense();
        if let Some((v, m)) = d.get(Slot::TunId) {
            let _ = write!(s, "tun_id={}", format_hex(v));
            if m != u128::from(u64::MAX) {
                let _ = write!(s, "/{}", format_hex(m));
            }
            s.push(',');
        }
        fmt_u32(&mut s, "tun_metadata0", d.value(Slot::TunMetadata0));
        fmt_u32(&mut s, "pkt_mark", d.value(Slot::PktMark));
        if let Some((v, _)) = d.get(Slot::ConjId) {
            let _ = write!(s, "conj_id={v},");
        }
        if let Some((v, m)) = d.get(Slot::CtState) {
            if m == 0xff {
                s.push_str("ct_state=");
                format_flags(&mut s, ct_state_name, v as u32, '|');
            } else {
                format_flags_masked(&mut s, "ct_state", ct_state_name, v as u32, m as u32, 0xff);
            }
            s.push(',');
        }
        fmt_u32(&mut s, "ct_mark", d.value(Slot::CtMark));
        if let Some((v, m)) = d.get(Slot::CtLabel) {
            let _ = write!(s, "ct_label={}", format_hex(v));
            if m != u128::MAX {
                let _ = write!(s, "/{}", format_hex(m));
            }
            s.push(',');
        }

        let dl_type = d.get(Slot::DlType).map(|(v, _)| v as u16);
        let nw_proto = d.get(Slot::NwProto).map(|(v, _)| v as u8);
        let mut skip_type = false;
        let mut skip_proto = false;
        if let Some(t) = dl_type {
            skip_type = true;
            let shorthand = |p4: &'static str, p6: &'static str, proto: u8| match proto {
                1 | 58 | 6 | 17 | 132 => Some(if t == 0x800 { p4 } else { p6 }),
                _ => None,
            };
            match t {
                0x800 | 0x86dd => {
                    let (plain, icmp) = if t == 0x800 { ("ip", 1) } else { ("ipv6", 58) };
                    let name = match nw_proto {
                        Some(p) if p == icmp => Some(if t == 0x800 { "icmp" } else { "icmp6" }),
                        Some(6) => shorthand("tcp", "tcp6", 6),
                        Some(17) => shorthand("udp", "udp6", 17),
                        Some(132) => shorthand("sctp", "sctp6", 132),
                        _ => None,
                    };
                    match name {
                        Some(n) => {
                            skip_proto = true;
                            let _ = write!(s, "{n},");
                        }
                        None => {
                            let _ = write!(s, "{plain},");
                        }
                    }
                }
                0x806 => s.push_str("arp,"),
                0x8035 => s.push_str("rarp,"),
                0x8847 => s.push_str("mpls,"),
                0x8848 => s.push_str("mplsm,"),
                _ => skip_type = false,
            }
        }
        for i in 0..16u8 {
            fmt_u32(&mut s, &format!("reg{i}"), d.value(Slot::Reg(i)));
        }
        fmt_u64(&mut s, "metadata", d.value(Slot::Metadata));
        if let Some((port, _)) = d.get(Slot::InPort) {
            let _ = write!(s, "in_port={},", crate::actions::mf::port_name(port as u16));
        }
        if let Some((tci, mask)) = d.get(Slot::VlanTci) {
            let vid_mask = mask & 0x0fff;
            let pcp_mask = mask & 0xe000;
            let cfi = mask & 0x1000;
            if cfi != 0
                && tci & 0x1000 != 0
                && (vid_mask == 0 || vid_mask == 0x0fff)
                && (pcp_mask == 0 || pcp_mask == 0xe000)
                && (vid_mask != 0 || pcp_mask != 0)
            {
                if vid_mask != 0 {
                    let _ = write!(s, "dl_vlan={},", tci & 0x0fff);
                }
                if pcp_mask != 0 {
                    let _ = write!(s, "dl_vlan_pcp={},", tci >> 13);
                }
            } else if mask == 0xffff {
                let _ = write!(s, "vlan_tci=0x{tci:04x},");
            } else {
                let _ = write!(s, "vlan_tci=0x{tci:04x}/0x{mask:04x},");
            }
        }
        fmt_eth(&mut s, "dl_src", d.value(Slot::DlSrc));
        fmt_eth(&mut s, "dl_dst", d.value(Slot::DlDst));
        if let (false, Some(t)) = (skip_type, dl_type) {
            let _ = write!(s, "dl_type=0x{t:04x},");
        }
        let t = dl_type.unwrap_or(0);
        let is_arp = t == 0x806 || t == 0x8035;
        if t == 0x86dd {
            fmt_ipv6(&mut s, "ipv6_src", d.value(Slot::Ipv6Src));
            fmt_ipv6(&mut s, "ipv6_dst", d.value(Slot::Ipv6Dst));
            if let Some((v, m)) = d.get(Slot::Ipv6Label) {
                if m == 0xffff_ffff {
                    let _ = write!(s, "ipv6_label=0x{v:05x},");
                } else {
                    let _ = write!(s, "ipv6_label=0x{v:05x}/0x{m:05x},");
                }
            }
        } else if is_arp {
            fmt_ip(&mut s, "arp_spa", d.value(Slot::NwSrc));
            fmt_ip(&mut s, "arp_tpa", d.value(Slot::NwDst));
        } else {
            fmt_ip(&mut s, "nw_src", d.value(Slot::NwSrc));
            fmt_ip(&mut s, "nw_dst", d.value(Slot::NwDst));
        }
        if let (false, Some(p)) = (skip_proto, nw_proto) {
            let label = if is_arp { "arp_op" } else { "nw_proto" };
            let _ = write!(s, "{label}={p},");
        }
        if is_arp {
            fmt_eth(&mut s, "arp_sha", d.value(Slot::ArpSha));
            fmt_eth(&mut s, "arp_tha", d.value(Slot::ArpTha));
        }
        let (tos, tos_mask) = d.value(Slot::NwTos);
        if tos_mask & IP_DSCP_MASK != 0 {
            let _ = write!(s, "nw_tos={},", tos & IP_DSCP_MASK);
        }
        if tos_mask & IP_ECN_MASK != 0 {
            let _ = write!(s, "nw_ecn={},", tos & IP_ECN_MASK);
        }
        if let Some((ttl, _)) = d.get(Slot::NwTtl) {
            let _ = write!(s, "nw_ttl={ttl},");
        }
        if let Some((frag, m)) = d.get(Slot::NwFrag) {
            let any = frag & 1 != 0;
            let later = frag & 2 != 0;
            let text = match m & 3 {
                3 => Some(match (any, later) {
                    (true, true) => "later",
                    (true, false) => "first",
                    (false, true) => "<error>",
                    (false, false) => "no",
                }),
                1 => Some(if any { "yes" } else { "no" }),
                2 => Some(if later { "later" } else { "not_later" }),
                _ => None,
            };
            if let Some(text) = text {
                let _ = write!(s, "nw_frag={text},");
            }
        }
        let proto = nw_proto.unwrap_or(0);
        if t == 0x800 && proto == 1 {
            fmt_be16(&mut s, "icmp_type", d.value(Slot::TpSrc));
            fmt_be16(&mut s, "icmp_code", d.value(Slot::TpDst));
        } else if t == 0x86dd && proto == 58 {
            fmt_be16(&mut s, "icmp_type", d.value(Slot::TpSrc));
            fmt_be16(&mut s, "icmp_code", d.value(Slot::TpDst));
            fmt_ipv6(&mut s, "nd_target", d.value(Slot::NdTarget));
            fmt_eth(&mut s, "nd_sll", d.value(Slot::ArpSha));
            fmt_eth(&mut s, "nd_tll", d.value(Slot::ArpTha));
        } else {
            fmt_be16(&mut s, "tp_src", d.value(Slot::TpSrc));
            fmt_be16(&mut s, "tp_dst", d.value(Slot::TpDst));
        }
        if (t == 0x800 || t == 0x86dd) && proto == 6 {
            if let Some((v, m)) = d.get(Slot::TcpFlags) {
                format_flags_masked(
                    &mut s,
                    "tcp_flags",
                    tcp_flag_name,
                    v as u32,
                    (m & 0xfff) as u32,
                    0xfff,
                );
                s.push(',');
            }
        }
        if s.ends_with(',') {
            s.pop();
        }
        f.write_str(&s)
    }
}
