//! `ovnflow northd` against real OVN: private NB and SB ovsdb-servers (the
//! golden oracle's), real `ovn-nbctl --wait=sb sync`, `ovn-appctl`, and real
//! ovn-northd 23.03 as the reference. Runs whenever the OVN binaries are
//! installed, and must run when `CI` is set.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ovnflow_compiler::{Compiler, Options};
use ovnflow_golden::canon::{canonical, from_text, parse_dump, Canon, Tables};
use ovnflow_golden::corpus::{self, Entry};
use ovnflow_golden::oracle::{self, Oracle};

/// Whether to run; prints why not when skipping.
fn live() -> bool {
    match oracle::available() {
        Ok(true) => true,
        Ok(false) => {
            eprintln!("skipping: OVN binaries not on PATH (and CI unset)");
            false
        }
        Err(e) => panic!("{e}"),
    }
}

/// A process this test started, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_cmd(dir: &Path, bin: &str) -> Command {
    let mut c = Command::new(bin);
    for v in [
        "OVS_RUNDIR",
        "OVS_LOGDIR",
        "OVS_DBDIR",
        "OVN_RUNDIR",
        "OVN_LOGDIR",
    ] {
        c.env(v, dir);
    }
    c.env(
        "OVN_NB_DB",
        format!("unix:{}", dir.join("nb.sock").display()),
    );
    c.env(
        "OVN_SB_DB",
        format!("unix:{}", dir.join("sb.sock").display()),
    );
    c.stdin(Stdio::null());
    c
}

/// One `ovnflow northd` instance in the oracle's directory.
struct Northd {
    _proc: Proc,
    ctl: PathBuf,
}

impl Northd {
    fn start(dir: &Path, name: &str) -> Northd {
        let ctl = dir.join(format!("{name}.ctl"));
        let child = env_cmd(dir, env!("CARGO_BIN_EXE_ovnflow"))
            .arg("northd")
            .arg(format!("--unixctl={}", ctl.display()))
            .arg(format!(
                "--log-file={}",
                dir.join(format!("{name}.log")).display()
            ))
            .arg(format!("--ovnnb-db=unix:{}", dir.join("nb.sock").display()))
            .arg(format!("--ovnsb-db=unix:{}", dir.join("sb.sock").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ovnflow northd");
        let n = Northd {
            _proc: Proc(child),
            ctl,
        };
        wait_for(&format!("{name} control socket"), || n.ctl.exists());
        n
    }

    fn appctl(&self, args: &[&str]) -> String {
        appctl(&self.ctl, args)
    }

    fn status(&self) -> String {
        self.appctl(&["status"]).trim().to_string()
    }

    /// A counter of `stats`.
    fn counter(&self, name: &str) -> u64 {
        let text = self.appctl(&["stats"]);
        text.lines()
            .find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(name)).then(|| w.next().unwrap().parse().unwrap())
            })
            .unwrap_or(0)
    }

    fn rows_written(&self) -> u64 {
        self.counter("sb_rows_inserted")
            + self.counter("sb_rows_updated")
            + self.counter("sb_rows_deleted")
    }

    fn timing_ms(&self, name: &str, field: &str) -> f64 {
        let text = self.appctl(&["stats"]);
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no timing {name} in {text}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        let i = words
            .iter()
            .position(|w| *w == format!("{field}:"))
            .unwrap();
        words[i + 1].parse().unwrap()
    }
}

