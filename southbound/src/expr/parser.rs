//! Parser for OVN match expressions (`expr_parse` and helpers in
//! `lib/expr.c` of OVN 23.03), with the same error messages.
//!
//! Address sets (`$name`) and port groups (`@name`) are resolved through
//! the caller's [`SetLookup`]; a port group is looked up first under its
//! southbound name `"<datapath tunnel key>_<name>"`, then under the plain
//! name, as ovn-controller does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::ast::{AndOr, Cmp, CmpValue, Condition, Expr, Relop};
use super::lexer::{LexFormat, Lexer, TokenKind};
use super::symtab::{Level, Symbol, SymbolTable};
use super::util::{bit_width, low_bits};

/// Maximum nesting of parentheses (`MAX_PAREN_DEPTH`).
const MAX_PAREN_DEPTH: u32 = 100;

/// An integer constant as written (`union expr_constant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntConstant {
    /// The value.
    pub value: u128,
    /// The mask, for a masked constant such as `10.0.0.0/8`.
    pub mask: Option<u128>,
    /// The notation it was written in.
    pub format: LexFormat,
    /// Significant bits of a hexadecimal constant wider than 128 bits
    /// (`value` holds its low 128 bits); 0 otherwise.
    pub wide_bits: u32,
}

impl IntConstant {
    /// Lexes one constant such as `10.0.0.1`, `::1/64` or
    /// `00:00:00:00:00:01`; `None` if the text does not start with one.
    pub fn parse(text: &str) -> Option<IntConstant> {
        let mut lexer = Lexer::new(text);
        match lexer.get() {
            TokenKind::Integer => Some(IntConstant {
                value: lexer.token.value,
                mask: None,
                format: lexer.token.format,
                wide_bits: lexer.token.wide_bits,
            }),
            TokenKind::MaskedInteger => Some(IntConstant {
                value: lexer.token.value,
                mask: Some(lexer.token.mask),
                format: lexer.token.format,
                wide_bits: 0,
            }),
            _ => None,
        }
    }

    /// The minimum width a field needs to hold this constant
    /// (`expr_constant_width`).
    pub(crate) fn width(&self) -> u32 {
        if self.wide_bits > 0 {
            return self.wide_bits;
        }
        if let Some(m) = self.mask {
            return bit_width(m);
        }
        match self.format {
            LexFormat::Decimal | LexFormat::Hexadecimal => bit_width(self.value),
            LexFormat::Ipv4 => 32,
            LexFormat::Ipv6 => 128,
            LexFormat::Ethernet => 48,
        }
    }

    /// Sort key of `compare_expr_constant_integer_cb`: value, then masked
    /// before unmasked, then mask.
    fn sort_key(&self) -> (u128, u8, u128) {
        (
            self.value,
            u8::from(self.mask.is_none()),
            self.mask.unwrap_or(0),
        )
    }
}

/// Resolves `$address_set` and `@port_group` names.
pub trait SetLookup {
    /// The members of an address set.
    fn address_set(&self, name: &str) -> Option<&[IntConstant]>;
    /// The member port names of a port group.
    fn port_group(&self, name: &str) -> Option<&[String]>;
}

/// A simple in-memory [`SetLookup`] (OVN's `struct shash` of constant sets).
#[derive(Debug, Clone, Default)]
pub struct ConstSets {
    address_sets: BTreeMap<String, Vec<IntConstant>>,
    port_groups: BTreeMap<String, Vec<String>>,
}

impl ConstSets {
    /// No sets.
    pub fn new() -> ConstSets {
        ConstSets::default()
    }

    /// Adds or replaces an address set from textual addresses; entries that
    /// are not constants are skipped and the rest sorted, as
    /// `expr_const_sets_add_integers` does.
    pub fn add_address_set<S: AsRef<str>>(&mut self, name: &str, values: &[S]) {
        let mut v: Vec<IntConstant> = values
            .iter()
            .filter_map(|s| IntConstant::parse(s.as_ref()))
            .collect();
        v.sort_by_key(IntConstant::sort_key);
        self.address_sets.insert(name.to_string(), v);
    }

