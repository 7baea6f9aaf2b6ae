//! Property tests for the expression pipeline: no panics on arbitrary
//! input, parse → print → parse is stable, and every compilation step
//! (simplify, normalize, conversion to flows) preserves the meaning of an
//! expression, checked by evaluating it on every packet, as OVN's
//! `ovstest test-ovn exhaustive` does.

mod expr_common;

use std::sync::Arc;

use ovnflow_southbound::expr::eval::{evaluate, matches_packet};
use ovnflow_southbound::expr::symtab::WriteScope;
use ovnflow_southbound::expr::{
    annotate::annotate, lexer::tokenize, normalize::normalize, parse_with, simplify, to_matches,
    AndOr, Cmp, CmpValue, Expr, Field, Relop, Symbol, SymbolTable,
};
use proptest::prelude::*;

fn ovn_fragment() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "ip4",
        "ip6",
        "ip",
        "tcp",
        "udp",
        "icmp4",
        "eth.bcast",
        "vlan.present",
        "ct.est",
        "ct.new",
        "!ct.trk",
        "ip4.src == 10.0.0.0/8",
        "ip4.dst == {1.2.3.4, $set1}",
        "tcp.dst >= 1000",
        "tcp.dst <= 1010",
        "udp.src < 0x20",
        "inport == \"eth0\"",
        "outport == @pg1",
        "eth.src == $set3",
        "ip6.src == ::1",
        "reg0[3] == 1",
        "xxreg0 == 0x1/0x3",
        "ct_label.blocked == 0",
        "ct_mark.natted",
        "ip.ttl == 255",
        "eth.type == 0x800",
        "1",
        "0",
        "flags.loopback",
        "vlan.pcp > 1",
        "1 < tcp.src < 100",
        "!(ip4.src != 1.1.1.1)",
        "is_chassis_resident(\"eth1\")",
        "arp.op == 2",
        "icmp6.type == {135, 136}",
        "nd.target == ff02::1",
    ]);
    let leaf = atoms.prop_map(str::to_string);
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" && "))),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" || "))),
            inner.prop_map(|s| format!("!({s})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn lexer_and_parser_never_panic(input in ".{0,64}") {
        let symtab = expr_common::symtab();
        let sets = expr_common::sets();
        let _ = tokenize(&input);
        if let Ok(e) = parse_with(&input, &symtab, Some(&sets), 0) {
            let _ = annotate(e, &symtab);
        }
    }

    #[test]
    fn parser_never_panics_on_token_soup(
        tokens in prop::collection::vec(prop::sample::select(vec![
            "(", ")", "{", "}", "[", "]", "==", "!=", "<", "<=", ">", ">=", "!", "&&", "||", "..", ",",
            "ip4", "ip4.src", "inport", "eth.dst", "vlan.tci", "reg0", "1", "0", "0x10", "10.0.0.1/8",
            "::1", "\"eth0\"", "$set1", "@pg1", "^tmpl", "is_chassis_resident", "00:11:22:33:44:55",
        ]), 0..20)
    ) {
        let input = tokens.join(" ");
        let symtab = expr_common::symtab();
        let sets = expr_common::sets();
        if let Ok(e) = parse_with(&input, &symtab, Some(&sets), 0) {
            if let Ok(e) = annotate(e, &symtab) {
                let e = simplify::simplify(e);
                let e = simplify::evaluate_conditions(e, &|_| true);
                let e = normalize(e);
                let _ = to_matches(&e, &|_| Some(1));
            }
        }
    }

    #[test]
    fn parse_print_parse_is_stable(input in ovn_fragment()) {
        let symtab = expr_common::symtab();
        let sets = expr_common::sets();
        if let Ok(e1) = parse_with(&input, &symtab, Some(&sets), 0) {
            let s1 = e1.to_string();
            let e2 = parse_with(&s1, &symtab, Some(&sets), 0);
            prop_assert!(e2.is_ok(), "{} printed as {} fails: {:?}", input, s1, e2);
            let e2 = e2.unwrap();
            // Printing is a fixpoint after one round (`reg0[3] != 1` prints
            // as `!reg0[3]`, which reparses as `reg0[3] == 0`).
            prop_assert_eq!(e2.to_string(), s1);
        }
    }

    #[test]
    fn full_pipeline_never_panics_on_ovn_like_input(input in ovn_fragment()) {
        let symtab = expr_common::symtab();
        let sets = expr_common::sets();
        let ports = expr_common::ports();
        if let Ok(e) = parse_with(&input, &symtab, Some(&sets), 0) {
            if let Ok(e) = annotate(e, &symtab) {
                let e = simplify::simplify(e);
                let e = simplify::evaluate_conditions(e, &|p| ports.contains_key(p));
                let e = normalize(e);
                prop_assert!(e.is_normalized(), "{}", e);
                let _ = to_matches(&e, &|p| ports.get(p).copied());
            }
        }
    }
}

/// Symbols for the semantic tests: numeric `n0`, `n1` (3-bit subfields of
/// registers) and string `s0`, `s1`, as in test-ovn's exhaustive tests.
struct Vars {
    symtab: SymbolTable,
    nvars: Vec<Arc<Symbol>>,
    svars: Vec<Arc<Symbol>>,
}

const BITS: u32 = 3;

