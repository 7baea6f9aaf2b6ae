//! `ovnflow flows` against a real ovn-controller 23.03.
//!
//! For each corpus entry: a private NB + SB + ovn-northd (the golden
//! oracle), a userspace chassis (ovsdb-server for Open_vSwitch,
//! ovs-vswitchd with dummy netdevs, br-int `datapath_type=netdev`
//! `fail-mode=secure`, ovn-controller with `system-id=hv1`, geneve on
//! 127.0.0.1), every VIF port of the entry bound to an OVS internal port
//! with `external_ids:iface-id`; after `ovn-nbctl --wait=hv sync` the
//! installed flows (`ovs-ofctl -O OpenFlow15 dump-flows br-int --no-stats`)
//! are compared with `ovnflow flows` on the same live SB, the same ofports
//! and the same conntrack zones.
//!
//! Normalized before comparing: group ids (`group:N`, allocated in hash
//! order by ovn-controller) and the order of `conjunction()` actions merged
//! on one flow.  Per table the identical/missing/extra counts are printed;
//! the test asserts that every table is identical.
//!
//! Runs when the OVN/OVS binaries are installed; with `CI` set their
//! absence is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ovnflow_golden::corpus::{self, Entry};
use ovnflow_golden::oracle::{self, Oracle};

/// Corpus entries compared.
const ENTRIES: &[&str] = &[
    "single-switch",
    "acls",
    "lb-switch",
    "mixed-ports",
    "port-types",
    "dhcp",
    "dns",
    "mcast-snoop",
];

const CHASSIS_BINARIES: &[&str] = &["ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ovn-controller"];

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

/// Whether the daemons are installed (an error in CI if they are not).
fn available() -> bool {
    let ovn = oracle::available().expect("OVN binaries");
    let missing: Vec<&str> = CHASSIS_BINARIES
        .iter()
        .copied()
        .filter(|b| !on_path(b))
        .collect();
    if !missing.is_empty() && std::env::var_os("CI").is_some() {
        panic!("CI is set but {} not on PATH", missing.join(", "));
    }
    ovn && missing.is_empty()
}

/// The chassis daemons, killed (by the pid we started) on drop.
struct Chassis {
    dir: PathBuf,
    children: Vec<Child>,
}

