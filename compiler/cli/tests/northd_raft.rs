//! `ovnflow northd` on clustered databases: NB and SB are each a 3-member
//! RAFT cluster of real ovsdb-servers, the daemon gets both member lists
//! (`--ovnnb-db=unix:a,unix:b,unix:c`, as ovn-northd does), and the SB it
//! writes must equal a from-scratch compile of the NB after each fault:
//! the SB leader killed, the NB leader killed, both members restarted,
//! each time with an NB change waited for with `ovn-nbctl --wait=sb`.
//!
//! Needs the OVN binaries; with `CI` set their absence is a failure.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ovnflow_compiler::{Compiler, Options};
use ovnflow_golden::canon::{canonical, parse_dump, Canon};
use ovnflow_golden::cluster::Cluster;
use ovnflow_golden::oracle;

/// A process this test started, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ovn-nbctl --wait=sb` on the NB cluster's running members, retried
/// while the cluster elects a leader. Waiting for the SB after each
/// command makes every NB transaction its own compiler batch, as the
/// history compiled in [`compiled`] has them.
fn nbctl(nb: &Cluster, line: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new("ovn-nbctl")
            .arg(format!("--db={}", nb.live_remotes()))
            .arg("--timeout=30")
            .arg("--wait=sb")
            .args(line)
            .stdin(Stdio::null())
            .output()
            .expect("ovn-nbctl");
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "ovn-nbctl {line:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The SB the compiler makes of the NB's history, one batch per NB
/// transaction (tunnel keys and northd's hash-order choices depend on the
/// order rows came in, so the history, not only the final content).
fn compiled(nb: &Cluster) -> Canon {
    let text = nb.history().unwrap();
    let file = ovsdb::file::read_db_bytes_history(text.as_bytes(), "nb history").unwrap();
    let mut c = Compiler::new(Options::default()).unwrap();
    for txn in file.history {
        c.apply(txn).unwrap();
    }
    canonical(&c.sb_state())
}

fn sb_now(sb: &Cluster) -> Canon {
    canonical(&parse_dump(&sb.dump().unwrap()).unwrap())
}

fn diff(a: &Canon, b: &Canon) -> String {
    let only_a: Vec<_> = a.difference(b).take(10).collect();
    let only_b: Vec<_> = b.difference(a).take(10).collect();
    format!("only in SB: {only_a:#?}\nonly compiled: {only_b:#?}")
}

/// Waits with `--wait=sb` and checks the SB.
fn check(nb: &Cluster, sb: &Cluster, when: &str) {
    let t = Instant::now();
    nbctl(nb, &["--wait=sb", "sync"]);
    let took = t.elapsed();
    let want = compiled(nb);
    // The dump may come from a follower that has not applied the last
    // commit yet: give it a moment.
    let mut got = sb_now(sb);
    let deadline = Instant::now() + Duration::from_secs(10);
    while got != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        got = sb_now(sb);
    }
    assert!(got == want, "{when}: SB differs\n{}", diff(&got, &want));
    eprintln!(
        "{when}: {} SB rows as compiled; --wait=sb sync took {:.0} ms",
        got.len(),
        took.as_secs_f64() * 1000.0
    );
}

