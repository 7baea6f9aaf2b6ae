//! Parsing of `Logical_Switch_Port.addresses` / `port_security` entries the
//! way ovn-northd does (`extract_lsp_addresses()` in lib/ovn-util.c):
//! `"MAC [IP[/PLEN]]..."`, parsing stops at the first token that is not an
//! address.

use std::net::{Ipv4Addr, Ipv6Addr};

/// One parsed address entry (`struct lport_addresses`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LportAddresses {
    /// The Ethernet address, lower-case `xx:xx:xx:xx:xx:xx` (`ea_s`).
    pub ea_s: String,
    /// IPv4 addresses as northd prints them (`addr_s`).
    pub ipv4: Vec<String>,
    /// IPv6 addresses: (`addr_s`, solicited-node multicast `sn_addr_s`).
    pub ipv6: Vec<(String, String)>,
}

/// Parses `xx:xx:xx:xx:xx:xx` (1-2 hex digits per byte) into its normal form.
pub fn parse_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = Vec::with_capacity(6);
    for p in parts {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        out.push(u8::from_str_radix(p, 16).ok()?);
    }
    Some(
        out.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// The MAC at the start of an `addresses` entry, as `ovs_scan(ETH_ADDR_SCAN_FMT)`
/// finds it (the rest of the string is ignored).
pub fn leading_mac(s: &str) -> Option<String> {
    let first = s.split_whitespace().next()?;
    parse_mac(first)
}

fn parse_plen(s: &str, max: u32) -> Option<()> {
    match s.parse::<u32>() {
        Ok(n) if n <= max => Some(()),
        _ => None,
    }
}

fn parse_v4(tok: &str) -> Option<Ipv4Addr> {
    let (ip, plen) = match tok.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (tok, None),
    };
    let ip: Ipv4Addr = ip.parse().ok()?;
    if let Some(p) = plen {
        if parse_plen(p, 32).is_none() && p.parse::<Ipv4Addr>().is_err() {
            return None;
        }
    }
    Some(ip)
}

fn parse_v6(tok: &str) -> Option<Ipv6Addr> {
    let (ip, plen) = match tok.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (tok, None),
    };
    let ip: Ipv6Addr = ip.parse().ok()?;
    if let Some(p) = plen {
        parse_plen(p, 128)?;
    }
    Some(ip)
}

/// The solicited-node multicast address of `ip` (`in6_addr_solicited_node()`).
pub fn solicited_node(ip: &Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | o[13] as u16,
        ((o[14] as u16) << 8) | o[15] as u16,
    )
}

/// `extract_lsp_addresses()`: `None` when the entry does not start with a MAC.
pub fn extract_lsp_addresses(s: &str) -> Option<LportAddresses> {
    let mut toks = s.split_whitespace();
    let ea_s = parse_mac(toks.next()?)?;
    let mut out = LportAddresses {
        ea_s,
        ipv4: Vec::new(),
        ipv6: Vec::new(),
    };
    for tok in toks {
        if let Some(ip) = parse_v4(tok) {
            out.ipv4.push(ip.to_string());
        } else if let Some(ip) = parse_v6(tok) {
            out.ipv6
                .push((ip.to_string(), solicited_node(&ip).to_string()));
        } else {
            break;
        }
    }
    Some(out)
}

/// `is_dynamic_lsp_address()`: `dynamic`, `MAC dynamic`, `dynamic IP…` forms.
pub fn is_dynamic(s: &str) -> bool {
    let toks: Vec<&str> = s.split_whitespace().collect();
    match toks.as_slice() {
        ["dynamic", ..] => true,
        [mac, "dynamic"] => parse_mac(mac).is_some(),
        _ => false,
    }
}

/// JSON string quoting of a port name (`op->json_key`).
pub fn json_key(name: &str) -> String {
    serde_json::Value::String(name.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mac_ipv4_ipv6_and_stops_at_garbage() {
        let a =
            extract_lsp_addresses("00:00:00:00:00:0A 10.0.0.1/24 fd00::1 junk 10.0.0.2").unwrap();
        assert_eq!(a.ea_s, "00:00:00:00:00:0a");
        assert_eq!(a.ipv4, vec!["10.0.0.1"]);
        assert_eq!(
            a.ipv6,
            vec![("fd00::1".to_string(), "ff02::1:ff00:1".to_string())]
        );
    }

    #[test]
    fn entries_without_mac_are_rejected() {
        assert!(extract_lsp_addresses("10.0.0.1").is_none());
        assert!(extract_lsp_addresses("unknown").is_none());
    }

    #[test]
    fn json_key_quotes_and_escapes() {
        assert_eq!(json_key("p1"), "\"p1\"");
        assert_eq!(json_key("a\"b"), "\"a\\\"b\"");
    }
}
