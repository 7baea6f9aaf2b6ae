//! Services (fact sheet §4): load balancers named
//! `Service_<ns>/<name>_<PROTO>_<scope>`. ClusterIPs, ExternalIPs and
//! LoadBalancer ingress IPs go to the `cluster` LB in `clusterLBGroup`;
//! NodePorts become per-node LBs on each host address
//! (`node_router+switch_<node>` when router and switch rules agree,
//! `node_router_<node>` / `node_switch_<node>` when
//! externalTrafficPolicy=Local keeps only local endpoints on the router
//! side), as ovn-kubernetes builds them with templates off.
//! internalTrafficPolicy=Local moves the ClusterIP rules to the per-node
//! switch LBs with local endpoints only. Endpoints come from the
//! EndpointSlices labelled `kubernetes.io/service-name`, or, when a
//! Service has none (manifests mode), from the ready pods its selector
//! picks, as the EndpointSlice controller would.
//!
//! Dual-stack: a Service gets a ClusterIP per family its
//! `ipFamilyPolicy`/`ipFamilies` ask for (`spec.clusterIPs` pin them);
//! every VIP of a family (IPv6 bracketed, `[fd00::1]:80`) balances to the
//! endpoints of that family, in the same load balancer.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::cluster::ClusterRows;
use crate::error::{Error, Result};
use crate::ipam::{host_port, Config};
use crate::manifest::{namespace_of, Objects, Sourced};
use crate::model::{Nb, NbRow};
use crate::nodes::NodeInfo;
use crate::pods::PodInfo;

mod alloc;
use alloc::balanced;
pub use alloc::{allocate, Alloc};

fn invalid(s: &Sourced<Service>, key: &str, field: &str, message: impl Into<String>) -> Error {
    Error::Invalid {
        at: Box::new(s.source.clone()),
        kind: "Service".into(),
        name: key.into(),
        field: field.into(),
        message: message.into(),
    }
}

/// One backend: IP, port and the node it runs on.
type Endpoint = (IpAddr, i32, Option<String>);

/// Builds every Service's load balancers.
pub fn build(
    nb: &mut Nb,
    cfg: &Config,
    cluster: &ClusterRows,
    objs: &Objects,
    nodes: &BTreeMap<String, NodeInfo>,
    pods: &BTreeMap<String, PodInfo>,
) -> Result<()> {
    let allocs = allocate(cfg, objs)?;
    for (key, alloc) in &allocs {
        build_one(nb, cluster, objs, nodes, pods, key, alloc)?;
    }
    Ok(())
}

