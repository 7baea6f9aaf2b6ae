//! Nodes (fact sheet §2): per node a logical switch with a subnet from the
//! cluster subnets, the `rtos-`/`stor-` link to `ovn_cluster_router` pinned
//! to the node's chassis, the management port `k8s-<node>`, the NetpolNode
//! allow ACL, and the shared-gateway topology: `GR_<node>` on the join
//! switch, the external switch `ext_<node>` with its localnet port, static
//! routes, SNAT and the 1004 reroute policies.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;
use k8s_openapi::api::core::v1::Node;
use serde_json::Value;

use crate::cluster::{acl, ClusterRows};
use crate::error::{Error, Result};
use crate::ipam::{nth, Config, SubnetAllocator};
use crate::manifest::Sourced;
use crate::model::{Nb, NbRow, RowId};
use crate::names::{db_object_ids, mac_from_ip};

/// What other modules need to know about a node.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// The node subnet.
    pub subnet: Ipv4Network,
    /// The node switch.
    pub switch: RowId,
    /// The gateway router.
    pub gateway_router: RowId,
    /// The chassis name (`k8s.ovn.org/node-chassis-id`, else the node name).
    pub chassis: String,
    /// The node's host addresses (InternalIP and `k8s.ovn.org/host-addresses`).
    pub host_ips: Vec<Ipv4Addr>,
}

/// The management port address, `.2` of the node subnet.
pub fn mgmt_ip(subnet: Ipv4Network) -> Ipv4Addr {
    nth(subnet, 2)
}

/// An invalid-field error for a node.
fn invalid(n: &Sourced<Node>, name: &str, field: &str, message: impl Into<String>) -> Error {
    Error::Invalid {
        at: Box::new(n.source.clone()),
        kind: "Node".into(),
        name: name.into(),
        field: field.into(),
        message: message.into(),
    }
}

/// An annotation's value.
pub fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The field path of an annotation, for errors.
pub fn annotation_field(key: &str) -> String {
    format!("metadata.annotations[\"{key}\"]")
}

/// A JSON annotation, parsed.
fn json_annotation(n: &Sourced<Node>, name: &str, key: &str) -> Result<Option<Value>> {
    match annotation(&n.obj.metadata, key) {
        None => Ok(None),
        Some(s) => serde_json::from_str(s).map(Some).map_err(|e| {
            invalid(
                n,
                name,
                &annotation_field(key),
                format!("invalid JSON: {e}"),
            )
        }),
    }
}

/// A string or the first string of a list.
fn first_str(v: &Value) -> Option<&str> {
    v.as_str()
        .or_else(|| v.as_array().and_then(|a| a.first()).and_then(Value::as_str))
}

/// The l3 gateway of a node: its external interface, MAC, address (with
/// prefix), next hop and VLAN.
#[derive(Clone, Debug)]
struct Gateway {
    interface_id: String,
    mac: String,
    ip: Ipv4Network,
    next_hop: Option<Ipv4Addr>,
    vlan: Option<i64>,
}

/// The gateway from `k8s.ovn.org/l3-gateway-config` when present, else
/// from the node's first InternalIP as a /32 with no next hop (manifests
/// rarely carry ovnkube-node's annotations; without a next hop no default
/// route is written).
fn gateway(n: &Sourced<Node>, name: &str, internal: Option<Ipv4Addr>) -> Result<Option<Gateway>> {
    const KEY: &str = "k8s.ovn.org/l3-gateway-config";
    let field = annotation_field(KEY);
    if let Some(v) = json_annotation(n, name, KEY)? {
        let d = v
            .get("default")
            .ok_or_else(|| invalid(n, name, &field, "no \"default\" entry"))?;
        let ip_s = d
            .get("ip-addresses")
            .and_then(first_str)
            .or_else(|| d.get("ip-address").and_then(Value::as_str))
            .ok_or_else(|| invalid(n, name, &field, "no ip-addresses"))?;
        let ip: Ipv4Network = ip_s
            .parse()
            .map_err(|e| invalid(n, name, &field, format!("ip-addresses {ip_s:?}: {e}")))?;
        let next_hop = match d
            .get("next-hops")
            .and_then(first_str)
            .or_else(|| d.get("next-hop").and_then(Value::as_str))
        {
            None | Some("") => None,
            Some(s) => Some(
                s.parse()
                    .map_err(|e| invalid(n, name, &field, format!("next-hops {s:?}: {e}")))?,
            ),
        };
        let mac = d
            .get("mac-address")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| mac_from_ip(ip.ip()));
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
            ip,
            next_hop,
            vlan,
        }));
    }
    Ok(internal.map(|ip| Gateway {
        interface_id: format!("breth0_{name}"),
        mac: mac_from_ip(ip),
        ip: Ipv4Network::new(ip, 32).expect("/32"),
        next_hop: None,
        vlan: None,
    }))
}

