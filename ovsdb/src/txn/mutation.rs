//! The mutators of `mutate` (RFC 7047 §5.1 `<mutation>`): arithmetic on
//! scalars (`+=`, `-=`, `*=`, `/=`, `%=`) and `insert` / `delete` on sets
//! and maps, with ovsdb-server's overflow and size checks.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{syntax, TxnError};
use crate::atom::{Atom, AtomType};
use crate::datum::Datum;
use crate::schema::ColumnSchema;

/// Parses the value of a mutation: a scalar for arithmetic, a set or map
/// (of any size) for insert/delete; map delete also takes a set of keys.
pub(super) fn parse_mutation_arg(
    table: &str,
    col: &ColumnSchema,
    op: &str,
    v: &Value,
) -> Result<Datum, TxnError> {
    let ctx = |e: String| syntax(format!("table {table} column {}: {e}", col.name));
    match op {
        "+=" | "-=" | "*=" | "/=" | "%=" => {
            if col.ty.is_map() || !matches!(col.ty.key.atom, AtomType::Integer | AtomType::Real) {
                return Err(ctx(format!("mutator {op} needs an integer or real column")));
            }
            if op == "%=" && col.ty.key.atom != AtomType::Integer {
                return Err(ctx("mutator %= needs an integer column".into()));
            }
            let a = Atom::from_json(v, col.ty.key.atom).map_err(|e| ctx(e.to_string()))?;
            Ok(Datum::Set(vec![a]))
        }
        "insert" | "delete" => {
            let key = col.ty.key.atom;
            match &col.ty.value {
                Some(vt) => Datum::from_json(v, key, Some(vt.atom))
                    .or_else(|e| {
                        if op == "delete" {
                            Datum::from_json(v, key, None)
                        } else {
                            Err(e)
                        }
                    })
                    .map_err(|e| ctx(e.to_string())),
                None => Datum::from_json(v, key, None).map_err(|e| ctx(e.to_string())),
            }
        }
        other => Err(ctx(format!("unknown mutator {other:?}"))),
    }
}

fn arith(a: &Atom, op: &str, b: &Atom) -> Result<Atom, (&'static str, String)> {
    match (a, b) {
        (Atom::Integer(x), Atom::Integer(y)) => {
            let r = match op {
                "+=" => x.checked_add(*y),
                "-=" => x.checked_sub(*y),
                "*=" => x.checked_mul(*y),
                "/=" | "%=" if *y == 0 => return Err(("domain error", "division by zero".into())),
                "/=" => x.checked_div(*y),
                _ => x.checked_rem(*y),
            };
            r.map(Atom::Integer)
                .ok_or(("range error", "integer overflow".into()))
        }
        (Atom::Real(x), Atom::Real(y)) => {
            let r = match op {
                "+=" => x.0 + y.0,
                "-=" => x.0 - y.0,
                "*=" => x.0 * y.0,
                _ if y.0 == 0.0 => return Err(("domain error", "division by zero".into())),
                _ => x.0 / y.0,
            };
            if r.is_finite() {
                Ok(Atom::from(r))
            } else {
                Err(("range error", "result is not finite".into()))
            }
        }
        _ => Err(("syntax error", "type mismatch".into())),
    }
}

pub(super) fn apply_mutation(
    cur: &Datum,
    op: &str,
    arg: &Datum,
) -> Result<Datum, (&'static str, String)> {
    match op {
        "insert" => Ok(match (cur, arg) {
            (Datum::Set(s), Datum::Set(a)) => Datum::set(s.iter().chain(a).cloned()),
            (Datum::Map(m), Datum::Map(a)) => {
                let mut out: BTreeMap<Atom, Atom> = m.iter().cloned().collect();
                for (k, v) in a {
                    out.entry(k.clone()).or_insert_with(|| v.clone());
                }
                Datum::Map(out.into_iter().collect())
            }
            (Datum::Set(s), Datum::Map(a)) if s.is_empty() => Datum::Map(a.clone()),
            (d, _) => d.clone(),
        }),
        "delete" => Ok(match (cur, arg) {
            (Datum::Set(s), Datum::Set(a)) => {
                Datum::Set(s.iter().filter(|x| !a.contains(x)).cloned().collect())
            }
            (Datum::Map(m), Datum::Set(keys)) => Datum::Map(
                m.iter()
                    .filter(|(k, _)| !keys.contains(k))
                    .cloned()
                    .collect(),
            ),
            (Datum::Map(m), Datum::Map(pairs)) => {
                Datum::Map(m.iter().filter(|p| !pairs.contains(p)).cloned().collect())
            }
            (d, _) => d.clone(),
        }),
        _ => {
            let b = arg
                .as_scalar()
                .ok_or(("syntax error", "arithmetic needs one value".to_string()))?;
            let atoms = cur
                .atoms()
                .iter()
                .map(|a| arith(a, op, b))
                .collect::<Result<Vec<_>, _>>()?;
            let n = atoms.len();
            let d = Datum::set(atoms);
            if d.len() != n {
                return Err((
                    "constraint violation",
                    "mutation would create duplicate set elements".into(),
                ));
            }
            Ok(d)
        }
    }
}