    /// Adds or replaces a port group (`expr_const_sets_add_strings`).
    pub fn add_port_group<S: AsRef<str>>(&mut self, name: &str, ports: &[S]) {
        self.port_groups.insert(
            name.to_string(),
            ports.iter().map(|s| s.as_ref().to_string()).collect(),
        );
    }

    /// Removes an address set.
    pub fn remove_address_set(&mut self, name: &str) {
        self.address_sets.remove(name);
    }

    /// Removes a port group.
    pub fn remove_port_group(&mut self, name: &str) {
        self.port_groups.remove(name);
    }
}

impl SetLookup for ConstSets {
    fn address_set(&self, name: &str) -> Option<&[IntConstant]> {
        self.address_sets.get(name).map(Vec::as_slice)
    }

    fn port_group(&self, name: &str) -> Option<&[String]> {
        self.port_groups.get(name).map(Vec::as_slice)
    }
}

/// Names of the sets an expression referred to (OVN `addr_sets_ref` and
/// `port_groups_ref`), for incremental recomputation by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// Address-set names, with the number of references to each.
    pub address_sets: BTreeMap<String, usize>,
    /// Port-group names looked up (southbound and, on fallback, plain).
    pub port_groups: BTreeSet<String>,
}

/// A field or subfield reference such as `vlan.tci[0..11]`
/// (`struct expr_field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// The symbol.
    pub symbol: Arc<Symbol>,
    /// Offset of the low bit.
    pub ofs: u32,
    /// Number of bits (0 for a string field).
    pub n_bits: u32,
}

/// Constants parsed from a single constant or `{...}`
/// (`struct expr_constant_set`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ConstantSet {
    pub(crate) ints: Vec<IntConstant>,
    pub(crate) strings: Vec<String>,
    pub(crate) is_string: bool,
    pub(crate) in_curlies: bool,
}

impl ConstantSet {
    pub(crate) fn len(&self) -> usize {
        if self.is_string {
            self.strings.len()
        } else {
            self.ints.len()
        }
    }
}

pub(crate) struct Parser<'a, 'l> {
    lexer: &'l mut Lexer<'a>,
    symtab: &'l SymbolTable,
    sets: Option<&'l dyn SetLookup>,
    refs: References,
    dp_id: i64,
    not: bool,
    paren_depth: u32,
}

impl<'a, 'l> Parser<'a, 'l> {
    /// A parser reading from `lexer` without address sets or port groups,
    /// as OVN's action parser uses for fields and constants.
    pub(crate) fn new(lexer: &'l mut Lexer<'a>, symtab: &'l SymbolTable) -> Parser<'a, 'l> {
        Parser {
            lexer,
            symtab,
            sets: None,
            refs: References::default(),
            dp_id: 0,
            not: false,
            paren_depth: 0,
        }
    }

    pub(crate) fn parse_field(&mut self) -> Option<FieldRef> {
        if self.lexer.token.kind != TokenKind::Id {
            self.lexer.syntax_error(Some("expecting field name"));
            return None;
        }
        let Some(symbol) = self.symtab.get(&self.lexer.token.text).cloned() else {
            self.lexer.syntax_error(Some("expecting field name"));
            return None;
        };
        self.lexer.get();
        if !self.lexer.match_kind(TokenKind::LSquare) {
            return Some(FieldRef {
                n_bits: symbol.width,
                symbol,
                ofs: 0,
            });
        }
        if symbol.width == 0 {
            self.lexer.error(format!(
                "Cannot select subfield of string field {}.",
                symbol.name
            ));
            return None;
        }
        let low = self.lexer.force_int()?;
        let high = if self.lexer.match_kind(TokenKind::Ellipsis) {
            self.lexer.force_int()?
        } else {
            low
        };
        if !self.lexer.force_match(TokenKind::RSquare) {
            return None;
        }
        let width = symbol.width as i32;
        if low > high {
            self.lexer
                .error(format!("Invalid bit range {low} to {high}."));
            return None;
        } else if high >= width {
            self.lexer.error(format!(
                "Cannot select bits {} to {} of {}-bit field {}.",
                low, high, width, symbol.name
            ));
            return None;
        } else if symbol.level == Level::Nominal && (low != 0 || high != width - 1) {
            self.lexer.error(format!(
                "Cannot select subfield of nominal field {}.",
                symbol.name
            ));
            return None;
        }
        Some(FieldRef {
            symbol,
            ofs: low as u32,
            n_bits: (high - low + 1) as u32,
        })
    }

