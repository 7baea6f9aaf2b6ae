//! OpenFlow 1.5 wire encoding of [`OfAction`]s, as
//! `ofpacts_put_openflow_actions(..., OFP15_VERSION)` writes them.
//!
//! ovn-controller puts the nested actions of `arp { ... }`, `nd_na { ... }`
//! and similar actions into the userdata of a controller action in this
//! form, and pinctrl decodes them again, so the bytes must match OVS's.

use std::net::IpAddr;

use super::mf::{n_bytes, of15_class_field, Subfield};
use super::ofpact::{Nat, OfAction, NO_METER};
use crate::expr::symtab::Field;
use crate::expr::util::low_bits;

const NX_VENDOR_ID: u32 = 0x0000_2320;
const OFPAT_SET_QUEUE: u16 = 21;
const OFPAT_GROUP: u16 = 22;
const OFPAT_SET_FIELD: u16 = 25;
const OFPAT_COPY_FIELD: u16 = 28;
const OFPAT_METER: u16 = 29;
const NXAST_RESUBMIT_TABLE: u16 = 14;
const NXAST_DEC_TTL_CNT_IDS: u16 = 21;
const NXAST_STACK_PUSH: u16 = 27;
const NXAST_STACK_POP: u16 = 28;
const NXAST_CT: u16 = 35;
const NXAST_NAT: u16 = 36;
const NXAST_CONTROLLER2: u16 = 37;
const NXAST_CLONE: u16 = 42;
const NXAST_CT_CLEAR: u16 = 43;
const NXAST_CHECK_PKT_LARGER: u16 = 49;
const OFPP_IN_PORT: u16 = 0xfff8;

/// An action this encoder cannot write (yet); the action is named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode `{0}' in OpenFlow 1.5")]
pub struct Unsupported(pub String);

/// The 32-bit NXM/OXM header of `field` (`nx_put_header`), for OpenFlow 1.5
/// or, with `v0`, the original NXM header (`nxm_header_from_mff`).
fn header(field: Field, v0: bool, masked: bool) -> u32 {
    let (class, code) = if v0 {
        nxm_v0(field)
    } else {
        of15_class_field(field)
    };
    let len = n_bytes(field) * if masked { 2 } else { 1 };
    (u32::from(class) << 16) | (u32::from(code) << 9) | (u32::from(masked) << 8) | len
}

