//! What a node's annotations and status say (fact sheet §2): its
//! l3 gateway (`k8s.ovn.org/l3-gateway-config`), pinned subnets
//! (`k8s.ovn.org/node-subnets`) and host addresses (InternalIPs and
//! `k8s.ovn.org/host-addresses`), one per IP family in use where
//! ovn-kubernetes has one per family.

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use k8s_openapi::api::core::v1::Node;
use serde_json::Value;

use super::{annotation_field, invalid, json_annotation};
use crate::error::Result;
use crate::ipam::Config;
use crate::manifest::Sourced;
use crate::names::mac_from_addr;

/// The strings of a string or a list of strings.
fn strs(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The l3 gateway of a node: its external interface, MAC, addresses
/// (with prefix; one per family in use), next hops and VLAN.
#[derive(Clone, Debug)]
pub(super) struct Gateway {
    pub(super) interface_id: String,
    pub(super) mac: String,
    /// The external addresses, IPv4 first.
    pub(super) ips: Vec<IpNetwork>,
    pub(super) next_hops: Vec<IpAddr>,
    pub(super) vlan: Option<i64>,
}

/// The gateway from `k8s.ovn.org/l3-gateway-config` when present (its
/// `ip-addresses` and `next-hops` lists, dual-stack: one of each family),
/// else from the node's first InternalIP of each family in use as a
/// host route with no next hop (manifests rarely carry ovnkube-node's
/// annotations; without a next hop no default route is written).
pub(super) fn gateway(
    cfg: &Config,
    n: &Sourced<Node>,
    name: &str,
    internal: &[IpAddr],
) -> Result<Option<Gateway>> {
    const KEY: &str = "k8s.ovn.org/l3-gateway-config";
    let field = annotation_field(KEY);
    let in_use = |ip: IpAddr| cfg.families().contains(&ip.is_ipv6());
    if let Some(v) = json_annotation(n, name, KEY)? {
        let d = v
            .get("default")
            .ok_or_else(|| invalid(n, name, &field, "no \"default\" entry"))?;
        let mut ip_strs = d.get("ip-addresses").map(strs).unwrap_or_default();
        if ip_strs.is_empty() {
            ip_strs = d.get("ip-address").map(strs).unwrap_or_default();
        }
        if ip_strs.is_empty() {
            return Err(invalid(n, name, &field, "no ip-addresses"));
        }
        let mut ips = Vec::new();
        for s in ip_strs {
            let ip: IpNetwork = s
                .parse()
                .map_err(|e| invalid(n, name, &field, format!("ip-addresses {s:?}: {e}")))?;
            if in_use(ip.ip()) && !ips.iter().any(|o: &IpNetwork| o.is_ipv6() == ip.is_ipv6()) {
                ips.push(ip);
            }
        }
        if ips.is_empty() {
            return Err(invalid(
                n,
                name,
                &field,
                "no ip-addresses of the cluster's IP families",
            ));
        }
        ips.sort_by_key(IpNetwork::is_ipv6);
        let mut hop_strs = d.get("next-hops").map(strs).unwrap_or_default();
        if hop_strs.is_empty() {
            hop_strs = d.get("next-hop").map(strs).unwrap_or_default();
        }
        let mut next_hops = Vec::new();
        for s in hop_strs.into_iter().filter(|s| !s.is_empty()) {
            let hop: IpAddr = s
                .parse()
                .map_err(|e| invalid(n, name, &field, format!("next-hops {s:?}: {e}")))?;
            if in_use(hop)
                && !next_hops
                    .iter()
                    .any(|o: &IpAddr| o.is_ipv6() == hop.is_ipv6())
            {
                next_hops.push(hop);
            }
        }
        next_hops.sort_by_key(IpAddr::is_ipv6);
        let mac = d
            .get("mac-address")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| mac_from_addr(ips[0].ip()));
        let interface_id = d
            .get("interface-id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("breth0_{name}"));
        let vlan = match d.get("vlan-id") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(|s| s.parse::<i64>().ok())
                    .or_else(|| v.as_i64())
                    .filter(|v| (0..=4095).contains(v))
                    .ok_or_else(|| {
                        invalid(n, name, &field, format!("vlan-id {v}: not a VLAN id"))
                    })?,
            ),
        };
        return Ok(Some(Gateway {
            interface_id,
            mac,
            ips,
            next_hops,
            vlan,
        }));
    }
    let mut ips: Vec<IpNetwork> = Vec::new();
    for v6 in cfg.families() {
        if let Some(ip) = internal.iter().find(|i| i.is_ipv6() == v6) {
            ips.push(IpNetwork::new(*ip, if v6 { 128 } else { 32 }).expect("host prefix"));
        }
    }
    Ok(ips.first().map(|first| Gateway {
        interface_id: format!("breth0_{name}"),
        mac: mac_from_addr(first.ip()),
        ips: ips.clone(),
        next_hops: Vec::new(),
        vlan: None,
    }))
}