/// Builds one Service's load balancers with its allocation.
pub fn build_one(
    nb: &mut Nb,
    cluster: &ClusterRows,
    objs: &Objects,
    nodes: &BTreeMap<String, NodeInfo>,
    pods: &BTreeMap<String, PodInfo>,
    key: &str,
    alloc: &Alloc,
) -> Result<()> {
    let s = &objs.services[key];
    let Some(spec) = balanced(&s.obj) else {
        return Ok(());
    };
    {
        let ns = namespace_of(&s.obj.metadata);
        let name = s.obj.metadata.name.as_deref().unwrap_or_default();
        let is_node_port = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
        let etp_local = spec.external_traffic_policy.as_deref() == Some("Local");
        let itp_local = spec.internal_traffic_policy.as_deref() == Some("Local");
        let publish_not_ready = spec.publish_not_ready_addresses == Some(true);
        let mut external: Vec<IpAddr> = Vec::new();
        for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
            external.push(ip.parse().map_err(|e| {
                invalid(
                    s,
                    key,
                    &format!("spec.externalIPs[{i}]"),
                    format!("{ip:?}: {e}"),
                )
            })?);
        }
        if let Some(ingress) = s
            .obj
            .status
            .as_ref()
            .and_then(|st| st.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
        {
            for (i, ing) in ingress.iter().enumerate() {
                if let Some(ip) = &ing.ip {
                    external.push(ip.parse().map_err(|e| {
                        invalid(
                            s,
                            key,
                            &format!("status.loadBalancer.ingress[{i}].ip"),
                            format!("{ip:?}: {e}"),
                        )
                    })?);
                }
            }
        }
        let mut options = vec![
            ("reject", "true".to_string()),
            ("event", "false".to_string()),
            ("skip_snat", "false".to_string()),
            ("neighbor_responder", "none".to_string()),
            ("hairpin_snat_ip", "169.254.169.5 fd69::5".to_string()),
        ];
        if spec.session_affinity.as_deref() == Some("ClientIP") {
            let t = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .unwrap_or(10800);
            options.push(("affinity_timeout", t.to_string()));
        }

        // Rules by protocol: cluster VIPs, and per node router/switch VIPs.
        #[derive(Default)]
        struct Rules {
            cluster: BTreeMap<String, String>,
            router: BTreeMap<String, BTreeMap<String, String>>,
            switch: BTreeMap<String, BTreeMap<String, String>>,
        }
        let mut by_proto: BTreeMap<String, Rules> = BTreeMap::new();
        // The families of the Service: its ClusterIPs'. ExternalIPs and
        // node addresses of other families get no VIP.
        let fams: Vec<bool> = alloc.cluster_ips.iter().map(IpAddr::is_ipv6).collect();
        for (i, port) in spec.ports.iter().flatten().enumerate() {
            let proto = port.protocol.clone().unwrap_or_else(|| "TCP".into());
            if !matches!(proto.as_str(), "TCP" | "UDP" | "SCTP") {
                return Err(invalid(
                    s,
                    key,
                    &format!("spec.ports[{i}].protocol"),
                    format!("{proto:?} is not TCP, UDP or SCTP"),
                ));
            }
            let eps = endpoints(
                objs,
                pods,
                ns,
                name,
                spec.selector.as_ref(),
                port,
                &proto,
                publish_not_ready,
            );
            // Backends of the VIP's family: all, or those on node `n`.
            let all = |v6: bool| backends(&eps, |e| e.0.is_ipv6() == v6);
            let local = |v6: bool, n: &str| {
                backends(&eps, |e| e.0.is_ipv6() == v6 && e.2.as_deref() == Some(n))
            };
            let rules = by_proto.entry(proto.clone()).or_default();
            for cip in &alloc.cluster_ips {
                let v6 = cip.is_ipv6();
                let vip = host_port(*cip, port.port);
                if itp_local {
                    for n in nodes.keys() {
                        rules
                            .switch
                            .entry(n.clone())
                            .or_default()
                            .insert(vip.clone(), local(v6, n));
                        rules
                            .router
                            .entry(n.clone())
                            .or_default()
                            .insert(vip.clone(), all(v6));
                    }
                } else {
                    rules.cluster.insert(vip, all(v6));
                }
            }
            for ip in external.iter().filter(|ip| fams.contains(&ip.is_ipv6())) {
                let v6 = ip.is_ipv6();
                let vip = host_port(*ip, port.port);
                if etp_local {
                    for n in nodes.keys() {
                        rules
                            .router
                            .entry(n.clone())
                            .or_default()
                            .insert(vip.clone(), local(v6, n));
                        rules
                            .switch
                            .entry(n.clone())
                            .or_default()
                            .insert(vip.clone(), all(v6));
                    }
                } else {
                    rules.cluster.insert(vip, all(v6));
                }
            }
            if is_node_port {
                let np = alloc
                    .node_ports
                    .get(i)
                    .copied()
                    .flatten()
                    .unwrap_or_default();
                for (n, info) in nodes {
                    for h in info.host_ips.iter().filter(|h| fams.contains(&h.is_ipv6())) {
                        let v6 = h.is_ipv6();
                        let router_eps = if etp_local { local(v6, n) } else { all(v6) };
                        let vip = host_port(*h, np);
                        rules
                            .router
                            .entry(n.clone())
                            .or_default()
                            .insert(vip.clone(), router_eps);
                        rules
                            .switch
                            .entry(n.clone())
                            .or_default()
                            .insert(vip, all(v6));
                    }
                }
            }
        }

        let owner = format!("Service/{key}");
        let lb = |scope: &str, proto: &str, vips: &BTreeMap<String, String>, skip_snat: bool| {
            let mut opts = options.clone();
            if skip_snat {
                opts[2].1 = "true".into();
            }
            NbRow::new("Load_Balancer", format!("{owner}#{proto}_{scope}"))
                .str("name", format!("Service_{ns}/{name}_{proto}_{scope}"))
                .str("protocol", proto.to_lowercase())
                .map("vips", vips.clone())
                .map("options", opts)
                .map(
                    "external_ids",
                    [
                        ("k8s.ovn.org/kind", "Service".to_string()),
                        ("k8s.ovn.org/owner", format!("{ns}/{name}")),
                    ],
                )
        };
        for (proto, rules) in &by_proto {
            if !rules.cluster.is_empty() {
                let id = nb.add(lb("cluster", proto, &rules.cluster, false));
                nb.add_refs(&cluster.lb_groups[0], "load_balancer", [id]);
            }
            for (n, info) in nodes {
                let empty = BTreeMap::new();
                let r = rules.router.get(n).unwrap_or(&empty);
                let sw = rules.switch.get(n).unwrap_or(&empty);
                if r == sw && !r.is_empty() {
                    let id = nb.add(lb(&format!("node_router+switch_{n}"), proto, r, false));
                    nb.add_refs(&info.switch, "load_balancer", [id.clone()]);
                    nb.add_refs(&info.gateway_router, "load_balancer", [id]);
                    continue;
                }
                if !r.is_empty() {
                    let id = nb.add(lb(&format!("node_router_{n}"), proto, r, etp_local));
                    nb.add_refs(&info.gateway_router, "load_balancer", [id]);
                }
                if !sw.is_empty() {
                    let id = nb.add(lb(&format!("node_switch_{n}"), proto, sw, false));
                    nb.add_refs(&info.switch, "load_balancer", [id]);
                }
            }
        }
    }
    Ok(())
}

