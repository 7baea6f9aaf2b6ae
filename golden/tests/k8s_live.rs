//! Kubernetes-shaped NBs (`gen::k8s`) beyond the corpus sizes, through a
//! private real ovn-northd 23.03 and through ovnflow, compared row by row
//! and flow by flow. The sizes are those where a difference first showed
//! at benchmark scale (see each case); the NB goes to the server as one
//! JSON-RPC transaction of any size (`Oracle::transact`).

use ovnflow_compiler::{lflow_list::lflow_list, Compiler, Options};
use ovnflow_golden::canon::{blank_lflow_list_uuids, canonical, from_text};
use ovnflow_golden::gen::{k8s, K8sShape};
use ovnflow_golden::status::compare;
use ovnflow_golden::{oracle, regen};

fn check(shape: K8sShape) {
    let nb = k8s(&shape);
    let theirs = regen::run_northd(std::slice::from_ref(&nb)).expect("real northd");
    let db = ovsdb::transact_file::apply_transact_json(&nb, "k8s").expect("NB");
    let c = Compiler::compile_database(&db, Options::default()).expect("compile");
    let ours = canonical(&c.sb_state().into_iter().collect());
    let our_lflows = blank_lflow_list_uuids(&lflow_list(c.sb_records()));
    let cmp = compare(
        &from_text(&theirs.sb).expect("canonical SB"),
        &ours,
        &theirs.lflow_list,
        &our_lflows,
    );
    eprintln!("{shape:?}: {:?}", cmp.sb_totals());
    assert!(
        !cmp.status().lines().any(|l| l.contains("differs")),
        "{shape:?} differs from northd:\n{}",
        cmp.report(Some(40))
    );
}

/// More than 255 services: VIPs past 10.96.0.255.
#[test]
fn many_services_match_northd() {
    if !oracle::available().expect("OVN binaries") {
        eprintln!("skipping: OVN binaries not on PATH");
        return;
    }
    check(K8sShape {
        nodes: 4,
        pods_per_node: 10,
        services: 300,
        backends: 3,
        policies: 4,
    });
}

/// `K8S_LIVE=NODESxPODS/SERVICES/POLICIES[,…]`: further shapes to check
/// (3 backends per service), e.g. `100x100/1000/500` for the benchmark size.
#[test]
fn shapes_from_the_environment_match_northd() {
    let Ok(specs) = std::env::var("K8S_LIVE") else {
        return;
    };
    if !oracle::available().expect("OVN binaries") {
        eprintln!("skipping: OVN binaries not on PATH");
        return;
    }
    for spec in specs.split(',') {
        let n: Vec<u32> = spec
            .split(['x', '/'])
            .map(|x| {
                x.trim()
                    .parse()
                    .expect("K8S_LIVE: NODESxPODS/SERVICES/POLICIES")
            })
            .collect();
        let [nodes, pods_per_node, services, policies] = n[..] else {
            panic!("K8S_LIVE: {spec}: NODESxPODS/SERVICES/POLICIES");
        };
        check(K8sShape {
            nodes,
            pods_per_node,
            services,
            backends: 3,
            policies,
        });
    }
}
