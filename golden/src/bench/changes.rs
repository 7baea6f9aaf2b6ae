//! The generated NBs the suite runs on and the single NB changes whose
//! latency it measures, as `transact` operations. Kubernetes shapes (with
//! or without ovn-kubernetes' gateway routers): what ovn-kubernetes does
//! when a pod starts or goes, a network policy gains a rule, a service
//! gains an endpoint and a node joins. OpenStack shape: what Neutron does
//! when a VM port is created or deleted, a floating IP is associated and a
//! router's route changes. The same operations are sent to a real NB
//! ovsdb-server (end to end) and executed on the in-process database (the
//! SB delta is then measured on the library).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::gen::k8s::{service, uuid};
use crate::gen::{k8s, openstack, ovn_k8s, K8sShape, OpenstackShape};

/// One kind of single change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ChangeKind {
    /// A new pod port on the first node switch.
    AddPort,
    /// Deleting the port [`ChangeKind::AddPort`] added in the same round.
    DeletePort,
    /// A new allow-related ACL on the first network policy's port group.
    AddAcl,
    /// One more backend for the first service's VIP.
    AddLbBackend,
    /// A new node switch in the cluster load balancer group (no ports yet).
    AddSwitch,
    /// A floating IP (distributed `dnat_and_snat`) for the VM port
    /// [`ChangeKind::AddPort`] added in the same round.
    AddFip,
    /// The first router's default route gets another next hop.
    ChangeRoute,
}

impl ChangeKind {
    /// The Kubernetes shapes' kinds, in the order a round applies them.
    pub const K8S: [ChangeKind; 5] = [
        ChangeKind::AddPort,
        ChangeKind::DeletePort,
        ChangeKind::AddAcl,
        ChangeKind::AddLbBackend,
        ChangeKind::AddSwitch,
    ];

    /// The OpenStack shape's kinds, in the order a round applies them.
    pub const OPENSTACK: [ChangeKind; 4] = [
        ChangeKind::AddPort,
        ChangeKind::AddFip,
        ChangeKind::ChangeRoute,
        ChangeKind::DeletePort,
    ];

    /// The name printed in the tables.
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::AddPort => "add port",
            ChangeKind::DeletePort => "delete port",
            ChangeKind::AddAcl => "add ACL",
            ChangeKind::AddLbBackend => "add LB backend",
            ChangeKind::AddSwitch => "add switch",
            ChangeKind::AddFip => "add floating IP",
            ChangeKind::ChangeRoute => "change a route",
        }
    }
}

/// Serial numbers of the rows the changes insert, in UUID kinds the
/// generator does not use.
const KIND_PORT: u32 = 12;
const KIND_ACL: u32 = 13;
const KIND_SWITCH: u32 = 14;

/// Rounds beyond this would run out of the addresses the changes use.
pub const MAX_ROUNDS: u32 = 200;

fn by_uuid(u: &str) -> Value {
    json!([["_uuid", "==", ["uuid", u]]])
}

/// A generated NB of one of the suite's families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nb {
    /// ovnflow's Kubernetes shape: node switches and one cluster router.
    K8s(K8sShape),
    /// The same with ovn-kubernetes' per-node gateway routers.
    OvnK8s(K8sShape),
    /// Neutron's layout: tenant routers with distributed gateway ports.
    Openstack(OpenstackShape),
}

impl Nb {
    /// The NB as a transact params array.
    pub fn json(&self) -> Value {
        match self {
            Nb::K8s(s) => k8s(s),
            Nb::OvnK8s(s) => ovn_k8s(s),
            Nb::Openstack(s) => openstack(s),
        }
    }

    /// The kinds of single change measured on it, in round order.
    pub fn kinds(&self) -> &'static [ChangeKind] {
        match self {
            Nb::K8s(_) | Nb::OvnK8s(_) => &ChangeKind::K8S,
            Nb::Openstack(_) => &ChangeKind::OPENSTACK,
        }
    }

    /// Whether every change applies to it.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Nb::K8s(s) | Nb::OvnK8s(s) => check_shape(s),
            Nb::Openstack(s) if s.routers == 0 || s.networks_per_router == 0 => Err(format!(
                "{s:?}: single changes need at least one router with a network"
            )),
            Nb::Openstack(s) if s.vms_per_network > 90 => Err(format!(
                "{s:?}: single changes add VMs from .100 of the first network (at most 90 VMs per network)"
            )),
            Nb::Openstack(_) => Ok(()),
        }
    }

    /// The NB operations of change `kind` in round `round` (0-based; rounds
    /// are applied in order, every kind of a round in [`Nb::kinds`] order).
    pub fn ops(&self, kind: ChangeKind, round: u32) -> Vec<Value> {
        match self {
            Nb::K8s(s) | Nb::OvnK8s(s) => ops(s, kind, round),
            Nb::Openstack(_) => openstack_ops(kind, round),
        }
    }
}

