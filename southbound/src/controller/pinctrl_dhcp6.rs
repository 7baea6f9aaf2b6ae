//! `reg0[3] = put_dhcpv6_opts(...)` (ovn-controller 23.03
//! `pinctrl_handle_put_dhcpv6_opts`, also what `dhcpv6_stateless`
//! logical switches use): a DHCPv6 `SOLICIT` is answered with an
//! `ADVERTISE`, a `REQUEST`, `CONFIRM`, `DECLINE` or
//! `INFORMATION-REQUEST` with a `REPLY`; the packet is resumed with the
//! result bit set.
//!
//! Userdata after the 8-byte header: result header and offset
//! ([`super::pinctrl::ResultBit`]), then options (`code`, `len` as 16-bit
//! values): `server_id` (a MAC: sent as a DUID-LL), `ia_addr` (sent
//! inside an `IA_NA` with the client's IAID and infinite lifetimes, left
//! out for an information request), `dns_server`, `domain_search` (sent
//! as one label, as pinctrl does).  Any other option fails the request.
//!
//! The reply: the request's L2/L3 and UDP headers, its message type
//! replaced and transaction id kept, the client's Client Identifier
//! option, then the options; UDP length, IPv6 payload length and the UDP
//! checksum redone.  A request without Client Identifier, or without
//! `IA_NA` (except an information request), is not answered.

use super::pinctrl::resume_with_options;
use crate::openflow::wire::PacketIn2;

/// `ACTION_OPCODE_PUT_DHCPV6_OPTS`.
pub const OP_PUT_DHCPV6_OPTS: u32 = 5;

const MSG_SOLICIT: u8 = 1;
const MSG_ADVERTISE: u8 = 2;
const MSG_REQUEST: u8 = 3;
const MSG_CONFIRM: u8 = 4;
const MSG_REPLY: u8 = 7;
const MSG_DECLINE: u8 = 9;
const MSG_INFO_REQ: u8 = 11;

const OPT_CLIENT_ID: u16 = 1;
const OPT_SERVER_ID: u16 = 2;
const OPT_IA_NA: u16 = 3;
const OPT_IA_ADDR: u16 = 5;
const OPT_DNS_SERVER: u16 = 23;
const OPT_DOMAIN_SEARCH: u16 = 24;

const DUID_LL: u16 = 3;
const HW_TYPE_ETH: u16 = 1;

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn put_opt_header(out: &mut Vec<u8>, code: u16, len: usize) {
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&(len as u16).to_be_bytes());
}

