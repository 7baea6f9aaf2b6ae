//! RFC 7047 data: the value of one column, a set of atoms or a map between atoms.
//!
//! Every column value is a set or a map (a scalar column is a set of exactly
//! one atom). JSON forms (RFC 7047 §5.1): a set is `["set", [atom…]]`, except
//! that a set of exactly one atom is written as the bare atom; a map is
//! `["map", [[key, value]…]]`. ovsdb-server always writes one-element sets
//! bare, and so do we.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::atom::{json_snippet, Atom, AtomError, AtomType, Uuid};

/// One column value. Sets are kept sorted and free of duplicates; maps are
/// kept sorted by key with unique keys, so that equal data compare equal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Datum {
    /// A set of atoms (also the representation of scalars and optional values).
    Set(Vec<Atom>),
    /// A map from atoms to atoms.
    Map(Vec<(Atom, Atom)>),
}

/// Why a JSON value is not a datum of the expected type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DatumError {
    /// An element is not an atom of the expected type.
    #[error(transparent)]
    Atom(#[from] AtomError),
    /// The JSON shape is neither an atom, a set nor a map as expected.
    #[error("expected {expected}, found {found}")]
    Shape {
        /// What was expected.
        expected: &'static str,
        /// A short rendering of what was found.
        found: String,
    },
    /// A map lists the same key twice.
    #[error("map has duplicate key {0}")]
    DuplicateKey(String),
    /// A set lists the same element twice (ovsdb-server rejects this).
    #[error("set has duplicate element {0}")]
    DuplicateElement(String),
}

pub use crate::row::Row;

/// Column `column` of `row`, a missing column read as the empty set: how
/// the rows of a replica that leaves out empty columns
/// ([`crate::replica::Replica::omit_empty`]) are read.
pub fn column_or_empty<'r>(row: &'r Row, column: &str) -> &'r Datum {
    static EMPTY: Datum = Datum::Set(Vec::new());
    row.get(column).unwrap_or(&EMPTY)
}

impl Datum {
    /// The empty set.
    pub fn empty_set() -> Datum {
        Datum::Set(Vec::new())
    }

    /// The empty map.
    pub fn empty_map() -> Datum {
        Datum::Map(Vec::new())
    }

    /// A set of exactly one atom (a scalar value).
    pub fn scalar(a: impl Into<Atom>) -> Datum {
        Datum::Set(vec![a.into()])
    }

    /// A set from atoms in any order; duplicates collapse.
    pub fn set(atoms: impl IntoIterator<Item = Atom>) -> Datum {
        let mut v: Vec<Atom> = atoms.into_iter().collect();
        v.sort();
        v.dedup();
        Datum::Set(v)
    }

    /// A map from pairs in any order; for a repeated key the last value wins.
    pub fn map(pairs: impl IntoIterator<Item = (Atom, Atom)>) -> Datum {
        let m: BTreeMap<Atom, Atom> = pairs.into_iter().collect();
        Datum::Map(m.into_iter().collect())
    }

    /// A string-to-string map, the most common map in OVN (`external_ids`, `options`…).
    pub fn string_map<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Datum {
        Datum::map(
            pairs
                .into_iter()
                .map(|(k, v)| (Atom::String(k.into()), Atom::String(v.into()))),
        )
    }

    /// Number of elements (set) or pairs (map).
    pub fn len(&self) -> usize {
        match self {
            Datum::Set(s) => s.len(),
            Datum::Map(m) => m.len(),
        }
    }

    /// True if the set or map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether two values of one column are the same, an empty set and an
    /// empty map included (a column left out, [`column_or_empty`], is
    /// either).
    pub fn same_value(&self, other: &Datum) -> bool {
        self == other || (self.is_empty() && other.is_empty())
    }

    /// True for maps.
    pub fn is_map(&self) -> bool {
        matches!(self, Datum::Map(_))
    }

    /// The set's atoms (empty for a map).
    pub fn atoms(&self) -> &[Atom] {
        match self {
            Datum::Set(s) => s,
            Datum::Map(_) => &[],
        }
    }

    /// The map's pairs (empty for a set).
    pub fn pairs(&self) -> &[(Atom, Atom)] {
        match self {
            Datum::Map(m) => m,
            Datum::Set(_) => &[],
        }
    }

