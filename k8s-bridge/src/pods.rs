//! Pods (fact sheet §3): one logical switch port `<namespace>_<pod>` per
//! scheduled, non-hostNetwork, not completed pod, on its node's switch,
//! with an IP from each of the node's subnets (dual-stack: IPv4 and IPv6,
//! one `addresses` string `"MAC IPv4 IPv6"`) and the MAC derived from the
//! first of them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::ipam::IpAllocator;
use crate::manifest::{namespace_of, Sourced};
use crate::model::{Nb, NbRow, RowId};
use crate::names::mac_from_addr;
use crate::nodes::{annotation, annotation_field, NodeInfo};

/// A pod as the other modules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodInfo {
    /// The namespace.
    pub namespace: String,
    /// The node.
    pub node: String,
    /// Its IPs, one per family in use, IPv4 first.
    pub ips: Vec<IpAddr>,
    /// Its logical switch port.
    pub port: RowId,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Whether the pod counts as ready for Service endpoints.
    pub ready: bool,
    /// Its container ports: (name, protocol, number).
    pub ports: Vec<(Option<String>, String, i32)>,
}

/// The pod-networks annotation ovn-kubernetes writes; its `default` entry
/// pins the pod's IP (and MAC).
const POD_NETWORKS: &str = "k8s.ovn.org/pod-networks";

fn invalid(p: &Sourced<Pod>, key: &str, field: &str, message: impl Into<String>) -> Error {
    Error::Invalid {
        at: Box::new(p.source.clone()),
        kind: "Pod".into(),
        name: key.into(),
        field: field.into(),
        message: message.into(),
    }
}

/// Whether ovn-kubernetes wires the pod: scheduled, not hostNetwork, not
/// Succeeded/Failed.
fn wired(p: &Pod) -> Option<&str> {
    let spec = p.spec.as_ref()?;
    if spec.host_network == Some(true) {
        return None;
    }
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return None;
    }
    spec.node_name.as_deref().filter(|n| !n.is_empty())
}

/// Readiness as the EndpointSlice controller sees it. A manifest pod
/// without status is taken as running and ready (in manifests mode no
/// kubelet reports otherwise); an explicit `Ready` condition decides.
fn ready(p: &Pod) -> bool {
    if p.metadata.deletion_timestamp.is_some() {
        return false;
    }
    match p.status.as_ref().and_then(|s| s.conditions.as_ref()) {
        Some(conds) => conds
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.status == "True")
            .unwrap_or(true),
        None => true,
    }
}

/// A pod's addresses: its IPs (IPv4 first) and its MAC.
pub type Addrs = (Vec<IpAddr>, String);

/// The pinned IPs and MAC from `k8s.ovn.org/pod-networks`, if any.
fn pinned(p: &Sourced<Pod>, key: &str) -> Result<Option<(Vec<IpAddr>, Option<String>)>> {
    let Some(s) = annotation(&p.obj.metadata, POD_NETWORKS) else {
        return Ok(None);
    };
    let field = annotation_field(POD_NETWORKS);
    let v: Value = serde_json::from_str(s)
        .map_err(|e| invalid(p, key, &field, format!("invalid JSON: {e}")))?;
    let Some(d) = v.get("default") else {
        return Ok(None);
    };
    let mut list: Vec<&str> = d
        .get("ip_addresses")
        .and_then(|a| a.as_array())
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if list.is_empty() {
        list.extend(d.get("ip_address").and_then(Value::as_str));
    }
    if list.is_empty() {
        return Err(invalid(
            p,
            key,
            &field,
            "default network has no ip_addresses",
        ));
    }
    let mut ips = Vec::new();
    for ip_s in list {
        let ip_only = ip_s.split('/').next().unwrap_or(ip_s);
        let ip: IpAddr = ip_only
            .parse()
            .map_err(|e| invalid(p, key, &field, format!("{ip_s:?}: {e}")))?;
        ips.push(ip);
    }
    let mac = d
        .get("mac_address")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Some((ips, mac)))
}

/// Builds the pods' ports; pinned IPs are reserved first, the others
/// allocated in `namespace/name` order.
pub fn build(
    nb: &mut Nb,
    nodes: &BTreeMap<String, NodeInfo>,
    pods: &BTreeMap<String, Sourced<Pod>>,
) -> Result<BTreeMap<String, PodInfo>> {
    let mut by_node: BTreeMap<&str, Vec<(&str, &Sourced<Pod>)>> = BTreeMap::new();
    for (k, p) in pods {
        if let Some(n) = wired(&p.obj) {
            by_node.entry(n).or_default().push((k.as_str(), p));
        }
    }
    let mut addrs = BTreeMap::new();
    for (node, on_node) in &by_node {
        addrs.extend(allocate(nodes, node, on_node)?);
    }
    let mut out = BTreeMap::new();
    for (key, p) in pods {
        let Some(node) = wired(&p.obj) else { continue };
        let (ips, mac) = addrs[key.as_str()].clone();
        out.insert(
            key.clone(),
            build_one(nb, key, p, node, &nodes[node], ips, mac),
        );
    }
    Ok(out)
}

