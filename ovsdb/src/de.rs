//! Parsing RFC 7047 data straight from JSON text into [`Datum`]s and rows,
//! with serde visitors instead of [`serde_json::Value`] trees.
//!
//! A monitor reply or a compacted database file of a large NB (ten
//! thousand ports) is megabytes of JSON; building a `Value` tree first and
//! converting it afterwards allocates every string twice and walks the
//! data three times. The seeds here turn the text into atoms, datums and
//! whole rows in one pass: strings are allocated once at their final
//! size, UUIDs are parsed from the borrowed text, and a new row is
//! completed with its schema defaults as soon as its object ends.
//!
//! The accepted forms and the errors are those of [`Datum::from_json`]
//! (checked by a property test against it): one-element sets may be
//! written bare, `["set", []]` is accepted for an empty map, integers are
//! accepted where reals are expected, duplicate set elements or map keys
//! are errors. Every error names the table, row and column.
//!
//! The seeds work on any serde deserializer: JSON text
//! (`serde_json::Deserializer`) and, for small updates that already are
//! values, `&serde_json::Value`.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::atom::{is_id, Atom, AtomType, Real, Uuid};
use crate::datum::{Datum, Row};
use crate::schema::{ColumnSchema, ColumnType, DatabaseSchema, TableSchema};

/// Where a datum is, for error messages: `table T row U column C`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place<'a> {
    /// The table.
    pub table: &'a str,
    /// The row.
    pub row: Uuid,
    /// The column.
    pub column: &'a str,
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "table {} row {} column {}",
            self.table, self.row, self.column
        )
    }
}

/// The columns of one row as the JSON gave them, in JSON order.
pub(crate) type Columns<'s> = Vec<(&'s ColumnSchema, Datum)>;

fn fail<E: de::Error>(place: Option<Place<'_>>, msg: fmt::Arguments<'_>) -> E {
    match place {
        Some(p) => E::custom(format_args!("{p}: {msg}")),
        None => E::custom(msg),
    }
}

/// A short rendering of a string for messages (at most 60 characters).
fn snippet(s: &str) -> String {
    let quoted = format!("{s:?}");
    if quoted.chars().count() > 60 {
        let cut: String = quoted.chars().take(57).collect();
        format!("{cut}...")
    } else {
        quoted
    }
}

/// One atom of a known type.
#[derive(Clone, Copy)]
pub(crate) struct AtomSeed<'a> {
    pub ty: AtomType,
    pub place: Option<Place<'a>>,
}

impl AtomSeed<'_> {
    fn wrong<E: de::Error>(&self, found: fmt::Arguments<'_>) -> E {
        fail(
            self.place,
            format_args!("expected {}, found {found}", self.ty.name()),
        )
    }

    /// The second element of `["uuid", S]` / `["named-uuid", S]`, the tag
    /// already read.
    fn tagged_uuid<'de, A: SeqAccess<'de>>(&self, tag: Tag, mut seq: A) -> Result<Atom, A::Error> {
        let atom = match seq.next_element_seed(UuidText {
            named: tag == Tag::NamedUuid,
            place: self.place,
        })? {
            Some(a) => a,
            None => return Err(self.wrong(format_args!("an array"))),
        };
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(self.wrong(format_args!("an array")));
        }
        Ok(atom)
    }
}