/// The subnets a node's `k8s.ovn.org/node-subnets` annotation pins
/// (`{"default":"10.244.0.0/24"}`, dual-stack a list of one per family).
pub(super) fn pinned_subnets(
    cfg: &Config,
    n: &Sourced<Node>,
    name: &str,
) -> Result<Vec<IpNetwork>> {
    const SUBNETS: &str = "k8s.ovn.org/node-subnets";
    let Some(v) = json_annotation(n, name, SUBNETS)? else {
        return Ok(Vec::new());
    };
    let field = annotation_field(SUBNETS);
    let list = v.get("default").map(strs).unwrap_or_default();
    if list.is_empty() {
        return Err(invalid(n, name, &field, "no \"default\" subnet"));
    }
    let mut out: Vec<IpNetwork> = Vec::new();
    for s in list {
        let net: IpNetwork = s
            .parse()
            .map_err(|e| invalid(n, name, &field, format!("invalid CIDR {s:?}: {e}")))?;
        if net.network() != net.ip() {
            return Err(invalid(n, name, &field, format!("{s}: host bits set")));
        }
        if !cfg.families().contains(&net.is_ipv6()) {
            return Err(invalid(
                n,
                name,
                &field,
                format!(
                    "{s}: the cluster subnets have no {} range",
                    if net.is_ipv6() { "IPv6" } else { "IPv4" }
                ),
            ));
        }
        if out.iter().any(|o| o.is_ipv6() == net.is_ipv6()) {
            return Err(invalid(
                n,
                name,
                &field,
                format!("{s}: a second subnet of the same IP family"),
            ));
        }
        out.push(net);
    }
    Ok(out)
}

/// The node's host addresses of the families in use: InternalIPs, then
/// `k8s.ovn.org/host-addresses`; and how many of them are InternalIPs.
pub(super) fn host_addresses(
    cfg: &Config,
    n: &Sourced<Node>,
    name: &str,
) -> Result<(Vec<IpAddr>, usize)> {
    let in_use = |ip: &IpAddr| cfg.families().contains(&ip.is_ipv6());
    let mut host_ips: Vec<IpAddr> = Vec::new();
    if let Some(addrs) = n.obj.status.as_ref().and_then(|s| s.addresses.as_ref()) {
        for (j, a) in addrs.iter().enumerate() {
            if a.type_ == "InternalIP" {
                let ip: IpAddr = a.address.parse().map_err(|e| {
                    invalid(
                        n,
                        name,
                        &format!("status.addresses[{j}].address"),
                        format!("{:?}: {e}", a.address),
                    )
                })?;
                if in_use(&ip) && !host_ips.contains(&ip) {
                    host_ips.push(ip);
                }
            }
        }
    }
    let internal = host_ips.len();
    const HOST_ADDRS: &str = "k8s.ovn.org/host-addresses";
    if let Some(v) = json_annotation(n, name, HOST_ADDRS)? {
        let field = annotation_field(HOST_ADDRS);
        for a in v
            .as_array()
            .ok_or_else(|| invalid(n, name, &field, "expected a JSON list"))?
        {
            let s = a
                .as_str()
                .ok_or_else(|| invalid(n, name, &field, "expected strings"))?;
            let ip: IpAddr = s
                .parse()
                .map_err(|e| invalid(n, name, &field, format!("{s:?}: {e}")))?;
            if in_use(&ip) && !host_ips.contains(&ip) {
                host_ips.push(ip);
            }
        }
    }
    Ok((host_ips, internal))
}
