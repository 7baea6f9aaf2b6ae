//! ICMP errors, TCP resets and SCTP aborts (ovn-controller 23.03
//! `pinctrl_handle_icmp`, `pinctrl_handle_tcp_reset`,
//! `pinctrl_handle_sctp_abort`, `pinctrl_handle_reject`).
//!
//! The actions `icmp4 {...}`, `icmp4_error {...}`, `icmp6 {...}`,
//! `icmp6_error {...}`, `tcp_reset {...}`, `sctp_abort {...}` and
//! `reject {...}` send the offending packet to the controller with the
//! nested actions as userdata (`encode_nested_actions`, not paused).
//! pinctrl builds a new packet from its headers and sends it back as a
//! packet-out running the packet's registers reloaded and then the nested
//! actions, like `arp {}` ([`super::pinctrl_arp::nested_packet_out`]):
//!
//! * ICMP: destination unreachable (v4 type 3, v6 type 1), code 1 (host
//!   unreachable / administratively prohibited), or port unreachable
//!   (v4 code 3, v6 code 4) for a UDP packet under `icmp4`/`icmp6` and
//!   `reject`; the body is as much of the offending IP packet as fits in
//!   576 (IPv4) or 1280 (IPv6) bytes; TTL/hop limit 255; the packet's VLAN
//!   is kept;
//! * TCP: a RST+ACK with the ports swapped, sequence 0, acknowledging the
//!   offending sequence number + 1; TTL 63;
//! * SCTP: an ABORT chunk with the ports swapped, the verification tag of
//!   an INIT's `initiate_tag` (RFC 4960 8.4 item 3) or else reflected with
//!   the T flag (item 8); TTL 63;
//! * `reject` picks by protocol and answers from the destination to the
//!   source (`loopback`: Ethernet and IP addresses swapped), and never
//!   answers a TCP RST or an ICMP destination unreachable.
//!
//! IPv4 headers are pinctrl's: DF set, TOS 0, id 0.

use super::pinctrl::opcode;
use super::pinctrl_arp::nested_packet_out;
use crate::openflow::wire::{PacketIn2, PacketOut};

/// `ACTION_OPCODE_ICMP` (`icmp4 {}` and `icmp6 {}`).
pub const OP_ICMP: u32 = 10;
/// `ACTION_OPCODE_TCP_RESET`.
pub const OP_TCP_RESET: u32 = 11;
/// `ACTION_OPCODE_ICMP4_ERROR`.
pub const OP_ICMP4_ERROR: u32 = 14;
/// `ACTION_OPCODE_ICMP6_ERROR`.
pub const OP_ICMP6_ERROR: u32 = 20;
/// `ACTION_OPCODE_REJECT`.
pub const OP_REJECT: u32 = 22;
/// `ACTION_OPCODE_SCTP_ABORT`.
pub const OP_SCTP_ABORT: u32 = 24;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const PROTO_SCTP: u8 = 132;

/// Whether `op` is one of this module's opcodes.
pub fn handles(op: u32) -> bool {
    matches!(
        op,
        OP_ICMP | OP_TCP_RESET | OP_ICMP4_ERROR | OP_ICMP6_ERROR | OP_REJECT | OP_SCTP_ABORT
    )
}

/// The L3 addresses of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addrs {
    /// IPv4 source and destination.
    V4([u8; 4], [u8; 4]),
    /// IPv6 source and destination.
    V6([u8; 16], [u8; 16]),
}

/// The headers pinctrl reads (`flow_extract`), with the offsets of the
/// L3 and L4 headers in the packet.
#[derive(Debug, Clone)]
struct Headers {
    dl_dst: [u8; 6],
    dl_src: [u8; 6],
    /// The first 802.1Q TCI, if the packet has one.
    tci: Option<[u8; 2]>,
    addrs: Addrs,
    nw_proto: u8,
    l3: usize,
    /// Where the L4 header starts, if the packet is not a later fragment.
    l4: Option<usize>,
}

fn mac(b: &[u8]) -> [u8; 6] {
    let mut m = [0; 6];
    m.copy_from_slice(&b[..6]);
    m
}

fn be16(pkt: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(pkt.get(at..at + 2)?.try_into().ok()?))
}