/// Builds every node's rows; nodes are taken in name order so subnets and
/// join addresses are deterministic.
pub fn build(
    nb: &mut Nb,
    cfg: &Config,
    cluster: &ClusterRows,
    nodes: &BTreeMap<String, Sourced<Node>>,
) -> Result<BTreeMap<String, NodeInfo>> {
    // Pinned subnets first, then allocation in name order.
    let mut alloc = SubnetAllocator::new(cfg);
    let mut subnets = BTreeMap::new();
    const SUBNETS: &str = "k8s.ovn.org/node-subnets";
    for (name, n) in nodes {
        if let Some(v) = json_annotation(n, name, SUBNETS)? {
            let field = annotation_field(SUBNETS);
            let s = v
                .get("default")
                .and_then(first_str)
                .ok_or_else(|| invalid(n, name, &field, "no \"default\" subnet"))?;
            let net: Ipv4Network = s
                .parse()
                .map_err(|e| invalid(n, name, &field, format!("invalid CIDR {s:?}: {e}")))?;
            if net.network() != net.ip() {
                return Err(invalid(n, name, &field, format!("{s}: host bits set")));
            }
            alloc
                .reserve(net)
                .map_err(|m| invalid(n, name, &field, m))?;
            subnets.insert(name.clone(), net);
        }
    }
    for (name, n) in nodes {
        if !subnets.contains_key(name) {
            let net = alloc.allocate().ok_or_else(|| {
                invalid(
                    n,
                    name,
                    "metadata.name",
                    "the cluster subnets are exhausted",
                )
            })?;
            subnets.insert(name.clone(), net);
        }
    }

    let mut out = BTreeMap::new();
    for (i, (name, n)) in nodes.iter().enumerate() {
        let subnet = subnets[name];
        let join_ip = nth(cfg.join_subnet, i as u32 + 2);
        if !cfg.join_subnet.contains(join_ip) || join_ip == cfg.join_subnet.broadcast() {
            return Err(invalid(
                n,
                name,
                "metadata.name",
                "the join subnet is exhausted",
            ));
        }
        let info = build_node(nb, cfg, cluster, n, name, subnet, join_ip)?;
        out.insert(name.clone(), info);
    }
    Ok(out)
}

