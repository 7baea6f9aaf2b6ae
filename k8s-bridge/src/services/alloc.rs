//! ClusterIP and NodePort allocation for Services (fact sheet §4):
//! pinned addresses first, then the lowest free ones in `namespace/name`
//! order; dual-stack one ClusterIP per family the Service asks for.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Service, ServiceSpec};

use super::invalid;
use crate::error::Result;
use crate::ipam::{Config, IpAllocator};
use crate::manifest::{Objects, Sourced};

/// The NodePort range.
const NODE_PORTS: std::ops::RangeInclusive<i32> = 30000..=32767;

/// A Service's allocated addresses: its ClusterIPs and, for NodePort and
/// LoadBalancer services, each port's NodePort (`None` for other types).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alloc {
    /// The ClusterIPs, one per family, the primary first (`spec.clusterIPs`).
    pub cluster_ips: Vec<IpAddr>,
    /// Per `spec.ports` entry, its NodePort.
    pub node_ports: Vec<Option<i32>>,
}

/// Whether a Service gets load balancers (not headless, not ExternalName).
pub(super) fn balanced(s: &Service) -> Option<&ServiceSpec> {
    let spec = s.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") || spec.cluster_ip.as_deref() == Some("None") {
        return None;
    }
    Some(spec)
}

/// ClusterIPs and NodePorts of every Service: pinned ones first, then
/// allocated in `namespace/name` order (a function of all Services, so a
/// change of one may move another's allocation; callers compare).
pub fn allocate(cfg: &Config, objs: &Objects) -> Result<BTreeMap<String, Alloc>> {
    let mut ip_allocs: Vec<IpAllocator> = cfg
        .service_cidrs
        .iter()
        .map(|c| IpAllocator::new(*c, 0))
        .collect();
    let mut node_ports: BTreeSet<i32> = BTreeSet::new();
    // Pinned ClusterIPs, and the families each Service still needs.
    let mut cluster_ips: BTreeMap<&str, Vec<IpAddr>> = BTreeMap::new();
    let mut wanted: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    let mut services = Vec::new();
    for (key, s) in &objs.services {
        let Some(spec) = balanced(&s.obj) else {
            continue;
        };
        let mut pinned: Vec<(String, &str)> = Vec::new();
        match spec.cluster_ips.as_ref().filter(|l| !l.is_empty()) {
            Some(list) => {
                for (i, ip) in list.iter().enumerate() {
                    pinned.push((format!("spec.clusterIPs[{i}]"), ip.as_str()));
                }
            }
            None => {
                if let Some(ip) = spec.cluster_ip.as_deref().filter(|s| !s.is_empty()) {
                    pinned.push(("spec.clusterIP".into(), ip));
                }
            }
        }
        let mut ips: Vec<IpAddr> = Vec::new();
        for (field, ip) in pinned {
            let addr: IpAddr = ip
                .parse()
                .map_err(|e| invalid(s, key, &field, format!("{ip:?}: {e}")))?;
            if ips.iter().any(|o| o.is_ipv6() == addr.is_ipv6()) {
                return Err(invalid(
                    s,
                    key,
                    &field,
                    format!("{ip}: a second ClusterIP of the same family"),
                ));
            }
            let idx = cfg
                .service_cidrs
                .iter()
                .position(|c| c.contains(addr))
                .ok_or_else(|| {
                    let cidrs: Vec<String> =
                        cfg.service_cidrs.iter().map(|c| c.to_string()).collect();
                    invalid(
                        s,
                        key,
                        &field,
                        format!("{ip} is outside the service CIDRs ({})", cidrs.join(", ")),
                    )
                })?;
            ip_allocs[idx]
                .reserve(addr)
                .map_err(|m| invalid(s, key, &field, m))?;
            ips.push(addr);
        }
        let families = families(cfg, s, key, spec, &ips)?;
        cluster_ips.insert(key, ips);
        wanted.insert(key, families);
        for (i, p) in spec.ports.iter().flatten().enumerate() {
            if let Some(np) = p.node_port {
                if !NODE_PORTS.contains(&np) {
                    return Err(invalid(
                        s,
                        key,
                        &format!("spec.ports[{i}].nodePort"),
                        format!("{np} is outside 30000-32767"),
                    ));
                }
                if !node_ports.insert(np) {
                    return Err(invalid(
                        s,
                        key,
                        &format!("spec.ports[{i}].nodePort"),
                        format!("{np} is already in use"),
                    ));
                }
            }
        }
        services.push((key, s, spec));
    }
    for (key, s, _) in &services {
        let ips = cluster_ips.get_mut(key.as_str()).expect("every service");
        for &v6 in &wanted[key.as_str()] {
            if ips.iter().any(|i| i.is_ipv6() == v6) {
                continue;
            }
            let ip = ip_allocs
                .iter_mut()
                .filter(|a| a.net().is_ipv6() == v6)
                .find_map(IpAllocator::allocate)
                .ok_or_else(|| {
                    invalid(s, key, "spec.clusterIP", "the service CIDRs are exhausted")
                })?;
            ips.push(ip);
        }
        // The primary family (the first of ipFamilies) first.
        let order = &wanted[key.as_str()];
        ips.sort_by_key(|i| order.iter().position(|f| *f == i.is_ipv6()));
    }
    let mut out = BTreeMap::new();
    for (key, s, spec) in services {
        let is_node_port = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
        let mut nps = Vec::new();
        for (i, port) in spec.ports.iter().flatten().enumerate() {
            nps.push(match (is_node_port, port.node_port) {
                (false, _) => None,
                (true, Some(np)) => Some(np),
                (true, None) => {
                    let np = NODE_PORTS
                        .clone()
                        .find(|p| !node_ports.contains(p))
                        .ok_or_else(|| {
                            invalid(
                                s,
                                key,
                                &format!("spec.ports[{i}].nodePort"),
                                "no free NodePort",
                            )
                        })?;
                    node_ports.insert(np);
                    Some(np)
                }
            });
        }
        out.insert(
            key.clone(),
            Alloc {
                cluster_ips: cluster_ips[key.as_str()].clone(),
                node_ports: nps,
            },
        );
    }
    Ok(out)
}

