//! OVSDB transaction operations (RFC 7047 §5.2) in their JSON form, for
//! the few writes a chassis makes.

use std::collections::BTreeMap;

use ovsdb::Uuid;
use serde_json::{json, Value};

/// `["uuid", "…"]`.
pub fn uuid(u: &Uuid) -> Value {
    json!(["uuid", u.to_string()])
}

/// `["named-uuid", "…"]`.
pub fn named(n: &str) -> Value {
    json!(["named-uuid", n])
}

/// A string map datum.
pub fn map(m: &BTreeMap<String, String>) -> Value {
    json!([
        "map",
        m.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()
    ])
}

/// A set datum of already-encoded atoms.
pub fn set(atoms: Vec<Value>) -> Value {
    json!(["set", atoms])
}

/// A string set datum.
pub fn str_set(items: &[String]) -> Value {
    set(items.iter().map(|s| json!(s)).collect())
}

/// `where _uuid == u`.
pub fn by_uuid(u: &Uuid) -> Value {
    json!([["_uuid", "==", uuid(u)]])
}

/// `update` of one row.
pub fn update(table: &str, u: &Uuid, row: Value) -> Value {
    json!({"op": "update", "table": table, "where": by_uuid(u), "row": row})
}

/// `insert` with a named UUID.
pub fn insert(table: &str, name: &str, row: Value) -> Value {
    json!({"op": "insert", "table": table, "uuid-name": name, "row": row})
}

/// `delete` of one row.
pub fn delete(table: &str, u: &Uuid) -> Value {
    json!({"op": "delete", "table": table, "where": by_uuid(u)})
}

/// `mutate` of one row.
pub fn mutate(table: &str, u: &Uuid, mutations: Vec<Value>) -> Value {
    json!({"op": "mutate", "table": table, "where": by_uuid(u), "mutations": mutations})
}

/// A `wait` that fails the transaction unless no row of `table` has
/// `column == value` (guards inserts against a row created meanwhile).
pub fn wait_absent(table: &str, column: &str, value: Value) -> Value {
    json!({
        "op": "wait", "table": table, "timeout": 0,
        "where": [[column, "==", value]], "columns": [column],
        "until": "==", "rows": []
    })
}

/// `comment`, shown in the server's log.
pub fn comment(text: &str) -> Value {
    json!({"op": "comment", "comment": text})
}
