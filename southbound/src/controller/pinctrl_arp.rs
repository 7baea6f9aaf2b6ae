//! `arp { ... }` (ovn-controller 23.03 `pinctrl_handle_arp`): a router
//! that does not know the MAC of its next hop sends the IPv4 packet to
//! the controller, which answers with a packet-out of an ARP request for
//! the packet's IPv4 destination — Ethernet source and destination and
//! VLAN taken from the packet, `arp.sha`/`arp.spa` = its source,
//! `arp.tpa` = its destination — running the actions nested in the
//! `arp` action (the userdata after the 8-byte header: they set
//! `eth.dst`, `arp.op` and output the request) after reloading the
//! packet's registers and `metadata` (`set_actions_and_enqueue_msg` →
//! `reload_metadata`), with `in_port=CONTROLLER`.
//!
//! The triggering packet is kept until the MAC_Binding appears
//! ([`super::pinctrl_buffer`]).

use crate::openflow::wire::action::parse_actions;
use crate::openflow::wire::mods::NO_BUFFER;
use crate::openflow::wire::oxm::field;
use crate::openflow::wire::{Action, Match, OxmField, PacketIn2, PacketOut, Reader};

/// `ACTION_OPCODE_ARP`.
pub const OP_ARP: u32 = 0;

/// `OFPP_CONTROLLER` (OpenFlow 1.1+).
pub(crate) const OFPP_CONTROLLER: u32 = 0xffff_fffd;

/// The ARP request for an IPv4 packet (`compose_arp__` + the fields
/// `pinctrl_handle_arp` sets): 42 bytes, or 46 with the packet's VLAN.
pub fn compose_arp(pkt: &[u8]) -> Option<Vec<u8>> {
    let (dst, src) = (pkt.get(0..6)?, pkt.get(6..12)?);
    let mut ethertype = u16::from_be_bytes(pkt.get(12..14)?.try_into().ok()?);
    let mut l3 = 14;
    let mut vlan = None;
    if ethertype == 0x8100 {
        vlan = Some(pkt.get(14..16)?.to_vec());
        ethertype = u16::from_be_bytes(pkt.get(16..18)?.try_into().ok()?);
        l3 = 18;
    }
    if ethertype != 0x0800 {
        return None;
    }
    let ip = pkt.get(l3..l3 + 20)?;
    let (nw_src, nw_dst) = (&ip[12..16], &ip[16..20]);
    let mut out = Vec::with_capacity(46);
    out.extend_from_slice(dst);
    out.extend_from_slice(src);
    // Only a VLAN with the CFI/present bit is kept, as in OVS's flow.
    if let Some(tci) = vlan.filter(|t| t[0] & 0x10 != 0) {
        out.extend_from_slice(&[0x81, 0x00]);
        out.extend_from_slice(&tci);
    }
    out.extend_from_slice(&[0x08, 0x06]);
    out.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    out.extend_from_slice(src);
    out.extend_from_slice(nw_src);
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(nw_dst);
    Some(out)
}

/// The packet-in's registers and `metadata` as set-field actions
/// (`reload_metadata`: `reg0`..`reg15`, `metadata`, those present).
pub(crate) fn reload_metadata(md: &[OxmField]) -> Vec<Action> {
    let mut out = Vec::new();
    for n in 0..16u8 {
        let direct = md.iter().find(|f| f.is(field::reg(n)));
        let packed = md.iter().find(|f| f.is(field::xreg(n / 2)));
        let value = match (direct, packed) {
            (Some(f), _) => <[u8; 4]>::try_from(f.value.as_slice()).ok(),
            (None, Some(f)) => <[u8; 8]>::try_from(f.value.as_slice()).ok().map(|b| {
                let x = u64::from_be_bytes(b);
                let half = if n.is_multiple_of(2) {
                    x >> 32
                } else {
                    x & 0xffff_ffff
                };
                (half as u32).to_be_bytes()
            }),
            (None, None) => None,
        };
        if let Some(v) = value.filter(|v| *v != [0; 4] || direct.is_some()) {
            out.push(Action::SetField(OxmField::exact(field::reg(n), &v)));
        }
    }
    if let Some(m) = md.iter().find(|f| f.is(field::METADATA)) {
        out.push(Action::SetField(OxmField::exact(field::METADATA, &m.value)));
    }
    out
}

/// The packet-out answering an `arp` packet-in, or `None` when the
/// packet-in is not one or is malformed.
pub fn arp_packet_out(pin: &PacketIn2) -> Option<PacketOut> {
    let userdata = pin.userdata()?;
    if u32::from_be_bytes(userdata.get(..4)?.try_into().ok()?) != OP_ARP {
        return None;
    }
    nested_packet_out(pin, compose_arp(pin.packet()?)?)
}

/// The packet-out of `data`, a packet derived from the packet-in's
/// (`set_actions_and_enqueue_msg`): the packet-in's registers and
/// `metadata` reloaded, then the nested actions of the userdata (after
/// its 8-byte header), from `in_port=CONTROLLER`.
pub(crate) fn nested_packet_out(pin: &PacketIn2, data: Vec<u8>) -> Option<PacketOut> {
    let userdata = pin.userdata()?;
    let nested = parse_actions(&mut Reader::new(userdata.get(8..)?)).ok()?;
    let mut actions = reload_metadata(&pin.metadata().ok()?);
    actions.extend(nested);
    Some(PacketOut {
        buffer_id: NO_BUFFER,
        of_match: Match {
            fields: vec![OxmField::exact(
                field::IN_PORT,
                &OFPP_CONTROLLER.to_be_bytes(),
            )],
        },
        actions,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_request_for_an_ipv4_packet() {
        let mut pkt = vec![0, 0, 0, 0, 0xff, 1, 0x50, 0x54, 0, 0, 0, 1, 0x08, 0x00];
        let mut ip = vec![0x45, 0, 0, 84, 0, 0, 0x40, 0, 64, 1, 0, 0];
        ip.extend([10, 0, 0, 1, 10, 1, 0, 5]);
        pkt.extend(ip);
        pkt.extend([0; 64]);
        let arp = compose_arp(&pkt).unwrap();
        assert_eq!(arp.len(), 42);
        assert_eq!(&arp[12..14], &[0x08, 0x06]);
        assert_eq!(&arp[20..22], &[0, 1]);
        assert_eq!(&arp[22..28], &pkt[6..12]);
        assert_eq!(&arp[28..32], &[10, 0, 0, 1]);
        assert_eq!(&arp[38..42], &[10, 1, 0, 5]);
        pkt[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert!(compose_arp(&pkt).is_none());
    }
}
