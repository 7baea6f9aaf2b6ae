//! The `where` conditions of `select`, `update`, `delete`, `mutate` and
//! `wait` (RFC 7047 §5.1 `<condition>`): parsed against the table's
//! schema, evaluated on rows, and the rows of the transaction they match.

use serde_json::{Map, Value};

use super::{syntax, triple, unknown_column, Exec, TxnError};
use crate::atom::{Atom, AtomType, Uuid};
use crate::datum::{Datum, Row};
use crate::schema::{ColumnType, TableSchema};

/// One parsed condition `[column, function, value]`.
pub(super) struct Cond {
    column: String,
    func: String,
    value: Datum,
}

impl Exec<'_> {
    pub(super) fn conditions(
        &self,
        ts: &TableSchema,
        m: &Map<String, Value>,
    ) -> Result<Vec<Cond>, TxnError> {
        let w = m
            .get("where")
            .and_then(Value::as_array)
            .ok_or_else(|| syntax("operation needs \"where\""))?;
        w.iter().map(|c| parse_condition(ts, c)).collect()
    }

    pub(super) fn matching(&mut self, ts: &TableSchema, conds: &[Cond]) -> Vec<Uuid> {
        // A condition on _uuid == X avoids the scan.
        if let Some(u) = conds
            .iter()
            .find(|c| c.column == "_uuid" && c.func == "==")
            .and_then(|c| c.value.as_uuid())
        {
            let rows = self.rows_ref(&ts.name);
            return match rows.and_then(|r| r.get(&u)) {
                Some(row) if conds.iter().all(|c| eval(c, &u, row)) => vec![u],
                _ => vec![],
            };
        }
        self.rows_ref(&ts.name)
            .map(|rows| {
                rows.iter()
                    .filter(|(u, r)| conds.iter().all(|c| eval(c, u, r)))
                    .map(|(u, _)| *u)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn parse_condition(ts: &TableSchema, c: &Value) -> Result<Cond, TxnError> {
    let (col, func, value) = triple(c, "condition", "function")?;
    let uuid_ty = ColumnType::scalar(AtomType::Uuid);
    let ty = if col == "_uuid" {
        &uuid_ty
    } else {
        &ts.column(col)
            .ok_or_else(|| unknown_column(&ts.name, col))?
            .ty
    };
    match func {
        "==" | "!=" | "includes" | "excludes" => {}
        "<" | "<=" | ">" | ">=" => {
            if !(ty.is_scalar() || ty.is_optional())
                || !matches!(ty.key.atom, AtomType::Integer | AtomType::Real)
            {
                return Err(syntax(format!(
                    "table {} column {col}: function {func} is only valid for integer or real columns with at most one value",
                    ts.name
                )));
            }
        }
        other => return Err(syntax(format!("unknown condition function {other:?}"))),
    }
    let value = ty
        .parse_datum(value)
        .map_err(|e| syntax(format!("table {} column {col}: {e}", ts.name)))?;
    Ok(Cond {
        column: col.to_string(),
        func: func.to_string(),
        value,
    })
}

fn eval(c: &Cond, uuid: &Uuid, row: &Row) -> bool {
    let uuid_datum;
    let d = if c.column == "_uuid" {
        uuid_datum = Datum::scalar(*uuid);
        &uuid_datum
    } else {
        match row.get(&c.column) {
            Some(d) => d,
            None => return false,
        }
    };
    match c.func.as_str() {
        "==" => *d == c.value,
        "!=" => *d != c.value,
        "includes" => includes(d, &c.value),
        "excludes" => excludes(d, &c.value),
        f => match (
            d.as_scalar().and_then(Atom::as_f64),
            c.value.as_scalar().and_then(Atom::as_f64),
        ) {
            (Some(a), Some(b)) => match f {
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                _ => a >= b,
            },
            _ => false,
        },
    }
}

fn includes(d: &Datum, v: &Datum) -> bool {
    match v {
        Datum::Set(atoms) => atoms.iter().all(|a| d.contains(a)),
        Datum::Map(pairs) => pairs.iter().all(|(k, val)| d.get(k) == Some(val)),
    }
}

fn excludes(d: &Datum, v: &Datum) -> bool {
    match v {
        Datum::Set(atoms) => atoms.iter().all(|a| !d.contains(a)),
        Datum::Map(pairs) => pairs.iter().all(|(k, val)| d.get(k) != Some(val)),
    }
}
