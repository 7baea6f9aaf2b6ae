//! Conversion of a normalized expression into OpenFlow matches
//! (`expr_to_matches` in `lib/expr.c`, OVN 23.03), including conjunctive
//! matches.
//!
//! * A comparison or a conjunction of comparisons gives one match.
//! * A conjunction with exactly one disjunction gives one match per
//!   disjunct.
//! * A conjunction with two or more disjunctions gives a conjunctive match:
//!   each disjunct of clause `k` is a match carrying `conjunction(id, k/n)`,
//!   plus one match on `conj_id=id` that carries the flow's real actions.
//! * Identical matches are merged: their conjunction lists are concatenated,
//!   and a plain match absorbs any conjunctive one.
//!
//! Conjunction ids are numbered from 1 per expression; the caller offsets
//! them (ovn-controller adds a per-flow base, `expr_matches_prepare`).
//! String fields (`inport`, `outport`) are translated through the caller's
//! port lookup; a name it does not know makes that disjunct match nothing.

use std::fmt;

use super::ast::{Cmp, CmpValue, Expr};
use super::ofmatch::OfMatch;

/// One `conjunction(id, clause/n_clauses)` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Conjunction {
    /// Conjunction id, from 1 (before the caller's offset).
    pub id: u32,
    /// Clause index, from 0.
    pub clause: u8,
    /// Number of clauses.
    pub n_clauses: u8,
}

/// One OpenFlow match produced from an expression (`struct expr_match`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExprMatch {
    /// The match.
    pub of_match: OfMatch,
    /// Conjunction actions; empty for an ordinary flow (which, if it
    /// matches `conj_id`, is the flow that carries the real actions).
    pub conjunctions: Vec<Conjunction>,
}

impl fmt::Display for ExprMatch {
    /// `match[: conjunction(id, k/n)[, ...]]`, as `ovstest test-ovn
    /// expr-to-flows` prints (`expr_matches_print`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.of_match)?;
        for (i, c) in self.conjunctions.iter().enumerate() {
            let sep = if i == 0 { ':' } else { ',' };
            write!(
                f,
                "{sep} conjunction({}, {}/{})",
                c.id, c.clause, c.n_clauses
            )?;
        }
        Ok(())
    }
}

/// The matches of one expression, in insertion order, with the number of
/// conjunction ids used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matches {
    /// The matches.
    pub matches: Vec<ExprMatch>,
    /// Number of conjunction ids consumed (ids `1..=n_conjs`).
    pub n_conjs: u32,
}

/// [`Matches`] being built: identical matches are found by hash (a chain
/// of the matches with one hash), without a copy of each match as key.
#[derive(Default)]
struct Builder {
    out: Matches,
    /// Hash → the last match added with it.
    index: super::util::HashIndex<usize>,
    /// Per match, the previous one with its hash (`usize::MAX`: none).
    chain: Vec<usize>,
}

impl Builder {
    /// Adds a match, merging with an identical one (`expr_match_add`).
    fn add(&mut self, of_match: OfMatch, conjunction: Option<Conjunction>) {
        let h = of_match.fast_hash();
        let mut at = self.index.get(&h).copied().unwrap_or(usize::MAX);
        while at != usize::MAX {
            if self.out.matches[at].of_match == of_match {
                let existing = &mut self.out.matches[at];
                match conjunction {
                    Some(c) if !existing.conjunctions.is_empty() => existing.conjunctions.push(c),
                    _ => existing.conjunctions.clear(),
                }
                return;
            }
            at = self.chain[at];
        }
        let i = self.out.matches.len();
        self.chain
            .push(self.index.insert(h, i).unwrap_or(usize::MAX));
        self.out.matches.push(ExprMatch {
            of_match,
            conjunctions: conjunction.into_iter().collect(),
        });
    }
}

impl Matches {
    /// Whether there are no matches (the expression can never match).
    pub fn is_empty(&self) -> bool {
        self.matches.is_empty()
    }

    /// Adds `offset` to every conjunction id and `conj_id`
    /// (`expr_matches_prepare`).
    pub fn offset_conj_ids(&mut self, offset: u32) {
        for m in &mut self.matches {
            if let Some((v, _)) = m.of_match.get(super::ofmatch::Slot::ConjId) {
                m.of_match.set_conj_id((v as u32).wrapping_add(offset));
            }
            for c in &mut m.conjunctions {
                c.id = c.id.wrapping_add(offset);
            }
        }
    }

