//! Pods (fact sheet §3): one logical switch port `<namespace>_<pod>` per
//! scheduled, non-hostNetwork, not completed pod, on its node's switch,
//! with an IP from the node subnet and the MAC derived from it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::ipam::IpAllocator;
use crate::manifest::{namespace_of, Sourced};
use crate::model::{Nb, NbRow, RowId};
use crate::names::mac_from_ip;
use crate::nodes::{annotation, annotation_field, NodeInfo};

/// A pod as the other modules see it.
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// The namespace.
    pub namespace: String,
    /// The node.
    pub node: String,
    /// Its IP.
    pub ip: Ipv4Addr,
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

/// The pinned IP and MAC from `k8s.ovn.org/pod-networks`, if any.
fn pinned(p: &Sourced<Pod>, key: &str) -> Result<Option<(Ipv4Addr, Option<String>)>> {
    let Some(s) = annotation(&p.obj.metadata, POD_NETWORKS) else {
        return Ok(None);
    };
    let field = annotation_field(POD_NETWORKS);
    let v: Value = serde_json::from_str(s)
        .map_err(|e| invalid(p, key, &field, format!("invalid JSON: {e}")))?;
    let Some(d) = v.get("default") else {
        return Ok(None);
    };
    let ip_s = d
        .get("ip_addresses")
        .and_then(|a| a.as_array())
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .or_else(|| d.get("ip_address").and_then(Value::as_str))
        .ok_or_else(|| invalid(p, key, &field, "default network has no ip_addresses"))?;
    let ip_only = ip_s.split('/').next().unwrap_or(ip_s);
    let ip: Ipv4Addr = ip_only
        .parse()
        .map_err(|e| invalid(p, key, &field, format!("{ip_s:?}: {e}")))?;
    let mac = d
        .get("mac_address")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Some((ip, mac)))
}

/// Builds the pods' ports; pinned IPs are reserved first, the others
/// allocated in `namespace/name` order.
pub fn build(
    nb: &mut Nb,
    nodes: &BTreeMap<String, NodeInfo>,
    pods: &BTreeMap<String, Sourced<Pod>>,
) -> Result<BTreeMap<String, PodInfo>> {
    let mut allocs: BTreeMap<&str, IpAllocator> = nodes
        .iter()
        .map(|(n, i)| (n.as_str(), IpAllocator::new(i.subnet, 2)))
        .collect();
    let mut addrs: BTreeMap<&str, (Ipv4Addr, String)> = BTreeMap::new();
    let wired_pods: Vec<(&String, &Sourced<Pod>, &str)> = pods
        .iter()
        .filter_map(|(k, p)| wired(&p.obj).map(|n| (k, p, n)))
        .collect();
    for (key, p, node) in &wired_pods {
        let alloc = allocs.get_mut(node).ok_or_else(|| {
            invalid(
                p,
                key,
                "spec.nodeName",
                format!("no Node {node:?} in the input"),
            )
        })?;
        if let Some((ip, mac)) = pinned(p, key)? {
            alloc.reserve(ip).map_err(|m| {
                invalid(
                    p,
                    key,
                    &annotation_field(POD_NETWORKS),
                    format!("node {node}: {m}"),
                )
            })?;
            addrs.insert(key.as_str(), (ip, mac.unwrap_or_else(|| mac_from_ip(ip))));
        }
    }
    let mut out = BTreeMap::new();
    for (key, p, node) in wired_pods {
        let info = &nodes[node];
        let (ip, mac) = match addrs.get(key.as_str()) {
            Some(a) => a.clone(),
            None => {
                let ip = allocs
                    .get_mut(node)
                    .and_then(IpAllocator::allocate)
                    .ok_or_else(|| {
                        invalid(
                            p,
                            key,
                            "spec.nodeName",
                            format!("node {node}: subnet {} is full", info.subnet),
                        )
                    })?;
                (ip, mac_from_ip(ip))
            }
        };
        let ns = namespace_of(&p.obj.metadata).to_string();
        let name = p.obj.metadata.name.clone().unwrap_or_default();
        let mut options = vec![("requested-chassis".to_string(), node.to_string())];
        if let Some(uid) = &p.obj.metadata.uid {
            options.push(("iface-id-ver".to_string(), uid.clone()));
        }
        let addr = format!("{mac} {ip}");
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
        out.insert(
            key.clone(),
            PodInfo {
                namespace: ns,
                node: node.to_string(),
                ip,
                port,
                labels: p.obj.metadata.labels.clone().unwrap_or_default(),
                ready: ready(&p.obj),
                ports,
            },
        );
    }
    Ok(out)
}
