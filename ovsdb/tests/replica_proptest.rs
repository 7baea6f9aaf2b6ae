//! Random transaction sequences against a real ovsdb-server: after each,
//! the replica kept by a ReplicaSession equals the server's content, and
//! our executor, fed the same transactions, ends in the same state.
mod common;

use std::sync::Arc;
use std::time::Duration;

use ovsdb::client::{Connection, Options, ReplicaSession};
use ovsdb::remote::Remote;
use ovsdb::schema::nb_schema;
use ovsdb::txn::{transact, TxnContext};
use ovsdb::Database;
use proptest::prelude::*;
use serde_json::{json, Value};

/// One random edit of a small NB: switches, ports, address sets.
#[derive(Clone, Debug)]
enum Edit {
    AddSwitch(u8),
    DelSwitch(u8),
    AddPort(u8, u8),
    SetOption(u8, u8),
    AddAddr(u8),
    DelAddr(u8),
    /// A port group "pg" (weak references to ports), replaced.
    AddPg,
    /// A port group "pg" inserted without deleting the old one: a unique
    /// index violation when it exists.
    DupPg,
    /// A port on a switch, also added to "pg": deleting the switch later
    /// garbage-collects the port and drops it from the group.
    AddPortInPg(u8, u8),
    /// A port named "dup": the second one violates the name index.
    DupPort(u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0u8..4).prop_map(Edit::AddSwitch),
        (0u8..4).prop_map(Edit::DelSwitch),
        (0u8..4, 0u8..8).prop_map(|(s, p)| Edit::AddPort(s, p)),
        (0u8..4, 0u8..3).prop_map(|(s, v)| Edit::SetOption(s, v)),
        (0u8..6).prop_map(Edit::AddAddr),
        (0u8..6).prop_map(Edit::DelAddr),
        Just(Edit::AddPg),
        Just(Edit::DupPg),
        (0u8..4, 0u8..8).prop_map(|(s, p)| Edit::AddPortInPg(s, p)),
        (0u8..4).prop_map(Edit::DupPort),
    ]
}

fn ops(e: &Edit, n: usize) -> Vec<Value> {
    let sw = |s: u8| json!([["name", "==", format!("s{s}")]]);
    match e {
        Edit::AddSwitch(s) => vec![
            json!({"op": "delete", "table": "Logical_Switch", "where": sw(*s)}),
            json!({"op": "insert", "table": "Logical_Switch", "row": {"name": format!("s{s}")}}),
        ],
        Edit::DelSwitch(s) => {
            vec![json!({"op": "delete", "table": "Logical_Switch", "where": sw(*s)})]
        }
        Edit::AddPort(s, p) => vec![
            json!({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p", "row": {"name": format!("p{n}-{p}"), "addresses": format!("00:00:00:00:00:{p:02x}")}}),
            json!({"op": "mutate", "table": "Logical_Switch", "where": sw(*s), "mutations": [["ports", "insert", ["named-uuid", "p"]]]}),
        ],
        Edit::SetOption(s, v) => vec![
            json!({"op": "mutate", "table": "Logical_Switch", "where": sw(*s),
            "mutations": [["other_config", "delete", ["set", ["k"]]], ["other_config", "insert", ["map", [["k", v.to_string()]]]]]}),
        ],
        Edit::AddAddr(a) => vec![
            json!({"op": "delete", "table": "Address_Set", "where": [["name", "==", "as"]]}),
            json!({"op": "insert", "table": "Address_Set", "row": {"name": "as", "addresses": ["set", (0..*a).map(|i| format!("10.0.0.{i}")).collect::<Vec<_>>()]}}),
        ],
        Edit::AddPg => vec![
            json!({"op": "delete", "table": "Port_Group", "where": [["name", "==", "pg"]]}),
            json!({"op": "insert", "table": "Port_Group", "row": {"name": "pg"}}),
        ],
        Edit::DupPg => vec![json!({"op": "insert", "table": "Port_Group", "row": {"name": "pg"}})],
        Edit::AddPortInPg(s, p) => vec![
            json!({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p", "row": {"name": format!("p{n}-{p}")}}),
            json!({"op": "mutate", "table": "Logical_Switch", "where": sw(*s), "mutations": [["ports", "insert", ["named-uuid", "p"]]]}),
            json!({"op": "mutate", "table": "Port_Group", "where": [["name", "==", "pg"]], "mutations": [["ports", "insert", ["named-uuid", "p"]]]}),
        ],
        Edit::DupPort(s) => vec![
            json!({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p", "row": {"name": "dup"}}),
            json!({"op": "mutate", "table": "Logical_Switch", "where": sw(*s), "mutations": [["ports", "insert", ["named-uuid", "p"]]]}),
        ],
        Edit::DelAddr(a) => vec![
            json!({"op": "mutate", "table": "Address_Set", "where": [["name", "==", "as"]], "mutations": [["addresses", "delete", format!("10.0.0.{a}")]]}),
        ],
    }
}

fn content(db: &Database) -> Value {
    // Random UUIDs differ between the server and our executor: compare the
    // content keyed by table and row content instead.
    let mut tables = std::collections::BTreeMap::new();
    for (t, rows) in db.tables() {
        let mut v: Vec<String> = rows
            .values()
            .map(|r| {
                r.iter()
                    .filter(|(_, d)| !d.atoms().iter().any(|a| a.as_uuid().is_some()))
                    .map(|(c, d)| format!("{c}={d}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        v.sort();
        tables.insert(t.clone(), v);
    }
    serde_json::to_value(tables).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn replica_and_executor_follow_the_server(edits in proptest::collection::vec(edit(), 1..16)) {
        if !common::need_ovsdb() {
            return Ok(());
        }
        let s = common::Server::standalone("ovn-nb.ovsschema");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let r = Remote::parse(&s.remote).unwrap();
            let (c, _n) = Connection::connect(&r, &Options::default()).await.unwrap();
            let mut sess = ReplicaSession::connect(vec![r], "OVN_Northbound", &[], false, Options::default()).await.unwrap();
            sess.next().await.unwrap();
            let mut ours = Database::new(Arc::new(nb_schema().clone()));
            for (i, e) in edits.iter().enumerate() {
                let o = ops(e, i);
                let theirs = c.transact("OVN_Northbound", o.clone()).await.unwrap();
                let mine = transact(&mut ours, &o, &TxnContext::default());
                let their_err = theirs.iter().find_map(|r| r.get("error")).cloned();
                assert_eq!(mine.error.map(|e| json!(e.kind)), their_err, "{e:?}");
                let want = s.dump("OVN_Northbound");
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while sess.replica().database().dump_json() != common::normalize(&want) {
                    assert!(tokio::time::Instant::now() < deadline, "replica diverged after {e:?}");
                    let _ = tokio::time::timeout(Duration::from_millis(100), sess.next()).await;
                }
                assert_eq!(content(&ours), content(sess.replica().database()), "executor diverged after {e:?}");
            }
        });
    }
}
