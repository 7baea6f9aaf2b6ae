//! Normalization into the disjunctive form OpenFlow can express
//! (`expr_normalize` and the `crush_*` helpers in `lib/expr.c`, OVN 23.03).
//!
//! The result is a comparison, a Boolean, or `OR(AND(clause))` where each
//! clause is a comparison or a disjunction of comparisons on one field.  A
//! conjunction with several multi-valued clauses stays factored so that
//! [`super::flows`] can emit a conjunctive match; a clause on several fields,
//! or on a `must_crossproduct` field, is expanded by crossproduct.
//!
//! Deviation: OVN orders the strings that survive intersecting several
//! string disjunctions by hash; we order them by name.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::ast::{AndOr, Cmp, CmpValue, Expr, Relop};
use super::simplify::fix;
use super::symtab::Symbol;
use super::util::intersect;

fn same_symbol(a: &Arc<Symbol>, b: &Arc<Symbol>) -> bool {
    Arc::ptr_eq(a, b) || a.name == b.name
}

fn int_cmp(symbol: &Arc<Symbol>, value: u128, mask: u128) -> Expr {
    Expr::Cmp(Cmp {
        symbol: symbol.clone(),
        relop: Relop::Eq,
        value: CmpValue::Int { value, mask },
    })
}

fn cmp_of(e: &Expr) -> Option<&Cmp> {
    match e {
        Expr::Cmp(c) => Some(c),
        _ => None,
    }
}

/// Orders comparisons over one symbol (`compare_cmps_3way`).
fn compare_cmps(a: &Cmp, b: &Cmp) -> std::cmp::Ordering {
    match (&a.value, &b.value) {
        (CmpValue::Str(x), CmpValue::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (
            CmpValue::Int {
                value: av,
                mask: am,
            },
            CmpValue::Int {
                value: bv,
                mask: bm,
            },
        ) => (av, am).cmp(&(bv, bm)),
        (CmpValue::Str(_), _) => std::cmp::Ordering::Less,
        (_, CmpValue::Str(_)) => std::cmp::Ordering::Greater,
    }
}

/// Reduces an expression over the single `symbol` to one comparison, a
/// disjunction of comparisons, or a Boolean (`crush_cmps`).
fn crush(expr: Expr, symbol: &Arc<Symbol>) -> Expr {
    match expr {
        Expr::Or(v) => crush_or(v, symbol),
        Expr::And(v) => {
            if symbol.width > 0 {
                crush_and_numeric(v, symbol)
            } else {
                crush_and_string(v, symbol)
            }
        }
        e => e,
    }
}

fn crush_or(subs: Vec<Expr>, symbol: &Arc<Symbol>) -> Expr {
    let crushed = Expr::andor(
        AndOr::Or,
        subs.into_iter().map(|s| crush(s, symbol)).collect(),
    );
    let mut subs = match fix(crushed) {
        Expr::Or(v) => v,
        other => return other,
    };
    // Sort by value and mask to bring duplicates together, then drop them.
    subs.sort_by(|a, b| match (cmp_of(a), cmp_of(b)) {
        (Some(a), Some(b)) => compare_cmps(a, b),
        _ => std::cmp::Ordering::Equal,
    });
    subs.dedup_by(|b, a| match (cmp_of(a), cmp_of(b)) {
        (Some(a), Some(b)) => compare_cmps(a, b).is_eq(),
        _ => false,
    });
    fix(Expr::andor(AndOr::Or, subs))
}

fn crush_and_string(subs: Vec<Expr>, symbol: &Arc<Symbol>) -> Expr {
    let mut singleton: Option<Cmp> = None;
    let mut ors: Vec<Vec<Expr>> = Vec::new();
    for sub in subs {
        match crush(sub, symbol) {
            Expr::Cmp(c) => match &singleton {
                None => singleton = Some(c),
                Some(s) if s.string() == c.string() => {}
                Some(_) => return Expr::Boolean(false),
            },
            Expr::Or(v) => ors.push(v),
            Expr::Boolean(false) => return Expr::Boolean(false),
            _ => {}
        }
    }
    if let Some(s) = singleton {
        let name = s.string().unwrap_or_default();
        let allowed = ors.iter().all(|or| {
            or.iter()
                .any(|e| cmp_of(e).and_then(Cmp::string) == Some(name))
        });
        return if allowed {
            Expr::Cmp(s)
        } else {
            Expr::Boolean(false)
        };
    }
    let mut result: Option<BTreeSet<String>> = None;
    for or in &ors {
        let strings: BTreeSet<String> = or
            .iter()
            .filter_map(|e| cmp_of(e).and_then(Cmp::string).map(str::to_string))
            .collect();
        let next = match result {
            None => strings,
            Some(r) => r.intersection(&strings).cloned().collect(),
        };
        if next.is_empty() {
            return Expr::Boolean(false);
        }
        result = Some(next);
    }
    let cmps = result
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            Expr::Cmp(Cmp {
                symbol: symbol.clone(),
                relop: Relop::Eq,
                value: CmpValue::Str(s),
            })
        })
        .collect::<Vec<_>>();
    if cmps.is_empty() {
        Expr::Boolean(false)
    } else {
        Expr::andor(AndOr::Or, cmps)
    }
}

