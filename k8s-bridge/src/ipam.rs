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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};

use crate::error::{Error, Result};

/// One `--cluster-subnets` entry: a CIDR and the prefix length of each
/// node's subnet (`10.128.0.0/14/23`, `fd00:10:128::/48/64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterSubnet {
    /// The cluster CIDR (IPv4 or IPv6).
    pub cidr: IpNetwork,
    /// The per-node prefix length.
    pub host_prefix: u8,
}

/// Translation settings (the shared flags of `ovnflow k8s`). The IP
/// families in use are those of the cluster subnets (ovn-kubernetes'
/// `IPv4Mode`/`IPv6Mode`): IPv4, IPv6 or both (dual-stack, IPv4 first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The pod network, split into node subnets.
    pub cluster_subnets: Vec<ClusterSubnet>,
    /// The ClusterIP ranges (one or more per family in use).
    pub service_cidrs: Vec<IpNetwork>,
    /// The IPv4 join switch subnet (ovn-kubernetes' default `100.64.0.0/16`).
    pub join_subnet: Ipv4Network,
    /// The IPv6 join switch subnet (ovn-kubernetes' default `fd98::/64`).
    pub join_subnet6: Ipv6Network,
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

fn parse_cidr(flag: &str, s: &str) -> Result<IpNetwork> {
    let bad = |m: String| Error::Config {
        flag: flag.into(),
        message: format!("{s:?}: {m}"),
    };
    let net: IpNetwork = s.parse().map_err(|e| bad(format!("invalid CIDR: {e}")))?;
    if net.network() != net.ip() {
        return Err(bad(format!(
            "host bits set (the network is {})",
            net.network()
        )));
    }
    Ok(net)
}

/// The family name ovn-kubernetes uses in names and ids.
pub fn family(v6: bool) -> &'static str {
    if v6 {
        "v6"
    } else {
        "v4"
    }
}

