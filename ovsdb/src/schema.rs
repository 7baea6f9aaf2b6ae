//! Database schemas: `.ovsschema` files (RFC 7047 §3.2) with ovsdb-server's
//! extensions (`"unlimited"` maxima, string/integer/real ranges, `enum`,
//! `refTable`/`refType`, `isRoot`, `maxRows`, `indexes`, `ephemeral`,
//! `mutable`, `cksum`).
//!
//! The four schemas OVN tools need are bundled: [`nb_schema`],
//! [`sb_schema`], [`vswitch_schema`] and [`server_schema`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::atom::{is_id, json_snippet, Atom, AtomType};
use crate::datum::{Datum, DatumError};

/// A whole database schema.
#[derive(Clone, Debug, PartialEq)]
pub struct DatabaseSchema {
    /// The database name, e.g. `OVN_Northbound`.
    pub name: String,
    /// The schema version, `x.y.z`.
    pub version: String,
    /// The checksum ovsdb-tool writes, if present.
    pub cksum: Option<String>,
    /// Tables by name.
    pub tables: BTreeMap<String, TableSchema>,
}

/// One table's schema.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSchema {
    /// The table name.
    pub name: String,
    /// Columns by name (without the implicit `_uuid` and `_version`).
    pub columns: BTreeMap<String, ColumnSchema>,
    /// The maximum number of rows, if limited.
    pub max_rows: Option<u64>,
    /// True for root tables: their rows live without being referenced.
    /// When no table of a schema says `isRoot`, every table is a root
    /// (RFC 7047 §3.2, for schemas older than `isRoot`).
    pub is_root: bool,
    /// Unique indexes, each a list of column names.
    pub indexes: Vec<Vec<String>>,
}

/// One column's schema.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSchema {
    /// The column name.
    pub name: String,
    /// The column type.
    pub ty: ColumnType,
    /// Ephemeral columns are not written to disk by ovsdb-server.
    pub ephemeral: bool,
    /// False if the column may only be set on insert.
    pub mutable: bool,
}

/// A column type: a set of `key` atoms, or a map from `key` to `value`,
/// with between `min` and `max` elements.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnType {
    /// The element (or map key) type.
    pub key: BaseType,
    /// The map value type; `None` for sets and scalars.
    pub value: Option<BaseType>,
    /// The minimum number of elements (0 or 1).
    pub min: u64,
    /// The maximum number of elements; `None` is `"unlimited"`.
    pub max: Option<u64>,
}

/// An atomic type with its constraints.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseType {
    /// The atomic type.
    pub atom: AtomType,
    /// The allowed values, if the type is an enumeration.
    pub enum_values: Option<Vec<Atom>>,
    /// Integer lower bound.
    pub min_integer: Option<i64>,
    /// Integer upper bound.
    pub max_integer: Option<i64>,
    /// Real lower bound.
    pub min_real: Option<f64>,
    /// Real upper bound.
    pub max_real: Option<f64>,
    /// Minimum string length (in bytes).
    pub min_length: Option<u64>,
    /// Maximum string length (in bytes).
    pub max_length: Option<u64>,
    /// For UUIDs: the table the UUID refers to.
    pub ref_table: Option<String>,
    /// For references: strong or weak.
    pub ref_type: RefType,
}

/// How a reference constrains its target (RFC 7047 §3.2 `refType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefType {
    /// The referenced row must exist; it is kept alive by the reference.
    Strong,
    /// References to deleted rows are silently removed.
    Weak,
}

/// What is wrong with a schema. The message names the table and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{context}: {message}")]
pub struct SchemaError {
    /// Where: the file, table and column as far as known.
    pub context: String,
    /// What is wrong.
    pub message: String,
}

fn err<T>(context: &str, message: impl Into<String>) -> Result<T, SchemaError> {
    Err(SchemaError {
        context: context.to_string(),
        message: message.into(),
    })
}

fn object<'a>(v: &'a Value, ctx: &str, what: &str) -> Result<&'a Map<String, Value>, SchemaError> {
    match v.as_object() {
        Some(m) => Ok(m),
        None => err(
            ctx,
            format!("{what} must be a JSON object, found {}", json_snippet(v)),
        ),
    }
}

fn check_members(m: &Map<String, Value>, ctx: &str, allowed: &[&str]) -> Result<(), SchemaError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => err(ctx, format!("unknown member {k:?}")),
        None => Ok(()),
    }
}