    fn relop_of(kind: TokenKind) -> Option<Relop> {
        Some(match kind {
            TokenKind::Eq => Relop::Eq,
            TokenKind::Ne => Relop::Ne,
            TokenKind::Lt => Relop::Lt,
            TokenKind::Le => Relop::Le,
            TokenKind::Gt => Relop::Gt,
            TokenKind::Ge => Relop::Ge,
            _ => return None,
        })
    }

    fn parse_relop(&mut self) -> Option<Relop> {
        match Self::relop_of(self.lexer.token.kind) {
            Some(r) => {
                self.lexer.get();
                Some(r)
            }
            None => {
                self.lexer
                    .syntax_error(Some("expecting relational operator"));
                None
            }
        }
    }

    fn assign_type(&mut self, cs: &mut ConstantSet, is_string: bool) -> bool {
        if cs.len() == 0 || cs.is_string == is_string {
            cs.is_string = is_string;
            true
        } else {
            let want = if cs.is_string { "string" } else { "integer" };
            self.lexer.syntax_error(Some(&format!("expecting {want}")));
            false
        }
    }

    pub(crate) fn parse_constant(&mut self, cs: &mut ConstantSet) -> bool {
        let token = &self.lexer.token;
        match token.kind {
            TokenKind::Template => {
                self.lexer.error("Unexpanded template.");
                false
            }
            TokenKind::String => {
                if !self.assign_type(cs, true) {
                    return false;
                }
                cs.strings.push(self.lexer.token.text.clone());
                self.lexer.get();
                true
            }
            TokenKind::Integer | TokenKind::MaskedInteger => {
                if !self.assign_type(cs, false) {
                    return false;
                }
                let t = &self.lexer.token;
                cs.ints.push(IntConstant {
                    value: t.value,
                    mask: (t.kind == TokenKind::MaskedInteger).then_some(t.mask),
                    format: t.format,
                    wide_bits: t.wide_bits,
                });
                self.lexer.get();
                true
            }
            TokenKind::Macro => {
                let name = token.text.clone();
                *self.refs.address_sets.entry(name.clone()).or_insert(0) += 1;
                let Some(values) = self.sets.and_then(|s| s.address_set(&name)) else {
                    self.lexer.syntax_error(Some("expecting address set name"));
                    return false;
                };
                if !self.assign_type(cs, false) {
                    return false;
                }
                cs.ints.extend_from_slice(values);
                self.lexer.get();
                true
            }
            TokenKind::PortGroup => {
                let name = token.text.clone();
                let sb_name = format!("{}_{}", self.dp_id, name);
                self.refs.port_groups.insert(sb_name.clone());
                let mut ports = None;
                if let Some(sets) = self.sets {
                    ports = sets.port_group(&sb_name);
                    if ports.is_none() {
                        ports = sets.port_group(&name);
                        self.refs.port_groups.insert(name.clone());
                    }
                }
                let Some(ports) = ports else {
                    self.lexer.syntax_error(Some("expecting port group name"));
                    return false;
                };
                if !self.assign_type(cs, true) {
                    return false;
                }
                cs.strings.extend(ports.iter().cloned());
                self.lexer.get();
                true
            }
            _ => {
                self.lexer.syntax_error(Some("expecting constant"));
                false
            }
        }
    }

