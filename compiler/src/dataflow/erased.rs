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
//!
//! Arrangements and groupings hold a `(K, V)` record as two views of the
//! one allocation: a [`View`] that compares as the `K` and one that
//! compares as the `V` (no copy of the key, and no
//! comparison of the key again between records under one key).
//!
//! What erasure costs at run time, measured against the typed dataflow
//! (issue 3's closing note): full compiles 0–15 % slower (one allocation
//! per record, comparisons through the vtable), single changes mostly
//! faster (a clone is a reference count), peak memory 5–7 % lower.

use std::any::{Any, TypeId};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Rec;

/// A record behind the vtable of [`Erased`]: a record of a [`Rec`] type,
/// or a [`View`] of one.
trait DynRec: Any + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    /// What the record compares, hashes and prints as: itself, or a
    /// view's key or value.
    fn value(&self) -> &dyn Any;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn cmp_dyn(&self, other: &dyn DynRec) -> Ordering;
    fn eq_dyn(&self, other: &dyn DynRec) -> bool;
    /// The value's hash (a fixed seed: the same in every worker and run).
    fn hash_u64(&self) -> u64;
    fn fmt_dyn(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// `mine` against `other`'s value: by value when it is a `T`, else by
/// type.
fn cmp_value<T: Rec>(mine: &T, other: &dyn DynRec) -> Ordering {
    match other.value().downcast_ref::<T>() {
        Some(other) => mine.cmp(other),
        None => TypeId::of::<T>().cmp(&other.value().type_id()),
    }
}

/// Whether `other`'s value is `mine`.
fn eq_value<T: Rec>(mine: &T, other: &dyn DynRec) -> bool {
    other.value().downcast_ref::<T>() == Some(mine)
}

/// The hash of `value` with a fixed seed.
fn hash_value<T: Rec>(value: &T) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0).hash_one(value)
}

