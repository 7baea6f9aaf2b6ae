//! RFC 7047 atoms: the scalar values every OVSDB column is built from.
//!
//! JSON forms (RFC 7047 §5.1): integers and reals are JSON numbers, booleans
//! are JSON booleans, strings are JSON strings, UUIDs are `["uuid", "…"]` and
//! named UUIDs (transaction-local names) are `["named-uuid", "…"]`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde_json::Value;
pub use uuid::Uuid;

/// The five atomic types of RFC 7047 (`"integer"`, `"real"`, `"boolean"`, `"string"`, `"uuid"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AtomType {
    /// 64-bit signed integer.
    Integer,
    /// IEEE 754 double.
    Real,
    /// `true` or `false`.
    Boolean,
    /// UTF-8 string.
    String,
    /// A row reference or plain UUID.
    Uuid,
}

impl AtomType {
    /// The schema spelling of this type (`"integer"`, `"real"`…).
    pub fn name(self) -> &'static str {
        match self {
            AtomType::Integer => "integer",
            AtomType::Real => "real",
            AtomType::Boolean => "boolean",
            AtomType::String => "string",
            AtomType::Uuid => "uuid",
        }
    }

    /// Parses the schema spelling of an atomic type.
    pub fn from_name(name: &str) -> Option<AtomType> {
        Some(match name {
            "integer" => AtomType::Integer,
            "real" => AtomType::Real,
            "boolean" => AtomType::Boolean,
            "string" => AtomType::String,
            "uuid" => AtomType::Uuid,
            _ => return None,
        })
    }

    /// The default atom of this type, as ovsdb-server fills new rows (0, 0.0, false, "", all-zero UUID).
    pub fn default_atom(self) -> Atom {
        match self {
            AtomType::Integer => Atom::Integer(0),
            AtomType::Real => Atom::Real(Real(0.0)),
            AtomType::Boolean => Atom::Boolean(false),
            AtomType::String => Atom::String(String::new()),
            AtomType::Uuid => Atom::Uuid(Uuid::nil()),
        }
    }
}

impl fmt::Display for AtomType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An `f64` with a total order, so that reals can live in sets and map keys
/// (OVSDB orders reals numerically; NaN never occurs in valid data).
#[derive(Clone, Copy, Debug)]
pub struct Real(pub f64);

impl PartialEq for Real {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Real {}
impl PartialOrd for Real {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Real {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl Hash for Real {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state)
    }
}

/// One OVSDB atom.
///
/// `NamedUuid` only appears inside transactions (RFC 7047 §5.1 `<named-uuid>`);
/// the server replaces it with the UUID of the row inserted under that name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Atom {
    /// An integer.
    Integer(i64),
    /// A real.
    Real(Real),
    /// A boolean.
    Boolean(bool),
    /// A string.
    String(String),
    /// A UUID.
    Uuid(Uuid),
    /// A transaction-local row name, `["named-uuid", NAME]`.
    NamedUuid(String),
}

/// Why a JSON value is not an atom of the expected type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AtomError {
    /// The JSON value has the wrong shape for the expected type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What was expected, e.g. `integer`.
        expected: String,
        /// A short rendering of what was found.
        found: String,
    },
    /// A `["uuid", S]` whose string is not a UUID.
    #[error("invalid UUID {0:?}")]
    BadUuid(String),
    /// A `["named-uuid", S]` whose name is not an identifier.
    #[error("invalid named-uuid {0:?}")]
    BadName(String),
}

