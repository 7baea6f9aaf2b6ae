//! The RFC 7047 transaction executor (§5.2), with ovsdb-server's semantics:
//! named UUIDs across the whole transaction, conditions, every mutator, weak
//! references silently dropped, strong references checked, unreferenced
//! non-root rows garbage-collected, unique indexes and `maxRows` enforced.
//! A failing transaction leaves the database untouched.
//!
//! `wait` cannot block here: an unmet condition fails at once with
//! `timed out`, which is what ovsdb-server answers for `"timeout": 0`.
//!
//! Layout: this module holds the executor ([`transact`], the operation
//! dispatch, named UUIDs, rows of the transaction); `ops` the operations,
//! `condition` the `where` conditions, `mutation` the mutators, `refs` the
//! references a datum holds, `integrity` the commit-time checks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Map, Value};

use crate::atom::{json_snippet, Uuid};
use crate::datum::Row;
use crate::db::{Database, RowChange, Rows};
use crate::schema::TableSchema;
use crate::validate::validate_datum;

mod condition;
mod integrity;
mod mutation;
mod ops;
mod refs;
#[cfg(test)]
mod tests;

/// What a transaction may rely on besides the database.
#[derive(Clone, Debug, Default)]
pub struct TxnContext {
    /// Locks held by the client (for `assert`).
    pub locks: BTreeSet<String>,
}

/// The outcome of a transaction: the result array the server would send
/// and, if it committed, the row changes.
#[derive(Clone, Debug)]
pub struct TxnOutcome {
    /// One JSON object per operation; on failure the error object is last.
    pub results: Vec<Value>,
    /// The first error, if the transaction failed (and was rolled back).
    pub error: Option<TxnError>,
    /// The committed changes (empty on failure).
    pub changes: Vec<RowChange>,
}

/// An error as ovsdb-server reports it: `{"error": kind, "details": …}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {details}")]
pub struct TxnError {
    /// The RFC 7047 error string, e.g. `constraint violation`.
    pub kind: String,
    /// Human-readable details naming table, row and column.
    pub details: String,
    /// Index of the failing operation, if one failed (commit-time errors have none).
    pub op_index: Option<usize>,
}

impl TxnError {
    fn new(kind: &str, details: impl Into<String>) -> TxnError {
        TxnError {
            kind: kind.into(),
            details: details.into(),
            op_index: None,
        }
    }

    /// The JSON error object.
    pub fn to_json(&self) -> Value {
        json!({"error": self.kind, "details": self.details})
    }
}

fn syntax(details: impl Into<String>) -> TxnError {
    TxnError::new("syntax error", details)
}

fn unknown_column(table: &str, column: &str) -> TxnError {
    TxnError::new(
        "unknown column",
        format!("No column {column} in table {table}."),
    )
}

fn constraint(details: impl Into<String>) -> TxnError {
    TxnError::new("constraint violation", details)
}

/// Executes the operations `ops` (the `transact` params after the database
/// name) against `db`. On success the changes are applied to `db`.
pub fn transact(db: &mut Database, ops: &[Value], ctx: &TxnContext) -> TxnOutcome {
    let mut exec = Exec {
        db,
        work: BTreeMap::new(),
        dirty: integrity::Marks::new(),
        names: HashMap::new(),
    };
    let mut results = Vec::with_capacity(ops.len());
    let fail = |mut results: Vec<Value>, e: TxnError| {
        results.push(e.to_json());
        TxnOutcome {
            results,
            error: Some(e),
            changes: Vec::new(),
        }
    };
    let ops = match exec.resolve_names(ops) {
        Ok(ops) => ops,
        Err(e) => return fail(results, e),
    };
    for (i, op) in ops.iter().enumerate() {
        match exec.op(op, ctx) {
            Ok(r) => results.push(r),
            Err(mut e) => {
                e.op_index = Some(i);
                return fail(results, e);
            }
        }
    }
    if let Err(e) = exec.finish() {
        return fail(results, e);
    }
    let changes = exec.commit();
    TxnOutcome {
        results,
        error: None,
        changes,
    }
}

struct Exec<'a> {
    db: &'a mut Database,
    /// Working copies of the tables this transaction touched.
    work: BTreeMap<String, Rows>,
    /// The rows the operations (and the commit-time checks) inserted,
    /// changed or deleted, by table: what those checks and the commit look at.
    dirty: integrity::Marks,
    names: HashMap<String, Uuid>,
}

impl<'a> Exec<'a> {
    fn table_schema(&self, name: &str) -> Result<TableSchema, TxnError> {
        self.db
            .schema()
            .table(name)
            .cloned()
            .ok_or_else(|| syntax(format!("No table named {name}.")))
    }

    fn rows(&mut self, table: &str) -> &mut Rows {
        if !self.work.contains_key(table) {
            let copy = self.db.table(table).cloned().unwrap_or_default();
            self.work.insert(table.to_string(), copy);
        }
        self.work.get_mut(table).expect("just inserted")
    }

    /// Notes rows `uuids` of `table` as touched.
    fn touch(&mut self, table: &str, uuids: impl IntoIterator<Item = Uuid>) {
        self.dirty
            .entry(table.to_string())
            .or_default()
            .extend(uuids);
    }