impl<D: Rec> DynRec for D {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn value(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn cmp_dyn(&self, other: &dyn DynRec) -> Ordering {
        cmp_value(self, other)
    }

    fn eq_dyn(&self, other: &dyn DynRec) -> bool {
        eq_value(self, other)
    }

    fn hash_u64(&self) -> u64 {
        hash_value(self)
    }

    fn fmt_dyn(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A `(K, V)` record seen as one of its parts (`P`: [`Key`] or [`Val`]):
/// it compares, hashes and prints as that part, and shares the record's
/// allocation ([`Erased::key_view`], [`Erased::val_view`]).
#[repr(transparent)]
struct View<K, V, P>((K, V), PhantomData<fn() -> P>);

/// Which part of a `(K, V)` record a [`View`] shows.
trait Part: 'static {
    /// The part's type.
    type Of<K: Rec, V: Rec>: Rec;
    /// The part of `record`.
    fn of<K: Rec, V: Rec>(record: &(K, V)) -> &Self::Of<K, V>;
}

/// The key: what arrangements and groupings key records by. A key view
/// equals an erased `K` and the key view of a `(K, V2)` with the same key;
/// an erased copy of the key would take an allocation of its own per
/// record.
struct Key;

impl Part for Key {
    type Of<K: Rec, V: Rec> = K;
    fn of<K: Rec, V: Rec>(record: &(K, V)) -> &K {
        &record.0
    }
}

/// The value: what arrangements and groupings hold under a key. Records
/// under one key differ by their values only, and comparing whole records
/// would compare the key again (a datapath group's member list, a flow's
/// match and actions) at every step of every sort and merge.
struct Val;

impl Part for Val {
    type Of<K: Rec, V: Rec> = V;
    fn of<K: Rec, V: Rec>(record: &(K, V)) -> &V {
        &record.1
    }
}

impl<K: Rec, V: Rec, P: Part> DynRec for View<K, V, P> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn value(&self) -> &dyn Any {
        P::of(&self.0)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn cmp_dyn(&self, other: &dyn DynRec) -> Ordering {
        cmp_value(P::of(&self.0), other)
    }

    fn eq_dyn(&self, other: &dyn DynRec) -> bool {
        eq_value(P::of(&self.0), other)
    }

    fn hash_u64(&self) -> u64 {
        hash_value(P::of(&self.0))
    }

    fn fmt_dyn(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(P::of(&self.0), f)
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

    /// The hash of what the record compares as (a fixed seed: the same in
    /// every worker and run).
    pub(crate) fn hash_u64(&self) -> u64 {
        self.0.hash_u64()
    }

    /// Whether the record is a `D`.
    pub(crate) fn is<D: Rec>(&self) -> bool {
        self.0.as_any().is::<D>()
    }

    /// The key of this `(K, V)` record: the record itself, seen as its key
    /// (no copy of the key, no allocation).
    pub(crate) fn key_view<K: Rec, V: Rec>(&self) -> Erased {
        // SAFETY: `View<K, V, Key>` is a `repr(transparent)` wrapper of
        // `(K, V)`.
        Erased(unsafe { self.recast::<(K, V), View<K, V, Key>>() })
    }

    /// This `(K, V)` record seen as its value (no copy, no allocation).
    pub(crate) fn val_view<K: Rec, V: Rec>(&self) -> Erased {
        // SAFETY: `View<K, V, Val>` is a `repr(transparent)` wrapper of
        // `(K, V)`.
        Erased(unsafe { self.recast::<(K, V), View<K, V, Val>>() })
    }

    /// The `(K, V)` record behind a value view ([`Erased::val_view`]) back
    /// as a record.
    pub(crate) fn unview_val<K: Rec, V: Rec>(&self) -> Erased {
        // SAFETY: `View<K, V, Val>` is a `repr(transparent)` wrapper of
        // `(K, V)`.
        Erased(unsafe { self.recast::<View<K, V, Val>, (K, V)>() })
    }

    /// This record's allocation, which must hold an `A`, as a `B`.
    ///
    /// # Safety
    /// `A` and `B` must have the same size and alignment (one a
    /// `repr(transparent)` wrapper of the other), which is what
    /// `Arc::from_raw` requires of a pointer from `Arc::<A>::into_raw`.
    unsafe fn recast<A: Any + Send + Sync, B>(&self) -> Arc<B> {
        let held = match self.0.clone().into_any().downcast::<A>() {
            Ok(a) => a,
            Err(_) => wrong_type::<A>(),
        };
        // SAFETY: the caller's promise above.
        unsafe { Arc::from_raw(Arc::into_raw(held).cast::<B>()) }
    }

    /// The `(K, V)` record this is, or whose value view this is.
    pub(crate) fn record<K: Rec, V: Rec>(&self) -> &(K, V) {
        let any = self.0.as_any();
        if let Some(view) = any.downcast_ref::<View<K, V, Val>>() {
            return &view.0;
        }
        match any.downcast_ref::<(K, V)>() {
            Some(r) => r,
            None => wrong_type::<(K, V)>(),
        }
    }

    /// The key `K` this record is: an erased `K` or a key view of a
    /// `(K, V)`.
    pub(crate) fn key<K: Rec>(&self) -> &K {
        match self.0.value().downcast_ref::<K>() {
            Some(k) => k,
            None => wrong_type::<K>(),
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

/// The same allocation seen through the same vtable: the same record.
/// (A view shares its record's allocation, not its vtable, so the two
/// never compare equal here; a vtable duplicated across codegen units only
/// makes this miss, and the comparison by value decides.)
#[allow(ambiguous_wide_pointer_comparisons)]
fn same(a: &Erased, b: &Erased) -> bool {
    std::ptr::eq(Arc::as_ptr(&a.0), Arc::as_ptr(&b.0))
}

impl PartialEq for Erased {
    fn eq(&self, other: &Erased) -> bool {
        same(self, other) || self.0.eq_dyn(&*other.0)
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
        if same(self, other) {
            return Ordering::Equal;
        }
        self.0.cmp_dyn(&*other.0)
    }
}

/// Hashes the value's own hash ([`DynRec::hash_u64`]): one call through
/// the vtable, where hashing through a `dyn Hasher` would take one per
/// field.
impl Hash for Erased {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash_u64());
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
        assert_eq!(hash(&a), hash(&Erased::new((1u32, "b".to_string()))));
        assert_ne!(hash(&a), hash(&b));
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
    fn key_views_are_their_keys() {
        let a = Erased::new((7u32, "a".to_string()));
        let b = Erased::new((7u32, 'b'));
        let (ka, kb) = (a.key_view::<u32, String>(), b.key_view::<u32, char>());
        // Views of records with the same key, and the key itself, are equal
        // and hash alike; the record stays whole behind its view.
        assert_eq!(ka, kb);
        assert_eq!(ka, Erased::new(7u32));
        assert_eq!(Erased::new(7u32), kb);
        assert!(ka < Erased::new(8u32));
        assert!(Erased::new(6u32) < kb);
        let hash = |e: &Erased| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            e.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&ka), hash(&kb));
        assert_eq!(hash(&ka), hash(&Erased::new(7u32)));
        assert_eq!(ka.key::<u32>(), &7);
        assert_eq!(Erased::new(7u32).key::<u32>(), &7);
        assert_eq!(format!("{ka:?}"), "7");
        assert_ne!(ka, a);
        drop(a);
        assert_eq!(ka.key::<u32>(), &7);
    }

    #[test]
    fn val_views_are_their_values_and_give_their_records_back() {
        let a = Erased::new((7u32, "a".to_string()));
        let b = Erased::new((8u32, "a".to_string()));
        let (va, vb) = (a.val_view::<u32, String>(), b.val_view::<u32, String>());
        assert_eq!(va, vb);
        assert_eq!(va, Erased::new("a".to_string()));
        assert!(va < Erased::new((7u32, "b".to_string())).val_view::<u32, String>());
        assert_eq!(va.record::<u32, String>(), &(7, "a".to_string()));
        assert_eq!(a.record::<u32, String>(), &(7, "a".to_string()));
        let back = vb.unview_val::<u32, String>();
        assert_eq!(back, b);
        assert_ne!(back, a);
        assert_eq!(format!("{va:?}"), "\"a\"");
    }

    #[test]
    #[should_panic(expected = "which it is not")]
    fn reading_the_wrong_type_is_a_bug() {
        Erased::new(1u32).get::<u64>();
    }
}