/// The reply options from the userdata options (`compose_out_dhcpv6_opts`);
/// `None` for invalid userdata.
fn compose(mut opts: &[u8], iaid: Option<[u8; 4]>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    while !opts.is_empty() {
        let code = be16(opts, 0)?;
        let size = usize::from(be16(opts, 2)?);
        let data = opts.get(4..4 + size)?;
        opts = &opts[4 + size..];
        match code {
            OPT_SERVER_ID => {
                put_opt_header(&mut out, OPT_SERVER_ID, size + 4);
                out.extend_from_slice(&DUID_LL.to_be_bytes());
                out.extend_from_slice(&HW_TYPE_ETH.to_be_bytes());
                let mut mac = data.to_vec();
                mac.resize(6, 0);
                out.extend_from_slice(&mac);
            }
            OPT_IA_ADDR => {
                if size != 16 {
                    return None;
                }
                let Some(iaid) = iaid else { continue };
                put_opt_header(&mut out, OPT_IA_NA, 12 + 28);
                out.extend_from_slice(&iaid);
                out.extend_from_slice(&[0xff; 8]);
                put_opt_header(&mut out, OPT_IA_ADDR, size + 8);
                out.extend_from_slice(data);
                out.extend_from_slice(&[0xff; 8]);
            }
            OPT_DNS_SERVER => {
                put_opt_header(&mut out, OPT_DNS_SERVER, size);
                out.extend_from_slice(data);
            }
            OPT_DOMAIN_SEARCH => {
                put_opt_header(&mut out, OPT_DOMAIN_SEARCH, size + 2);
                out.push(size as u8);
                out.extend_from_slice(data);
                out.push(0);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The IPv6 UDP checksum of `l4` between `src` and `dst`.
fn udp6_checksum(src: &[u8], dst: &[u8], l4: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |d: &[u8]| {
        for c in d.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(src);
    add(dst);
    add(&(l4.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 17]);
    add(l4);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    match !(sum as u16) {
        0 => 0xffff,
        c => c,
    }
}

/// The reply to DHCPv6 request `pkt` with userdata options `opts`, or why
/// none.
pub fn dhcpv6_reply(pkt: &[u8], opts: &[u8]) -> Result<Vec<u8>, String> {
    let short = || "truncated dhcpv6 packet".to_string();
    let mut l3 = 14;
    let mut ethertype = be16(pkt, 12).ok_or_else(short)?;
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = be16(pkt, l3 + 2).ok_or_else(short)?;
        l3 += 4;
    }
    if ethertype != 0x86dd || pkt.get(l3 + 6) != Some(&17) {
        return Err("not IPv6 UDP".into());
    }
    let l4 = l3 + 40;
    let plen = usize::from(be16(pkt, l3 + 4).ok_or_else(short)?);
    let l4_end = (l4 + plen).min(pkt.len());
    if l4_end < l4 + 8 + 4 {
        return Err(short());
    }
    let udp_len = usize::from(be16(pkt, l4 + 4).ok_or_else(short)?);
    let end = l4 + udp_len.min(l4_end - l4);
    let d = l4 + 8;
    let in_type = pkt[d];
    let out_type = match in_type {
        MSG_SOLICIT => MSG_ADVERTISE,
        MSG_REQUEST | MSG_CONFIRM | MSG_DECLINE | MSG_INFO_REQ => MSG_REPLY,
        t => return Err(format!("DHCPv6 message type {t} unsupported")),
    };
    let mut i = d + 4;
    let mut iaid = None;
    let mut client_id = None;
    while i + 4 <= end {
        let code = be16(pkt, i).ok_or_else(short)?;
        let len = usize::from(be16(pkt, i + 2).ok_or_else(short)?);
        let whole = pkt.get(i..i + 4 + len).ok_or_else(short)?;
        match code {
            OPT_IA_NA if len >= 4 => iaid = Some([whole[4], whole[5], whole[6], whole[7]]),
            OPT_CLIENT_ID => client_id = Some(whole),
            _ => {}
        }
        i += 4 + len;
    }
    let client_id =
        client_id.ok_or("DHCPv6 option - Client id not present in the DHCPv6 packet")?;
    let iaid = iaid.filter(|a| *a != [0; 4]);
    if iaid.is_none() && in_type != MSG_INFO_REQ {
        return Err("DHCPv6 option - IA NA not present in the DHCPv6 packet".into());
    }
    let out_opts = compose(opts, iaid).ok_or("Invalid userdata")?;
    let mut out = pkt[..d + 4].to_vec();
    out[d] = out_type;
    out.extend_from_slice(client_id);
    out.extend_from_slice(&out_opts);
    let l4_size = (out.len() - l4) as u16;
    out[l4 + 4..l4 + 6].copy_from_slice(&l4_size.to_be_bytes());
    out[l4 + 6..l4 + 8].copy_from_slice(&[0, 0]);
    out[l3 + 4..l3 + 6].copy_from_slice(&l4_size.to_be_bytes());
    let c = udp6_checksum(&out[l3 + 8..l3 + 24], &out[l3 + 24..l3 + 40], &out[l4..]);
    out[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    Ok(out)
}

/// The `NXT_RESUME` answering a `put_dhcpv6_opts` packet-in and the
/// outcome; `None` when it is not one or cannot be resumed.
pub fn handle(pin: &PacketIn2) -> Option<(PacketIn2, Result<(), String>)> {
    resume_with_options(pin, OP_PUT_DHCPV6_OPTS, "DHCPv6 options", dhcpv6_reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solicit(msg: u8, with_ia: bool) -> Vec<u8> {
        let mut p = vec![0x33, 0x33, 0, 1, 0, 2, 0x50, 0x54, 0, 0, 0, 1, 0x86, 0xdd];
        let mut dhcp = vec![msg, 0xaa, 0xbb, 0xcc];
        dhcp.extend([0, 1, 0, 10, 0, 3, 0, 1, 0x50, 0x54, 0, 0, 0, 1]);
        if with_ia {
            dhcp.extend([0, 3, 0, 12, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
        }
        let udp_len = (8 + dhcp.len()) as u16;
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend(udp_len.to_be_bytes());
        ip.extend([17, 255]);
        ip.extend([
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x52, 0x54, 0, 0xff, 0xfe, 0, 0, 1,
        ]);
        ip.extend([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2]);
        p.extend(ip);
        p.extend([2, 0x22, 2, 0x23]);
        p.extend(udp_len.to_be_bytes());
        p.extend([0, 0]);
        p.extend(dhcp);
        p
    }

    fn opts() -> Vec<u8> {
        let mut o = vec![0, 2, 0, 6, 0, 0, 0, 0, 0xff, 1];
        o.extend([0, 5, 0, 16]);
        o.extend([0xae, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
        o
    }

    #[test]
    fn advertise_with_ia_na_and_stateless_reply() {
        let s = solicit(MSG_SOLICIT, true);
        let r = dhcpv6_reply(&s, &opts()).unwrap();
        let d = 14 + 40 + 8;
        assert_eq!(r[d], MSG_ADVERTISE);
        assert_eq!(&r[d + 1..d + 4], &[0xaa, 0xbb, 0xcc]);
        // client id (14) + server id (14) + IA_NA (44).
        assert_eq!(r.len(), d + 4 + 14 + 14 + 44);
        assert_eq!(&r[d + 4 + 14 + 14 + 4..d + 4 + 14 + 14 + 8], &[1, 2, 3, 4]);
        let l4 = &r[54..];
        assert_eq!(udp6_checksum(&r[22..38], &r[38..54], l4), 0xffff);
        let info = dhcpv6_reply(&solicit(MSG_INFO_REQ, false), &opts()).unwrap();
        assert_eq!(info[d], MSG_REPLY);
        assert_eq!(info.len(), d + 4 + 14 + 14, "no IA_NA without IAID");
        assert!(dhcpv6_reply(&solicit(MSG_SOLICIT, false), &opts()).is_err());
        assert!(dhcpv6_reply(&s, &[0, 99, 0, 0]).is_err());
    }
}
