use std::sync::Arc;

use super::*;
use crate::datum::Datum;
use crate::schema::nb_schema;

fn db() -> Database {
    Database::new(Arc::new(nb_schema().clone()))
}

fn run(db: &mut Database, ops: Value) -> TxnOutcome {
    transact(db, ops.as_array().unwrap(), &TxnContext::default())
}

fn u(n: u128) -> String {
    Uuid::from_u128(n).to_string()
}

#[test]
fn insert_with_named_uuids_and_select() {
    let mut d = db();
    let out = run(
        &mut d,
        json!([
            {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p", "uuid": u(2), "row": {"name": "lp0", "addresses": ["set", ["00:00:00:00:00:01 10.0.0.1"]]}},
            {"op": "insert", "table": "Logical_Switch", "uuid": u(1), "row": {"name": "sw0", "ports": ["named-uuid", "p"]}},
            {"op": "select", "table": "Logical_Switch_Port", "where": [["name", "==", "lp0"]], "columns": ["_uuid", "addresses"]}
        ]),
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.results[1], json!({"uuid": ["uuid", u(1)]}));
    assert_eq!(
        out.results[2],
        json!({"rows": [{"_uuid": ["uuid", u(2)], "addresses": "00:00:00:00:00:01 10.0.0.1"}]})
    );
    assert_eq!(out.changes.len(), 2);
    let sw = d.get("Logical_Switch", &Uuid::from_u128(1)).unwrap();
    assert_eq!(sw["ports"], Datum::scalar(Uuid::from_u128(2)));
    assert_eq!(
        sw["other_config"],
        Datum::empty_map(),
        "defaults are filled"
    );
}

#[test]
fn unreferenced_non_root_rows_are_collected() {
    let mut d = db();
    let out = run(
        &mut d,
        json!([{"op": "insert", "table": "ACL", "row": {"priority": 1, "direction": "to-lport", "match": "1", "action": "drop"}}]),
    );
    assert!(out.error.is_none());
    assert!(
        d.table("ACL").unwrap().is_empty(),
        "an ACL nobody references is garbage"
    );
    assert!(out.changes.is_empty());
}

#[test]
fn dangling_strong_reference_rolls_back() {
    let mut d = db();
    let out = run(
        &mut d,
        json!([
            {"op": "insert", "table": "Logical_Switch", "row": {"name": "a"}},
            {"op": "insert", "table": "Logical_Switch", "row": {"name": "b", "ports": ["uuid", u(9)]}}
        ]),
    );
    let e = out.error.unwrap();
    assert_eq!(e.kind, "referential integrity violation");
    assert!(e.details.contains("column ports"), "{}", e.details);
    assert!(d.is_empty(), "nothing of a failed transaction is applied");
    assert_eq!(
        out.results.len(),
        3,
        "two results, then the commit-time error"
    );
}

#[test]
fn deleting_a_weakly_referenced_row_drops_the_reference() {
    let mut d = db();
    let out = run(
        &mut d,
        json!([
            {"op": "insert", "table": "BFD", "uuid-name": "b", "uuid": u(3), "row": {"logical_port": "p", "dst_ip": "1.1.1.1"}},
            {"op": "insert", "table": "Logical_Router_Static_Route", "uuid-name": "sr", "uuid": u(2),
             "row": {"ip_prefix": "0.0.0.0/0", "nexthop": "1.1.1.1", "bfd": ["named-uuid", "b"]}},
            {"op": "insert", "table": "Logical_Router", "uuid": u(1), "row": {"name": "r", "static_routes": ["named-uuid", "sr"]}}
        ]),
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    let out = run(
        &mut d,
        json!([{"op": "delete", "table": "BFD", "where": [["_uuid", "==", ["uuid", u(3)]]]}]),
    );
    assert_eq!(out.results[0], json!({"count": 1}));
    assert_eq!(
        d.get("Logical_Router_Static_Route", &Uuid::from_u128(2))
            .unwrap()["bfd"],
        Datum::empty_set()
    );
}

#[test]
fn mutations_on_sets_maps_and_numbers() {
    let mut d = db();
    run(
        &mut d,
        json!([{"op": "insert", "table": "Logical_Switch", "uuid": u(1), "row": {"name": "s", "other_config": ["map", [["a", "1"]]]}}]),
    );
    let out = run(
        &mut d,
        json!([
            {"op": "mutate", "table": "Logical_Switch", "where": [], "mutations": [
                ["other_config", "insert", ["map", [["a", "9"], ["b", "2"]]]],
                ["other_config", "delete", ["set", ["zz"]]],
                ["external_ids", "insert", ["map", [["k", "v"]]]]
            ]},
            {"op": "insert", "table": "NB_Global", "uuid": u(5), "row": {"nb_cfg": 5}},
            {"op": "mutate", "table": "NB_Global", "where": [], "mutations": [["nb_cfg", "+=", 2], ["nb_cfg", "*=", 3]]}
        ]),
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    let sw = d.get("Logical_Switch", &Uuid::from_u128(1)).unwrap();
    assert_eq!(
        sw["other_config"],
        Datum::string_map([("a", "1"), ("b", "2")]),
        "insert keeps existing keys"
    );
    assert_eq!(
        d.get("NB_Global", &Uuid::from_u128(5)).unwrap()["nb_cfg"],
        Datum::scalar(21i64)
    );
    let out = run(
        &mut d,
        json!([{"op": "mutate", "table": "NB_Global", "where": [], "mutations": [["nb_cfg", "/=", 0]]}]),
    );
    assert_eq!(out.error.unwrap().kind, "domain error");
}

#[test]
fn constraints_indexes_wait_assert_abort() {
    let mut d = db();
    let out = run(
        &mut d,
        json!([{"op": "insert", "table": "Logical_Switch", "row": {"name": 5}}]),
    );
    assert_eq!(out.error.unwrap().kind, "syntax error");
    let out = run(
        &mut d,
        json!([
            {"op": "insert", "table": "Address_Set", "row": {"name": "as1"}},
            {"op": "insert", "table": "Address_Set", "row": {"name": "as1"}}
        ]),
    );
    let e = out.error.unwrap();
    assert_eq!(e.kind, "constraint violation");
    assert!(e.details.contains("Address_Set"), "{}", e.details);
    let out = run(
        &mut d,
        json!([{"op": "insert", "table": "ACL", "row": {"action": "permit"}}]),
    );
    assert_eq!(out.error.unwrap().kind, "constraint violation");
    run(
        &mut d,
        json!([{"op": "insert", "table": "Address_Set", "row": {"name": "x"}}]),
    );
    let wait = |until: &str| json!([{"op": "wait", "timeout": 0, "table": "Address_Set", "where": [], "columns": ["name"], "until": until, "rows": [{"name": "x"}]}]);
    assert!(run(&mut d, wait("==")).error.is_none());
    assert_eq!(run(&mut d, wait("!=")).error.unwrap().kind, "timed out");
    assert_eq!(
        run(&mut d, json!([{"op": "assert", "lock": "ovn_northd"}]))
            .error
            .unwrap()
            .kind,
        "not owner"
    );
    let mut ctx = TxnContext::default();
    ctx.locks.insert("ovn_northd".into());
    assert!(transact(
        &mut d,
        &[json!({"op": "assert", "lock": "ovn_northd"})],
        &ctx
    )
    .error
    .is_none());
    let out = run(
        &mut d,
        json!([{"op": "delete", "table": "Address_Set", "where": []}, {"op": "abort"}]),
    );
    assert_eq!(out.error.unwrap().kind, "aborted");
    assert_eq!(d.table("Address_Set").unwrap().len(), 1);
}

#[test]
fn conditions() {
    let mut d = db();
    run(
        &mut d,
        json!([
            {"op": "insert", "table": "Logical_Switch", "row": {"name": "a", "other_config": ["map", [["x", "1"]]]}},
            {"op": "insert", "table": "Logical_Switch", "row": {"name": "b"}}
        ]),
    );
    let count = |d: &mut Database, w: Value| {
        let out = run(
            d,
            json!([{"op": "select", "table": "Logical_Switch", "where": w, "columns": ["name"]}]),
        );
        out.results[0]["rows"].as_array().unwrap().len()
    };
    assert_eq!(
        count(
            &mut d,
            json!([["other_config", "includes", ["map", [["x", "1"]]]]])
        ),
        1
    );
    assert_eq!(
        count(
            &mut d,
            json!([["other_config", "excludes", ["map", [["x", "1"]]]]])
        ),
        1
    );
    assert_eq!(count(&mut d, json!([["name", "!=", "a"]])), 1);
    assert_eq!(count(&mut d, json!([])), 2);
    let out = run(
        &mut d,
        json!([{"op": "select", "table": "Logical_Switch", "where": [["name", "<", "a"]]}]),
    );
    assert_eq!(out.error.unwrap().kind, "syntax error");
}

#[test]
fn forward_reference_to_an_explicit_uuid_dangles_as_on_the_server() {
    let mut d = db();
    let out = run(
        &mut d,
        json!([
            {"op": "insert", "table": "Logical_Switch", "row": {"name": "s", "ports": ["named-uuid", "p"]}},
            {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p", "uuid": u(2), "row": {"name": "p"}}
        ]),
    );
    assert_eq!(out.error.unwrap().kind, "referential integrity violation");
    // Without an explicit UUID the forward reference resolves.
    let out = run(
        &mut d,
        json!([
            {"op": "insert", "table": "Logical_Switch", "row": {"name": "s", "ports": ["named-uuid", "p"]}},
            {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p", "row": {"name": "p"}}
        ]),
    );
    assert!(out.error.is_none(), "{:?}", out.error);
}

#[test]
fn rows_losing_their_last_strong_reference_are_collected() {
    // A switch with two ports, one also in a port group (weak reference).
    let mut d = db();
    let out = run(
        &mut d,
        json!([
            {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p1", "uuid": u(11), "row": {"name": "p1"}},
            {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p2", "uuid": u(12), "row": {"name": "p2"}},
            {"op": "insert", "table": "Logical_Switch", "uuid": u(1), "row": {"name": "s", "ports": ["set", [["named-uuid", "p1"], ["named-uuid", "p2"]]]}},
            {"op": "insert", "table": "Port_Group", "uuid": u(2), "row": {"name": "pg", "ports": ["named-uuid", "p2"]}}
        ]),
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    // A reference removed by a mutation: the port goes, nothing else.
    let out = run(
        &mut d,
        json!([{"op": "mutate", "table": "Logical_Switch", "where": [["name", "==", "s"]],
                "mutations": [["ports", "delete", ["uuid", u(11)]]]}]),
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    assert!(d.get("Logical_Switch_Port", &Uuid::from_u128(11)).is_none());
    assert!(d.get("Logical_Switch_Port", &Uuid::from_u128(12)).is_some());
    let deleted: Vec<_> = out
        .changes
        .iter()
        .filter(|c| matches!(c, RowChange::Delete { .. }))
        .map(|c| c.table().to_string())
        .collect();
    assert_eq!(deleted, ["Logical_Switch_Port"]);
    // The switch deleted: its port is collected and the group's weak
    // reference to it dropped, in the same transaction.
    let out = run(
        &mut d,
        json!([{"op": "delete", "table": "Logical_Switch", "where": [["name", "==", "s"]]}]),
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    assert!(d.table("Logical_Switch_Port").unwrap().is_empty());
    assert_eq!(
        d.get("Port_Group", &Uuid::from_u128(2)).unwrap()["ports"],
        Datum::empty_set()
    );
    assert_eq!(
        out.changes.len(),
        3,
        "switch and port deleted, group modified"
    );
}

#[test]
fn deleting_a_strongly_referenced_row_fails() {
    let mut d = db();
    let out = run(
        &mut d,
        json!([
            {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p", "uuid": u(11), "row": {"name": "p"}},
            {"op": "insert", "table": "Logical_Switch", "uuid": u(1), "row": {"name": "s", "ports": ["named-uuid", "p"]}}
        ]),
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    let out = run(
        &mut d,
        json!([{"op": "delete", "table": "Logical_Switch_Port", "where": [["name", "==", "p"]]}]),
    );
    let e = out.error.unwrap();
    assert_eq!(e.kind, "referential integrity violation");
    assert!(
        e.details.contains("Logical_Switch column ports"),
        "{}",
        e.details
    );
    assert!(d.get("Logical_Switch_Port", &Uuid::from_u128(11)).is_some());
}

#[test]
fn a_touched_row_clashing_with_an_untouched_one_violates_the_index() {
    let mut d = db();
    let mut ops: Vec<Value> = (0..20)
        .map(|i| json!({"op": "insert", "table": "Port_Group", "row": {"name": format!("pg{i}")}}))
        .collect();
    ops.push(json!({"op": "insert", "table": "Address_Set", "row": {"name": "as"}}));
    assert!(run(&mut d, Value::Array(ops)).error.is_none());
    // One new row among many old ones (compared one by one), then a
    // rename onto an existing name.
    for ops in [
        json!([{"op": "insert", "table": "Port_Group", "row": {"name": "pg7"}}]),
        json!([{"op": "update", "table": "Port_Group", "where": [["name", "==", "pg3"]], "row": {"name": "pg4"}}]),
    ] {
        let e = run(&mut d, ops).error.unwrap();
        assert_eq!(e.kind, "constraint violation");
        assert!(e.details.contains("\"Port_Group\" table"), "{}", e.details);
    }
    // Swapping two names in one transaction is fine.
    let out = run(
        &mut d,
        json!([
            {"op": "update", "table": "Port_Group", "where": [["name", "==", "pg1"]], "row": {"name": "tmp"}},
            {"op": "update", "table": "Port_Group", "where": [["name", "==", "pg2"]], "row": {"name": "pg1"}},
            {"op": "update", "table": "Port_Group", "where": [["name", "==", "tmp"]], "row": {"name": "pg2"}}
        ]),
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(d.table("Port_Group").unwrap().len(), 20);
}
