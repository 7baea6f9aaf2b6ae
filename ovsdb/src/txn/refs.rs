//! The references a datum holds, by kind (RFC 7047 §3.2 `refType`): what
//! the commit-time checks follow (strong references checked and counted,
//! weak references to missing rows dropped).

use crate::atom::{Atom, Uuid};
use crate::datum::Datum;
use crate::schema::{BaseType, ColumnType, RefType};

pub(super) fn has_ref(ty: &ColumnType, kind: RefType) -> bool {
    std::iter::once(&ty.key)
        .chain(ty.value.as_ref())
        .any(|b| b.ref_table.is_some() && b.ref_type == kind)
}

/// The tables the keys and the values of a column of type `ty` refer to
/// with references of kind `kind` (`None`: no such references).
fn ref_tables(ty: &ColumnType, kind: RefType) -> (Option<&str>, Option<&str>) {
    fn of(b: &BaseType, kind: RefType) -> Option<&str> {
        b.ref_table.as_deref().filter(|_| b.ref_type == kind)
    }
    (
        of(&ty.key, kind),
        ty.value.as_ref().and_then(|v| of(v, kind)),
    )
}

/// The (table, uuid) references of kind `kind` in a datum.
pub(super) fn refs_of<'t>(d: &Datum, ty: &'t ColumnType, kind: RefType) -> Vec<(&'t str, Uuid)> {
    let (key_t, val_t) = ref_tables(ty, kind);
    let mut out = Vec::new();
    match d {
        Datum::Set(atoms) => {
            if let Some(t) = key_t {
                out.extend(atoms.iter().filter_map(Atom::as_uuid).map(|u| (t, u)));
            }
        }
        Datum::Map(pairs) => {
            for (k, v) in pairs {
                if let (Some(t), Some(u)) = (key_t, k.as_uuid()) {
                    out.push((t, u));
                }
                if let (Some(t), Some(u)) = (val_t, v.as_uuid()) {
                    out.push((t, u));
                }
            }
        }
    }
    out
}

/// `d` without the references of kind `kind` for which `exists` is false.
pub(super) fn retain_refs(
    d: &Datum,
    ty: &ColumnType,
    kind: RefType,
    exists: impl Fn(&str, &Uuid) -> bool,
) -> Datum {
    let (key_t, val_t) = ref_tables(ty, kind);
    let ok = |t: Option<&str>, a: &Atom| match (t, a.as_uuid()) {
        (Some(t), Some(u)) => exists(t, &u),
        _ => true,
    };
    match d {
        Datum::Set(atoms) => Datum::Set(atoms.iter().filter(|a| ok(key_t, a)).cloned().collect()),
        Datum::Map(pairs) => Datum::Map(
            pairs
                .iter()
                .filter(|(k, v)| ok(key_t, k) && ok(val_t, v))
                .cloned()
                .collect(),
        ),
    }
}
