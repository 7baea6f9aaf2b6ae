//! Atoms: one atom of a known type ([`AtomSeed`]), the `"uuid"` /
//! `"named-uuid"` / `"set"` / `"map"` tags of tagged arrays, and UUIDs
//! parsed from their text.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{fail, snippet, Place};
use crate::atom::{is_id, Atom, AtomType, Real, Uuid};

/// One atom of a known type.
#[derive(Clone, Copy)]
pub(crate) struct AtomSeed<'a> {
    pub ty: AtomType,
    pub place: Option<Place<'a>>,
}

impl AtomSeed<'_> {
    pub(super) fn wrong<E: de::Error>(&self, found: fmt::Arguments<'_>) -> E {
        fail(
            self.place,
            format_args!("expected {}, found {found}", self.ty.name()),
        )
    }

    /// The second element of `["uuid", S]` / `["named-uuid", S]`, the tag
    /// already read.
    pub(super) fn tagged_uuid<'de, A: SeqAccess<'de>>(
        &self,
        tag: Tag,
        mut seq: A,
    ) -> Result<Atom, A::Error> {
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
pub(super) enum Tag {
    Set,
    Map,
    Uuid,
    NamedUuid,
    /// Another string, or not a string at all.
    Other,
}

pub(super) struct TagSeed;

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
