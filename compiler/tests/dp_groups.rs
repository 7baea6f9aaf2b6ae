//! `Logical_DP_Group` rows as switches join and leave a load balancer
//! group (a node joining an ovn-kubernetes cluster): the group's row
//! changes its `datapaths`, and the load balancers' flows and rows, which
//! name the row, stay as they are. The SB content is northd's either way
//! (one group row per distinct set of datapaths; the golden corpus checks
//! that); this checks that the delta is one row, not one per flow.

use std::collections::BTreeMap;

use ovnflow_compiler::{Compiler, Options, RowChange};
use ovsdb::{Atom, Datum, Row, Uuid};

mod common;
use common::diff;

fn u(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

const GROUP: u128 = 0x900;
const LBS: u128 = 0x800;

fn row(cols: Vec<(&str, Datum)>) -> Row {
    cols.into_iter().map(|(c, d)| (c.to_string(), d)).collect()
}

/// `n` switches in the load balancer group, each with one pod port, and
/// `lbs` load balancers in the group.
fn nb(n: u128, lbs: u128) -> BTreeMap<(&'static str, Uuid), Row> {
    let mut out = BTreeMap::new();
    for s in 0..n {
        let port = u(0x100 + s);
        out.insert(
            ("Logical_Switch_Port", port),
            row(vec![
                ("name", Datum::scalar(format!("pod{s}").as_str())),
                (
                    "addresses",
                    Datum::set([Atom::from(
                        format!("0a:00:00:00:00:{s:02x} 10.0.{s}.2").as_str(),
                    )]),
                ),
            ]),
        );
        out.insert(
            ("Logical_Switch", u(s + 1)),
            row(vec![
                ("name", Datum::scalar(format!("node{s}").as_str())),
                ("ports", Datum::set([Atom::Uuid(port)])),
                ("load_balancer_group", Datum::set([Atom::Uuid(u(GROUP))])),
            ]),
        );
    }
    for l in 0..lbs {
        out.insert(
            ("Load_Balancer", u(LBS + l)),
            row(vec![
                ("name", Datum::scalar(format!("svc{l}").as_str())),
                ("protocol", Datum::set([Atom::from("tcp")])),
                (
                    "vips",
                    Datum::string_map([(
                        format!("172.30.0.{}:80", l + 1).as_str(),
                        "10.0.0.2:8080",
                    )]),
                ),
            ]),
        );
    }
    out.insert(
        ("Load_Balancer_Group", u(GROUP)),
        row(vec![
            ("name", Datum::scalar("cluster")),
            (
                "load_balancer",
                Datum::set((0..lbs).map(|l| Atom::Uuid(u(LBS + l)))),
            ),
        ]),
    );
    out
}

/// The changed rows of `table` in `changes`: (inserted, modified, deleted).
fn count(changes: &[RowChange], table: &str) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for ch in changes.iter().filter(|ch| ch.table() == table) {
        match ch {
            RowChange::Insert { .. } => c.0 += 1,
            RowChange::Modify { .. } => c.1 += 1,
            RowChange::Delete { .. } => c.2 += 1,
        }
    }
    c
}

/// The `datapaths` of the `Logical_DP_Group` rows the `Load_Balancer` rows name.
fn lb_groups(c: &Compiler) -> Vec<(Uuid, usize)> {
    let state = c.sb_state();
    let groups = &state["Logical_DP_Group"];
    let mut out: Vec<(Uuid, usize)> = state["Load_Balancer"]
        .values()
        .map(|r| {
            let g = r["datapath_group"].as_uuid().unwrap();
            let n = match &groups[&g]["datapaths"] {
                Datum::Set(s) => s.len(),
                d => panic!("datapaths: {d:?}"),
            };
            (g, n)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn a_switch_joining_a_load_balancer_group_modifies_its_group_row_only() {
    const LB_COUNT: u128 = 20;
    let three = nb(3, LB_COUNT);
    let mut c = Compiler::compile_rows(
        three.iter().map(|((t, id), r)| (*t, *id, r)),
        Options::default(),
    )
    .unwrap();
    let before = lb_groups(&c);
    assert_eq!(
        before.len(),
        1,
        "one group row for every load balancer: {before:?}"
    );
    assert_eq!(before[0].1, 3);

    // A fourth node switch, in the group.
    let four = nb(4, LB_COUNT);
    let delta = c.apply(diff(&three, &four)).unwrap();
    let after = lb_groups(&c);
    assert_eq!(
        after,
        vec![(before[0].0, 4)],
        "the same row, one more datapath"
    );
    assert_eq!(count(&delta.changes, "Load_Balancer"), (0, 0, 0));
    assert_eq!(count(&delta.changes, "Logical_DP_Group").1, 1);
    // The load balancers' flows (those matching their VIPs) are
    // untouched; the new switch's own flows are added.
    let lb_flow_changes: Vec<&RowChange> = delta
        .changes
        .iter()
        .filter(|ch| ch.table() == "Logical_Flow")
        .filter(|ch| {
            let row = match ch {
                RowChange::Insert { new, .. } | RowChange::Modify { new, .. } => new,
                RowChange::Delete { old, .. } => old,
            };
            row.get("match")
                .and_then(Datum::as_str)
                .is_some_and(|m| m.contains("172.30.0."))
        })
        .collect();
    assert!(
        lb_flow_changes.is_empty(),
        "{} load balancer flows changed, e.g. {:?}",
        lb_flow_changes.len(),
        lb_flow_changes.first()
    );

    // And back: the row loses the switch, still the same row.
    c.apply(diff(&four, &three)).unwrap();
    assert_eq!(lb_groups(&c), before);

    // Incremental equals from scratch.
    let scratch = Compiler::compile_rows(
        three.iter().map(|((t, id), r)| (*t, *id, r)),
        Options::default(),
    )
    .unwrap();
    assert_eq!(c.sb_state(), scratch.sb_state());
}