    pub(crate) fn parse_constant_set(&mut self) -> Option<ConstantSet> {
        let mut cs = ConstantSet::default();
        if self.lexer.match_kind(TokenKind::LCurly) {
            cs.in_curlies = true;
            loop {
                if !self.parse_constant(&mut cs) {
                    return None;
                }
                self.lexer.match_kind(TokenKind::Comma);
                if self.lexer.match_kind(TokenKind::RCurly) {
                    break;
                }
            }
            Some(cs)
        } else if self.parse_constant(&mut cs) {
            Some(cs)
        } else {
            None
        }
    }

    pub(crate) fn type_check(&mut self, f: &FieldRef, cs: &ConstantSet) -> bool {
        if cs.len() == 0 {
            return true;
        }
        let field_is_int = f.symbol.width > 0;
        if cs.is_string == field_is_int {
            self.lexer.error(format!(
                "{} field {} is not compatible with {} constant.",
                if field_is_int { "Integer" } else { "String" },
                f.symbol.name,
                if cs.is_string { "string" } else { "integer" }
            ));
            return false;
        }
        if field_is_int {
            for c in &cs.ints {
                let w = c.width();
                if w > f.symbol.width {
                    self.lexer.error(format!(
                        "{}-bit constant is not compatible with {}-bit field {}.",
                        w, f.symbol.width, f.symbol.name
                    ));
                    return false;
                }
            }
        }
        true
    }

    fn make_cmp(&mut self, f: &FieldRef, r: Relop, cs: ConstantSet) -> Option<Expr> {
        if !self.type_check(f, &cs) {
            return None;
        }
        let sym = &f.symbol;
        if r != Relop::Eq && r != Relop::Ne {
            if cs.in_curlies {
                self.lexer
                    .error("Only == and != operators may be used with value sets.");
                return None;
            }
            if matches!(sym.level, Level::Nominal | Level::Boolean) {
                self.lexer.error(format!(
                    "Only == and != operators may be used with {} field {}.",
                    sym.level.as_str(),
                    sym.name
                ));
                return None;
            }
            if cs.len() == 0 {
                self.lexer.error(
                    "Only == and != operators may be used to compare a field against an empty value set.",
                );
                return None;
            }
            if cs.ints.first().is_some_and(|c| c.mask.is_some()) {
                self.lexer.error(
                    "Only == and != operators may be used with masked constants.  Consider using subfields \
                     instead (e.g. eth.src[0..15] > 0x1111 in place of eth.src > \
                     00:00:00:00:11:11/00:00:00:00:ff:ff).",
                );
                return None;
            }
        }
        if sym.level == Level::Nominal {
            if sym.predicate().is_some() {
                for c in &cs.ints {
                    let positive = (c.value & 1 == 1) ^ (r == Relop::Ne) ^ self.not;
                    if !positive {
                        let n = &sym.name;
                        self.lexer.error(format!(
                            "Nominal predicate {n} may only be tested positively, e.g. `{n}' or `{n} == 1' \
                             but not `!{n}' or `{n} == 0'."
                        ));
                        return None;
                    }
                }
            } else if r != (if self.not { Relop::Ne } else { Relop::Eq }) {
                self.lexer.error(format!(
                    "Nominal field {} may only be tested for equality (taking enclosing `!' operators into account).",
                    sym.name
                ));
                return None;
            }
        }
        if cs.len() == 0 {
            return Some(Expr::Boolean(r == Relop::Ne));
        }
        let cmps: Vec<Expr> = if cs.is_string {
            cs.strings
                .into_iter()
                .map(|s| {
                    Expr::Cmp(Cmp {
                        symbol: sym.clone(),
                        relop: r,
                        value: CmpValue::Str(s),
                    })
                })
                .collect()
        } else {
            let bits = low_bits(f.n_bits);
            cs.ints
                .iter()
                .map(|c| {
                    let mask = c.mask.map_or(bits, |m| m & bits);
                    Expr::Cmp(Cmp {
                        symbol: sym.clone(),
                        relop: r,
                        value: CmpValue::Int {
                            value: (c.value & bits) << f.ofs,
                            mask: mask << f.ofs,
                        },
                    })
                })
                .collect()
        };
        let kind = if r == Relop::Eq {
            AndOr::Or
        } else {
            AndOr::And
        };
        Some(Expr::andor(kind, cmps))
    }

