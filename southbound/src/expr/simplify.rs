//! Simplification (`expr_simplify` in `lib/expr.c`, OVN 23.03): rewrites
//! every integer comparison into equality tests (`!=`, `<`, `<=`, `>`, `>=`
//! become disjunctions of masked `==`), and evaluation of
//! `is_chassis_resident()` conditions (`expr_evaluate_condition`).

use super::ast::{AndOr, Cmp, CmpValue, Expr, Relop};
use super::util::{bitwise_range, low_bits};

/// Removes Boolean operands and collapses short `And`/`Or` nodes
/// (`expr_fix`).
pub(crate) fn fix(expr: Expr) -> Expr {
    let (kind, subs) = match expr {
        Expr::And(v) => (AndOr::And, v),
        Expr::Or(v) => (AndOr::Or, v),
        other => return other,
    };
    let short_circuit = kind == AndOr::Or;
    let mut out = Vec::with_capacity(subs.len());
    for s in subs {
        match s {
            Expr::Boolean(b) if b == short_circuit => return Expr::Boolean(short_circuit),
            Expr::Boolean(_) => {}
            s => out.push(s),
        }
    }
    match out.len() {
        0 => Expr::Boolean(!short_circuit),
        1 => out.pop().unwrap_or(Expr::Boolean(!short_circuit)),
        _ => match kind {
            AndOr::And => Expr::And(out),
            AndOr::Or => Expr::Or(out),
        },
    }
}

fn eq_cmp(template: &Cmp, value: u128, mask: u128) -> Expr {
    Expr::Cmp(Cmp {
        symbol: template.symbol.clone(),
        relop: Relop::Eq,
        value: CmpValue::Int { value, mask },
    })
}

/// `x != v/m` becomes the disjunction, over each 1-bit of `m`, of that bit
/// differing from `v` (`expr_simplify_ne`).
fn simplify_ne(cmp: &Cmp) -> Expr {
    let (value, mask) = cmp.int();
    let mask = mask & low_bits(cmp.symbol.width);
    let mut terms = Vec::new();
    for i in 0..cmp.symbol.width {
        if (mask >> i) & 1 == 1 {
            let bit = 1u128 << i;
            terms.push(eq_cmp(cmp, !value & bit, bit));
        }
    }
    if terms.is_empty() {
        Expr::Boolean(false)
    } else {
        Expr::andor(AndOr::Or, terms)
    }
}

/// `<`, `<=`, `>`, `>=` over a contiguous mask become a disjunction of
/// prefix matches (`expr_simplify_relational`).
fn simplify_relational(cmp: &Cmp) -> Expr {
    let (value, mask) = cmp.int();
    let (start, n_bits) = bitwise_range(mask, cmp.symbol.width);
    let end = start + n_bits;
    let lt = matches!(cmp.relop, Relop::Lt | Relop::Le);
    let eq = matches!(cmp.relop, Relop::Le | Relop::Ge);
    let bit = |z: u32| (value >> z) & 1 == 1;
    if (start..end).all(|z| bit(z) == lt) {
        // "x <= max" / "x >= 0" are always true; "x < max" / "x > 0" mean
        // "x != max" / "x != 0".
        return if eq {
            Expr::Boolean(true)
        } else {
            simplify_ne(cmp)
        };
    }
    let mut terms = Vec::new();
    if eq {
        terms.push(eq_cmp(cmp, value, mask));
    }
    for z in start..end {
        if bit(z) == lt {
            let below = low_bits(z) & !low_bits(start);
            terms.push(eq_cmp(cmp, (value ^ (1u128 << z)) & !below, mask & !below));
        }
    }
    if terms.is_empty() {
        Expr::Boolean(false)
    } else {
        Expr::andor(AndOr::Or, terms)
    }
}

/// Rewrites `expr` so that every integer comparison is an equality test.
pub fn simplify(expr: Expr) -> Expr {
    match expr {
        Expr::Cmp(c) => match (&c.value, c.relop) {
            (CmpValue::Str(_), _) => Expr::Cmp(c),
            (CmpValue::Int { mask, .. }, Relop::Eq) => {
                if *mask == 0 {
                    Expr::Boolean(true)
                } else {
                    Expr::Cmp(c)
                }
            }
            (_, Relop::Ne) => simplify_ne(&c),
            _ => simplify_relational(&c),
        },
        Expr::And(v) => fix(Expr::andor(
            AndOr::And,
            v.into_iter().map(simplify).collect(),
        )),
        Expr::Or(v) => fix(Expr::andor(
            AndOr::Or,
            v.into_iter().map(simplify).collect(),
        )),
        e => e,
    }
}

/// Replaces each `is_chassis_resident(port)` by its value according to
/// `is_resident` (`expr_evaluate_condition`).
pub fn evaluate_conditions(expr: Expr, is_resident: &dyn Fn(&str) -> bool) -> Expr {
    match expr {
        Expr::And(v) => fix(Expr::andor(
            AndOr::And,
            v.into_iter()
                .map(|s| fix(evaluate_conditions(s, is_resident)))
                .collect(),
        )),
        Expr::Or(v) => fix(Expr::andor(
            AndOr::Or,
            v.into_iter()
                .map(|s| fix(evaluate_conditions(s, is_resident)))
                .collect(),
        )),
        Expr::Condition(c) => Expr::Boolean(is_resident(&c.port) ^ c.not),
        e => e,
    }
}