/// The oldest NXM header class and code of `field`.
fn nxm_v0(field: Field) -> (u16, u8) {
    use Field::*;
    let of = |c| (0x0000, c);
    let nx = |c| (0x0001, c);
    match field {
        EthDst => of(1),
        EthSrc => of(2),
        EthType => of(3),
        VlanTci => of(4),
        IpProto => of(6),
        Ipv4Src => of(7),
        Ipv4Dst => of(8),
        TcpSrc => of(9),
        TcpDst => of(10),
        UdpSrc => of(11),
        UdpDst => of(12),
        Icmpv4Type => of(13),
        Icmpv4Code => of(14),
        ArpOp => of(15),
        ArpSpa => of(16),
        ArpTpa => of(17),
        ArpSha => nx(17),
        ArpTha => nx(18),
        Ipv6Src => nx(19),
        Ipv6Dst => nx(20),
        Icmpv6Type => nx(21),
        Icmpv6Code => nx(22),
        NdTarget => nx(23),
        NdSll => nx(24),
        NdTll => nx(25),
        IpFrag => nx(26),
        Ipv6Label => nx(27),
        IpEcn => nx(28),
        IpTtl => nx(29),
        PktMark => nx(33),
        TcpFlags => nx(34),
        other => of15_class_field(other),
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Writes `value` as the low `n` bytes, big-endian.
fn put_bytes(out: &mut Vec<u8>, value: u128, n: u32) {
    let bytes = value.to_be_bytes();
    out.extend_from_slice(&bytes[16 - n as usize..]);
}

/// Pads the action starting at `start` to a multiple of 8 bytes and fixes
/// its length field (`pad_ofpat`).
fn pad_and_set_len(out: &mut Vec<u8>, start: usize) {
    while !(out.len() - start).is_multiple_of(8) {
        out.push(0);
    }
    let len = (out.len() - start) as u16;
    out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}

fn nx_header(out: &mut Vec<u8>, subtype: u16) -> usize {
    let start = out.len();
    put_u16(out, 0xffff);
    put_u16(out, 0);
    put_u32(out, NX_VENDOR_ID);
    put_u16(out, subtype);
    start
}

fn ofs_nbits(s: &Subfield) -> u16 {
    ((s.ofs << 6) | (s.n_bits.saturating_sub(1) & 0x3f)) as u16
}

fn put_nat(out: &mut Vec<u8>, nat: &Nat) {
    let start = nx_header(out, NXAST_NAT);
    out.extend_from_slice(&[0, 0]);
    let flags: u16 = match nat.src {
        Some(true) => 1,
        Some(false) => 2,
        None => 0,
    };
    put_u16(out, flags);
    let range_at = out.len();
    put_u16(out, 0);
    let mut range = 0u16;
    if let Some(addr) = nat.addr {
        match addr {
            IpAddr::V4(a) if !a.is_unspecified() => {
                out.extend_from_slice(&a.octets());
                range |= 1;
            }
            IpAddr::V6(a) if !a.is_unspecified() => {
                out.extend_from_slice(&a.octets());
                range |= 4;
            }
            _ => {}
        }
        if let Some((min, max)) = nat.ports {
            if min != 0 {
                put_u16(out, min);
                range |= 16;
            }
            if max != 0 {
                put_u16(out, max);
                range |= 32;
            }
        }
    }
    out[range_at..range_at + 2].copy_from_slice(&range.to_be_bytes());
    pad_and_set_len(out, start);
}

/// Appends the OpenFlow 1.5 encoding of `actions` to `out`.
pub fn put_actions(actions: &[OfAction], out: &mut Vec<u8>) -> Result<(), Unsupported> {
    for a in actions {
        put_action(a, out)?;
    }
    Ok(())
}

fn put_action(action: &OfAction, out: &mut Vec<u8>) -> Result<(), Unsupported> {
    match action {
        OfAction::SetField { field, value, mask } => {
            let start = out.len();
            put_u16(out, OFPAT_SET_FIELD);
            put_u16(out, 0);
            let n = n_bytes(*field);
            let masked = *mask & low_bits(n * 8) != low_bits(n * 8);
            put_u32(out, header(*field, false, masked));
            put_bytes(out, *value, n);
            if masked {
                put_bytes(out, *mask, n);
            }
            pad_and_set_len(out, start);
        }
        OfAction::Move { src, dst } => {
            let start = out.len();
            put_u16(out, OFPAT_COPY_FIELD);
            put_u16(out, 0);
            put_u16(out, dst.n_bits as u16);
            put_u16(out, src.ofs as u16);
            put_u16(out, dst.ofs as u16);
            put_u16(out, 0);
            put_u32(out, header(src.field, false, false));
            put_u32(out, header(dst.field, false, false));
            pad_and_set_len(out, start);
        }
        OfAction::Push(s) | OfAction::Pop(s) => {
            let subtype = if matches!(action, OfAction::Push(_)) {
                NXAST_STACK_PUSH
            } else {
                NXAST_STACK_POP
            };
            let start = nx_header(out, subtype);
            put_u16(out, s.ofs as u16);
            put_u32(out, header(s.field, true, false));
            put_u16(out, s.n_bits as u16);
            out.resize(start + 24, 0);
            pad_and_set_len(out, start);
        }
        OfAction::Resubmit(table) => {
            let start = nx_header(out, NXAST_RESUBMIT_TABLE);
            put_u16(out, OFPP_IN_PORT);
            out.push(*table);
            out.extend_from_slice(&[0, 0, 0]);
            pad_and_set_len(out, start);
        }
        OfAction::DecTtl => {
            let start = nx_header(out, NXAST_DEC_TTL_CNT_IDS);
            put_u16(out, 0);
            out.extend_from_slice(&[0; 4]);
            pad_and_set_len(out, start);
        }
        OfAction::Ct {
            commit,
            table,
            zone,
            nat,
            exec,
        } => {
            let start = nx_header(out, NXAST_CT);
            put_u16(out, u16::from(*commit));
            put_u32(out, header(zone.field, true, false));
            put_u16(out, ofs_nbits(zone));
            out.push(table.unwrap_or(255));
            out.extend_from_slice(&[0, 0, 0]);
            put_u16(out, 0);
            if let Some(n) = nat {
                put_nat(out, n);
            }
            put_actions(exec, out)?;
            let len = (out.len() - start) as u16;
            out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
        }
        OfAction::CtClear => {
            let start = nx_header(out, NXAST_CT_CLEAR);
            pad_and_set_len(out, start);
        }
        OfAction::Group(g) => {
            put_u16(out, OFPAT_GROUP);
            put_u16(out, 8);
            put_u32(out, *g);
        }
        OfAction::Meter(m) => {
            put_u16(out, OFPAT_METER);
            put_u16(out, 8);
            put_u32(out, *m);
        }
        OfAction::SetQueue(q) => {
            put_u16(out, OFPAT_SET_QUEUE);
            put_u16(out, 8);
            put_u32(out, *q);
        }
        OfAction::Controller {
            userdata,
            pause,
            meter_id,
        } => {
            let start = nx_header(out, NXAST_CONTROLLER2);
            out.extend_from_slice(&[0; 6]);
            if !userdata.is_empty() {
                put_prop(out, 3, userdata);
            }
            if *pause {
                put_prop(out, 4, &[]);
            }
            if *meter_id != NO_METER {
                put_prop(out, 5, &meter_id.to_be_bytes());
            }
            pad_and_set_len(out, start);
        }
        OfAction::Clone(inner) => {
            let start = nx_header(out, NXAST_CLONE);
            out.extend_from_slice(&[0; 6]);
            put_actions(inner, out)?;
            let len = (out.len() - start) as u16;
            out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
        }
        OfAction::CheckPktLarger { pkt_len, dst } => {
            let start = nx_header(out, NXAST_CHECK_PKT_LARGER);
            put_u16(out, *pkt_len);
            put_u32(out, header(dst.field, true, false));
            put_u16(out, dst.ofs as u16);
            out.resize(start + 24, 0);
            pad_and_set_len(out, start);
        }
        OfAction::Learn(_)
        | OfAction::Sample { .. }
        | OfAction::Output(_)
        | OfAction::Conjunction { .. }
        | OfAction::StripVlan
        | OfAction::PushVlan(_)
        | OfAction::SetVlanVid(_) => {
            return Err(Unsupported(action.to_string()));
        }
    }
    Ok(())
}

/// An OpenFlow property: type, length, data, padded to 8 bytes
/// (`ofpprop_put`).
fn put_prop(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let start = out.len();
    put_u16(out, ty);
    put_u16(out, (4 + data.len()) as u16);
    out.extend_from_slice(data);
    while !(out.len() - start).is_multiple_of(8) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Bytes from OVN's "nd_na" action-parsing vector.
    #[test]
    fn set_field_copy_field_and_resubmit_match_ovs_bytes() {
        let mut out = Vec::new();
        let actions = [
            OfAction::SetField {
                field: Field::EthSrc,
                value: 0x1234_5678_9abc,
                mask: low_bits(48),
            },
            OfAction::Move {
                src: Subfield::whole(Field::Reg(14)),
                dst: Subfield::whole(Field::Reg(15)),
            },
            OfAction::Resubmit(64),
        ];
        put_actions(&actions, &mut out).unwrap();
        assert_eq!(
            hex(&out),
            "00.19.00.10.80.00.08.06.12.34.56.78.9a.bc.00.00.\
             00.1c.00.18.00.20.00.00.00.00.00.00.00.01.1c.04.00.01.1e.04.00.00.00.00.\
             ff.ff.00.10.00.00.23.20.00.0e.ff.f8.40.00.00.00"
        );
    }
}
