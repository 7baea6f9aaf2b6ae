//! What actions need to know about OVS meta-flow fields beyond matching:
//! their names in `ovs-ofctl` action syntax, their NXM/OXM names in subfield
//! syntax (`NXM_NX_REG14[]`), how `mf_format` prints their values, and the
//! OpenFlow 1.5 header `nx_put_header` writes for them (OVS 3.1
//! `include/openvswitch/meta-flow.h`).

use std::fmt;

use crate::expr::lexer::format_value;
use crate::expr::symtab::{Field, SymbolKind};
use crate::expr::util::{format_hex, format_ipv4, format_ipv6, format_mac, low_bits};
use crate::expr::LexFormat;

use crate::expr::parser::FieldRef;

/// How `mf_format` prints a field's value (`enum mf_string`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// Decimal (`MFS_DECIMAL`).
    Decimal,
    /// Hexadecimal without leading zeros (`MFS_HEXADECIMAL`).
    Hexadecimal,
    /// Ethernet address.
    Ethernet,
    /// IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
}

/// The OVS name of a field as `set_field:...->NAME` prints it.
pub fn mf_name(field: Field) -> String {
    use Field::*;
    let s = match field {
        Reg(n) => return format!("reg{n}"),
        Xreg(n) => return format!("xreg{n}"),
        Xxreg(n) => return format!("xxreg{n}"),
        Metadata => "metadata",
        PktMark => "pkt_mark",
        CtState => "ct_state",
        CtMark => "ct_mark",
        CtLabel => "ct_label",
        EthSrc => "eth_src",
        EthDst => "eth_dst",
        EthType => "eth_type",
        VlanTci => "vlan_tci",
        IpProto => "nw_proto",
        IpDscpShifted => "ip_dscp",
        IpEcn => "nw_ecn",
        IpTtl => "nw_ttl",
        IpFrag => "ip_frag",
        Ipv4Src => "ip_src",
        Ipv4Dst => "ip_dst",
        Ipv6Src => "ipv6_src",
        Ipv6Dst => "ipv6_dst",
        Ipv6Label => "ipv6_label",
        Icmpv4Type => "icmp_type",
        Icmpv4Code => "icmp_code",
        Icmpv6Type => "icmpv6_type",
        Icmpv6Code => "icmpv6_code",
        ArpOp => "arp_op",
        ArpSpa => "arp_spa",
        ArpTpa => "arp_tpa",
        ArpSha => "arp_sha",
        ArpTha => "arp_tha",
        NdTarget => "nd_target",
        NdSll => "nd_sll",
        NdTll => "nd_tll",
        TcpSrc => "tcp_src",
        TcpDst => "tcp_dst",
        TcpFlags => "tcp_flags",
        UdpSrc => "udp_src",
        UdpDst => "udp_dst",
        SctpSrc => "sctp_src",
        SctpDst => "sctp_dst",
        InPort => "in_port",
        TunId => "tun_id",
        TunMetadata0 => "tun_metadata0",
    };
    s.to_string()
}

/// The field's oldest NXM/OXM name, which `mf_format_subfield` prints
/// (`NXM_OF_ETH_SRC`, `NXM_NX_REG14`, `OXM_OF_PKT_REG4`...).
pub fn nxm_name(field: Field) -> String {
    use Field::*;
    let s = match field {
        Reg(n) => return format!("NXM_NX_REG{n}"),
        Xreg(n) => return format!("OXM_OF_PKT_REG{n}"),
        Xxreg(n) => return format!("NXM_NX_XXREG{n}"),
        Metadata => "OXM_OF_METADATA",
        PktMark => "NXM_NX_PKT_MARK",
        CtState => "NXM_NX_CT_STATE",
        CtMark => "NXM_NX_CT_MARK",
        CtLabel => "NXM_NX_CT_LABEL",
        EthSrc => "NXM_OF_ETH_SRC",
        EthDst => "NXM_OF_ETH_DST",
        EthType => "NXM_OF_ETH_TYPE",
        VlanTci => "NXM_OF_VLAN_TCI",
        IpProto => "NXM_OF_IP_PROTO",
        IpDscpShifted => "OXM_OF_IP_DSCP",
        IpEcn => "NXM_NX_IP_ECN",
        IpTtl => "NXM_NX_IP_TTL",
        IpFrag => "NXM_NX_IP_FRAG",
        Ipv4Src => "NXM_OF_IP_SRC",
        Ipv4Dst => "NXM_OF_IP_DST",
        Ipv6Src => "NXM_NX_IPV6_SRC",
        Ipv6Dst => "NXM_NX_IPV6_DST",
        Ipv6Label => "NXM_NX_IPV6_LABEL",
        Icmpv4Type => "NXM_OF_ICMP_TYPE",
        Icmpv4Code => "NXM_OF_ICMP_CODE",
        Icmpv6Type => "NXM_NX_ICMPV6_TYPE",
        Icmpv6Code => "NXM_NX_ICMPV6_CODE",
        ArpOp => "NXM_OF_ARP_OP",
        ArpSpa => "NXM_OF_ARP_SPA",
        ArpTpa => "NXM_OF_ARP_TPA",
        ArpSha => "NXM_NX_ARP_SHA",
        ArpTha => "NXM_NX_ARP_THA",
        NdTarget => "NXM_NX_ND_TARGET",
        NdSll => "NXM_NX_ND_SLL",
        NdTll => "NXM_NX_ND_TLL",
        TcpSrc => "NXM_OF_TCP_SRC",
        TcpDst => "NXM_OF_TCP_DST",
        TcpFlags => "NXM_NX_TCP_FLAGS",
        UdpSrc => "NXM_OF_UDP_SRC",
        UdpDst => "NXM_OF_UDP_DST",
        SctpSrc => "OXM_OF_SCTP_SRC",
        SctpDst => "OXM_OF_SCTP_DST",
        InPort => "NXM_OF_IN_PORT",
        TunId => "NXM_NX_TUN_ID",
        TunMetadata0 => "NXM_NX_TUN_METADATA0",
    };
    s.to_string()
}

