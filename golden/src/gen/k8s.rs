//! Kubernetes-shaped Northbound databases, as ovn-kubernetes lays them out
//! in outline: a logical switch per node with its pods, one cluster router,
//! services as load balancers in one load balancer group, and network
//! policies as port groups, address sets and ACLs.

use std::collections::BTreeSet;

use serde_json::{json, Value};

/// The size of a generated topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct K8sShape {
    /// Nodes, each a logical switch.
    pub nodes: u32,
    /// Pods (logical switch ports) per node.
    pub pods_per_node: u32,
    /// Services (load balancers).
    pub services: u32,
    /// Backends per service.
    pub backends: u32,
    /// Network policies.
    pub policies: u32,
}

/// A deterministic row UUID: `kind` (one hex digit) and a serial number.
/// Kinds: 1 load balancer, 2 load balancer group, 3 pod port, 4 router
/// port, 5 switch-to-router port, 6 node switch, 7 cluster router,
/// 8 address set, 9 ACL, 10 port group, 11 `NB_Global`.
pub fn uuid(kind: u32, n: u32) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

/// Dotted-quad text of an IPv4 address held as a `u32`.
pub(super) fn ipv4(ip: u32) -> String {
    format!(
        "{}.{}.{}.{}",
        ip >> 24,
        (ip >> 16) & 255,
        (ip >> 8) & 255,
        ip & 255
    )
}

/// A pod's IP: 10.128.0.0/14 carved into a /23 per node, as ovn-kubernetes'
/// default; .1 is the node's router port, pods start at .3.
fn pod_ip(node: u32, pod: u32) -> String {
    ipv4((10u32 << 24) + (128 << 16) + (node << 9) + 3 + pod)
}

fn pod_mac(node: u32, pod: u32) -> String {
    let ip: Vec<u32> = pod_ip(node, pod)
        .split('.')
        .map(|o| o.parse().unwrap_or(0))
        .collect();
    format!(
        "0a:58:{:02x}:{:02x}:{:02x}:{:02x}",
        ip[0], ip[1], ip[2], ip[3]
    )
}

/// Service `s`: its VIP (`ip:port`) and backends (`ip:port`), pods picked
/// round-robin over the whole cluster.
pub fn service(shape: &K8sShape, s: u32) -> (String, Vec<String>) {
    let total_pods = shape.nodes * shape.pods_per_node;
    let vip = format!("{}:80", ipv4((10 << 24) + (96 << 16) + s + 1));
    let mut backends: Vec<String> = Vec::new();
    for b in 0..shape.backends {
        if total_pods == 0 {
            break;
        }
        let p = (s * shape.backends + b) % total_pods;
        let ep = format!(
            "{}:8080",
            pod_ip(p / shape.pods_per_node, p % shape.pods_per_node)
        );
        if !backends.contains(&ep) {
            backends.push(ep);
        }
    }
    (vip, backends)
}

