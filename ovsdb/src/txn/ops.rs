//! The operations of a transaction (RFC 7047 §5.2): `insert`, `select`,
//! `update`, `delete`, `mutate` and `wait`, on the transaction's working
//! copies of the tables.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::mutation::{apply_mutation, parse_mutation_arg};
use super::{constraint, syntax, triple, unknown_column, Exec, TxnError};
use crate::atom::{json_snippet, Uuid};
use crate::datum::Datum;
use crate::db::Database;
use crate::schema::TableSchema;
use crate::validate::validate_datum;

impl Exec<'_> {
    pub(super) fn insert(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
        let ts = self.table_of(m)?;
        let row = self.parse_row(&ts, m.get("row"), true)?;
        let uuid = match (m.get("uuid"), m.get("uuid-name").and_then(Value::as_str)) {
            (None, Some(n)) => self.names[n],
            (Some(u), _) => {
                let s = u
                    .as_str()
                    .ok_or_else(|| syntax("\"uuid\" must be a string"))?;
                Uuid::parse_str(s).map_err(|_| syntax(format!("invalid uuid {s:?}")))?
            }
            (None, None) => Uuid::new_v4(),
        };
        let row = Database::complete_row(&ts, row);
        let rows = self.rows(&ts.name);
        if rows.contains_key(&uuid) {
            return Err(TxnError::new(
                "duplicate uuid",
                format!("This UUID would duplicate a UUID already present within the table or deleted within the same transaction: table {} row {uuid}", ts.name),
            ));
        }
        rows.insert(uuid, Arc::new(row));
        self.touch(&ts.name, [uuid]);
        Ok(json!({"uuid": ["uuid", uuid.to_string()]}))
    }

    pub(super) fn select(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
        let ts = self.table_of(m)?;
        let conds = self.conditions(&ts, m)?;
        let columns = select_columns(&ts, m.get("columns"))?;
        let rows = self.rows_ref(&ts.name).cloned().unwrap_or_default();
        let out: Vec<Value> = self
            .matching(&ts, &conds)
            .into_iter()
            .map(|u| {
                let row = &rows[&u];
                let mut o = Map::new();
                for c in &columns {
                    let v = if c == "_uuid" {
                        json!(["uuid", u.to_string()])
                    } else {
                        row[c].to_json()
                    };
                    o.insert(c.clone(), v);
                }
                Value::Object(o)
            })
            .collect();
        Ok(json!({"rows": out}))
    }

    pub(super) fn update(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
        let ts = self.table_of(m)?;
        let conds = self.conditions(&ts, m)?;
        let changes = self.parse_row(&ts, m.get("row"), false)?;
        let hits = self.matching(&ts, &conds);
        let rows = self.rows(&ts.name);
        for u in &hits {
            let mut row = (*rows[u]).clone();
            row.extend(changes.iter().map(|(k, v)| (k, v.clone())));
            rows.insert(*u, Arc::new(row));
        }
        self.touch(&ts.name, hits.iter().copied());
        Ok(json!({"count": hits.len()}))
    }

    pub(super) fn delete(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
        let ts = self.table_of(m)?;
        let conds = self.conditions(&ts, m)?;
        let hits = self.matching(&ts, &conds);
        let rows = self.rows(&ts.name);
        for u in &hits {
            rows.remove(u);
        }
        self.touch(&ts.name, hits.iter().copied());
        Ok(json!({"count": hits.len()}))
    }

    pub(super) fn mutate(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
        let ts = self.table_of(m)?;
        let conds = self.conditions(&ts, m)?;
        let muts = m
            .get("mutations")
            .and_then(Value::as_array)
            .ok_or_else(|| syntax("mutate needs \"mutations\""))?;
        let mut parsed = Vec::new();
        for mv in muts {
            let (c, op, v) = triple(mv, "mutation", "mutator")?;
            let col = ts.column(c).ok_or_else(|| unknown_column(&ts.name, c))?;
            if !col.mutable {
                return Err(constraint(format!(
                    "table {} column {c} is not mutable",
                    ts.name
                )));
            }
            parsed.push((
                col.clone(),
                op.to_string(),
                parse_mutation_arg(&ts.name, col, op, v)?,
            ));
        }
        let hits = self.matching(&ts, &conds);
        let table = ts.name.clone();
        let rows = self.rows(&table);
        for u in &hits {
            let mut row = (*rows[u]).clone();
            for (col, op, arg) in &parsed {
                let cur = row
                    .get(&col.name)
                    .cloned()
                    .unwrap_or_else(|| col.ty.default_datum());
                let new = apply_mutation(&cur, op, arg).map_err(|(k, d)| {
                    TxnError::new(k, format!("table {table} row {u} column {}: {d}", col.name))
                })?;
                validate_datum(&table, col, &new).map_err(|e| {
                    constraint(format!(
                        "table {table} row {u} column {}: {}",
                        col.name, e.message
                    ))
                })?;
                row.insert(col.name.clone(), new);
            }
            rows.insert(*u, Arc::new(row));
        }
        self.touch(&table, hits.iter().copied());
        Ok(json!({"count": hits.len()}))
    }

    pub(super) fn wait(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
        let ts = self.table_of(m)?;
        let conds = self.conditions(&ts, m)?;
        let columns = select_columns(&ts, m.get("columns"))?;
        let until = m
            .get("until")
            .and_then(Value::as_str)
            .ok_or_else(|| syntax("wait needs \"until\""))?;
        let expected = m
            .get("rows")
            .and_then(Value::as_array)
            .ok_or_else(|| syntax("wait needs \"rows\""))?;
        let mut want = Vec::new();
        for r in expected {
            let r = self.parse_row(&ts, Some(r), true)?;
            want.push(
                columns
                    .iter()
                    .filter(|c| *c != "_uuid")
                    .map(|c| r.get(c).cloned())
                    .collect::<Vec<_>>(),
            );
        }
        let rows = self.rows_ref(&ts.name).cloned().unwrap_or_default();
        let mut have: Vec<Vec<Option<Datum>>> = self
            .matching(&ts, &conds)
            .iter()
            .map(|u| {
                columns
                    .iter()
                    .filter(|c| *c != "_uuid")
                    .map(|c| rows[u].get(c).cloned())
                    .collect()
            })
            .collect();
        have.sort();
        want.sort();
        let equal = have == want;
        match (until, equal) {
            ("==", true) | ("!=", false) => Ok(json!({})),
            ("==", false) | ("!=", true) => Err(TxnError::new(
                "timed out",
                format!("\"wait\" timed out on table {}", ts.name),
            )),
            (other, _) => Err(syntax(format!("wait: unknown \"until\" {other:?}"))),
        }
    }
}

fn select_columns(ts: &TableSchema, v: Option<&Value>) -> Result<Vec<String>, TxnError> {
    match v {
        None => Ok(std::iter::once("_uuid".to_string())
            .chain(ts.columns.keys().cloned())
            .collect()),
        Some(Value::Array(cols)) => cols
            .iter()
            .map(|c| match c.as_str() {
                Some(c) if c == "_uuid" || ts.columns.contains_key(c) => Ok(c.to_string()),
                Some(c) => Err(unknown_column(&ts.name, c)),
                None => Err(syntax("column names must be strings")),
            })
            .collect(),
        Some(other) => Err(syntax(format!(
            "\"columns\" must be an array: {}",
            json_snippet(other)
        ))),
    }
}