impl Config {
    /// Parses `--cluster-subnets` (comma-separated `CIDR[/HOSTPREFIX]`,
    /// IPv4 or IPv6; host prefix 24 for IPv4 and 64 for IPv6 when omitted,
    /// and IPv6 allows only /64, as ovn-kubernetes) and `--service-cidrs`
    /// (comma-separated CIDRs). Both must use the same IP families.
    pub fn parse(cluster_subnets: &str, service_cidrs: &str) -> Result<Config> {
        let flag = "--cluster-subnets";
        let err = |flag: &str, message: String| Error::Config {
            flag: flag.into(),
            message,
        };
        let mut cs = Vec::new();
        for entry in cluster_subnets
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            // The host prefix is the last `/N` when there are two.
            let (cidr, host) = match entry.matches('/').count() {
                1 => (entry, None),
                2 => {
                    let (c, h) = entry.rsplit_once('/').expect("two slashes");
                    (c, Some(h))
                }
                _ => {
                    return Err(err(
                        flag,
                        format!("{entry:?}: expected CIDR/HOSTPREFIX, e.g. 10.128.0.0/14/23"),
                    ))
                }
            };
            let net = parse_cidr(flag, cidr)?;
            let host_prefix = match host {
                None if net.is_ipv6() => 64,
                None => 24,
                Some(h) => h.parse::<u8>().map_err(|_| {
                    err(
                        flag,
                        format!("{entry:?}: host prefix {h:?} is not a number"),
                    )
                })?,
            };
            if net.is_ipv6() {
                if host_prefix != 64 || net.prefix() > 64 {
                    return Err(err(
                        flag,
                        format!("{entry:?}: IPv6 only supports /64 host subnets (in a CIDR of /64 or shorter)"),
                    ));
                }
            } else if host_prefix < net.prefix() || host_prefix > 30 {
                return Err(err(
                    flag,
                    format!(
                        "{entry:?}: host prefix /{host_prefix} must be between the CIDR's /{} and /30",
                        net.prefix()
                    ),
                ));
            }
            cs.push(ClusterSubnet {
                cidr: net,
                host_prefix,
            });
        }
        if cs.is_empty() {
            return Err(err(flag, "no subnet given".into()));
        }
        let mut sc = Vec::new();
        for entry in service_cidrs
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            sc.push(parse_cidr("--service-cidrs", entry)?);
        }
        if sc.is_empty() {
            return Err(err("--service-cidrs", "no CIDR given".into()));
        }
        for (i, a) in cs.iter().enumerate() {
            for b in &cs[i + 1..] {
                if overlaps_ip(a.cidr, b.cidr) {
                    return Err(err(flag, format!("{} overlaps {}", a.cidr, b.cidr)));
                }
            }
            for s in &sc {
                if overlaps_ip(a.cidr, *s) {
                    return Err(err(
                        "--service-cidrs",
                        format!("{s} overlaps cluster subnet {}", a.cidr),
                    ));
                }
            }
        }
        let fams = |v6: bool| {
            (
                cs.iter().any(|c| c.cidr.is_ipv6() == v6),
                sc.iter().any(|c| c.is_ipv6() == v6),
            )
        };
        for v6 in [false, true] {
            let name = if v6 { "IPv6" } else { "IPv4" };
            match fams(v6) {
                (true, false) => {
                    return Err(err(
                        "--service-cidrs",
                        format!("the cluster subnets use {name}, the service CIDRs do not (dual-stack needs both families in both flags)"),
                    ))
                }
                (false, true) => {
                    return Err(err(
                        "--service-cidrs",
                        format!("the service CIDRs use {name}, the cluster subnets do not"),
                    ))
                }
                _ => {}
            }
        }
        // IPv4 first, as ovn-kubernetes lists dual-stack addresses.
        cs.sort_by_key(|c| c.cidr.is_ipv6());
        sc.sort_by_key(|c| c.is_ipv6());
        Ok(Config {
            cluster_subnets: cs,
            service_cidrs: sc,
            join_subnet: "100.64.0.0/16".parse().expect("constant"),
            join_subnet6: "fd98::/64".parse().expect("constant"),
        })
    }

    /// Whether IPv4 is in use (`IPv4Mode`).
    pub fn ipv4(&self) -> bool {
        self.cluster_subnets.iter().any(|c| c.cidr.is_ipv4())
    }

    /// Whether IPv6 is in use (`IPv6Mode`).
    pub fn ipv6(&self) -> bool {
        self.cluster_subnets.iter().any(|c| c.cidr.is_ipv6())
    }

    /// The families in use, IPv4 first (`false` = IPv4, `true` = IPv6).
    pub fn families(&self) -> Vec<bool> {
        let mut v = Vec::new();
        if self.ipv4() {
            v.push(false);
        }
        if self.ipv6() {
            v.push(true);
        }
        v
    }

    /// The join subnet of a family.
    pub fn join(&self, v6: bool) -> IpNetwork {
        if v6 {
            IpNetwork::V6(self.join_subnet6)
        } else {
            IpNetwork::V4(self.join_subnet)
        }
    }

    /// The join subnets of the families in use, IPv4 first.
    pub fn joins(&self) -> Vec<IpNetwork> {
        self.families().into_iter().map(|f| self.join(f)).collect()
    }

    /// Whether `net` lies inside one of the cluster subnets.
    pub fn in_cluster(&self, net: IpNetwork) -> bool {
        self.cluster_subnets
            .iter()
            .any(|c| c.cidr.contains(net.network()) && c.cidr.contains(net.broadcast()))
    }
}

/// Whether two IPv4 networks share an address.
pub fn overlaps(a: Ipv4Network, b: Ipv4Network) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

/// Whether two networks share an address (different families never do).
pub fn overlaps_ip(a: IpNetwork, b: IpNetwork) -> bool {
    a.is_ipv6() == b.is_ipv6() && (a.contains(b.network()) || b.contains(a.network()))
}

/// The address `n` places after the network address of an IPv4 `net`.
pub fn nth(net: Ipv4Network, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).wrapping_add(n))
}

