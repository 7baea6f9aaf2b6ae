//! NB readers that keep what the compiler needs beyond the ovsdb crate's
//! readers: the transaction *history* of a standalone `.db` file (northd's
//! tunnel keys and flow metadata depend on the order in which it met the
//! rows; `ovsdb::file` returns the final state), and a small reader of
//! transact JSON made of `insert` operations (dependency-free, used by the
//! fidelity tests). The CLI runs transact files through
//! `ovsdb::transact_file`.
//!
//! Rows carry only the columns given; the compiler treats missing columns as
//! empty, which is their OVSDB default for every column it reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use ovsdb::{Atom, Datum, Row, Uuid};
use serde_json::Value;

use crate::nb::RowChange;

/// Why an NB file could not be read. Messages name the file position
/// (operation index, table, column).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

fn err(msg: impl Into<String>) -> LoadError {
    LoadError(msg.into())
}

/// Replaces `["named-uuid", name]` by `["uuid", …]` everywhere in `v`.
fn resolve_named(v: &Value, names: &BTreeMap<String, Uuid>) -> Result<Value, LoadError> {
    Ok(match v {
        Value::Array(a) if a.len() == 2 && a[0] == "named-uuid" => {
            let n = a[1].as_str().unwrap_or_default();
            let u = names
                .get(n)
                .ok_or_else(|| err(format!("unknown named-uuid {n}")))?;
            Value::Array(vec![Value::from("uuid"), Value::from(u.to_string())])
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| resolve_named(x, names))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

fn parse_row(table: &str, uuid: Uuid, row: &Value, where_: &str) -> Result<Row, LoadError> {
    let obj = row.as_object().ok_or_else(|| {
        err(format!(
            "{where_}: table {table} row {uuid}: row is not an object"
        ))
    })?;
    let mut out = Row::new();
    for (col, v) in obj {
        let d = Datum::from_json_untyped(v).map_err(|e| {
            err(format!(
                "{where_}: table {table} row {uuid} column {col}: {e}"
            ))
        })?;
        out.insert(col.clone(), d);
    }
    Ok(out)
}

/// Reads a transact JSON document (`["OVN_Northbound", op, …]`) made of
/// `insert` operations, each with an explicit `"uuid"` or a `"uuid-name"`
/// (then the UUID is derived from the name, deterministically).
pub fn transact_json(text: &str) -> Result<Vec<RowChange>, LoadError> {
    let v: Value = serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))?;
    let ops = v
        .as_array()
        .ok_or_else(|| err("expected a JSON array [\"OVN_Northbound\", op…]"))?;
    let mut names = BTreeMap::new();
    for op in ops.iter().skip(1) {
        if let (Some(name), None) = (op.get("uuid-name").and_then(Value::as_str), op.get("uuid")) {
            names.insert(
                name.to_string(),
                crate::ids::derive("uuid-name", &[name.as_bytes()]),
            );
        }
        if let (Some(name), Some(u)) = (op.get("uuid-name").and_then(Value::as_str), op.get("uuid"))
        {
            if let Some(u) = u.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
                names.insert(name.to_string(), u);
            }
        }
    }
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate().skip(1) {
        let where_ = format!("operation {i}");
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        if kind != "insert" {
            return Err(err(format!(
                "{where_}: op \"{kind}\" is not supported by this reader (only insert)"
            )));
        }
        let table = op
            .get("table")
            .and_then(Value::as_str)
            .ok_or_else(|| err(format!("{where_}: missing table")))?;
        let uuid = match (op.get("uuid"), op.get("uuid-name").and_then(Value::as_str)) {
            (Some(u), _) => {
                let s = u
                    .as_str()
                    .or_else(|| u.get(1).and_then(Value::as_str))
                    .unwrap_or_default();
                Uuid::parse_str(s)
                    .map_err(|e| err(format!("{where_}: table {table}: bad uuid {u}: {e}")))?
            }
            (None, Some(name)) => names[name],
            (None, None) => crate::ids::derive("insert", &[table.as_bytes(), &i.to_be_bytes()]),
        };
        let row = resolve_named(op.get("row").unwrap_or(&Value::Null), &names)?;
        let row = if row.is_null() {
            Row::new()
        } else {
            parse_row(table, uuid, &row, &where_)?
        };
        out.push(RowChange::Insert {
            table: table.to_string(),
            uuid,
            new: Arc::new(row),
        });
    }
    Ok(out)
}

/// How a column's value is updated by a diff record: scalars are replaced,
/// sets take the symmetric difference, maps add/replace/remove keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ColKind {
    Scalar,
    Set,
    Map,
}

/// Column kinds from the schema record of a `.db` file.
fn column_kinds(schema: &Value) -> BTreeMap<(String, String), ColKind> {
    let mut out = BTreeMap::new();
    let Some(tables) = schema.get("tables").and_then(Value::as_object) else {
        return out;
    };
    for (t, ts) in tables {
        let Some(cols) = ts.get("columns").and_then(Value::as_object) else {
            continue;
        };
        for (c, cs) in cols {
            let ty = cs.get("type").unwrap_or(&Value::Null);
            let kind = if ty.is_string() {
                ColKind::Scalar
            } else if ty.get("value").is_some() {
                ColKind::Map
            } else {
                let min = ty.get("min").and_then(Value::as_u64).unwrap_or(1);
                let max = ty.get("max").and_then(Value::as_u64);
                let unlimited = ty.get("max").and_then(Value::as_str) == Some("unlimited");
                if min == 1 && !unlimited && max.unwrap_or(1) == 1 {
                    ColKind::Scalar
                } else {
                    ColKind::Set
                }
            };
            out.insert((t.clone(), c.clone()), kind);
        }
    }
    out
}

