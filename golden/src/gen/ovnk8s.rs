//! The ovn-kubernetes shared-gateway layout on top of [`super::k8s`]: a
//! `join` switch between `ovn_cluster_router` and one gateway router
//! `GR_<node>` per node (bound to the node's chassis), each with an
//! external switch `ext_<node>` carrying a localnet port, an SNAT of the
//! cluster CIDR to the node IP, the cluster load balancer group, and the
//! static routes ovn-kubernetes installs (`gatewayInit`,
//! `addExternalSwitch`; see `shared/reference/ovn-kubernetes-nb.md`).

use serde_json::{json, Value};

use super::k8s::{ipv4, k8s, uuid, K8sShape};
use super::openstack::set;

/// UUID kinds of the gateway rows (the Kubernetes generator uses 1–11 and
/// the benchmark changes 12–14).
const K_JOIN: u32 = 20;
const K_GR: u32 = 21;
const K_GR_PORT: u32 = 22;
const K_JOIN_PORT: u32 = 23;
const K_EXT: u32 = 24;
const K_EXT_PORT: u32 = 25;
const K_NAT: u32 = 26;
const K_ROUTE: u32 = 27;

/// `IPAddrToHWAddr()`: `0a:58:` and the four bytes of the IPv4 address.
fn mac_of(ip: u32) -> String {
    format!(
        "0a:58:{:02x}:{:02x}:{:02x}:{:02x}",
        ip >> 24,
        (ip >> 16) & 255,
        (ip >> 8) & 255,
        ip & 255
    )
}

/// Node `n`'s join address, `100.64.0.0/16` from `.2` (node ids from 2, as
/// ovn-kubernetes allocates them).
fn join_ip(n: u32) -> u32 {
    (100 << 24) + (64 << 16) + n + 2
}

/// Node `n`'s external (l3 gateway) address in `172.18.0.0/16`, from `.3`.
fn node_ip(n: u32) -> u32 {
    (172 << 24) + (18 << 16) + n + 3
}

