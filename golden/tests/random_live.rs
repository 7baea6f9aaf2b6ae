//! The live differential test of issues 4 and 5: random NB topologies
//! (`gen::random`: switches, ports, ACLs, port groups, address sets,
//! switch load balancers with health checks, QoS rules, meters, DHCP, DNS,
//! routers with routes and policies),
//! each through a private real ovn-northd 23.03 and through ovnflow,
//! compared row by row and flow by flow; every section must be identical.
//!
//! `RANDOM_TOPOLOGIES=N` (default 8) sets how many; the base seed is random
//! unless `RANDOM_SEED` is given, and is printed so that any failure can be
//! replayed. A failing topology's NB is written to
//! `target/tmp/random-live/seed-S.json`.

use ovnflow_compiler::{lflow_list::lflow_list, Compiler, Options};
use ovnflow_golden::canon::{blank_lflow_list_uuids, canonical, from_text};
use ovnflow_golden::gen::random_topology;
use ovnflow_golden::status::compare;
use ovnflow_golden::{oracle, regen};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn random_topologies_match_northd() {
    if !oracle::available().expect("OVN binaries") {
        eprintln!("skipping: OVN binaries not on PATH");
        return;
    }
    let n = env_u64("RANDOM_TOPOLOGIES").unwrap_or(8);
    let base = env_u64("RANDOM_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    eprintln!("random topologies: RANDOM_SEED={base} RANDOM_TOPOLOGIES={n}");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("random-live");
    let mut failures = Vec::new();
    for i in 0..n {
        let seed = base.wrapping_add(i);
        let nb = random_topology(seed);
        let theirs = regen::run_northd(std::slice::from_ref(&nb)).expect("real northd");
        let db = ovsdb::transact_file::apply_transact_json(&nb, "random topology").expect("NB");
        let mut c = Compiler::new(Options::default()).expect("compiler");
        c.apply(db.to_changes()).expect("compile");
        let ours = canonical(&c.sb_state().into_iter().collect());
        let our_lflows = blank_lflow_list_uuids(&lflow_list(c.sb_records()));
        let cmp = compare(
            &from_text(&theirs.sb).expect("canonical SB"),
            &ours,
            &theirs.lflow_list,
            &our_lflows,
        );
        let totals = cmp.sb_totals();
        eprintln!("seed {seed}: {totals:?}");
        if cmp.status().lines().any(|l| l.contains("differs")) {
            eprint!("{}", cmp.report(Some(20)));
            std::fs::create_dir_all(&dir).expect("report dir");
            let file = dir.join(format!("seed-{seed}.json"));
            std::fs::write(&file, serde_json::to_string_pretty(&nb).expect("json"))
                .expect("write NB");
            failures.push(format!("seed {seed} differs (NB in {})", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
