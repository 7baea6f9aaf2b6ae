//! The subnets of a Nodus network, both families: `ipv4Subnets` and
//! `ipv6Subnets` (the same `IpSubnet` type in Nodus' CRDs: `subnet`,
//! `gateway`, `excludeIps`) and the network's `routes`, checked.
//!
//! Nodus itself only reads `ipv4Subnets[0]`; this bridge honours every
//! subnet of both lists. A network may be IPv4-only, IPv6-only or
//! dual-stack; pods on it get one address per family it has.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};

use super::crd::{IpSubnet, Route};

/// One IPv4 subnet of a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet {
    /// The CIDR.
    pub cidr: Ipv4Network,
    /// The router address, if routed.
    pub gateway: Option<Ipv4Addr>,
}

/// One IPv6 subnet of a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet6 {
    /// The CIDR.
    pub cidr: Ipv6Network,
    /// The router address, if routed.
    pub gateway: Option<Ipv6Addr>,
}

/// A network's checked subnets, excluded addresses and routes.
#[derive(Clone, Debug, Default)]
pub struct Validated {
    /// IPv4 subnets, in spec order.
    pub subnets: Vec<Subnet>,
    /// IPv6 subnets, in spec order.
    pub subnets6: Vec<Subnet6>,
    /// Excluded IPv4 addresses.
    pub excluded: BTreeSet<Ipv4Addr>,
    /// Excluded IPv6 ranges (first, last), inclusive.
    pub excluded6: Vec<(Ipv6Addr, Ipv6Addr)>,
    /// Routes for pods: destination and next hop, of one family each.
    pub routes: Vec<(IpNetwork, IpAddr)>,
}

/// Parses an IPv4 CIDR whose host bits are clear.
pub fn parse_cidr(s: &str) -> Result<Ipv4Network, String> {
    host_bits_clear(s, s.trim().parse::<Ipv4Network>(), "")
}

/// Parses an IPv6 CIDR whose host bits are clear.
pub fn parse_cidr6(s: &str) -> Result<Ipv6Network, String> {
    host_bits_clear(s, s.trim().parse::<Ipv6Network>(), "IPv6 ")
}

/// The parsed network `net` of `s`, if it parsed and its host bits are
/// clear (`family` names the family in the error, e.g. `"IPv6 "`).
fn host_bits_clear<N: Copy + Into<IpNetwork>>(
    s: &str,
    net: Result<N, impl std::fmt::Display>,
    family: &str,
) -> Result<N, String> {
    let net = net.map_err(|e| format!("invalid {family}CIDR {s:?}: {e}"))?;
    let any: IpNetwork = net.into();
    if any.network() != any.ip() {
        return Err(format!(
            "{s}: host bits set (the network is {})",
            any.network()
        ));
    }
    Ok(net)
}

/// Parses a CIDR of either family whose host bits are clear.
pub fn parse_cidr_any(s: &str) -> Result<IpNetwork, String> {
    if s.contains(':') {
        parse_cidr6(s).map(IpNetwork::V6)
    } else {
        parse_cidr(s).map(IpNetwork::V4)
    }
}

/// Parses an IPv4 address, optionally with a `/prefix` (which is dropped).
pub fn parse_ip(s: &str) -> Result<Ipv4Addr, String> {
    let ip = s.split('/').next().unwrap_or(s).trim();
    ip.parse()
        .map_err(|e| format!("invalid IPv4 address {s:?}: {e}"))
}

/// Parses an address of either family, optionally with a `/prefix`
/// (which is dropped).
pub fn parse_ip_any(s: &str) -> Result<IpAddr, String> {
    let ip = s.split('/').next().unwrap_or(s).trim();
    ip.parse()
        .map_err(|e| format!("invalid IP address {s:?}: {e}"))
}

/// Whether `ip` is a host address of `net` (not network nor broadcast).
pub fn usable(net: Ipv4Network, ip: Ipv4Addr) -> bool {
    net.contains(ip) && ip != net.network() && ip != net.broadcast()
}

/// Whether `ip` is a host address of the IPv6 `net`: not the
/// subnet-router anycast address (the network address).
pub fn usable6(net: Ipv6Network, ip: Ipv6Addr) -> bool {
    net.contains(ip) && ip != net.network()
}

/// Checks a gateway's optional `/prefix` against its subnet's.
fn gateway_prefix(g: &str, prefix: u8) -> Result<(), String> {
    if let Some((_, p)) = g.split_once('/') {
        if p.trim().parse::<u8>().ok() != Some(prefix) {
            return Err(format!(
                "{g}: the prefix differs from the subnet's /{prefix}"
            ));
        }
    }
    Ok(())
}

/// The `excludeIps` tokens: addresses and `FIRST..LAST` ranges,
/// separated by blanks or commas.
fn exclude_tokens(s: &IpSubnet) -> impl Iterator<Item = (&str, &str, &str)> {
    s.exclude_ips
        .as_deref()
        .unwrap_or("")
        .split([' ', ','])
        .filter(|t| !t.is_empty())
        .map(|tok| match tok.split_once("..") {
            Some((a, b)) => (tok, a, b),
            None => (tok, tok, tok),
        })
}