fn vars() -> Vars {
    let mut symtab = SymbolTable::new();
    let mut nvars = Vec::new();
    let mut svars = Vec::new();
    for i in 0..2u8 {
        symtab.add_field(
            &format!("r{i}"),
            Field::Reg(i),
            None,
            false,
            WriteScope::Default,
        );
        let n = symtab
            .add_subfield(
                &format!("n{i}"),
                None,
                &format!("r{i}[0..{}]", BITS - 1),
                WriteScope::Default,
            )
            .expect("subfield");
        nvars.push(n);
        svars.push(symtab.add_string(
            &format!("s{i}"),
            Field::Reg(2 + i),
            None,
            WriteScope::Default,
        ));
    }
    Vars {
        symtab,
        nvars,
        svars,
    }
}

fn terminal(v: &Vars) -> impl Strategy<Value = Expr> {
    let nvars = v.nvars.clone();
    let svars = v.svars.clone();
    let relops = prop::sample::select(vec![
        Relop::Eq,
        Relop::Ne,
        Relop::Lt,
        Relop::Le,
        Relop::Gt,
        Relop::Ge,
    ]);
    let numeric = (prop::sample::select(nvars), relops, 0u128..8, 1u128..8).prop_map(
        |(sym, relop, value, mask)| {
            // Relational operators need a contiguous mask.
            let contiguous = mask & (mask + (mask & mask.wrapping_neg())) == 0;
            let mask = if matches!(relop, Relop::Eq | Relop::Ne) || contiguous {
                mask
            } else {
                7
            };
            Expr::Cmp(Cmp {
                symbol: sym,
                relop,
                value: CmpValue::Int {
                    value: value & mask,
                    mask,
                },
            })
        },
    );
    let string = (prop::sample::select(svars), 0u32..2).prop_map(|(sym, port)| {
        Expr::Cmp(Cmp {
            symbol: sym,
            relop: Relop::Eq,
            value: CmpValue::Str(port.to_string()),
        })
    });
    prop_oneof![4 => numeric, 2 => string, 1 => any::<bool>().prop_map(Expr::Boolean)]
}

fn tree(v: &Vars) -> impl Strategy<Value = Expr> {
    terminal(v).prop_recursive(4, 16, 3, |inner| {
        (any::<bool>(), prop::collection::vec(inner, 2..4))
            .prop_map(|(and, subs)| Expr::andor(if and { AndOr::And } else { AndOr::Or }, subs))
    })
}

fn atoi(name: &str) -> Option<u32> {
    name.parse().ok()
}

fn check_semantics(expr: &Expr, vars: &Vars) -> Result<(), TestCaseError> {
    let annotated = annotate(expr.clone(), &vars.symtab).map_err(TestCaseError::fail)?;
    let simplified =
        simplify::evaluate_conditions(simplify::simplify(annotated.clone()), &|_| true);
    prop_assert!(simplified.honors_invariants(), "{}", simplified);
    let normalized = normalize(simplified.clone());
    prop_assert!(normalized.honors_invariants(), "{}", normalized);
    prop_assert!(normalized.is_normalized(), "{}", normalized);
    let matches = to_matches(&normalized, &atoi);
    for subst in 0u32..(1 << (2 * BITS + 2)) {
        let packet = |f: Field| -> u128 {
            match f {
                Field::Reg(0) => u128::from(subst & 7),
                Field::Reg(1) => u128::from((subst >> 3) & 7),
                Field::Reg(2) => u128::from((subst >> 6) & 1),
                Field::Reg(3) => u128::from((subst >> 7) & 1),
                _ => 0,
            }
        };
        let want = evaluate(expr, &packet, &atoi);
        prop_assert_eq!(
            evaluate(&annotated, &packet, &atoi),
            want,
            "annotated {}",
            annotated
        );
        prop_assert_eq!(
            evaluate(&simplified, &packet, &atoi),
            want,
            "simplified {}",
            simplified
        );
        prop_assert_eq!(
            evaluate(&normalized, &packet, &atoi),
            want,
            "normalized {} of {}",
            normalized,
            expr
        );
        prop_assert_eq!(
            matches_packet(&matches, &packet),
            want,
            "flows of {} for {:#x}",
            normalized,
            subst
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn compilation_preserves_meaning(expr in tree(&vars())) {
        check_semantics(&expr, &vars())?;
    }
}

#[test]
fn conjunctive_match_is_used_for_two_multi_valued_clauses() {
    let vars = vars();
    let n0 = &vars.nvars[0];
    let n1 = &vars.nvars[1];
    let eq = |s: &Arc<Symbol>, v: u128| {
        Expr::Cmp(Cmp {
            symbol: s.clone(),
            relop: Relop::Eq,
            value: CmpValue::Int { value: v, mask: 7 },
        })
    };
    let expr = Expr::And(vec![
        Expr::Or(vec![eq(n0, 1), eq(n0, 2)]),
        Expr::Or(vec![eq(n1, 3), eq(n1, 4)]),
    ]);
    check_semantics(&expr, &vars).expect("semantics");
    let e = normalize(simplify::simplify(
        annotate(expr, &vars.symtab).expect("annotate"),
    ));
    let m = to_matches(&e, &atoi);
    assert_eq!(m.n_conjs, 1);
    assert_eq!(
        m.to_sorted_lines(),
        vec![
            "conj_id=1",
            "reg0=0x1/0x7: conjunction(1, 0/2)",
            "reg0=0x2/0x7: conjunction(1, 0/2)",
            "reg1=0x3/0x7: conjunction(1, 1/2)",
            "reg1=0x4/0x7: conjunction(1, 1/2)",
        ]
    );
}
