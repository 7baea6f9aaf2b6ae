//! Address allocation on a Nodus network, per family: fixed addresses
//! are reserved first, then every interface gets the lowest free host
//! address of the first subnet of each family with room, skipping the
//! gateways and the excluded addresses (as OVN's `exclude_ips`: fixed
//! addresses may lie there).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::networks::NetInfo;
use super::subnets::{usable, usable6};

/// Hands out the addresses of one network.
#[derive(Debug)]
pub struct NetAlloc<'a> {
    net: &'a NetInfo,
    taken: BTreeMap<IpAddr, String>,
}

impl<'a> NetAlloc<'a> {
    /// A new allocator.
    pub fn new(net: &'a NetInfo) -> Self {
        NetAlloc {
            net,
            taken: BTreeMap::new(),
        }
    }

    fn outside(&self, ip: IpAddr) -> String {
        format!(
            "{ip} is outside the subnets of network {} ({})",
            self.net.name,
            self.net.subnet_list()
        )
    }

    fn why_not(&self, ip: IpAddr) -> Option<String> {
        match ip {
            IpAddr::V4(a) => {
                let Some(s) = self.net.subnet_of(a) else {
                    return Some(self.outside(ip));
                };
                if !usable(s.cidr, a) {
                    return Some(format!("{ip} is not a host address of {}", s.cidr));
                }
                if s.gateway == Some(a) {
                    return Some(format!("{ip} is the gateway of network {}", self.net.name));
                }
            }
            IpAddr::V6(a) => {
                let Some(s) = self.net.subnet6_of(a) else {
                    return Some(self.outside(ip));
                };
                if !usable6(s.cidr, a) {
                    return Some(format!("{ip} is not a host address of {}", s.cidr));
                }
                if s.gateway == Some(a) {
                    return Some(format!("{ip} is the gateway of network {}", self.net.name));
                }
            }
        }
        self.taken
            .get(&ip)
            .map(|o| format!("{ip} is already assigned to {o}"))
    }

    /// Reserves a fixed address for `owner`. Excluded addresses may be
    /// fixed (as OVN's `exclude_ips`, they are only kept from allocation).
    pub fn reserve(&mut self, ip: IpAddr, owner: &str) -> Result<(), String> {
        if let Some(m) = self.why_not(ip) {
            return Err(m);
        }
        self.taken.insert(ip, owner.to_string());
        Ok(())
    }

    /// The lowest free IPv4 address, for `owner`.
    pub fn allocate(&mut self, owner: &str) -> Option<Ipv4Addr> {
        for s in &self.net.subnets {
            let first = u32::from(s.cidr.network()) + 1;
            let last = u32::from(s.cidr.broadcast());
            for x in first..last {
                let ip = Ipv4Addr::from(x);
                if !self.net.excluded.contains(&ip) && self.why_not(IpAddr::V4(ip)).is_none() {
                    self.taken.insert(IpAddr::V4(ip), owner.to_string());
                    return Some(ip);
                }
            }
        }
        None
    }

    /// The lowest free IPv6 address, for `owner`. Excluded ranges are
    /// skipped whole, so a /64 with large exclusions costs no more than
    /// the addresses already taken.
    pub fn allocate6(&mut self, owner: &str) -> Option<Ipv6Addr> {
        for s in &self.net.subnets6 {
            let mut x = u128::from(s.cidr.network()) + 1;
            let last = u128::from(s.cidr.broadcast());
            while x <= last {
                let ip = Ipv6Addr::from(x);
                if let Some((_, end)) = self
                    .net
                    .excluded6
                    .iter()
                    .find(|(a, b)| *a <= ip && ip <= *b)
                {
                    x = u128::from(*end).checked_add(1)?;
                    continue;
                }
                if self.why_not(IpAddr::V6(ip)).is_none() {
                    self.taken.insert(IpAddr::V6(ip), owner.to_string());
                    return Some(ip);
                }
                x += 1;
            }
        }
        None
    }
}