fn opt_u64(m: &Map<String, Value>, key: &str, ctx: &str) -> Result<Option<u64>, SchemaError> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) => Ok(Some(n)),
            None => err(
                ctx,
                format!(
                    "{key} must be a non-negative integer, found {}",
                    json_snippet(v)
                ),
            ),
        },
    }
}

fn opt_i64(m: &Map<String, Value>, key: &str, ctx: &str) -> Result<Option<i64>, SchemaError> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) => Ok(Some(n)),
            None => err(
                ctx,
                format!("{key} must be an integer, found {}", json_snippet(v)),
            ),
        },
    }
}

fn opt_f64(m: &Map<String, Value>, key: &str, ctx: &str) -> Result<Option<f64>, SchemaError> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) => Ok(Some(n)),
            None => err(
                ctx,
                format!("{key} must be a number, found {}", json_snippet(v)),
            ),
        },
    }
}

fn opt_bool(m: &Map<String, Value>, key: &str, ctx: &str) -> Result<Option<bool>, SchemaError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => err(
            ctx,
            format!("{key} must be a boolean, found {}", json_snippet(v)),
        ),
    }
}

impl BaseType {
    /// An unconstrained base type.
    pub fn plain(atom: AtomType) -> BaseType {
        BaseType {
            atom,
            enum_values: None,
            min_integer: None,
            max_integer: None,
            min_real: None,
            max_real: None,
            min_length: None,
            max_length: None,
            ref_table: None,
            ref_type: RefType::Strong,
        }
    }

    /// Parses `"string"` or `{"type": "string", "enum": …, …}`.
    pub fn from_json(v: &Value, ctx: &str) -> Result<BaseType, SchemaError> {
        if let Some(name) = v.as_str() {
            return match AtomType::from_name(name) {
                Some(t) => Ok(BaseType::plain(t)),
                None => err(ctx, format!("unknown atomic type {name:?}")),
            };
        }
        let m = object(v, ctx, "base type")?;
        check_members(
            m,
            ctx,
            &[
                "type",
                "enum",
                "minInteger",
                "maxInteger",
                "minReal",
                "maxReal",
                "minLength",
                "maxLength",
                "refTable",
                "refType",
            ],
        )?;
        let atom = match m.get("type").and_then(Value::as_str) {
            Some(name) => match AtomType::from_name(name) {
                Some(t) => t,
                None => return err(ctx, format!("unknown atomic type {name:?}")),
            },
            None => return err(ctx, "base type has no \"type\" string"),
        };
        let mut b = BaseType::plain(atom);
        if let Some(e) = m.get("enum") {
            let d = Datum::from_json(e, atom, None).map_err(|e| SchemaError {
                context: ctx.into(),
                message: format!("bad enum: {e}"),
            })?;
            b.enum_values = Some(d.atoms().to_vec());
        }
        let only_for = |key: &str, t: AtomType| -> Result<(), SchemaError> {
            if m.contains_key(key) && atom != t {
                return err(
                    ctx,
                    format!("{key} is only allowed for {t} types, not {atom}"),
                );
            }
            Ok(())
        };
        for (key, t) in [
            ("minInteger", AtomType::Integer),
            ("maxInteger", AtomType::Integer),
            ("minReal", AtomType::Real),
            ("maxReal", AtomType::Real),
            ("minLength", AtomType::String),
            ("maxLength", AtomType::String),
            ("refTable", AtomType::Uuid),
            ("refType", AtomType::Uuid),
        ] {
            only_for(key, t)?;
        }
        b.min_integer = opt_i64(m, "minInteger", ctx)?;
        b.max_integer = opt_i64(m, "maxInteger", ctx)?;
        b.min_real = opt_f64(m, "minReal", ctx)?;
        b.max_real = opt_f64(m, "maxReal", ctx)?;
        b.min_length = opt_u64(m, "minLength", ctx)?;
        b.max_length = opt_u64(m, "maxLength", ctx)?;
        if let (Some(lo), Some(hi)) = (b.min_integer, b.max_integer) {
            if lo > hi {
                return err(ctx, format!("minInteger {lo} exceeds maxInteger {hi}"));
            }
        }
        if let (Some(lo), Some(hi)) = (b.min_real, b.max_real) {
            if lo > hi {
                return err(ctx, format!("minReal {lo} exceeds maxReal {hi}"));
            }
        }
        if let (Some(lo), Some(hi)) = (b.min_length, b.max_length) {
            if lo > hi {
                return err(ctx, format!("minLength {lo} exceeds maxLength {hi}"));
            }
        }
        match m.get("refTable") {
            None => {}
            Some(Value::String(t)) => b.ref_table = Some(t.clone()),
            Some(v) => {
                return err(
                    ctx,
                    format!("refTable must be a string, found {}", json_snippet(v)),
                )
            }
        }
        match m.get("refType").map(|v| v.as_str()) {
            None => {}
            Some(Some("strong")) => b.ref_type = RefType::Strong,
            Some(Some("weak")) => b.ref_type = RefType::Weak,
            Some(_) => return err(ctx, "refType must be \"strong\" or \"weak\""),
        }
        // Like ovsdb-server, a refType without a refTable means nothing.
        if b.ref_table.is_none() {
            b.ref_type = RefType::Strong;
        }
        Ok(b)
    }