impl Headers {
    fn parse(pkt: &[u8]) -> Option<Headers> {
        let (dl_dst, dl_src) = (mac(pkt.get(0..6)?), mac(pkt.get(6..12)?));
        let mut ethertype = be16(pkt, 12)?;
        let mut l3 = 14;
        let mut tci = None;
        while ethertype == 0x8100 || ethertype == 0x88a8 {
            if tci.is_none() {
                tci = Some(pkt.get(l3..l3 + 2)?.try_into().ok()?);
            }
            ethertype = be16(pkt, l3 + 2)?;
            l3 += 4;
        }
        match ethertype {
            0x0800 => {
                let ip = pkt.get(l3..l3 + 20)?;
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                let later_frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0;
                Some(Headers {
                    dl_dst,
                    dl_src,
                    tci,
                    addrs: Addrs::V4(ip[12..16].try_into().ok()?, ip[16..20].try_into().ok()?),
                    nw_proto: ip[9],
                    l3,
                    l4: (!later_frag && ihl >= 20).then_some(l3 + ihl),
                })
            }
            0x86dd => {
                let ip = pkt.get(l3..l3 + 40)?;
                let mut next = ip[6];
                let mut at = l3 + 40;
                let mut later_frag = false;
                // Extension headers, as flow_extract skips them.
                loop {
                    match next {
                        0 | 43 | 60 => {
                            let h = pkt.get(at..at + 2)?;
                            next = h[0];
                            at += (usize::from(h[1]) + 1) * 8;
                        }
                        44 => {
                            let h = pkt.get(at..at + 8)?;
                            next = h[0];
                            later_frag = u16::from_be_bytes([h[2], h[3]]) & 0xfff8 != 0;
                            at += 8;
                        }
                        _ => break,
                    }
                }
                Some(Headers {
                    dl_dst,
                    dl_src,
                    tci,
                    addrs: Addrs::V6(ip[8..24].try_into().ok()?, ip[24..40].try_into().ok()?),
                    nw_proto: next,
                    l3,
                    l4: (!later_frag).then_some(at),
                })
            }
            _ => None,
        }
    }

    /// Source and destination transport ports.
    fn ports(&self, pkt: &[u8]) -> Option<(u16, u16)> {
        let l4 = self.l4?;
        Some((be16(pkt, l4)?, be16(pkt, l4 + 2)?))
    }
}