/// A short, bounded rendering of a JSON value for error messages.
pub(crate) fn json_snippet(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn wrong(expected: &str, found: &Value) -> AtomError {
    AtomError::WrongType {
        expected: expected.to_string(),
        found: json_snippet(found),
    }
}

/// RFC 7047 `<id>`: a letter or `_` followed by letters, digits and `_`.
pub fn is_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Atom {
    /// The atomic type of this atom (`NamedUuid` is a `Uuid`).
    pub fn atom_type(&self) -> AtomType {
        match self {
            Atom::Integer(_) => AtomType::Integer,
            Atom::Real(_) => AtomType::Real,
            Atom::Boolean(_) => AtomType::Boolean,
            Atom::String(_) => AtomType::String,
            Atom::Uuid(_) | Atom::NamedUuid(_) => AtomType::Uuid,
        }
    }

    /// Parses a JSON atom of a known type. Integers are accepted where reals
    /// are expected, as ovsdb-server does.
    pub fn from_json(v: &Value, ty: AtomType) -> Result<Atom, AtomError> {
        match ty {
            AtomType::Integer => match v.as_i64() {
                Some(i) => Ok(Atom::Integer(i)),
                None => Err(wrong("integer", v)),
            },
            AtomType::Real => match v {
                Value::Number(n) => n
                    .as_f64()
                    .map(|f| Atom::Real(Real(f)))
                    .ok_or_else(|| wrong("real", v)),
                _ => Err(wrong("real", v)),
            },
            AtomType::Boolean => v
                .as_bool()
                .map(Atom::Boolean)
                .ok_or_else(|| wrong("boolean", v)),
            AtomType::String => v
                .as_str()
                .map(|s| Atom::String(s.to_string()))
                .ok_or_else(|| wrong("string", v)),
            AtomType::Uuid => Self::uuid_from_json(v).ok_or_else(|| wrong("uuid", v))?,
        }
    }

    /// Parses `["uuid", S]` or `["named-uuid", S]`; `None` if `v` has neither shape.
    fn uuid_from_json(v: &Value) -> Option<Result<Atom, AtomError>> {
        let arr = v.as_array()?;
        if arr.len() != 2 {
            return None;
        }
        let s = arr[1].as_str()?;
        match arr[0].as_str()? {
            "uuid" => Some(
                Uuid::parse_str(s)
                    .ok()
                    .filter(|_| s.len() == 36)
                    .map(Atom::Uuid)
                    .ok_or_else(|| AtomError::BadUuid(s.to_string())),
            ),
            "named-uuid" => Some(if is_id(s) {
                Ok(Atom::NamedUuid(s.to_string()))
            } else {
                Err(AtomError::BadName(s.to_string()))
            }),
            _ => None,
        }
    }

    /// Parses a JSON atom without knowing its type: numbers without a
    /// fraction or exponent are integers, other numbers reals.
    pub fn from_json_untyped(v: &Value) -> Result<Atom, AtomError> {
        match v {
            Value::Number(n) => Ok(match n.as_i64() {
                Some(i) => Atom::Integer(i),
                None => Atom::Real(Real(n.as_f64().ok_or_else(|| wrong("atom", v))?)),
            }),
            Value::Bool(b) => Ok(Atom::Boolean(*b)),
            Value::String(s) => Ok(Atom::String(s.clone())),
            Value::Array(_) => Self::uuid_from_json(v).ok_or_else(|| wrong("atom", v))?,
            _ => Err(wrong("atom", v)),
        }
    }

    /// The RFC 7047 JSON form of this atom.
    pub fn to_json(&self) -> Value {
        match self {
            Atom::Integer(i) => Value::from(*i),
            Atom::Real(r) => serde_json::Number::from_f64(r.0)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Atom::Boolean(b) => Value::Bool(*b),
            Atom::String(s) => Value::String(s.clone()),
            Atom::Uuid(u) => Value::Array(vec!["uuid".into(), u.to_string().into()]),
            Atom::NamedUuid(n) => Value::Array(vec!["named-uuid".into(), n.clone().into()]),
        }
    }

    /// The string, if this is a string atom.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Atom::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer atom.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The real, if this is a real or integer atom.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Atom::Real(r) => Some(r.0),
            Atom::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean atom.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Atom::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The UUID, if this is a (resolved) UUID atom.
    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            Atom::Uuid(u) => Some(*u),
            _ => None,
        }
    }
}

impl fmt::Display for Atom {
    /// Human-readable form in the style of `ovsdb-client dump` text output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Integer(i) => write!(f, "{i}"),
            Atom::Real(r) => write!(f, "{}", r.0),
            Atom::Boolean(b) => write!(f, "{b}"),
            Atom::String(s) => write!(f, "{s:?}"),
            Atom::Uuid(u) => write!(f, "{u}"),
            Atom::NamedUuid(n) => write!(f, "@{n}"),
        }
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Atom {
        Atom::String(s.to_string())
    }
}
impl From<String> for Atom {
    fn from(s: String) -> Atom {
        Atom::String(s)
    }
}
impl From<i64> for Atom {
    fn from(i: i64) -> Atom {
        Atom::Integer(i)
    }
}
impl From<bool> for Atom {
    fn from(b: bool) -> Atom {
        Atom::Boolean(b)
    }
}
impl From<f64> for Atom {
    fn from(r: f64) -> Atom {
        Atom::Real(Real(r))
    }
}
impl From<Uuid> for Atom {
    fn from(u: Uuid) -> Atom {
        Atom::Uuid(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_json_round_trip() {
        let u = Uuid::new_v4();
        for (atom, ty) in [
            (Atom::Integer(-5), AtomType::Integer),
            (Atom::Real(Real(1.5)), AtomType::Real),
            (Atom::Boolean(true), AtomType::Boolean),
            (Atom::from("a\"b"), AtomType::String),
            (Atom::Uuid(u), AtomType::Uuid),
            (Atom::NamedUuid("row_1".into()), AtomType::Uuid),
        ] {
            assert_eq!(Atom::from_json(&atom.to_json(), ty).unwrap(), atom);
            assert_eq!(Atom::from_json_untyped(&atom.to_json()).unwrap(), atom);
        }
    }

    #[test]
    fn integers_are_accepted_as_reals_but_not_the_reverse() {
        assert_eq!(
            Atom::from_json(&json!(3), AtomType::Real).unwrap(),
            Atom::Real(Real(3.0))
        );
        assert!(Atom::from_json(&json!(3.5), AtomType::Integer).is_err());
    }

    #[test]
    fn malformed_uuids_are_errors() {
        assert_eq!(
            Atom::from_json(&json!(["uuid", "nope"]), AtomType::Uuid),
            Err(AtomError::BadUuid("nope".into()))
        );
        assert!(Atom::from_json(&json!(["named-uuid", "1x"]), AtomType::Uuid).is_err());
        assert!(Atom::from_json(&json!(["set", []]), AtomType::Uuid).is_err());
        assert!(Atom::from_json_untyped(&json!(null)).is_err());
    }
}
