//! Type-erased records: what every timely stream and differential
//! arrangement of the compiler carries (issue 3).
//!
//! Timely's channels, operator builders and containers, and
//! differential's batchers, spines, merges and joins are generic over the
//! record type: written over the rules' own types (hundreds of them: each
//! relation's tuple), the crate's release build generated all of that
//! code once per type, which was most of its build time (11.8M lines of
//! LLVM IR, 96 % of it generic code of core, timely and differential).
//! Here they run over one type, [`Erased`], a shared pointer to a record
//! of any type with its comparison, hash and clone behind a vtable, so
//! that code is generated once; [`super::Coll`] keeps the record type at
//! compile time, and the typed closures of the rules are wrapped into
//! closures over [`Erased`] at the boundary ([`Erased::new`],
//! [`Erased::get`], [`Erased::take`]).
//!
//! An [`Erased`] compares, hashes and prints as the record it holds, so
//! sorted batches, consolidation and grouped values see the records in
//! the same order as before. Cloning one is a reference count, not a
//! copy of the record. Records of one stream all have the same type; two
//! records of different types compare by type, never equal.

use std::any::{Any, TypeId};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Rec;

/// A record behind the vtable of [`Erased`].
trait DynRec: Any + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn cmp_dyn(&self, other: &dyn DynRec) -> Ordering;
    fn eq_dyn(&self, other: &dyn DynRec) -> bool;
    fn hash_dyn(&self, state: &mut dyn Hasher);
    fn fmt_dyn(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl<D: Rec> DynRec for D {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn cmp_dyn(&self, other: &dyn DynRec) -> Ordering {
        match other.as_any().downcast_ref::<D>() {
            Some(other) => self.cmp(other),
            None => TypeId::of::<D>().cmp(&other.as_any().type_id()),
        }
    }

    fn eq_dyn(&self, other: &dyn DynRec) -> bool {
        other.as_any().downcast_ref::<D>() == Some(self)
    }

    fn hash_dyn(&self, mut state: &mut dyn Hasher) {
        self.hash(&mut state);
    }

    fn fmt_dyn(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A record of some [`Rec`] type, shared.
#[derive(Clone)]
pub(crate) struct Erased(Arc<dyn DynRec>);

impl Erased {
    /// Erases `d`.
    pub(crate) fn new<D: Rec>(d: D) -> Erased {
        Erased(Arc::new(d))
    }

    /// The record, which must be a `D`.
    pub(crate) fn get<D: Rec>(&self) -> &D {
        match self.0.as_any().downcast_ref::<D>() {
            Some(d) => d,
            None => wrong_type::<D>(),
        }
    }

    /// The record, which must be a `D`: moved out when this is its only
    /// reference, else cloned.
    pub(crate) fn take<D: Rec>(self) -> D {
        match self.0.into_any().downcast::<D>() {
            Ok(d) => Arc::try_unwrap(d).unwrap_or_else(|d| D::clone(&d)),
            Err(_) => wrong_type::<D>(),
        }
    }
}

/// A record read as a type it does not have: a bug in the dataflow
/// layer's wiring, never in the data.
#[cold]
fn wrong_type<D>() -> ! {
    panic!(
        "dataflow record read as {}, which it is not",
        std::any::type_name::<D>()
    )
}

impl PartialEq for Erased {
    fn eq(&self, other: &Erased) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.eq_dyn(&*other.0)
    }
}

impl Eq for Erased {}

impl PartialOrd for Erased {
    fn partial_cmp(&self, other: &Erased) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Erased {
    fn cmp(&self, other: &Erased) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return Ordering::Equal;
        }
        self.0.cmp_dyn(&*other.0)
    }
}

impl Hash for Erased {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash_dyn(state);
    }
}

impl fmt::Debug for Erased {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_dyn(f)
    }
}

/// Timely requires exchanged records to be serializable, for workers in
/// other processes. The compiler's workers are threads of one process
/// (`timely::Config::process`), whose channels move records without
/// serializing them, so these never run.
impl Serialize for Erased {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "dataflow records do not leave the process",
        ))
    }
}

impl<'de> Deserialize<'de> for Erased {
    fn deserialize<De: Deserializer<'de>>(_: De) -> Result<Erased, De::Error> {
        Err(serde::de::Error::custom(
            "dataflow records do not leave the process",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erased_records_compare_and_hash_as_their_values() {
        let a = Erased::new((1u32, "b".to_string()));
        let b = Erased::new((1u32, "c".to_string()));
        assert!(a < b);
        assert_eq!(a, Erased::new((1u32, "b".to_string())));
        let hash = |e: &Erased| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            e.hash(&mut h);
            h.finish()
        };
        let typed = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (1u32, "b".to_string()).hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&a), typed);
        assert_ne!(Erased::new(1u32), Erased::new(1u64));
        assert_eq!(format!("{a:?}"), "(1, \"b\")");
    }

    #[test]
    fn take_moves_a_unique_record_and_clones_a_shared_one() {
        let a = Erased::new(vec![1u8, 2]);
        let b = a.clone();
        assert_eq!(a.take::<Vec<u8>>(), vec![1, 2]);
        assert_eq!(b.get::<Vec<u8>>(), &vec![1, 2]);
        assert_eq!(b.take::<Vec<u8>>(), vec![1, 2]);
    }

    #[test]
    #[should_panic(expected = "which it is not")]
    fn reading_the_wrong_type_is_a_bug() {
        Erased::new(1u32).get::<u64>();
    }
}