/// How the field's values print (`mf_field.string`).
pub fn value_format(field: Field) -> ValueFormat {
    use Field::*;
    match field {
        EthSrc | EthDst | ArpSha | ArpTha | NdSll | NdTll => ValueFormat::Ethernet,
        Ipv4Src | Ipv4Dst | ArpSpa | ArpTpa => ValueFormat::Ipv4,
        Ipv6Src | Ipv6Dst | NdTarget => ValueFormat::Ipv6,
        IpProto | IpDscpShifted | IpEcn | IpTtl | Icmpv4Type | Icmpv4Code | Icmpv6Type
        | Icmpv6Code | ArpOp | TcpSrc | TcpDst | UdpSrc | UdpDst | SctpSrc | SctpDst => {
            ValueFormat::Decimal
        }
        _ => ValueFormat::Hexadecimal,
    }
}

/// Width of the field's OpenFlow value in bytes (`mf_field.n_bytes`).
pub fn n_bytes(field: Field) -> u32 {
    match field {
        Field::Ipv6Label => 4,
        Field::TcpFlags => 2,
        f => f.n_bits().div_ceil(8),
    }
}

/// The OpenFlow 1.5 match-field header class and field number
/// (`nx_put_header` with `OFP15_VERSION`: the OXM header where OpenFlow
/// defines one, otherwise the Nicira extension).
pub fn of15_class_field(field: Field) -> (u16, u8) {
    use Field::*;
    const NXM_OF: u16 = 0x0000;
    const NXM_NX: u16 = 0x0001;
    const OXM: u16 = 0x8000;
    const PKT_REGS: u16 = 0x8001;
    match field {
        Reg(n) => (NXM_NX, n),
        Xreg(n) => (PKT_REGS, n),
        Xxreg(n) => (NXM_NX, 111 + n),
        Metadata => (OXM, 2),
        PktMark => (NXM_NX, 33),
        CtState => (NXM_NX, 105),
        CtMark => (NXM_NX, 107),
        CtLabel => (NXM_NX, 108),
        EthDst => (OXM, 3),
        EthSrc => (OXM, 4),
        EthType => (OXM, 5),
        VlanTci => (NXM_OF, 4),
        IpDscpShifted => (OXM, 8),
        IpEcn => (OXM, 9),
        IpProto => (OXM, 10),
        Ipv4Src => (OXM, 11),
        Ipv4Dst => (OXM, 12),
        TcpSrc => (OXM, 13),
        TcpDst => (OXM, 14),
        UdpSrc => (OXM, 15),
        UdpDst => (OXM, 16),
        SctpSrc => (OXM, 17),
        SctpDst => (OXM, 18),
        Icmpv4Type => (OXM, 19),
        Icmpv4Code => (OXM, 20),
        ArpOp => (OXM, 21),
        ArpSpa => (OXM, 22),
        ArpTpa => (OXM, 23),
        ArpSha => (OXM, 24),
        ArpTha => (OXM, 25),
        Ipv6Src => (OXM, 26),
        Ipv6Dst => (OXM, 27),
        Ipv6Label => (OXM, 28),
        Icmpv6Type => (OXM, 29),
        Icmpv6Code => (OXM, 30),
        NdTarget => (OXM, 31),
        NdSll => (OXM, 32),
        NdTll => (OXM, 33),
        TcpFlags => (OXM, 42),
        IpTtl => (NXM_NX, 29),
        IpFrag => (NXM_NX, 26),
        InPort => (NXM_OF, 0),
        TunId => (NXM_NX, 16),
        TunMetadata0 => (NXM_NX, 40),
    }
}

