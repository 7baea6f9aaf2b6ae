//! Smoke test of `ovnflow-bench --quick` on tiny sizes: it runs real
//! ovn-northd, `ovnflow northd` and the in-process compiler, and its report
//! has every row, for every size, with the targets judged. It checks that
//! the suite works, not the numbers.
//!
//! Live: needs the OVN binaries and the `ovnflow` binary next to this
//! crate's binaries (`cargo test --workspace` builds it); both are required
//! when `CI` is set.

use std::path::Path;
use std::process::Command;

use ovnflow_golden::oracle;

#[test]
fn quick_run_on_tiny_sizes_reports_every_row() {
    if !oracle::available().unwrap() {
        eprintln!("skipping: the OVN binaries are not on PATH (CI unset)");
        return;
    }
    let bench = Path::new(env!("CARGO_BIN_EXE_ovnflow-bench"));
    let ovnflow = bench.with_file_name("ovnflow");
    if !ovnflow.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {} is missing",
            ovnflow.display()
        );
        eprintln!(
            "skipping: {} not built (cargo build -p ovnflow)",
            ovnflow.display()
        );
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(bench)
        .args(["--quick", "--k8s", "2x3/2/2", "--inproc-k8s", "3x4/3/2"])
        .args(["--k8s", "ovn-k8s:2x3/2/2", "--k8s", "openstack:2/1/2/1"])
        .args(["--runs", "1", "--rounds", "1", "--timeout", "30"])
        .arg("--ovnflow")
        .arg(&ovnflow)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{}\n{stderr}", run.status);
    assert!(stderr.contains("ovn-northd"), "progress lines: {stderr}");
    let md = std::fs::read_to_string(out.path().join("latest.md")).unwrap();
    let section = |name: &str| -> String {
        let start = md
            .find(&format!("## {name}"))
            .unwrap_or_else(|| panic!("no section {name}:\n{md}"));
        let rest = &md[start + 3..];
        rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
    };
    let both = section("k8s 2×3/2/2 (reference size)");
    let mut expected = vec![
        "| full compute, end to end (NB transaction sent → SB commit) |",
        "| … of which the NB ovsdb-server commit |",
        "| full compute, NB committed → SB committed |",
        "| full compile, ovnflow in process (northd: end to end) |",
        "| peak RSS of the daemon (VmHWM, whole run) |",
        "| peak RSS, in-process compile (NB database resident) |",
        "| peak RSS, in-process NB load (JSON + database) |",
        "| SB Logical_Flow rows (ovnflow: daemon / in process) |",
        "| SB transaction size, full compute (bytes the SB server stored) |",
    ];
    let kinds: Vec<String> = [
        "add port",
        "delete port",
        "add ACL",
        "add LB backend",
        "add switch",
    ]
    .iter()
    .flat_map(|k| {
        [
            format!("| {k}, end to end |"),
            format!("| {k}, ovnflow in process (NB change → SB delta) |"),
            format!("| {k}, SB transaction size |"),
        ]
    })
    .collect();
    expected.extend(kinds.iter().map(String::as_str));
    for row in &expected {
        let line = both
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row} in:\n{both}"));
        assert!(
            !line.contains("no data"),
            "a target without a measurement: {line}"
        );
        // measure, northd, ovnflow, ratio, target, result.
        assert_eq!(line.matches(" | ").count(), 5, "{line}");
    }
    assert!(both.contains("PASS") || both.contains("FAIL"), "{both}");
    // Both daemons' SB transactions are measured (in kB, not "–").
    let size = both
        .lines()
        .find(|l| l.starts_with("| SB transaction size, full compute"))
        .unwrap_or_default();
    assert_eq!(size.matches(" kB").count(), 2, "{size}");
    let inproc = section("k8s 3×4/3/2");
    assert!(inproc.contains("In process only"), "{inproc}");
    assert!(
        inproc.contains("| add switch, ovnflow in process"),
        "{inproc}"
    );
    assert!(!inproc.contains("| add switch, end to end"), "{inproc}");
    assert!(md.contains("| k8s 2×3/2/2 | 6 |"), "summary row:\n{md}");
    // The other families: their own sections with their own changes.
    let gateways = section("ovn-k8s 2×3/2/2");
    assert!(gateways.contains("gateway router per node"), "{gateways}");
    assert!(
        gateways.contains("| add switch, end to end |"),
        "{gateways}"
    );
    let openstack = section("openstack 2×1×2/1 FIPs");
    for k in [
        "add port",
        "add floating IP",
        "change a route",
        "delete port",
    ] {
        let row = format!("| {k}, end to end |");
        let line = openstack
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("no row {row} in:\n{openstack}"));
        assert!(!line.contains("no data"), "{line}");
    }
    assert!(!openstack.contains("add ACL"), "{openstack}");
    let svg = std::fs::read_to_string(out.path().join("scaling.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<circle"), "{svg}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("latest.json")).unwrap())
            .unwrap();
    assert_eq!(json["sizes"].as_array().map(Vec::len), Some(4));
}
