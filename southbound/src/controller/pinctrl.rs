//! Packet-in handling (ovn-controller 23.03 `controller/pinctrl.c`), the
//! cheap part: the learning actions `put_arp` and `put_nd`
//! (`pinctrl_handle_put_mac_binding`), which write `MAC_Binding` rows
//! that routers use to resolve next hops.
//!
//! A `controller(userdata=…)` action sends the packet with the action
//! header (`be32 opcode`, 4 pad bytes) as userdata.  For `put_arp(P, A, M)`
//! / `put_nd` the arguments are in the packet's metadata: the datapath key
//! in `metadata`, P's tunnel key in `reg14`, A in `reg0` (`xxreg0` for
//! IPv6), and M in the packet's Ethernet source.
//!
//! Paused actions (`controller(..., pause)`) are continued with
//! [`resume`] after writing their 1-bit result ([`ResultBit`]):
//! `put_dhcp_opts` in [`super::pinctrl_dhcp`], `put_dhcpv6_opts` in
//! [`super::pinctrl_dhcp6`], `dns_lookup` in [`super::pinctrl_dns`],
//! `put_nd_ra_opts` (and `nd_ns`/`nd_na`) in [`super::pinctrl_nd`].
//!
//! ICMP errors, TCP resets, SCTP aborts and `reject` are in
//! [`super::pinctrl_icmp`]; `put_fdb`, `bind_vport` and `trigger_event` in
//! [`super::pinctrl_sb`]; service monitors (`handle_svc_check` and the
//! probes) in [`super::pinctrl_svc`].
//!
//! Not handled yet (the packet is dropped as by a controller without
//! pinctrl): `icmp*.frag_mtu`, `igmp`, `handle_bfd_msg`, `log`,
//! `dhcp6_server`, and pinctrl's other periodic packets (GARP/RARP, RA,
//! IGMP queries, BFD).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::{json, Value};

use super::ops;
use crate::openflow::wire::buf::Property;
use crate::openflow::wire::oxm::field;
use crate::openflow::wire::oxm::OxmField;
use crate::openflow::wire::packet::pin_prop;
use crate::openflow::wire::PacketIn2;
use crate::sbdb::Southbound;

/// `ACTION_OPCODE_PUT_ARP`.
pub const OP_PUT_ARP: u32 = 1;
/// `ACTION_OPCODE_PUT_ND`.
pub const OP_PUT_ND: u32 = 4;

/// A neighbor learned from a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacBindingUpdate {
    /// Datapath tunnel key.
    pub dp_key: i64,
    /// Logical input port tunnel key.
    pub port_key: i64,
    /// The IP.
    pub ip: IpAddr,
    /// The MAC, `xx:xx:xx:xx:xx:xx`.
    pub mac: String,
}

/// The opcode of a packet-in's userdata.
pub fn opcode(pin: &PacketIn2) -> Option<u32> {
    let u = pin.userdata()?;
    Some(u32::from_be_bytes(u.get(..4)?.try_into().ok()?))
}

/// Register `n` (32 bits) from packet-in metadata, given either as
/// `NXM_NX_REGn` or inside the 64-bit `OXM_OF_PKT_REGn/2` (OpenFlow 1.5).
fn reg(md: &[OxmField], n: u8) -> u32 {
    for f in md {
        if f.is(field::reg(n)) {
            if let Ok(b) = <[u8; 4]>::try_from(f.value.as_slice()) {
                return u32::from_be_bytes(b);
            }
        }
        if f.is(field::xreg(n / 2)) {
            if let Ok(b) = <[u8; 8]>::try_from(f.value.as_slice()) {
                let x = u64::from_be_bytes(b);
                return if n.is_multiple_of(2) {
                    (x >> 32) as u32
                } else {
                    x as u32
                };
            }
        }
    }
    0
}

/// `reg14` (the logical input port) of packet-in metadata.
pub(crate) fn reg14(md: &[OxmField]) -> u32 {
    reg(md, 14)
}

