//! `reg0[4] = dns_lookup();` (ovn-controller 23.03
//! `pinctrl_handle_dns_lookup`): a DNS query from a logical port is
//! paused at the controller and answered from the SB `DNS` rows of its
//! datapath (`records`: lower-case name → addresses, or the name a PTR
//! query asks for); the result bit says whether it was answered, and the
//! packet is resumed so that `ls_in_dns_response` swaps the addresses and
//! sends it back.
//!
//! Answered: a query (QR bit clear) with at least one question and no
//! additional record, for `A`, `AAAA`, `ANY` or `PTR`, whose first
//! question's name (compared in lower case) is in a `DNS` row of the
//! packet's datapath (rows without `external_ids:dns_id` are ignored, as
//! in pinctrl's `sync_dns_cache`).  The reply: the query with the QR
//! bit, `ancount` and `arcount = 0`, then one answer per address of the
//! asked family (`ANY`: IPv4 then IPv6) or one `PTR` answer, each with
//! the question's name uncompressed, class `IN`, TTL 3600.  UDP length,
//! IPv4 total length and header checksum (IPv6: payload length and UDP
//! checksum) are redone.

use std::net::IpAddr;

use super::pinctrl::{resume, ResultBit};
use crate::openflow::wire::oxm::field;
use crate::openflow::wire::PacketIn2;

/// `ACTION_OPCODE_DNS_LOOKUP`.
pub const OP_DNS_LOOKUP: u32 = 6;

const TYPE_A: u16 = 0x01;
const TYPE_AAAA: u16 = 0x1c;
const TYPE_ANY: u16 = 0xff;
const TYPE_PTR: u16 = 0x0c;
const CLASS_IN: u16 = 1;
const TTL: u32 = 3600;
const DNS_HEADER_LEN: usize = 12;

/// One SB `DNS` row as pinctrl's cache keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsRecords {
    /// Tunnel keys of its datapaths.
    pub datapaths: Vec<u64>,
    /// Name → answer.
    pub records: std::collections::BTreeMap<String, String>,
}

/// The cache from SB `DNS` rows and their datapaths' keys.
pub fn cache(rows: &[ovsdb::sb::Dns], sb: &crate::sbdb::Southbound) -> Vec<DnsRecords> {
    rows.iter()
        .filter(|r| r.external_ids.contains_key("dns_id"))
        .map(|r| DnsRecords {
            datapaths: r
                .datapaths
                .iter()
                .filter_map(|d| sb.datapath(d))
                .map(|d| d.tunnel_key as u64)
                .collect(),
            records: r.records.clone(),
        })
        .collect()
}

/// The addresses in an answer (`extract_ip_addresses`: whitespace
/// separated, each with an optional prefix length; stops at the first
/// token that is neither IPv4 nor IPv6).
fn addresses(s: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for t in s.split_whitespace() {
        let a = t.split_once('/').map_or(t, |(a, _)| a);
        match a.parse() {
            Ok(ip) => out.push(ip),
            Err(_) => break,
        }
    }
    out
}

