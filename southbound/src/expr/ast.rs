//! Expression tree of OVN's match language (`struct expr` in
//! `include/ovn/expr.h`) and its textual form (`expr_format` in
//! `lib/expr.c`).
//!
//! Invariants kept by every constructor here, as in OVN: an `And` or `Or`
//! has at least two operands and no operand of its own kind; an integer
//! comparison has no 1-bit in its value outside its mask.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use super::lexer::json_escape;
use super::symtab::Symbol;
use super::util::{bitwise_range, format_hex};

/// A relational operator (`enum expr_relop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Relop {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Relop {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Relop::Eq => "==",
            Relop::Ne => "!=",
            Relop::Lt => "<",
            Relop::Le => "<=",
            Relop::Gt => ">",
            Relop::Ge => ">=",
        }
    }

    /// The operator with operands swapped: `a < b` is `b > a`.
    pub fn turn(self) -> Relop {
        match self {
            Relop::Lt => Relop::Gt,
            Relop::Le => Relop::Ge,
            Relop::Gt => Relop::Lt,
            Relop::Ge => Relop::Le,
            r => r,
        }
    }

    /// The logical negation of the operator.
    pub fn invert(self) -> Relop {
        match self {
            Relop::Eq => Relop::Ne,
            Relop::Ne => Relop::Eq,
            Relop::Lt => Relop::Ge,
            Relop::Le => Relop::Gt,
            Relop::Gt => Relop::Le,
            Relop::Ge => Relop::Lt,
        }
    }

    /// Whether the operator holds for a three-way comparison result.
    pub fn test(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Relop::Eq => ord == Equal,
            Relop::Ne => ord != Equal,
            Relop::Lt => ord == Less,
            Relop::Le => ord != Greater,
            Relop::Gt => ord == Greater,
            Relop::Ge => ord != Less,
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CmpValue {
    /// Integer field: compare `field & mask` with `value`, both already
    /// shifted to the symbol's bit positions.
    Int {
        /// Value bits (subset of `mask`).
        value: u128,
        /// Which bits of the field are compared.
        mask: u128,
    },
    /// String field (e.g. `inport`): the port name.
    Str(String),
}

/// A comparison `symbol relop value` (`EXPR_T_CMP`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cmp {
    /// The field compared.
    pub symbol: Arc<Symbol>,
    /// The operator.
    pub relop: Relop,
    /// The constant.
    pub value: CmpValue,
}

impl Cmp {
    /// Integer value and mask; `(0, 0)` for string comparisons.
    pub fn int(&self) -> (u128, u128) {
        match self.value {
            CmpValue::Int { value, mask } => (value, mask),
            CmpValue::Str(_) => (0, 0),
        }
    }

    /// The string constant, if this is a string comparison.
    pub fn string(&self) -> Option<&str> {
        match &self.value {
            CmpValue::Str(s) => Some(s),
            CmpValue::Int { .. } => None,
        }
    }
}

/// A condition evaluated on the chassis at flow-compile time
/// (`EXPR_T_CONDITION`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Condition {
    /// Whether the result is negated.
    pub not: bool,
    /// The port named in `is_chassis_resident("port")`.
    pub port: String,
}

/// An OVN match expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A comparison.
    Cmp(Cmp),
    /// Conjunction of two or more operands.
    And(Vec<Expr>),
    /// Disjunction of two or more operands.
    Or(Vec<Expr>),
    /// A constant.
    Boolean(bool),
    /// `is_chassis_resident(...)`, possibly negated.
    Condition(Condition),
}

/// Which of the two n-ary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AndOr {
    /// `&&`
    And,
    /// `||`
    Or,
}

impl Expr {
    /// Builds an `And` or `Or` from operands, flattening nested operands of
    /// the same kind and collapsing a single operand.  An empty list becomes
    /// the operator's identity (`1` for AND, `0` for OR).
    pub fn andor(kind: AndOr, subs: Vec<Expr>) -> Expr {
        let mut out = Vec::with_capacity(subs.len());
        for s in subs {
            match (kind, s) {
                (AndOr::And, Expr::And(v)) | (AndOr::Or, Expr::Or(v)) => out.extend(v),
                (_, s) => out.push(s),
            }
        }
        match out.len() {
            0 => Expr::Boolean(kind == AndOr::And),
            1 => out.pop().unwrap_or(Expr::Boolean(true)),
            _ => match kind {
                AndOr::And => Expr::And(out),
                AndOr::Or => Expr::Or(out),
            },
        }
    }

    /// Combines `a` and `b` with `kind`, appending to an existing node of
    /// the same kind (`expr_combine`).  `None` operands are skipped.
    pub fn combine(kind: AndOr, a: Option<Expr>, b: Option<Expr>) -> Option<Expr> {
        match (a, b) {
            (None, b) => b,
            (a, None) => a,
            (Some(a), Some(b)) => Some(Expr::andor(kind, vec![a, b])),
        }
    }

