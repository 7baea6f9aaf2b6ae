//! Router port networks (`extract_lrp_networks()` in lib/ovn-util.c) and
//! the address helpers the router rules print with.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::rules::addr::{parse_mac, solicited_node};

/// An IPv4 network of a router port (`struct ipv4_netaddr`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct V4Net {
    /// The address.
    pub addr: Ipv4Addr,
    /// The prefix length.
    pub plen: u8,
}

impl V4Net {
    /// `mask`.
    pub fn mask(&self) -> u32 {
        if self.plen == 0 {
            0
        } else {
            u32::MAX << (32 - self.plen as u32)
        }
    }

    /// `addr_s`.
    pub fn addr_s(&self) -> String {
        self.addr.to_string()
    }

    /// `network_s`.
    pub fn network_s(&self) -> String {
        Ipv4Addr::from(u32::from(self.addr) & self.mask()).to_string()
    }

    /// `bcast_s`.
    pub fn bcast_s(&self) -> String {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask()).to_string()
    }

    /// Whether `ip` is on this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }
}

/// An IPv6 network of a router port (`struct ipv6_netaddr`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct V6Net {
    /// The address.
    pub addr: Ipv6Addr,
    /// The prefix length.
    pub plen: u8,
}

impl V6Net {
    /// `mask`.
    pub fn mask(&self) -> u128 {
        if self.plen == 0 {
            0
        } else {
            u128::MAX << (128 - self.plen as u32)
        }
    }

    /// `addr_s`.
    pub fn addr_s(&self) -> String {
        self.addr.to_string()
    }

    /// `network_s`.
    pub fn network_s(&self) -> String {
        Ipv6Addr::from(u128::from(self.addr) & self.mask()).to_string()
    }

    /// `sn_addr_s`: the solicited-node multicast address.
    pub fn sn_addr_s(&self) -> String {
        solicited_node(&self.addr).to_string()
    }

    /// `in6_is_lla()` of the network.
    pub fn is_lla(&self) -> bool {
        let n = u128::from(self.addr) & self.mask();
        (n >> 64) as u64 & 0xffc0_0000_0000_0000 == 0xfe80_0000_0000_0000
    }

    /// Whether `ip` is on this network.
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & self.mask() == u128::from(self.addr) & self.mask()
    }
}

/// `op->lrp_networks`: the MAC, the IPv4 networks and the IPv6 networks
/// (the link-local address derived from the MAC last).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LrpNetworks {
    /// `ea_s`.
    pub ea_s: String,
    /// IPv4 networks in `networks` order.
    pub ipv4: Vec<V4Net>,
    /// IPv6 networks in `networks` order, then the link-local address.
    pub ipv6: Vec<V6Net>,
}

/// `ip_parse_cidr()` (also `a.b.c.d/m.m.m.m` with a CIDR mask).
pub fn parse_v4_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, plen) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (s, None),
    };
    let ip: Ipv4Addr = ip.parse().ok()?;
    let plen = match plen {
        None => 32,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= 32 && !p.starts_with('+') => n,
            _ => {
                let m = u32::from(p.parse::<Ipv4Addr>().ok()?);
                let n = m.leading_ones();
                if m.checked_shl(n).unwrap_or(0) != 0 {
                    return None;
                }
                n as u8
            }
        },
    };
    Some((ip, plen))
}

/// `ipv6_parse_cidr()`.
pub fn parse_v6_cidr(s: &str) -> Option<(Ipv6Addr, u8)> {
    let (ip, plen) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (s, None),
    };
    let ip: Ipv6Addr = ip.parse().ok()?;
    let plen = match plen {
        None => 128,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= 128 => n,
            _ => return None,
        },
    };
    Some((ip, plen))
}

/// `in6_generate_lla()`: the EUI-64 link-local address of a MAC.
pub fn lla(mac: &str) -> Option<Ipv6Addr> {
    let b: Vec<u8> = mac
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).ok())
        .collect::<Option<_>>()?;
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8] = b[0] ^ 0x02;
    o[9] = b[1];
    o[10] = b[2];
    o[11] = 0xff;
    o[12] = 0xfe;
    o[13] = b[3];
    o[14] = b[4];
    o[15] = b[5];
    Some(Ipv6Addr::from(o))
}

