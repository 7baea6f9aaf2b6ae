//! `reg0[3] = put_dhcp_opts(offerip = A, router = R, ...)` (ovn-controller
//! 23.03 `pinctrl_handle_put_dhcp_opts`): the switch pauses a DHCPv4
//! request at the controller; the reply is built from the request and the
//! options carried in the action's userdata, the result bit set, and the
//! packet resumed (`NXT_RESUME`) so that the next logical flows
//! (`ls_in_dhcp_response`) swap the addresses and send it back.
//!
//! Userdata after the 8-byte action header: the result field's header and
//! bit offset ([`super::pinctrl::ResultBit`]), the offered IPv4 address,
//! then DHCP options ready to copy (`code`, `len`, value; `bootfile_name`
//! (67), `bootfile_name_alt` (254) and `next_server` (253) first).
//!
//! The reply (`DHCPOFFER` to a `DISCOVER`, `DHCPACK` to a `REQUEST` for the
//! offered address, `DHCPNAK` to one for another, `DHCPACK` without
//! address/lease options to an `INFORM`): the request's L2, L3 and UDP
//! headers and BOOTP header with `op` = reply, `yiaddr` = the offer and
//! `siaddr` = `next_server` (or the request's), the magic cookie, option
//! 53, the options, 4 bytes of padding, `end`, and 4 more zero bytes; the
//! IPv4 destination is the offer (broadcast when the request's broadcast
//! flag is set), total length and header checksum redone, UDP checksum 0.
//! `RELEASE` and `DECLINE` are logged and answered with the result bit 0,
//! as are malformed requests.

use std::net::Ipv4Addr;

use super::pinctrl::{resume, ResultBit};
use crate::openflow::wire::PacketIn2;

/// `ACTION_OPCODE_PUT_DHCP_OPTS`.
pub const OP_PUT_DHCP_OPTS: u32 = 2;

const DHCP_HEADER_LEN: usize = 236;
const DHCP_MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
const OPT_PAD: u8 = 0;
const OPT_END: u8 = 255;
const OPT_NETMASK: u8 = 1;
const OPT_REQ_IP: u8 = 50;
const OPT_LEASE_TIME: u8 = 51;
const OPT_MSG_TYPE: u8 = 53;
const OPT_T1: u8 = 58;
const OPT_T2: u8 = 59;
const OPT_BOOTFILE: u8 = 67;
const OPT_ETHERBOOT: u8 = 175;
const OPT_NEXT_SERVER: u8 = 253;
const OPT_BOOTFILE_ALT: u8 = 254;

const MSG_DISCOVER: u8 = 1;
const MSG_OFFER: u8 = 2;
const MSG_REQUEST: u8 = 3;
const MSG_DECLINE: u8 = 4;
const MSG_ACK: u8 = 5;
const MSG_NAK: u8 = 6;
const MSG_RELEASE: u8 = 7;
const MSG_INFORM: u8 = 8;

/// What a DHCP request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A reply of this message type for this address.
    Reply {
        /// `DHCPOFFER` (2), `DHCPACK` (5) or `DHCPNAK` (6).
        msg_type: u8,
        /// The offered address.
        offer: Ipv4Addr,
    },
    /// No reply (result bit 0), with the reason pinctrl logs.
    NoReply(String),
}

/// Offsets of the layers of an Ethernet/IPv4/UDP packet.
struct Layers {
    l3: usize,
    l4: usize,
}

fn layers(pkt: &[u8]) -> Option<Layers> {
    let mut l3 = 14;
    let mut ethertype = u16::from_be_bytes(pkt.get(12..14)?.try_into().ok()?);
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = u16::from_be_bytes(pkt.get(l3 + 2..l3 + 4)?.try_into().ok()?);
        l3 += 4;
    }
    if ethertype != 0x0800 {
        return None;
    }
    let ihl = usize::from(pkt.get(l3)? & 0x0f) * 4;
    if ihl < 20 || *pkt.get(l3 + 9)? != 17 {
        return None;
    }
    Some(Layers { l3, l4: l3 + ihl })
}

/// The options in `data` (`code`, value), stopping at `end` or at a
/// truncated option.
fn options(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let code = data[i];
        if code == OPT_END {
            break;
        }
        if code == OPT_PAD {
            i += 1;
            continue;
        }
        let Some(&len) = data.get(i + 1) else { break };
        let Some(v) = data.get(i + 2..i + 2 + usize::from(len)) else {
            break;
        };
        out.push((code, v));
        i += 2 + usize::from(len);
    }
    out
}