    /// The schema JSON of this base type (bare type name when unconstrained).
    pub fn to_json(&self) -> Value {
        if *self == BaseType::plain(self.atom) {
            return Value::String(self.atom.name().into());
        }
        let mut m = Map::new();
        m.insert("type".into(), self.atom.name().into());
        if let Some(e) = &self.enum_values {
            m.insert("enum".into(), Datum::Set(e.clone()).to_json());
        }
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put("minInteger", self.min_integer.map(Value::from));
        put("maxInteger", self.max_integer.map(Value::from));
        put("minReal", self.min_real.map(Value::from));
        put("maxReal", self.max_real.map(Value::from));
        put("minLength", self.min_length.map(Value::from));
        put("maxLength", self.max_length.map(Value::from));
        put("refTable", self.ref_table.clone().map(Value::from));
        if self.ref_table.is_some() {
            let t = match self.ref_type {
                RefType::Strong => "strong",
                RefType::Weak => "weak",
            };
            m.insert("refType".into(), t.into());
        }
        Value::Object(m)
    }
}

impl ColumnType {
    /// A scalar column of an unconstrained atomic type.
    pub fn scalar(atom: AtomType) -> ColumnType {
        ColumnType {
            key: BaseType::plain(atom),
            value: None,
            min: 1,
            max: Some(1),
        }
    }

    /// Parses a column type: an atomic type name or `{"key": …, "value": …, "min": …, "max": …}`.
    pub fn from_json(v: &Value, ctx: &str) -> Result<ColumnType, SchemaError> {
        if v.is_string() {
            return Ok(ColumnType {
                key: BaseType::from_json(v, ctx)?,
                value: None,
                min: 1,
                max: Some(1),
            });
        }
        let m = object(v, ctx, "column type")?;
        check_members(m, ctx, &["key", "value", "min", "max"])?;
        let key = match m.get("key") {
            Some(k) => BaseType::from_json(k, ctx)?,
            None => return err(ctx, "column type has no \"key\""),
        };
        let value = m
            .get("value")
            .map(|v| BaseType::from_json(v, ctx))
            .transpose()?;
        let min = opt_u64(m, "min", ctx)?.unwrap_or(1);
        let max = match m.get("max") {
            None => Some(1),
            Some(Value::String(s)) if s == "unlimited" => None,
            Some(v) => match v.as_u64() {
                Some(n) if n >= 1 => Some(n),
                _ => {
                    return err(
                        ctx,
                        format!(
                            "max must be a positive integer or \"unlimited\", found {}",
                            json_snippet(v)
                        ),
                    )
                }
            },
        };
        if min > 1 {
            return err(ctx, format!("min must be 0 or 1, found {min}"));
        }
        if let Some(max) = max {
            if min > max {
                return err(ctx, format!("min {min} exceeds max {max}"));
            }
        }
        Ok(ColumnType {
            key,
            value,
            min,
            max,
        })
    }

    /// The schema JSON of this type (bare type name for plain scalars).
    pub fn to_json(&self) -> Value {
        if self.value.is_none()
            && self.min == 1
            && self.max == Some(1)
            && self.key == BaseType::plain(self.key.atom)
        {
            return self.key.to_json();
        }
        let mut m = Map::new();
        m.insert("key".into(), self.key.to_json());
        if let Some(v) = &self.value {
            m.insert("value".into(), v.to_json());
        }
        if self.min != 1 {
            m.insert("min".into(), self.min.into());
        }
        match self.max {
            Some(1) => {}
            Some(n) => {
                m.insert("max".into(), n.into());
            }
            None => {
                m.insert("max".into(), "unlimited".into());
            }
        }
        Value::Object(m)
    }

