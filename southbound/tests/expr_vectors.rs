//! OVN's own expression test vectors (tests/ovn.at at v23.03.1, run there
//! through `ovstest test-ovn`), replayed against our implementation.

mod expr_common;

use expr_common::{run, split_vector, vector_lines};
use ovnflow_southbound::expr::lexer::tokenize;

fn check_group(group: &str, results: Vec<(String, String, String)>) {
    let total = results.len();
    let failures: Vec<_> = results
        .into_iter()
        .filter(|(_, want, got)| want != got)
        .collect();
    println!(
        "{group}: {} of {} vectors pass",
        total - failures.len(),
        total
    );
    for (input, want, got) in &failures {
        println!("  FAIL {input}\n    want: {want}\n    got:  {got}");
    }
    assert!(failures.is_empty(), "{group}: {} failures", failures.len());
}

fn line_vectors(text: &str, f: impl Fn(&str) -> String) -> Vec<(String, String, String)> {
    vector_lines(text)
        .into_iter()
        .map(|line| {
            let (input, expected) = split_vector(line);
            (input.to_string(), expected.to_string(), f(input))
        })
        .collect()
}

#[test]
fn ovn_lexer_vectors() {
    let text = include_str!("data/expr_lexer.txt");
    let results = line_vectors(text, |input| {
        tokenize(input)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    });
    assert_eq!(results.len(), 78);
    check_group("lexer", results);
}

#[test]
fn ovn_lexer_output_reparses_to_same_tokens() {
    // test-ovn.c `test_lex` checks that each formatted token lexes back to
    // an identical token.
    for line in vector_lines(include_str!("data/expr_lexer.txt")) {
        let (input, _) = split_vector(line);
        for token in tokenize(input) {
            if token.kind == ovnflow_southbound::expr::TokenKind::Error {
                continue;
            }
            let again = tokenize(&token.to_string());
            assert_eq!(again.len(), 1, "{token}");
            assert_eq!(again[0].kind, token.kind, "{token}");
            assert_eq!(again[0].value, token.value, "{token}");
            assert_eq!(again[0].mask, token.mask, "{token}");
            assert_eq!(again[0].text, token.text, "{token}");
        }
    }
}

#[test]
fn ovn_expression_parser_vectors() {
    let results = line_vectors(include_str!("data/expr_parse.txt"), |input| {
        run(input, 0).join("\n")
    });
    assert_eq!(results.len(), 131);
    check_group("expression parser", results);
}

#[test]
fn ovn_expression_annotation_vectors() {
    let results = line_vectors(include_str!("data/expr_annotate.txt"), |input| {
        run(input, 1).join("\n")
    });
    assert_eq!(results.len(), 24);
    check_group("expression annotation", results);
}

/// "simplification special cases" and "is_chassis_resident simplification".
#[test]
fn ovn_simplification_vectors() {
    let all_bits = |neg: &str| {
        (0..16)
            .map(|i| format!("{neg}tcp.dst[{i}]"))
            .collect::<Vec<_>>()
            .join(" || ")
    };
    let prereq = "ip.proto == 0x6 && (eth.type == 0x800 || eth.type == 0x86dd)";
    let cases = vec![
        ("eth.dst == 0/0".to_string(), "1".to_string()),
        ("eth.dst != 0/0".to_string(), "0".to_string()),
        ("tcp.dst >= 0".to_string(), prereq.to_string()),
        ("tcp.dst <= 65535".to_string(), prereq.to_string()),
        (
            "tcp.dst > 0".to_string(),
            format!("({}) && {prereq}", all_bits("")),
        ),
        (
            "tcp.dst < 65535".to_string(),
            format!("({}) && {prereq}", all_bits("!")),
        ),
        ("is_chassis_resident(\"eth1\")".to_string(), "1".to_string()),
        ("is_chassis_resident(\"eth2\")".to_string(), "0".to_string()),
        (
            "!is_chassis_resident(\"eth1\")".to_string(),
            "0".to_string(),
        ),
        (
            "!is_chassis_resident(\"eth2\")".to_string(),
            "1".to_string(),
        ),
    ];
    let results = cases
        .into_iter()
        .map(|(input, want)| {
            let got = run(&input, 2).join("\n");
            (input, want, got)
        })
        .collect();
    check_group("simplification", results);
}