/// OpenStack changes on network 0 of router 0 (`10.0.0.0/24`, VMs from
/// `.10`): a VM port at `.100 + round`, its floating IP from
/// `172.24.200.0`, router 0's default route alternating between two next
/// hops.
fn openstack_ops(kind: ChangeKind, round: u32) -> Vec<Value> {
    use crate::gen::openstack::uuid as os_uuid;
    let name = format!("bench-vm-{round}");
    let ip = format!("10.0.0.{}", 100 + round % 150);
    let port = uuid(KIND_PORT, round);
    let nat = uuid(KIND_ACL, round);
    let switch = os_uuid(9, 0);
    let router = os_uuid(11, 0);
    match kind {
        ChangeKind::AddPort => {
            let addr = format!("fa:16:3e:bb:{:02x}:{:02x} {ip}", round >> 8, round & 255);
            vec![
                json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": port, "row": {
                    "name": name, "addresses": addr, "port_security": addr,
                    "external_ids": ["map", [["neutron:device_owner", "compute:nova"]]]}}),
                json!({"op": "mutate", "table": "Logical_Switch", "where": by_uuid(&switch),
                    "mutations": [["ports", "insert", ["set", [["uuid", port]]]]]}),
            ]
        }
        ChangeKind::AddFip => vec![
            json!({"op": "insert", "table": "NAT", "uuid": nat, "row": {
                "type": "dnat_and_snat", "external_ip": format!("172.24.200.{}", round % 250),
                "logical_ip": ip, "logical_port": name,
                "external_mac": format!("fa:16:3e:cc:{:02x}:{:02x}", round >> 8, round & 255)}}),
            json!({"op": "mutate", "table": "Logical_Router", "where": by_uuid(&router),
                "mutations": [["nat", "insert", ["set", [["uuid", nat]]]]]}),
        ],
        ChangeKind::ChangeRoute => vec![
            json!({"op": "update", "table": "Logical_Router_Static_Route", "where": by_uuid(&os_uuid(10, 0)),
                "row": {"nexthop": format!("172.24.0.{}", 2 + round % 2)}}),
        ],
        ChangeKind::DeletePort => vec![
            json!({"op": "mutate", "table": "Logical_Router", "where": by_uuid(&router),
                "mutations": [["nat", "delete", ["set", [["uuid", nat]]]]]}),
            json!({"op": "delete", "table": "NAT", "where": by_uuid(&nat)}),
            json!({"op": "mutate", "table": "Logical_Switch", "where": by_uuid(&switch),
                "mutations": [["ports", "delete", ["set", [["uuid", port]]]]]}),
            json!({"op": "delete", "table": "Logical_Switch_Port", "where": by_uuid(&port)}),
        ],
        // Kubernetes-only kinds.
        ChangeKind::AddAcl | ChangeKind::AddLbBackend | ChangeKind::AddSwitch => Vec::new(),
    }
}

/// What a shape must have for every change to apply: a node with a pod
/// (the switch), a service and a policy.
pub fn check_shape(shape: &K8sShape) -> Result<(), String> {
    if shape.nodes == 0 || shape.pods_per_node == 0 || shape.services == 0 || shape.policies == 0 {
        return Err(format!(
            "{shape:?}: single changes need at least one node, pod, service and policy"
        ));
    }
    Ok(())
}