    fn rows_ref(&self, table: &str) -> Option<&Rows> {
        self.work.get(table).or_else(|| self.db.table(table))
    }

    /// Resolves named UUIDs the way ovsdb-server does, operation by
    /// operation: a name gets a fresh UUID where it is first seen, whether
    /// as a reference or as an insert's `uuid-name`. An insert's explicit
    /// `"uuid"` names its row, and also the name unless a reference came
    /// first (then that reference dangles, as on the server). A name no
    /// insert defines refers to no row.
    fn resolve_names(&mut self, ops: &[Value]) -> Result<Vec<Value>, TxnError> {
        let mut defined = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            if op.get("op").and_then(Value::as_str) == Some("insert") {
                if let Some(name) = op.get("uuid-name") {
                    let Some(name) = name.as_str().filter(|n| crate::atom::is_id(n)) else {
                        return Err(syntax(format!("invalid uuid-name {}", json_snippet(name))));
                    };
                    if !defined.insert(name.to_string()) {
                        return Err(TxnError::new(
                            "duplicate uuid-name",
                            format!("uuid-name {name} is used twice"),
                        ));
                    }
                    if !self.names.contains_key(name) {
                        let uuid = match op.get("uuid").and_then(Value::as_str) {
                            Some(s) => Uuid::parse_str(s)
                                .map_err(|_| syntax(format!("invalid uuid {s:?}")))?,
                            None => Uuid::new_v4(),
                        };
                        self.names.insert(name.to_string(), uuid);
                    }
                }
            }
            out.push(self.replace_names(op));
        }
        Ok(out)
    }

    fn replace_names(&mut self, v: &Value) -> Value {
        match v {
            Value::Array(a) if a.len() == 2 && a[0] == "named-uuid" && a[1].is_string() => {
                let n = a[1].as_str().unwrap_or_default();
                let u = *self.names.entry(n.to_string()).or_insert_with(Uuid::new_v4);
                json!(["uuid", u.to_string()])
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.replace_names(x)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), self.replace_names(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn op(&mut self, op: &Value, ctx: &TxnContext) -> Result<Value, TxnError> {
        let m = op
            .as_object()
            .ok_or_else(|| syntax(format!("operation is not an object: {}", json_snippet(op))))?;
        let name = m
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| syntax("operation has no \"op\""))?;
        match name {
            "insert" => self.insert(m),
            "select" => self.select(m),
            "update" => self.update(m),
            "mutate" => self.mutate(m),
            "delete" => self.delete(m),
            "wait" => self.wait(m),
            "commit" => match m.get("durable") {
                Some(Value::Bool(_)) => Ok(json!({})),
                _ => Err(syntax("commit needs a boolean \"durable\"")),
            },
            "abort" => Err(TxnError::new("aborted", "aborted by request")),
            "comment" => Ok(json!({})),
            "assert" => {
                let lock = m
                    .get("lock")
                    .and_then(Value::as_str)
                    .ok_or_else(|| syntax("assert needs \"lock\""))?;
                if ctx.locks.contains(lock) {
                    Ok(json!({}))
                } else {
                    Err(TxnError::new(
                        "not owner",
                        format!("Asserted lock {lock} not held."),
                    ))
                }
            }
            other => Err(TxnError::new(
                "unknown operation",
                format!("No operation \"{other}\""),
            )),
        }
    }

    fn table_of(&self, m: &Map<String, Value>) -> Result<TableSchema, TxnError> {
        let t = m
            .get("table")
            .and_then(Value::as_str)
            .ok_or_else(|| syntax("operation needs \"table\""))?;
        self.table_schema(t)
    }

    /// Parses a row object of the transaction (columns to data) with constraint checks.
    fn parse_row(
        &self,
        ts: &TableSchema,
        v: Option<&Value>,
        insert: bool,
    ) -> Result<Row, TxnError> {
        let Some(v) = v else { return Ok(Row::new()) };
        let m = v
            .as_object()
            .ok_or_else(|| syntax(format!("table {}: row is not an object", ts.name)))?;
        let mut row = Row::new();
        for (c, dv) in m {
            let col = ts.column(c).ok_or_else(|| unknown_column(&ts.name, c))?;
            if !insert && !col.mutable {
                return Err(constraint(format!(
                    "table {} column {c} is not mutable",
                    ts.name
                )));
            }
            let d = col
                .ty
                .parse_datum(dv)
                .map_err(|e| syntax(format!("table {} column {c}: {e}", ts.name)))?;
            validate_datum(&ts.name, col, &d).map_err(|e| constraint(e.to_string()))?;
            row.insert(c.clone(), d);
        }
        Ok(row)
    }
}

/// Splits a `[column, OPERATOR, value]` triple (a condition or a mutation).
fn triple<'v>(
    v: &'v Value,
    what: &str,
    operator: &str,
) -> Result<(&'v str, &'v str, &'v Value), TxnError> {
    match v.as_array().map(Vec::as_slice) {
        Some([Value::String(c), Value::String(op), x]) => Ok((c, op, x)),
        _ => Err(syntax(format!(
            "{what} must be [column, {operator}, value] with string column and {operator}: {}",
            json_snippet(v)
        ))),
    }
}
