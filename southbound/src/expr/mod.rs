//! OVN's match-expression language, as ovn-controller 23.03 compiles it
//! (`lib/lex.c`, `lib/expr.c`, `lib/logical-fields.c`).
//!
//! The pipeline for one logical-flow match, in the order
//! `consider_logical_flow__` runs it:
//!
//! 1. [`parser::parse_with`]: text → [`Expr`], resolving `$address_set`
//!    and `@port_group` names through a [`SetLookup`];
//! 2. [`annotate::annotate`]: add prerequisites, expand predicates and
//!    subfields ([`SymbolTable::ovn`] is the 23.03 symbol table);
//! 3. [`simplify::simplify`]: only `==` comparisons remain;
//! 4. [`simplify::evaluate_conditions`] decides `is_chassis_resident()`;
//! 5. [`normalize::normalize`]: disjunctive normal form, factored for
//!    conjunctive matches;
//! 6. [`flows::to_matches`]: OpenFlow matches ([`OfMatch`], printed as
//!    `ovs-ofctl` does), port names → tunnel keys through a lookup.
//!
//! [`compile`] runs all of them.

pub mod annotate;
pub mod ast;
pub mod eval;
pub mod flows;
mod json_string;
pub mod lexer;
pub mod normalize;
pub mod ofmatch;
pub mod parser;
pub mod simplify;
pub mod symtab;
pub(crate) mod util;

pub use ast::{AndOr, Cmp, CmpValue, Condition, Expr, Relop};
pub use flows::{to_matches, Conjunction, ExprMatch, Matches};
pub use lexer::{LexFormat, Lexer, Token, TokenKind};
pub use ofmatch::{OfMatch, Slot};
pub use parser::{parse_with, parse_with_refs, ConstSets, IntConstant, References, SetLookup};
pub use symtab::{Field, Level, Symbol, SymbolKind, SymbolTable};

/// What compiling a match needs from its environment.
pub struct CompileContext<'a> {
    /// Symbols (normally [`SymbolTable::ovn`]).
    pub symtab: &'a SymbolTable,
    /// Address sets and port groups.
    pub sets: Option<&'a dyn SetLookup>,
    /// Tunnel key of the logical datapath (used to find port groups).
    pub dp_id: i64,
    /// Port name → tunnel key, for `inport`/`outport` comparisons.
    pub lookup_port: &'a dyn Fn(&str) -> Option<u32>,
    /// Whether a port is resident on this chassis.
    pub is_chassis_resident: &'a dyn Fn(&str) -> bool,
}

/// Compiles a logical-flow match into OpenFlow matches, AND-ing in extra
/// prerequisites (e.g. those implied by the flow's actions).
pub fn compile(
    input: &str,
    prereqs: Option<Expr>,
    ctx: &CompileContext<'_>,
) -> Result<Matches, String> {
    let (expr, _) = normalized(input, prereqs, ctx)?;
    Ok(to_matches(&expr, ctx.lookup_port))
}

/// The steps of [`compile`] before the OpenFlow matches: the normalized
/// expression, and whether it depends on the datapath (`ctx.dp_id`: the
/// match names a port group, which is looked up per datapath).  One that
/// does not is the same on every datapath of a datapath group, so that
/// only [`to_matches`] (port names → keys of that datapath) is per
/// datapath.
pub fn normalized(
    input: &str,
    prereqs: Option<Expr>,
    ctx: &CompileContext<'_>,
) -> Result<(Expr, bool), String> {
    let (expr, refs) = parse_with_refs(input, ctx.symtab, ctx.sets, ctx.dp_id)?;
    let per_datapath = !refs.port_groups.is_empty();
    let expr = Expr::combine(AndOr::And, Some(expr), prereqs).unwrap_or(Expr::Boolean(true));
    let expr = annotate::annotate(expr, ctx.symtab)?;
    let expr = simplify::simplify(expr);
    let expr = simplify::evaluate_conditions(expr, ctx.is_chassis_resident);
    Ok((normalize::normalize(expr), per_datapath))
}