/// The NB operations (transact params after the database name) of a
/// Kubernetes-shape change `kind` in round `round` (0-based; rounds are
/// applied in order, every kind of a round in [`ChangeKind::K8S`] order).
pub fn ops(shape: &K8sShape, kind: ChangeKind, round: u32) -> Vec<Value> {
    let node0 = uuid(6, 0);
    // Addresses in node 0's /23 above the generated pods (at most 500 per
    // node fit below .1.0 + MAX_ROUNDS).
    let host = 256 + 3 + round;
    let ip = format!("10.128.{}.{}", host >> 8, host & 255);
    match kind {
        ChangeKind::AddPort => {
            let port = uuid(KIND_PORT, round);
            let addr = format!("0a:58:0a:80:{:02x}:{:02x} {ip}", host >> 8, host & 255);
            vec![
                json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": port, "row": {
                    "name": format!("default_bench-pod-{round}"), "addresses": addr, "port_security": addr,
                    "options": ["map", [["requested-chassis", "node0"]]]}}),
                json!({"op": "mutate", "table": "Logical_Switch", "where": by_uuid(&node0),
                    "mutations": [["ports", "insert", ["set", [["uuid", port]]]]]}),
            ]
        }
        ChangeKind::DeletePort => {
            let port = uuid(KIND_PORT, round);
            vec![
                json!({"op": "mutate", "table": "Logical_Switch", "where": by_uuid(&node0),
                    "mutations": [["ports", "delete", ["set", [["uuid", port]]]]]}),
                json!({"op": "delete", "table": "Logical_Switch_Port", "where": by_uuid(&port)}),
            ]
        }
        ChangeKind::AddAcl => {
            let acl = uuid(KIND_ACL, round);
            vec![
                json!({"op": "insert", "table": "ACL", "uuid": acl, "row": {
                    "priority": 1001, "direction": "to-lport", "action": "allow-related",
                    "match": format!("outport == @pg_policy0 && ip4.src == {ip} && tcp.dst == {}", 9000 + round)}}),
                json!({"op": "mutate", "table": "Port_Group", "where": by_uuid(&uuid(10, 0)),
                    "mutations": [["acls", "insert", ["set", [["uuid", acl]]]]]}),
            ]
        }
        ChangeKind::AddLbBackend => {
            let (vip, mut backends) = service(shape, 0);
            backends.extend((0..=round).map(|r| {
                let h = 256 + 3 + r;
                format!("10.128.{}.{}:8080", h >> 8, h & 255)
            }));
            vec![
                json!({"op": "update", "table": "Load_Balancer", "where": by_uuid(&uuid(1, 0)),
                "row": {"vips": ["map", [[vip, backends.join(",")]]]}}),
            ]
        }
        ChangeKind::AddSwitch => vec![
            json!({"op": "insert", "table": "Logical_Switch", "uuid": uuid(KIND_SWITCH, round), "row": {
                "name": format!("bench-node{round}"), "load_balancer_group": ["uuid", uuid(2, 0)],
                "other_config": ["map", [["subnet", format!("10.250.{round}.0/24")]]]}}),
        ],
        // OpenStack-only kinds.
        ChangeKind::AddFip | ChangeKind::ChangeRoute => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::k8s;

    #[test]
    fn every_change_applies_and_changes_the_nb() {
        let shape = K8sShape {
            nodes: 2,
            pods_per_node: 2,
            services: 2,
            backends: 2,
            policies: 1,
        };
        let mut db = ovsdb::transact_file::apply_transact_json(&k8s(&shape), "k8s").unwrap();
        for round in 0..3 {
            for kind in ChangeKind::K8S {
                let out = ovsdb::txn::transact(
                    &mut db,
                    &ops(&shape, kind, round),
                    &ovsdb::txn::TxnContext::default(),
                );
                assert!(out.error.is_none(), "{kind:?} {round}: {:?}", out.error);
                assert!(!out.changes.is_empty(), "{kind:?} {round}");
            }
        }
        let n = |t: &str| db.table(t).unwrap().len();
        assert_eq!(n("Logical_Switch"), 2 + 3);
        assert_eq!(n("Logical_Switch_Port"), 2 * 3, "added ports deleted again");
        assert_eq!(n("ACL"), 2 + 3);
    }

    #[test]
    fn openstack_changes_apply_and_change_the_nb() {
        let nb = Nb::Openstack(OpenstackShape {
            routers: 2,
            networks_per_router: 2,
            vms_per_network: 2,
            fips: 2,
        });
        nb.check().unwrap();
        let mut db = ovsdb::transact_file::apply_transact_json(&nb.json(), "os").unwrap();
        let nats = db.table("NAT").unwrap().len();
        for round in 0..3 {
            for &kind in nb.kinds() {
                let out = ovsdb::txn::transact(
                    &mut db,
                    &nb.ops(kind, round),
                    &ovsdb::txn::TxnContext::default(),
                );
                assert!(out.error.is_none(), "{kind:?} {round}: {:?}", out.error);
                assert!(!out.changes.is_empty(), "{kind:?} {round}");
            }
        }
        assert_eq!(
            db.table("NAT").unwrap().len(),
            nats,
            "FIPs deleted with their ports"
        );
    }
}
