//! Nodes (fact sheet §2): per node a logical switch with a subnet from the
//! cluster subnets, the `rtos-`/`stor-` link to `ovn_cluster_router` pinned
//! to the node's chassis, the management port `k8s-<node>`, the NetpolNode
//! allow ACL, and the shared-gateway topology: `GR_<node>` on the join
//! switch, the external switch `ext_<node>` with its localnet port, static
//! routes, SNAT and the 1004 reroute policies.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnetwork::{IpNetwork, Ipv4Network};
use k8s_openapi::api::core::v1::Node;
use serde_json::Value;

use crate::cluster::{acl, ClusterRows};
use crate::error::{Error, Result};
use crate::ipam::{nth_ip, with_prefix, Config, SubnetAllocator};
use crate::manifest::Sourced;
use crate::model::{Nb, NbRow, RowId};
use crate::names::{db_object_ids, mac_from_addr};

mod annotations;
use annotations::{gateway, host_addresses, pinned_subnets};

/// What other modules need to know about a node.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// The node subnets, one per IP family in use, IPv4 first.
    pub subnets: Vec<IpNetwork>,
    /// The node switch.
    pub switch: RowId,
    /// The gateway router.
    pub gateway_router: RowId,
    /// The chassis name (`k8s.ovn.org/node-chassis-id`, else the node name).
    pub chassis: String,
    /// The node's host addresses (InternalIP and `k8s.ovn.org/host-addresses`)
    /// of the IP families in use.
    pub host_ips: Vec<IpAddr>,
}

impl NodeInfo {
    /// The IPv4 node subnet, when IPv4 is in use.
    pub fn subnet4(&self) -> Option<Ipv4Network> {
        self.subnets.iter().find_map(|s| match s {
            IpNetwork::V4(n) => Some(*n),
            IpNetwork::V6(_) => None,
        })
    }

    /// The node subnet of a family.
    pub fn subnet_of(&self, v6: bool) -> Option<IpNetwork> {
        self.subnets.iter().copied().find(|s| s.is_ipv6() == v6)
    }
}

/// The management port address, `.2` of the node subnet.
pub fn mgmt_ip(subnet: IpNetwork) -> IpAddr {
    nth_ip(subnet, 2)
}

/// The OVN match prefix of a family.
pub fn ip_kw(v6: bool) -> &'static str {
    if v6 {
        "ip6"
    } else {
        "ip4"
    }
}

/// An invalid-field error for a node.
pub(crate) fn invalid(
    n: &Sourced<Node>,
    name: &str,
    field: &str,
    message: impl Into<String>,
) -> Error {
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
pub(crate) fn json_annotation(n: &Sourced<Node>, name: &str, key: &str) -> Result<Option<Value>> {
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
    let mut subnets: BTreeMap<&str, Vec<IpNetwork>> = BTreeMap::new();
    for (name, n) in nodes {
        let pinned = pinned_subnets(cfg, n, name)?;
        for net in &pinned {
            alloc
                .reserve(*net)
                .map_err(|m| invalid(n, name, &annotation_field("k8s.ovn.org/node-subnets"), m))?;
        }
        subnets.insert(name, pinned);
    }
    for (name, n) in nodes {
        let mine = subnets.get_mut(name.as_str()).expect("every node");
        for v6 in cfg.families() {
            if mine.iter().any(|s| s.is_ipv6() == v6) {
                continue;
            }
            let net = alloc.allocate(v6).ok_or_else(|| {
                invalid(
                    n,
                    name,
                    "metadata.name",
                    format!(
                        "the {} cluster subnets are exhausted",
                        if v6 { "IPv6" } else { "IPv4" }
                    ),
                )
            })?;
            mine.push(net);
        }
        mine.sort_by_key(IpNetwork::is_ipv6);
    }

    let mut out = BTreeMap::new();
    for (i, (name, n)) in nodes.iter().enumerate() {
        let mut join_ips = Vec::new();
        for j in cfg.joins() {
            let ip = nth_ip(j, i as u128 + 2);
            if !j.contains(ip) || ip == j.broadcast() {
                return Err(invalid(
                    n,
                    name,
                    "metadata.name",
                    "the join subnet is exhausted",
                ));
            }
            join_ips.push(IpNetwork::new(ip, j.prefix()).expect("join prefix"));
        }
        let info = build_node(
            nb,
            cfg,
            cluster,
            n,
            name,
            subnets[name.as_str()].clone(),
            &join_ips,
        )?;
        out.insert(name.clone(), info);
    }
    Ok(out)
}

/// A row key suffix for a family's second row: nothing for IPv4 (so
/// IPv4 rows keep their keys), `-v6` for IPv6.
fn fam_suffix(v6: bool) -> &'static str {
    if v6 {
        "-v6"
    } else {
        ""
    }
}

