//! Fixtures shared by the expression tests: the symbol table, address sets,
//! port groups and ports of OVN's `tests/test-ovn.c` (v23.03.1).
#![allow(dead_code)]

use std::collections::BTreeMap;

use ovnflow_southbound::expr::symtab::WriteScope;
use ovnflow_southbound::expr::{
    annotate::annotate, normalize::normalize, parse_with, simplify, to_matches, ConstSets, Expr,
    Field, SymbolTable,
};

/// `create_symtab`: the OVN table plus symbols for negative tests.
pub fn symtab() -> SymbolTable {
    let mut t = SymbolTable::try_ovn().expect("OVN symbol table builds");
    t.add_field(
        "bad_prereq",
        Field::Xreg(0),
        Some("xyzzy"),
        false,
        WriteScope::Default,
    );
    t.add_field(
        "self_recurse",
        Field::Xreg(0),
        Some("self_recurse != 0"),
        false,
        WriteScope::Default,
    );
    t.add_field(
        "mutual_recurse_1",
        Field::Xreg(0),
        Some("mutual_recurse_2 != 0"),
        false,
        WriteScope::Default,
    );
    t.add_field(
        "mutual_recurse_2",
        Field::Xreg(0),
        Some("mutual_recurse_1 != 0"),
        false,
        WriteScope::Default,
    );
    t.add_string("big_string", Field::Xreg(0), None, WriteScope::Default);
    t
}

/// `create_addr_sets` and `create_port_groups`.
pub fn sets() -> ConstSets {
    let mut s = ConstSets::new();
    s.add_address_set("set1", &["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    s.add_address_set("set2", &["::1", "::2", "::3"]);
    s.add_address_set(
        "set3",
        &[
            "00:00:00:00:00:01",
            "00:00:00:00:00:02",
            "00:00:00:00:00:03",
        ],
    );
    s.add_address_set::<&str>("set4", &[]);
    s.add_port_group("0_pg1", &["lsp1", "lsp2", "lsp3"]);
    s.add_port_group::<&str>("0_pg_empty", &[]);
    s
}

/// The `ports` simap of `test_parse_expr__`.
pub fn ports() -> BTreeMap<&'static str, u32> {
    BTreeMap::from([
        ("eth0", 5),
        ("eth1", 6),
        ("LOCAL", 0xfffe),
        ("lsp1", 0x11),
        ("lsp2", 0x12),
        ("lsp3", 0x13),
    ])
}

/// Runs `test_parse_expr__(steps)` on one input line and returns its output
/// lines: 0 = parse, 1 = annotate, 2 = simplify, 3 = normalize, 4 = flows.
pub fn run(input: &str, steps: u32) -> Vec<String> {
    let symtab = symtab();
    let sets = sets();
    let ports = ports();
    let lookup = |name: &str| ports.get(name).copied();
    let resident = |name: &str| ports.contains_key(name);
    let result = (|| -> Result<Expr, String> {
        let mut e = parse_with(input, &symtab, Some(&sets), 0)?;
        if steps > 0 {
            e = annotate(e, &symtab)?;
        }
        if steps > 1 {
            e = simplify::simplify(e);
            e = simplify::evaluate_conditions(e, &resident);
        }
        if steps > 2 {
            e = normalize(e);
            assert!(e.is_normalized(), "not normalized: {e}");
        }
        Ok(e)
    })();
    match result {
        Err(err) => vec![err],
        Ok(e) if steps > 3 => to_matches(&e, &lookup).to_sorted_lines(),
        Ok(e) => vec![e.to_string()],
    }
}

/// Splits an `input => expected` vector line the way the OVN test suite's
/// `sed` commands do: input ends at the first ` =>`, expected output starts
/// after the last ` => `.
pub fn split_vector(line: &str) -> (&str, &str) {
    let input = line.find(" =>").map_or(line, |i| &line[..i]);
    let expected = line.rfind(" => ").map_or(line, |i| &line[i + 4..]);
    (input, expected)
}

/// Non-blank, non-comment lines of a vector file.
pub fn vector_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect()
}