fn sum16(data: &[u8], mut sum: u32) -> u32 {
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The checksum of an L4 segment `l4` behind `addrs` (with the pseudo
/// header) or, for ICMPv4, of the segment alone.
fn l4_checksum(addrs: &Addrs, proto: u8, l4: &[u8]) -> u16 {
    let pseudo = match addrs {
        Addrs::V4(s, d) if proto != PROTO_ICMP => sum16(
            &[0, proto],
            sum16(&(l4.len() as u16).to_be_bytes(), sum16(d, sum16(s, 0))),
        ),
        Addrs::V4(..) => 0,
        Addrs::V6(s, d) => sum16(
            &[0, proto],
            sum16(&(l4.len() as u16).to_be_bytes(), sum16(d, sum16(s, 0))),
        ),
    };
    fold(sum16(l4, pseudo))
}

/// An Ethernet + IP packet (`pinctrl_compose_ipv4`/`_ipv6`) carrying
/// `l4`, whose checksum (at `csum_at`, if any) is filled in.
pub(crate) fn compose(
    eth_src: [u8; 6],
    eth_dst: [u8; 6],
    addrs: Addrs,
    proto: u8,
    ttl: u8,
    mut l4: Vec<u8>,
    csum_at: Option<usize>,
) -> Vec<u8> {
    if let Some(at) = csum_at {
        let c = l4_checksum(&addrs, proto, &l4);
        l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    let mut out = Vec::with_capacity(14 + 40 + l4.len());
    out.extend_from_slice(&eth_dst);
    out.extend_from_slice(&eth_src);
    match addrs {
        Addrs::V4(s, d) => {
            out.extend_from_slice(&[0x08, 0x00]);
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0x40, 0, ttl, proto, 0, 0]);
            ip.extend_from_slice(&s);
            ip.extend_from_slice(&d);
            let c = fold(sum16(&ip, 0));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            out.extend_from_slice(&ip);
        }
        Addrs::V6(s, d) => {
            out.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
            out.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            out.extend_from_slice(&[proto, ttl]);
            out.extend_from_slice(&s);
            out.extend_from_slice(&d);
        }
    }
    out.extend_from_slice(&l4);
    out
}

/// Source and destination (Ethernet, IP) of the answer: the offending
/// packet's, or swapped with `loopback`.
fn endpoints(h: &Headers, loopback: bool) -> ([u8; 6], [u8; 6], Addrs) {
    match (loopback, h.addrs) {
        (false, a) => (h.dl_src, h.dl_dst, a),
        (true, Addrs::V4(s, d)) => (h.dl_dst, h.dl_src, Addrs::V4(d, s)),
        (true, Addrs::V6(s, d)) => (h.dl_dst, h.dl_src, Addrs::V6(d, s)),
    }
}

/// The ICMP destination unreachable for `pkt` (`pinctrl_handle_icmp`).
/// `port_code`: a UDP packet gets "port unreachable".
fn icmp(pkt: &[u8], h: &Headers, port_code: bool, loopback: bool) -> Option<Vec<u8>> {
    let (src, dst, addrs) = endpoints(h, loopback);
    let udp = port_code && h.nw_proto == PROTO_UDP;
    let mut out = match addrs {
        Addrs::V4(..) => {
            let tot = usize::from(be16(pkt, h.l3 + 2)?);
            if tot < 20 {
                return None;
            }
            // RFC 1122 3.2.2: as much as fits in 576 bytes.
            let len = tot.min(576 - (14 + 20 + 8));
            let body = pkt.get(h.l3..(h.l3 + len).min(pkt.len()))?;
            let mut l4 = vec![3, if udp { 3 } else { 1 }, 0, 0, 0, 0, 0, 0];
            l4.extend_from_slice(body);
            l4.resize(8 + len, 0);
            compose(src, dst, addrs, PROTO_ICMP, 255, l4, Some(2))
        }
        Addrs::V6(..) => {
            let len = 40 + usize::from(be16(pkt, h.l3 + 4)?);
            // RFC 4443 3.1: as much as fits in the minimum IPv6 MTU.
            let len = len.min(1280 - (14 + 40 + 8));
            let body = pkt.get(h.l3..(h.l3 + len).min(pkt.len()))?;
            let mut l4 = vec![1, if udp { 4 } else { 1 }, 0, 0, 0, 0, 0, 0];
            l4.extend_from_slice(body);
            l4.resize(8 + len, 0);
            compose(src, dst, addrs, PROTO_ICMPV6, 255, l4, Some(2))
        }
    };
    if let Some(tci) = h.tci {
        let t = u16::from_be_bytes(tci) & !0x1000;
        out.splice(12..12, [0x81, 0x00, (t >> 8) as u8, t as u8]);
    }
    Some(out)
}

/// The TCP RST+ACK answering `pkt` (`pinctrl_handle_tcp_reset`).
fn tcp_reset(pkt: &[u8], h: &Headers, loopback: bool) -> Option<Vec<u8>> {
    if h.nw_proto != PROTO_TCP {
        return None;
    }
    let (sport, dport) = h.ports(pkt).unwrap_or((0, 0));
    let seq =
        h.l4.and_then(|l4| pkt.get(l4 + 4..l4 + 8))
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let (src, dst, addrs) = endpoints(h, loopback);
    let mut l4 = Vec::with_capacity(20);
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&[0; 4]);
    l4.extend_from_slice(&seq.wrapping_add(1).to_be_bytes());
    // Data offset 5, RST | ACK; window, checksum, urgent pointer 0.
    l4.extend_from_slice(&[0x50, 0x14, 0, 0, 0, 0, 0, 0]);
    Some(compose(src, dst, addrs, PROTO_TCP, 63, l4, Some(16)))
}

/// CRC32c (Castagnoli), as SCTP uses it.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The SCTP ABORT answering `pkt` (`pinctrl_handle_sctp_abort`); `None`
/// for an ABORT, a packet without chunks or an incomplete INIT.
fn sctp_abort(pkt: &[u8], h: &Headers, loopback: bool) -> Option<Vec<u8>> {
    const CHUNK_INIT: u8 = 1;
    const CHUNK_ABORT: u8 = 6;
    if h.nw_proto != PROTO_SCTP {
        return None;
    }
    let l4 = h.l4?;
    let sh = pkt.get(l4..l4 + 12)?;
    let chunk = pkt.get(l4 + 12..l4 + 16)?;
    if chunk[0] == CHUNK_ABORT {
        return None;
    }
    let init_tag = if chunk[0] == CHUNK_INIT {
        // The INIT chunk's fixed part (16 bytes) must be there.
        let init = pkt.get(l4 + 16..l4 + 32)?;
        Some(&init[..4])
    } else {
        None
    };
    let vtag = &sh[4..8];
    let (tag, reflected) = match init_tag {
        Some(t) if vtag == [0; 4] => (t, false),
        _ => (vtag, true),
    };
    let (src, dst, addrs) = endpoints(h, loopback);
    let mut seg = Vec::with_capacity(16);
    seg.extend_from_slice(&sh[2..4]);
    seg.extend_from_slice(&sh[0..2]);
    seg.extend_from_slice(tag);
    seg.extend_from_slice(&[0; 4]);
    seg.extend_from_slice(&[CHUNK_ABORT, u8::from(reflected), 0, 4]);
    let c = crc32c(&seg);
    seg[8..12].copy_from_slice(&c.to_le_bytes());
    Some(compose(src, dst, addrs, PROTO_SCTP, 63, seg, None))
}