fn put_opt(out: &mut Vec<u8>, code: u8, v: &[u8]) {
    out.push(code);
    out.push(v.len() as u8);
    out.extend_from_slice(v);
}

/// The reply options: `bootfile_name_alt` replaces `bootfile_name` unless
/// the client is iPXE (option 175), and stands for it when alone;
/// `INFORM` replies lose the address and lease options.  Also returns
/// `next_server`, if given.
fn reply_options(opts: &[(u8, &[u8])], ipxe: bool, inform: bool) -> (Vec<u8>, Option<[u8; 4]>) {
    let has_boot = opts.iter().any(|(c, _)| *c == OPT_BOOTFILE);
    let has_alt = opts.iter().any(|(c, _)| *c == OPT_BOOTFILE_ALT);
    let mut out = Vec::new();
    let mut next_server = None;
    for &(code, v) in opts {
        if inform && matches!(code, OPT_NETMASK | OPT_LEASE_TIME | OPT_T1 | OPT_T2) {
            continue;
        }
        match code {
            OPT_NEXT_SERVER => {
                next_server = v.try_into().ok();
                put_opt(&mut out, code, v);
            }
            OPT_BOOTFILE if has_alt && !ipxe => {}
            OPT_BOOTFILE_ALT if has_boot && ipxe => {}
            OPT_BOOTFILE_ALT => put_opt(&mut out, OPT_BOOTFILE, v),
            _ => put_opt(&mut out, code, v),
        }
    }
    (out, next_server)
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The reply to DHCP request `pkt` offering `offer` with the encoded
/// `opts` (see the module documentation).
pub fn dhcp_reply(pkt: &[u8], offer: Ipv4Addr, opts: &[u8]) -> (Option<Vec<u8>>, Outcome) {
    let no = |why: &str| (None, Outcome::NoReply(why.to_string()));
    let Some(Layers { l3, l4 }) = layers(pkt) else {
        return no("Invalid or incomplete DHCP packet received");
    };
    // The L4 data ends where the IPv4 total length says (the rest is
    // Ethernet padding: `dp_packet_l4_size`).
    let ip_len = usize::from(u16::from_be_bytes([pkt[l3 + 2], pkt[l3 + 3]]));
    let end = (l3 + ip_len).min(pkt.len());
    let dhcp = l4 + 8;
    let Some(req) = pkt
        .get(dhcp..dhcp + DHCP_HEADER_LEN)
        .filter(|_| end >= dhcp + DHCP_HEADER_LEN)
    else {
        return no("Invalid or incomplete DHCP packet received, bad data length");
    };
    if req[0] != 1 {
        return no(&format!("Invalid opcode in the DHCP packet: {}", req[0]));
    }
    let cookie_at = dhcp + DHCP_HEADER_LEN;
    if pkt.get(cookie_at..cookie_at + 4) != Some(&DHCP_MAGIC_COOKIE[..]) || cookie_at + 4 > end {
        return no("DHCP magic cookie not present in the DHCP packet");
    }
    let mut request_ip: [u8; 4] = req[12..16].try_into().unwrap_or([0; 4]);
    let mut msg = None;
    let mut ipxe = false;
    for (code, v) in options(&pkt[cookie_at + 4..end]) {
        match code {
            OPT_MSG_TYPE if v.len() == 1 => msg = Some(v[0]),
            OPT_REQ_IP => {
                if let Ok(a) = v.try_into() {
                    request_ip = a;
                }
            }
            OPT_ETHERBOOT => ipxe = true,
            _ => {}
        }
    }
    let Some(msg) = msg else {
        return no("Missing DHCP message type");
    };
    let offer_b = offer.octets();
    let reply_type = match msg {
        MSG_DISCOVER => MSG_OFFER,
        MSG_REQUEST if request_ip == offer_b => MSG_ACK,
        MSG_REQUEST => {
            tracing::warn!(
                "DHCPREQUEST requested IP {} does not match offer {offer}",
                Ipv4Addr::from(request_ip)
            );
            MSG_NAK
        }
        MSG_INFORM => MSG_ACK,
        MSG_RELEASE => {
            return no(&format!("DHCPRELEASE {}", Ipv4Addr::from(request_ip)));
        }
        MSG_DECLINE => return no("DHCPDECLINE"),
        t => return no(&format!("Invalid DHCP message type: {t}")),
    };
    let (reply_opts, next_server) = reply_options(&options(opts), ipxe, msg == MSG_INFORM);
    let nak = reply_type == MSG_NAK;

    let mut out = pkt[..dhcp + DHCP_HEADER_LEN].to_vec();
    let b = dhcp;
    out[b] = 2;
    if msg != MSG_INFORM {
        let yiaddr = if nak { [0; 4] } else { offer_b };
        out[b + 16..b + 20].copy_from_slice(&yiaddr);
        if nak {
            out[b + 20..b + 24].copy_from_slice(&[0; 4]);
        } else if let Some(ns) = next_server {
            out[b + 20..b + 24].copy_from_slice(&ns);
        }
    } else {
        out[b + 16..b + 20].copy_from_slice(&[0; 4]);
    }
    out.extend_from_slice(&DHCP_MAGIC_COOKIE);
    out.extend_from_slice(&[OPT_MSG_TYPE, 1, reply_type]);
    if !nak {
        out.extend_from_slice(&reply_opts);
    }
    out.extend_from_slice(&[0; 4]);
    out.push(OPT_END);
    out.extend_from_slice(&[0; 4]);

    let l4_size = out.len() - l4;
    out[l4 + 4..l4 + 6].copy_from_slice(&(l4_size as u16).to_be_bytes());
    out[l4 + 6..l4 + 8].copy_from_slice(&[0, 0]);
    let broadcast = req[10] & 0x80 != 0;
    let dst = if broadcast { [255; 4] } else { offer_b };
    out[l3 + 16..l3 + 20].copy_from_slice(&dst);
    let tot = (l4 - l3 + l4_size) as u16;
    out[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
    // `csum(out_ip, sizeof *out_ip)`: the 20-byte header only.
    out[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
    let c = ipv4_checksum(&out[l3..l3 + 20]);
    out[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    (
        Some(out),
        Outcome::Reply {
            msg_type: reply_type,
            offer,
        },
    )
}

/// The `NXT_RESUME` answering a `put_dhcp_opts` packet-in, and what was
/// answered; `None` when the packet-in is not one, or its result field or
/// continuation is unusable (pinctrl then cannot resume either).
pub fn handle(pin: &PacketIn2) -> Option<(PacketIn2, Outcome)> {
    let userdata = pin.userdata()?;
    if u32::from_be_bytes(userdata.get(..4)?.try_into().ok()?) != OP_PUT_DHCP_OPTS {
        return None;
    }
    let payload = userdata.get(8..)?;
    let result = ResultBit::parse(payload)?;
    let mut md = pin.metadata().ok()?;
    let packet = pin.packet()?;
    let (reply, outcome) = match payload.get(8..12) {
        Some(ip) if payload.len() > 12 => {
            let offer = Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]);
            dhcp_reply(packet, offer, &payload[12..])
        }
        Some(_) => (
            None,
            Outcome::NoReply("DHCP options not present in the userdata".into()),
        ),
        None => (
            None,
            Outcome::NoReply("offset or offer_ip not present in the userdata".into()),
        ),
    };
    result.write(&mut md, reply.is_some());
    let r = resume(pin, reply.unwrap_or_else(|| packet.to_vec()), &md)?;
    Some((r, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DHCPDISCOVER/REQUEST from 50:54:00:00:00:01 as udhcpc sends it.
    fn request(msg: u8, requested: Option<[u8; 4]>, flags: u16) -> Vec<u8> {
        let mut p = vec![0xff; 6];
        p.extend([0x50, 0x54, 0, 0, 0, 1, 0x08, 0x00]);
        let mut dhcp = vec![1, 1, 6, 0, 0xde, 0xad, 0xbe, 0xef, 0, 0];
        dhcp.extend(flags.to_be_bytes());
        dhcp.extend([0; 16]);
        dhcp.extend([0x50, 0x54, 0, 0, 0, 1]);
        dhcp.resize(DHCP_HEADER_LEN, 0);
        dhcp.extend(DHCP_MAGIC_COOKIE);
        dhcp.extend([OPT_MSG_TYPE, 1, msg]);
        if let Some(r) = requested {
            dhcp.extend([OPT_REQ_IP, 4]);
            dhcp.extend(r);
        }
        dhcp.push(OPT_END);
        let udp_len = 8 + dhcp.len();
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0];
        ip.extend([255; 4]);
        ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
        p.extend(ip);
        p.extend([0, 68, 0, 67]);
        p.extend((udp_len as u16).to_be_bytes());
        p.extend([0, 0]);
        p.extend(dhcp);
        p
    }

    fn opts() -> Vec<u8> {
        let mut o = Vec::new();
        put_opt(&mut o, 1, &[255, 255, 255, 0]);
        put_opt(&mut o, 3, &[10, 0, 0, 254]);
        put_opt(&mut o, 54, &[10, 0, 0, 254]);
        put_opt(&mut o, 51, &3600u32.to_be_bytes());
        o
    }

    #[test]
    fn offer_and_ack() {
        let offer = Ipv4Addr::new(10, 0, 0, 5);
        let (r, o) = dhcp_reply(&request(MSG_DISCOVER, None, 0), offer, &opts());
        assert_eq!(
            o,
            Outcome::Reply {
                msg_type: MSG_OFFER,
                offer
            }
        );
        let r = r.unwrap();
        // 14 + 20 + 8 + 236 + 16 + options.
        assert_eq!(r.len(), 14 + 20 + 8 + 236 + 16 + opts().len());
        assert_eq!(&r[30..34], &[10, 0, 0, 5], "unicast to the offer");
        assert_eq!(ipv4_checksum(&r[14..34]), 0);
        let d = 42;
        assert_eq!(r[d], 2);
        assert_eq!(&r[d + 16..d + 20], &[10, 0, 0, 5]);
        assert_eq!(&r[d + 240..d + 243], &[53, 1, MSG_OFFER]);
        assert_eq!(&r[d + 243..d + 243 + opts().len()], &opts()[..]);
        assert_eq!(&r[r.len() - 9..], &[0, 0, 0, 0, 255, 0, 0, 0, 0]);
        assert_eq!(
            u16::from_be_bytes([r[38], r[39]]) as usize,
            r.len() - 34,
            "udp length"
        );

        let (r, o) = dhcp_reply(
            &request(MSG_REQUEST, Some([10, 0, 0, 5]), 0x8000),
            offer,
            &opts(),
        );
        assert!(matches!(
            o,
            Outcome::Reply {
                msg_type: MSG_ACK,
                ..
            }
        ));
        assert_eq!(&r.unwrap()[30..34], &[255; 4], "broadcast flag");
        let (r, o) = dhcp_reply(
            &request(MSG_REQUEST, Some([10, 0, 0, 6]), 0),
            offer,
            &opts(),
        );
        assert!(matches!(
            o,
            Outcome::Reply {
                msg_type: MSG_NAK,
                ..
            }
        ));
        let r = r.unwrap();
        assert_eq!(r.len(), 14 + 20 + 8 + 236 + 16);
        assert_eq!(&r[42 + 16..42 + 20], &[0; 4]);
    }

    #[test]
    fn inform_release_and_garbage() {
        let offer = Ipv4Addr::new(10, 0, 0, 5);
        let (r, _) = dhcp_reply(&request(MSG_INFORM, None, 0), offer, &opts());
        let r = r.unwrap();
        // Netmask and lease time dropped: router and server id remain.
        assert_eq!(r.len(), 14 + 20 + 8 + 236 + 16 + 12);
        assert!(dhcp_reply(&request(MSG_RELEASE, None, 0), offer, &opts())
            .0
            .is_none());
        assert!(dhcp_reply(&[0; 20], offer, &opts()).0.is_none());
        let mut bad = request(MSG_DISCOVER, None, 0);
        bad.truncate(100);
        assert!(dhcp_reply(&bad, offer, &opts()).0.is_none());
    }

    #[test]
    fn bootfile_alt_unless_ipxe() {
        let mut o = Vec::new();
        put_opt(&mut o, OPT_BOOTFILE, b"a.efi");
        put_opt(&mut o, OPT_BOOTFILE_ALT, b"b.ipxe");
        let (out, _) = reply_options(&options(&o), false, false);
        let mut want = Vec::new();
        put_opt(&mut want, OPT_BOOTFILE, b"b.ipxe");
        assert_eq!(out, want);
        let (out, _) = reply_options(&options(&o), true, false);
        let mut want = Vec::new();
        put_opt(&mut want, OPT_BOOTFILE, b"a.efi");
        assert_eq!(out, want);
    }
}