/// Bits `[ofs, ofs + n_bits)` of an OpenFlow field (`struct mf_subfield`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subfield {
    /// The field.
    pub field: Field,
    /// Offset of the low bit.
    pub ofs: u32,
    /// Number of bits.
    pub n_bits: u32,
}

impl Subfield {
    /// The whole of `field`.
    pub fn whole(field: Field) -> Subfield {
        Subfield {
            field,
            ofs: 0,
            n_bits: field.n_bits(),
        }
    }

    /// Resolves a logical field reference to the OpenFlow bits it names,
    /// following subfield symbols to their parents (`expr_resolve_field`).
    /// `None` for OVN-only fields, which have no OpenFlow counterpart.
    pub fn resolve(f: &FieldRef) -> Option<Subfield> {
        let mut symbol = f.symbol.as_ref();
        let mut ofs = f.ofs;
        loop {
            match &symbol.kind {
                SymbolKind::Subfield { parent, ofs: p } => {
                    ofs += p;
                    symbol = parent.as_ref();
                }
                SymbolKind::Field(field) => {
                    return Some(Subfield {
                        field: *field,
                        ofs,
                        n_bits: f.n_bits,
                    })
                }
                SymbolKind::String(field) => {
                    return Some(Subfield {
                        field: *field,
                        ofs,
                        n_bits: field.n_bits(),
                    })
                }
                SymbolKind::Predicate(_) | SymbolKind::Ovn(_) => return None,
            }
        }
    }
}

impl fmt::Display for Subfield {
    /// `NXM_NX_REG0[]`, `NXM_NX_XXREG0[96..127]`, `NXM_NX_REG10[7]`
    /// (`mf_format_subfield`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&nxm_name(self.field))?;
        if self.ofs == 0 && self.n_bits == self.field.n_bits() {
            f.write_str("[]")
        } else if self.n_bits == 1 {
            write!(f, "[{}]", self.ofs)
        } else {
            write!(
                f,
                "[{}..{}]",
                self.ofs,
                i64::from(self.ofs) + i64::from(self.n_bits) - 1
            )
        }
    }
}

/// Prints `value` (and `mask`, unless it covers the whole field) as
/// `mf_format` does.
pub fn format_field_value(field: Field, value: u128, mask: u128) -> String {
    let all = low_bits(n_bytes(field) * 8);
    if field == Field::InPort {
        return port_name(value as u16);
    }
    let masked = mask & all != all;
    if masked && mask == 0 {
        return "ANY".to_string();
    }
    match value_format(field) {
        ValueFormat::Hexadecimal => {
            let mut s = format_hex(value);
            if masked {
                s.push('/');
                s.push_str(&format_hex(mask));
            }
            s
        }
        ValueFormat::Decimal => {
            let mut s = String::new();
            format_value(value, LexFormat::Decimal, &mut s);
            if masked {
                s.push('/');
                s.push_str(&format_hex(mask));
            }
            s
        }
        ValueFormat::Ethernet => {
            let mut s = format_mac(value as u64);
            if masked {
                s.push('/');
                s.push_str(&format_mac(mask as u64));
            }
            s
        }
        ValueFormat::Ipv4 => {
            let mut s = format_ipv4(value as u32);
            if masked {
                let m = mask as u32;
                let inv = !m;
                if inv & inv.wrapping_add(1) == 0 {
                    s.push_str(&format!("/{}", m.leading_ones()));
                } else {
                    s.push('/');
                    s.push_str(&format_ipv4(m));
                }
            }
            s
        }
        ValueFormat::Ipv6 => {
            let mut s = format_ipv6(value);
            if masked {
                let inv = !mask;
                if inv & inv.wrapping_add(1) == 0 {
                    s.push_str(&format!("/{}", mask.leading_ones()));
                } else {
                    s.push('/');
                    s.push_str(&format_ipv6(mask));
                }
            }
            s
        }
    }
}

/// An OpenFlow port number as `ofputil_format_port` prints it: reserved
/// ports by name, others in decimal.
pub fn port_name(port: u16) -> String {
    match port {
        0xfff8 => "IN_PORT".into(),
        0xfff9 => "TABLE".into(),
        0xfffa => "NORMAL".into(),
        0xfffb => "FLOOD".into(),
        0xfffc => "ALL".into(),
        0xfffd => "CONTROLLER".into(),
        0xfffe => "LOCAL".into(),
        0xffff => "ANY".into(),
        p => p.to_string(),
    }
}