/// Whether `reject` leaves `pkt` unanswered: a TCP RST, an ICMP
/// destination unreachable, or a segment without its header
/// (`pinctrl_handle_reject_ignore_pkt`).
fn reject_ignores(pkt: &[u8], h: &Headers) -> bool {
    let at = |off: usize| h.l4.and_then(|l4| pkt.get(l4 + off).copied());
    match (h.nw_proto, h.addrs) {
        (PROTO_TCP, _) => at(13).is_none_or(|flags| flags & 0x04 != 0),
        (PROTO_ICMP, Addrs::V4(..)) => at(0).is_none_or(|t| t == 3),
        (PROTO_ICMPV6, Addrs::V6(..)) => at(0).is_none_or(|t| t == 1),
        _ => false,
    }
}

/// The packet pinctrl builds for opcode `op` from the offending `pkt`,
/// or `None` when it sends nothing.
pub fn answer(op: u32, pkt: &[u8]) -> Option<Vec<u8>> {
    let h = Headers::parse(pkt)?;
    match op {
        OP_ICMP => icmp(pkt, &h, true, false),
        OP_ICMP4_ERROR | OP_ICMP6_ERROR => icmp(pkt, &h, false, false),
        OP_TCP_RESET => tcp_reset(pkt, &h, false),
        OP_SCTP_ABORT => sctp_abort(pkt, &h, false),
        OP_REJECT if reject_ignores(pkt, &h) => None,
        OP_REJECT => match h.nw_proto {
            PROTO_TCP => tcp_reset(pkt, &h, true),
            PROTO_SCTP => sctp_abort(pkt, &h, true),
            _ => icmp(pkt, &h, true, true),
        },
        _ => None,
    }
}

