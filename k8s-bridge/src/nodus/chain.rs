//! Nodus `NetworkChaining` (chainType `Routing`): a service-function
//! chain `net=N0,F1,net=N1,F2,…,net=Nn` between the `left` and `right`
//! ends, enforced by the Nodus router so no pod can route around it:
//!
//! * for every left subnet L and right subnet R, a reroute policy
//!   `ip4.src == L && ip4.dst == R` to F1's address on N0, and per chain
//!   network Ni (0 < i < n) `inport == "<Ni's router port>" && …` to
//!   F(i+1)'s address on Ni (a function that sends through the router
//!   is sent on), with `allow` for Nn's port; mirrored for R → L, ending
//!   with `allow` on N0's port;
//! * the function pods get routes to forward L → R to the next function
//!   and R → L to the previous one, and port security on their chain
//!   interfaces checks the MAC only (they carry other pods' addresses); the end pods a selector picks get a
//!   route to the other end through `gatewayIp` (or their network's
//!   gateway).
//!
//! Replicas of a function (several ready pods with its label) are ECMP
//! next hops. When a function has no ready pod with interfaces on both of
//! its networks, the chain is not complete: L ↔ R traffic is dropped
//! (`drop` policies) and a status line says why — never routed around.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use super::attach::{keys, Attachment};
use super::crd::{NetworkChaining, RoutingNetwork};
use super::networks::{parse_cidr, parse_ip, router_port, Networks};
use crate::error::{Error, Result};
use crate::labels;
use crate::manifest::{Objects, Sourced};
use crate::model::{Nb, NbRow, RowId};
use crate::pods::PodInfo;

/// Priority of the first-hop policies (any inport).
pub const PRIORITY_FIRST: i64 = 1500;
/// Priority of the per-network policies.
pub const PRIORITY_HOP: i64 = 1600;

/// One element of `networkChain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Element {
    /// A network.
    Net(String),
    /// A function: pods with label `key=value`.
    Function(String, String),
}

