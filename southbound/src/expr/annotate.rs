//! Annotation (`expr_annotate` in `lib/expr.c`, OVN 23.03): adds each
//! symbol's prerequisites, replaces subfield symbols by their parent field
//! (shifting value and mask), and expands predicates into the expressions
//! they stand for.  Prerequisites and predicates are themselves parsed and
//! annotated recursively; a symbol that (indirectly) refers to itself is an
//! error.

use std::collections::BTreeSet;

use super::ast::{AndOr, Cmp, CmpValue, Expr, Relop};
use super::parser::parse_with;
use super::symtab::{Symbol, SymbolTable};

/// Annotates `expr` with `symtab`.  On failure returns OVN's message, e.g.
/// "Error parsing expression `xyzzy' encountered as prerequisite or
/// predicate of initial expression: Syntax error at `xyzzy' expecting field
/// name."
pub fn annotate(expr: Expr, symtab: &SymbolTable) -> Result<Expr, String> {
    let mut nesting = BTreeSet::new();
    annotate_expr(expr, symtab, true, &mut nesting)
}

/// The prerequisites of `symbol` and of each symbol it is a subfield of,
/// parsed and annotated, AND-ed in that order (as `expr_field_parse` adds
/// them for fields used in actions).
pub(crate) fn field_prereqs(symbol: &Symbol, symtab: &SymbolTable) -> Result<Option<Expr>, String> {
    let mut out = None;
    let mut current = Some(symbol);
    while let Some(sym) = current {
        if let Some(p) = &sym.prereqs {
            let mut nesting = BTreeSet::new();
            let e = parse_and_annotate(p, symtab, &mut nesting)?;
            out = Expr::combine(AndOr::And, out, Some(e));
        }
        current = sym.parent().map(|(parent, _)| parent.as_ref());
    }
    Ok(out)
}

fn parse_and_annotate(
    s: &str,
    symtab: &SymbolTable,
    nesting: &mut BTreeSet<String>,
) -> Result<Expr, String> {
    // The result depends on the text and on the symbols being expanded
    // (a recursion error); only successes are kept.
    let mut key = String::with_capacity(s.len() + 32);
    key.push_str(s);
    for n in nesting.iter() {
        key.push('\0');
        key.push_str(n);
    }
    if let Some(e) = symtab.expansions().get(&key) {
        return Ok(e);
    }
    let r = parse_and_annotate_uncached(s, symtab, nesting);
    if let Ok(e) = &r {
        symtab.expansions().put(key, e);
    }
    r
}

fn parse_and_annotate_uncached(
    s: &str,
    symtab: &SymbolTable,
    nesting: &mut BTreeSet<String>,
) -> Result<Expr, String> {
    parse_with(s, symtab, None, 0)
        .and_then(|e| annotate_expr(e, symtab, true, nesting))
        .map_err(|error| {
            format!("Error parsing expression `{s}' encountered as prerequisite or predicate of initial expression: {error}")
        })
}

fn prereqs_of(
    symbol: &Symbol,
    symtab: &SymbolTable,
    nesting: &mut BTreeSet<String>,
) -> Result<Option<Expr>, String> {
    match &symbol.prereqs {
        Some(p) => parse_and_annotate(p, symtab, nesting).map(Some),
        None => Ok(None),
    }
}

fn annotate_cmp(
    mut cmp: Cmp,
    symtab: &SymbolTable,
    append_prereqs: bool,
    nesting: &mut BTreeSet<String>,
) -> Result<Expr, String> {
    // Nothing to expand (a plain field, its prerequisites added already,
    // e.g. each member of an address set): kept as it is.  Such a symbol
    // cannot be the one being expanded (that one has a predicate or
    // prerequisites), so the recursion check has nothing to find.
    if (!append_prereqs || cmp.symbol.prereqs.is_none())
        && cmp.symbol.parent().is_none()
        && cmp.symbol.predicate().is_none()
        && !nesting.contains(&cmp.symbol.name)
    {
        return Ok(Expr::Cmp(cmp));
    }
    let symbol = cmp.symbol.clone();
    if !nesting.insert(symbol.name.clone()) {
        return Err(format!("Recursive expansion of symbol `{}'.", symbol.name));
    }
    let result = (|| {
        let prereqs = if append_prereqs {
            prereqs_of(&symbol, symtab, nesting)?
        } else {
            None
        };
        let expr = if let Some((parent, ofs)) = symbol.parent() {
            if let CmpValue::Int { value, mask } = &mut cmp.value {
                *value <<= ofs;
                *mask <<= ofs;
            }
            cmp.symbol = parent.clone();
            Expr::Cmp(cmp)
        } else if let Some(predicate) = symbol.predicate() {
            let mut e = parse_and_annotate(predicate, symtab, nesting)?;
            let (value, _) = cmp.int();
            let positive = (value & 1 == 1) ^ (cmp.relop == Relop::Ne);
            if !positive {
                e.negate();
            }
            e
        } else {
            Expr::Cmp(cmp)
        };
        Ok(Expr::combine(AndOr::And, Some(expr), prereqs).unwrap_or(Expr::Boolean(true)))
    })();
    nesting.remove(&symbol.name);
    result
}

fn annotate_expr(
    expr: Expr,
    symtab: &SymbolTable,
    mut append_prereqs: bool,
    nesting: &mut BTreeSet<String>,
) -> Result<Expr, String> {
    match expr {
        Expr::Cmp(c) => annotate_cmp(c, symtab, append_prereqs, nesting),
        Expr::And(_) | Expr::Or(_) => {
            let mut expr = expr;
            // When every term is over one symbol, its prerequisites are
            // applied once, at this level.
            if append_prereqs {
                if let Some(sym) = expr.unique_symbol().cloned() {
                    append_prereqs = false;
                    let prereqs = prereqs_of(&sym, symtab, nesting)?;
                    expr = Expr::combine(AndOr::And, Some(expr), prereqs)
                        .unwrap_or(Expr::Boolean(true));
                }
            }
            let kind = expr.andor_kind().unwrap_or(AndOr::And);
            let subs = match expr {
                Expr::And(v) | Expr::Or(v) => v,
                other => return Ok(other),
            };
            let mut out = Vec::with_capacity(subs.len());
            for sub in subs {
                out.push(annotate_expr(sub, symtab, append_prereqs, nesting)?);
            }
            Ok(Expr::andor(kind, out))
        }
        Expr::Boolean(_) | Expr::Condition(_) => Ok(expr),
    }
}
