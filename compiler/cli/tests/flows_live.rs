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
//! With a remote chassis (`flows_with_remote_chassis_...`): a second
//! chassis in its own directory (system-id hv2, or the node names the
//! ports request, geneve on 127.0.0.2) gets every other VIF; the compared
//! chassis's tunnel port (read from OVS) is given with `--tunnels`.
//!
//! Normalized before comparing: group ids (`group:N`, allocated in hash
//! order by ovn-controller) and the order of `conjunction()` actions merged
//! on one flow.  Per table the identical/missing/extra counts are printed;
//! the test asserts that every table is identical, except for key ties
//! (two SB rows giving one OpenFlow key: the winner follows hash order,
//! see `split_ties`), which are printed.
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
    "router-policies",
    "router-static-routes",
    "router-two-switches",
    "churn",
    "single-txn-acls",
    "single-txn-sequential-uuids",
];

/// Corpus entries compared with a remote chassis (k8s-tiny's pods request
/// their nodes: the two chassis are named after them).
const REMOTE_ENTRIES: &[&str] = &[
    "single-switch",
    "acls",
    "lb-switch",
    "mixed-ports",
    "port-types",
    "mcast-snoop",
    "router-two-switches",
    "k8s-tiny",
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
    /// The chassis's own directory (its conf.db, sockets, logs).
    dir: PathBuf,
    /// The oracle's directory, where `nb.sock` and `sb.sock` are.
    ovn_dir: PathBuf,
    /// `external_ids:system-id`.
    name: String,
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
        let sock = |n: &str| format!("unix:{}", self.ovn_dir.join(n).display());
        c.env("OVN_NB_DB", sock("nb.sock"));
        c.env("OVN_SB_DB", sock("sb.sock"));
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
    /// ovn-controller of chassis `name` (geneve on `encap_ip`) in `dir`,
    /// connected to the SB in `ovn_dir`.
    fn start(ovn_dir: &Path, dir: &Path, name: &str, encap_ip: &str) -> Chassis {
        std::fs::create_dir_all(dir).expect("chassis directory");
        let mut c = Chassis {
            dir: dir.to_path_buf(),
            ovn_dir: ovn_dir.to_path_buf(),
            name: name.to_string(),
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
        let remote = format!(
            "external-ids:ovn-remote=unix:{}",
            ovn_dir.join("sb.sock").display()
        );
        let system_id = format!("external-ids:system-id={name}");
        let hostname = format!("external-ids:hostname={name}");
        let encap = format!("external-ids:ovn-encap-ip={encap_ip}");
        c.vsctl(&[
            "--",
            "set",
            "Open_vSwitch",
            ".",
            &system_id,
            &hostname,
            &remote,
            "external-ids:ovn-encap-type=geneve",
            &encap,
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
        wait_for(30, &format!("chassis {name} in the SB"), || {
            c.run(
                "ovn-sbctl",
                &["--bare", "--columns=name", "list", "Chassis"],
            )
            .lines()
            .any(|l| l.trim() == name)
        });
        c
    }

    /// Binds logical port `lp` to a new internal port with `ofport`.
    fn bind(&self, lp: &str, ofport: usize) {
        let name = format!("vif{ofport}");
        let quoted = serde_json::to_string(lp).expect("JSON string");
        let iface_id = format!("external_ids:iface-id={quoted}");
        let req = format!("ofport-request={ofport}");
        self.vsctl(&[
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
    }

    /// Tunnel ports ovn-controller created: `(remote chassis, ofport)`
    /// (the `Port` has `external_ids:ovn-chassis-id=CHASSIS@IP...`).
    fn tunnels(&self) -> Vec<(String, i64)> {
        let out = self.vsctl(&[
            "--format=json",
            "--columns=name,external_ids",
            "list",
            "Port",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("ovs-vsctl JSON");
        let mut tunnels = Vec::new();
        for row in v["data"].as_array().into_iter().flatten() {
            let name = row[0].as_str().unwrap_or("");
            for kv in row[1][1].as_array().into_iter().flatten() {
                if kv[0].as_str() == Some("ovn-chassis-id") {
                    let id = kv[1].as_str().unwrap_or("");
                    let chassis = id.split('@').next().unwrap_or(id);
                    let ofport = self
                        .vsctl(&["get", "Interface", name, "ofport"])
                        .trim()
                        .parse()
                        .unwrap_or(-1);
                    tunnels.push((chassis.to_string(), ofport));
                }
            }
        }
        tunnels
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

/// The VIF ports of the SB (`type=""`), with `options:requested-chassis`.
fn vifs(hv: &Chassis) -> Vec<(String, Option<String>)> {
    let out = hv.run(
        "ovn-sbctl",
        &[
            "--format=json",
            "--columns=logical_port,options",
            "find",
            "Port_Binding",
            "type=\"\"",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("ovn-sbctl JSON");
    // (Names with `,` or `=` cannot be given to `--ports`; they stay
    // unbound.)
    let mut vifs: Vec<(String, Option<String>)> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| {
            let name = row[0].as_str()?;
            let req = row[1][1]
                .as_array()
                .into_iter()
                .flatten()
                .find(|kv| kv[0].as_str() == Some("requested-chassis"))
                .and_then(|kv| kv[1].as_str())
                .map(String::from);
            Some((name.to_string(), req))
        })
        .filter(|(n, _)| !n.contains(',') && !n.contains('='))
        .collect();
    vifs.sort();
    vifs
}

/// How the chassis are laid out for an entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One chassis; every VIF bound to it.
    Alone,
    /// Two chassis; the compared one gets every other VIF (or those
    /// requested for it), the other, remote one, the rest.
    WithRemote,
}

fn run_entry(entry: &Entry, layout: Layout) -> Report {
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
    let probe = Chassis {
        dir: o.dir().to_path_buf(),
        ovn_dir: o.dir().to_path_buf(),
        name: String::new(),
        children: Vec::new(),
    };
    let vifs = vifs(&probe);
    // Chassis names: those the ports request (k8s node names), else hv1
    // and hv2.
    let mut requested: Vec<&str> = vifs.iter().filter_map(|(_, r)| r.as_deref()).collect();
    requested.sort();
    requested.dedup();
    let mut names = requested.clone();
    for n in ["hv1", "hv2"] {
        if names.len() < 2 && !names.contains(&n) {
            names.push(n);
        }
    }
    let hv = Chassis::start(o.dir(), &o.dir().join("hv1"), names[0], "127.0.0.1");
    let remote = (layout == Layout::WithRemote)
        .then(|| Chassis::start(o.dir(), &o.dir().join("hv2"), names[1], "127.0.0.2"));
    let mut ports = Vec::new();
    let mut bound = Vec::new();
    let mut next_ofport = [1usize, 1usize];
    for (i, (lp, req)) in vifs.iter().enumerate() {
        let target = match (req.as_deref(), &remote) {
            (_, None) if req.as_deref().is_none_or(|r| r == hv.name) => 0,
            (_, None) => continue,
            (Some(r), Some(_)) if r == names[0] => 0,
            (Some(r), Some(_)) if r == names[1] => 1,
            (Some(_), Some(_)) => continue,
            (None, Some(_)) => i % 2,
        };
        let ofport = next_ofport[target];
        next_ofport[target] += 1;
        match target {
            0 => {
                hv.bind(lp, ofport);
                ports.push((lp.clone(), format!("vif{ofport}")));
            }
            _ => remote.as_ref().expect("remote chassis").bind(lp, ofport),
        }
        bound.push(lp.clone());
    }
    for lp in &bound {
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
    let mut tunnels = Vec::new();
    if let Some(r) = &remote {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            tunnels = hv.tunnels();
            if tunnels.iter().any(|(c, p)| c == &r.name && *p > 0) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no tunnel to {} on {}: {}\nSB chassis: {}",
                r.name,
                hv.name,
                hv.vsctl(&["show"]),
                hv.run("ovn-sbctl", &["list", "Encap"])
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        o.nbctl("--wait=hv --timeout=60 sync").expect("wait=hv");
    }
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
    // The ofports OVS gave (a tunnel port may have taken a requested one).
    let ports: Vec<String> = ports
        .iter()
        .map(|(lp, iface)| {
            let ofport = hv.vsctl(&["get", "Interface", iface, "ofport"]);
            format!("{lp}={}", ofport.trim())
        })
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
    let sb = format!("unix:{}", o.dir().join("sb.sock").display());
    let tunnels: Vec<String> = tunnels.iter().map(|(c, p)| format!("{c}={p}")).collect();
    let flows_args = [
        "flows".to_string(),
        sb,
        "--chassis".to_string(),
        hv.name.clone(),
        format!("--ports={}", ports.join(",")),
        format!("--zones={}", zones.join(",")),
        format!("--tunnels={}", tunnels.join(",")),
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_ovnflow"))
        .args(&flows_args)
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
        let suffix = match layout {
            Layout::Alone => "",
            Layout::WithRemote => "-remote",
        };
        let write = |side: &str, lines: &[String]| {
            let path = Path::new(&d).join(format!("{}{suffix}-{side}.txt", entry.name));
            std::fs::write(&path, lines.join("\n") + "\n")
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        };
        write("real", &real);
        write("ours", &ours);
        let db = Path::new(&d).join(format!("{}{suffix}-sb.db", entry.name));
        let _ = std::fs::copy(o.dir().join("sb.db"), db);
        let args = Path::new(&d).join(format!("{}{suffix}-args.txt", entry.name));
        let _ = std::fs::write(args, format!("{:?}\n", flows_args));
    }
    drop(remote);
    compare(&real, &ours)
}

/// Splits off key ties: a missing and an extra flow with the same table,
/// priority and match but from different SB rows (cookies).  Two logical
/// flows then produce one OpenFlow key and ovn-controller installs one of
/// them in hash-table order, which depends on the random UUIDs (see
/// golden/KNOWN_DIFFERENCES.md); anything else is a real difference.
fn split_ties(missing: &mut Vec<String>, extra: &mut Vec<String>) -> Vec<(String, String)> {
    fn key(line: &str) -> (String, String) {
        let (head, _) = line.split_once(" actions=").unwrap_or((line, ""));
        let mut cookie = String::new();
        let rest: Vec<&str> = head
            .split(", ")
            .filter(|f| match f.strip_prefix("cookie=") {
                Some(c) => {
                    cookie = c.to_string();
                    false
                }
                None => true,
            })
            .collect();
        (rest.join(", "), cookie)
    }
    let mut ties = Vec::new();
    let mut i = 0;
    while i < missing.len() {
        let (mk, mc) = key(&missing[i]);
        let found = extra.iter().position(|x| {
            let (xk, xc) = key(x);
            xk == mk && xc != mc
        });
        match found {
            Some(j) => ties.push((missing.remove(i), extra.remove(j))),
            None => i += 1,
        }
    }
    ties
}

fn check(entries: &[Entry], layout: Layout) {
    let mut failures = Vec::new();
    for entry in entries {
        let report = run_entry(entry, layout);
        let (mut same, mut missing, mut extra, mut tied) = (0, 0, 0, 0);
        for (table, (s, m, x)) in report {
            let (mut m, mut x) = (m, x);
            let ties = split_ties(&mut m, &mut x);
            println!(
                "{} table {table}: {s} identical, {} missing, {} extra, {} key ties",
                entry.name,
                m.len(),
                x.len(),
                ties.len()
            );
            for l in &m {
                println!("  missing: {l}");
            }
            for l in &x {
                println!("  extra:   {l}");
            }
            for (r, ours) in &ties {
                println!("  tie, real: {r}\n       ours: {ours}");
            }
            same += s;
            missing += m.len();
            extra += x.len();
            tied += ties.len();
            if !m.is_empty() || !x.is_empty() {
                failures.push(format!("{} table {table}", entry.name));
            }
        }
        println!(
            "{}: {same} identical, {missing} missing, {extra} extra, {tied} key ties",
            entry.name
        );
    }
    assert!(failures.is_empty(), "flows differ: {failures:?}");
}

fn selected(default: &[&str]) -> Vec<Entry> {
    let names: Vec<String> = match std::env::var("FLOWS_ENTRIES") {
        Ok(v) => v.split(',').map(String::from).collect(),
        Err(_) => default.iter().map(|s| s.to_string()).collect(),
    };
    corpus::select(&names).expect("corpus entries")
}

#[test]
fn flows_equal_real_ovn_controller() {
    if !available() {
        eprintln!("skipped: OVN/OVS binaries not installed (and CI not set)");
        return;
    }
    check(&selected(ENTRIES), Layout::Alone);
}

/// The same with a second, remote chassis: tunnel receive (table 0),
/// output to the remote chassis (table 39) per port and multicast fan-out.
#[test]
fn flows_with_remote_chassis_equal_real_ovn_controller() {
    if !available() {
        eprintln!("skipped: OVN/OVS binaries not installed (and CI not set)");
        return;
    }
    check(&selected(REMOTE_ENTRIES), Layout::WithRemote);
}