/// `ip:port,ip:port` of the endpoints `keep` accepts ("" when none);
/// IPv6 as `[ip]:port`.
fn backends(eps: &[Endpoint], keep: impl Fn(&Endpoint) -> bool) -> String {
    eps.iter()
        .filter(|e| keep(e))
        .map(|(ip, port, _)| host_port(*ip, *port))
        .collect::<Vec<_>>()
        .join(",")
}

/// The endpoints of one service port, sorted by address and port.
#[allow(clippy::too_many_arguments)]
fn endpoints(
    objs: &Objects,
    pods: &BTreeMap<String, PodInfo>,
    ns: &str,
    name: &str,
    selector: Option<&BTreeMap<String, String>>,
    port: &ServicePort,
    proto: &str,
    publish_not_ready: bool,
) -> Vec<Endpoint> {
    let mut out: BTreeSet<Endpoint> = BTreeSet::new();
    let slices: Vec<_> = objs
        .endpoint_slices
        .values()
        .filter(|s| {
            namespace_of(&s.obj.metadata) == ns
                && s.obj
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("kubernetes.io/service-name"))
                    .map(String::as_str)
                    == Some(name)
        })
        .collect();
    let port_name = port.name.as_deref().unwrap_or("");
    if !slices.is_empty() {
        for s in slices {
            if !matches!(s.obj.address_type.as_str(), "IPv4" | "IPv6") {
                continue; // FQDN slices are not load balanced
            }
            let Some(sp) = s.obj.ports.iter().flatten().find(|sp| {
                sp.name.as_deref().unwrap_or("") == port_name
                    && sp.protocol.as_deref().unwrap_or("TCP") == proto
            }) else {
                continue;
            };
            let Some(num) = sp.port else { continue };
            for ep in &s.obj.endpoints {
                let c = ep.conditions.as_ref();
                let ready = c.and_then(|c| c.ready).unwrap_or(true);
                let serving = c.and_then(|c| c.serving).unwrap_or(ready);
                if !(serving || publish_not_ready) {
                    continue;
                }
                for a in &ep.addresses {
                    if let Ok(ip) = a.parse::<IpAddr>() {
                        out.insert((ip, num, ep.node_name.clone()));
                    }
                }
            }
        }
        return out.into_iter().collect();
    }
    let Some(sel) = selector.filter(|s| !s.is_empty()) else {
        return Vec::new(); // no selector: endpoints are managed by hand
    };
    for p in crate::pods::in_namespace(pods, ns) {
        if !(p.ready || publish_not_ready) {
            continue;
        }
        if !sel.iter().all(|(k, v)| p.labels.get(k) == Some(v)) {
            continue;
        }
        let target = match &port.target_port {
            None => Some(port.port),
            Some(IntOrString::Int(n)) => Some(*n),
            Some(IntOrString::String(n)) => p
                .ports
                .iter()
                .find(|(pn, pp, _)| pn.as_deref() == Some(n.as_str()) && pp == proto)
                .map(|(_, _, num)| *num),
        };
        if let Some(t) = target {
            for ip in &p.ips {
                out.insert((*ip, t, Some(p.node.clone())));
            }
        }
    }
    out.into_iter().collect()
}