/// The Kubernetes-shaped NB of `shape` with ovn-kubernetes' per-node gateway
/// routers, as a transact params array.
pub fn ovn_k8s(shape: &K8sShape) -> Value {
    let Value::Array(mut ops) = k8s(shape) else {
        unreachable!("k8s() returns a transact array")
    };
    let mut route_n = 0u32;
    let mut next_route = || {
        route_n += 1;
        uuid(K_ROUTE, route_n)
    };
    let mut extra = Vec::new();
    let mut cluster_routes = Vec::new();
    let mut join_ports = Vec::new();
    // The join switch's cluster-router side.
    let crj = uuid(K_JOIN_PORT, 0);
    extra.push(
        json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": crj, "row": {
        "name": "jtor-ovn_cluster_router", "type": "router", "addresses": "router",
        "options": ["map", [["router-port", "rtoj-ovn_cluster_router"]]]}}),
    );
    join_ports.push(crj);
    let cr_lrp = uuid(K_GR_PORT, 0);
    extra.push(
        json!({"op": "insert", "table": "Logical_Router_Port", "uuid": cr_lrp, "row": {
        "name": "rtoj-ovn_cluster_router", "mac": mac_of(join_ip(0) - 1),
        "networks": "100.64.0.1/16"}}),
    );
    for n in 0..shape.nodes {
        let node = format!("node{n}");
        let gr = format!("GR_{node}");
        let jip = ipv4(join_ip(n));
        let nip = ipv4(node_ip(n));
        // Join side.
        let rtoj = uuid(K_GR_PORT, 1 + 2 * n);
        extra.push(
            json!({"op": "insert", "table": "Logical_Router_Port", "uuid": rtoj, "row": {
            "name": format!("rtoj-{gr}"), "mac": mac_of(join_ip(n)),
            "networks": format!("{jip}/16"), "options": ["map", [["gateway_mtu", "1400"]]]}}),
        );
        let jtor = uuid(K_JOIN_PORT, 1 + n);
        extra.push(
            json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": jtor, "row": {
            "name": format!("jtor-{gr}"), "type": "router", "addresses": "router",
            "options": ["map", [["router-port", format!("rtoj-{gr}")]]]}}),
        );
        join_ports.push(jtor);
        // External side: the node's bridge MAC and IP.
        let bridge_mac = mac_of(node_ip(n));
        let rtoe = uuid(K_GR_PORT, 2 + 2 * n);
        extra.push(
            json!({"op": "insert", "table": "Logical_Router_Port", "uuid": rtoe, "row": {
            "name": format!("rtoe-{gr}"), "mac": bridge_mac, "networks": format!("{nip}/16"),
            "external_ids": ["map", [["gateway-physical-ip", "yes"]]]}}),
        );
        let etor = uuid(K_EXT_PORT, 2 * n);
        extra.push(
            json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": etor, "row": {
            "name": format!("etor-{gr}"), "type": "router", "addresses": bridge_mac,
            "options": ["map", [["router-port", format!("rtoe-{gr}")]]]}}),
        );
        let localnet = uuid(K_EXT_PORT, 2 * n + 1);
        extra.push(
            json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": localnet, "row": {
            "name": format!("breth0_{node}"), "type": "localnet", "addresses": "unknown",
            "options": ["map", [["network_name", "physnet"]]]}}),
        );
        extra.push(
            json!({"op": "insert", "table": "Logical_Switch", "uuid": uuid(K_EXT, n), "row": {
            "name": format!("ext_{node}"), "ports": set(&[etor, localnet])}}),
        );
        // The gateway router: SNAT of the cluster CIDR, routes, LBs.
        let nat = uuid(K_NAT, n);
        extra.push(json!({"op": "insert", "table": "NAT", "uuid": nat, "row": {
            "type": "snat", "external_ip": nip, "logical_ip": "10.128.0.0/14",
            "options": ["map", [["stateless", "false"]]]}}));
        let mut gr_routes = Vec::new();
        for (prefix, nexthop, port) in [
            ("10.128.0.0/14", "100.64.0.1".to_string(), None),
            (
                "0.0.0.0/0",
                "172.18.0.1".to_string(),
                Some(format!("rtoe-{gr}")),
            ),
        ] {
            let r = next_route();
            let mut row = json!({"ip_prefix": prefix, "nexthop": nexthop});
            if let Some(p) = port {
                row["output_port"] = json!(p);
            }
            extra.push(json!({"op": "insert", "table": "Logical_Router_Static_Route", "uuid": r, "row": row}));
            gr_routes.push(r);
        }
        extra.push(
            json!({"op": "insert", "table": "Logical_Router", "uuid": uuid(K_GR, n), "row": {
            "name": gr, "ports": set(&[rtoj, rtoe]), "nat": set(&[nat]),
            "static_routes": set(&gr_routes),
            "load_balancer_group": ["uuid", uuid(2, 0)],
            "options": ["map", [
                ["always_learn_from_arp_request", "false"], ["chassis", node],
                ["dynamic_neigh_routers", "true"], ["lb_force_snat_ip", "router_ip"],
                ["snat-ct-zone", "0"]]],
            "external_ids": ["map", [["physical_ip", nip.clone()], ["physical_ips", nip]]]}}),
        );
        // The cluster router reaches the node's pods' egress through the
        // node's gateway router (shared gateway mode).
        for (prefix, policy) in [(jip.clone(), None), (node_subnet(n), Some("src-ip"))] {
            let r = next_route();
            let mut row = json!({"ip_prefix": prefix, "nexthop": jip});
            if let Some(p) = policy {
                row["policy"] = json!(p);
            }
            extra.push(json!({"op": "insert", "table": "Logical_Router_Static_Route", "uuid": r, "row": row}));
            cluster_routes.push(r);
        }
    }
    extra.push(
        json!({"op": "insert", "table": "Logical_Switch", "uuid": uuid(K_JOIN, 0), "row": {
        "name": "join", "ports": set(&join_ports)}}),
    );
    // Insert the new rows before the cluster router, which now also has the
    // join port and the routes.
    let at = ops
        .iter()
        .position(|o| o["table"] == "Logical_Router")
        .expect("the cluster router");
    let router = &mut ops[at]["row"];
    if let Some(ports) = router["ports"][1].as_array_mut() {
        ports.push(json!(["uuid", cr_lrp]));
    }
    router["static_routes"] = set(&cluster_routes);
    for (i, op) in extra.into_iter().enumerate() {
        ops.insert(at + i, op);
    }
    Value::Array(ops)
}

/// Node `n`'s pod subnet (a /23 of 10.128.0.0/14).
fn node_subnet(n: u32) -> String {
    format!("{}/23", ipv4((10 << 24) + (128 << 16) + (n << 9)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_a_gateway_router_per_node() {
        let shape = K8sShape {
            nodes: 3,
            pods_per_node: 2,
            services: 2,
            backends: 2,
            policies: 1,
        };
        let db = ovsdb::transact_file::apply_transact_json(&ovn_k8s(&shape), "gen").unwrap();
        let n = |t: &str| db.table(t).unwrap().len();
        assert_eq!(n("Logical_Router"), 1 + 3);
        assert_eq!(
            n("Logical_Switch"),
            3 + 3 + 1,
            "node, ext and join switches"
        );
        assert_eq!(n("NAT"), 3);
        assert_eq!(n("Logical_Router_Static_Route"), 3 * 4);
        assert_eq!(n("Logical_Router_Port"), 3 + 1 + 2 * 3);
        assert_eq!(node_subnet(1), "10.128.2.0/23");
    }
}
