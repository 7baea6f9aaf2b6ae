//! Reading a JSON file that holds the params of a `transact` request,
//! `["OVN_Northbound", op, …]`, applied to an empty database, exactly as
//! `ovsdb-client transact` would apply it to a fresh server.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::db::Database;
use crate::schema::{nb_schema, sb_schema, server_schema, vswitch_schema, DatabaseSchema};
use crate::txn::{transact, TxnContext};

/// Why a transact file could not be applied.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct TransactFileError {
    /// The file name.
    pub file: String,
    /// What is wrong: the failing operation's index and the server-style error.
    pub message: String,
}

/// The bundled schema for a database name, if there is one.
pub fn bundled_schema(db_name: &str) -> Option<&'static DatabaseSchema> {
    [nb_schema(), sb_schema(), vswitch_schema(), server_schema()]
        .into_iter()
        .find(|s| s.name == db_name)
}

/// Applies a transact params array (already parsed) to an empty database of
/// the bundled schema it names.
pub fn apply_transact_json(v: &Value, name: &str) -> Result<Database, TransactFileError> {
    let fail = |message: String| TransactFileError {
        file: name.to_string(),
        message,
    };
    let arr = v
        .as_array()
        .ok_or_else(|| fail("expected a JSON array [\"DATABASE\", operation, ...]".into()))?;
    let db_name = arr
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| fail("the first element must be the database name".into()))?;
    let schema =
        bundled_schema(db_name).ok_or_else(|| fail(format!("unknown database {db_name:?}")))?;
    let mut db = Database::new(Arc::new(schema.clone()));
    let out = transact(&mut db, &arr[1..], &TxnContext::default());
    if let Some(e) = out.error {
        let at = match e.op_index {
            Some(i) => {
                let table = arr[i + 1]
                    .get("table")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                format!("operation {i} (table {table})")
            }
            None => "commit".to_string(),
        };
        return Err(fail(format!("{at}: {e}")));
    }
    Ok(db)
}

/// Reads a transact JSON file and applies it to an empty database.
pub fn read_transact_file(path: &Path) -> Result<Database, TransactFileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| TransactFileError {
        file: name.clone(),
        message: e.to_string(),
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| TransactFileError {
        file: name.clone(),
        message: format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ),
    })?;
    apply_transact_json(&v, &name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applies_and_names_the_failing_operation() {
        let db = apply_transact_json(
            &json!(["OVN_Northbound", {"op": "insert", "table": "Logical_Switch", "row": {"name": "a"}}]),
            "x.json",
        )
        .unwrap();
        assert_eq!(db.table("Logical_Switch").unwrap().len(), 1);
        let e = apply_transact_json(
            &json!(["OVN_Northbound", {"op": "insert", "table": "Logical_Switch", "row": {"name": "a"}},
                    {"op": "insert", "table": "Logical_Switch", "row": {"nme": "b"}}]),
            "x.json",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "x.json: operation 1 (table Logical_Switch): unknown column: No column nme in table Logical_Switch.");
        assert!(apply_transact_json(&json!(["Nope"]), "x.json")
            .unwrap_err()
            .message
            .contains("unknown database"));
    }
}
