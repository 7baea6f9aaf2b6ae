//! The generated Kubernetes-shaped NB: the row counts its shape implies,
//! its size at benchmark scale, and (live; required with `CI`) that a real
//! ovsdb-server accepts it and holds exactly the rows our ovsdb crate does.

use std::collections::BTreeMap;

use ovnflow_golden::canon::parse_dump;
use ovnflow_golden::gen::{k8s, K8sShape};
use ovnflow_golden::oracle::{self, Oracle};

/// Rows per table that a shape must produce.
fn expected_rows(s: &K8sShape) -> BTreeMap<&'static str, usize> {
    let n = |x: u32| x as usize;
    BTreeMap::from([
        ("Logical_Switch", n(s.nodes)),
        ("Logical_Switch_Port", n(s.nodes * (s.pods_per_node + 1))),
        ("Logical_Router", 1),
        ("Logical_Router_Port", n(s.nodes)),
        ("Load_Balancer", n(s.services)),
        ("Load_Balancer_Group", 1),
        ("Port_Group", n(s.policies)),
        ("Address_Set", n(s.policies)),
        ("ACL", n(2 * s.policies)),
        ("NB_Global", 1),
    ])
}

fn counts(db: &ovsdb::Database) -> BTreeMap<&'static str, usize> {
    expected_rows(&TINY)
        .keys()
        .map(|t| (*t, db.table(t).map(|r| r.len()).unwrap_or(0)))
        .collect()
}

const TINY: K8sShape = K8sShape {
    nodes: 2,
    pods_per_node: 3,
    services: 2,
    backends: 2,
    policies: 2,
};

const BENCH: K8sShape = K8sShape {
    nodes: 100,
    pods_per_node: 100,
    services: 1000,
    backends: 3,
    policies: 500,
};

#[test]
fn shapes_apply_with_the_rows_they_imply() {
    for shape in [
        TINY,
        K8sShape {
            nodes: 1,
            pods_per_node: 1,
            services: 3,
            backends: 3,
            policies: 2,
        },
        K8sShape {
            nodes: 10,
            pods_per_node: 10,
            services: 20,
            backends: 3,
            policies: 10,
        },
    ] {
        let db = ovsdb::transact_file::apply_transact_json(&k8s(&shape), "k8s")
            .unwrap_or_else(|e| panic!("{shape:?}: {e}"));
        assert_eq!(counts(&db), expected_rows(&shape), "{shape:?}");
    }
}

#[test]
fn benchmark_shape_is_about_three_and_a_half_megabytes() {
    let v = k8s(&BENCH);
    let len = v.to_string().len();
    eprintln!("k8s 100x100, 1000 services x 3, 500 policies: {len} bytes");
    assert!((3_000_000..4_500_000).contains(&len), "{len} bytes");
    let db = ovsdb::transact_file::apply_transact_json(&v, "k8s").expect("applies");
    assert_eq!(counts(&db), expected_rows(&BENCH));
    assert_eq!(k8s(&BENCH), v, "deterministic");
}

#[test]
fn real_ovsdb_server_holds_the_same_rows() {
    if !oracle::available().expect("OVN binaries") {
        eprintln!("skipping: OVN binaries not on PATH");
        return;
    }
    let shape = K8sShape {
        nodes: 5,
        pods_per_node: 4,
        services: 6,
        backends: 3,
        policies: 3,
    };
    let v = k8s(&shape);
    let o = Oracle::start().expect("ovsdb-server");
    o.transact(&v)
        .expect("ovsdb-server accepts the transaction");
    let theirs = parse_dump(&o.dump_nb().expect("dump")).expect("parse");
    let ours = ovsdb::transact_file::apply_transact_json(&v, "k8s").expect("applies");
    for (table, rows) in ours.tables() {
        let theirs_t = theirs.get(table).cloned().unwrap_or_default();
        assert_eq!(
            theirs_t.keys().collect::<Vec<_>>(),
            rows.keys().collect::<Vec<_>>(),
            "{table}: the explicit row UUIDs"
        );
        for (u, r) in rows {
            for (col, d) in r.iter() {
                let t = theirs_t[u].get(col).map(|x| x.to_json());
                assert_eq!(t, Some(d.to_json()), "{table} {u} {col}");
            }
        }
    }
}