fn appctl(ctl: &Path, args: &[&str]) -> String {
    let out = Command::new("ovn-appctl")
        .arg("-t")
        .arg(ctl)
        .args(args)
        .output()
        .expect("ovn-appctl");
    assert!(
        out.status.success(),
        "ovn-appctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sb_tables(o: &Oracle) -> Tables {
    parse_dump(&o.dump_sb().unwrap()).unwrap()
}

/// What the compiler makes of the NB's recorded history (one compiler
/// batch per NB transaction, as the daemon saw them), then of what the SB
/// holds of the columns northd reads back.
fn compiled_from_history(o: &Oracle) -> Canon {
    let text = o.nb_db().unwrap();
    let file = ovsdb::file::read_db_bytes_history(text.as_bytes(), "nb.db").unwrap();
    let mut c = Compiler::new(Options::default()).unwrap();
    for txn in file.history {
        c.apply(txn).unwrap();
    }
    let sb = sb_tables(o);
    let inputs = ovnflow_compiler::sb_input::read_all(
        sb.iter()
            .flat_map(|(t, rows)| rows.iter().map(move |(u, r)| (t.as_str(), *u, r))),
    );
    ovnflow_golden::corpus::feed_sb_input(&mut c, inputs);
    canonical(&c.sb_state())
}

fn diff(a: &Canon, b: &Canon) -> String {
    let only_a: Vec<_> = a.difference(b).take(10).collect();
    let only_b: Vec<_> = b.difference(a).take(10).collect();
    format!("only left: {only_a:#?}\nonly right: {only_b:#?}")
}

fn nbctl(o: &Oracle, line: &str) {
    o.nbctl(line).unwrap();
}

fn sync(o: &Oracle) {
    o.sync().unwrap();
}

fn entry(name: &str) -> Entry {
    corpus::select(&[name.to_string()]).unwrap().remove(0)
}

/// Feeds an entry as golden's regeneration feeds real northd: the first
/// transaction before the daemon starts, the others one by one, each
/// followed by a sync.
fn run_entry(e: &Entry) -> (Oracle, Northd) {
    let o = Oracle::start().unwrap();
    let txns = e.nb_transactions().unwrap();
    o.transact(&txns[0]).unwrap();
    let n = Northd::start(o.dir(), "ovnflow");
    sync(&o);
    for t in &txns[1..] {
        o.transact(t).unwrap();
        sync(&o);
    }
    // SB input as ovn-controller would write it (entries with sb.sbctl),
    // as golden's regeneration runs it.
    for line in e.sbctl_lines() {
        o.sbctl(&line).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        sync(&o);
        sync(&o);
    }
    (o, n)
}

/// Whether golden lists every section of the entry as identical to real
/// northd (entries with routers or load balancers are not, yet).
fn switch_only(e: &Entry) -> bool {
    !e.read("status.txt").unwrap().contains("\tdiffers")
}

/// Test 1, drop-in: on every corpus entry the SB `ovnflow northd` writes is
/// what the compiler computes from the same NB history, and, for entries
/// golden lists as identical, what real ovn-northd wrote (`sb.txt`).
#[test]
fn drop_in_matches_compiler_and_real_northd_on_the_corpus() {
    if !live() {
        return;
    }
    let mut failures = Vec::new();
    for e in corpus::entries(&corpus::corpus_dir()).unwrap() {
        let t = Instant::now();
        let (o, n) = run_entry(&e);
        let ours = canonical(&sb_tables(&o));
        let compiled = compiled_from_history(&o);
        let northd = from_text(&e.read("sb.txt").unwrap()).unwrap();
        if ours != compiled {
            failures.push(format!(
                "{}: daemon != compiler\n{}",
                e.name,
                diff(&ours, &compiled)
            ));
        }
        if switch_only(&e) && ours != northd {
            failures.push(format!(
                "{}: daemon != ovn-northd\n{}",
                e.name,
                diff(&ours, &northd)
            ));
        }
        assert_eq!(n.status(), "Status: active");
        eprintln!(
            "{}: {} SB rows, {:.0} ms (start to SB written {:.1} ms)",
            e.name,
            ours.len(),
            t.elapsed().as_secs_f64() * 1000.0,
            n.timing_ms("start_to_sb", "last")
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Test 2, takeover: real ovn-northd writes the SB, exits, and ovnflow
/// takes over without writing a row; an NB edit then gives the SB real
/// northd agrees with (restarted on it, it has nothing to change).
#[test]
fn takeover_from_real_northd_writes_nothing_then_follows_edits() {
    if !live() {
        return;
    }
    for name in ["churn", "acls", "dhcp", "port-types"] {
        assert!(
            switch_only(&entry(name)),
            "{name} is not identical in golden"
        );
        let e = entry(name);
        let mut o = Oracle::start().unwrap();
        let txns = e.nb_transactions().unwrap();
        o.transact(&txns[0]).unwrap();
        o.start_northd().unwrap();
        sync(&o);
        for t in &txns[1..] {
            o.transact(t).unwrap();
            sync(&o);
        }
        let real_ctl = o.dir().join("northd.ctl");
        let before = sb_tables(&o);
        appctl(&real_ctl, &["exit"]);
        wait_for("real northd exit", || !real_ctl.exists());

        let n = Northd::start(o.dir(), "ovnflow");
        wait_for("reconciliation", || n.counter("sb_full_reconcile") >= 1);
        assert_eq!(n.status(), "Status: active");
        assert_eq!(
            n.rows_written(),
            0,
            "{name}: takeover rewrote rows:\n{}",
            n.appctl(&["stats"])
        );
        // A sync bumps nb_cfg: exactly SB_Global is written.
        sync(&o);
        assert_eq!(n.rows_written(), 1, "{}", n.appctl(&["stats"]));
        let after = sb_tables(&o);
        for t in ["Logical_Flow", "Datapath_Binding", "Port_Binding"] {
            assert_eq!(before.get(t), after.get(t), "{name}: {t} changed");
        }

        // An edit: a new switch port with an ACL.
        let ls = o
            .nbctl("--bare --columns=name find Logical_Switch")
            .unwrap();
        let ls = ls.split_whitespace().next().unwrap().to_string();
        nbctl(&o, &format!("lsp-add {ls} takeover-p1 -- lsp-set-addresses takeover-p1 \"0a:00:00:00:10:01 10.99.0.1\""));
        nbctl(
            &o,
            &format!("acl-add {ls} from-lport 1001 \"inport == \\\"takeover-p1\\\"\" drop"),
        );
        sync(&o);
        assert!(n.rows_written() > 0);
        let ours = canonical(&sb_tables(&o));
        drop(n);
        // Real northd on our SB: it must find it as it would have written it.
        let out = env_cmd(o.dir(), "ovn-northd")
            .arg("--no-chdir")
            .arg(format!(
                "--unixctl={}",
                o.dir().join("northd2.ctl").display()
            ))
            .arg(format!(
                "--log-file={}",
                o.dir().join("northd2.log").display()
            ))
            .arg(format!(
                "--ovnnb-db=unix:{}",
                o.dir().join("nb.sock").display()
            ))
            .arg(format!(
                "--ovnsb-db=unix:{}",
                o.dir().join("sb.sock").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let _real = Proc(out);
        sync(&o);
        let theirs = canonical(&sb_tables(&o));
        assert_eq!(
            ours,
            theirs,
            "{name}: real northd corrected our SB\n{}",
            diff(&ours, &theirs)
        );
    }
}

/// Test 3, incremental: ports and ACLs added and removed while running; the
/// SB equals a from-scratch compile of the NB history after each sync.
#[test]
fn incremental_edits_equal_from_scratch_compile() {
    if !live() {
        return;
    }
    let o = Oracle::start().unwrap();
    o.transact(&ovnflow_golden::regen::initial_nb_global())
        .unwrap();
    let n = Northd::start(o.dir(), "ovnflow");
    let steps = [
        "ls-add sw0",
        "ls-add sw1",
        "lsp-add sw0 p1 -- lsp-set-addresses p1 \"00:00:00:00:00:01 10.0.0.1\"",
        "lsp-add sw0 p2 -- lsp-set-addresses p2 \"00:00:00:00:00:02 10.0.0.2\" -- lsp-set-port-security p2 \"00:00:00:00:00:02 10.0.0.2\"",
        "lsp-add sw1 q1 -- lsp-set-addresses q1 unknown",
        "acl-add sw0 from-lport 1002 \"ip4 && tcp.dst == 80\" allow-related",
        "pg-add pg1 p1 p2 -- acl-add pg1 to-lport 1001 \"outport == @pg1 && ip4\" drop",
        "lsp-del p1",
        "lsp-add sw0 p3 -- lsp-set-addresses p3 \"00:00:00:00:00:03 10.0.0.3\"",
        "acl-del sw0",
        "pg-del pg1",
        "ls-del sw1",
        "lsp-add sw0 p4",
    ];
    let mut latencies = Vec::new();
    for step in steps {
        nbctl(&o, step);
        let t = Instant::now();
        sync(&o);
        latencies.push(t.elapsed());
        let ours = canonical(&sb_tables(&o));
        let expected = compiled_from_history(&o);
        assert_eq!(
            ours,
            expected,
            "after `{step}`:\n{}",
            diff(&ours, &expected)
        );
    }
    let nb_to_sb = n.timing_ms("nb_to_sb", "avg");
    eprintln!(
        "incremental: {} steps, NB change to SB commit avg {nb_to_sb:.1} ms (max {:.1} ms); sync round trips {:?}",
        steps.len(),
        n.timing_ms("nb_to_sb", "max"),
        latencies
    );
}

/// Test 4, HA: two instances, one active and one standby; killing the
/// active one makes the other active without rewriting the SB.
#[test]
fn standby_takes_over_when_active_dies() {
    if !live() {
        return;
    }
    let e = entry("k8s-tiny");
    let (o, a) = run_entry(&e);
    let b = Northd::start(o.dir(), "ovnflow2");
    wait_for("b standby", || b.status() == "Status: standby");
    assert_eq!(a.status(), "Status: active");
    sync(&o);
    let before = canonical(&sb_tables(&o));
    drop(a); // SIGKILL
    wait_for("b active", || b.status() == "Status: active");
    wait_for("reconciliation", || b.counter("sb_full_reconcile") >= 1);
    assert_eq!(b.rows_written(), 0, "{}", b.appctl(&["stats"]));
    sync(&o);
    assert_eq!(canonical(&sb_tables(&o)), before);
    // Pause and resume: paused gives up the lock.
    b.appctl(&["pause"]);
    assert_eq!(b.status(), "Status: paused");
    assert_eq!(b.appctl(&["is-paused"]), "true\n");
    b.appctl(&["resume"]);
    wait_for("b active again", || b.status() == "Status: active");
    nbctl(&o, "ls-add ha-sw -- lsp-add ha-sw ha-p1");
    sync(&o);
    let ours = canonical(&sb_tables(&o));
    assert_eq!(
        ours,
        compiled_from_history(&o),
        "{}",
        diff(&ours, &compiled_from_history(&o))
    );
    assert!(b.appctl(&["coverage/show"]).contains("sb_txn"));
    assert!(b
        .appctl(&["list-commands"])
        .contains("inc-engine/recompute"));
    b.appctl(&["inc-engine/recompute"]);
    sync(&o);
    assert_eq!(canonical(&sb_tables(&o)), ours);
}

/// Test 5: the SB ovsdb-server restarts under the daemon, first on its
/// database file, then on an empty database; the daemon reconnects and the
/// SB converges to the compiled SB.
#[test]
fn sb_server_restart_converges() {
    if !live() {
        return;
    }
    let e = entry("k8s-tiny");
    let (o, n) = run_entry(&e);
    let dir = o.dir().to_path_buf();
    let kill_sb = || {
        let pid: i32 = std::fs::read_to_string(dir.join("sb.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The SB server the oracle (this test) started.
        Command::new("kill").arg(pid.to_string()).status().unwrap();
        wait_for("sb server gone", || !dir.join("sb.pid").exists());
    };
    let start_sb = |db: &str| {
        Proc(
            env_cmd(&dir, "ovsdb-server")
                .arg("--no-chdir")
                .arg(format!("--pidfile={}", dir.join("sb.pid").display()))
                .arg(format!("--unixctl={}", dir.join("sb.ctl").display()))
                .arg(format!("--remote=punix:{}", dir.join("sb.sock").display()))
                .arg(format!("--log-file={}", dir.join("sb2.log").display()))
                .arg(dir.join(db))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let expected = compiled_from_history(&o);
    kill_sb();
    nbctl(&o, "ls-add restart-sw");
    let _sb = start_sb("sb.db");
    sync(&o);
    let ours = canonical(&sb_tables(&o));
    assert_eq!(
        ours,
        compiled_from_history(&o),
        "{}",
        diff(&ours, &compiled_from_history(&o))
    );
    assert_ne!(ours, expected);
    kill_sb();
    drop(_sb);
    // A fresh, empty SB.
    let status = Command::new("ovsdb-tool")
        .arg("create")
        .arg(dir.join("sb-new.db"))
        .arg(oracle::schema_path("ovn-sb.ovsschema"))
        .status()
        .unwrap();
    assert!(status.success());
    let _sb2 = start_sb("sb-new.db");
    nbctl(&o, "lsp-add restart-sw restart-p1");
    sync(&o);
    let ours = canonical(&sb_tables(&o));
    let want = compiled_from_history(&o);
    assert_eq!(ours, want, "{}", diff(&ours, &want));
    assert_eq!(n.status(), "Status: active");
}

/// Timings on a generated Kubernetes-shaped NB (golden's generator): from
/// daemon start to the SB written, and from an NB commit to the SB commit
/// for single-port changes. Prints the measures; checks the SB each time.
#[test]
fn k8s_generated_timings() {
    if !live() {
        return;
    }
    let shape = ovnflow_golden::gen::k8s::K8sShape {
        nodes: 20,
        pods_per_node: 25,
        services: 40,
        backends: 3,
        policies: 20,
    };
    let o = Oracle::start().unwrap();
    // The generated NB has its NB_Global (with mac_prefix and svc_monitor_mac).
    big_transact(&o, ovnflow_golden::gen::k8s::k8s(&shape));
    let t = Instant::now();
    let n = Northd::start(o.dir(), "ovnflow");
    sync(&o);
    let wall = t.elapsed();
    let ours = canonical(&sb_tables(&o));
    assert_eq!(
        ours,
        compiled_from_history(&o),
        "{}",
        diff(&ours, &compiled_from_history(&o))
    );
    let start_to_sb = n.timing_ms("start_to_sb", "last");
    let mut syncs = Vec::new();
    for i in 0..10 {
        nbctl(&o, &format!("lsp-add node0 extra{i} -- lsp-set-addresses extra{i} \"0a:00:00:00:20:{i:02x} 10.200.0.{}\"", i + 2));
        let t = Instant::now();
        sync(&o);
        syncs.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let ours = canonical(&sb_tables(&o));
    assert_eq!(ours, compiled_from_history(&o));
    eprintln!(
        "k8s {shape:?}: {} SB rows; start to SB written {start_to_sb:.1} ms (daemon), {:.1} ms wall incl. process start and sync; \
         single change NB->SB commit avg {:.1} ms max {:.1} ms; nbctl --wait=sb sync round trips (ms) {:?}",
        ours.len(),
        wall.as_secs_f64() * 1000.0,
        n.timing_ms("nb_to_sb", "avg"),
        n.timing_ms("nb_to_sb", "max"),
        syncs.iter().map(|x| (x * 10.0).round() / 10.0).collect::<Vec<_>>()
    );
}

/// A transaction too large for `ovsdb-client`'s command line, through our
/// client.
fn big_transact(o: &Oracle, params: serde_json::Value) {
    let mut ops = params.as_array().unwrap().clone();
    let db = ops.remove(0);
    let remote =
        ovsdb::remote::Remote::parse(&format!("unix:{}", o.dir().join("nb.sock").display()))
            .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (conn, _notes) = ovsdb::client::Connection::connect(&remote, &Default::default())
            .await
            .unwrap();
        conn.transact_checked(db.as_str().unwrap(), ops)
            .await
            .unwrap();
    });
}