    /// True for map columns.
    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }

    /// True for a column holding exactly one atom.
    pub fn is_scalar(&self) -> bool {
        self.value.is_none() && self.min == 1 && self.max == Some(1)
    }

    /// True for a column holding zero or one atom.
    pub fn is_optional(&self) -> bool {
        self.value.is_none() && self.min == 0 && self.max == Some(1)
    }

    /// The value ovsdb-server gives a column that an insert leaves out:
    /// the type's default atom (0, 0.0, false, "", all-zero UUID) when at
    /// least one element is required, otherwise the empty set or map.
    pub fn default_datum(&self) -> Datum {
        match (&self.value, self.min) {
            (None, 0) => Datum::empty_set(),
            (None, _) => Datum::Set(vec![self.key.atom.default_atom()]),
            (Some(_), 0) => Datum::empty_map(),
            (Some(v), _) => Datum::Map(vec![(self.key.atom.default_atom(), v.atom.default_atom())]),
        }
    }

    /// Parses a JSON datum of this type (shape and atom types only; see
    /// [`crate::validate`] for constraints).
    pub fn parse_datum(&self, v: &Value) -> Result<Datum, DatumError> {
        Datum::from_json(v, self.key.atom, self.value.as_ref().map(|b| b.atom))
    }
}

impl TableSchema {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.get(name)
    }
}

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

macro_rules! bundled {
    ($fn:ident, $file:literal, $doc:literal) => {
        #[doc = $doc]
        pub fn $fn() -> &'static DatabaseSchema {
            static S: OnceLock<DatabaseSchema> = OnceLock::new();
            S.get_or_init(|| {
                DatabaseSchema::from_str(include_str!(concat!("../schemas/", $file)))
                    .expect(concat!("bundled schema ", $file, " parses"))
            })
        }
    };
}

bundled!(
    nb_schema,
    "ovn-nb.ovsschema",
    "The OVN_Northbound schema of OVN 23.03 (version 7.0.0)."
);
bundled!(
    sb_schema,
    "ovn-sb.ovsschema",
    "The OVN_Southbound schema of OVN 23.03 (version 20.27.0)."
);
bundled!(
    vswitch_schema,
    "vswitch.ovsschema",
    "The Open_vSwitch schema of OVS 3.1."
);
bundled!(
    server_schema,
    "_server.ovsschema",
    "The `_Server` schema served by ovsdb-server 3.1."
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bundled_schemas_parse_with_their_facts() {
        let nb = nb_schema();
        assert_eq!(
            (nb.name.as_str(), nb.version.as_str()),
            ("OVN_Northbound", "7.0.0")
        );
        let action = &nb.table("ACL").unwrap().column("action").unwrap().ty;
        assert!(action
            .key
            .enum_values
            .as_ref()
            .unwrap()
            .contains(&Atom::from("allow-related")));
        let ports = &nb
            .table("Logical_Switch")
            .unwrap()
            .column("ports")
            .unwrap()
            .ty;
        assert_eq!((ports.min, ports.max), (0, None));
        assert_eq!(ports.key.ref_table.as_deref(), Some("Logical_Switch_Port"));
        assert!(nb.table("NB_Global").unwrap().is_root);
        assert!(!nb.table("ACL").unwrap().is_root);
        assert_eq!(sb_schema().version, "20.27.0");
        assert_eq!(server_schema().name, "_Server");
        assert!(
            server_schema().table("Database").unwrap().is_root,
            "no isRoot anywhere: all roots"
        );
        assert_eq!(vswitch_schema().name, "Open_vSwitch");
    }

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

    #[test]
    fn defaults_follow_ovsdb_server() {
        assert_eq!(
            ColumnType::scalar(AtomType::String).default_datum(),
            Datum::scalar("")
        );
        let opt = ColumnType {
            min: 0,
            ..ColumnType::scalar(AtomType::Integer)
        };
        assert_eq!(opt.default_datum(), Datum::empty_set());
        let ext = &nb_schema()
            .table("Logical_Switch")
            .unwrap()
            .column("external_ids")
            .unwrap()
            .ty;
        assert_eq!(ext.default_datum(), Datum::empty_map());
    }
}
