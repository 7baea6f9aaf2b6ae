//! The offline readers give exactly the content a live ovsdb-server holds.
mod common;

use std::process::Command;

use ovsdb::schema::nb_schema;
use ovsdb::txn::{transact, TxnContext};
use ovsdb::Database;
use serde_json::{json, Value};

fn populate(s: &common::Server) {
    s.nbctl(&[
        "ls-add",
        "sw0",
        "--",
        "lsp-add",
        "sw0",
        "p1",
        "--",
        "lsp-set-addresses",
        "p1",
        "00:00:00:00:00:01 10.0.0.1",
    ]);
    s.nbctl(&[
        "lsp-add",
        "sw0",
        "p2",
        "--",
        "lsp-set-port-security",
        "p2",
        "00:00:00:00:00:02 10.0.0.2",
    ]);
    s.nbctl(&[
        "set",
        "Logical_Switch",
        "sw0",
        "other_config:subnet=10.0.0.0/24",
        "external_ids:k=v",
    ]);
    s.nbctl(&[
        "acl-add",
        "sw0",
        "to-lport",
        "1001",
        "ip4 && tcp.dst == 80",
        "allow-related",
    ]);
    s.nbctl(&[
        "lr-add",
        "r0",
        "--",
        "lrp-add",
        "r0",
        "rp",
        "00:00:00:00:01:01",
        "10.0.0.254/24",
    ]);
    s.nbctl(&["lsp-del", "p1"]);
    s.nbctl(&["remove", "Logical_Switch", "sw0", "external_ids", "k"]);
    s.nbctl(&[
        "lb-add",
        "lb0",
        "10.96.0.1:80",
        "10.0.0.2:8080",
        "tcp",
        "--",
        "ls-lb-add",
        "sw0",
        "lb0",
    ]);
}

#[test]
fn db_file_equals_server_content() {
    if !common::need_ovsdb() {
        return;
    }
    let mut s = common::Server::standalone("ovn-nb.ovsschema");
    populate(&s);
    let expected = common::normalize(&s.dump("OVN_Northbound"));
    let f = ovsdb::file::read_db_file(&s.db).unwrap();
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    assert!(f.transactions >= 8);
    assert_eq!(common::normalize(&f.database.dump_json()), expected);

    // The same after compaction (one snapshot record).
    s.kill();
    let out = Command::new("ovsdb-tool")
        .arg("compact")
        .arg(&s.db)
        .output()
        .unwrap();
    assert!(out.status.success());
    let g = ovsdb::file::read_db_file(&s.db).unwrap();
    assert_eq!(g.transactions, 1);
    assert_eq!(common::normalize(&g.database.dump_json()), expected);
    assert_eq!(g.database, f.database);
}

fn ops() -> Vec<Value> {
    let u = |n: u32| format!("00000000-0000-4000-8000-{n:012}");
    vec![
        json!({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "a", "uuid": u(2), "row": {"name": "a", "addresses": ["set", ["router", "unknown"]], "options": ["map", [["x", "1"]]], "tag_request": 5}}),
        json!({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "b", "uuid": u(3), "row": {"name": "b", "enabled": false}}),
        json!({"op": "insert", "table": "ACL", "uuid-name": "acl", "uuid": u(4), "row": {"priority": 100, "direction": "from-lport", "match": "ip4", "action": "drop", "log": true, "severity": "info"}}),
        json!({"op": "insert", "table": "Logical_Switch", "uuid": u(1), "row": {"name": "s1", "ports": ["set", [["named-uuid", "a"], ["named-uuid", "b"]]], "acls": ["named-uuid", "acl"]}}),
        json!({"op": "insert", "table": "ACL", "uuid": u(5), "row": {"priority": 1, "direction": "from-lport", "match": "1", "action": "allow"}}),
        json!({"op": "insert", "table": "Address_Set", "uuid": u(6), "row": {"name": "as", "addresses": ["set", ["10.0.0.1", "10.0.0.2"]]}}),
        json!({"op": "mutate", "table": "Address_Set", "where": [["name", "==", "as"]], "mutations": [["addresses", "delete", "10.0.0.1"], ["addresses", "insert", ["set", ["10.0.0.3"]]]]}),
        json!({"op": "update", "table": "Logical_Switch_Port", "where": [["name", "==", "b"]], "row": {"type": "localnet", "options": ["map", [["network_name", "phys"]]]}}),
        json!({"op": "insert", "table": "NB_Global", "uuid": u(7), "row": {"nb_cfg": 3}}),
        json!({"op": "mutate", "table": "NB_Global", "where": [], "mutations": [["nb_cfg", "+=", 4]]}),
        json!({"op": "delete", "table": "Logical_Switch_Port", "where": [["name", "==", "zzz"]]}),
        json!({"op": "select", "table": "Logical_Switch_Port", "where": [["tag_request", ">=", 5]], "columns": ["name"]}),
        json!({"op": "comment", "comment": "differential test"}),
    ]
}

#[test]
fn executor_matches_ovsdb_server() {
    if !common::need_ovsdb() {
        return;
    }
    let s = common::Server::standalone("ovn-nb.ovsschema");
    let mut params = vec![json!("OVN_Northbound")];
    params.extend(ops());
    let theirs = s.transact(&Value::Array(params.clone()));
    let mut db = Database::new(std::sync::Arc::new(nb_schema().clone()));
    let ours = transact(&mut db, &params[1..], &TxnContext::default());
    assert!(ours.error.is_none(), "{:?}", ours.error);
    assert_eq!(Value::Array(ours.results), theirs);
    assert_eq!(
        common::normalize(&db.dump_json()),
        common::normalize(&s.dump("OVN_Northbound"))
    );

    // Failing transactions: the same error kinds, and nothing changes on either side.
    for bad in [
        json!([{"op": "insert", "table": "Logical_Switch", "row": {"ports": ["uuid", "00000000-0000-4000-8000-000000000099"]}}]),
        json!([{"op": "insert", "table": "ACL", "row": {"action": "permit"}}]),
        json!([{"op": "insert", "table": "Logical_Switch", "row": {"ports": ["named-uuid", "p"]}},
               {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p", "uuid": "00000000-0000-4000-8000-000000000042", "row": {"name": "p"}}]),
        json!([{"op": "insert", "table": "Address_Set", "row": {"name": "as"}}]),
        json!([{"op": "update", "table": "Logical_Switch", "where": [], "row": {"nope": 1}}]),
        json!([{"op": "select", "table": "Nope", "where": []}]),
        json!([{"op": "select", "table": "ACL", "where": [["nope", "==", 1]]}]),
        json!([{"op": "mutate", "table": "NB_Global", "where": [], "mutations": [["nb_cfg", "/=", 0]]}]),
        json!([{"op": "delete", "table": "Logical_Switch", "where": []}, {"op": "abort"}]),
    ] {
        let mut params = vec![json!("OVN_Northbound")];
        params.extend(bad.as_array().unwrap().iter().cloned());
        let theirs = s.transact(&Value::Array(params.clone()));
        let ours = transact(&mut db, &params[1..], &TxnContext::default());
        let their_err = theirs
            .as_array()
            .unwrap()
            .iter()
            .find_map(|r| r.get("error"))
            .cloned();
        assert_eq!(
            ours.error.as_ref().map(|e| json!(e.kind)),
            their_err,
            "{bad}: ours {:?}, theirs {theirs}",
            ours.error
        );
    }
    assert_eq!(
        common::normalize(&db.dump_json()),
        common::normalize(&s.dump("OVN_Northbound"))
    );
}
