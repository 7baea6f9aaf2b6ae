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
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::networks::{parse_ip, NetAlloc, NetInfo, Networks};
use crate::error::{Error, Result};
use crate::ipam::{nth, Config};
use crate::manifest::{namespace_of, Objects, Sourced};
use crate::model::{Nb, NbRow, RowId};
use crate::names::mac_from_ip;
use crate::nodes::{annotation, annotation_field, NodeInfo};
use crate::pods::PodInfo;

/// The external_ids keys of pod ports that the CNI plugin reads.
pub mod keys {
    /// The interface name inside the pod (absent: `eth0`).
    pub const IFNAME: &str = "k8s.ovnflow/ifname";
    /// The network (absent: the default cluster network).
    pub const NETWORK: &str = "k8s.ovnflow/network";
    /// `IP/prefix` (absent: from the switch's `other_config:subnet`).
    pub const IP_ADDRESS: &str = "k8s.ovnflow/ip-address";
    /// The gateway (absent: `.1` of the switch subnet for the default
    /// network, none for others).
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
    /// The address and the prefix of its subnet.
    pub ip: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// The MAC.
    pub mac: String,
    /// The logical switch port.
    pub port: RowId,
}

/// An interface a pod asks for, before addresses are settled.
struct Request {
    ifname: String,
    network: String,
    ip: Option<Ipv4Addr>,
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
        let ip = match s("ipAddress").filter(|x| !x.is_empty()) {
            None => None,
            Some(a) => {
                Some(parse_ip(a).map_err(|m| invalid(p, key, &format!("{field}.ipAddress"), m))?)
            }
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
            ip,
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
        let mut ip = None;
        let mut mac = None;
        let mut default_gw = false;
        if let Some(e) = &e {
            if let Some(ips) = e.get("ips").and_then(Value::as_array) {
                if let Some(a) = ips
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|a| !a.contains(':'))
                {
                    ip =
                        Some(parse_ip(a).map_err(|m| invalid(p, key, &format!("{field}.ips"), m))?);
                }
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
            ip,
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
                if net.gateway().is_none() {
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
            if let Some(ip) = r.ip {
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
            let ip = match r.ip {
                Some(ip) => ip,
                None => allocs
                    .get_mut(r.network.as_str())
                    .expect("network exists")
                    .allocate(&format!("pod {key}"))
                    .ok_or_else(|| {
                        invalid(p, key, &r.field, format!("network {} is full", r.network))
                    })?,
            };
            let sub = net.subnet_of(ip).expect("allocated in a subnet");
            let mac = r.mac.clone().unwrap_or_else(|| mac_from_ip(ip));
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
            let mut ids = vec![
                ("namespace".to_string(), ns.clone()),
                (keys::IFNAME.into(), r.ifname.clone()),
                (keys::NETWORK.into(), r.network.clone()),
                (
                    keys::IP_ADDRESS.into(),
                    format!("{ip}/{}", sub.cidr.prefix()),
                ),
            ];
            if let Some(gw) = sub.gateway.or(net.gateway()) {
                ids.push((keys::GATEWAY.into(), gw.to_string()));
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
            let addr = format!("{mac} {ip}");
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
                ip,
                prefix: sub.cidr.prefix(),
                mac,
                port,
            });
        }
        let gw4 = nodes[&info.node].subnet4().map(|s| nth(s, 1));
        if let (true, Some(gw)) = (reqs.iter().any(|r| r.default_gw), gw4) {
            // eth0 keeps the cluster and service networks only (Nodus
            // networks are IPv4: the IPv4 ones).
            let routes: Vec<String> = cfg
                .cluster_subnets
                .iter()
                .map(|c| c.cidr)
                .chain(cfg.service_cidrs.iter().copied())
                .filter(|n| n.is_ipv4())
                .map(|n| format!("{n} via {gw}"))
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

/// Appends routes to a pod port's `k8s.ovnflow/routes`.
pub fn add_routes(nb: &mut Nb, port: &RowId, routes: &[(Ipv4Network, Ipv4Addr)]) {
    if routes.is_empty() {
        return;
    }
    let Some(row) = nb.get_mut(port) else { return };
    let mut all: Vec<String> = row
        .map_get("external_ids", keys::ROUTES)
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    for (d, g) in routes {
        let r = format!("{d} via {g}");
        if !all.contains(&r) {
            all.push(r);
        }
    }
    row.extend_map("external_ids", [(keys::ROUTES, all.join(","))]);
}

/// Lets a port forward traffic that is not its own: port security on
/// the MAC only. A chain function receives and sends packets between
/// other pods' addresses, which address port security would drop.
pub fn forwarding_port_security(nb: &mut Nb, port: &RowId, mac: &str) {
    if let Some(row) = nb.get_mut(port) {
        row.cols.insert(
            "port_security",
            ovsdb::Datum::set([ovsdb::Atom::String(mac.to_string())]),
        );
    }
}