/// Parses `networkChain` into N0, F1, N1, …, Fn, Nn. A chain that starts
/// (ends) with a function takes its first (last) network from the first
/// left (right) end, as Nodus' examples write it.
pub fn parse_chain(
    s: &str,
    left: Option<&str>,
    right: Option<&str>,
) -> std::result::Result<Vec<Element>, String> {
    let mut v = Vec::new();
    for tok in s.split(',').map(str::trim) {
        if tok.is_empty() {
            return Err(format!("{s:?}: empty element"));
        }
        v.push(match tok.split_once('=') {
            Some(("net", n)) if !n.trim().is_empty() => Element::Net(n.trim().into()),
            Some((k, val)) if !k.trim().is_empty() && !val.trim().is_empty() => {
                Element::Function(k.trim().into(), val.trim().into())
            }
            Some(_) => return Err(format!("{tok:?}: expected net=NAME or LABEL=VALUE")),
            None => Element::Net(tok.into()),
        });
    }
    if let Some(Element::Function(..)) = v.first() {
        let l = left.ok_or("the chain starts with a function and there is no left end")?;
        v.insert(0, Element::Net(l.into()));
    }
    if let Some(Element::Function(..)) = v.last() {
        let r = right.ok_or("the chain ends with a function and there is no right end")?;
        v.push(Element::Net(r.into()));
    }
    for (i, e) in v.iter().enumerate() {
        let want_net = i % 2 == 0;
        if want_net != matches!(e, Element::Net(_)) {
            return Err(format!(
                "{s:?}: networks and functions must alternate (element {} is a {})",
                i + 1,
                if want_net { "function" } else { "network" }
            ));
        }
    }
    if v.len() < 3 {
        return Err(format!("{s:?}: no function in the chain"));
    }
    let nets: Vec<&str> = v
        .iter()
        .filter_map(|e| match e {
            Element::Net(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    for (i, n) in nets.iter().enumerate() {
        if nets[..i].contains(n) {
            return Err(format!("{s:?}: network {n} appears twice"));
        }
    }
    Ok(v)
}

struct End {
    net: String,
    subnet: Ipv4Network,
    gateway: Ipv4Addr,
    sel: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    ns_sel: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
}

/// Builds every chain's policies and routes.
pub fn build(
    nb: &mut Nb,
    objs: &Objects,
    nets: &Networks,
    pods: &BTreeMap<String, PodInfo>,
    atts: &BTreeMap<String, Vec<Attachment>>,
) -> Result<()> {
    for (key, c) in &objs.chains {
        build_one(nb, objs, nets, pods, atts, key, c)?;
    }
    Ok(())
}

fn build_one(
    nb: &mut Nb,
    objs: &Objects,
    nets: &Networks,
    pods: &BTreeMap<String, PodInfo>,
    atts: &BTreeMap<String, Vec<Attachment>>,
    key: &str,
    c: &Sourced<NetworkChaining>,
) -> Result<()> {
    let bad = |field: &str, m: String| Error::Invalid {
        at: Box::new(c.source.clone()),
        kind: "NetworkChaining".into(),
        name: key.into(),
        field: field.into(),
        message: m,
    };
    let spec = &c.obj.spec;
    if spec.chain_type != "Routing" {
        return Err(bad(
            "spec.chainType",
            format!("{:?}: only \"Routing\" is supported", spec.chain_type),
        ));
    }
    let rs = &spec.routing_spec;
    if rs.namespace.is_empty() {
        return Err(bad("spec.routingSpec.namespace", "required".into()));
    }
    let routed = |n: &str, field: &str| {
        let net = nets
            .nets
            .get(n)
            .ok_or_else(|| bad(field, format!("unknown network {n:?}")))?;
        net.gateway().ok_or_else(|| {
            bad(
                field,
                format!("network {n} has no IPv4 gateway; a chain's networks must be routed (chains route IPv4)"),
            )
        })?;
        Ok::<_, Error>(net)
    };
    let ends = |list: &[RoutingNetwork], side: &str| -> Result<Vec<End>> {
        if list.is_empty() {
            return Err(bad(
                &format!("spec.routingSpec.{side}"),
                "at least one end is required".into(),
            ));
        }
        let mut out = Vec::new();
        for (i, e) in list.iter().enumerate() {
            let f = |x: &str| format!("spec.routingSpec.{side}[{i}].{x}");
            let net = routed(&e.network_name, &f("networkName"))?;
            let subnet = parse_cidr(&e.subnet).map_err(|m| bad(&f("subnet"), m))?;
            let gateway = match e.gateway_ip.as_deref().filter(|g| !g.is_empty()) {
                Some(g) => {
                    let ip = parse_ip(g).map_err(|m| bad(&f("gatewayIp"), m))?;
                    if net.subnet_of(ip).is_none() {
                        return Err(bad(
                            &f("gatewayIp"),
                            format!("{ip} is not on network {}", net.name),
                        ));
                    }
                    ip
                }
                None => net.gateway().expect("routed"),
            };
            out.push(End {
                net: net.name.clone(),
                subnet,
                gateway,
                sel: e.pod_selector.clone(),
                ns_sel: e.namespace_selector.clone(),
            });
        }
        Ok(out)
    };
    let left = ends(&rs.left, "left")?;
    let right = ends(&rs.right, "right")?;
    for l in &left {
        for r in &right {
            if crate::ipam::overlaps(l.subnet, r.subnet) {
                return Err(bad(
                    "spec.routingSpec.right",
                    format!("{} overlaps the left subnet {}", r.subnet, l.subnet),
                ));
            }
        }
    }
    let field = "spec.routingSpec.networkChain";
    let chain = parse_chain(
        &rs.network_chain,
        left.first().map(|e| e.net.as_str()),
        right.first().map(|e| e.net.as_str()),
    )
    .map_err(|m| bad(field, m))?;
    let chain_nets: Vec<&str> = chain
        .iter()
        .filter_map(|e| match e {
            Element::Net(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    for n in &chain_nets {
        routed(n, field)?;
    }
    let n_fn = chain_nets.len() - 1;

    // The ready replicas of each function: (pod key, address on the left
    // network, address on the right network, their ports).
    type Replica<'a> = (&'a str, &'a Attachment, &'a Attachment);
    let mut functions: Vec<Vec<Replica>> = Vec::new();
    let mut problems = Vec::new();
    for (i, e) in chain.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        let Element::Function(k, v) = e else {
            unreachable!()
        };
        let (a, b) = (chain_nets[i / 2], chain_nets[i / 2 + 1]);
        let mut reps = Vec::new();
        let mut seen = 0;
        for (pk, p) in pods {
            if p.namespace != rs.namespace || p.labels.get(k) != Some(v) {
                continue;
            }
            seen += 1;
            let pa = atts.get(pk).into_iter().flatten().find(|x| x.network == a);
            let pb = atts.get(pk).into_iter().flatten().find(|x| x.network == b);
            if let (Some(x), Some(y)) = (pa, pb) {
                forwarding_port_security(nb, &x.port, &x.mac);
                forwarding_port_security(nb, &y.port, &y.mac);
            }
            match (pa, pb) {
                (Some(x), Some(y)) if p.ready => reps.push((pk.as_str(), x, y)),
                (Some(_), Some(_)) => {
                    problems.push(format!("function pod {pk} ({k}={v}) is not ready"))
                }
                _ => problems.push(format!(
                    "function pod {pk} ({k}={v}) needs interfaces on networks {a} and {b}"
                )),
            }
        }
        if reps.is_empty() {
            if seen == 0 {
                problems.push(format!(
                    "function {k}={v} has no pod in namespace {}",
                    rs.namespace
                ));
            }
            problems.push(format!(
                "function {k}={v} (between {a} and {b}) has no ready pod"
            ));
        }
        functions.push(reps);
    }
    let complete = functions.iter().all(|f| !f.is_empty());
    let owner = format!("NetworkChaining/{key}");
    let mut policies = Vec::new();
    let mut policy =
        |nb: &mut Nb, part: String, prio: i64, m: String, action: &str, hops: Vec<Ipv4Addr>| {
            let mut row = NbRow::new("Logical_Router_Policy", format!("{owner}#{part}"))
                .int("priority", prio)
                .str("match", m)
                .str("action", action)
                .map("external_ids", [("k8s.ovnflow/chain", key)]);
            if !hops.is_empty() {
                let mut hs: Vec<String> = hops.iter().map(Ipv4Addr::to_string).collect();
                hs.sort();
                row = row.strs("nexthops", hs);
            }
            policies.push(nb.add(row));
        };
    for l in &left {
        for r in &right {
            let tag = format!("{}-{}", l.subnet, r.subnet);
            let fwd = format!("ip4.src == {} && ip4.dst == {}", l.subnet, r.subnet);
            let rev = format!("ip4.src == {} && ip4.dst == {}", r.subnet, l.subnet);
            if !complete {
                policy(
                    nb,
                    format!("drop-fwd-{tag}"),
                    PRIORITY_FIRST,
                    fwd,
                    "drop",
                    vec![],
                );
                policy(
                    nb,
                    format!("drop-rev-{tag}"),
                    PRIORITY_FIRST,
                    rev,
                    "drop",
                    vec![],
                );
                continue;
            }
            let on = |f: &[Replica], left_side: bool| -> Vec<Ipv4Addr> {
                f.iter()
                    .map(|(_, a, b)| if left_side { v4(a) } else { v4(b) })
                    .collect()
            };
            // L → R: F1 on N0 first; from Ni the next function; Nn lets it go.
            policy(
                nb,
                format!("fwd-{tag}"),
                PRIORITY_FIRST,
                fwd.clone(),
                "reroute",
                on(&functions[0], true),
            );
            for i in 1..=n_fn {
                let m = format!("inport == \"{}\" && {fwd}", router_port(chain_nets[i]));
                if i < n_fn {
                    policy(
                        nb,
                        format!("fwd-{tag}-{}", chain_nets[i]),
                        PRIORITY_HOP,
                        m,
                        "reroute",
                        on(&functions[i], true),
                    );
                } else {
                    policy(
                        nb,
                        format!("fwd-{tag}-{}", chain_nets[i]),
                        PRIORITY_HOP,
                        m,
                        "allow",
                        vec![],
                    );
                }
            }
            // R → L: Fn on Nn first; from Ni the previous function; N0 lets it go.
            policy(
                nb,
                format!("rev-{tag}"),
                PRIORITY_FIRST,
                rev.clone(),
                "reroute",
                on(&functions[n_fn - 1], false),
            );
            for i in 0..n_fn {
                let m = format!("inport == \"{}\" && {rev}", router_port(chain_nets[i]));
                if i > 0 {
                    policy(
                        nb,
                        format!("rev-{tag}-{}", chain_nets[i]),
                        PRIORITY_HOP,
                        m,
                        "reroute",
                        on(&functions[i - 1], false),
                    );
                } else {
                    policy(
                        nb,
                        format!("rev-{tag}-{}", chain_nets[i]),
                        PRIORITY_HOP,
                        m,
                        "allow",
                        vec![],
                    );
                }
            }
        }
    }
    if let Some(router) = &nets.router {
        nb.add_refs(router, "policies", policies);
    }
    if !complete {
        problems.dedup();
        nb.status.push(format!(
            "NetworkChaining {key}: not in effect, traffic between its ends is dropped: {}",
            problems.join("; ")
        ));
        return Ok(());
    }

    // Routes of the function pods.
    let n_last = chain_nets[n_fn];
    let n_first = chain_nets[0];
    let gw = |n: &str| nets.nets[n].gateway().expect("routed");
    for (i, reps) in functions.iter().enumerate() {
        for (_, a, b) in reps {
            let mut to_right = Vec::new();
            for r in &right {
                if i + 1 < n_fn {
                    to_right.push((r.subnet, v4(functions[i + 1][0].1)));
                } else if !nets.nets[n_last].connects(r.subnet) {
                    to_right.push((r.subnet, gw(n_last)));
                }
            }
            let mut to_left = Vec::new();
            for l in &left {
                if i > 0 {
                    to_left.push((l.subnet, v4(functions[i - 1][0].2)));
                } else if !nets.nets[n_first].connects(l.subnet) {
                    to_left.push((l.subnet, gw(n_first)));
                }
            }
            add_routes(nb, &b.port, &to_right);
            add_routes(nb, &a.port, &to_left);
        }
    }
    // Routes of the end pods.
    for (side, others) in [(&left, &right), (&right, &left)] {
        for e in side.iter() {
            let Some(sel) = &e.sel else { continue };
            let routes: Vec<(Ipv4Network, Ipv4Addr)> =
                others.iter().map(|o| (o.subnet, e.gateway)).collect();
            for (pk, p) in pods {
                let ns_ok = match &e.ns_sel {
                    None => p.namespace == rs.namespace,
                    Some(s) => {
                        let mut l = objs
                            .namespaces
                            .get(&p.namespace)
                            .and_then(|n| n.obj.metadata.labels.clone())
                            .unwrap_or_default();
                        l.insert("kubernetes.io/metadata.name".into(), p.namespace.clone());
                        labels::matches(s, &l).map_err(|m| bad("namespaceSelector", m))?
                    }
                };
                if !ns_ok || !labels::matches(sel, &p.labels).map_err(|m| bad("podSelector", m))? {
                    continue;
                }
                if let Some(att) = atts
                    .get(pk)
                    .into_iter()
                    .flatten()
                    .find(|x| x.network == e.net)
                {
                    let port: RowId = att.port.clone();
                    add_routes(nb, &port, &routes);
                }
            }
        }
    }
    Ok(())
}

/// The IPv4 address of a chain interface: chain networks are routed
/// over IPv4 (checked: they have an IPv4 gateway), so every interface on
/// them has one.
fn v4(a: &Attachment) -> Ipv4Addr {
    a.ip4().expect("chain networks have IPv4 subnets")
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
