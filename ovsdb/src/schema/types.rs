//! Base types and column types (RFC 7047 §3.2 `<base-type>`, `<type>`):
//! parsed from and printed to their JSON forms, with ovsdb-server's
//! constraints and column defaults.

use serde_json::{Map, Value};

use super::members::{check_members, err, object, opt_f64, opt_i64, opt_u64};
use super::{BaseType, ColumnType, RefType, SchemaError};
use crate::atom::{json_snippet, AtomType};
use crate::datum::{Datum, DatumError};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::nb_schema;

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