fn build_node(
    nb: &mut Nb,
    cfg: &Config,
    cluster: &ClusterRows,
    n: &Sourced<Node>,
    name: &str,
    subnet: Ipv4Network,
    join_ip: Ipv4Addr,
) -> Result<NodeInfo> {
    let owner = format!("Node/{name}");
    let k = |part: &str| format!("{owner}#{part}");
    let gw_ip = nth(subnet, 1);
    let mgmt = mgmt_ip(subnet);
    let chassis = annotation(&n.obj.metadata, "k8s.ovn.org/node-chassis-id")
        .unwrap_or(name)
        .to_string();

    // Host addresses: InternalIPs, then k8s.ovn.org/host-addresses.
    let mut host_ips: Vec<Ipv4Addr> = Vec::new();
    if let Some(addrs) = n.obj.status.as_ref().and_then(|s| s.addresses.as_ref()) {
        for (j, a) in addrs.iter().enumerate() {
            if a.type_ == "InternalIP" {
                if a.address.contains(':') {
                    continue; // IPv6: single-stack IPv4 only
                }
                let ip: Ipv4Addr = a.address.parse().map_err(|e| {
                    invalid(
                        n,
                        name,
                        &format!("status.addresses[{j}].address"),
                        format!("{:?}: {e}", a.address),
                    )
                })?;
                host_ips.push(ip);
            }
        }
    }
    let internal = host_ips.first().copied();
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
            if s.contains(':') {
                continue;
            }
            let ip: Ipv4Addr = s
                .parse()
                .map_err(|e| invalid(n, name, &field, format!("{s:?}: {e}")))?;
            if !host_ips.contains(&ip) {
                host_ips.push(ip);
            }
        }
    }
    let gw = gateway(n, name, internal)?;
    let mgmt_mac = annotation(&n.obj.metadata, "k8s.ovn.org/node-mgmt-port-mac-address")
        .map(str::to_string)
        .unwrap_or_else(|| mac_from_ip(mgmt));

    // Node switch: stor- router port, management port, NetpolNode ACL.
    let stor = nb.add(
        NbRow::new("Logical_Switch_Port", k("stor"))
            .str("name", format!("stor-{name}"))
            .str("type", "router")
            .strs("addresses", ["router"])
            .map("options", [("router-port", format!("rtos-{name}"))]),
    );
    let mgmt_port = nb.add(
        NbRow::new("Logical_Switch_Port", k("mgmt"))
            .str("name", format!("k8s-{name}"))
            .strs("addresses", [format!("{mgmt_mac} {mgmt}")]),
    );
    nb.add_refs(&cluster.port_group, "ports", [mgmt_port.clone()]);
    let node_acl = nb.add(
        acl(
            k("acl-mgmt"),
            "to-lport",
            1001,
            "allow-related",
            &format!("ip4.src=={mgmt}"),
            None,
        )
        .map(
            "external_ids",
            db_object_ids(
                "NetpolNode",
                &[
                    ("k8s.ovn.org/name", name.to_string()),
                    ("ip", mgmt.to_string()),
                ],
            ),
        ),
    );
    // exclude_ips is dropped once k8s-<node> exists (UpdateNodeSwitchExcludeIPs).
    let switch = nb.add(
        NbRow::new("Logical_Switch", k("switch"))
            .str("name", name)
            .map("other_config", [("subnet", subnet.to_string())])
            .refs("ports", [stor, mgmt_port])
            .refs("acls", [node_acl])
            .refs(
                "load_balancer_group",
                [cluster.lb_groups[0].clone(), cluster.lb_groups[1].clone()],
            ),
    );

    // rtos- on the cluster router, pinned to the node's chassis.
    let gc = nb.add(
        NbRow::new("Gateway_Chassis", k("gateway-chassis"))
            .str("name", format!("rtos-{name}-{chassis}"))
            .str("chassis_name", &chassis)
            .int("priority", 1),
    );
    let rtos = nb.add(
        NbRow::new("Logical_Router_Port", k("rtos"))
            .str("name", format!("rtos-{name}"))
            .str("mac", mac_from_ip(gw_ip))
            .strs("networks", [format!("{gw_ip}/{}", subnet.prefix())])
            .refs("gateway_chassis", [gc]),
    );
    let mut router_routes = vec![
        // The workaround route to the GR's join address.
        nb.add(
            NbRow::new("Logical_Router_Static_Route", k("route-join"))
                .str("ip_prefix", join_ip.to_string())
                .str("nexthop", join_ip.to_string()),
        ),
        // Shared gateway: traffic from the node subnet leaves via GR_<node>.
        nb.add(
            NbRow::new("Logical_Router_Static_Route", k("route-src"))
                .str("policy", "src-ip")
                .str("ip_prefix", subnet.to_string())
                .str("nexthop", join_ip.to_string()),
        ),
    ];
    let mut policies = Vec::new();
    for ip in &host_ips {
        policies.push(
            nb.add(
                NbRow::new("Logical_Router_Policy", k(&format!("policy-1004-{ip}")))
                    .int("priority", 1004)
                    .str(
                        "match",
                        format!("inport == \"rtos-{name}\" && ip4.dst == {ip} /* {name} */"),
                    )
                    .str("action", "reroute")
                    .strs("nexthops", [mgmt.to_string()]),
            ),
        );
    }
    nb.add_refs(&cluster.router, "ports", [rtos]);
    nb.add_refs(&cluster.router, "static_routes", router_routes.drain(..));
    nb.add_refs(&cluster.router, "policies", policies);

    // Gateway router on the join switch.
    let gr_name = format!("GR_{name}");
    let jtor = nb.add(
        NbRow::new("Logical_Switch_Port", k("jtor-gr"))
            .str("name", format!("jtor-{gr_name}"))
            .str("type", "router")
            .strs("addresses", ["router"])
            .map("options", [("router-port", format!("rtoj-{gr_name}"))]),
    );
    nb.add_refs(&cluster.join, "ports", [jtor]);
    let rtoj = nb.add(
        NbRow::new("Logical_Router_Port", k("rtoj-gr"))
            .str("name", format!("rtoj-{gr_name}"))
            .str("mac", mac_from_ip(join_ip))
            .strs(
                "networks",
                [format!("{join_ip}/{}", cfg.join_subnet.prefix())],
            )
            .map("options", [("gateway_mtu", "1400")]),
    );
    let mut gr_ports = vec![rtoj];
    let mut gr_routes = Vec::new();
    let mut nats = Vec::new();
    let mut ext_ids = BTreeMap::new();
    for cs in &cfg.cluster_subnets {
        gr_routes.push(
            nb.add(
                NbRow::new(
                    "Logical_Router_Static_Route",
                    k(&format!("gr-route-{}", cs.cidr)),
                )
                .str("ip_prefix", cs.cidr.to_string())
                .str("nexthop", nth(cfg.join_subnet, 1).to_string()),
            ),
        );
    }
    if let Some(gw) = &gw {
        let rtoe_name = format!("rtoe-{gr_name}");
        ext_ids.insert("physical_ip".to_string(), gw.ip.ip().to_string());
        ext_ids.insert("physical_ips".to_string(), gw.ip.ip().to_string());
        let mut localnet = NbRow::new("Logical_Switch_Port", k("localnet"))
            .str("name", &gw.interface_id)
            .str("type", "localnet")
            .strs("addresses", ["unknown"])
            .map("options", [("network_name", "physnet")]);
        if let Some(v) = gw.vlan {
            localnet = localnet.int("tag_request", v);
        }
        let localnet = nb.add(localnet);
        let etor = nb.add(
            NbRow::new("Logical_Switch_Port", k("etor"))
                .str("name", format!("etor-{gr_name}"))
                .str("type", "router")
                .strs("addresses", [gw.mac.clone()])
                .map("options", [("router-port", rtoe_name.clone())]),
        );
        nb.add(
            NbRow::new("Logical_Switch", k("ext-switch"))
                .str("name", format!("ext_{name}"))
                .refs("ports", [localnet, etor]),
        );
        gr_ports.push(
            nb.add(
                NbRow::new("Logical_Router_Port", k("rtoe"))
                    .str("name", &rtoe_name)
                    .str("mac", &gw.mac)
                    .strs("networks", [gw.ip.to_string()])
                    .map("external_ids", [("gateway-physical-ip", "yes")]),
            ),
        );
        gr_routes.push(
            nb.add(
                NbRow::new("Logical_Router_Static_Route", k("gr-route-masquerade"))
                    .str("ip_prefix", "169.254.169.0/29")
                    .str("nexthop", "169.254.169.4")
                    .str("output_port", &rtoe_name),
            ),
        );
        if let Some(hop) = gw.next_hop {
            gr_routes.push(
                nb.add(
                    NbRow::new("Logical_Router_Static_Route", k("gr-route-default"))
                        .str("ip_prefix", "0.0.0.0/0")
                        .str("nexthop", hop.to_string())
                        .str("output_port", &rtoe_name),
                ),
            );
        }
        for cs in &cfg.cluster_subnets {
            nats.push(
                nb.add(
                    NbRow::new("NAT", k(&format!("snat-{}", cs.cidr)))
                        .str("type", "snat")
                        .str("external_ip", gw.ip.ip().to_string())
                        .str("logical_ip", cs.cidr.to_string())
                        .map("options", [("stateless", "false")]),
                ),
            );
        }
    }
    let gateway_router = nb.add(
        NbRow::new("Logical_Router", k("gateway-router"))
            .str("name", &gr_name)
            .map(
                "options",
                [
                    ("always_learn_from_arp_request", "false"),
                    ("dynamic_neigh_routers", "true"),
                    ("chassis", chassis.as_str()),
                    ("lb_force_snat_ip", "router_ip"),
                    ("snat-ct-zone", "0"),
                ],
            )
            .map("external_ids", ext_ids)
            .refs("ports", gr_ports)
            .refs("static_routes", gr_routes)
            .refs("nat", nats)
            .refs(
                "load_balancer_group",
                [cluster.lb_groups[0].clone(), cluster.lb_groups[2].clone()],
            ),
    );
    Ok(NodeInfo {
        subnet,
        switch,
        gateway_router,
        chassis,
        host_ips,
    })
}
