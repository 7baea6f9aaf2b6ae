//! The single NB changes whose latency the suite measures, as `transact`
//! operations on a generated Kubernetes-shaped NB: what ovn-kubernetes
//! does when a pod starts or goes, a network policy gains a rule, a
//! service gains an endpoint and a node joins. The same operations are sent
//! to a real NB ovsdb-server (end to end) and executed on the in-process
//! database (the SB delta is then measured on the library).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::gen::k8s::{service, uuid};
use crate::gen::K8sShape;

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
}

impl ChangeKind {
    /// Every kind, in the order a round applies them.
    pub const ALL: [ChangeKind; 5] = [
        ChangeKind::AddPort,
        ChangeKind::DeletePort,
        ChangeKind::AddAcl,
        ChangeKind::AddLbBackend,
        ChangeKind::AddSwitch,
    ];

    /// The name printed in the tables.
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::AddPort => "add port",
            ChangeKind::DeletePort => "delete port",
            ChangeKind::AddAcl => "add ACL",
            ChangeKind::AddLbBackend => "add LB backend",
            ChangeKind::AddSwitch => "add switch",
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

/// The NB operations (transact params after the database name) of change
/// `kind` in round `round` (0-based; rounds are applied in order, every
/// kind of a round in [`ChangeKind::ALL`] order).
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
            for kind in ChangeKind::ALL {
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
}
