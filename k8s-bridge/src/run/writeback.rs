//! What run mode writes back to the API server, decided from the objects
//! and the desired NB: the `k8s.ovn.org/pod-networks` annotation of every
//! wired pod (as ovn-kubernetes writes it, so the pod's address is pinned
//! and a restart keeps it), `k8s.ovn.org/node-subnets` of nodes that have
//! none (as ovn-kubernetes' cluster manager does), the `status.state` of
//! Nodus objects, and Warning events on objects that cannot be honoured.
//! The decisions are pure functions; [`Writer`] sends them.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use ipnetwork::IpNetwork;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Client;
use serde_json::{json, Value};

use super::resources::Kind;
use crate::ipam::{nth_ip, Config};
use crate::model::{Nb, RowId};
use crate::nodes::annotation;

/// ovn-kubernetes' pod annotation.
pub const POD_NETWORKS: &str = "k8s.ovn.org/pod-networks";
/// ovn-kubernetes' node subnet annotation.
pub const NODE_SUBNETS: &str = "k8s.ovn.org/node-subnets";

/// One write to the API server.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Set an annotation (merge patch of `metadata.annotations`).
    Annotate {
        /// Pod or Node.
        kind: Kind,
        /// The namespace (pods).
        namespace: Option<String>,
        /// The name.
        name: String,
        /// The annotation key.
        key: String,
        /// Its value.
        value: String,
    },
    /// Set `status` (merge patch of the status subresource).
    Status {
        /// A Nodus kind.
        kind: Kind,
        /// The namespace.
        namespace: Option<String>,
        /// The name.
        name: String,
        /// The status object.
        status: Value,
    },
    /// A Warning event on an object.
    Event {
        /// The object.
        reference: ObjectReference,
        /// Short reason, CamelCase.
        reason: String,
        /// The message.
        message: String,
    },
}

/// The pod-networks annotation for a pod with `ips`/`mac` on node
/// subnets `subnets` (pkg/util/pod_annotation.go and
/// addRoutesGatewayIP): per address family, routes to the cluster
/// subnets, service CIDRs and join subnet of that family through the
/// node subnet's `.1`, which is also a gateway; `ip_address` and
/// `gateway_ip` only single-stack; `role` primary as 1.x writes it.
pub fn pod_networks(ips: &[IpAddr], mac: &str, subnets: &[IpNetwork], cfg: &Config) -> String {
    let mut addrs: Vec<String> = Vec::new();
    let mut gws: Vec<String> = Vec::new();
    let mut routes: Vec<Value> = Vec::new();
    for ip in ips {
        let v6 = ip.is_ipv6();
        let Some(subnet) = subnets.iter().find(|s| s.is_ipv6() == v6) else {
            continue;
        };
        let gw = nth_ip(*subnet, 1).to_string();
        addrs.push(format!("{ip}/{}", subnet.prefix()));
        for c in cfg
            .cluster_subnets
            .iter()
            .filter(|c| c.cidr.is_ipv6() == v6)
        {
            routes.push(json!({"dest": c.cidr.to_string(), "nextHop": gw}));
        }
        for s in cfg.service_cidrs.iter().filter(|s| s.is_ipv6() == v6) {
            routes.push(json!({"dest": s.to_string(), "nextHop": gw}));
        }
        routes.push(json!({"dest": cfg.join(v6).to_string(), "nextHop": gw}));
        gws.push(gw);
    }
    let mut d = serde_json::Map::new();
    d.insert("ip_addresses".into(), json!(addrs));
    d.insert("mac_address".into(), json!(mac));
    d.insert("gateway_ips".into(), json!(gws));
    d.insert("routes".into(), Value::Array(routes));
    if let ([a], [g]) = (addrs.as_slice(), gws.as_slice()) {
        d.insert("ip_address".into(), json!(a));
        d.insert("gateway_ip".into(), json!(g));
    }
    d.insert("role".into(), json!("primary"));
    json!({ "default": d }).to_string()
}

/// The addresses (`mac`, IPs) of a desired pod port.
fn port_address(nb: &Nb, pod_key: &str) -> Option<(String, Vec<IpAddr>)> {
    let row = nb.rows.get(&RowId::new(
        "Logical_Switch_Port",
        format!("Pod/{pod_key}#port"),
    ))?;
    let a = row.cols.get("addresses")?.atoms().first()?.as_str()?;
    let mut parts = a.split(' ');
    let mac = parts.next()?.to_string();
    let ips: Vec<IpAddr> = parts.filter_map(|p| p.parse().ok()).collect();
    (!ips.is_empty()).then_some((mac, ips))
}

/// A desired node's subnets (`other_config:subnet` and, IPv6,
/// `ipv6_prefix` with the /64 ovn-kubernetes always uses), IPv4 first.
pub fn node_subnets(nb: &Nb, node: &str) -> Vec<IpNetwork> {
    let Some(row) = nb
        .rows
        .get(&RowId::new("Logical_Switch", format!("Node/{node}#switch")))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(s) = row.map_get("other_config", "subnet") {
        out.extend(s.parse::<IpNetwork>().ok());
    }
    if let Some(p) = row.map_get("other_config", "ipv6_prefix") {
        out.extend(format!("{p}/64").parse::<IpNetwork>().ok());
    }
    out
}