impl<'de> DeserializeSeed<'de> for AtomSeed<'_> {
    type Value = Atom;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Atom, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AtomSeed<'_> {
    type Value = Atom;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an atom of type {}", self.ty)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Atom, E> {
        match self.ty {
            AtomType::Boolean => Ok(Atom::Boolean(b)),
            _ => Err(self.wrong(format_args!("{b}"))),
        }
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Atom, E> {
        match self.ty {
            AtomType::Integer => Ok(Atom::Integer(i)),
            AtomType::Real => Ok(Atom::Real(Real(i as f64))),
            _ => Err(self.wrong(format_args!("{i}"))),
        }
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Atom, E> {
        match (self.ty, i64::try_from(u)) {
            (AtomType::Integer, Ok(i)) => Ok(Atom::Integer(i)),
            (AtomType::Real, _) => Ok(Atom::Real(Real(u as f64))),
            _ => Err(self.wrong(format_args!("{u}"))),
        }
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Atom, E> {
        match self.ty {
            AtomType::Real => Ok(Atom::Real(Real(f))),
            _ => Err(self.wrong(format_args!("{f}"))),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Atom, E> {
        match self.ty {
            AtomType::String => Ok(Atom::String(s.to_owned())),
            _ => Err(self.wrong(format_args!("{}", snippet(s)))),
        }
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Atom, E> {
        match self.ty {
            AtomType::String => Ok(Atom::String(s)),
            _ => Err(self.wrong(format_args!("{}", snippet(&s)))),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Atom, E> {
        Err(self.wrong(format_args!("null")))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Atom, A::Error> {
        Err(self.wrong(format_args!("an object")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Atom, A::Error> {
        match (self.ty, seq.next_element_seed(TagSeed)?) {
            (AtomType::Uuid, Some(tag @ (Tag::Uuid | Tag::NamedUuid))) => {
                self.tagged_uuid(tag, seq)
            }
            _ => Err(self.wrong(format_args!("an array"))),
        }
    }
}

/// The first element of a tagged array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Set,
    Map,
    Uuid,
    NamedUuid,
    /// Another string, or not a string at all.
    Other,
}

struct TagSeed;

impl<'de> DeserializeSeed<'de> for TagSeed {
    type Value = Tag;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Tag, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TagSeed {
    type Value = Tag;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tag")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Tag, E> {
        Ok(match s {
            "set" => Tag::Set,
            "map" => Tag::Map,
            "uuid" => Tag::Uuid,
            "named-uuid" => Tag::NamedUuid,
            _ => Tag::Other,
        })
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Tag, E> {
        Ok(Tag::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Tag, E> {
        Ok(Tag::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Tag, E> {
        Ok(Tag::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Tag, E> {
        Ok(Tag::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Tag, E> {
        Ok(Tag::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tag, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Tag::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tag, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Tag::Other)
    }
}

/// The string of `["uuid", S]` (a 36-character UUID) or `["named-uuid", S]`
/// (an identifier).
struct UuidText<'a> {
    named: bool,
    place: Option<Place<'a>>,
}

impl<'de> DeserializeSeed<'de> for UuidText<'_> {
    type Value = Atom;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Atom, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UuidText<'_> {
    type Value = Atom;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a UUID string")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Atom, E> {
        if self.named {
            if is_id(s) {
                Ok(Atom::NamedUuid(s.to_owned()))
            } else {
                Err(fail(self.place, format_args!("invalid named-uuid {s:?}")))
            }
        } else {
            match parse_uuid(s) {
                Some(u) => Ok(Atom::Uuid(u)),
                None => Err(fail(self.place, format_args!("invalid UUID {s:?}"))),
            }
        }
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Atom, E> {
        Err(self.not_a_string())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Atom, E> {
        Err(self.not_a_string())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Atom, E> {
        Err(self.not_a_string())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Atom, E> {
        Err(self.not_a_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Atom, E> {
        Err(self.not_a_string())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Atom, A::Error> {
        Err(self.not_a_string())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Atom, A::Error> {
        Err(self.not_a_string())
    }
}

impl UuidText<'_> {
    fn not_a_string<E: de::Error>(&self) -> E {
        fail(self.place, format_args!("expected uuid, found an array"))
    }
}

/// A UUID in its 36-character text form, parsed without allocating.
pub(crate) fn parse_uuid(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::try_parse(s).ok()
}

/// One datum of a known column type.
#[derive(Clone, Copy)]
pub(crate) struct DatumSeed<'a> {
    pub key: AtomType,
    pub value: Option<AtomType>,
    pub place: Option<Place<'a>>,
}

impl<'a> DatumSeed<'a> {
    /// The seed for a column of type `ty`.
    pub fn new(ty: &ColumnType, place: Option<Place<'a>>) -> DatumSeed<'a> {
        DatumSeed {
            key: ty.key.atom,
            value: ty.value.as_ref().map(|b| b.atom),
            place,
        }
    }

    fn atom(&self) -> AtomSeed<'a> {
        AtomSeed {
            ty: self.key,
            place: self.place,
        }
    }

    fn map_shape<E: de::Error>(&self) -> E {
        fail(
            self.place,
            format_args!("expected [\"map\", [...]], found another shape"),
        )
    }
}

impl<'de> DeserializeSeed<'de> for DatumSeed<'_> {
    type Value = Datum;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Datum, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! scalar_datum {
    ($name:ident, $t:ty) => {
        fn $name<E: de::Error>(self, v: $t) -> Result<Datum, E> {
            if self.value.is_some() {
                return Err(self.map_shape());
            }
            Ok(Datum::Set(vec![self.atom().$name(v)?]))
        }
    };
}

impl<'de> Visitor<'de> for DatumSeed<'_> {
    type Value = Datum;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OVSDB datum")
    }

    scalar_datum!(visit_bool, bool);
    scalar_datum!(visit_i64, i64);
    scalar_datum!(visit_u64, u64);
    scalar_datum!(visit_f64, f64);
    scalar_datum!(visit_str, &str);
    scalar_datum!(visit_string, String);

    fn visit_unit<E: de::Error>(self) -> Result<Datum, E> {
        if self.value.is_some() {
            return Err(self.map_shape());
        }
        Err(self.atom().wrong(format_args!("null")))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Datum, A::Error> {
        if self.value.is_some() {
            return Err(self.map_shape());
        }
        Err(self.atom().wrong(format_args!("an object")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Datum, A::Error> {
        let tag = seq.next_element_seed(TagSeed)?;
        let datum = match (self.value, tag) {
            (None, Some(Tag::Set)) => {
                let Some(mut atoms) = seq.next_element_seed(AtomsSeed(self.atom()))? else {
                    return Err(self.atom().wrong(format_args!("an array")));
                };
                atoms.sort();
                if let Some(w) = atoms.windows(2).find(|w| w[0] == w[1]) {
                    return Err(fail(
                        self.place,
                        format_args!("set has duplicate element {}", w[0]),
                    ));
                }
                Datum::Set(atoms)
            }
            (None, Some(tag @ (Tag::Uuid | Tag::NamedUuid))) if self.key == AtomType::Uuid => {
                return Ok(Datum::Set(vec![self.atom().tagged_uuid(tag, seq)?]));
            }
            (None, _) => return Err(self.atom().wrong(format_args!("an array"))),
            (Some(_), Some(Tag::Set)) => match seq.next_element_seed(EmptySeq)? {
                Some(true) => Datum::empty_map(),
                _ => return Err(self.map_shape()),
            },
            (Some(v), Some(Tag::Map)) => {
                let pairs = PairsSeed {
                    key: self.atom(),
                    value: AtomSeed {
                        ty: v,
                        place: self.place,
                    },
                };
                let Some(mut pairs) = seq.next_element_seed(pairs)? else {
                    return Err(self.map_shape());
                };
                pairs.sort();
                if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
                    return Err(fail(
                        self.place,
                        format_args!("map has duplicate key {}", w[0].0),
                    ));
                }
                Datum::Map(pairs)
            }
            (Some(_), _) => return Err(self.map_shape()),
        };
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(match self.value {
                Some(_) => self.map_shape(),
                None => self.atom().wrong(format_args!("an array")),
            });
        }
        Ok(datum)
    }
}

/// An array of atoms.
struct AtomsSeed<'a>(AtomSeed<'a>);

impl<'de> DeserializeSeed<'de> for AtomsSeed<'_> {
    type Value = Vec<Atom>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Atom>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AtomsSeed<'_> {
    type Value = Vec<Atom>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of atoms")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Atom>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(1024));
        while let Some(a) = seq.next_element_seed(self.0)? {
            out.push(a);
        }
        Ok(out)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<Atom>, E> {
        Err(self.not_array())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<Atom>, E> {
        Err(self.not_array())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<Atom>, E> {
        Err(self.not_array())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<Atom>, E> {
        Err(self.not_array())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<Atom>, E> {
        Err(self.not_array())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<Atom>, E> {
        Err(self.not_array())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Vec<Atom>, A::Error> {
        Err(self.not_array())
    }
}

impl AtomsSeed<'_> {
    fn not_array<E: de::Error>(&self) -> E {
        fail(
            self.0.place,
            format_args!("expected [\"set\", [...]], found another shape"),
        )
    }
}

/// `[]` → true; any other array → false (consumed); not an array → false.
struct EmptySeq;

impl<'de> DeserializeSeed<'de> for EmptySeq {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EmptySeq {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an empty array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut empty = true;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            empty = false;
        }
        Ok(empty)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// The `[[key, value]…]` array of a map.
struct PairsSeed<'a> {
    key: AtomSeed<'a>,
    value: AtomSeed<'a>,
}

impl<'de> DeserializeSeed<'de> for PairsSeed<'_> {
    type Value = Vec<(Atom, Atom)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PairsSeed<'_> {
    type Value = Vec<(Atom, Atom)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of [key, value] pairs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(1024));
        let pair = PairSeed {
            key: self.key,
            value: self.value,
        };
        while let Some(p) = seq.next_element_seed(pair)? {
            out.push(p);
        }
        Ok(out)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(self.not_array())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(self.not_array())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(self.not_array())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(self.not_array())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(self.not_array())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.not_array())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.not_array())
    }
}

impl PairsSeed<'_> {
    fn not_array<E: de::Error>(&self) -> E {
        fail(
            self.key.place,
            format_args!("expected [\"map\", [...]], found another shape"),
        )
    }
}

/// One `[key, value]` pair.
#[derive(Clone, Copy)]
struct PairSeed<'a> {
    key: AtomSeed<'a>,
    value: AtomSeed<'a>,
}

impl<'de> DeserializeSeed<'de> for PairSeed<'_> {
    type Value = (Atom, Atom);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PairSeed<'_> {
    type Value = (Atom, Atom);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a [key, value] pair")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let k = seq.next_element_seed(self.key)?;
        let v = match k {
            Some(_) => seq.next_element_seed(self.value)?,
            None => None,
        };
        match (k, v) {
            (Some(k), Some(v)) if seq.next_element::<IgnoredAny>()?.is_none() => Ok((k, v)),
            _ => Err(self.not_pair()),
        }
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(self.not_pair())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(self.not_pair())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(self.not_pair())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(self.not_pair())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(self.not_pair())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.not_pair())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.not_pair())
    }
}

impl PairSeed<'_> {
    fn not_pair<E: de::Error>(&self) -> E {
        fail(
            self.key.place,
            format_args!("expected [key, value] pair, found another shape"),
        )
    }
}

/// Parses a datum of column type `ty` from JSON text (for tests and tools;
/// the loaders use [`DatumSeed`] inside their own visitors).
pub fn datum_from_str(text: &str, ty: &ColumnType) -> Result<Datum, serde_json::Error> {
    let mut d = serde_json::Deserializer::from_str(text);
    let v = DatumSeed::new(ty, None).deserialize(&mut d)?;
    d.end()?;
    Ok(v)
}

/// The table named by a map key, looked up in the schema without copying
/// the name.
pub(crate) struct TableKey<'s> {
    pub schema: &'s DatabaseSchema,
    /// What an unknown table is called in the message.
    pub unknown: &'static str,
}

impl<'de, 's> DeserializeSeed<'de> for TableKey<'s> {
    type Value = &'s TableSchema;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 's> Visitor<'de> for TableKey<'s> {
    type Value = &'s TableSchema;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        self.schema
            .table(s)
            .ok_or_else(|| E::custom(format_args!("{} {s}", self.unknown)))
    }
}

/// A row UUID given as a map key.
pub(crate) struct RowKey<'a> {
    pub table: &'a str,
}

impl<'de> DeserializeSeed<'de> for RowKey<'_> {
    type Value = Uuid;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Uuid, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for RowKey<'_> {
    type Value = Uuid;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row UUID")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Uuid, E> {
        Uuid::try_parse(s)
            .map_err(|_| E::custom(format_args!("table {}: bad row UUID {s:?}", self.table)))
    }
}

/// A map key among known words: its index in the list, or the other
/// string (for messages).
pub(crate) struct Word(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Word {
    type Value = Result<usize, String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Word {
    type Value = Result<usize, String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .iter()
            .position(|w| *w == s)
            .ok_or_else(|| s.to_owned()))
    }
}

/// The columns of one row, `{column: datum…}`, each parsed to its
/// column's type.
pub(crate) struct ColumnsSeed<'s> {
    pub table: &'s TableSchema,
    pub row: Uuid,
}

impl<'de, 's> DeserializeSeed<'de> for ColumnsSeed<'s> {
    type Value = Columns<'s>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 's> Visitor<'de> for ColumnsSeed<'s> {
    type Value = Columns<'s>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the columns of table {} row {} (an object)",
            self.table.name, self.row
        )
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let ts = self.table;
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8).min(ts.columns.len()));
        while let Some(col) = map.next_key_seed(ColumnKey {
            table: ts,
            row: self.row,
        })? {
            let place = Place {
                table: &ts.name,
                row: self.row,
                column: &col.name,
            };
            let d = map.next_value_seed(DatumSeed::new(&col.ty, Some(place)))?;
            out.push((col, d));
        }
        Ok(out)
    }
}

/// A column name given as a map key.
struct ColumnKey<'s> {
    table: &'s TableSchema,
    row: Uuid,
}

impl<'de, 's> DeserializeSeed<'de> for ColumnKey<'s> {
    type Value = &'s ColumnSchema;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 's> Visitor<'de> for ColumnKey<'s> {
    type Value = &'s ColumnSchema;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a column name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        self.table.column(s).ok_or_else(|| {
            E::custom(format_args!(
                "table {} row {}: unknown column {s}",
                self.table.name, self.row
            ))
        })
    }
}

/// The row a table's new rows start from: every column at its schema
/// default (as ovsdb-server fills rows). Cloning it copies the tree as it
/// is, which is much cheaper than building a map from sorted pairs.
pub(crate) struct RowTemplate(Row);

impl RowTemplate {
    /// The template of `ts`.
    pub fn new(ts: &TableSchema) -> RowTemplate {
        RowTemplate(crate::db::Database::complete_row(ts, Row::new()))
    }

    /// A new row from the columns an update or a file record gave; the
    /// others hold their defaults. A column given twice keeps its last
    /// value, as a JSON object does.
    pub fn complete(&self, cols: Columns<'_>) -> Row {
        let mut row = self.0.clone();
        for (col, d) in cols {
            match row.get_mut(&col.name) {
                Some(slot) => *slot = d,
                None => {
                    row.insert(col.name.clone(), d);
                }
            }
        }
        row
    }
}

/// A changed row: `cols` written over a copy of `old`, as differences
/// ([`crate::db::apply_diff`]) when `diff`.
pub(crate) fn overlay_row(old: &Row, cols: Columns<'_>, diff: bool) -> Row {
    let mut new = old.clone();
    for (col, d) in cols {
        let d = match (diff, new.get(&col.name)) {
            (true, Some(cur)) => crate::db::apply_diff(&col.ty, cur, &d),
            _ => d,
        };
        new.insert(col.name.clone(), d);
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::BaseType;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn types() -> Vec<ColumnType> {
        use AtomType::*;
        let mut out = Vec::new();
        for k in [Integer, Real, Boolean, String, Uuid] {
            for v in [None, Some(Integer), Some(Real), Some(String), Some(Uuid)] {
                out.push(ColumnType {
                    key: BaseType::plain(k),
                    value: v.map(BaseType::plain),
                    min: 0,
                    max: None,
                });
            }
        }
        out
    }

    /// JSON values shaped like datums, and some that are not.
    fn json_datum() -> impl Strategy<Value = Value> {
        let uuid = prop_oneof![
            Just("15059e66-c91b-4649-8df0-e3de97a234a0".to_string()),
            Just("4e0b20f2-9b9b-4c17-8d74-a331eff9070b".to_string()),
            Just("4e0b20f29b9b4c178d74a331eff9070b".to_string()),
            Just("nope".to_string()),
        ];
        let atom = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::from),
            uuid.clone().prop_map(|u| json!(["uuid", u])),
            "[a-z_0-9]{0,3}".prop_map(|n| json!(["named-uuid", n])),
            Just(Value::Null),
            Just(json!({"a": 1})),
        ];
        let atoms = proptest::collection::vec(atom.clone(), 0..4);
        let pairs = proptest::collection::vec(
            prop_oneof![
                (atom.clone(), atom.clone()).prop_map(|(k, v)| json!([k, v])),
                atom.clone().prop_map(|k| json!([k])),
                atom.clone(),
            ],
            0..4,
        );
        prop_oneof![
            atom.clone(),
            atoms.clone().prop_map(|a| json!(["set", a])),
            pairs.prop_map(|p| json!(["map", p])),
            atoms.clone().prop_map(Value::Array),
            atom.prop_map(|a| json!(["set", a])),
            atoms.prop_map(|a| json!(["set", a, 1])),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The seeds accept exactly what `Datum::from_json` accepts, with
        /// equal results, from text and from values.
        #[test]
        fn seeds_agree_with_datum_from_json(v in json_datum()) {
            let text = v.to_string();
            // Compare on the value the text parses to (serde_json's float
            // parsing need not give back the very same f64).
            let v: Value = serde_json::from_str(&text).unwrap();
            for ty in types() {
                let want = Datum::from_json(&v, ty.key.atom, ty.value.as_ref().map(|b| b.atom)).ok();
                let from_text = datum_from_str(&text, &ty).ok();
                prop_assert_eq!(&from_text, &want, "{} as {:?}", text, ty.to_json());
                let from_value = DatumSeed::new(&ty, None).deserialize(&v).ok();
                prop_assert_eq!(&from_value, &want, "{} as {:?}", text, ty.to_json());
            }
        }
    }

    #[test]
    fn errors_name_the_place() {
        let ty = ColumnType::scalar(AtomType::String);
        let place = Place {
            table: "T",
            row: Uuid::nil(),
            column: "c",
        };
        let mut d = serde_json::Deserializer::from_str("3");
        let e = DatumSeed::new(&ty, Some(place))
            .deserialize(&mut d)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "table T row 00000000-0000-0000-0000-000000000000 column c: expected string, found 3"
            ),
            "{e}"
        );
        let map = ColumnType {
            key: BaseType::plain(AtomType::String),
            value: Some(BaseType::plain(AtomType::String)),
            min: 0,
            max: None,
        };
        let e = datum_from_str(r#"["map",[["k","v"],["k","w"]]]"#, &map).unwrap_err();
        assert!(e.to_string().starts_with("map has duplicate key"), "{e}");
    }
}
