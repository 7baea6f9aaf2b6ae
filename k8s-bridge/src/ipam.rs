//! Address allocation, deterministic: the same input always gets the same
//! addresses. Node subnets are carved from `--cluster-subnets` in sorted
//! node-name order (a node's `k8s.ovn.org/node-subnets` annotation pins
//! its subnet); pod IPs from their node's subnet in sorted `namespace/name`
//! order, lowest free address first, after the network address, the
//! router `.1` and the management port `.2` (ovn-kubernetes'
//! logical_switch_manager excludes the same); a pod's
//! `k8s.ovn.org/pod-networks` annotation pins its IP. ClusterIPs come
//! from `--service-cidrs` and NodePorts from 30000-32767 the same way.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::error::{Error, Result};

/// One `--cluster-subnets` entry: a CIDR and the prefix length of each
/// node's subnet (`10.128.0.0/14/23`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterSubnet {
    /// The cluster CIDR.
    pub cidr: Ipv4Network,
    /// The per-node prefix length.
    pub host_prefix: u8,
}

/// Translation settings (the shared flags of `ovnflow k8s`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The pod network, split into node subnets.
    pub cluster_subnets: Vec<ClusterSubnet>,
    /// The ClusterIP ranges.
    pub service_cidrs: Vec<Ipv4Network>,
    /// The join switch subnet (ovn-kubernetes' default `100.64.0.0/16`).
    pub join_subnet: Ipv4Network,
}

/// ovn-kubernetes' default cluster subnet.
pub const DEFAULT_CLUSTER_SUBNETS: &str = "10.128.0.0/14/23";
/// Kubernetes' usual default service CIDR.
pub const DEFAULT_SERVICE_CIDRS: &str = "10.96.0.0/16";

impl Default for Config {
    fn default() -> Self {
        Config::parse(DEFAULT_CLUSTER_SUBNETS, DEFAULT_SERVICE_CIDRS).expect("defaults parse")
    }
}

fn parse_v4_cidr(flag: &str, s: &str) -> Result<Ipv4Network> {
    let bad = |m: String| Error::Config {
        flag: flag.into(),
        message: format!("{s:?}: {m}"),
    };
    if s.contains(':') {
        return Err(bad(
            "IPv6 is not supported yet (IPv4 single-stack only)".into()
        ));
    }
    let net: Ipv4Network = s.parse().map_err(|e| bad(format!("invalid CIDR: {e}")))?;
    if net.network() != net.ip() {
        return Err(bad(format!(
            "host bits set (the network is {})",
            net.network()
        )));
    }
    Ok(net)
}

impl Config {
    /// Parses `--cluster-subnets` (comma-separated `CIDR[/HOSTPREFIX]`,
    /// host prefix 24 when omitted, as ovn-kubernetes) and
    /// `--service-cidrs` (comma-separated CIDRs).
    pub fn parse(cluster_subnets: &str, service_cidrs: &str) -> Result<Config> {
        let flag = "--cluster-subnets";
        let mut cs = Vec::new();
        for entry in cluster_subnets
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let parts: Vec<&str> = entry.split('/').collect();
            let (cidr, host) = match parts.as_slice() {
                [ip, len] => (format!("{ip}/{len}"), None),
                [ip, len, host] => (format!("{ip}/{len}"), Some(*host)),
                _ => {
                    return Err(Error::Config {
                        flag: flag.into(),
                        message: format!(
                            "{entry:?}: expected CIDR/HOSTPREFIX, e.g. 10.128.0.0/14/23"
                        ),
                    })
                }
            };
            let net = parse_v4_cidr(flag, &cidr)?;
            let host_prefix = match host {
                None => 24,
                Some(h) => h.parse::<u8>().map_err(|_| Error::Config {
                    flag: flag.into(),
                    message: format!("{entry:?}: host prefix {h:?} is not a number"),
                })?,
            };
            if host_prefix < net.prefix() || host_prefix > 30 {
                return Err(Error::Config {
                    flag: flag.into(),
                    message: format!(
                        "{entry:?}: host prefix /{host_prefix} must be between the CIDR's /{} and /30",
                        net.prefix()
                    ),
                });
            }
            cs.push(ClusterSubnet {
                cidr: net,
                host_prefix,
            });
        }
        if cs.is_empty() {
            return Err(Error::Config {
                flag: flag.into(),
                message: "no subnet given".into(),
            });
        }
        let mut sc = Vec::new();
        for entry in service_cidrs
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            sc.push(parse_v4_cidr("--service-cidrs", entry)?);
        }
        if sc.is_empty() {
            return Err(Error::Config {
                flag: "--service-cidrs".into(),
                message: "no CIDR given".into(),
            });
        }
        for (i, a) in cs.iter().enumerate() {
            for b in &cs[i + 1..] {
                if overlaps(a.cidr, b.cidr) {
                    return Err(Error::Config {
                        flag: flag.into(),
                        message: format!("{} overlaps {}", a.cidr, b.cidr),
                    });
                }
            }
            for s in &sc {
                if overlaps(a.cidr, *s) {
                    return Err(Error::Config {
                        flag: "--service-cidrs".into(),
                        message: format!("{s} overlaps cluster subnet {}", a.cidr),
                    });
                }
            }
        }
        Ok(Config {
            cluster_subnets: cs,
            service_cidrs: sc,
            join_subnet: "100.64.0.0/16".parse().expect("constant"),
        })
    }

    /// Whether `net` lies inside one of the cluster subnets.
    pub fn in_cluster(&self, net: Ipv4Network) -> bool {
        self.cluster_subnets
            .iter()
            .any(|c| c.cidr.contains(net.network()) && c.cidr.contains(net.broadcast()))
    }
}