impl Drop for Chassis {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Chassis {
    fn cmd(&self, bin: &str) -> Command {
        let mut c = Command::new(bin);
        for var in [
            "OVS_RUNDIR",
            "OVS_LOGDIR",
            "OVS_DBDIR",
            "OVS_SYSCONFDIR",
            "OVN_RUNDIR",
            "OVN_LOGDIR",
            "OVN_DBDIR",
            "OVN_SYSCONFDIR",
        ] {
            c.env(var, &self.dir);
        }
        c.env("OVN_NB_DB", format!("unix:{}", self.path("nb.sock")));
        c.env("OVN_SB_DB", format!("unix:{}", self.path("sb.sock")));
        c.stdin(Stdio::null());
        c
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn run(&self, bin: &str, args: &[&str]) -> String {
        let out = self
            .cmd(bin)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{bin}: {e}"));
        assert!(
            out.status.success(),
            "{bin} {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn vsctl(&self, args: &[&str]) -> String {
        let db = format!("--db=unix:{}", self.path("db.sock"));
        let mut all = vec![db.as_str(), "--timeout=30"];
        all.extend_from_slice(args);
        self.run("ovs-vsctl", &all)
    }

    fn spawn(&mut self, bin: &str, args: &[String]) {
        let child = self
            .cmd(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        self.children.push(child);
    }

    /// Starts the Open_vSwitch ovsdb-server, ovs-vswitchd and
    /// ovn-controller in `dir` (the oracle's directory, where `sb.sock` is).
    fn start(dir: &Path) -> Chassis {
        let mut c = Chassis {
            dir: dir.to_path_buf(),
            children: Vec::new(),
        };
        c.run(
            "ovsdb-tool",
            &[
                "create",
                &c.path("conf.db"),
                "/usr/share/openvswitch/vswitch.ovsschema",
            ],
        );
        let args = vec![
            "--no-chdir".to_string(),
            format!("--pidfile={}", c.path("ovsdb-server-vs.pid")),
            format!("--unixctl={}", c.path("ovsdb-server-vs.ctl")),
            format!("--remote=punix:{}", c.path("db.sock")),
            format!("--log-file={}", c.path("ovsdb-server-vs.log")),
            c.path("conf.db"),
        ];
        c.spawn("ovsdb-server", &args);
        wait_for(20, "Open_vSwitch ovsdb-server", || {
            Path::new(&c.path("db.sock")).exists()
        });
        c.vsctl(&["--no-wait", "init"]);
        let args = vec![
            format!("unix:{}", c.path("db.sock")),
            "--no-chdir".to_string(),
            "--enable-dummy=override".to_string(),
            "--disable-system-route".to_string(),
            format!("--pidfile={}", c.path("ovs-vswitchd.pid")),
            format!("--unixctl={}", c.path("ovs-vswitchd.ctl")),
            format!("--log-file={}", c.path("ovs-vswitchd.log")),
        ];
        c.spawn("ovs-vswitchd", &args);
        let remote = format!("external-ids:ovn-remote=unix:{}", c.path("sb.sock"));
        c.vsctl(&[
            "--",
            "set",
            "Open_vSwitch",
            ".",
            "external-ids:system-id=hv1",
            "external-ids:hostname=hv1",
            &remote,
            "external-ids:ovn-encap-type=geneve",
            "external-ids:ovn-encap-ip=127.0.0.1",
            "external-ids:ovn-bridge-datapath-type=netdev",
            "--",
            "add-br",
            "br-int",
            "--",
            "set",
            "bridge",
            "br-int",
            "datapath_type=netdev",
            "fail-mode=secure",
            "other-config:disable-in-band=true",
        ]);
        // ovn-controller 23.03 has no --unixctl: its socket goes to
        // OVN_RUNDIR, which is `dir`.
        let args = vec![
            format!("unix:{}", c.path("db.sock")),
            "--no-chdir".to_string(),
            format!("--pidfile={}", c.path("ovn-controller.pid")),
            format!("--log-file={}", c.path("ovn-controller.log")),
        ];
        c.spawn("ovn-controller", &args);
        wait_for(30, "chassis hv1 in the SB", || {
            c.run(
                "ovn-sbctl",
                &["--bare", "--columns=name", "list", "Chassis"],
            )
            .lines()
            .any(|l| l.trim() == "hv1")
        });
        c
    }
}

fn wait_for(secs: u64, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Flow text with what legitimately differs normalized: group ids, and
/// the order of `conjunction(...)` actions merged on one flow.
fn normalize(line: &str) -> String {
    let line = line.trim();
    let Some((head, actions)) = line.split_once(" actions=") else {
        return line.to_string();
    };
    let mut actions = actions.to_string();
    while let Some(i) = actions.find("group:") {
        let digits = actions[i + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        actions.replace_range(i..i + 6 + digits, "GROUP:G");
    }
    let actions = actions.replace("GROUP:G", "group:G");
    if actions.starts_with("conjunction(") {
        let mut parts: Vec<&str> = actions.split("),").collect();
        let last = parts.pop().unwrap_or("").trim_end_matches(')').to_string();
        let mut all: Vec<String> = parts.iter().map(|p| format!("{p})")).collect();
        all.push(format!("{last})"));
        all.sort();
        return format!("{head} actions={}", all.join(","));
    }
    format!("{head} actions={actions}")
}

fn table_of(line: &str) -> u8 {
    line.split(", ")
        .find_map(|f| f.strip_prefix("table="))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// Per table: (identical, missing, extra) and the differing lines.
type Report = BTreeMap<u8, (usize, Vec<String>, Vec<String>)>;

fn compare(real: &[String], ours: &[String]) -> Report {
    let mut report = Report::new();
    let count = |lines: &[String]| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for l in lines {
            *m.entry(normalize(l)).or_default() += 1;
        }
        m
    };
    let (r, o) = (count(real), count(ours));
    let keys: BTreeSet<&String> = r.keys().chain(o.keys()).collect();
    for k in keys {
        let (nr, no) = (
            r.get(k).copied().unwrap_or(0),
            o.get(k).copied().unwrap_or(0),
        );
        let e = report.entry(table_of(k)).or_default();
        e.0 += nr.min(no);
        for _ in no..nr {
            e.1.push(k.clone());
        }
        for _ in nr..no {
            e.2.push(k.clone());
        }
    }
    report
}

fn run_entry(entry: &Entry) -> Report {
    let mut o = Oracle::start().expect("oracle");
    let txns = entry.nb_transactions().expect("NB transactions");
    let mut txns = txns.iter();
    if let Some(first) = txns.next() {
        o.transact(first).expect("first NB transaction");
    }
    o.start_northd().expect("northd");
    o.sync().expect("sync");
    for t in txns {
        o.transact(t).expect("NB transaction");
        o.sync().expect("sync");
    }
    let hv = Chassis::start(o.dir());
    // Every VIF of the entry, bound to an internal port.
    // (Names with `,` or `=` cannot be given to `--ports`; they stay
    // unbound.)
    let vifs = hv.run(
        "ovn-sbctl",
        &[
            "--format=json",
            "--columns=logical_port",
            "find",
            "Port_Binding",
            "type=\"\"",
        ],
    );
    let vifs: serde_json::Value = serde_json::from_str(&vifs).expect("ovn-sbctl JSON");
    let mut vifs: Vec<String> = vifs["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row[0].as_str())
        .filter(|n| !n.contains(',') && !n.contains('='))
        .map(String::from)
        .collect();
    vifs.sort();
    let mut ports = Vec::new();
    for (i, lp) in vifs.iter().enumerate() {
        let ofport = i + 1;
        let name = format!("vif{ofport}");
        let quoted = serde_json::to_string(lp).expect("JSON string");
        let iface_id = format!("external_ids:iface-id={quoted}");
        let req = format!("ofport-request={ofport}");
        hv.vsctl(&[
            "add-port",
            "br-int",
            &name,
            "--",
            "set",
            "Interface",
            &name,
            "type=internal",
            &iface_id,
            &req,
        ]);
        ports.push(format!("{lp}={ofport}"));
    }
    for lp in &vifs {
        wait_for(30, &format!("{lp} bound"), || {
            let cond = format!("logical_port={}", serde_json::to_string(lp).expect("JSON"));
            !hv.run(
                "ovn-sbctl",
                &["--bare", "--columns=chassis", "find", "Port_Binding", &cond],
            )
            .trim()
            .is_empty()
        });
    }
    o.nbctl("--wait=hv --timeout=60 sync").expect("wait=hv");
    let ext = hv.vsctl(&[
        "--format=json",
        "--columns=external_ids",
        "list",
        "Bridge",
        "br-int",
    ]);
    let ext: serde_json::Value = serde_json::from_str(&ext).expect("ovs-vsctl JSON");
    // {"data":[[["map",[[k,v],...]]]],...}
    let zones: Vec<String> = ext["data"][0][0][1]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|kv| Some((kv[0].as_str()?, kv[1].as_str()?)))
        .filter_map(|(k, v)| k.strip_prefix("ct-zone-").map(|u| format!("{u}={v}")))
        .collect();
    let mgmt = format!("unix:{}", hv.path("br-int.mgmt"));
    let real = hv.run(
        "ovs-ofctl",
        &["-O", "OpenFlow15", "dump-flows", &mgmt, "--no-stats"],
    );
    let real: Vec<String> = real
        .lines()
        .filter(|l| !l.starts_with("OFPST_FLOW") && !l.trim().is_empty())
        .map(String::from)
        .collect();
    let sb = format!("unix:{}", hv.path("sb.sock"));
    let out = Command::new(env!("CARGO_BIN_EXE_ovnflow"))
        .args(["flows", &sb, "--chassis", "hv1"])
        .arg(format!("--ports={}", ports.join(",")))
        .arg(format!("--zones={}", zones.join(",")))
        .output()
        .expect("ovnflow flows");
    assert!(
        out.status.success(),
        "ovnflow flows: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    if let Ok(d) = std::env::var("FLOWS_DUMP_DIR") {
        // For investigation: both dumps, as compared.
        let write = |side: &str, lines: &[String]| {
            let path = Path::new(&d).join(format!("{}-{side}.txt", entry.name));
            std::fs::write(&path, lines.join("\n") + "\n")
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        };
        write("real", &real);
        write("ours", &ours);
    }
    compare(&real, &ours)
}

#[test]
fn flows_equal_real_ovn_controller() {
    if !available() {
        eprintln!("skipped: OVN/OVS binaries not installed (and CI not set)");
        return;
    }
    let names: Vec<String> = match std::env::var("FLOWS_ENTRIES") {
        Ok(v) => v.split(',').map(String::from).collect(),
        Err(_) => ENTRIES.iter().map(|s| s.to_string()).collect(),
    };
    let entries = corpus::select(&names).expect("corpus entries");
    let mut failures = Vec::new();
    for entry in &entries {
        let report = run_entry(entry);
        let (mut same, mut missing, mut extra) = (0, 0, 0);
        for (table, (s, m, x)) in &report {
            println!(
                "{} table {table}: {s} identical, {} missing, {} extra",
                entry.name,
                m.len(),
                x.len()
            );
            for l in m {
                println!("  missing: {l}");
            }
            for l in x {
                println!("  extra:   {l}");
            }
            same += s;
            missing += m.len();
            extra += x.len();
            if !m.is_empty() || !x.is_empty() {
                failures.push(format!("{} table {table}", entry.name));
            }
        }
        println!(
            "{}: {same} identical, {missing} missing, {extra} extra",
            entry.name
        );
    }
    assert!(failures.is_empty(), "flows differ: {failures:?}");
}
