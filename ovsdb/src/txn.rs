//! The RFC 7047 transaction executor (§5.2), with ovsdb-server's semantics:
//! named UUIDs across the whole transaction, conditions, every mutator, weak
//! references silently dropped, strong references checked, unreferenced
//! non-root rows garbage-collected, unique indexes and `maxRows` enforced.
//! A failing transaction leaves the database untouched.
//!
//! `wait` cannot block here: an unmet condition fails at once with
//! `timed out`, which is what ovsdb-server answers for `"timeout": 0`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::atom::{json_snippet, Atom, AtomType, Uuid};
use crate::datum::{Datum, Row};
use crate::db::{Database, RowChange, Rows};
use crate::schema::{ColumnSchema, ColumnType, RefType, TableSchema};
use crate::validate::validate_datum;

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

/// One parsed condition `[column, function, value]`.
struct Cond {
    column: String,
    func: String,
    value: Datum,
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

    fn insert(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
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

    fn conditions(&self, ts: &TableSchema, m: &Map<String, Value>) -> Result<Vec<Cond>, TxnError> {
        let w = m
            .get("where")
            .and_then(Value::as_array)
            .ok_or_else(|| syntax("operation needs \"where\""))?;
        w.iter().map(|c| parse_condition(ts, c)).collect()
    }

    fn matching(&mut self, ts: &TableSchema, conds: &[Cond]) -> Vec<Uuid> {
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

    fn select(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
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

    fn update(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
        let ts = self.table_of(m)?;
        let conds = self.conditions(&ts, m)?;
        let changes = self.parse_row(&ts, m.get("row"), false)?;
        let hits = self.matching(&ts, &conds);
        let rows = self.rows(&ts.name);
        for u in &hits {
            let mut row = (*rows[u]).clone();
            row.extend(changes.iter().map(|(k, v)| (k.clone(), v.clone())));
            rows.insert(*u, Arc::new(row));
        }
        self.touch(&ts.name, hits.iter().copied());
        Ok(json!({"count": hits.len()}))
    }

    fn delete(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
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

    fn mutate(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
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

    fn wait(&mut self, m: &Map<String, Value>) -> Result<Value, TxnError> {
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

fn has_ref(ty: &ColumnType, kind: RefType) -> bool {
    std::iter::once(&ty.key)
        .chain(ty.value.as_ref())
        .any(|b| b.ref_table.is_some() && b.ref_type == kind)
}

/// The (table, uuid) references of kind `kind` in a datum.
fn refs_of<'t>(d: &Datum, ty: &'t ColumnType, kind: RefType) -> Vec<(&'t str, Uuid)> {
    let key_t = ty
        .key
        .ref_table
        .as_deref()
        .filter(|_| ty.key.ref_type == kind);
    let val_t = ty
        .value
        .as_ref()
        .and_then(|v| v.ref_table.as_deref().filter(|_| v.ref_type == kind));
    let mut out = Vec::new();
    match d {
        Datum::Set(atoms) => {
            if let Some(t) = key_t {
                out.extend(atoms.iter().filter_map(Atom::as_uuid).map(|u| (t, u)));
            }
        }
        Datum::Map(pairs) => {
            for (k, v) in pairs {
                if let (Some(t), Some(u)) = (key_t, k.as_uuid()) {
                    out.push((t, u));
                }
                if let (Some(t), Some(u)) = (val_t, v.as_uuid()) {
                    out.push((t, u));
                }
            }
        }
    }
    out
}

/// `d` without the references of kind `kind` for which `exists` is false.
fn retain_refs(
    d: &Datum,
    ty: &ColumnType,
    kind: RefType,
    exists: impl Fn(&str, &Uuid) -> bool,
) -> Datum {
    let key_t = ty
        .key
        .ref_table
        .as_deref()
        .filter(|_| ty.key.ref_type == kind);
    let val_t = ty
        .value
        .as_ref()
        .and_then(|v| v.ref_table.as_deref().filter(|_| v.ref_type == kind));
    let ok = |t: Option<&str>, a: &Atom| match (t, a.as_uuid()) {
        (Some(t), Some(u)) => exists(t, &u),
        _ => true,
    };
    match d {
        Datum::Set(atoms) => Datum::Set(atoms.iter().filter(|a| ok(key_t, a)).cloned().collect()),
        Datum::Map(pairs) => Datum::Map(
            pairs
                .iter()
                .filter(|(k, v)| ok(key_t, k) && ok(val_t, v))
                .cloned()
                .collect(),
        ),
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

/// Parses the value of a mutation: a scalar for arithmetic, a set or map
/// (of any size) for insert/delete; map delete also takes a set of keys.
fn parse_mutation_arg(
    table: &str,
    col: &ColumnSchema,
    op: &str,
    v: &Value,
) -> Result<Datum, TxnError> {
    let ctx = |e: String| syntax(format!("table {table} column {}: {e}", col.name));
    match op {
        "+=" | "-=" | "*=" | "/=" | "%=" => {
            if col.ty.is_map() || !matches!(col.ty.key.atom, AtomType::Integer | AtomType::Real) {
                return Err(ctx(format!("mutator {op} needs an integer or real column")));
            }
            if op == "%=" && col.ty.key.atom != AtomType::Integer {
                return Err(ctx("mutator %= needs an integer column".into()));
            }
            let a = Atom::from_json(v, col.ty.key.atom).map_err(|e| ctx(e.to_string()))?;
            Ok(Datum::Set(vec![a]))
        }
        "insert" | "delete" => {
            let key = col.ty.key.atom;
            match &col.ty.value {
                Some(vt) => Datum::from_json(v, key, Some(vt.atom))
                    .or_else(|e| {
                        if op == "delete" {
                            Datum::from_json(v, key, None)
                        } else {
                            Err(e)
                        }
                    })
                    .map_err(|e| ctx(e.to_string())),
                None => Datum::from_json(v, key, None).map_err(|e| ctx(e.to_string())),
            }
        }
        other => Err(ctx(format!("unknown mutator {other:?}"))),
    }
}

fn arith(a: &Atom, op: &str, b: &Atom) -> Result<Atom, (&'static str, String)> {
    match (a, b) {
        (Atom::Integer(x), Atom::Integer(y)) => {
            let r = match op {
                "+=" => x.checked_add(*y),
                "-=" => x.checked_sub(*y),
                "*=" => x.checked_mul(*y),
                "/=" | "%=" if *y == 0 => return Err(("domain error", "division by zero".into())),
                "/=" => x.checked_div(*y),
                _ => x.checked_rem(*y),
            };
            r.map(Atom::Integer)
                .ok_or(("range error", "integer overflow".into()))
        }
        (Atom::Real(x), Atom::Real(y)) => {
            let r = match op {
                "+=" => x.0 + y.0,
                "-=" => x.0 - y.0,
                "*=" => x.0 * y.0,
                _ if y.0 == 0.0 => return Err(("domain error", "division by zero".into())),
                _ => x.0 / y.0,
            };
            if r.is_finite() {
                Ok(Atom::from(r))
            } else {
                Err(("range error", "result is not finite".into()))
            }
        }
        _ => Err(("syntax error", "type mismatch".into())),
    }
}

fn apply_mutation(cur: &Datum, op: &str, arg: &Datum) -> Result<Datum, (&'static str, String)> {
    match op {
        "insert" => Ok(match (cur, arg) {
            (Datum::Set(s), Datum::Set(a)) => Datum::set(s.iter().chain(a).cloned()),
            (Datum::Map(m), Datum::Map(a)) => {
                let mut out: BTreeMap<Atom, Atom> = m.iter().cloned().collect();
                for (k, v) in a {
                    out.entry(k.clone()).or_insert_with(|| v.clone());
                }
                Datum::Map(out.into_iter().collect())
            }
            (Datum::Set(s), Datum::Map(a)) if s.is_empty() => Datum::Map(a.clone()),
            (d, _) => d.clone(),
        }),
        "delete" => Ok(match (cur, arg) {
            (Datum::Set(s), Datum::Set(a)) => {
                Datum::Set(s.iter().filter(|x| !a.contains(x)).cloned().collect())
            }
            (Datum::Map(m), Datum::Set(keys)) => Datum::Map(
                m.iter()
                    .filter(|(k, _)| !keys.contains(k))
                    .cloned()
                    .collect(),
            ),
            (Datum::Map(m), Datum::Map(pairs)) => {
                Datum::Map(m.iter().filter(|p| !pairs.contains(p)).cloned().collect())
            }
            (d, _) => d.clone(),
        }),
        _ => {
            let b = arg
                .as_scalar()
                .ok_or(("syntax error", "arithmetic needs one value".to_string()))?;
            let atoms = cur
                .atoms()
                .iter()
                .map(|a| arith(a, op, b))
                .collect::<Result<Vec<_>, _>>()?;
            let n = atoms.len();
            let d = Datum::set(atoms);
            if d.len() != n {
                return Err((
                    "constraint violation",
                    "mutation would create duplicate set elements".into(),
                ));
            }
            Ok(d)
        }
    }
}

mod integrity;
#[cfg(test)]
mod tests;
