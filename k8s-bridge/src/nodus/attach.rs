//! Extra pod interfaces: Nodus' `k8s.plugin.opnfv.org/nfn-network`
//! annotation and Multus' `k8s.v1.cni.cncf.io/networks` (through
//! `NetworkAttachmentDefinition`s of type `ovnflow`). Each interface is a
//! logical switch port `<namespace>_<pod>_<ifname>` on its network's
//! switch; fixed IPs and MACs are honoured, the rest allocated in
//! `namespace/name` order, and conflicts (an address twice, outside its
//! subnet, the gateway, an excluded one; a MAC twice; an interface name
//! twice; two default gateways) are errors naming the pod and field.
//!
//! What the CNI plugin needs to configure the interface inside the pod is
//! written to the port's external_ids (the `k8s.ovnflow/…` keys of
//! [`keys`]), so `ovnflow cni` reads everything from the NB.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnetwork::{IpNetwork, Ipv4Network};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::networks::{parse_ip_any, NetAlloc, NetInfo, Networks};
use crate::error::{Error, Result};
use crate::ipam::{nth_ip, Config};
use crate::manifest::{namespace_of, Objects, Sourced};
use crate::model::{Nb, NbRow, RowId};
use crate::names::mac_from_addr;
use crate::nodes::{annotation, annotation_field, NodeInfo};
use crate::pods::PodInfo;

/// The external_ids keys of pod ports that the CNI plugin reads.
pub mod keys {
    /// The interface name inside the pod (absent: `eth0`).
    pub const IFNAME: &str = "k8s.ovnflow/ifname";
    /// The network (absent: the default cluster network).
    pub const NETWORK: &str = "k8s.ovnflow/network";
    /// `IP/prefix`, comma-separated on a dual-stack network, IPv4 first
    /// (absent: from the switch's `other_config:subnet`).
    pub const IP_ADDRESS: &str = "k8s.ovnflow/ip-address";
    /// The gateways, one per family, comma-separated (absent: `.1` of
    /// the switch subnet for the default network, none for others).
    pub const GATEWAY: &str = "k8s.ovnflow/gateway";
    /// `true` when the default route goes through this interface (absent:
    /// true for the default network only).
    pub const DEFAULT_ROUTE: &str = "k8s.ovnflow/default-route";
    /// Extra routes: `DST via GW`, comma-separated.
    pub const ROUTES: &str = "k8s.ovnflow/routes";
    /// `multus` for interfaces Multus asks for (it calls the plugin once
    /// per such interface); absent for the pod's own and Nodus' ones.
    pub const VIA: &str = "k8s.ovnflow/via";
}

/// The Nodus annotation.
pub const NFN_NETWORK: &str = "k8s.plugin.opnfv.org/nfn-network";
/// The Multus annotation.
pub const MULTUS_NETWORKS: &str = "k8s.v1.cni.cncf.io/networks";

/// One extra interface of a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The interface name in the pod.
    pub ifname: String,
    /// The network.
    pub network: String,
    /// The addresses with their subnets' prefixes: one per family the
    /// network has, IPv4 first.
    pub addrs: Vec<IpNetwork>,
    /// The MAC.
    pub mac: String,
    /// The logical switch port.
    pub port: RowId,
}

impl Attachment {
    /// The IPv4 address, if the network has IPv4 subnets.
    pub fn ip4(&self) -> Option<Ipv4Addr> {
        self.addrs.iter().find_map(|a| match a {
            IpNetwork::V4(n) => Some(n.ip()),
            IpNetwork::V6(_) => None,
        })
    }
}

/// An interface a pod asks for, before addresses are settled.
struct Request {
    ifname: String,
    network: String,
    /// Fixed addresses, at most one per family.
    ips: Vec<IpAddr>,
    mac: Option<String>,
    default_gw: bool,
    /// Whether Multus asked for it.
    multus: bool,
    /// The field path, for errors.
    field: String,
}

