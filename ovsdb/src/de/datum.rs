//! Datums: a set or a map of a known column type, in any of the forms
//! RFC 7047 allows (a bare atom for a one-element set, `["set", […]]`,
//! `["map", […]]`), and [`datum_from_str`].

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::atom::{AtomSeed, Tag, TagSeed};
use super::{fail, Place};
use crate::atom::{Atom, AtomType};
use crate::datum::Datum;
use crate::schema::ColumnType;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::Uuid;
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