    /// The single atom of a one-element set.
    pub fn as_scalar(&self) -> Option<&Atom> {
        match self {
            Datum::Set(s) if s.len() == 1 => Some(&s[0]),
            _ => None,
        }
    }

    /// The string of a one-element string set.
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().and_then(Atom::as_str)
    }

    /// The integer of a one-element integer set.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_scalar().and_then(Atom::as_i64)
    }

    /// The boolean of a one-element boolean set.
    pub fn as_bool(&self) -> Option<bool> {
        self.as_scalar().and_then(Atom::as_bool)
    }

    /// The UUID of a one-element UUID set.
    pub fn as_uuid(&self) -> Option<Uuid> {
        self.as_scalar().and_then(Atom::as_uuid)
    }

    /// Looks up a key in a map.
    pub fn get(&self, key: &Atom) -> Option<&Atom> {
        let m = self.pairs();
        m.binary_search_by(|(k, _)| k.cmp(key))
            .ok()
            .map(|i| &m[i].1)
    }

    /// Looks up a string key in a string-valued map.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(&Atom::String(key.to_string()))
            .and_then(Atom::as_str)
    }

    /// True if a set contains the atom.
    pub fn contains(&self, a: &Atom) -> bool {
        self.atoms().binary_search(a).is_ok()
    }

    /// Parses a JSON datum of a known type: `key` is the element (or key)
    /// type, `value` the value type for maps. An empty `["set", []]` is
    /// accepted for an empty map, as ovsdb-server does.
    pub fn from_json(
        v: &Value,
        key: AtomType,
        value: Option<AtomType>,
    ) -> Result<Datum, DatumError> {
        match value {
            None => {
                if let Some(elems) = tagged(v, "set") {
                    let elems = elems
                        .as_array()
                        .ok_or_else(|| shape("[\"set\", [...]]", v))?;
                    let mut atoms = elems
                        .iter()
                        .map(|e| Atom::from_json(e, key))
                        .collect::<Result<Vec<_>, _>>()?;
                    atoms.sort();
                    if let Some(w) = atoms.windows(2).find(|w| w[0] == w[1]) {
                        return Err(DatumError::DuplicateElement(w[0].to_string()));
                    }
                    Ok(Datum::Set(atoms))
                } else {
                    Ok(Datum::Set(vec![Atom::from_json(v, key)?]))
                }
            }
            Some(vty) => {
                if let Some(elems) = tagged(v, "set") {
                    return match elems.as_array() {
                        Some(a) if a.is_empty() => Ok(Datum::empty_map()),
                        _ => Err(shape("[\"map\", [...]]", v)),
                    };
                }
                let pairs = tagged(v, "map")
                    .and_then(Value::as_array)
                    .ok_or_else(|| shape("[\"map\", [...]]", v))?;
                let mut out = Vec::with_capacity(pairs.len());
                for p in pairs {
                    match p.as_array().map(Vec::as_slice) {
                        Some([k, val]) => {
                            out.push((Atom::from_json(k, key)?, Atom::from_json(val, vty)?))
                        }
                        _ => return Err(shape("[key, value] pair", p)),
                    }
                }
                out.sort();
                if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
                    return Err(DatumError::DuplicateKey(w[0].0.to_string()));
                }
                Ok(Datum::Map(out))
            }
        }
    }

    /// Parses a JSON datum without a schema: `["map", …]` is a map,
    /// `["set", …]` a set, anything else a one-atom set.
    pub fn from_json_untyped(v: &Value) -> Result<Datum, DatumError> {
        if let Some(elems) = tagged(v, "set") {
            let elems = elems
                .as_array()
                .ok_or_else(|| shape("[\"set\", [...]]", v))?;
            let atoms = elems
                .iter()
                .map(Atom::from_json_untyped)
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Datum::set(atoms));
        }
        if let Some(pairs) = tagged(v, "map") {
            let pairs = pairs
                .as_array()
                .ok_or_else(|| shape("[\"map\", [...]]", v))?;
            let mut out = Vec::with_capacity(pairs.len());
            for p in pairs {
                match p.as_array().map(Vec::as_slice) {
                    Some([k, val]) => {
                        out.push((Atom::from_json_untyped(k)?, Atom::from_json_untyped(val)?))
                    }
                    _ => return Err(shape("[key, value] pair", p)),
                }
            }
            return Ok(Datum::map(out));
        }
        Ok(Datum::Set(vec![Atom::from_json_untyped(v)?]))
    }

    /// The RFC 7047 JSON form, as ovsdb-server writes it (one-element sets bare).
    pub fn to_json(&self) -> Value {
        match self {
            Datum::Set(s) if s.len() == 1 => s[0].to_json(),
            Datum::Set(s) => Value::Array(vec![
                "set".into(),
                Value::Array(s.iter().map(Atom::to_json).collect()),
            ]),
            Datum::Map(m) => Value::Array(vec![
                "map".into(),
                Value::Array(
                    m.iter()
                        .map(|(k, v)| Value::Array(vec![k.to_json(), v.to_json()]))
                        .collect(),
                ),
            ]),
        }
    }
}

