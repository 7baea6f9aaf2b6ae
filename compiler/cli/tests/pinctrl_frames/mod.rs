//! Requests that make ovn-controller's pinctrl answer, as raw Ethernet
//! frames sent on a pod's `eth0` (AF_PACKET), and the first answer that
//! comes back: the controller under test must answer byte for byte like
//! real ovn-controller.  Addresses are those of `controller_pinctrl.rs`'s
//! topology (pod MAC 50:54:00:00:00:01, 10.0.0.1, router 00:00:00:00:ff:01,
//! 10.0.0.254, fd00::fe).

#![allow(dead_code)]

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::chassis::{in_ns, raw_socket};

/// The pod's MAC.
pub const POD_MAC: [u8; 6] = [0x50, 0x54, 0, 0, 0, 1];
/// The router port's MAC.
pub const ROUTER_MAC: [u8; 6] = [0, 0, 0, 0, 0xff, 1];

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

/// The pod's link-local address.
pub fn pod_lla() -> [u8; 16] {
    let m = POD_MAC;
    [
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 2,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ]
}

fn ipv4_udp(
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = dst_mac.to_vec();
    f.extend(POD_MAC);
    f.extend([0x08, 0x00]);
    let tot = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend(tot.to_be_bytes());
    ip.extend([0, 1, 0, 0, 64, 17, 0, 0]);
    ip.extend(src);
    ip.extend(dst);
    let c = fold(sum16(&ip, 0));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend(ip);
    f.extend(sport.to_be_bytes());
    f.extend(dport.to_be_bytes());
    f.extend(((8 + payload.len()) as u16).to_be_bytes());
    f.extend([0, 0]);
    f.extend(payload);
    f
}

