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

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::cluster::ClusterRows;
use crate::error::{Error, Result};
use crate::ipam::{Config, IpAllocator};
use crate::manifest::{namespace_of, Objects, Sourced};
use crate::model::{Nb, NbRow};
use crate::nodes::NodeInfo;
use crate::pods::PodInfo;

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
type Endpoint = (Ipv4Addr, i32, Option<String>);

/// The NodePort range.
const NODE_PORTS: std::ops::RangeInclusive<i32> = 30000..=32767;

/// A Service's allocated addresses: its ClusterIP and, for NodePort and
/// LoadBalancer services, each port's NodePort (`None` for other types).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alloc {
    /// The ClusterIP.
    pub cluster_ip: Ipv4Addr,
    /// Per `spec.ports` entry, its NodePort.
    pub node_ports: Vec<Option<i32>>,
}

/// Whether a Service gets load balancers (not headless, not ExternalName).
fn balanced(s: &Service) -> Option<&k8s_openapi::api::core::v1::ServiceSpec> {
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
    let mut cluster_ips: BTreeMap<&str, Ipv4Addr> = BTreeMap::new();
    let mut services = Vec::new();
    for (key, s) in &objs.services {
        let Some(spec) = balanced(&s.obj) else {
            continue;
        };
        if let Some(ip) = spec.cluster_ip.as_deref().filter(|s| !s.is_empty()) {
            let addr: Ipv4Addr = ip
                .parse()
                .map_err(|e| invalid(s, key, "spec.clusterIP", format!("{ip:?}: {e}")))?;
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
                        "spec.clusterIP",
                        format!("{ip} is outside the service CIDRs ({})", cidrs.join(", ")),
                    )
                })?;
            ip_allocs[idx]
                .reserve(addr)
                .map_err(|m| invalid(s, key, "spec.clusterIP", m))?;
            cluster_ips.insert(key, addr);
        }
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
        if !cluster_ips.contains_key(key.as_str()) {
            let ip = ip_allocs
                .iter_mut()
                .find_map(IpAllocator::allocate)
                .ok_or_else(|| {
                    invalid(s, key, "spec.clusterIP", "the service CIDRs are exhausted")
                })?;
            cluster_ips.insert(key, ip);
        }
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
                cluster_ip: cluster_ips[key.as_str()],
                node_ports: nps,
            },
        );
    }
    Ok(out)
}

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
        let mut external: Vec<Ipv4Addr> = Vec::new();
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
        let cip = alloc.cluster_ip;
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
            let all = backends(&eps, |_| true);
            let rules = by_proto.entry(proto.clone()).or_default();
            if itp_local {
                for n in nodes.keys() {
                    let local = backends(&eps, |e| e.2.as_deref() == Some(n));
                    rules
                        .switch
                        .entry(n.clone())
                        .or_default()
                        .insert(format!("{cip}:{}", port.port), local);
                    rules
                        .router
                        .entry(n.clone())
                        .or_default()
                        .insert(format!("{cip}:{}", port.port), all.clone());
                }
            } else {
                rules
                    .cluster
                    .insert(format!("{cip}:{}", port.port), all.clone());
            }
            for ip in &external {
                let vip = format!("{ip}:{}", port.port);
                if etp_local {
                    for n in nodes.keys() {
                        let local = backends(&eps, |e| e.2.as_deref() == Some(n));
                        rules
                            .router
                            .entry(n.clone())
                            .or_default()
                            .insert(vip.clone(), local);
                        rules
                            .switch
                            .entry(n.clone())
                            .or_default()
                            .insert(vip.clone(), all.clone());
                    }
                } else {
                    rules.cluster.insert(vip, all.clone());
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
                    let router_eps = if etp_local {
                        backends(&eps, |e| e.2.as_deref() == Some(n))
                    } else {
                        all.clone()
                    };
                    for h in &info.host_ips {
                        let vip = format!("{h}:{np}");
                        rules
                            .router
                            .entry(n.clone())
                            .or_default()
                            .insert(vip.clone(), router_eps.clone());
                        rules
                            .switch
                            .entry(n.clone())
                            .or_default()
                            .insert(vip, all.clone());
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

/// `ip:port,ip:port` of the endpoints `keep` accepts ("" when none).
fn backends(eps: &[Endpoint], keep: impl Fn(&Endpoint) -> bool) -> String {
    eps.iter()
        .filter(|e| keep(e))
        .map(|(ip, port, _)| format!("{ip}:{port}"))
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
    let mut out: BTreeSet<(Ipv4Addr, i32, Option<String>)> = BTreeSet::new();
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
            if s.obj.address_type != "IPv4" {
                continue;
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
                    if let Ok(ip) = a.parse() {
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
            out.insert((p.ip, t, Some(p.node.clone())));
        }
    }
    out.into_iter().collect()
}
