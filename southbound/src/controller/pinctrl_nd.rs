//! IPv6 neighbor discovery packet-ins (ovn-controller 23.03 pinctrl):
//!
//! * `nd_ns { ... }` (`pinctrl_handle_nd_ns`): a router without the MAC of
//!   an IPv6 next hop sends the packet; the controller keeps it
//!   ([`super::pinctrl_buffer`]) and sends a neighbor solicitation for the
//!   packet's IPv6 destination (`compose_nd_ns`: from the packet's
//!   Ethernet source and the link-local address made from it, to the
//!   solicited-node multicast group, with a source link-layer option),
//!   running the nested actions;
//! * `nd_na { ... }` / `nd_na_router { ... }` (`pinctrl_handle_nd_na`):
//!   the answer to a neighbor solicitation (`compose_nd_na`: Ethernet
//!   addresses swapped, from the solicited target to the soliciting
//!   address, flags S|O (and R), target link-layer option = the
//!   solicitation's Ethernet destination), running the nested actions;
//! * `reg0[5] = put_nd_ra_opts(...)` (`pinctrl_handle_put_nd_ra_opts`): a
//!   router solicitation is answered in place by the router advertisement
//!   carried in the userdata (the ICMPv6 message, checksum 0), behind the
//!   solicitation's L2/L3 headers, IPv6 payload length and ICMPv6
//!   checksum redone; then the packet is resumed.

use std::net::Ipv6Addr;

use super::pinctrl::resume_with_options;
use super::pinctrl_arp::nested_packet_out;
use crate::openflow::wire::{PacketIn2, PacketOut};

/// `ACTION_OPCODE_ND_NA`.
pub const OP_ND_NA: u32 = 3;
/// `ACTION_OPCODE_ND_NA_ROUTER`.
pub const OP_ND_NA_ROUTER: u32 = 12;
/// `ACTION_OPCODE_ND_NS`.
pub const OP_ND_NS: u32 = 9;
/// `ACTION_OPCODE_PUT_ND_RA_OPTS`.
pub const OP_PUT_ND_RA_OPTS: u32 = 8;

const ICMPV6: u8 = 58;
const ND_ROUTER_SOLICIT: u8 = 133;
const ND_NEIGHBOR_SOLICIT: u8 = 135;
const ND_NEIGHBOR_ADVERT: u8 = 136;
const RSO_ROUTER: u32 = 0x8000_0000;
const RSO_SOLICITED: u32 = 0x4000_0000;
const RSO_OVERRIDE: u32 = 0x2000_0000;

/// The IPv6 part of a packet: offsets and addresses.
struct V6 {
    l3: usize,
    src: [u8; 16],
    dst: [u8; 16],
    next: u8,
}

fn v6(pkt: &[u8]) -> Option<V6> {
    let mut l3 = 14;
    let mut ethertype = u16::from_be_bytes(pkt.get(12..14)?.try_into().ok()?);
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = u16::from_be_bytes(pkt.get(l3 + 2..l3 + 4)?.try_into().ok()?);
        l3 += 4;
    }
    if ethertype != 0x86dd {
        return None;
    }
    Some(V6 {
        l3,
        next: *pkt.get(l3 + 6)?,
        src: pkt.get(l3 + 8..l3 + 24)?.try_into().ok()?,
        dst: pkt.get(l3 + 24..l3 + 40)?.try_into().ok()?,
    })
}