fn ipv6(
    dst_mac: [u8; 6],
    src: [u8; 16],
    dst: [u8; 16],
    next: u8,
    l4: &mut [u8],
    csum_at: usize,
) -> Vec<u8> {
    let mut pseudo = sum16(&src, 0);
    pseudo = sum16(&dst, pseudo);
    pseudo = sum16(&(l4.len() as u32).to_be_bytes(), pseudo);
    pseudo = sum16(&[0, 0, 0, next], pseudo);
    let c = fold(sum16(l4, pseudo));
    l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    let mut f = dst_mac.to_vec();
    f.extend(POD_MAC);
    f.extend([0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend((l4.len() as u16).to_be_bytes());
    f.extend([next, 255]);
    f.extend(src);
    f.extend(dst);
    f.extend(l4.iter());
    f
}

/// A DHCPv4 DISCOVER (53 = 1) or REQUEST (53 = 3, 50 = `requested`).
pub fn dhcp4(msg: u8, requested: Option<[u8; 4]>) -> Vec<u8> {
    let mut d = vec![1, 1, 6, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0];
    d.extend([0; 16]);
    d.extend(POD_MAC);
    d.resize(236, 0);
    d.extend([99, 130, 83, 99, 53, 1, msg]);
    if let Some(r) = requested {
        d.extend([50, 4]);
        d.extend(r);
    }
    d.extend([55, 4, 1, 3, 6, 15, 255]);
    ipv4_udp([0xff; 6], [0; 4], [255; 4], 68, 67, &d)
}

/// A DHCPv6 SOLICIT with IA_NA (`stateful`) or an INFORMATION-REQUEST.
pub fn dhcp6(stateful: bool) -> Vec<u8> {
    let mut d = vec![if stateful { 1 } else { 11 }, 0xab, 0xcd, 0xef];
    d.extend([0, 1, 0, 10, 0, 3, 0, 1]);
    d.extend(POD_MAC);
    if stateful {
        d.extend([0, 3, 0, 12, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
    let mut l4 = vec![2, 0x22, 2, 0x23];
    l4.extend(((8 + d.len()) as u16).to_be_bytes());
    l4.extend([0, 0]);
    l4.extend(d);
    let mut all_servers = [0u8; 16];
    all_servers[0] = 0xff;
    all_servers[1] = 0x02;
    all_servers[13] = 1;
    all_servers[15] = 2;
    ipv6(
        [0x33, 0x33, 0, 1, 0, 2],
        pod_lla(),
        all_servers,
        17,
        &mut l4,
        6,
    )
}

/// A DNS query (`qtype`) for `name` to the router's address.
pub fn dns(name: &str, qtype: u16) -> Vec<u8> {
    let mut d = vec![0x77, 0x66, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        d.push(l.len() as u8);
        d.extend(l.as_bytes());
    }
    d.push(0);
    d.extend(qtype.to_be_bytes());
    d.extend([0, 1]);
    ipv4_udp(ROUTER_MAC, [10, 0, 0, 1], [10, 0, 0, 254], 40000, 53, &d)
}

/// A router solicitation to all routers.
pub fn rs() -> Vec<u8> {
    let mut l4 = vec![133, 0, 0, 0, 0, 0, 0, 0, 1, 1];
    l4.extend(POD_MAC);
    let mut all_routers = [0u8; 16];
    all_routers[0] = 0xff;
    all_routers[1] = 0x02;
    all_routers[15] = 2;
    ipv6(
        [0x33, 0x33, 0, 0, 0, 2],
        pod_lla(),
        all_routers,
        58,
        &mut l4,
        2,
    )
}

/// A neighbor solicitation for `target`.
pub fn ns(target: [u8; 16]) -> Vec<u8> {
    let mut l4 = vec![135, 0, 0, 0, 0, 0, 0, 0];
    l4.extend(target);
    l4.extend([1, 1]);
    l4.extend(POD_MAC);
    let mut sn = [0u8; 16];
    sn[0] = 0xff;
    sn[1] = 0x02;
    sn[11] = 1;
    sn[12] = 0xff;
    sn[13..16].copy_from_slice(&target[13..16]);
    ipv6(
        [0x33, 0x33, 0xff, target[13], target[14], target[15]],
        pod_lla(),
        sn,
        58,
        &mut l4,
        2,
    )
}

/// Sends `frame` on `eth0` in `ns` and returns the first frame received
/// (not sent by us) for which `want` holds, within `wait`.
pub fn exchange(
    ns: &str,
    frame: &[u8],
    want: impl Fn(&[u8]) -> bool + Send + Sync,
    wait: Duration,
) -> Option<Vec<u8>> {
    in_ns(ns, || {
        // SAFETY: plain socket calls on a descriptor owned here;
        // the buffers outlive the calls.
        unsafe {
            let proto = (libc::ETH_P_ALL as u16).to_be();
            let sock = raw_socket(libc::AF_PACKET, i32::from(proto));
            let fd = sock.as_raw_fd();
            let ifindex = libc::if_nametoindex(c"eth0".as_ptr());
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex as i32;
            let rc = libc::bind(
                fd,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
            let n = libc::send(fd, frame.as_ptr().cast(), frame.len(), 0);
            assert_eq!(
                n as usize,
                frame.len(),
                "send: {}",
                std::io::Error::last_os_error()
            );
            let deadline = Instant::now() + wait;
            let mut buf = vec![0u8; 4096];
            let mut got = None;
            while Instant::now() < deadline {
                let mut from: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                let n = libc::recvfrom(
                    fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut from as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                );
                if n <= 0 || from.sll_pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                let f = &buf[..n as usize];
                if want(f) {
                    got = Some(f.to_vec());
                    break;
                }
            }
            got
        }
    })
}

/// Whether `f` is IPv4 UDP to port `port`.
pub fn udp4_to(f: &[u8], port: u16) -> bool {
    f.len() > 42 && f[12..14] == [0x08, 0x00] && f[23] == 17 && f[36..38] == port.to_be_bytes()
}

/// Whether `f` is IPv6 UDP to port `port`.
pub fn udp6_to(f: &[u8], port: u16) -> bool {
    f.len() > 62 && f[12..14] == [0x86, 0xdd] && f[20] == 17 && f[56..58] == port.to_be_bytes()
}

/// Whether `f` is ICMPv6 of type `ty`.
pub fn icmp6(f: &[u8], ty: u8) -> bool {
    f.len() > 54 && f[12..14] == [0x86, 0xdd] && f[20] == 58 && f[54] == ty
}

/// The frame as hex, 16 bytes a line, for failure messages.
pub fn hex(f: &[u8]) -> String {
    f.chunks(16)
        .map(|c| {
            c.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The pod's global IPv6 address (fd00::5254:ff:fe00:1).
pub fn pod_ip6() -> [u8; 16] {
    let mut a = pod_lla();
    a[..8].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0]);
    a
}

/// An IPv4 packet from the pod (10.0.0.1) to `dst` through the router's
/// MAC, `l4`'s checksum (at `csum_at`, with the pseudo header) filled in.
pub fn ip4(dst: [u8; 4], ttl: u8, proto: u8, mut l4: Vec<u8>, csum_at: Option<usize>) -> Vec<u8> {
    let src = [10, 0, 0, 1];
    if let Some(at) = csum_at {
        let mut pseudo = sum16(&src, 0);
        pseudo = sum16(&dst, pseudo);
        pseudo = sum16(&[0, proto], pseudo);
        pseudo = sum16(&(l4.len() as u16).to_be_bytes(), pseudo);
        let c = fold(sum16(&l4, pseudo));
        l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    let mut f = ROUTER_MAC.to_vec();
    f.extend(POD_MAC);
    f.extend([0x08, 0x00]);
    let mut ip = vec![0x45, 0];
    ip.extend(((20 + l4.len()) as u16).to_be_bytes());
    ip.extend([0x12, 0x34, 0x40, 0, ttl, proto, 0, 0]);
    ip.extend(src);
    ip.extend(dst);
    let c = fold(sum16(&ip, 0));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend(ip);
    f.extend(l4);
    f
}

/// A TCP SYN from `sport` to `dport` (sequence 0x01020304, window 64240).
pub fn tcp_syn(sport: u16, dport: u16) -> Vec<u8> {
    let mut l4 = sport.to_be_bytes().to_vec();
    l4.extend(dport.to_be_bytes());
    l4.extend([1, 2, 3, 4, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0]);
    l4
}

/// A UDP datagram with a 4-byte payload.
pub fn udp(sport: u16, dport: u16) -> Vec<u8> {
    let mut l4 = sport.to_be_bytes().to_vec();
    l4.extend(dport.to_be_bytes());
    l4.extend([0, 12, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
    l4
}

/// An SCTP INIT from `sport` to `dport` (verification tag 0, initiate
/// tag 0x0a0b0c0d; checksum left 0: OVS does not check it).
pub fn sctp_init(sport: u16, dport: u16) -> Vec<u8> {
    let mut l4 = sport.to_be_bytes().to_vec();
    l4.extend(dport.to_be_bytes());
    l4.extend([0; 8]);
    l4.extend([
        1, 0, 0, 20, 0x0a, 0x0b, 0x0c, 0x0d, 0, 1, 0, 0, 0, 10, 0, 10,
    ]);
    l4.extend([0, 0, 0, 1]);
    l4
}

/// An IPv6 packet from the pod's global address to `dst` through the
/// router's MAC.
pub fn ip6(dst: [u8; 16], next: u8, mut l4: Vec<u8>, csum_at: usize) -> Vec<u8> {
    ipv6(ROUTER_MAC, pod_ip6(), dst, next, &mut l4, csum_at)
}

/// Whether `f` is IPv4 TCP to port `port` with RST set.
pub fn rst4_to(f: &[u8], port: u16) -> bool {
    f.len() >= 54
        && f[12..14] == [0x08, 0x00]
        && f[23] == 6
        && f[36..38] == port.to_be_bytes()
        && f[47] & 0x04 != 0
}

/// Whether `f` is IPv6 TCP to port `port` with RST set.
pub fn rst6_to(f: &[u8], port: u16) -> bool {
    f.len() >= 74
        && f[12..14] == [0x86, 0xdd]
        && f[20] == 6
        && f[56..58] == port.to_be_bytes()
        && f[67] & 0x04 != 0
}

/// Whether `f` is ICMPv4 of type `ty` quoting a packet of protocol
/// `proto` to `dst`.
pub fn icmp4_about(f: &[u8], ty: u8, dst: [u8; 4], proto: u8) -> bool {
    f.len() >= 62
        && f[12..14] == [0x08, 0x00]
        && f[23] == 1
        && f[34] == ty
        && f[51] == proto
        && f[58..62] == dst
}

/// Whether `f` is an IPv4 SCTP packet to port `port`.
pub fn sctp4_to(f: &[u8], port: u16) -> bool {
    f.len() >= 50 && f[12..14] == [0x08, 0x00] && f[23] == 132 && f[36..38] == port.to_be_bytes()
}