fn invalid(p: &Sourced<Pod>, key: &str, field: &str, message: impl Into<String>) -> Error {
    Error::Invalid {
        at: Box::new(p.source.clone()),
        kind: "Pod".into(),
        name: key.into(),
        field: field.into(),
        message: message.into(),
    }
}

fn valid_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
        && u8::from_str_radix(parts[0], 16).is_ok_and(|b| b & 1 == 0)
}

fn valid_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Fixed addresses (`IP` or `IP/prefix`), at most one per family:
/// Nodus' `ipAddress` may list an IPv4 and an IPv6 address separated by
/// a comma.
fn fixed_ips<'a>(list: impl Iterator<Item = &'a str>) -> std::result::Result<Vec<IpAddr>, String> {
    let mut out: Vec<IpAddr> = Vec::new();
    for a in list {
        let ip = parse_ip_any(a)?;
        if let Some(o) = out.iter().find(|o| o.is_ipv6() == ip.is_ipv6()) {
            return Err(format!("{o} and {ip}: at most one address per IP family"));
        }
        out.push(ip);
    }
    out.sort_by_key(IpAddr::is_ipv6);
    Ok(out)
}

/// The Nodus annotation's interfaces.
fn nodus_requests(p: &Sourced<Pod>, key: &str) -> Result<Vec<Request>> {
    let Some(text) = annotation(&p.obj.metadata, NFN_NETWORK) else {
        return Ok(Vec::new());
    };
    let base = annotation_field(NFN_NETWORK);
    let v: Value = serde_json::from_str(text)
        .map_err(|e| invalid(p, key, &base, format!("invalid JSON: {e}")))?;
    match v.get("type").and_then(Value::as_str) {
        Some("ovn4nfv") => {}
        other => {
            return Err(invalid(
                p,
                key,
                &format!("{base}.type"),
                format!("{other:?}: expected \"ovn4nfv\""),
            ))
        }
    }
    let list = v
        .get("interface")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(p, key, &format!("{base}.interface"), "expected a list"))?;
    let mut out = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let field = format!("{base}.interface[{i}]");
        let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::trim);
        let network = s("name").filter(|n| !n.is_empty()).ok_or_else(|| {
            invalid(
                p,
                key,
                &format!("{field}.name"),
                "the network name is required",
            )
        })?;
        let ifname = s("interface").filter(|n| !n.is_empty()).ok_or_else(|| {
            invalid(
                p,
                key,
                &format!("{field}.interface"),
                "the interface name is required",
            )
        })?;
        let ips = match s("ipAddress").filter(|x| !x.is_empty()) {
            None => Vec::new(),
            Some(a) => fixed_ips(a.split(',').map(str::trim).filter(|x| !x.is_empty()))
                .map_err(|m| invalid(p, key, &format!("{field}.ipAddress"), m))?,
        };
        let default_gw = match e.get("defaultGateway") {
            None => false,
            Some(d) => as_bool(d).ok_or_else(|| {
                invalid(
                    p,
                    key,
                    &format!("{field}.defaultGateway"),
                    format!("{d}: expected \"true\" or \"false\""),
                )
            })?,
        };
        out.push(Request {
            ifname: ifname.into(),
            network: network.into(),
            ips,
            mac: s("macAddress")
                .filter(|x| !x.is_empty())
                .map(str::to_lowercase),
            default_gw,
            multus: false,
            field,
        });
    }
    Ok(out)
}

/// The network an ovnflow NAD stands for (`network` in its config, else
/// the config's `name`, else the NAD's name); None for other CNI types.
fn nad_network(objs: &Objects, nad_key: &str) -> std::result::Result<Option<String>, String> {
    let nad = objs
        .nads
        .get(nad_key)
        .ok_or_else(|| format!("no NetworkAttachmentDefinition {nad_key} in the input"))?;
    let config = nad.obj.spec.config.as_deref().unwrap_or("{}");
    let v: Value = serde_json::from_str(config).map_err(|e| {
        format!("NetworkAttachmentDefinition {nad_key}: spec.config: invalid JSON: {e}")
    })?;
    if v.get("type").and_then(Value::as_str) != Some("ovnflow") {
        return Ok(None);
    }
    Ok(Some(
        v.get("network")
            .or_else(|| v.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| nad.obj.metadata.name.clone().unwrap_or_default()),
    ))
}

