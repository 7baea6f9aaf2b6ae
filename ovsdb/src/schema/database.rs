//! Whole database schemas (RFC 7047 §3.2 `<database-schema>`) and their
//! tables (`<table-schema>`): parsed from JSON text, values or files, and
//! printed back in the form ovsdb-server serves.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::members::{check_members, err, object, opt_bool, opt_u64};
use super::{ColumnSchema, ColumnType, DatabaseSchema, SchemaError, TableSchema};
use crate::atom::is_id;

impl DatabaseSchema {
    /// Parses a schema from its JSON value.
    pub fn from_json(v: &Value) -> Result<DatabaseSchema, SchemaError> {
        let m = object(v, "schema", "a database schema")?;
        check_members(m, "schema", &["name", "version", "cksum", "tables", "doc"])?;
        let name = match m.get("name").and_then(Value::as_str) {
            Some(n) if is_id(n) => n.to_string(),
            Some(n) => return err("schema", format!("invalid database name {n:?}")),
            None => return err("schema", "missing \"name\""),
        };
        let ctx = format!("schema {name}");
        let version = match m.get("version").and_then(Value::as_str) {
            Some(v) if is_version(v) => v.to_string(),
            Some(v) => return err(&ctx, format!("version {v:?} is not x.y.z")),
            None => return err(&ctx, "missing \"version\""),
        };
        let cksum = m.get("cksum").and_then(Value::as_str).map(str::to_string);
        let tables_json = match m.get("tables") {
            Some(t) => object(t, &ctx, "\"tables\"")?,
            None => return err(&ctx, "missing \"tables\""),
        };
        let mut tables = BTreeMap::new();
        let mut any_root = false;
        for (tname, tv) in tables_json {
            let t = parse_table(tname, tv)?;
            any_root |= t.is_root;
            tables.insert(tname.clone(), t);
        }
        if !any_root {
            tables.values_mut().for_each(|t| t.is_root = true);
        }
        for t in tables.values() {
            for c in t.columns.values() {
                for b in std::iter::once(&c.ty.key).chain(c.ty.value.as_ref()) {
                    if let Some(r) = &b.ref_table {
                        if !tables.contains_key(r) {
                            return err(
                                &format!("table {} column {}", t.name, c.name),
                                format!("refTable {r:?} is not a table of this schema"),
                            );
                        }
                    }
                }
            }
        }
        Ok(DatabaseSchema {
            name,
            version,
            cksum,
            tables,
        })
    }

    /// Parses a schema from JSON text.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(s: &str) -> Result<DatabaseSchema, SchemaError> {
        let v: Value = serde_json::from_str(s).map_err(|e| SchemaError {
            context: "schema".into(),
            message: format!("invalid JSON: {e}"),
        })?;
        DatabaseSchema::from_json(&v)
    }

    /// Reads and parses a `.ovsschema` file; errors name the file.
    pub fn from_file(path: &Path) -> Result<DatabaseSchema, SchemaError> {
        let text = std::fs::read_to_string(path).map_err(|e| SchemaError {
            context: path.display().to_string(),
            message: e.to_string(),
        })?;
        DatabaseSchema::from_str(&text).map_err(|e| SchemaError {
            context: format!("{}: {}", path.display(), e.context),
            message: e.message,
        })
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&TableSchema> {
        self.tables.get(name)
    }

    /// The schema as JSON, in the form ovsdb-server serves it.
    pub fn to_json(&self) -> Value {
        let explicit_roots = self.tables.values().any(|t| !t.is_root);
        let mut tables = Map::new();
        for t in self.tables.values() {
            let mut tm = Map::new();
            let mut cols = Map::new();
            for c in t.columns.values() {
                let mut cm = Map::new();
                cm.insert("type".into(), c.ty.to_json());
                if c.ephemeral {
                    cm.insert("ephemeral".into(), true.into());
                }
                if !c.mutable {
                    cm.insert("mutable".into(), false.into());
                }
                cols.insert(c.name.clone(), Value::Object(cm));
            }
            tm.insert("columns".into(), Value::Object(cols));
            if let Some(n) = t.max_rows {
                tm.insert("maxRows".into(), n.into());
            }
            if t.is_root && explicit_roots {
                tm.insert("isRoot".into(), true.into());
            }
            if !t.indexes.is_empty() {
                tm.insert(
                    "indexes".into(),
                    serde_json::to_value(&t.indexes).unwrap_or_default(),
                );
            }
            tables.insert(t.name.clone(), Value::Object(tm));
        }
        let mut m = Map::new();
        m.insert("name".into(), self.name.clone().into());
        m.insert("version".into(), self.version.clone().into());
        if let Some(c) = &self.cksum {
            m.insert("cksum".into(), c.clone().into());
        }
        m.insert("tables".into(), Value::Object(tables));
        Value::Object(m)
    }
}

fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_table(name: &str, v: &Value) -> Result<TableSchema, SchemaError> {
    let ctx = format!("table {name}");
    if !is_id(name) || name.starts_with('_') {
        return err(&ctx, "invalid table name");
    }
    let m = object(v, &ctx, "a table schema")?;
    check_members(m, &ctx, &["columns", "maxRows", "isRoot", "indexes", "doc"])?;
    let cols_json = match m.get("columns") {
        Some(c) => object(c, &ctx, "\"columns\"")?,
        None => return err(&ctx, "missing \"columns\""),
    };
    let mut columns = BTreeMap::new();
    for (cname, cv) in cols_json {
        let cctx = format!("table {name} column {cname}");
        if !is_id(cname) || cname.starts_with('_') {
            return err(&cctx, "invalid column name");
        }
        let cm = object(cv, &cctx, "a column schema")?;
        check_members(cm, &cctx, &["type", "ephemeral", "mutable", "doc"])?;
        let ty = match cm.get("type") {
            Some(t) => ColumnType::from_json(t, &cctx)?,
            None => return err(&cctx, "missing \"type\""),
        };
        columns.insert(
            cname.clone(),
            ColumnSchema {
                name: cname.clone(),
                ty,
                ephemeral: opt_bool(cm, "ephemeral", &cctx)?.unwrap_or(false),
                mutable: opt_bool(cm, "mutable", &cctx)?.unwrap_or(true),
            },
        );
    }
    let max_rows = opt_u64(m, "maxRows", &ctx)?;
    if max_rows == Some(0) {
        return err(&ctx, "maxRows must be at least 1");
    }
    let mut indexes = Vec::new();
    if let Some(iv) = m.get("indexes") {
        let Some(list) = iv.as_array() else {
            return err(&ctx, "indexes must be an array of arrays of column names");
        };
        for index in list {
            let Some(cols) = index.as_array() else {
                return err(&ctx, "each index must be an array of column names");
            };
            let mut names = Vec::new();
            for c in cols {
                match c.as_str() {
                    Some(c) if columns.contains_key(c) || c == "_uuid" => names.push(c.to_string()),
                    Some(c) => return err(&ctx, format!("index names unknown column {c:?}")),
                    None => return err(&ctx, "index column names must be strings"),
                }
            }
            if names.is_empty() {
                return err(&ctx, "an index must name at least one column");
            }
            indexes.push(names);
        }
    }
    Ok(TableSchema {
        name: name.to_string(),
        columns,
        max_rows,
        is_root: opt_bool(m, "isRoot", &ctx)?.unwrap_or(false),
        indexes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{nb_schema, sb_schema, server_schema, vswitch_schema};
    use serde_json::json;

    #[test]
    fn schema_json_round_trips() {
        for s in [nb_schema(), sb_schema(), vswitch_schema(), server_schema()] {
            assert_eq!(&DatabaseSchema::from_json(&s.to_json()).unwrap(), s);
        }
    }

    #[test]
    fn errors_name_table_and_column() {
        let bad = |cols: Value| json!({"name": "D", "version": "1.0.0", "tables": {"T": {"columns": cols}}});
        let e = DatabaseSchema::from_json(&bad(json!({"c": {"type": "blob"}}))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "table T column c: unknown atomic type \"blob\""
        );
        let e = DatabaseSchema::from_json(&bad(
            json!({"c": {"type": {"key": {"type": "uuid", "refTable": "X"}}}}),
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("table T column c: refTable \"X\""),
            "{e}"
        );
        let e = DatabaseSchema::from_json(&bad(
            json!({"c": {"type": {"key": "integer", "min": 1, "max": 0}}}),
        ))
        .unwrap_err();
        assert!(
            e.to_string().starts_with("table T column c: max must be"),
            "{e}"
        );
        let e = DatabaseSchema::from_json(&bad(
            json!({"c": {"type": {"key": {"type": "integer", "minInteger": 5, "maxInteger": 1}}}}),
        ))
        .unwrap_err();
        assert!(
            e.to_string().contains("minInteger 5 exceeds maxInteger 1"),
            "{e}"
        );
        assert!(DatabaseSchema::from_str("{").is_err());
    }
}