fn crush_and_numeric(subs: Vec<Expr>, symbol: &Arc<Symbol>) -> Expr {
    let (mut value, mut mask) = (0u128, 0u128);
    let mut ors: Vec<Vec<Expr>> = Vec::new();
    for sub in subs {
        match crush(sub, symbol) {
            Expr::Cmp(c) => {
                let (v, m) = c.int();
                match intersect(value, mask, v, m) {
                    Some((nv, nm)) => (value, mask) = (nv, nm),
                    None => return Expr::Boolean(false),
                }
            }
            Expr::Or(v) => ors.push(v),
            Expr::Boolean(false) => return Expr::Boolean(false),
            _ => {}
        }
    }
    match ors.len() {
        0 => {
            if mask == 0 {
                Expr::Boolean(true)
            } else {
                int_cmp(symbol, value, mask)
            }
        }
        1 => {
            // "a && (b || c)" becomes "ab || ac".
            let disjuncts: Vec<Expr> = ors
                .pop()
                .unwrap_or_default()
                .iter()
                .filter_map(cmp_of)
                .filter_map(|c| {
                    let (v, m) = c.int();
                    intersect(value, mask, v, m).map(|(v, m)| int_cmp(symbol, v, m))
                })
                .collect();
            match disjuncts.len() {
                0 => Expr::Boolean(false),
                1 => disjuncts.into_iter().next().unwrap_or(Expr::Boolean(false)),
                _ => crush(Expr::Or(disjuncts), symbol),
            }
        }
        _ => {
            // "x && (a0 || a1) && (b0 || b1) && ..." becomes
            // "(xa0b0 || xa0b1 || xa1b0 || xa1b1) && ...".
            let mut rest = ors.into_iter();
            let as_ = rest.next().unwrap_or_default();
            let bs = rest.next().unwrap_or_default();
            let rest: Vec<Expr> = rest.map(Expr::Or).collect();
            let mut product = Vec::new();
            for a in as_.iter().filter_map(cmp_of) {
                let (av, am) = a.int();
                let Some((av, am)) = intersect(value, mask, av, am) else {
                    continue;
                };
                for b in bs.iter().filter_map(cmp_of) {
                    let (bv, bm) = b.int();
                    if let Some((v, m)) = intersect(av, am, bv, bm) {
                        product.push(int_cmp(symbol, v, m));
                    }
                }
            }
            match product.len() {
                0 => Expr::Boolean(false),
                1 => {
                    let cmp = product.pop().unwrap_or(Expr::Boolean(false));
                    if rest.is_empty() {
                        crush(cmp, symbol)
                    } else {
                        let mut v = vec![cmp];
                        v.extend(rest);
                        crush(Expr::And(v), symbol)
                    }
                }
                _ => {
                    if rest.is_empty() {
                        crush(Expr::Or(product), symbol)
                    } else {
                        let mut v = vec![Expr::Or(product)];
                        v.extend(rest);
                        crush(Expr::And(v), symbol)
                    }
                }
            }
        }
    }
}

/// Rank of an expression type in OVN's `enum expr_type` order.
fn type_rank(e: &Expr, has_symbol: bool) -> u8 {
    if has_symbol {
        return 0;
    }
    match e {
        Expr::Cmp(_) => 0,
        Expr::And(_) => 1,
        Expr::Or(_) => 2,
        Expr::Boolean(_) => 3,
        Expr::Condition(_) => 4,
    }
}