/// Whether the pod's current annotation already pins `ips` and `mac`.
fn pinned_to(pod: &Pod, ips: &[IpAddr], mac: &str) -> bool {
    let Some(s) = annotation(&pod.metadata, POD_NETWORKS) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<Value>(s) else {
        return false;
    };
    let d = &v["default"];
    let mut have: Vec<&str> = d["ip_addresses"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if have.is_empty() {
        have.extend(d["ip_address"].as_str());
    }
    let have: Vec<IpAddr> = have
        .iter()
        .filter_map(|s| s.split('/').next()?.parse().ok())
        .collect();
    have == ips && d["mac_address"].as_str() == Some(mac)
}

/// The annotation a pod needs, if it does not carry it yet.
pub fn pod_write(pod_key: &str, pod: &Pod, nb: &Nb, cfg: &Config) -> Option<Write> {
    let (mac, ips) = port_address(nb, pod_key)?;
    if pinned_to(pod, &ips, &mac) {
        return None;
    }
    let node = pod.spec.as_ref()?.node_name.as_deref()?;
    let subnets = node_subnets(nb, node);
    if subnets.is_empty() {
        return None;
    }
    Some(Write::Annotate {
        kind: Kind::Pod,
        namespace: Some(crate::manifest::namespace_of(&pod.metadata).to_string()),
        name: pod.metadata.name.clone()?,
        key: POD_NETWORKS.into(),
        value: pod_networks(&ips, &mac, &subnets, cfg),
    })
}

/// The subnet annotation a node needs, if it has none: the subnet, or
/// dual-stack the list of both (as ovn-kubernetes' cluster manager writes it).
pub fn node_write(name: &str, node: &Node, nb: &Nb) -> Option<Write> {
    if annotation(&node.metadata, NODE_SUBNETS).is_some() {
        return None;
    }
    let subnets = node_subnets(nb, name);
    let value = match subnets.as_slice() {
        [] => return None,
        [one] => json!({"default": one.to_string()}),
        more => json!({"default": more.iter().map(|s| s.to_string()).collect::<Vec<_>>()}),
    };
    Some(Write::Annotate {
        kind: Kind::Node,
        namespace: None,
        name: name.to_string(),
        key: NODE_SUBNETS.into(),
        value: value.to_string(),
    })
}

/// The Nodus status of an object: `Created` when it is in effect, else
/// `CreateInternalError` (Nodus' states) with the reason.
pub fn nodus_status(problem: Option<&str>) -> Value {
    match problem {
        None => json!({"state": "Created"}),
        Some(m) => json!({"state": "CreateInternalError", "message": m}),
    }
}

/// The status write for a Nodus object whose current status differs.
pub fn status_write(
    kind: Kind,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    current: Option<&Value>,
    problem: Option<&str>,
) -> Option<Write> {
    let want = nodus_status(problem);
    if current == Some(&want) {
        return None;
    }
    Some(Write::Status {
        kind,
        namespace: meta.namespace.clone(),
        name: meta.name.clone()?,
        status: want,
    })
}

/// The problems of NetworkChainings from the translation's status lines
/// (`NetworkChaining ns/name: …`), by key.
pub fn chain_problems(nb: &Nb) -> BTreeMap<String, String> {
    nb.status
        .iter()
        .filter_map(|s| {
            let rest = s.strip_prefix("NetworkChaining ")?;
            let (key, msg) = rest.split_once(": ")?;
            Some((key.to_string(), msg.to_string()))
        })
        .collect()
}

/// Sends writes to the API server (several at once: [`super::dispatch`]), retrying failures a few
/// times (a later translation re-decides what is still needed).
pub struct Writer {
    client: Client,
    recorder: Recorder,
}

impl Writer {
    /// A writer reporting events as `ovnflow` from `instance`.
    pub fn new(client: Client, instance: &str) -> Writer {
        let reporter = Reporter {
            controller: "ovnflow".into(),
            instance: Some(instance.into()),
        };
        Writer {
            recorder: Recorder::new(client.clone(), reporter),
            client,
        }
    }

    fn api(&self, kind: Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        let ar = kind.api_resource();
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// Sends one write, retrying up to three times.
    pub async fn send(&self, w: &Write) -> Result<(), String> {
        let mut last = String::new();
        for attempt in 0..3 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            match self.send_once(w).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn send_once(&self, w: &Write) -> Result<(), String> {
        let pp = PatchParams::default();
        match w {
            Write::Annotate {
                kind,
                namespace,
                name,
                key,
                value,
            } => {
                let patch = json!({"metadata": {"annotations": {key: value}}});
                self.api(*kind, namespace.as_deref())
                    .patch(name, &pp, &Patch::Merge(&patch))
                    .await
                    .map(drop)
                    .map_err(|e| format!("{} {name}: annotate {key}: {e}", kind.name()))
            }
            Write::Status {
                kind,
                namespace,
                name,
                status,
            } => {
                let patch = json!({"status": status});
                self.api(*kind, namespace.as_deref())
                    .patch_status(name, &pp, &Patch::Merge(&patch))
                    .await
                    .map(drop)
                    .map_err(|e| format!("{} {name}: status: {e}", kind.name()))
            }
            Write::Event {
                reference,
                reason,
                message,
            } => {
                let ev = Event {
                    type_: EventType::Warning,
                    reason: reason.clone(),
                    note: Some(message.chars().take(1024).collect()),
                    action: "Translate".into(),
                    secondary: None,
                };
                self.recorder
                    .publish(&ev, reference)
                    .await
                    .map_err(|e| format!("event on {:?}: {e}", reference.name))
            }
        }
    }
}