fn flow_vectors() -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in include_str!("data/expr_to_flows.txt").lines() {
        if let Some(e) = line.strip_prefix("expr: ") {
            out.push((e.to_string(), Vec::new()));
        } else if let Some(flow) = line.strip_prefix("  ") {
            if let Some(last) = out.last_mut() {
                last.1.push(flow.to_string());
            }
        }
    }
    out
}

#[test]
fn ovn_expressions_to_flows_vectors() {
    let vectors = flow_vectors();
    assert_eq!(vectors.len(), 33);
    let results = vectors
        .into_iter()
        .map(|(input, want)| {
            let got = run(&input, 4);
            (input, want.join("\n"), got.join("\n"))
        })
        .collect();
    check_group("converting expressions to flows", results);
}

#[test]
fn ovn_register_and_conntrack_symbols() {
    // "registers" and "conntrack fields" tests: dump-symtab | grep.
    let symtab = expr_common::symtab();
    let dump: Vec<String> = symtab.iter().map(|s| s.to_string()).collect();
    let regs: Vec<&String> = dump.iter().filter(|l| l.contains("reg")).collect();
    let want_regs = [
        "reg0 = xxreg0[96..127]",
        "reg1 = xxreg0[64..95]",
        "reg2 = xxreg0[32..63]",
        "reg3 = xxreg0[0..31]",
        "reg4 = xxreg1[96..127]",
        "reg5 = xxreg1[64..95]",
        "reg6 = xxreg1[32..63]",
        "reg7 = xxreg1[0..31]",
        "reg8 = xreg4[32..63]",
        "reg9 = xreg4[0..31]",
        "xreg0 = xxreg0[64..127]",
        "xreg1 = xxreg0[0..63]",
        "xreg2 = xxreg1[64..127]",
        "xreg3 = xxreg1[0..63]",
        "xreg4 = OXM_OF_PKT_REG4",
        "xxreg0 = NXM_NX_XXREG0",
        "xxreg1 = NXM_NX_XXREG1",
    ];
    assert_eq!(regs, want_regs);
    let ct: Vec<&String> = dump.iter().filter(|l| l.starts_with("ct")).collect();
    let want_ct = [
        "ct.dnat = ct_state[7]",
        "ct.est = ct_state[1]",
        "ct.inv = ct_state[4]",
        "ct.new = ct_state[0]",
        "ct.rel = ct_state[2]",
        "ct.rpl = ct_state[3]",
        "ct.snat = ct_state[6]",
        "ct.trk = ct_state[5]",
        "ct_label = NXM_NX_CT_LABEL",
        "ct_label.blocked = ct_label[0]",
        "ct_label.ecmp_reply_eth = ct_label[32..79]",
        "ct_label.ecmp_reply_port = ct_label[80..95]",
        "ct_label.force_snat = ct_label[3]",
        "ct_label.label = ct_label[96..127]",
        "ct_label.natted = ct_label[1]",
        "ct_label.skip_snat = ct_label[2]",
        "ct_mark = NXM_NX_CT_MARK",
        "ct_mark.blocked = ct_mark[0]",
        "ct_mark.ecmp_reply_port = ct_mark[16..31]",
        "ct_mark.force_snat = ct_mark[3]",
        "ct_mark.natted = ct_mark[1]",
        "ct_mark.skip_snat = ct_mark[2]",
        "ct_state = NXM_NX_CT_STATE",
    ];
    assert_eq!(ct, want_ct);
}
