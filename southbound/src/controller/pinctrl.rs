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
//! Not handled yet (the packet is dropped as by a controller without
//! pinctrl): `arp{}`, `nd_ns{}`, `nd_na{}`, `icmp4{}`/`icmp6{}`, errors and
//! resets, `put_dhcp_opts`/`put_dhcpv6_opts`/`dns_lookup`/`put_nd_ra_opts`/
//! `icmp*.frag_mtu` (paused packets, need `NXT_RESUME`), `put_fdb`,
//! `igmp`, `bind_vport`, `handle_svc_check`, `handle_bfd_msg`,
//! `trigger_event`, `log`, and pinctrl's periodic packets (GARP/RARP, RA,
//! IGMP queries, BFD, service monitors).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::{json, Value};

use super::ops;
use crate::openflow::wire::oxm::field;
use crate::openflow::wire::oxm::OxmField;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openflow::wire::buf::Property;
    use crate::openflow::wire::packet::pin_prop;

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
}