/// Checks that every ovnflow NAD names a known network.
fn check_nads(objs: &Objects, nets: &Networks) -> Result<()> {
    for (k, nad) in &objs.nads {
        let bad = |m: String| Error::Invalid {
            at: Box::new(nad.source.clone()),
            kind: "NetworkAttachmentDefinition".into(),
            name: k.clone(),
            field: "spec.config".into(),
            message: m,
        };
        if let Some(n) = nad_network(objs, k).map_err(bad)? {
            if !nets.nets.contains_key(&n) {
                return Err(bad(format!(
                    "unknown network {n:?} (no Network or ProviderNetwork of that name)"
                )));
            }
        }
    }
    Ok(())
}

/// Multus' annotation: a JSON list of selection elements, or the short
/// form `[namespace/]name[@ifname]`, comma-separated. Interfaces default
/// to `net1`, `net2`… by position, as Multus names them.
fn multus_requests(objs: &Objects, p: &Sourced<Pod>, key: &str) -> Result<Vec<Request>> {
    let Some(text) = annotation(&p.obj.metadata, MULTUS_NETWORKS) else {
        return Ok(Vec::new());
    };
    let base = annotation_field(MULTUS_NETWORKS);
    let ns = namespace_of(&p.obj.metadata);
    let mut elems: Vec<(String, Option<String>, Option<Value>)> = Vec::new(); // (nad key, ifname, json)
    if text.trim_start().starts_with('[') {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| invalid(p, key, &base, format!("invalid JSON: {e}")))?;
        for (i, e) in v.as_array().into_iter().flatten().enumerate() {
            let name = e.get("name").and_then(Value::as_str).ok_or_else(|| {
                invalid(
                    p,
                    key,
                    &format!("{base}[{i}].name"),
                    "the NetworkAttachmentDefinition name is required",
                )
            })?;
            let n = e.get("namespace").and_then(Value::as_str).unwrap_or(ns);
            let ifn = e
                .get("interface")
                .and_then(Value::as_str)
                .map(str::to_string);
            elems.push((format!("{n}/{name}"), ifn, Some(e.clone())));
        }
    } else {
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (rest, ifn) = match item.split_once('@') {
                Some((r, i)) => (r, Some(i.to_string())),
                None => (item, None),
            };
            let nad = if rest.contains('/') {
                rest.to_string()
            } else {
                format!("{ns}/{rest}")
            };
            elems.push((nad, ifn, None));
        }
    }
    let mut out = Vec::new();
    for (i, (nad, ifn, e)) in elems.into_iter().enumerate() {
        let field = format!("{base}[{i}]");
        let Some(network) = nad_network(objs, &nad).map_err(|m| invalid(p, key, &field, m))? else {
            continue; // another CNI plugin's network
        };
        let mut ips = Vec::new();
        let mut mac = None;
        let mut default_gw = false;
        if let Some(e) = &e {
            if let Some(list) = e.get("ips").and_then(Value::as_array) {
                ips = fixed_ips(list.iter().filter_map(Value::as_str))
                    .map_err(|m| invalid(p, key, &format!("{field}.ips"), m))?;
            }
            mac = e.get("mac").and_then(Value::as_str).map(str::to_lowercase);
            default_gw = e
                .get("default-route")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
        }
        out.push(Request {
            ifname: ifn.unwrap_or_else(|| format!("net{}", i + 1)),
            network,
            ips,
            mac,
            default_gw,
            multus: true,
            field,
        });
    }
    Ok(out)
}