/// A dotted name as DNS labels (`dns_build_ptr_answer`: each `.` ends a
/// label, then a zero byte).
fn labels(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for l in name.split('.') {
        if l.is_empty() {
            continue;
        }
        out.push(l.len().min(63) as u8);
        out.extend_from_slice(&l.as_bytes()[..l.len().min(63)]);
    }
    out.push(0);
    out
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

/// The answer to DNS query `pkt` on datapath `dp_key`, or why none.
pub fn dns_reply(pkt: &[u8], dp_key: u64, cache: &[DnsRecords]) -> Result<Vec<u8>, String> {
    let short = || "truncated dns packet".to_string();
    let mut l3 = 14;
    let mut ethertype = u16::from_be_bytes(
        pkt.get(12..14)
            .ok_or_else(short)?
            .try_into()
            .unwrap_or([0; 2]),
    );
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        let b = pkt.get(l3 + 2..l3 + 4).ok_or_else(short)?;
        ethertype = u16::from_be_bytes([b[0], b[1]]);
        l3 += 4;
    }
    let (v4, l4, l3_end) = match ethertype {
        0x0800 => {
            let ihl = usize::from(pkt.get(l3).ok_or_else(short)? & 0x0f) * 4;
            let tot = pkt.get(l3 + 2..l3 + 4).ok_or_else(short)?;
            let tot = usize::from(u16::from_be_bytes([tot[0], tot[1]]));
            (true, l3 + ihl, l3 + tot)
        }
        0x86dd => {
            let pl = pkt.get(l3 + 4..l3 + 6).ok_or_else(short)?;
            let pl = usize::from(u16::from_be_bytes([pl[0], pl[1]]));
            (false, l3 + 40, l3 + 40 + pl)
        }
        _ => return Err("not IP".into()),
    };
    let l4_end = l3_end.min(pkt.len());
    if l4_end < l4 + 8 + DNS_HEADER_LEN {
        return Err(short());
    }
    let udp_len = usize::from(u16::from_be_bytes([pkt[l4 + 4], pkt[l4 + 5]]));
    let end = l4 + udp_len.min(l4_end - l4);
    let h = l4 + 8;
    if pkt[h + 2] & 0x80 != 0 {
        return Err("a response".into());
    }
    let count = |i: usize| u16::from_be_bytes([pkt[h + i], pkt[h + i + 1]]);
    if count(4) == 0 {
        return Err("no question".into());
    }
    if count(10) != 0 {
        return Err("additional records are unsupported".into());
    }
    let q = h + DNS_HEADER_LEN;
    let mut idx = 0;
    let mut name = String::new();
    while q + idx < end && pkt[q + idx] != 0 {
        let len = usize::from(pkt[q + idx]);
        idx += 1;
        let label = pkt
            .get(q + idx..q + idx + len)
            .filter(|_| q + idx + len <= end);
        let label = label.ok_or("truncated query name")?;
        name.push_str(&String::from_utf8_lossy(label));
        name.push('.');
        idx += len;
    }
    idx += 1;
    let name = name.trim_end_matches('.').to_lowercase();
    if q + idx + 4 > end {
        return Err("no type and class".into());
    }
    let qtype = u16::from_be_bytes([pkt[q + idx], pkt[q + idx + 1]]);
    if ![TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_PTR].contains(&qtype) {
        return Err(format!("query type {qtype} unsupported"));
    }
    let answer = cache
        .iter()
        .filter(|d| d.datapaths.contains(&dp_key))
        .find_map(|d| d.records.get(&name))
        .ok_or_else(|| format!("no record for {name}"))?;
    let qname = &pkt[q..q + idx];
    let mut answers = Vec::new();
    let mut ancount = 0u16;
    let mut rr = |ty: u16, data: &[u8]| {
        answers.extend_from_slice(qname);
        answers.extend_from_slice(&ty.to_be_bytes());
        answers.extend_from_slice(&CLASS_IN.to_be_bytes());
        answers.extend_from_slice(&TTL.to_be_bytes());
        answers.extend_from_slice(&(data.len() as u16).to_be_bytes());
        answers.extend_from_slice(data);
        ancount += 1;
    };
    if qtype == TYPE_PTR {
        rr(TYPE_PTR, &labels(answer));
    } else {
        let addrs = addresses(answer);
        if qtype == TYPE_A || qtype == TYPE_ANY {
            for a in &addrs {
                if let IpAddr::V4(a) = a {
                    rr(TYPE_A, &a.octets());
                }
            }
        }
        if qtype == TYPE_AAAA || qtype == TYPE_ANY {
            for a in &addrs {
                if let IpAddr::V6(a) = a {
                    rr(TYPE_AAAA, &a.octets());
                }
            }
        }
    }
    if ancount == 0 {
        return Err(format!("no address of the asked type for {name}"));
    }
    // The request as received (past the DNS header, to the end of the
    // frame), then the answers.
    let mut out = pkt.to_vec();
    out[h + 2] |= 0x80;
    out[h + 6..h + 8].copy_from_slice(&ancount.to_be_bytes());
    out[h + 10..h + 12].copy_from_slice(&[0, 0]);
    out.extend_from_slice(&answers);
    let l4_size = (udp_len + answers.len()) as u16;
    out[l4 + 4..l4 + 6].copy_from_slice(&l4_size.to_be_bytes());
    out[l4 + 6..l4 + 8].copy_from_slice(&[0, 0]);
    if v4 {
        let tot = (l4 - l3) as u16 + l4_size;
        out[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
        out[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
        let c = fold(sum16(&out[l3..l3 + 20], 0));
        out[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    } else {
        out[l3 + 4..l3 + 6].copy_from_slice(&l4_size.to_be_bytes());
        // Pseudo-header: addresses, upper-layer length, next header.
        let mut s = sum16(&out[l3 + 8..l3 + 40], 0);
        s += u32::from(l4_size);
        s += 17;
        let c = fold(sum16(&out[l4..], s));
        let c = if c == 0 { 0xffff } else { c };
        out[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    }
    Ok(out)
}

/// The `NXT_RESUME` answering a `dns_lookup` packet-in and whether it was
/// answered (`Err` says why not); `None` when the packet-in is not one or
/// cannot be resumed.
pub fn handle(pin: &PacketIn2, cache: &[DnsRecords]) -> Option<(PacketIn2, Result<(), String>)> {
    let userdata = pin.userdata()?;
    if u32::from_be_bytes(userdata.get(..4)?.try_into().ok()?) != OP_DNS_LOOKUP {
        return None;
    }
    let result = ResultBit::parse(userdata.get(8..)?)?;
    let mut md = pin.metadata().ok()?;
    let packet = pin.packet()?;
    let dp_key = md
        .iter()
        .find(|f| f.is(field::METADATA))
        .and_then(|f| <[u8; 8]>::try_from(f.value.as_slice()).ok())
        .map_or(0, u64::from_be_bytes);
    let reply = dns_reply(packet, dp_key, cache);
    result.write(&mut md, reply.is_ok());
    let outcome = reply.as_ref().map(|_| ()).map_err(Clone::clone);
    let r = resume(pin, reply.unwrap_or_else(|_| packet.to_vec()), &md)?;
    Some((r, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut dns = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        dns.extend(labels(name));
        dns.extend(qtype.to_be_bytes());
        dns.extend(CLASS_IN.to_be_bytes());
        let mut p = vec![0, 0, 0, 0, 0xff, 1, 0x50, 0x54, 0, 0, 0, 1, 0x08, 0x00];
        let udp_len = 8 + dns.len();
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 254,
        ];
        ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
        p.extend(ip);
        p.extend([0x9c, 0x40, 0, 53]);
        p.extend((udp_len as u16).to_be_bytes());
        p.extend([0, 0]);
        p.extend(dns);
        p
    }

    fn records() -> Vec<DnsRecords> {
        vec![DnsRecords {
            datapaths: vec![1],
            records: [
                ("vm1.ovn.org".to_string(), "10.0.0.4 aef0::4".to_string()),
                (
                    "4.0.0.10.in-addr.arpa".to_string(),
                    "vm1.ovn.org".to_string(),
                ),
            ]
            .into_iter()
            .collect(),
        }]
    }

    #[test]
    fn a_aaaa_any_and_ptr() {
        let q = query("VM1.ovn.org", TYPE_A);
        let r = dns_reply(&q, 1, &records()).unwrap();
        // One A answer: name (13) + 10 + 4.
        assert_eq!(r.len(), q.len() + 13 + 10 + 4);
        assert_eq!(&r[r.len() - 4..], &[10, 0, 0, 4]);
        assert_eq!(r[42 + 2] & 0x80, 0x80);
        assert_eq!(&r[42 + 6..42 + 8], &[0, 1]);
        assert_eq!(fold(sum16(&r[14..34], 0)), 0);
        let any = dns_reply(&query("vm1.ovn.org", TYPE_ANY), 1, &records()).unwrap();
        assert_eq!(&any[42 + 6..42 + 8], &[0, 2]);
        let ptr = dns_reply(&query("4.0.0.10.in-addr.arpa", TYPE_PTR), 1, &records()).unwrap();
        assert!(ptr.ends_with(&labels("vm1.ovn.org")));
        assert!(dns_reply(&q, 2, &records()).is_err(), "other datapath");
        assert!(dns_reply(&query("vm2.ovn.org", TYPE_A), 1, &records()).is_err());
        assert!(dns_reply(&query("vm1.ovn.org", 15), 1, &records()).is_err());
        assert!(dns_reply(&q[..50], 1, &records()).is_err());
    }
}
