//! The references a datum holds, by kind (RFC 7047 §3.2 `refType`): what
//! the commit-time checks follow (strong references checked and counted,
//! weak references to missing rows dropped).

use crate::atom::{Atom, Uuid};
use crate::datum::Datum;
use crate::schema::{ColumnType, RefType};

pub(super) fn has_ref(ty: &ColumnType, kind: RefType) -> bool {
    std::iter::once(&ty.key)
        .chain(ty.value.as_ref())
        .any(|b| b.ref_table.is_some() && b.ref_type == kind)
}

/// The (table, uuid) references of kind `kind` in a datum.
pub(super) fn refs_of<'t>(d: &Datum, ty: &'t ColumnType, kind: RefType) -> Vec<(&'t str, Uuid)> {
    let key_t = ty
        .key
        .ref_table
        .as_deref()
        .filter(|_| ty.key.ref_type == kind);
    let val_t = ty
        .value
        .as_ref()
        .and_then(|v| v.ref_table.as_deref().filter(|_| v.ref_type == kind));
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
    let key_t = ty
        .key
        .ref_table
        .as_deref()
        .filter(|_| ty.key.ref_type == kind);
    let val_t = ty
        .value
        .as_ref()
        .and_then(|v| v.ref_table.as_deref().filter(|_| v.ref_type == kind));
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