    fn parse_chassis_resident(&mut self) -> Option<Expr> {
        if self.lexer.token.kind != TokenKind::String {
            self.lexer.syntax_error(Some("expecting string"));
            return None;
        }
        let port = self.lexer.token.text.clone();
        self.lexer.get();
        if !self.lexer.force_match(TokenKind::RParen) {
            return None;
        }
        Some(Expr::Condition(Condition { not: false, port }))
    }

    /// Returns the expression and whether it is "atomic" (may follow `!`).
    fn parse_primary(&mut self) -> Option<(Expr, bool)> {
        if self.lexer.match_kind(TokenKind::LParen) {
            if self.paren_depth >= MAX_PAREN_DEPTH {
                self.lexer.error("Parentheses nested too deeply.");
                return None;
            }
            self.paren_depth += 1;
            let e = self.parse_expr();
            self.paren_depth -= 1;
            let e = e?;
            if !self.lexer.force_match(TokenKind::RParen) {
                return None;
            }
            return Some((e, true));
        }
        match self.lexer.token.kind {
            TokenKind::Template => {
                self.lexer.error("Unexpanded template.");
                None
            }
            TokenKind::Id => {
                if self.lexer.lookahead() == TokenKind::LParen {
                    if self.lexer.match_id("is_chassis_resident") {
                        self.lexer.get();
                        return self.parse_chassis_resident().map(|e| (e, true));
                    }
                    self.lexer.error("parsing function name");
                    return None;
                }
                let f = self.parse_field()?;
                if Self::relop_of(self.lexer.token.kind).is_none() {
                    if f.n_bits == 0 || self.lexer.token.kind == TokenKind::Equals {
                        self.lexer
                            .syntax_error(Some("expecting relational operator"));
                        return None;
                    } else if f.n_bits > 1 && !self.not {
                        self.lexer.error(
                            "Explicit `!= 0' is required for inequality test of multibit field against 0.",
                        );
                        return None;
                    }
                    let cs = ConstantSet {
                        ints: vec![IntConstant {
                            value: 0,
                            mask: None,
                            format: LexFormat::Hexadecimal,
                            wide_bits: 0,
                        }],
                        ..ConstantSet::default()
                    };
                    return self.make_cmp(&f, Relop::Ne, cs).map(|e| (e, true));
                }
                let r = self.parse_relop()?;
                let cs = self.parse_constant_set()?;
                self.make_cmp(&f, r, cs).map(|e| (e, false))
            }
            _ => {
                let c1 = self.parse_constant_set()?;
                if Self::relop_of(self.lexer.token.kind).is_none()
                    && !c1.is_string
                    && !c1.in_curlies
                    && c1.ints.len() == 1
                    && c1.ints[0].format == LexFormat::Decimal
                    && c1.ints[0].mask.is_none()
                    && c1.ints[0].value <= 1
                {
                    return Some((Expr::Boolean(c1.ints[0].value == 1), true));
                }
                let r1 = self.parse_relop()?;
                let f = self.parse_field()?;
                if Self::relop_of(self.lexer.token.kind).is_none() {
                    return self.make_cmp(&f, r1.turn(), c1).map(|e| (e, false));
                }
                let r2 = self.parse_relop()?;
                let c2 = self.parse_constant_set()?;
                let lt = |r: Relop| matches!(r, Relop::Lt | Relop::Le);
                let gt = |r: Relop| matches!(r, Relop::Gt | Relop::Ge);
                if !((lt(r1) && lt(r2)) || (gt(r1) && gt(r2))) {
                    self.lexer.error(
                        "Range expressions must have the form `x < field < y' or `x > field > y', with each \
                         `<' optionally replaced by `<=' or `>' by `>=').",
                    );
                    return None;
                }
                let e1 = self.make_cmp(&f, r1.turn(), c1);
                let e2 = self.make_cmp(&f, r2, c2);
                if self.lexer.has_error() {
                    return None;
                }
                Expr::combine(AndOr::And, e1, e2).map(|e| (e, false))
            }
        }
    }