/// Applies one column update of a `.db` record to `row`; `diff` is true for
/// records written with `"_is_diff": true` on rows that already exist.
fn merge(
    row: &mut Row,
    update: Row,
    kinds: &BTreeMap<(String, String), ColKind>,
    table: &str,
    diff: bool,
) {
    for (k, v) in update {
        let kind = kinds
            .get(&(table.to_string(), k.clone()))
            .copied()
            .unwrap_or(ColKind::Scalar);
        let new = match (diff, kind, row.get(&k)) {
            (true, ColKind::Set, Some(old)) => {
                let mut atoms: Vec<Atom> = old.atoms().to_vec();
                for a in v.atoms() {
                    if let Some(i) = atoms.iter().position(|x| x == a) {
                        atoms.remove(i);
                    } else {
                        atoms.push(a.clone());
                    }
                }
                Datum::set(atoms)
            }
            (true, ColKind::Map, Some(old)) => {
                let mut m: BTreeMap<Atom, Atom> = old.pairs().iter().cloned().collect();
                for (dk, dv) in v.pairs() {
                    if m.get(dk) == Some(dv) {
                        m.remove(dk);
                    } else {
                        m.insert(dk.clone(), dv.clone());
                    }
                }
                Datum::map(m)
            }
            _ => v,
        };
        row.insert(k, new);
    }
}

/// Reads a standalone OVSDB `.db` file (the schema record followed by
/// transaction records) and returns its transactions, in order, as row
/// changes: replaying them reproduces the database's history.
pub fn db_file_history(text: &str) -> Result<Vec<Vec<RowChange>>, LoadError> {
    let mut tables: BTreeMap<String, BTreeMap<Uuid, Arc<Row>>> = BTreeMap::new();
    let mut history = Vec::new();
    let mut lines = text.lines().enumerate();
    let mut records = 0;
    let mut kinds = BTreeMap::new();
    while let Some((n, header)) = lines.next() {
        if header.trim().is_empty() {
            continue;
        }
        if !header.starts_with("OVSDB JSON ") {
            return Err(err(format!(
                "line {}: expected an \"OVSDB JSON\" record header",
                n + 1
            )));
        }
        let (n2, body) = lines
            .next()
            .ok_or_else(|| err(format!("line {}: record without body", n + 1)))?;
        let v: Value = serde_json::from_str(body)
            .map_err(|e| err(format!("line {}: invalid JSON: {e}", n2 + 1)))?;
        records += 1;
        if records == 1 {
            if v.get("tables").is_some() {
                kinds = column_kinds(&v);
                continue;
            }
            return Err(err(
                "line 2: the first record is not a schema (clustered databases are not supported)",
            ));
        }
        let Some(obj) = v.as_object() else { continue };
        let is_diff = obj.get("_is_diff").and_then(Value::as_bool) == Some(true);
        let mut txn = Vec::new();
        for (table, rows) in obj {
            if table.starts_with('_') {
                continue;
            }
            let Some(rows) = rows.as_object() else {
                continue;
            };
            for (u, row) in rows {
                let uuid = Uuid::parse_str(u).map_err(|e| {
                    err(format!(
                        "line {}: table {table}: bad row uuid {u}: {e}",
                        n2 + 1
                    ))
                })?;
                let t = tables.entry(table.clone()).or_default();
                let old = t.get(&uuid).cloned();
                let table_s = table.clone();
                if row.is_null() {
                    if let Some(old) = t.remove(&uuid) {
                        txn.push(RowChange::Delete {
                            table: table_s,
                            uuid,
                            old,
                        });
                    }
                    continue;
                }
                let parsed = parse_row(table, uuid, row, &format!("line {}", n2 + 1))?;
                let mut new_row = old.as_deref().cloned().unwrap_or_default();
                merge(
                    &mut new_row,
                    parsed,
                    &kinds,
                    table,
                    is_diff && old.is_some(),
                );
                let new = Arc::new(new_row);
                t.insert(uuid, new.clone());
                txn.push(match old {
                    Some(old) => RowChange::Modify {
                        table: table_s,
                        uuid,
                        old,
                        new,
                    },
                    None => RowChange::Insert {
                        table: table_s,
                        uuid,
                        new,
                    },
                });
            }
        }
        if !txn.is_empty() {
            history.push(txn);
        }
    }
    Ok(history)
}

/// Reads a standalone OVSDB `.db` file and returns its final rows as inserts.
pub fn db_file(text: &str) -> Result<Vec<RowChange>, LoadError> {
    let mut rows: BTreeMap<(String, Uuid), Arc<Row>> = BTreeMap::new();
    for txn in db_file_history(text)? {
        for ch in txn {
            match ch {
                RowChange::Insert { table, uuid, new }
                | RowChange::Modify {
                    table, uuid, new, ..
                } => {
                    rows.insert((table, uuid), new);
                }
                RowChange::Delete { table, uuid, .. } => {
                    rows.remove(&(table, uuid));
                }
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(|((table, uuid), new)| RowChange::Insert { table, uuid, new })
        .collect())
}