/// The ICMPv6 checksum of `l4` between `src` and `dst`.
fn icmp6_checksum(src: &[u8], dst: &[u8], l4: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |d: &[u8]| {
        for c in d.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(src);
    add(dst);
    add(&(l4.len() as u32).to_be_bytes());
    add(&[0, 0, 0, ICMPV6]);
    add(l4);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ND message (`compose_nd_ns`/`compose_nd_na`): Ethernet, IPv6 (hop
/// limit 255), ICMPv6 type, flags, target and one link-layer option.
#[allow(clippy::too_many_arguments)]
fn compose_nd(
    eth_dst: &[u8],
    eth_src: &[u8],
    ip_src: &[u8; 16],
    ip_dst: &[u8; 16],
    icmp_type: u8,
    flags: u32,
    target: &[u8; 16],
    opt_type: u8,
    opt_mac: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(86);
    p.extend_from_slice(eth_dst);
    p.extend_from_slice(eth_src);
    p.extend_from_slice(&[0x86, 0xdd]);
    p.extend_from_slice(&[0x60, 0, 0, 0, 0, 32, ICMPV6, 255]);
    p.extend_from_slice(ip_src);
    p.extend_from_slice(ip_dst);
    let l4 = p.len();
    p.extend_from_slice(&[icmp_type, 0, 0, 0]);
    p.extend_from_slice(&flags.to_be_bytes());
    p.extend_from_slice(target);
    p.extend_from_slice(&[opt_type, 1]);
    p.extend_from_slice(opt_mac);
    let c = icmp6_checksum(ip_src, ip_dst, &p[l4..]);
    p[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
    p
}

/// The link-local address of a MAC (`in6_generate_lla`).
fn lla(mac: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfe;
    a[1] = 0x80;
    a[8] = mac[0] ^ 0x02;
    a[9] = mac[1];
    a[10] = mac[2];
    a[11] = 0xff;
    a[12] = 0xfe;
    a[13] = mac[3];
    a[14] = mac[4];
    a[15] = mac[5];
    a
}

/// The neighbor solicitation for the IPv6 destination of `pkt`.
pub fn compose_ns(pkt: &[u8]) -> Option<Vec<u8>> {
    let ip = v6(pkt)?;
    let eth_src = pkt.get(6..12)?;
    let mut sn = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 0).octets();
    sn[13..16].copy_from_slice(&ip.dst[13..16]);
    let eth_dst = [0x33, 0x33, sn[12], sn[13], sn[14], sn[15]];
    Some(compose_nd(
        &eth_dst,
        eth_src,
        &lla(eth_src),
        &sn,
        ND_NEIGHBOR_SOLICIT,
        0,
        &ip.dst,
        1,
        eth_src,
    ))
}

/// The neighbor advertisement answering solicitation `pkt`.
pub fn compose_na(pkt: &[u8], router: bool) -> Option<Vec<u8>> {
    let ip = v6(pkt)?;
    let l4 = ip.l3 + 40;
    let icmp_type = *pkt.get(l4)?;
    if ip.next != ICMPV6
        || !(icmp_type == ND_NEIGHBOR_SOLICIT || icmp_type == ND_NEIGHBOR_ADVERT)
        || *pkt.get(l4 + 1)? != 0
    {
        return None;
    }
    let target: [u8; 16] = pkt.get(l4 + 8..l4 + 24)?.try_into().ok()?;
    let (eth_dst, eth_src) = (pkt.get(6..12)?, pkt.get(0..6)?);
    let mut flags = RSO_SOLICITED | RSO_OVERRIDE;
    if router {
        flags |= RSO_ROUTER;
    }
    Some(compose_nd(
        eth_dst,
        eth_src,
        &target,
        &ip.src,
        ND_NEIGHBOR_ADVERT,
        flags,
        &target,
        2,
        eth_src,
    ))
}

/// The packet-out answering an `nd_ns`, `nd_na` or `nd_na_router`
/// packet-in.
pub fn nd_packet_out(pin: &PacketIn2, opcode: u32) -> Option<PacketOut> {
    let pkt = pin.packet()?;
    let data = match opcode {
        OP_ND_NS => compose_ns(pkt)?,
        OP_ND_NA => compose_na(pkt, false)?,
        OP_ND_NA_ROUTER => compose_na(pkt, true)?,
        _ => return None,
    };
    nested_packet_out(pin, data)
}

/// The router advertisement answering solicitation `pkt` with the
/// message `ra` (see the module documentation).
pub fn ra_reply(pkt: &[u8], ra: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "put_nd_ra action on invalid or unsupported packet".to_string();
    let ip = v6(pkt).ok_or_else(bad)?;
    let l4 = ip.l3 + 40;
    if ip.next != ICMPV6
        || pkt.get(l4) != Some(&ND_ROUTER_SOLICIT)
        || pkt.get(l4 + 1) != Some(&0)
        || ra.len() < 4
    {
        return Err(bad());
    }
    let mut out = pkt[..l4].to_vec();
    out.extend_from_slice(ra);
    out[ip.l3 + 4..ip.l3 + 6].copy_from_slice(&(ra.len() as u16).to_be_bytes());
    out[l4 + 2..l4 + 4].copy_from_slice(&[0, 0]);
    let c = icmp6_checksum(&ip.src, &ip.dst, &out[l4..]);
    out[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
    Ok(out)
}

/// The `NXT_RESUME` answering a `put_nd_ra_opts` packet-in and the
/// outcome; `None` when it is not one or cannot be resumed.
pub fn handle_put_nd_ra(pin: &PacketIn2) -> Option<(PacketIn2, Result<(), String>)> {
    resume_with_options(pin, OP_PUT_ND_RA_OPTS, "IPv6 ND RA options", ra_reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0, 0, 0, 0, 0xff, 1, 0x50, 0x54, 0, 0, 0, 1, 0x86, 0xdd];
        p.extend([0x60, 0, 0, 0]);
        p.extend((l4.len() as u16).to_be_bytes());
        p.extend([ICMPV6, 64]);
        p.extend(src.octets());
        p.extend(dst.octets());
        p.extend(l4);
        p
    }

    #[test]
    fn ns_for_the_destination() {
        let pkt = ipv6_packet(
            "fd00::1".parse().unwrap(),
            "fd01::1:2345".parse().unwrap(),
            &[128, 0, 0, 0],
        );
        let ns = compose_ns(&pkt).unwrap();
        assert_eq!(ns.len(), 14 + 40 + 32);
        assert_eq!(&ns[..6], &[0x33, 0x33, 0xff, 0x01, 0x23, 0x45]);
        assert_eq!(&ns[6..12], &pkt[6..12]);
        let sn: Ipv6Addr = "ff02::1:ff01:2345".parse().unwrap();
        assert_eq!(&ns[38..54], &sn.octets());
        assert_eq!(&ns[22..38], &lla(&pkt[6..12]));
        assert_eq!(ns[54], ND_NEIGHBOR_SOLICIT);
        assert_eq!(&ns[62..78], &pkt[38..54]);
        assert_eq!(icmp6_checksum(&ns[22..38], &ns[38..54], &ns[54..]), 0);
    }

    #[test]
    fn na_answers_a_solicitation() {
        let target: Ipv6Addr = "fd00::fe".parse().unwrap();
        let mut l4 = vec![ND_NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0];
        l4.extend(target.octets());
        let pkt = ipv6_packet("fd00::1".parse().unwrap(), target, &l4);
        let na = compose_na(&pkt, true).unwrap();
        assert_eq!(&na[..6], &pkt[6..12]);
        assert_eq!(&na[22..38], &target.octets());
        assert_eq!(na[54], ND_NEIGHBOR_ADVERT);
        assert_eq!(
            &na[58..62],
            &(RSO_ROUTER | RSO_SOLICITED | RSO_OVERRIDE).to_be_bytes()
        );
        assert_eq!(&na[78..80], &[2, 1]);
        assert_eq!(icmp6_checksum(&na[22..38], &na[38..54], &na[54..]), 0);
        assert!(compose_na(&ipv6_packet(target, target, &[128, 0, 0, 0]), false).is_none());
    }

    #[test]
    fn ra_replaces_the_solicitation() {
        let rs = ipv6_packet(
            "fe80::1".parse().unwrap(),
            "ff02::2".parse().unwrap(),
            &[ND_ROUTER_SOLICIT, 0, 0, 0, 0, 0, 0, 0],
        );
        let ra = [134, 0, 0, 0, 255, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];
        let r = ra_reply(&rs, &ra).unwrap();
        assert_eq!(r.len(), 54 + ra.len());
        assert_eq!(&r[18..20], &(ra.len() as u16).to_be_bytes());
        assert_eq!(icmp6_checksum(&r[22..38], &r[38..54], &r[54..]), 0);
        assert!(ra_reply(&r, &ra).is_err(), "not a solicitation");
    }
}