impl LrpNetworks {
    /// `extract_lrp_networks()`: `None` when the MAC does not parse (northd
    /// then ignores the port); networks that parse as neither family, and
    /// 0.0.0.0, are skipped.
    pub fn extract(mac: &str, networks: &[String]) -> Option<LrpNetworks> {
        let ea_s = parse_mac(mac)?;
        let mut out = LrpNetworks {
            ea_s: ea_s.clone(),
            ipv4: Vec::new(),
            ipv6: Vec::new(),
        };
        for n in networks {
            if let Some((ip, plen)) = parse_v4_cidr(n) {
                if !ip.is_unspecified() {
                    out.ipv4.push(V4Net { addr: ip, plen });
                }
            } else if let Some((ip, plen)) = parse_v6_cidr(n) {
                out.ipv6.push(V6Net { addr: ip, plen });
            }
        }
        out.ipv6.push(V6Net {
            addr: lla(&ea_s)?,
            plen: 64,
        });
        Some(out)
    }

    /// `find_lport_address()`: the port address on the same network as
    /// `ip` (either family), as text.
    pub fn find_member_ip(&self, ip: &str) -> Option<String> {
        if ip.contains('.') {
            let ip: Ipv4Addr = ip.parse().ok()?;
            self.ipv4.iter().find(|n| n.contains(ip)).map(V4Net::addr_s)
        } else {
            let ip: Ipv6Addr = ip.parse().ok()?;
            self.ipv6.iter().find(|n| n.contains(ip)).map(V6Net::addr_s)
        }
    }

    /// `op_put_v4_networks()`: one address bare, several (or with
    /// broadcast addresses) in braces.
    pub fn v4_set(&self, add_bcast: bool) -> String {
        if !add_bcast && self.ipv4.len() == 1 {
            return self.ipv4[0].addr_s();
        }
        let mut items = Vec::new();
        for n in &self.ipv4 {
            items.push(n.addr_s());
            if add_bcast {
                items.push(n.bcast_s());
            }
        }
        format!("{{{}}}", items.join(", "))
    }

    /// `op_put_v6_networks()`.
    pub fn v6_set(&self) -> String {
        if self.ipv6.len() == 1 {
            return self.ipv6[0].addr_s();
        }
        let items: Vec<String> = self.ipv6.iter().map(V6Net::addr_s).collect();
        format!("{{{}}}", items.join(", "))
    }

    /// The networks as the addresses of a switch port with `router` in its
    /// `addresses` (`op->lsp_addrs` filled from the peer).
    pub fn as_lport_addresses(&self) -> crate::rules::addr::LportAddresses {
        crate::rules::addr::LportAddresses {
            ea_s: self.ea_s.clone(),
            ipv4: self.ipv4.iter().map(V4Net::addr_s).collect(),
            ipv6: self
                .ipv6
                .iter()
                .map(|n| (n.addr_s(), n.sn_addr_s()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_with_link_local_last() {
        let n = LrpNetworks::extract(
            "00:00:00:00:FF:01",
            &["10.0.0.1/24".into(), "fd00::1/64".into(), "bad".into()],
        )
        .unwrap();
        assert_eq!(n.ea_s, "00:00:00:00:ff:01");
        assert_eq!(n.ipv4[0].network_s(), "10.0.0.0");
        assert_eq!(n.ipv4[0].bcast_s(), "10.0.0.255");
        assert_eq!(n.ipv6[1].addr_s(), "fe80::200:ff:fe00:ff01");
        assert!(n.ipv6[1].is_lla());
        assert!(!n.ipv6[0].is_lla());
        assert_eq!(n.find_member_ip("10.0.0.7").as_deref(), Some("10.0.0.1"));
        assert_eq!(n.find_member_ip("10.0.1.7"), None);
        assert_eq!(n.v4_set(true), "{10.0.0.1, 10.0.0.255}");
        assert!(LrpNetworks::extract("zz", &[]).is_none());
    }
}