/// Sorts the operands of an AND so that terms over the same symbol are
/// adjacent, and crushes each such group (`expr_sort`).
fn sort_and(subs: Vec<Expr>) -> Expr {
    let mut items: Vec<(Option<Arc<Symbol>>, Expr)> = subs
        .into_iter()
        .map(|e| (e.unique_symbol().cloned(), e))
        .collect();
    items.sort_by(|(sa, a), (sb, b)| {
        let ra = type_rank(a, sa.is_some());
        let rb = type_rank(b, sb.is_some());
        ra.cmp(&rb).then_with(|| match (sa, sb) {
            (Some(x), Some(y)) => x.name.as_bytes().cmp(y.name.as_bytes()),
            _ => match (a, b) {
                (Expr::And(x), Expr::And(y)) | (Expr::Or(x), Expr::Or(y)) => x.len().cmp(&y.len()),
                _ => std::cmp::Ordering::Equal,
            },
        })
    });
    let mut out: Vec<Expr> = Vec::new();
    let mut items = items.into_iter().peekable();
    while let Some((sym, e)) = items.next() {
        let Some(sym) = sym else {
            out.push(e);
            continue;
        };
        let mut group = vec![e];
        while let Some((Some(next), _)) = items.peek() {
            if !same_symbol(next, &sym) {
                break;
            }
            if let Some((_, e)) = items.next() {
                group.push(e);
            }
        }
        let combined = if group.len() == 1 {
            group.pop().unwrap_or(Expr::Boolean(true))
        } else {
            Expr::andor(AndOr::And, group)
        };
        match crush(combined, &sym) {
            Expr::Boolean(false) => return Expr::Boolean(false),
            Expr::Boolean(true) => {}
            crushed => out.push(crushed),
        }
    }
    match out.len() {
        0 => Expr::Boolean(true),
        _ => Expr::andor(AndOr::And, out),
    }
}

fn normalize_and(subs: Vec<Expr>) -> Expr {
    let mut subs = match sort_and(subs) {
        Expr::And(v) => v,
        other => return other,
    };
    // Merge adjacent comparisons on one symbol.
    let mut i = 0;
    while i + 1 < subs.len() {
        let merged = match (&subs[i], &subs[i + 1]) {
            (Expr::Cmp(a), Expr::Cmp(b)) if same_symbol(&a.symbol, &b.symbol) => {
                if a.symbol.width > 0 {
                    let (av, am) = a.int();
                    let (bv, bm) = b.int();
                    match intersect(av, am, bv, bm) {
                        Some((v, m)) => Some(int_cmp(&b.symbol, v, m)),
                        None => return Expr::Boolean(false),
                    }
                } else if a.string() == b.string() {
                    Some(subs[i + 1].clone())
                } else {
                    return Expr::Boolean(false);
                }
            }
            _ => None,
        };
        match merged {
            Some(m) => {
                subs[i + 1] = m;
                subs.remove(i);
            }
            None => i += 1,
        }
    }
    if subs.len() == 1 {
        return subs.pop().unwrap_or(Expr::Boolean(true));
    }
    let cross = subs.iter().position(|sub| match sub {
        Expr::Or(_) => sub.unique_symbol().is_none_or(|s| s.must_crossproduct),
        _ => false,
    });
    let Some(idx) = cross else {
        return Expr::And(subs);
    };
    let disjuncts = match &subs[idx] {
        Expr::Or(v) => v.clone(),
        _ => Vec::new(),
    };
    let mut or = Vec::with_capacity(disjuncts.len());
    for k in disjuncts {
        let mut and = Vec::with_capacity(subs.len());
        for (j, m) in subs.iter().enumerate() {
            let term = if j == idx { &k } else { m };
            match term {
                Expr::And(v) => and.extend(v.iter().cloned()),
                t => and.push(t.clone()),
            }
        }
        or.push(Expr::And(and));
    }
    normalize_or(or)
}

fn normalize_or(subs: Vec<Expr>) -> Expr {
    let mut out = Vec::with_capacity(subs.len());
    for sub in subs {
        match sub {
            Expr::And(v) => match normalize_and(v) {
                Expr::Boolean(true) => return Expr::Boolean(true),
                Expr::Boolean(false) => {}
                Expr::Or(v) => out.extend(v),
                e => out.push(e),
            },
            e => out.push(e),
        }
    }
    match out.len() {
        0 => Expr::Boolean(false),
        1 => out.pop().unwrap_or(Expr::Boolean(false)),
        _ => Expr::Or(out),
    }
}

/// Normalizes a simplified expression whose conditions were evaluated
/// (`expr_normalize`).
pub fn normalize(expr: Expr) -> Expr {
    match expr {
        Expr::And(v) => normalize_and(v),
        Expr::Or(v) => normalize_or(v),
        e => e,
    }
}