/// Whether two networks share an address.
pub fn overlaps(a: Ipv4Network, b: Ipv4Network) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

/// The address `n` places after the network address of `net`.
pub fn nth(net: Ipv4Network, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).wrapping_add(n))
}

/// Hands out node subnets: the pinned ones first, then the free ones in
/// order of the cluster subnets.
#[derive(Debug)]
pub struct SubnetAllocator<'a> {
    cfg: &'a Config,
    taken: Vec<Ipv4Network>,
}

impl<'a> SubnetAllocator<'a> {
    /// A new allocator.
    pub fn new(cfg: &'a Config) -> Self {
        SubnetAllocator {
            cfg,
            taken: Vec::new(),
        }
    }

    /// Reserves a pinned subnet; the error says why it cannot be used.
    pub fn reserve(&mut self, net: Ipv4Network) -> std::result::Result<(), String> {
        if !self.cfg.in_cluster(net) {
            return Err(format!("{net} is outside the cluster subnets"));
        }
        if let Some(t) = self.taken.iter().find(|t| overlaps(**t, net)) {
            return Err(format!("{net} overlaps {t}, already in use"));
        }
        self.taken.push(net);
        Ok(())
    }

    /// The next free node subnet.
    pub fn allocate(&mut self) -> Option<Ipv4Network> {
        for cs in &self.cfg.cluster_subnets {
            let count = 1u64 << (cs.host_prefix - cs.cidr.prefix());
            let size = 1u64 << (32 - cs.host_prefix);
            for i in 0..count {
                let base = u32::from(cs.cidr.network()) as u64 + i * size;
                let net = Ipv4Network::new(Ipv4Addr::from(base as u32), cs.host_prefix).ok()?;
                if !self.taken.iter().any(|t| overlaps(*t, net)) {
                    self.taken.push(net);
                    return Some(net);
                }
            }
        }
        None
    }
}

/// Hands out addresses of one network, skipping the first `skip` host
/// addresses and the broadcast address.
#[derive(Debug)]
pub struct IpAllocator {
    net: Ipv4Network,
    skip: u32,
    taken: BTreeSet<Ipv4Addr>,
    next: u32,
}

impl IpAllocator {
    /// An allocator for `net` whose first usable address is `net + skip + 1`.
    pub fn new(net: Ipv4Network, skip: u32) -> Self {
        IpAllocator {
            net,
            skip,
            taken: BTreeSet::new(),
            next: skip + 1,
        }
    }

    fn usable(&self, ip: Ipv4Addr) -> bool {
        let off = u32::from(ip).wrapping_sub(u32::from(self.net.network()));
        self.net.contains(ip) && off > self.skip && ip != self.net.broadcast()
    }

    /// Reserves a pinned address; the error says why it cannot be used.
    pub fn reserve(&mut self, ip: Ipv4Addr) -> std::result::Result<(), String> {
        if !self.net.contains(ip) {
            return Err(format!("{ip} is outside {}", self.net));
        }
        if !self.usable(ip) {
            return Err(format!("{ip} is reserved in {}", self.net));
        }
        if !self.taken.insert(ip) {
            return Err(format!("{ip} is already in use"));
        }
        Ok(())
    }

    /// The lowest free address.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let size = 1u64 << (32 - self.net.prefix());
        while u64::from(self.next) < size {
            let ip = nth(self.net, self.next);
            self.next += 1;
            if self.usable(ip) && self.taken.insert(ip) {
                return Some(ip);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cluster_subnets_split_into_slash_23() {
        let cfg = Config::default();
        let mut a = SubnetAllocator::new(&cfg);
        assert_eq!(a.allocate().unwrap().to_string(), "10.128.0.0/23");
        assert_eq!(a.allocate().unwrap().to_string(), "10.128.2.0/23");
        a.reserve("10.128.4.0/23".parse().unwrap()).unwrap();
        assert_eq!(a.allocate().unwrap().to_string(), "10.128.6.0/23");
        assert!(a.reserve("10.200.0.0/23".parse().unwrap()).is_err());
    }

    #[test]
    fn pod_ips_start_after_router_and_management_port() {
        let mut a = IpAllocator::new("10.128.0.0/23".parse().unwrap(), 2);
        a.reserve("10.128.0.4".parse().unwrap()).unwrap();
        assert_eq!(a.allocate().unwrap().to_string(), "10.128.0.3");
        assert_eq!(a.allocate().unwrap().to_string(), "10.128.0.5");
        assert!(a.reserve("10.128.0.2".parse().unwrap()).is_err());
        assert!(a.reserve("10.128.0.4".parse().unwrap()).is_err());
        assert!(a.reserve("10.128.1.255".parse().unwrap()).is_err());
        assert!(a.reserve("10.128.2.1".parse().unwrap()).is_err());
    }

    #[test]
    fn bad_flags_are_named() {
        let e = Config::parse("10.128.0.0/33/23", "10.96.0.0/16").unwrap_err();
        assert!(e.to_string().starts_with("--cluster-subnets"), "{e}");
        let e = Config::parse("10.128.0.0/14/23", "10.96.0.1/16").unwrap_err();
        assert!(e.to_string().contains("host bits"), "{e}");
    }
}