/// The node a pod is wired on: scheduled, not hostNetwork, not
/// Succeeded/Failed (ovn-kubernetes wires no other pod).
pub fn node_of(p: &Pod) -> Option<&str> {
    wired(p)
}

/// The addresses of the wired pods of one node (`pods` in key order):
/// pinned IPs (`k8s.ovn.org/pod-networks`) reserved first, the others
/// allocated lowest first in key order, one per node subnet (family).
/// Allocation is per node, so a change on one node never moves pods of
/// another. A pinned annotation that lacks a family in use (a cluster
/// turned dual-stack) gets that family allocated.
pub fn allocate(
    nodes: &BTreeMap<String, NodeInfo>,
    node: &str,
    pods: &[(&str, &Sourced<Pod>)],
) -> Result<BTreeMap<String, Addrs>> {
    let mut out = BTreeMap::new();
    let Some(info) = nodes.get(node) else {
        let (key, p) = pods.first().expect("a node group has pods");
        return Err(invalid(
            p,
            key,
            "spec.nodeName",
            format!("no Node {node:?} in the input"),
        ));
    };
    let mut allocs: Vec<IpAllocator> = info
        .subnets
        .iter()
        .map(|s| IpAllocator::new(*s, 2))
        .collect();
    let mut partial: BTreeMap<&str, (Vec<IpAddr>, Option<String>)> = BTreeMap::new();
    for (key, p) in pods {
        if let Some((ips, mac)) = pinned(p, key)? {
            let mut kept = Vec::new();
            for ip in ips {
                // An address of a family not in use is dropped.
                let Some(a) = allocs
                    .iter_mut()
                    .find(|a| a.net().is_ipv6() == ip.is_ipv6())
                else {
                    continue;
                };
                if kept.iter().any(|k: &IpAddr| k.is_ipv6() == ip.is_ipv6()) {
                    continue;
                }
                a.reserve(ip).map_err(|m| {
                    invalid(
                        p,
                        key,
                        &annotation_field(POD_NETWORKS),
                        format!("node {node}: {m}"),
                    )
                })?;
                kept.push(ip);
            }
            partial.insert(key, (kept, mac));
        }
    }
    for (key, p) in pods {
        let (mut ips, mac) = partial.remove(key).unwrap_or_default();
        for a in allocs.iter_mut() {
            if ips.iter().any(|i| i.is_ipv6() == a.net().is_ipv6()) {
                continue;
            }
            let ip = a.allocate().ok_or_else(|| {
                invalid(
                    p,
                    key,
                    "spec.nodeName",
                    format!("node {node}: subnet {} is full", a.net()),
                )
            })?;
            ips.push(ip);
        }
        ips.sort_by_key(IpAddr::is_ipv6);
        let mac = mac.unwrap_or_else(|| mac_from_addr(ips[0]));
        out.insert(key.to_string(), (ips, mac));
    }
    Ok(out)
}

/// Adds one wired pod's port (on `node`, with its address) and returns
/// what the other modules need to know about it.
pub fn build_one(
    nb: &mut Nb,
    key: &str,
    p: &Sourced<Pod>,
    node: &str,
    info: &NodeInfo,
    ips: Vec<IpAddr>,
    mac: String,
) -> PodInfo {
    let ns = namespace_of(&p.obj.metadata).to_string();
    let name = p.obj.metadata.name.clone().unwrap_or_default();
    let mut options = vec![("requested-chassis".to_string(), node.to_string())];
    if let Some(uid) = &p.obj.metadata.uid {
        options.push(("iface-id-ver".to_string(), uid.clone()));
    }
    let mut addr = mac;
    for ip in &ips {
        addr.push(' ');
        addr.push_str(&ip.to_string());
    }
    let port = nb.add(
        NbRow::new("Logical_Switch_Port", format!("Pod/{key}#port"))
            .str("name", format!("{ns}_{name}"))
            .strs("addresses", [addr.clone()])
            .strs("port_security", [addr])
            .map(
                "external_ids",
                [("namespace", ns.as_str()), ("pod", "true")],
            )
            .map("options", options),
    );
    nb.add_refs(&info.switch, "ports", [port.clone()]);
    let mut ports = Vec::new();
    if let Some(spec) = &p.obj.spec {
        for c in &spec.containers {
            for cp in c.ports.iter().flatten() {
                ports.push((
                    cp.name.clone(),
                    cp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    cp.container_port,
                ));
            }
        }
    }
    PodInfo {
        namespace: ns,
        node: node.to_string(),
        ips,
        port,
        labels: p.obj.metadata.labels.clone().unwrap_or_default(),
        ready: ready(&p.obj),
        ports,
    }
}

/// The pods of one namespace, in key order (keys are `namespace/name`,
/// so they are one range of the map).
pub fn in_namespace<'a>(
    pods: &'a BTreeMap<String, PodInfo>,
    ns: &str,
) -> impl Iterator<Item = &'a PodInfo> + 'a {
    let prefix = format!("{ns}/");
    pods.range(prefix.clone()..)
        .take_while(move |(k, _)| k.starts_with(&prefix))
        .map(|(_, p)| p)
}
