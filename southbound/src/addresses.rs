//! Address strings of the Southbound as ovn-controller 23.03 reads them:
//! `Port_Binding.port_security` entries (`extract_lsp_addresses`,
//! lib/ovn-util.c), load-balancer VIP keys and backends
//! (`ip_address_and_port_from_lb_key`, `ovn_lb_vip_init_explicit`,
//! lib/lb.c) and `hairpin_snat_ip` (`extract_ip_address`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IPv4 address with its prefix length (`struct ipv4_netaddr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    /// The address as given (host bits kept).
    pub addr: u32,
    /// Prefix length.
    pub plen: u32,
}

impl Ipv4Net {
    /// The netmask.
    pub fn mask(&self) -> u32 {
        if self.plen == 0 {
            0
        } else {
            u32::MAX << (32 - self.plen)
        }
    }

    /// Whether the address has host bits set (or is a /32): OVN then
    /// matches the exact address, else the whole subnet.
    pub fn is_host(&self) -> bool {
        self.plen == 32 || self.addr & !self.mask() != 0
    }

    /// The broadcast address of the subnet.
    pub fn bcast(&self) -> u32 {
        self.addr | !self.mask()
    }
}

/// An IPv6 address with its prefix length (`struct ipv6_netaddr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Net {
    /// The address as given.
    pub addr: u128,
    /// Prefix length.
    pub plen: u32,
}

impl Ipv6Net {
    /// The netmask.
    pub fn mask(&self) -> u128 {
        if self.plen == 0 {
            0
        } else {
            u128::MAX << (128 - self.plen)
        }
    }

    /// The network address.
    pub fn network(&self) -> u128 {
        self.addr & self.mask()
    }

    /// Whether the address is a /128 or has host bits set.
    pub fn is_host(&self) -> bool {
        self.plen == 128 || self.addr & !self.mask() != 0
    }
}

/// `struct lport_addresses`: a MAC and its IP addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LportAddresses {
    /// The Ethernet address, as a 48-bit number.
    pub ea: u64,
    /// IPv4 addresses.
    pub ipv4: Vec<Ipv4Net>,
    /// IPv6 addresses.
    pub ipv6: Vec<Ipv6Net>,
}

/// Parses a MAC `xx:xx:xx:xx:xx:xx` (1 or 2 hex digits per byte).
pub fn parse_mac(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut v = 0u64;
    for p in parts {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        v = (v << 8) | u64::from(u8::from_str_radix(p, 16).ok()?);
    }
    Some(v)
}

fn parse_plen(s: Option<&str>, max: u32, mask_of: impl Fn(&str) -> Option<u32>) -> Option<u32> {
    match s {
        None => Some(max),
        Some(p) => match p.parse::<u32>() {
            Ok(n) if n <= max => Some(n),
            Ok(_) => None,
            Err(_) => mask_of(p),
        },
    }
}

/// `ip_parse_cidr_len`: `A.B.C.D[/N or /MASK]` with a CIDR mask.
pub fn parse_ipv4_cidr(s: &str) -> Option<Ipv4Net> {
    let (ip, plen) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: Ipv4Addr = ip.parse().ok()?;
    let plen = parse_plen(plen, 32, |m| {
        let m = u32::from(m.parse::<Ipv4Addr>().ok()?);
        (m.leading_ones() + m.trailing_zeros() == 32).then_some(m.leading_ones())
    })?;
    Some(Ipv4Net {
        addr: u32::from(addr),
        plen,
    })
}

/// `ipv6_parse_cidr_len`: `X::Y[/N]`.
pub fn parse_ipv6_cidr(s: &str) -> Option<Ipv6Net> {
    let (ip, plen) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: Ipv6Addr = ip.parse().ok()?;
    let plen = parse_plen(plen, 128, |_| None)?;
    Some(Ipv6Net {
        addr: u128::from(addr),
        plen,
    })
}

/// Parses IP addresses until the first token that is not one
/// (`parse_and_store_addresses`: the rest is ignored).
fn parse_ips<'a>(tokens: impl Iterator<Item = &'a str>, out: &mut LportAddresses) {
    for t in tokens {
        if let Some(n) = parse_ipv4_cidr(t) {
            out.ipv4.push(n);
        } else if let Some(n) = parse_ipv6_cidr(t) {
            out.ipv6.push(n);
        } else {
            break;
        }
    }
}