    fn parse_not(&mut self) -> Option<Expr> {
        if self.lexer.match_kind(TokenKind::LogNot) {
            self.not = !self.not;
            let r = self.parse_primary();
            self.not = !self.not;
            let (mut e, atomic) = r?;
            if !atomic {
                self.lexer.error("Missing parentheses around operand of !.");
                return None;
            }
            e.negate();
            Some(e)
        } else {
            self.parse_primary().map(|(e, _)| e)
        }
    }

    fn parse_expr(&mut self) -> Option<Expr> {
        let mut e = self.parse_not()?;
        let op = self.lexer.token.kind;
        if op == TokenKind::LogAnd || op == TokenKind::LogOr {
            let kind = if op == TokenKind::LogAnd {
                AndOr::And
            } else {
                AndOr::Or
            };
            self.lexer.get();
            loop {
                let e2 = self.parse_not()?;
                e = Expr::andor(kind, vec![e, e2]);
                if !self.lexer.match_kind(op) {
                    break;
                }
            }
            if matches!(self.lexer.token.kind, TokenKind::LogAnd | TokenKind::LogOr) {
                self.lexer
                    .error("&& and || must be parenthesized when used together.");
                return None;
            }
        }
        Some(e)
    }
}

/// Parses `input` as a match expression over `symtab`, resolving `$`/`@`
/// names through `sets` and port groups for datapath `dp_id`
/// (`expr_parse_string`).  Returns OVN's error message on failure.
pub fn parse_with(
    input: &str,
    symtab: &SymbolTable,
    sets: Option<&dyn SetLookup>,
    dp_id: i64,
) -> Result<Expr, String> {
    parse_with_refs(input, symtab, sets, dp_id).map(|(e, _)| e)
}

/// Like [`parse_with`], also returning the sets the expression referred to.
pub fn parse_with_refs(
    input: &str,
    symtab: &SymbolTable,
    sets: Option<&dyn SetLookup>,
    dp_id: i64,
) -> Result<(Expr, References), String> {
    let mut lexer = Lexer::new(input);
    lexer.get();
    let mut parser = Parser {
        lexer: &mut lexer,
        symtab,
        sets,
        refs: References::default(),
        dp_id,
        not: false,
        paren_depth: 0,
    };
    let expr = parser.parse_expr();
    let refs = std::mem::take(&mut parser.refs);
    lexer.force_end();
    match (lexer.take_error(), expr) {
        (None, Some(e)) => Ok((e, refs)),
        (Some(err), _) => Err(err),
        (None, None) => Err("Syntax error.".to_string()),
    }
}

/// Parses a field or subfield reference such as `reg0[0..15]` followed by
/// the end of input (`parse_field_from_string`).
pub fn parse_field_str(input: &str, symtab: &SymbolTable) -> Result<FieldRef, String> {
    let mut lexer = Lexer::new(input);
    lexer.get();
    let mut parser = Parser {
        lexer: &mut lexer,
        symtab,
        sets: None,
        refs: References::default(),
        dp_id: 0,
        not: false,
        paren_depth: 0,
    };
    let f = parser.parse_field();
    lexer.force_end();
    match (lexer.take_error(), f) {
        (None, Some(f)) => Ok(f),
        (Some(err), _) => Err(err),
        (None, None) => Err("Syntax error.".to_string()),
    }
}