/// Checks both subnet lists and the routes. Errors are (field, message).
pub fn validate(
    v4: &[IpSubnet],
    v6: &[IpSubnet],
    routes: &[Route],
) -> Result<Validated, (String, String)> {
    if v4.is_empty() && v6.is_empty() {
        return Err((
            "spec.ipv4Subnets".into(),
            "at least one subnet (ipv4Subnets or ipv6Subnets) is required".into(),
        ));
    }
    let mut out = Validated::default();
    for (i, s) in v4.iter().enumerate() {
        let f = |x: &str| format!("spec.ipv4Subnets[{i}].{x}");
        let cidr = parse_cidr(&s.subnet).map_err(|m| (f("subnet"), m))?;
        if cidr.prefix() > 30 {
            return Err((f("subnet"), format!("{cidr}: too small (at most /30)")));
        }
        if let Some(o) = out
            .subnets
            .iter()
            .find(|o| crate::ipam::overlaps(o.cidr, cidr))
        {
            return Err((f("subnet"), format!("{cidr} overlaps {}", o.cidr)));
        }
        let gateway = match s
            .gateway
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty())
        {
            None => None,
            Some(g) => {
                let ip = parse_ip(g).map_err(|m| (f("gateway"), m))?;
                gateway_prefix(g, cidr.prefix()).map_err(|m| (f("gateway"), m))?;
                if !usable(cidr, ip) {
                    return Err((
                        f("gateway"),
                        format!("{ip} is not a host address of {cidr}"),
                    ));
                }
                Some(ip)
            }
        };
        for (tok, a, b) in exclude_tokens(s) {
            let a = parse_ip(a).map_err(|m| (f("excludeIps"), m))?;
            let b = parse_ip(b).map_err(|m| (f("excludeIps"), m))?;
            if !cidr.contains(a) || !cidr.contains(b) || u32::from(a) > u32::from(b) {
                return Err((
                    f("excludeIps"),
                    format!("{tok}: not an address or ascending range inside {cidr}"),
                ));
            }
            for x in u32::from(a)..=u32::from(b) {
                out.excluded.insert(Ipv4Addr::from(x));
            }
        }
        out.subnets.push(Subnet { cidr, gateway });
    }
    for (i, s) in v6.iter().enumerate() {
        let f = |x: &str| format!("spec.ipv6Subnets[{i}].{x}");
        let cidr = parse_cidr6(&s.subnet).map_err(|m| (f("subnet"), m))?;
        if cidr.prefix() > 126 {
            return Err((f("subnet"), format!("{cidr}: too small (at most /126)")));
        }
        if let Some(o) = out
            .subnets6
            .iter()
            .find(|o| o.cidr.contains(cidr.network()) || cidr.contains(o.cidr.network()))
        {
            return Err((f("subnet"), format!("{cidr} overlaps {}", o.cidr)));
        }
        let gateway = match s
            .gateway
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty())
        {
            None => None,
            Some(g) => {
                let ip: Ipv6Addr = g
                    .split('/')
                    .next()
                    .unwrap_or(g)
                    .trim()
                    .parse()
                    .map_err(|e| (f("gateway"), format!("invalid IPv6 address {g:?}: {e}")))?;
                gateway_prefix(g, cidr.prefix()).map_err(|m| (f("gateway"), m))?;
                if !usable6(cidr, ip) {
                    return Err((
                        f("gateway"),
                        format!("{ip} is not a host address of {cidr}"),
                    ));
                }
                Some(ip)
            }
        };
        for (tok, a, b) in exclude_tokens(s) {
            let p = |x: &str| {
                x.trim()
                    .parse::<Ipv6Addr>()
                    .map_err(|e| (f("excludeIps"), format!("invalid IPv6 address {x:?}: {e}")))
            };
            let (a, b) = (p(a)?, p(b)?);
            if !cidr.contains(a) || !cidr.contains(b) || a > b {
                return Err((
                    f("excludeIps"),
                    format!("{tok}: not an address or ascending range inside {cidr}"),
                ));
            }
            out.excluded6.push((a, b));
        }
        out.subnets6.push(Subnet6 { cidr, gateway });
    }
    for (i, r) in routes.iter().enumerate() {
        let f = |x: &str| format!("spec.routes[{i}].{x}");
        let dst = parse_cidr_any(&r.dst).map_err(|m| (f("dst"), m))?;
        let gw = match r.gw.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            Some(g) => parse_ip_any(g).map_err(|m| (f("gw"), m))?,
            None => {
                let first = if dst.is_ipv6() {
                    out.subnets6.iter().find_map(|s| s.gateway.map(IpAddr::V6))
                } else {
                    out.subnets.iter().find_map(|s| s.gateway.map(IpAddr::V4))
                };
                first.ok_or_else(|| {
                    (
                        f("gw"),
                        format!(
                            "no gw and the network has no IPv{} gateway",
                            if dst.is_ipv6() { 6 } else { 4 }
                        ),
                    )
                })?
            }
        };
        if gw.is_ipv6() != dst.is_ipv6() {
            return Err((f("gw"), format!("{gw} and {dst} are of different families")));
        }
        let on_net = match gw {
            IpAddr::V4(g) => out.subnets.iter().any(|s| s.cidr.contains(g)),
            IpAddr::V6(g) => out.subnets6.iter().any(|s| s.cidr.contains(g)),
        };
        if !on_net {
            return Err((f("gw"), format!("{gw} is not on the network")));
        }
        out.routes.push((dst, gw));
    }
    Ok(out)
}
