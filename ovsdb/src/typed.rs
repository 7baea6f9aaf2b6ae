//! Typed rows: one Rust struct per table, generated from the bundled
//! schemas by `build.rs` (modules [`crate::nb`], [`crate::sb`],
//! [`crate::vswitch`], [`crate::server`]), and the conversions they use.
//!
//! Conventions: the struct is named after the table in UpperCamelCase
//! (`Logical_Switch_Port` → `LogicalSwitchPort`, `ACL` → `Acl`); it has a
//! `uuid` field and one field per column, named after the column (Rust
//! keywords get a trailing underscore: `type_`, `match_`). A column of
//! exactly one value is the value's type (`i64`, `f64`, `bool`, `String`,
//! `Uuid`), an optional column (0 or 1 value) an `Option`, a set a sorted
//! `Vec` and a map a `BTreeMap`. Enumerations stay strings.

use std::collections::BTreeMap;

use crate::atom::{Atom, Uuid};
use crate::datum::{Datum, Row};

/// A row of a known table, convertible from and to a generic [`Row`].
pub trait TypedRow: Sized {
    /// The table name.
    const TABLE: &'static str;
    /// The column names.
    const COLUMNS: &'static [&'static str];
    /// Converts a generic row; missing columns take their schema default.
    fn from_row(uuid: Uuid, row: &Row) -> Result<Self, TypedError>;
    /// The generic row (every column).
    fn to_row(&self) -> Row;
    /// The row's UUID.
    fn uuid(&self) -> Uuid;
}

/// A datum that does not fit its column's Rust type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("table {table} row {row} column {column}: {message}")]
pub struct TypedError {
    /// The table.
    pub table: &'static str,
    /// The row.
    pub row: Uuid,
    /// The column.
    pub column: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Atom types that typed rows use.
pub trait AtomValue: Sized {
    /// Converts an atom, if it has this type.
    fn from_atom(a: &Atom) -> Option<Self>;
    /// The atom.
    fn to_atom(&self) -> Atom;
}

impl AtomValue for i64 {
    fn from_atom(a: &Atom) -> Option<Self> {
        a.as_i64()
    }
    fn to_atom(&self) -> Atom {
        Atom::Integer(*self)
    }
}
impl AtomValue for f64 {
    fn from_atom(a: &Atom) -> Option<Self> {
        a.as_f64()
    }
    fn to_atom(&self) -> Atom {
        Atom::from(*self)
    }
}
impl AtomValue for bool {
    fn from_atom(a: &Atom) -> Option<Self> {
        a.as_bool()
    }
    fn to_atom(&self) -> Atom {
        Atom::Boolean(*self)
    }
}
impl AtomValue for String {
    fn from_atom(a: &Atom) -> Option<Self> {
        a.as_str().map(str::to_string)
    }
    fn to_atom(&self) -> Atom {
        Atom::String(self.clone())
    }
}
impl AtomValue for Uuid {
    fn from_atom(a: &Atom) -> Option<Self> {
        a.as_uuid()
    }
    fn to_atom(&self) -> Atom {
        Atom::Uuid(*self)
    }
}

fn atom<T: AtomValue>(a: &Atom) -> Result<T, String> {
    T::from_atom(a).ok_or_else(|| format!("unexpected value {a}"))
}

/// Exactly one value.
pub fn scalar<T: AtomValue>(d: &Datum) -> Result<T, String> {
    match d.atoms() {
        [a] if !d.is_map() => atom(a),
        _ => Err(format!("expected exactly one value, found {d}")),
    }
}

/// Zero or one value.
pub fn optional<T: AtomValue>(d: &Datum) -> Result<Option<T>, String> {
    match d {
        Datum::Set(s) if s.is_empty() => Ok(None),
        Datum::Map(m) if m.is_empty() => Ok(None),
        Datum::Set(s) if s.len() == 1 => atom(&s[0]).map(Some),
        _ => Err(format!("expected at most one value, found {d}")),
    }
}

/// A set.
pub fn set<T: AtomValue>(d: &Datum) -> Result<Vec<T>, String> {
    match d {
        Datum::Set(s) => s.iter().map(atom).collect(),
        Datum::Map(m) if m.is_empty() => Ok(Vec::new()),
        Datum::Map(_) => Err(format!("expected a set, found {d}")),
    }
}

/// A map.
pub fn map<K: AtomValue + Ord, V: AtomValue>(d: &Datum) -> Result<BTreeMap<K, V>, String> {
    match d {
        Datum::Map(m) => m.iter().map(|(k, v)| Ok((atom(k)?, atom(v)?))).collect(),
        Datum::Set(s) if s.is_empty() => Ok(BTreeMap::new()),
        Datum::Set(_) => Err(format!("expected a map, found {d}")),
    }
}

/// The datum of a scalar.
pub fn from_scalar<T: AtomValue>(v: &T) -> Datum {
    Datum::Set(vec![v.to_atom()])
}

/// The datum of an optional value.
pub fn from_optional<T: AtomValue>(v: &Option<T>) -> Datum {
    Datum::Set(v.iter().map(T::to_atom).collect())
}

/// The datum of a set.
pub fn from_set<T: AtomValue>(v: &[T]) -> Datum {
    Datum::set(v.iter().map(T::to_atom))
}

/// The datum of a map.
pub fn from_map<K: AtomValue, V: AtomValue>(v: &BTreeMap<K, V>) -> Datum {
    Datum::map(v.iter().map(|(k, x)| (k.to_atom(), x.to_atom())))
}

/// Looks a column up, or takes the default of its type.
pub fn column<'a>(row: &'a Row, name: &str, default: &'a Datum) -> &'a Datum {
    row.get(name).unwrap_or(default)
}