    /// Sorted text lines, one per match, or `(no flows)`; the format of
    /// `ovstest test-ovn expr-to-flows | sort`.
    pub fn to_sorted_lines(&self) -> Vec<String> {
        if self.matches.is_empty() {
            return vec!["(no flows)".to_string()];
        }
        let mut lines: Vec<String> = self.matches.iter().map(ToString::to_string).collect();
        lines.sort();
        lines
    }
}

/// Applies comparison `cmp` to `m`, replacing any existing constraint on
/// its field (`constrain_match`).  Returns false if a string constant names
/// an unknown port.
fn constrain(cmp: &Cmp, lookup_port: &dyn Fn(&str) -> Option<u32>, m: &mut OfMatch) -> bool {
    let Some(field) = cmp.symbol.field() else {
        // Subfields and predicates were removed by annotation; OVN-only
        // fields have no OpenFlow match.
        return true;
    };
    match &cmp.value {
        CmpValue::Int { value, mask } => m.set_field(field, *value, *mask),
        CmpValue::Str(name) => match lookup_port(name) {
            Some(port) => m.set_field(field, u128::from(port), u128::from(u32::MAX)),
            None => return false,
        },
    }
    true
}

fn add_cmp_flow(cmp: &Cmp, lookup_port: &dyn Fn(&str) -> Option<u32>, out: &mut Builder) {
    let mut m = OfMatch::new();
    if constrain(cmp, lookup_port, &mut m) {
        out.add(m, None);
    }
}

fn add_disjunction(
    or: &[Expr],
    lookup_port: &dyn Fn(&str) -> Option<u32>,
    base: &OfMatch,
    conjunction: Option<Conjunction>,
    out: &mut Builder,
) -> bool {
    let mut n = 0;
    for sub in or {
        let Expr::Cmp(c) = sub else { continue };
        // Room for the clause's slot and, later, the datapath's metadata.
        let mut m = base.clone_with_room(2);
        if constrain(c, lookup_port, &mut m) {
            out.add(m, conjunction);
            n += 1;
        }
    }
    n > 0
}

fn add_conjunction(and: &[Expr], lookup_port: &dyn Fn(&str) -> Option<u32>, out: &mut Builder) {
    let mut base = OfMatch::new();
    let mut n_clauses = 0usize;
    for sub in and {
        match sub {
            Expr::Cmp(c) if !constrain(c, lookup_port, &mut base) => return,
            Expr::Or(_) => n_clauses += 1,
            _ => {}
        }
    }
    let ors = and.iter().filter_map(|s| match s {
        Expr::Or(v) => Some(v.as_slice()),
        _ => None,
    });
    match n_clauses {
        0 => out.add(base, None),
        1 => {
            for or in ors {
                add_disjunction(or, lookup_port, &base, None, out);
            }
        }
        n => {
            out.out.n_conjs += 1;
            let id = out.out.n_conjs;
            for (clause, or) in ors.enumerate() {
                let c = Conjunction {
                    id,
                    clause: clause as u8,
                    n_clauses: n as u8,
                };
                if !add_disjunction(or, lookup_port, &base, Some(c), out) {
                    // This clause never matches, so neither does the
                    // conjunction; OVN leaves earlier clauses in place.
                    return;
                }
            }
            let mut m = base;
            m.set_conj_id(id);
            out.add(m, None);
        }
    }
}

/// Converts a normalized expression (see [`super::normalize`]) into
/// matches, translating port names with `lookup_port`.
pub fn to_matches(expr: &Expr, lookup_port: &dyn Fn(&str) -> Option<u32>) -> Matches {
    let mut out = Builder::default();
    match expr {
        Expr::Cmp(c) => add_cmp_flow(c, lookup_port, &mut out),
        Expr::And(v) => add_conjunction(v, lookup_port, &mut out),
        Expr::Or(v) => {
            let single = expr.unique_symbol().is_some();
            for sub in v {
                match sub {
                    Expr::And(a) if !single => add_conjunction(a, lookup_port, &mut out),
                    Expr::Cmp(c) => add_cmp_flow(c, lookup_port, &mut out),
                    _ => {}
                }
            }
        }
        Expr::Boolean(true) => out.add(OfMatch::new(), None),
        Expr::Boolean(false) | Expr::Condition(_) => {}
    }
    out.out
}