/// An address as a number.
fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// A number as an address of the family of `like`.
fn from_u128(like: IpNetwork, x: u128) -> IpAddr {
    match like {
        IpNetwork::V4(_) => IpAddr::V4(Ipv4Addr::from(x as u32)),
        IpNetwork::V6(_) => IpAddr::V6(Ipv6Addr::from(x)),
    }
}

/// The number of addresses of `net` (saturating for an IPv6 /0).
fn size_of(net: IpNetwork) -> u128 {
    let bits = if net.is_ipv6() { 128 } else { 32 };
    1u128
        .checked_shl(u32::from(bits - net.prefix()))
        .unwrap_or(u128::MAX)
}

/// The address `n` places after the network address of `net`, either family.
pub fn nth_ip(net: IpNetwork, n: u128) -> IpAddr {
    from_u128(net, to_u128(net.network()).wrapping_add(n))
}

/// An address with a prefix length, as OVN writes router networks
/// (`10.244.0.1/24`, `fd00::1/64`).
pub fn with_prefix(ip: IpAddr, prefix: u8) -> String {
    format!("{ip}/{prefix}")
}

/// `ip:port`, with IPv6 addresses in brackets (`net.JoinHostPort`).
pub fn host_port(ip: IpAddr, port: i32) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Hands out node subnets: the pinned ones first, then the free ones in
/// order of the cluster subnets of the family asked for.
#[derive(Debug)]
pub struct SubnetAllocator<'a> {
    cfg: &'a Config,
    taken: Vec<IpNetwork>,
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
    pub fn reserve(&mut self, net: IpNetwork) -> std::result::Result<(), String> {
        if !self.cfg.in_cluster(net) {
            return Err(format!("{net} is outside the cluster subnets"));
        }
        if let Some(t) = self.taken.iter().find(|t| overlaps_ip(**t, net)) {
            return Err(format!("{net} overlaps {t}, already in use"));
        }
        self.taken.push(net);
        Ok(())
    }

    /// The next free node subnet of a family (`v6`).
    pub fn allocate(&mut self, v6: bool) -> Option<IpNetwork> {
        for cs in self
            .cfg
            .cluster_subnets
            .iter()
            .filter(|c| c.cidr.is_ipv6() == v6)
        {
            let count = 1u128 << (cs.host_prefix - cs.cidr.prefix()).min(127);
            let size = size_of(IpNetwork::new(cs.cidr.network(), cs.host_prefix).ok()?);
            let mut i = 0u128;
            while i < count {
                let base = nth_ip(cs.cidr, i * size);
                let net = IpNetwork::new(base, cs.host_prefix).ok()?;
                match self.taken.iter().find(|t| overlaps_ip(**t, net)) {
                    None => {
                        self.taken.push(net);
                        return Some(net);
                    }
                    // Skip past a larger pinned subnet at once.
                    Some(t) => {
                        let end = to_u128(t.network()) + size_of(*t);
                        let next = end.saturating_sub(to_u128(cs.cidr.network())) / size;
                        i = next.max(i + 1);
                    }
                }
            }
        }
        None
    }
}

/// Hands out addresses of one network, skipping the first `skip` host
/// addresses and the last address (IPv4 broadcast; ovn-kubernetes'
/// allocator leaves it out for IPv6 too).
#[derive(Debug)]
pub struct IpAllocator {
    net: IpNetwork,
    skip: u128,
    taken: BTreeSet<IpAddr>,
    next: u128,
}

impl IpAllocator {
    /// An allocator for `net` whose first usable address is `net + skip + 1`.
    pub fn new(net: impl Into<IpNetwork>, skip: u32) -> Self {
        IpAllocator {
            net: net.into(),
            skip: u128::from(skip),
            taken: BTreeSet::new(),
            next: u128::from(skip) + 1,
        }
    }

    /// The network.
    pub fn net(&self) -> IpNetwork {
        self.net
    }