fn build_node(
    nb: &mut Nb,
    cfg: &Config,
    cluster: &ClusterRows,
    n: &Sourced<Node>,
    name: &str,
    subnets: Vec<IpNetwork>,
    join_ips: &[IpNetwork],
) -> Result<NodeInfo> {
    let owner = format!("Node/{name}");
    let k = |part: &str| format!("{owner}#{part}");
    let gw_ips: Vec<IpAddr> = subnets.iter().map(|s| nth_ip(*s, 1)).collect();
    let mgmts: Vec<IpAddr> = subnets.iter().map(|s| mgmt_ip(*s)).collect();
    let chassis = annotation(&n.obj.metadata, "k8s.ovn.org/node-chassis-id")
        .unwrap_or(name)
        .to_string();

    let (host_ips, internal) = host_addresses(cfg, n, name)?;
    let gw = gateway(cfg, n, name, &host_ips[..internal])?;
    let mgmt_mac = annotation(&n.obj.metadata, "k8s.ovn.org/node-mgmt-port-mac-address")
        .map(str::to_string)
        .unwrap_or_else(|| mac_from_addr(mgmts[0]));
    let mgmt_of = |v6: bool| mgmts.iter().copied().find(|m| m.is_ipv6() == v6);

    // Node switch: stor- router port, management port, NetpolNode ACLs.
    let stor = nb.add(
        NbRow::new("Logical_Switch_Port", k("stor"))
            .str("name", format!("stor-{name}"))
            .str("type", "router")
            .strs("addresses", ["router"])
            .map("options", [("router-port", format!("rtos-{name}"))]),
    );
    let mut mgmt_addr = mgmt_mac.clone();
    for m in &mgmts {
        mgmt_addr.push(' ');
        mgmt_addr.push_str(&m.to_string());
    }
    let mgmt_port = nb.add(
        NbRow::new("Logical_Switch_Port", k("mgmt"))
            .str("name", format!("k8s-{name}"))
            .strs("addresses", [mgmt_addr]),
    );
    nb.add_refs(&cluster.port_group, "ports", [mgmt_port.clone()]);
    let mut node_acls = Vec::new();
    for mgmt in &mgmts {
        let v6 = mgmt.is_ipv6();
        node_acls.push(
            nb.add(
                acl(
                    k(&format!("acl-mgmt{}", fam_suffix(v6))),
                    "to-lport",
                    1001,
                    "allow-related",
                    &format!("{}.src=={mgmt}", ip_kw(v6)),
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
            ),
        );
    }
    // exclude_ips is dropped once k8s-<node> exists (UpdateNodeSwitchExcludeIPs);
    // IPv6 gives the subnet's base address as ipv6_prefix.
    let mut other_config = Vec::new();
    for s in &subnets {
        match s {
            IpNetwork::V4(_) => other_config.push(("subnet", s.to_string())),
            IpNetwork::V6(_) => other_config.push(("ipv6_prefix", s.network().to_string())),
        }
    }
    let switch = nb.add(
        NbRow::new("Logical_Switch", k("switch"))
            .str("name", name)
            .map("other_config", other_config)
            .refs("ports", [stor, mgmt_port])
            .refs("acls", node_acls)
            .refs(
                "load_balancer_group",
                [cluster.lb_groups[0].clone(), cluster.lb_groups[1].clone()],
            ),
    );

    // rtos- on the cluster router, pinned to the node's chassis; the MAC
    // from the first (IPv4 when there is one) gateway address.
    let gc = nb.add(
        NbRow::new("Gateway_Chassis", k("gateway-chassis"))
            .str("name", format!("rtos-{name}-{chassis}"))
            .str("chassis_name", &chassis)
            .int("priority", 1),
    );
    let rtos = nb.add(
        NbRow::new("Logical_Router_Port", k("rtos"))
            .str("name", format!("rtos-{name}"))
            .str("mac", mac_from_addr(gw_ips[0]))
            .strs(
                "networks",
                subnets
                    .iter()
                    .zip(&gw_ips)
                    .map(|(s, g)| with_prefix(*g, s.prefix())),
            )
            .refs("gateway_chassis", [gc]),
    );
    let join_of = |v6: bool| join_ips.iter().map(|j| j.ip()).find(|j| j.is_ipv6() == v6);
    let mut router_routes = Vec::new();
    for j in join_ips {
        // The workaround route to the GR's join address.
        let suffix = fam_suffix(j.is_ipv6());
        router_routes.push(
            nb.add(
                NbRow::new(
                    "Logical_Router_Static_Route",
                    k(&format!("route-join{suffix}")),
                )
                .str("ip_prefix", j.ip().to_string())
                .str("nexthop", j.ip().to_string()),
            ),
        );
    }
    for s in &subnets {
        // Shared gateway: traffic from the node subnet leaves via GR_<node>.
        let v6 = s.is_ipv6();
        if let Some(j) = join_of(v6) {
            router_routes.push(
                nb.add(
                    NbRow::new(
                        "Logical_Router_Static_Route",
                        k(&format!("route-src{}", fam_suffix(v6))),
                    )
                    .str("policy", "src-ip")
                    .str("ip_prefix", s.to_string())
                    .str("nexthop", j.to_string()),
                ),
            );
        }
    }
    let mut policies = Vec::new();
    for ip in &host_ips {
        let v6 = ip.is_ipv6();
        let Some(mgmt) = mgmt_of(v6) else { continue };
        policies.push(
            nb.add(
                NbRow::new("Logical_Router_Policy", k(&format!("policy-1004-{ip}")))
                    .int("priority", 1004)
                    .str(
                        "match",
                        format!(
                            "inport == \"rtos-{name}\" && {}.dst == {ip} /* {name} */",
                            ip_kw(v6)
                        ),
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
            .str("mac", mac_from_addr(join_ips[0].ip()))
            .strs("networks", join_ips.iter().map(|j| j.to_string()))
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
                .str(
                    "nexthop",
                    nth_ip(cfg.join(cs.cidr.is_ipv6()), 1).to_string(),
                ),
            ),
        );
    }
    if let Some(gw) = &gw {
        let rtoe_name = format!("rtoe-{gr_name}");
        let ext: Vec<String> = gw.ips.iter().map(|i| i.ip().to_string()).collect();
        ext_ids.insert("physical_ip".to_string(), ext[0].clone());
        ext_ids.insert("physical_ips".to_string(), ext.join(","));
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
                    .strs("networks", gw.ips.iter().map(|i| i.to_string()))
                    .map("external_ids", [("gateway-physical-ip", "yes")]),
            ),
        );
        for v6 in cfg.families() {
            // The masquerade subnet via the dummy next hop (.4).
            let (prefix, hop) = if v6 {
                ("fd69::/125", "fd69::4")
            } else {
                ("169.254.169.0/29", "169.254.169.4")
            };
            gr_routes.push(
                nb.add(
                    NbRow::new(
                        "Logical_Router_Static_Route",
                        k(&format!("gr-route-masquerade{}", fam_suffix(v6))),
                    )
                    .str("ip_prefix", prefix)
                    .str("nexthop", hop)
                    .str("output_port", &rtoe_name),
                ),
            );
        }
        for hop in &gw.next_hops {
            let v6 = hop.is_ipv6();
            gr_routes.push(
                nb.add(
                    NbRow::new(
                        "Logical_Router_Static_Route",
                        k(&format!("gr-route-default{}", fam_suffix(v6))),
                    )
                    .str("ip_prefix", if v6 { "::/0" } else { "0.0.0.0/0" })
                    .str("nexthop", hop.to_string())
                    .str("output_port", &rtoe_name),
                ),
            );
        }
        for cs in &cfg.cluster_subnets {
            // SNAT to the node's external address of the same family.
            let Some(ext) = gw.ips.iter().find(|i| i.is_ipv6() == cs.cidr.is_ipv6()) else {
                continue;
            };
            nats.push(
                nb.add(
                    NbRow::new("NAT", k(&format!("snat-{}", cs.cidr)))
                        .str("type", "snat")
                        .str("external_ip", ext.ip().to_string())
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
        subnets,
        switch,
        gateway_router,
        chassis,
        host_ips,
    })
}