/// The NB as a transact params array (`["OVN_Northbound", op, …]`) with an
/// explicit UUID for every row. Children are inserted before the rows that
/// refer to them, so the file behaves the same in ovsdb-server and in
/// `ovsdb::transact_file`.
pub fn k8s(shape: &K8sShape) -> Value {
    let mut ops = vec![json!("OVN_Northbound")];
    let total_pods = shape.nodes * shape.pods_per_node;
    // Load balancers and their group.
    let mut lbs = Vec::new();
    for s in 0..shape.services {
        let (vip, backends) = service(shape, s);
        let u = uuid(1, s);
        ops.push(json!({"op": "insert", "table": "Load_Balancer", "uuid": u, "row": {
            "name": format!("Service_default/svc{s}_TCP_cluster"), "protocol": "tcp",
            "vips": ["map", [[vip, backends.join(",")]]],
            "external_ids": ["map", [["k8s.ovn.org/kind", "Service"], ["k8s.ovn.org/owner", format!("default/svc{s}")]]],
        }}));
        lbs.push(json!(["uuid", u]));
    }
    let group = uuid(2, 0);
    ops.push(
        json!({"op": "insert", "table": "Load_Balancer_Group", "uuid": group, "row": {
        "name": "clusterLBGroup", "load_balancer": ["set", lbs]}}),
    );
    // Node switches, pods and the router ports.
    let mut lrps = Vec::new();
    for n in 0..shape.nodes {
        let mut ports = Vec::new();
        for p in 0..shape.pods_per_node {
            let u = uuid(3, n * shape.pods_per_node + p);
            let addr = format!("{} {}", pod_mac(n, p), pod_ip(n, p));
            ops.push(json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": u, "row": {
                "name": format!("default_pod-{n}-{p}"), "addresses": addr, "port_security": addr,
                "options": ["map", [["requested-chassis", format!("node{n}")]]],
            }}));
            ports.push(json!(["uuid", u]));
        }
        let gw = pod_ip(n, 0)
            .rsplit_once('.')
            .map(|(a, _)| format!("{a}.1"))
            .unwrap_or_default();
        let lrp = uuid(4, n);
        ops.push(json!({"op": "insert", "table": "Logical_Router_Port", "uuid": lrp, "row": {
            "name": format!("rtos-node{n}"), "mac": format!("0a:58:0a:{:02x}:{:02x}:01", 128 + n / 128, (n * 2) % 256),
            "networks": format!("{gw}/23")}}));
        lrps.push(json!(["uuid", lrp]));
        let stor = uuid(5, n);
        ops.push(
            json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": stor, "row": {
            "name": format!("stor-node{n}"), "type": "router", "addresses": "router",
            "options": ["map", [["router-port", format!("rtos-node{n}")]]]}}),
        );
        ports.push(json!(["uuid", stor]));
        ops.push(json!({"op": "insert", "table": "Logical_Switch", "uuid": uuid(6, n), "row": {
            "name": format!("node{n}"), "ports": ["set", ports],
            "load_balancer_group": ["uuid", group],
            "other_config": ["map", [["subnet", format!("{}/23", pod_ip(n, 0).rsplit_once('.').map(|(a, _)| format!("{a}.0")).unwrap_or_default())]]],
        }}));
    }
    ops.push(json!({"op": "insert", "table": "Logical_Router", "uuid": uuid(7, 0), "row": {
        "name": "ovn_cluster_router", "ports": ["set", lrps], "load_balancer_group": ["uuid", group]}}));
    // Network policies: a port group of a few pods, an address set of peers,
    // an allow-related ACL from the peers and a default drop.
    for k in 0..shape.policies {
        // Sets must not repeat an element (ovsdb-server rejects that), which
        // the modular picks would with fewer than four pods.
        let members: BTreeSet<u32> = (0..4)
            .filter(|_| total_pods > 0)
            .map(|i| (k * 7 + i) % total_pods)
            .collect();
        let members: Vec<Value> = members
            .into_iter()
            .map(|p| json!(["uuid", uuid(3, p)]))
            .collect();
        let peers: BTreeSet<u32> = (0..3)
            .filter(|_| total_pods > 0)
            .map(|i| (k * 11 + i + 1) % total_pods)
            .collect();
        let peers: Vec<String> = peers
            .into_iter()
            .map(|p| pod_ip(p / shape.pods_per_node, p % shape.pods_per_node))
            .collect();
        let as_name = format!("a{k}_ingress");
        ops.push(
            json!({"op": "insert", "table": "Address_Set", "uuid": uuid(8, k), "row": {
            "name": as_name, "addresses": ["set", peers]}}),
        );
        let pg = format!("pg_policy{k}");
        let allow = uuid(9, 2 * k);
        let drop = uuid(9, 2 * k + 1);
        ops.push(
            json!({"op": "insert", "table": "ACL", "uuid": allow, "row": {
            "priority": 1001, "direction": "to-lport", "action": "allow-related",
            "match": format!("outport == @{pg} && ip4.src == ${as_name} && tcp.dst == 8080")}}),
        );
        ops.push(
            json!({"op": "insert", "table": "ACL", "uuid": drop, "row": {
            "priority": 1000, "direction": "to-lport", "action": "drop",
            "match": format!("outport == @{pg}")}}),
        );
        ops.push(json!({"op": "insert", "table": "Port_Group", "uuid": uuid(10, k), "row": {
            "name": pg, "ports": ["set", members], "acls": ["set", [["uuid", allow], ["uuid", drop]]]}}));
    }
    ops.push(json!({"op": "insert", "table": "NB_Global", "uuid": uuid(11, 0), "row": {
        "options": ["map", [["svc_monitor_mac", "0a:58:0a:00:00:01"], ["mac_prefix", "0a:58:0a"]]]}}));
    Value::Array(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_cleanly_with_the_expected_rows() {
        let shape = K8sShape {
            nodes: 3,
            pods_per_node: 4,
            services: 5,
            backends: 2,
            policies: 2,
        };
        let db = ovsdb::transact_file::apply_transact_json(&k8s(&shape), "gen").unwrap();
        let n = |t: &str| db.table(t).unwrap().len();
        assert_eq!(n("Logical_Switch"), 3);
        assert_eq!(n("Logical_Switch_Port"), 3 * 4 + 3);
        assert_eq!(n("Load_Balancer"), 5);
        assert_eq!(n("Port_Group"), 2);
        assert_eq!(n("ACL"), 4);
        assert_eq!(n("Logical_Router_Port"), 3);
        assert_eq!(k8s(&shape), k8s(&shape), "deterministic");
    }

    #[test]
    fn addresses_follow_ovn_kubernetes() {
        assert_eq!(pod_ip(0, 0), "10.128.0.3");
        assert_eq!(pod_ip(1, 0), "10.128.2.3");
        assert_eq!(pod_mac(0, 0), "0a:58:0a:80:00:03");
    }
}