/// Builds the extra interfaces of every wired pod.
pub fn build(
    nb: &mut Nb,
    cfg: &Config,
    objs: &Objects,
    nets: &Networks,
    nodes: &BTreeMap<String, NodeInfo>,
    pods: &BTreeMap<String, PodInfo>,
) -> Result<BTreeMap<String, Vec<Attachment>>> {
    check_nads(objs, nets)?;
    let mut allocs: BTreeMap<&str, NetAlloc> = nets
        .nets
        .iter()
        .map(|(n, i)| (n.as_str(), NetAlloc::new(i)))
        .collect();
    let mut macs: BTreeMap<(String, String), String> = BTreeMap::new();
    // Parse and check every request; reserve the fixed addresses first.
    let mut all: Vec<(&String, &Sourced<Pod>, Vec<Request>)> = Vec::new();
    for (key, info) in pods {
        let p = &objs.pods[key];
        let mut reqs = nodus_requests(p, key)?;
        reqs.extend(multus_requests(objs, p, key)?);
        let mut names = BTreeSet::from(["eth0".to_string()]);
        let mut default_at: Option<&str> = None;
        for r in &reqs {
            if !valid_ifname(&r.ifname) {
                return Err(invalid(
                    p,
                    key,
                    &r.field,
                    format!("{:?}: not a valid interface name", r.ifname),
                ));
            }
            if !names.insert(r.ifname.clone()) {
                return Err(invalid(
                    p,
                    key,
                    &r.field,
                    format!("interface {} is defined twice", r.ifname),
                ));
            }
            let net = nets.nets.get(&r.network).ok_or_else(|| {
                invalid(
                    p,
                    key,
                    &r.field,
                    format!(
                        "unknown network {:?} (no Network or ProviderNetwork of that name)",
                        r.network
                    ),
                )
            })?;
            if let Some(pv) = &net.provider {
                if !pv.nodes.contains(&info.node) {
                    return Err(invalid(p, key, &r.field, format!(
                        "provider network {} is not on node {} (its node selector does not pick it)",
                        r.network, info.node
                    )));
                }
            }
            if r.default_gw {
                if let Some(prev) = default_at {
                    return Err(invalid(
                        p,
                        key,
                        &r.field,
                        format!("a second default gateway (already {prev})"),
                    ));
                }
                if net.gateway().is_none() && net.gateway6().is_none() {
                    return Err(invalid(
                        p,
                        key,
                        &r.field,
                        format!(
                            "network {} has no gateway to be the default route",
                            r.network
                        ),
                    ));
                }
                default_at = Some(&r.field);
            }
            if let Some(m) = &r.mac {
                if !valid_mac(m) {
                    return Err(invalid(
                        p,
                        key,
                        &r.field,
                        format!("{m}: not a unicast MAC address"),
                    ));
                }
            }
            for &ip in &r.ips {
                let owner = format!("pod {key} ({})", r.field);
                allocs
                    .get_mut(r.network.as_str())
                    .expect("network exists")
                    .reserve(ip, &owner)
                    .map_err(|m| invalid(p, key, &r.field, m))?;
            }
        }
        all.push((key, p, reqs));
    }
    let mut out = BTreeMap::new();
    for (key, p, reqs) in all {
        let info = &pods[key];
        let ns = &info.namespace;
        let name = p.obj.metadata.name.clone().unwrap_or_default();
        let mut atts = Vec::new();
        for r in &reqs {
            let net: &NetInfo = &nets.nets[&r.network];
            let full = || invalid(p, key, &r.field, format!("network {} is full", r.network));
            let alloc = allocs.get_mut(r.network.as_str()).expect("network exists");
            let owner = format!("pod {key}");
            // One address per family the network has, IPv4 first, with
            // that family's gateway (its subnet's, else the network's first).
            let mut addrs: Vec<IpNetwork> = Vec::new();
            let mut gateways: Vec<String> = Vec::new();
            if !net.subnets.is_empty() {
                let ip = match r.ips.iter().find_map(|i| match i {
                    IpAddr::V4(a) => Some(*a),
                    IpAddr::V6(_) => None,
                }) {
                    Some(ip) => ip,
                    None => alloc.allocate(&owner).ok_or_else(full)?,
                };
                let sub = net.subnet_of(ip).expect("allocated in a subnet");
                addrs.push(IpNetwork::V4(
                    Ipv4Network::new(ip, sub.cidr.prefix()).expect("subnet prefix"),
                ));
                if let Some(gw) = sub.gateway.or(net.gateway()) {
                    gateways.push(gw.to_string());
                }
            }
            if !net.subnets6.is_empty() {
                let ip = match r.ips.iter().find_map(|i| match i {
                    IpAddr::V6(a) => Some(*a),
                    IpAddr::V4(_) => None,
                }) {
                    Some(ip) => ip,
                    None => alloc.allocate6(&owner).ok_or_else(full)?,
                };
                let sub = net.subnet6_of(ip).expect("allocated in a subnet");
                addrs.push(IpNetwork::V6(
                    ipnetwork::Ipv6Network::new(ip, sub.cidr.prefix()).expect("subnet prefix"),
                ));
                if let Some(gw) = sub.gateway.or(net.gateway6()) {
                    gateways.push(gw.to_string());
                }
            }
            let mac = r
                .mac
                .clone()
                .unwrap_or_else(|| mac_from_addr(addrs[0].ip()));
            if let Some(o) = macs.insert(
                (r.network.clone(), mac.clone()),
                format!("pod {key} ({})", r.field),
            ) {
                return Err(invalid(
                    p,
                    key,
                    &r.field,
                    format!("MAC {mac} is already used by {o} on network {}", r.network),
                ));
            }
            let with_prefix: Vec<String> = addrs.iter().map(IpNetwork::to_string).collect();
            let mut ids = vec![
                ("namespace".to_string(), ns.clone()),
                (keys::IFNAME.into(), r.ifname.clone()),
                (keys::NETWORK.into(), r.network.clone()),
                (keys::IP_ADDRESS.into(), with_prefix.join(",")),
            ];
            if !gateways.is_empty() {
                ids.push((keys::GATEWAY.into(), gateways.join(",")));
            }
            if r.default_gw {
                ids.push((keys::DEFAULT_ROUTE.into(), "true".into()));
            }
            if r.multus {
                ids.push((keys::VIA.into(), "multus".into()));
            }
            let routes: Vec<String> = net
                .routes
                .iter()
                .map(|(d, g)| format!("{d} via {g}"))
                .collect();
            if !routes.is_empty() {
                ids.push((keys::ROUTES.into(), routes.join(",")));
            }
            let mut addr = mac.clone();
            for a in &addrs {
                addr.push(' ');
                addr.push_str(&a.ip().to_string());
            }
            let port = nb.add(
                NbRow::new("Logical_Switch_Port", format!("Pod/{key}#if-{}", r.ifname))
                    .str("name", format!("{ns}_{name}_{}", r.ifname))
                    .strs("addresses", [addr.clone()])
                    .strs("port_security", [addr])
                    .map("external_ids", ids)
                    .map("options", [("requested-chassis", info.node.as_str())]),
            );
            nb.add_refs(&net.switch, "ports", [port.clone()]);
            atts.push(Attachment {
                ifname: r.ifname.clone(),
                network: r.network.clone(),
                addrs,
                mac,
                port,
            });
        }
        let node = &nodes[&info.node];
        if reqs.iter().any(|r| r.default_gw) && !node.subnets.is_empty() {
            // eth0 keeps the cluster and service networks of every family
            // the node has, through that family's node gateway.
            let routes: Vec<String> = cfg
                .cluster_subnets
                .iter()
                .map(|c| c.cidr)
                .chain(cfg.service_cidrs.iter().copied())
                .filter_map(|n| {
                    let gw = nth_ip(node.subnet_of(n.is_ipv6())?, 1);
                    Some(format!("{n} via {gw}"))
                })
                .collect();
            if let Some(row) = nb.get_mut(&info.port) {
                row.extend_map(
                    "external_ids",
                    [
                        (keys::DEFAULT_ROUTE, "false".to_string()),
                        (keys::ROUTES, routes.join(",")),
                    ],
                );
            }
        }
        if !atts.is_empty() {
            out.insert(key.clone(), atts);
        }
    }
    Ok(out)
}