/// `extract_lsp_addresses`: `MAC [IP[/PLEN]...]`; `None` without a MAC.
pub fn extract_lsp_addresses(s: &str) -> Option<LportAddresses> {
    let mut tokens = s.split_whitespace();
    let ea = parse_mac(tokens.next()?)?;
    let mut out = LportAddresses {
        ea,
        ..LportAddresses::default()
    };
    parse_ips(tokens, &mut out);
    Some(out)
}

/// `extract_ip_address`: at most one IPv4 and one IPv6 host address.
pub fn extract_ip_address(s: &str) -> Option<LportAddresses> {
    let mut out = LportAddresses::default();
    parse_ips(s.split_whitespace(), &mut out);
    let ok = (!out.ipv4.is_empty() || !out.ipv6.is_empty())
        && out.ipv4.len() <= 1
        && out.ipv6.len() <= 1
        && out.ipv4.iter().all(|n| n.plen == 32)
        && out.ipv6.iter().all(|n| n.plen == 128);
    ok.then_some(out)
}

/// `in6_generate_lla`: the EUI-64 link-local address of a MAC.
pub fn lla(ea: u64) -> u128 {
    let b = ea.to_be_bytes();
    let (e0, e1, e2, e3, e4, e5) = (b[2] ^ 2, b[3], b[4], b[5], b[6], b[7]);
    let bytes = [
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, e0, e1, e2, 0xff, 0xfe, e3, e4, e5,
    ];
    u128::from_be_bytes(bytes)
}

/// `ip_address_and_port_from_lb_key`: `IP`, `IP:PORT`, `[IP6]`,
/// `[IP6]:PORT` or a bare IPv6 address; the port is 0 when absent.
pub fn lb_key(s: &str) -> Option<(IpAddr, u16)> {
    let s = s.trim();
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':')?)),
        }
    } else if s.matches(':').count() > 1 {
        (s, None)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let ip: IpAddr = host.parse().ok()?;
    let port = match port {
        None => 0,
        Some(p) => p.parse().ok()?,
    };
    Some((ip, port))
}

/// One load-balancer VIP with its backends (`struct ovn_lb_vip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbVip {
    /// VIP address.
    pub vip: IpAddr,
    /// VIP port (0: none).
    pub port: u16,
    /// Backends: address and port (0: none).
    pub backends: Vec<(IpAddr, u16)>,
}

/// `ovn_lb_vip_init_explicit`: a VIP and its backends; `None` (the VIP is
/// ignored, as ovn-controller does) if the key or any backend is invalid,
/// of another address family, or disagrees with the VIP on having a port.
pub fn lb_vip(key: &str, value: &str) -> Option<LbVip> {
    let (vip, port) = lb_key(key)?;
    let mut backends = Vec::new();
    for token in value.split(',').filter(|t| !t.is_empty()) {
        let (ip, bport) = lb_key(token)?;
        if ip.is_ipv4() != vip.is_ipv4() || (port != 0) != (bport != 0) {
            return None;
        }
        backends.push((ip, bport));
    }
    Some(LbVip {
        vip,
        port,
        backends,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsp_addresses() {
        let a = extract_lsp_addresses("00:00:00:00:00:01 10.0.0.4/24 fd00::1 junk 1.2.3.4")
            .expect("parsed");
        assert_eq!(a.ea, 1);
        assert_eq!(
            a.ipv4,
            vec![Ipv4Net {
                addr: 0x0a00_0004,
                plen: 24
            }]
        );
        assert!(a.ipv4[0].is_host());
        assert_eq!(a.ipv4[0].bcast(), 0x0a00_00ff);
        assert_eq!(a.ipv6.len(), 1);
        assert!(extract_lsp_addresses("10.0.0.1").is_none());
        assert_eq!(
            lla(1),
            u128::from("fe80::200:ff:fe00:1".parse::<Ipv6Addr>().unwrap())
        );
    }

    #[test]
    fn lb_keys() {
        assert_eq!(
            lb_key("10.0.0.1:80"),
            Some(("10.0.0.1".parse().unwrap(), 80))
        );
        assert_eq!(
            lb_key("[fd00::1]:80"),
            Some(("fd00::1".parse().unwrap(), 80))
        );
        assert_eq!(lb_key("fd00::1"), Some(("fd00::1".parse().unwrap(), 0)));
        assert!(lb_vip("10.0.0.1:80", "10.0.0.2:80,10.0.0.3").is_none());
        assert_eq!(lb_vip("10.0.0.1", "").map(|v| v.backends.len()), Some(0));
    }
}