/// The packet-out answering an ICMP/reset/abort/reject packet-in, or
/// `None` when it is not one or nothing is sent.
pub fn packet_out(pin: &PacketIn2) -> Option<PacketOut> {
    let op = opcode(pin)?;
    if !handles(op) {
        return None;
    }
    nested_packet_out(pin, answer(op, pin.packet()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [0x50, 0x54, 0, 0, 0, 1];
    const B: [u8; 6] = [0, 0, 0, 0, 0xff, 1];

    fn ip4(proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = B.to_vec();
        f.extend(A);
        f.extend([0x08, 0x00, 0x45, 0]);
        f.extend(((20 + l4.len()) as u16).to_be_bytes());
        f.extend([0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 254]);
        f.extend(l4);
        f
    }

    fn verify(f: &[u8]) {
        // IPv4 header and L4 checksums add up.
        assert_eq!(fold(sum16(&f[14..34], 0)), 0);
        let h = Headers::parse(f).unwrap();
        let l4 = &f[h.l4.unwrap()..];
        if h.nw_proto != PROTO_SCTP {
            assert_eq!(l4_checksum(&h.addrs, h.nw_proto, l4), 0, "{f:02x?}");
        }
    }

    #[test]
    fn tcp_rst_for_a_syn() {
        let mut syn = vec![0x9c, 0x40, 0, 80, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x02];
        syn.extend([0xff, 0xff, 0, 0, 0, 0]);
        let f = answer(OP_TCP_RESET, &ip4(PROTO_TCP, &syn)).unwrap();
        assert_eq!(f.len(), 54);
        assert_eq!(&f[0..6], &B, "to the packet's destination");
        assert_eq!(&f[14..24], &[0x45, 0, 0, 40, 0, 0, 0x40, 0, 63, 6]);
        assert_eq!(&f[26..34], &[10, 0, 0, 1, 10, 0, 0, 254]);
        assert_eq!(&f[34..38], &[0, 80, 0x9c, 0x40]);
        assert_eq!(&f[38..46], &[0, 0, 0, 0, 0, 0, 0x10, 1]);
        assert_eq!(&f[46..48], &[0x50, 0x14]);
        verify(&f);
        // reject: swapped, and a RST is not answered.
        let r = answer(OP_REJECT, &ip4(PROTO_TCP, &syn)).unwrap();
        assert_eq!(&r[0..12], &[A, B].concat());
        assert_eq!(&r[26..34], &[10, 0, 0, 254, 10, 0, 0, 1]);
        verify(&r);
        syn[13] = 0x04;
        assert!(answer(OP_REJECT, &ip4(PROTO_TCP, &syn)).is_none());
    }

    #[test]
    fn icmp_unreachable_carries_the_packet() {
        let udp = [0x9c, 0x40, 0, 9, 0, 12, 0, 0, 1, 2, 3, 4];
        let pkt = ip4(PROTO_UDP, &udp);
        let f = answer(OP_ICMP, &pkt).unwrap();
        assert_eq!(f.len(), 14 + 20 + 8 + 32);
        assert_eq!(f[23], PROTO_ICMP);
        assert_eq!(f[22], 255);
        assert_eq!(&f[34..36], &[3, 3], "port unreachable for UDP");
        assert_eq!(&f[42..], &pkt[14..]);
        verify(&f);
        let e = answer(OP_ICMP4_ERROR, &pkt).unwrap();
        assert_eq!(&e[34..36], &[3, 1]);
        verify(&e);
        // An ICMP unreachable is not rejected again.
        assert!(answer(OP_REJECT, &ip4(PROTO_ICMP, &f[34..])).is_none());
        // A big packet is cut at 576 bytes.
        let big = ip4(PROTO_UDP, &[0; 1000]);
        assert_eq!(answer(OP_ICMP, &big).unwrap().len(), 576);
    }

    #[test]
    fn icmp6_and_vlan() {
        let mut f = B.to_vec();
        f.extend(A);
        f.extend([
            0x81, 0x00, 0x10, 0x07, 0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 17, 64,
        ]);
        f.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend([0x9c, 0x40, 0, 9, 0, 8, 0, 0]);
        let r = answer(OP_REJECT, &f).unwrap();
        assert_eq!(&r[12..18], &[0x81, 0x00, 0x00, 0x07, 0x86, 0xdd]);
        assert_eq!(r[18 + 6], PROTO_ICMPV6);
        assert_eq!(r[18 + 7], 255);
        assert_eq!(&r[18 + 8..18 + 24], &f[18 + 24..18 + 40], "loopback");
        assert_eq!(&r[58..60], &[1, 4]);
        assert_eq!(&r[66..], &f[18..]);
        let l4 = &r[58..];
        let h = Headers::parse(&r).unwrap();
        assert_eq!(l4_checksum(&h.addrs, 58, l4), 0);
    }

    #[test]
    fn sctp_abort_tags() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        // An INIT with vtag 0: the abort carries the initiate tag, no T.
        let mut init = vec![0x13, 0x88, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0];
        init.extend([1, 0, 0, 20, 0xaa, 0xbb, 0xcc, 0xdd]);
        init.extend([0; 12]);
        let f = answer(OP_SCTP_ABORT, &ip4(PROTO_SCTP, &init)).unwrap();
        assert_eq!(f.len(), 14 + 20 + 16);
        assert_eq!(&f[34..42], &[0, 80, 0x13, 0x88, 0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(&f[46..50], &[6, 0, 0, 4]);
        let mut seg = f[34..].to_vec();
        let c = u32::from_le_bytes(seg[8..12].try_into().unwrap());
        seg[8..12].fill(0);
        assert_eq!(crc32c(&seg), c);
        // A DATA chunk: the tag is reflected with T.
        init[4..8].copy_from_slice(&[1, 2, 3, 4]);
        init[12] = 0;
        let f = answer(OP_REJECT, &ip4(PROTO_SCTP, &init)).unwrap();
        assert_eq!(&f[38..42], &[1, 2, 3, 4]);
        assert_eq!(&f[46..50], &[6, 1, 0, 4]);
        // An ABORT is not answered.
        init[12] = 6;
        assert!(answer(OP_SCTP_ABORT, &ip4(PROTO_SCTP, &init)).is_none());
    }
}