#[test]
fn clustered_nb_and_sb_survive_leader_failures() {
    match oracle::available() {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("skipping: OVN binaries not on PATH (and CI unset)");
            return;
        }
        Err(e) => panic!("{e}"),
    }
    let mut nb = Cluster::start("ovn-nb.ovsschema", "nb", 3).unwrap();
    let mut sb = Cluster::start("ovn-sb.ovsschema", "sb", 3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ovnflow"));
    for v in [
        "OVS_RUNDIR",
        "OVS_LOGDIR",
        "OVS_DBDIR",
        "OVN_RUNDIR",
        "OVN_LOGDIR",
    ] {
        cmd.env(v, dir.path());
    }
    let _northd = Proc(
        cmd.arg("northd")
            .arg(format!("--ovnnb-db={}", nb.remotes()))
            .arg(format!("--ovnsb-db={}", sb.remotes()))
            .arg(format!(
                "--unixctl={}",
                dir.path().join("northd.ctl").display()
            ))
            .arg(format!(
                "--log-file={}",
                dir.path().join("northd.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ovnflow northd"),
    );
    let log = || std::fs::read_to_string(dir.path().join("northd.log")).unwrap_or_default();

    nbctl(&nb, &["ls-add", "sw0"]);
    nbctl(&nb, &["ls-add", "sw1"]);
    nbctl(&nb, &["lr-add", "lr0"]);
    nbctl(
        &nb,
        &["lrp-add", "lr0", "lrp0", "00:00:00:00:ff:01", "10.0.0.1/24"],
    );
    nbctl(
        &nb,
        &["lrp-add", "lr0", "lrp1", "00:00:00:00:ff:02", "10.0.1.1/24"],
    );
    for (sw, lrp) in [("sw0", "lrp0"), ("sw1", "lrp1")] {
        let p = format!("{sw}-lr0");
        nbctl(
            &nb,
            &[
                "lsp-add",
                sw,
                &p,
                "--",
                "lsp-set-type",
                &p,
                "router",
                "--",
                "lsp-set-addresses",
                &p,
                "router",
                "--",
                "lsp-set-options",
                &p,
                &format!("router-port={lrp}"),
            ],
        );
    }
    nbctl(
        &nb,
        &[
            "lsp-add",
            "sw0",
            "vm1",
            "--",
            "lsp-set-addresses",
            "vm1",
            "00:00:00:00:00:01 10.0.0.2",
        ],
    );
    nbctl(
        &nb,
        &[
            "acl-add",
            "sw0",
            "to-lport",
            "1001",
            "ip4 && tcp.dst == 22",
            "drop",
        ],
    );
    nbctl(
        &nb,
        &["lb-add", "lb0", "10.0.0.100:80", "10.0.1.2:8080", "tcp"],
    );
    nbctl(&nb, &["ls-lb-add", "sw0", "lb0"]);
    check(&nb, &sb, "initial");

    // The SB leader dies; a change goes in while the SB elects another.
    let leader = sb.leader(30).expect("an SB leader");
    sb.kill_member(leader);
    nbctl(
        &nb,
        &[
            "lsp-add",
            "sw1",
            "vm2",
            "--",
            "lsp-set-addresses",
            "vm2",
            "00:00:00:00:00:02 10.0.1.2",
        ],
    );
    check(&nb, &sb, &format!("SB leader sb{leader} killed"));

    // The NB leader dies.
    let nb_leader = nb.leader(30).expect("an NB leader");
    nb.kill_member(nb_leader);
    nbctl(
        &nb,
        &[
            "lsp-add",
            "sw1",
            "vm3",
            "--",
            "lsp-set-addresses",
            "vm3",
            "00:00:00:00:00:03 10.0.1.3",
        ],
    );
    nbctl(
        &nb,
        &[
            "acl-add",
            "sw1",
            "from-lport",
            "1002",
            "ip4 && udp",
            "allow-related",
        ],
    );
    check(&nb, &sb, &format!("NB leader nb{nb_leader} killed"));

    // Both come back; one more change, then a deletion.
    sb.start_member(leader).unwrap();
    nb.start_member(nb_leader).unwrap();
    nbctl(&nb, &["lsp-del", "vm1"]);
    nbctl(&nb, &["ls-lb-del", "sw0"]);
    check(&nb, &sb, "members restarted");

    // The new SB leader dies too (two leader changes in one run).
    let leader = sb.leader(30).expect("an SB leader");
    sb.kill_member(leader);
    nbctl(&nb, &["ls-add", "sw2"]);
    check(&nb, &sb, &format!("second SB leader sb{leader} killed"));
    assert!(!log().contains("panicked"), "{}", log());
}