/// If `v` is `[tag, x]`, returns `x`.
fn tagged<'a>(v: &'a Value, tag: &str) -> Option<&'a Value> {
    match v.as_array().map(Vec::as_slice) {
        Some([t, x]) if t.as_str() == Some(tag) => Some(x),
        _ => None,
    }
}

fn shape(expected: &'static str, found: &Value) -> DatumError {
    DatumError::Shape {
        expected,
        found: json_snippet(found),
    }
}

impl fmt::Display for Datum {
    /// Text in the style of `ovsdb-client`/`ovn-nbctl list`: `[a, b]`, `{k=v}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Datum::Set(s) if s.len() == 1 => write!(f, "{}", s[0]),
            Datum::Set(s) => {
                f.write_str("[")?;
                for (i, a) in s.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str("]")
            }
            Datum::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_missing_column_reads_as_empty_and_empties_are_the_same() {
        let row = Row::from([("name".to_string(), Datum::scalar("p"))]);
        assert_eq!(column_or_empty(&row, "name"), &Datum::scalar("p"));
        assert!(column_or_empty(&row, "options").is_empty());
        assert!(Datum::empty_set().same_value(&Datum::Map(Vec::new())));
        assert!(!Datum::empty_set().same_value(&Datum::scalar("p")));
        assert!(Datum::scalar("p").same_value(&Datum::scalar("p")));
    }

    #[test]
    fn one_element_sets_are_written_bare() {
        assert_eq!(Datum::scalar("x").to_json(), json!("x"));
        assert_eq!(Datum::empty_set().to_json(), json!(["set", []]));
        assert_eq!(
            Datum::set([Atom::Integer(2), Atom::Integer(1)]).to_json(),
            json!(["set", [1, 2]])
        );
        assert_eq!(Datum::empty_map().to_json(), json!(["map", []]));
    }

    #[test]
    fn typed_parse_accepts_all_forms() {
        let s = AtomType::String;
        assert_eq!(
            Datum::from_json(&json!("a"), s, None).unwrap(),
            Datum::scalar("a")
        );
        assert_eq!(
            Datum::from_json(&json!(["set", ["b", "a"]]), s, None).unwrap(),
            Datum::set(["a".into(), "b".into()])
        );
        assert_eq!(
            Datum::from_json(&json!(["map", [["k", "v"]]]), s, Some(s)).unwrap(),
            Datum::string_map([("k", "v")])
        );
        assert_eq!(
            Datum::from_json(&json!(["set", []]), s, Some(s)).unwrap(),
            Datum::empty_map()
        );
    }

    #[test]
    fn duplicates_and_bad_shapes_are_errors() {
        let s = AtomType::String;
        assert!(matches!(
            Datum::from_json(&json!(["map", [["k", "v"], ["k", "w"]]]), s, Some(s)),
            Err(DatumError::DuplicateKey(_))
        ));
        assert!(matches!(
            Datum::from_json(&json!(["set", ["a", "a"]]), s, None),
            Err(DatumError::DuplicateElement(_))
        ));
        assert!(Datum::from_json(&json!(["map", [["k"]]]), s, Some(s)).is_err());
        assert!(Datum::from_json(&json!(["set", "a"]), s, None).is_err());
        assert!(Datum::from_json(&json!(5), s, None).is_err());
    }

    #[test]
    fn map_lookup() {
        let m = Datum::string_map([("b", "2"), ("a", "1")]);
        assert_eq!(m.get_str("a"), Some("1"));
        assert_eq!(m.get_str("c"), None);
    }
}