    fn usable(&self, ip: IpAddr) -> bool {
        if !self.net.contains(ip) {
            return false;
        }
        let off = to_u128(ip).wrapping_sub(to_u128(self.net.network()));
        off > self.skip && off < size_of(self.net) - 1
    }

    /// Reserves a pinned address; the error says why it cannot be used.
    pub fn reserve(&mut self, ip: impl Into<IpAddr>) -> std::result::Result<(), String> {
        let ip = ip.into();
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
    pub fn allocate(&mut self) -> Option<IpAddr> {
        let size = size_of(self.net);
        while self.next < size {
            let ip = nth_ip(self.net, self.next);
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
        assert_eq!(a.allocate(false).unwrap().to_string(), "10.128.0.0/23");
        assert_eq!(a.allocate(false).unwrap().to_string(), "10.128.2.0/23");
        a.reserve("10.128.4.0/23".parse().unwrap()).unwrap();
        assert_eq!(a.allocate(false).unwrap().to_string(), "10.128.6.0/23");
        assert!(a.reserve("10.200.0.0/23".parse().unwrap()).is_err());
    }

    /// ovn-kubernetes' dual-stack flags: both families, IPv6 /64 node
    /// subnets carved from the /48.
    #[test]
    fn dual_stack_cluster_subnets() {
        let cfg = Config::parse(
            "fd00:10:128::/48/64,10.128.0.0/14/23",
            "10.96.0.0/16,fd00:10:96::/112",
        )
        .unwrap();
        assert_eq!(cfg.families(), vec![false, true]);
        assert_eq!(cfg.cluster_subnets[0].cidr.to_string(), "10.128.0.0/14");
        let mut a = SubnetAllocator::new(&cfg);
        assert_eq!(a.allocate(true).unwrap().to_string(), "fd00:10:128::/64");
        assert_eq!(a.allocate(false).unwrap().to_string(), "10.128.0.0/23");
        assert_eq!(a.allocate(true).unwrap().to_string(), "fd00:10:128:1::/64");
        let mut p = IpAllocator::new("fd00:10:128:1::/64".parse::<IpNetwork>().unwrap(), 2);
        assert_eq!(p.allocate().unwrap().to_string(), "fd00:10:128:1::3");
        assert_eq!(host_port("fd00::1".parse().unwrap(), 80), "[fd00::1]:80");
        let e = Config::parse("fd00:10:128::/48/56", "fd00:10:96::/112").unwrap_err();
        assert!(e.to_string().contains("/64"), "{e}");
        let e = Config::parse("10.128.0.0/14/23,fd00:10:128::/48", "10.96.0.0/16").unwrap_err();
        assert!(e.to_string().contains("IPv6"), "{e}");
    }

    #[test]
    fn pod_ips_start_after_router_and_management_port() {
        let mut a = IpAllocator::new("10.128.0.0/23".parse::<IpNetwork>().unwrap(), 2);
        a.reserve("10.128.0.4".parse::<IpAddr>().unwrap()).unwrap();
        assert_eq!(a.allocate().unwrap().to_string(), "10.128.0.3");
        assert_eq!(a.allocate().unwrap().to_string(), "10.128.0.5");
        assert!(a.reserve("10.128.0.2".parse::<IpAddr>().unwrap()).is_err());
        assert!(a.reserve("10.128.0.4".parse::<IpAddr>().unwrap()).is_err());
        assert!(a
            .reserve("10.128.1.255".parse::<IpAddr>().unwrap())
            .is_err());
        assert!(a.reserve("10.128.2.1".parse::<IpAddr>().unwrap()).is_err());
    }

    #[test]
    fn bad_flags_are_named() {
        let e = Config::parse("10.128.0.0/33/23", "10.96.0.0/16").unwrap_err();
        assert!(e.to_string().starts_with("--cluster-subnets"), "{e}");
        let e = Config::parse("10.128.0.0/14/23", "10.96.0.1/16").unwrap_err();
        assert!(e.to_string().contains("host bits"), "{e}");
    }
}