fn metadata(md: &[OxmField]) -> u64 {
    md.iter()
        .find(|f| f.is(field::METADATA))
        .and_then(|f| <[u8; 8]>::try_from(f.value.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

fn xxreg0(md: &[OxmField]) -> u128 {
    if let Some(b) = md
        .iter()
        .find(|f| f.is(field::xxreg(0)))
        .and_then(|f| <[u8; 16]>::try_from(f.value.as_slice()).ok())
    {
        return u128::from_be_bytes(b);
    }
    (0..4).fold(0u128, |acc, n| (acc << 32) | u128::from(reg(md, n)))
}

/// Decodes a `put_arp`/`put_nd` packet-in; `None` for other packet-ins
/// or malformed ones.
pub fn parse_put_mac_binding(pin: &PacketIn2) -> Option<MacBindingUpdate> {
    let op = opcode(pin)?;
    if op != OP_PUT_ARP && op != OP_PUT_ND {
        return None;
    }
    let md = pin.metadata().ok()?;
    let pkt = pin.packet()?;
    let src = pkt.get(6..12)?;
    let mac = src
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let ip = if op == OP_PUT_ARP {
        IpAddr::V4(Ipv4Addr::from(reg(&md, 0)))
    } else {
        IpAddr::V6(Ipv6Addr::from(xxreg0(&md)))
    };
    Some(MacBindingUpdate {
        dp_key: metadata(&md) as i64,
        port_key: i64::from(reg(&md, 14)),
        ip,
        mac,
    })
}

/// The SB operation recording `u` (`run_put_mac_binding`): a new
/// `MAC_Binding` row, or the existing row for (port, ip) updated when the
/// MAC changed; `None` when the port is unknown or nothing changes.
pub fn mac_binding_op(sb: &Southbound, u: &MacBindingUpdate, now_ms: i64) -> Option<Value> {
    let dp = sb.datapath_by_key(u.dp_key)?;
    let pb = sb
        .ports_of(&dp.uuid)
        .find(|pb| pb.tunnel_key == u.port_key)?;
    let ip = u.ip.to_string();
    match sb
        .mac_bindings
        .iter()
        .find(|m| m.logical_port == pb.logical_port && m.ip == ip)
    {
        Some(m) if m.mac == u.mac => None,
        Some(m) => Some(ops::update(
            "MAC_Binding",
            &m.uuid,
            json!({"mac": u.mac, "timestamp": now_ms}),
        )),
        None => Some(ops::insert(
            "MAC_Binding",
            "mb",
            json!({"logical_port": pb.logical_port, "ip": ip, "mac": u.mac,
                   "datapath": ops::uuid(&dp.uuid), "timestamp": now_ms}),
        )),
    }
}

/// A 1-bit result destination of a paused action (`reg0[3] =
/// put_dhcp_opts(...)`): the field's OpenFlow 1.5 header and the bit
/// offset at the start of the action's payload, as `nx_put_header` and
/// the 32-bit offset write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultBit {
    /// The 32-bit register (`reg0`..`reg15`) holding the bit.
    pub reg: u8,
    /// The bit within it.
    pub bit: u8,
}

impl ResultBit {
    /// Parses the 8 bytes at the start of `payload`: a register header
    /// (`NXM_NX_REGn`, `OXM_OF_PKT_REGn` for a 64-bit pair, or
    /// `NXM_NX_XXREGn` — what OVN's `reg0[3]` resolves to) and the
    /// offset (`mf_check_dst` in pinctrl: it must lie in the field).
    pub fn parse(payload: &[u8]) -> Option<ResultBit> {
        let header = u32::from_be_bytes(payload.get(..4)?.try_into().ok()?);
        let ofs = u32::from_be_bytes(payload.get(4..8)?.try_into().ok()?);
        let class = (header >> 16) as u16;
        let fno = ((header >> 9) & 0x7f) as u8;
        let len = header & 0xff;
        let has_mask = header & 0x100 != 0;
        if has_mask {
            return None;
        }
        let r = field::reg(0);
        let x = field::xreg(0);
        let xx = field::xxreg(0);
        let (reg, bit) = if class == r.class && fno < 16 && len == 4 && ofs < 32 {
            (fno, ofs)
        } else if class == xx.class
            && (xx.field..xx.field + 4).contains(&fno)
            && len == 16
            && ofs < 128
        {
            // OVN's `reg0` is `xxreg0[96..127]`: bits 96..127 of xxregN
            // are reg(4N), bits 0..31 reg(4N+3).
            let n = fno - xx.field;
            (4 * n + 3 - (ofs / 32) as u8, ofs % 32)
        } else if class == x.class && fno < 8 && len == 8 && ofs < 64 {
            // Bits 32..63 of xregN are reg(2N), bits 0..31 reg(2N+1).
            if ofs >= 32 {
                (2 * fno, ofs - 32)
            } else {
                (2 * fno + 1, ofs)
            }
        } else {
            return None;
        };
        Some(ResultBit {
            reg,
            bit: bit as u8,
        })
    }

    /// `md` with the bit set to `value` (`mf_write_subfield` on the
    /// packet's metadata: the bit becomes part of the match).
    pub fn write(&self, md: &mut Vec<OxmField>, value: bool) {
        let set = |bytes: &mut [u8], bitpos: usize, v: bool| {
            let i = bytes.len() - 1 - bitpos / 8;
            let m = 1u8 << (bitpos % 8);
            if v {
                bytes[i] |= m;
            } else {
                bytes[i] &= !m;
            }
        };
        let bit = usize::from(self.bit);
        if let Some(f) = md.iter_mut().find(|f| f.is(field::reg(self.reg))) {
            set(f.value.as_mut_slice(), bit, value);
            if let Some(m) = f.mask.as_mut() {
                set(m.as_mut_slice(), bit, true);
            }
            return;
        }
        let pos = if self.reg.is_multiple_of(2) {
            bit + 32
        } else {
            bit
        };
        let id = field::xreg(self.reg / 2);
        if let Some(f) = md.iter_mut().find(|f| f.is(id)) {
            set(f.value.as_mut_slice(), pos, value);
            if let Some(m) = f.mask.as_mut() {
                set(m.as_mut_slice(), pos, true);
                if m.iter().all(|&b| b == 0xff) {
                    f.mask = None;
                }
            }
            return;
        }
        let mut v = [0u8; 8];
        let mut m = [0u8; 8];
        set(&mut v, pos, value);
        set(&mut m, pos, true);
        let mut f = OxmField::exact(id, &v);
        f.mask = Some(m.to_vec());
        md.push(f);
    }
}

/// The `NXT_RESUME` continuing a paused packet-in (`ofputil_encode_resume`):
/// the (new) packet, the flow's table, cookie and reason, the metadata
/// (with the action's result written), then the continuation verbatim.
pub fn resume(pin: &PacketIn2, packet: Vec<u8>, md: &[OxmField]) -> Option<PacketIn2> {
    let keep = |ty: u16| pin.properties.iter().find(|p| p.ty == ty).cloned();
    let mut props = vec![Property::new(pin_prop::PACKET, packet)];
    props.extend(keep(pin_prop::TABLE_ID));
    props.extend(keep(pin_prop::COOKIE));
    props.extend(keep(pin_prop::REASON));
    let mut mdb = Vec::new();
    for f in md {
        f.emit(&mut mdb).ok()?;
    }
    props.push(Property::new(pin_prop::METADATA, mdb));
    props.push(keep(pin_prop::CONTINUATION)?);
    Some(PacketIn2 { properties: props })
}

/// Answers a paused packet-in of an action whose userdata is its opcode `op`,
/// four bytes, the result field and then the options (`put_dhcpv6_opts`,
/// `put_nd_ra_opts`): `reply` builds the answer from the packet and the
/// options (`what` names them when they are missing), the result bit says
/// whether there was one, and the packet (answered or not) is resumed.
/// `None` when the packet-in is not one, or cannot be resumed.
pub fn resume_with_options(
    pin: &PacketIn2,
    op: u32,
    what: &str,
    reply: impl FnOnce(&[u8], &[u8]) -> Result<Vec<u8>, String>,
) -> Option<(PacketIn2, Result<(), String>)> {
    let userdata = pin.userdata()?;
    if u32::from_be_bytes(userdata.get(..4)?.try_into().ok()?) != op {
        return None;
    }
    let payload = userdata.get(8..)?;
    let result = ResultBit::parse(payload)?;
    let mut md = pin.metadata().ok()?;
    let packet = pin.packet()?;
    let reply = match payload.get(8..) {
        Some(options) if !options.is_empty() => reply(packet, options),
        _ => Err(format!("{what} not present in the userdata")),
    };
    result.write(&mut md, reply.is_ok());
    let outcome = reply.as_ref().map(|_| ()).map_err(Clone::clone);
    let r = resume(pin, reply.unwrap_or_else(|_| packet.to_vec()), &md)?;
    Some((r, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(op: u32, md: Vec<OxmField>) -> PacketIn2 {
        let mut userdata = op.to_be_bytes().to_vec();
        userdata.extend([0; 4]);
        let mut mdb = Vec::new();
        for f in &md {
            f.emit(&mut mdb).unwrap();
        }
        let mut pkt = vec![0xff; 6];
        pkt.extend([0x50, 0x54, 0, 0, 0, 0x0a]);
        pkt.extend([0x08, 0x06]);
        PacketIn2 {
            properties: vec![
                Property::new(pin_prop::PACKET, pkt),
                Property::new(pin_prop::USERDATA, userdata),
                Property::new(pin_prop::METADATA, mdb),
            ],
        }
    }

    #[test]
    fn put_arp_from_oxm_packet_registers() {
        // reg0 = 10.0.0.5 in xreg0's upper half, reg14 = 3 in xreg7's.
        let md = vec![
            OxmField::exact(field::METADATA, &7u64.to_be_bytes()),
            OxmField::exact(field::xreg(0), &(0x0a00_0005u64 << 32).to_be_bytes()),
            OxmField::exact(field::xreg(7), &(3u64 << 32 | 9).to_be_bytes()),
        ];
        let u = parse_put_mac_binding(&pin(OP_PUT_ARP, md)).unwrap();
        assert_eq!(
            u,
            MacBindingUpdate {
                dp_key: 7,
                port_key: 3,
                ip: "10.0.0.5".parse().unwrap(),
                mac: "50:54:00:00:00:0a".into()
            }
        );
    }

    #[test]
    fn put_nd_from_nxm_registers() {
        let ip: Ipv6Addr = "fd00::1:2".parse().unwrap();
        let v = u128::from(ip);
        let mut md = vec![OxmField::exact(field::METADATA, &1u64.to_be_bytes())];
        for n in 0..4u8 {
            let r = (v >> (96 - 32 * u32::from(n))) as u32;
            md.push(OxmField::exact(field::reg(n), &r.to_be_bytes()));
        }
        md.push(OxmField::exact(field::reg(14), &2u32.to_be_bytes()));
        let u = parse_put_mac_binding(&pin(OP_PUT_ND, md)).unwrap();
        assert_eq!(u.ip, IpAddr::V6(ip));
        assert_eq!(u.port_key, 2);
        assert!(parse_put_mac_binding(&pin(0, vec![])).is_none());
    }

    #[test]
    fn result_bit_in_packed_registers() {
        // reg0[3] (NXM_NX_REG0) with reg1 = 5 in xreg0's lower half
        // (masked), as OVS reports registers to an OpenFlow 1.5 controller.
        let mut payload = 0x0001_0004u32.to_be_bytes().to_vec();
        payload.extend(3u32.to_be_bytes());
        let rb = ResultBit::parse(&payload).unwrap();
        assert_eq!(rb, ResultBit { reg: 0, bit: 3 });
        let mut x = OxmField::exact(field::xreg(0), &5u64.to_be_bytes());
        x.mask = Some(0xffff_ffffu64.to_be_bytes().to_vec());
        let mut md = vec![x];
        rb.write(&mut md, true);
        assert_eq!(md[0].value, (8u64 << 32 | 5).to_be_bytes());
        assert_eq!(
            md[0].mask.as_deref(),
            Some(&(8u64 << 32 | 0xffff_ffff).to_be_bytes()[..])
        );
        assert_eq!(reg(&md, 0), 8);
        // A register OVS did not report: a masked xreg appears.
        let mut md = Vec::new();
        ResultBit { reg: 5, bit: 0 }.write(&mut md, true);
        assert_eq!(reg(&md, 5), 1);
        assert!(md[0].is(field::xreg(2)));
        // `reg0[3]` as OVN encodes it: xxreg0 (NXM_NX_XXREG0), bit 99.
        let mut xx = 0x0001_de10u32.to_be_bytes().to_vec();
        xx.extend(99u32.to_be_bytes());
        assert_eq!(ResultBit::parse(&xx), Some(ResultBit { reg: 0, bit: 3 }));
        let mut xx = 0x0001_de10u32.to_be_bytes().to_vec();
        xx.extend(5u32.to_be_bytes());
        assert_eq!(ResultBit::parse(&xx), Some(ResultBit { reg: 3, bit: 5 }));
        // Out of range or not a register.
        let mut bad = 0x0001_0004u32.to_be_bytes().to_vec();
        bad.extend(32u32.to_be_bytes());
        assert!(ResultBit::parse(&bad).is_none());
        assert!(ResultBit::parse(&[0, 0, 0]).is_none());
    }

    #[test]
    fn resume_keeps_the_continuation() {
        let mut p = pin(2, vec![]);
        p.properties
            .push(Property::new(pin_prop::TABLE_ID, vec![27]));
        p.properties.push(Property::new(
            pin_prop::CONTINUATION,
            vec![0, 0, 0, 0, 1, 2],
        ));
        let r = resume(&p, vec![1, 2, 3], &[]).unwrap();
        let types: Vec<u16> = r.properties.iter().map(|p| p.ty).collect();
        assert_eq!(
            types,
            [
                pin_prop::PACKET,
                pin_prop::TABLE_ID,
                pin_prop::METADATA,
                pin_prop::CONTINUATION
            ]
        );
        assert_eq!(r.packet(), Some(&[1u8, 2, 3][..]));
        assert!(resume(&pin(2, vec![]), vec![], &[]).is_none());
    }
}