    /// The kind of an `And`/`Or` node.
    pub fn andor_kind(&self) -> Option<AndOr> {
        match self {
            Expr::And(_) => Some(AndOr::And),
            Expr::Or(_) => Some(AndOr::Or),
            _ => None,
        }
    }

    /// Logical negation in place, pushed down to the leaves with De Morgan
    /// (`expr_not`).
    pub fn negate(&mut self) {
        match self {
            Expr::Cmp(c) => c.relop = c.relop.invert(),
            Expr::And(v) | Expr::Or(v) => {
                for s in v.iter_mut() {
                    s.negate();
                }
                let v = std::mem::take(v);
                *self = if matches!(self, Expr::And(_)) {
                    Expr::Or(v)
                } else {
                    Expr::And(v)
                };
            }
            Expr::Boolean(b) => *b = !*b,
            Expr::Condition(c) => c.not = !c.not,
        }
    }

    /// If every comparison in this expression is over one symbol, that
    /// symbol (`expr_get_unique_symbol`).
    pub fn unique_symbol(&self) -> Option<&Arc<Symbol>> {
        match self {
            Expr::Cmp(c) => Some(&c.symbol),
            Expr::And(v) | Expr::Or(v) => {
                let mut prev: Option<&Arc<Symbol>> = None;
                for s in v {
                    let sym = s.unique_symbol()?;
                    if let Some(p) = prev {
                        if !Arc::ptr_eq(p, sym) && p.name != sym.name {
                            return None;
                        }
                    }
                    prev = Some(sym);
                }
                prev
            }
            Expr::Boolean(_) | Expr::Condition(_) => None,
        }
    }

    /// Whether the OVN structural invariants hold
    /// (`expr_honors_invariants`).
    pub fn honors_invariants(&self) -> bool {
        match self {
            Expr::Cmp(c) => {
                let (v, m) = c.int();
                v & !m == 0
            }
            Expr::And(v) | Expr::Or(v) => {
                v.len() >= 2
                    && v.iter()
                        .all(|s| s.andor_kind() != self.andor_kind() && s.honors_invariants())
            }
            Expr::Boolean(_) | Expr::Condition(_) => true,
        }
    }

    /// Whether the expression is in the form [`super::normalize`] returns
    /// (`expr_is_normalized`).
    pub fn is_normalized(&self) -> bool {
        let and_ok = |v: &[Expr]| v.iter().all(|s| s.unique_symbol().is_some());
        match self {
            Expr::Cmp(_) | Expr::Boolean(_) => true,
            Expr::And(v) => and_ok(v),
            Expr::Or(v) => {
                self.unique_symbol().is_some()
                    || v.iter().all(|s| {
                        s.unique_symbol().is_some() || matches!(s, Expr::And(a) if and_ok(a))
                    })
            }
            Expr::Condition(_) => false,
        }
    }
}

fn format_cmp(c: &Cmp, out: &mut String) {
    let name = &c.symbol.name;
    let width = c.symbol.width;
    let (value, mask) = match &c.value {
        CmpValue::Str(s) => {
            let _ = write!(out, "{} {} ", name, c.relop.as_str());
            json_escape(s, out);
            return;
        }
        CmpValue::Int { value, mask } => (*value, *mask),
    };
    let (ofs, n) = bitwise_range(mask, width);
    if n == 1 && matches!(c.relop, Relop::Eq | Relop::Ne) {
        let positive = ((value >> ofs) & 1 == 1) ^ (c.relop == Relop::Ne);
        if !positive {
            out.push('!');
        }
        out.push_str(name);
        if width > 1 {
            let _ = write!(out, "[{ofs}]");
        }
        return;
    }
    out.push_str(name);
    if n > 0 && n < width {
        if n > 1 {
            let _ = write!(out, "[{}..{}]", ofs, ofs + n - 1);
        } else {
            let _ = write!(out, "[{ofs}]");
        }
    }
    let _ = write!(out, " {} ", c.relop.as_str());
    if n > 0 {
        out.push_str(&format_hex(value >> ofs));
    } else {
        let _ = write!(out, "{}/{}", format_hex(value), format_hex(mask));
    }
}

fn format_expr(e: &Expr, out: &mut String) {
    match e {
        Expr::Cmp(c) => format_cmp(c, out),
        Expr::And(v) | Expr::Or(v) => {
            let op = if matches!(e, Expr::And(_)) {
                " && "
            } else {
                " || "
            };
            for (i, s) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(op);
                }
                if matches!(s, Expr::And(_) | Expr::Or(_)) {
                    out.push('(');
                    format_expr(s, out);
                    out.push(')');
                } else {
                    format_expr(s, out);
                }
            }
        }
        Expr::Boolean(b) => out.push(if *b { '1' } else { '0' }),
        Expr::Condition(c) => {
            if c.not {
                out.push('!');
            }
            out.push_str("is_chassis_resident(");
            json_escape(&c.port, out);
            out.push(')');
        }
    }
}

impl fmt::Display for Expr {
    /// OVN's re-parseable text form (`expr_format`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        format_expr(self, &mut s);
        f.write_str(&s)
    }
}