/// The IP families (`false` = IPv4) a Service gets ClusterIPs of, the
/// primary first: `spec.ipFamilies` when given, else the pinned
/// ClusterIPs' families, else the cluster's first family; with
/// `ipFamilyPolicy` PreferDualStack or RequireDualStack every family in
/// use is added (RequireDualStack fails on a single-stack cluster).
fn families(
    cfg: &Config,
    s: &Sourced<Service>,
    key: &str,
    spec: &ServiceSpec,
    pinned: &[IpAddr],
) -> Result<Vec<bool>> {
    let in_use = cfg.families();
    let mut out: Vec<bool> = Vec::new();
    for (i, f) in spec.ip_families.iter().flatten().enumerate() {
        let field = format!("spec.ipFamilies[{i}]");
        let v6 = match f.as_str() {
            "IPv4" => false,
            "IPv6" => true,
            _ => {
                return Err(invalid(
                    s,
                    key,
                    &field,
                    format!("{f:?} is not IPv4 or IPv6"),
                ))
            }
        };
        if !in_use.contains(&v6) {
            return Err(invalid(
                s,
                key,
                &field,
                format!("{f}: the service CIDRs have no {f} range"),
            ));
        }
        if !out.contains(&v6) {
            out.push(v6);
        }
    }
    for ip in pinned {
        if !out.contains(&ip.is_ipv6()) {
            out.push(ip.is_ipv6());
        }
    }
    if out.is_empty() {
        out.push(in_use[0]);
    }
    match spec.ip_family_policy.as_deref() {
        None | Some("SingleStack") => {
            if out.len() > 1 && spec.ip_family_policy.is_some() {
                return Err(invalid(
                    s,
                    key,
                    "spec.ipFamilyPolicy",
                    "SingleStack with two IP families",
                ));
            }
        }
        Some(p @ ("PreferDualStack" | "RequireDualStack")) => {
            if p == "RequireDualStack" && in_use.len() < 2 {
                return Err(invalid(
                    s,
                    key,
                    "spec.ipFamilyPolicy",
                    "RequireDualStack on a single-stack cluster",
                ));
            }
            for f in in_use {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        Some(p) => {
            return Err(invalid(
                s,
                key,
                "spec.ipFamilyPolicy",
                format!("{p:?} is not SingleStack, PreferDualStack or RequireDualStack"),
            ))
        }
    }
    Ok(out)
}
