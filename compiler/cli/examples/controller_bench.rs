//! `ovnflow controller` against ovn-controller 23.03, side by side on one
//! userspace chassis (see `tests/chassis/mod.rs`), one after the other
//! from the same state:
//!
//! * topology: 4 switches × 25 VIFs (100 bound ports) behind one router,
//!   a load balancer with 3 backends on every switch, a port group of all
//!   ports with ACLs using an address set of 1,000 addresses;
//! * startup: from no `Chassis` row and an empty flow table to every VIF
//!   claimed and up and `nb_cfg` acknowledged, from the controller's own
//!   timestamps (the later of `Chassis_Private.nb_cfg_timestamp` and every
//!   VIF's `ovn-installed-ts`), the clock started just before the daemon is
//!   spawned; the harness leaves the machine to the controller for 600 ms
//!   before it polls (`ovn-sbctl`, every 100 ms) whether it is done; the
//!   number of flows
//!   (`ovs-ofctl dump-aggregate`) and whether the two tables are equal;
//!   peak RSS (`VmHWM`); each controller starts `OVNFLOW_BENCH_STARTS`
//!   times (5 by default), the two alternating, and the start-up ratio is
//!   that of the two medians (one start varies by a third on this
//!   machine);
//! * single changes, timed from the SB commit (our own client, wall clock
//!   just before `transact`) to the controller's acknowledgement of the
//!   `nb_cfg` bumped in the same transaction (`Chassis_Private.
//!   nb_cfg_timestamp`, written once the flows are installed): an ACL on
//!   the port group with the 1,000-address set, an LB backend added, a
//!   MAC binding; and binding a port, by adding its VIF (OVS commit →
//!   `ovn-installed-ts`) and by an SB commit that moves the port's
//!   `requested-chassis` here while its VIF is here already (SB commit →
//!   `ovn-installed-ts`).
//!   ovn-northd is stopped for these so the SB is written only by us;
//! * the floor under both (`controller_bench/floor.rs`): the Southbound
//!   server's answer to the controller's monitor plus ovs-vswitchd taking
//!   the whole table computed beforehand, and ovs-vswitchd taking the ACL
//!   change's flow mods computed beforehand: what a controller that took
//!   no time of its own would still wait for, in the same run.
//!
//! Needs root and the OVN/OVS binaries.  The controller binary next to
//! the example is used, so build both in one profile.  Representative
//! numbers come from the `chassis` profile (workspace `Cargo.toml`): the
//! chassis daemon as shipped (fat LTO, `panic = "abort"`), with the crates
//! it never links left unoptimized, so it builds in about five minutes:
//!
//! ```text
//! cargo build --profile chassis -p ovnflow --bin ovnflow-controller --example controller_bench
//! target/chassis/examples/controller_bench
//! ```
//!
//! Our controller is `ovnflow-controller` (the controller alone; `ovnflow
//! controller` with `OVNFLOW_BENCH_BIN=ovnflow` or when that binary was
//! not built: `--bin ovnflow-controller`).  The CPU time ovs-vswitchd
//! spends during each startup is printed too: the floor both pay.
//!
//! With `OVNFLOW_BENCH_WRAP="COMMAND ARGS"` our controller runs under that
//! command, e.g. `perf record -F 999 --call-graph dwarf -o /tmp/ctl.perf --`
//! or `heaptrack -o /tmp/ctl.heap` (a profile of its startup and the
//! changes; the timings then include the tool's overhead).  With
//! `OVNFLOW_BENCH_LOGS=DIR` the daemons' logs (both controllers',
//! ovs-vswitchd's, the servers') are copied into `DIR` at the end, for
//! start-up timelines side by side, with both tables after startup
//! (`ovn-controller.flows`, `ovnflow.flows`).

#[path = "../tests/chassis/mod.rs"]
mod chassis;
#[path = "controller_bench/floor.rs"]
mod floor;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chassis::{wait_for, Chassis};
use ovsdb::client::{Connection, Options};
use ovsdb::remote::Remote;
use serde_json::{json, Value};

const SWITCHES: usize = 4;
const PER_SWITCH: usize = 25;
const SET_SIZE: usize = 1000;
/// The OpenFlow port of the VIF bound by the single changes.
const SPARE_OFPORT: u16 = 1000;

/// How many times each controller starts (`OVNFLOW_BENCH_STARTS`, 5 by
/// default; at least 1, the start of the measured run).
fn start_rounds() -> usize {
    std::env::var("OVNFLOW_BENCH_STARTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5)
        .max(1)
}

/// The median of `v` (the upper one of an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn lsp(s: usize, i: usize) -> String {
    format!("lp{s}x{i}")
}

/// The OVS interface of logical port `lp` (`lp0x3` → `v0x3`).
fn vif_name(lp: &str) -> String {
    format!("v{}", lp.trim_start_matches("lp"))
}

fn topology(c: &Chassis) {
    let mut cmd = String::from("lr-add lr0");
    for s in 0..SWITCHES {
        cmd += &format!(
            " -- ls-add sw{s} -- lrp-add lr0 lrp{s} 00:00:00:00:ff:0{s} 10.{s}.0.254/24 \
             -- lsp-add sw{s} sw{s}-lr0 -- lsp-set-type sw{s}-lr0 router \
             -- lsp-set-addresses sw{s}-lr0 router -- lsp-set-options sw{s}-lr0 router-port=lrp{s}"
        );
        for i in 0..PER_SWITCH + 2 {
            let n = lsp(s, i);
            cmd += &format!(
                " -- lsp-add sw{s} {n} -- lsp-set-addresses {n} \"50:54:00:00:{s:02x}:{i:02x} 10.{s}.0.{}\"",
                i + 1
            );
        }
    }
    let addrs: Vec<String> = (0..SET_SIZE)
        .map(|i| {
            format!(
                "\\\"172.{}.{}.{}\\\"",
                16 + i / 65536,
                (i / 256) % 256,
                i % 256
            )
        })
        .collect();
    cmd += &format!(
        " -- create Address_Set name=as_big addresses=\"[{}]\"",
        addrs.join(",")
    );
    let ports: Vec<String> = (0..SWITCHES)
        .flat_map(|s| (0..PER_SWITCH).map(move |i| lsp(s, i)))
        .collect();
    cmd += &format!(" -- pg-add pg_all {}", ports.join(" "));
    cmd += " -- --type=port-group acl-add pg_all to-lport 1001 'outport == @pg_all && ip4.src == $as_big && tcp.dst == 22' allow-related";
    cmd += " -- --type=port-group acl-add pg_all to-lport 1000 'outport == @pg_all && ip4' drop";
    cmd += " -- lb-add lb0 172.30.0.1:80 10.0.0.2:80,10.1.0.2:80,10.2.0.2:80 tcp";
    for s in 0..SWITCHES {
        cmd += &format!(" -- ls-lb-add sw{s} lb0");
    }
    c.oracle
        .nbctl(&cmd)
        .unwrap_or_else(|e| panic!("topology: {e}"));
    c.oracle.sync().expect("northd sync");
}

/// Adds the VIFs of `ports` as internal interfaces with `iface-id`, with
/// OpenFlow port `ofport` if given (else the one ovs-vswitchd picks).
fn add_vifs(c: &Chassis, ports: &[String], ofport: Option<u16>) {
    let mut args: Vec<String> = Vec::new();
    for p in ports {
        let ifname = vif_name(p);
        args.extend([
            "--".into(),
            "add-port".into(),
            c.bridge.clone(),
            ifname.clone(),
            "--".into(),
            "set".into(),
            "Interface".into(),
            ifname,
            "type=internal".into(),
            format!("external_ids:iface-id={p}"),
        ]);
        args.extend(ofport.map(|n| format!("ofport_request={n}")));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.vsctl(&refs).expect("add VIFs");
}

fn sbctl(c: &Chassis, args: &[&str]) -> String {
    c.sbctl(args)
        .unwrap_or_else(|e| panic!("ovn-sbctl {args:?}: {e}"))
}

/// Whether every bench VIF is bound here and up, and `nb_cfg` is
/// acknowledged.
fn ready(c: &Chassis) -> bool {
    let ch = sbctl(
        c,
        &["--bare", "--columns=_uuid", "find", "Chassis", "name=hv1"],
    );
    let ch = ch.trim();
    if ch.is_empty() {
        return false;
    }
    let rows = sbctl(
        c,
        &[
            "--format=csv",
            "--no-headings",
            "--columns=logical_port,chassis,up",
            "find",
            "Port_Binding",
            "type=\"\"",
        ],
    );
    let mut bound = 0;
    for l in rows.lines() {
        let f: Vec<&str> = l.split(',').collect();
        if f.len() == 3 && f[1] == ch && f[2] == "true" {
            bound += 1;
        }
    }
    if bound < SWITCHES * PER_SWITCH {
        return false;
    }
    let want = sbctl(c, &["get", "SB_Global", ".", "nb_cfg"]);
    let have = sbctl(
        c,
        &[
            "--bare",
            "--columns=nb_cfg",
            "find",
            "Chassis_Private",
            "name=hv1",
        ],
    );
    want.trim() == have.trim()
}

/// When the controller said it was done: the later of its `nb_cfg`
/// acknowledgement and every VIF's `ovn-installed-ts` (wall-clock ms).
fn done_ts(c: &Chassis) -> Option<i64> {
    let nb: i64 = sbctl(
        c,
        &[
            "--bare",
            "--columns=nb_cfg_timestamp",
            "find",
            "Chassis_Private",
            "name=hv1",
        ],
    )
    .trim()
    .parse()
    .ok()?;
    let ids = c
        .vsctl(&["--bare", "--columns=external_ids", "list", "Interface"])
        .ok()?;
    Some(
        ids.split([' ', ',', '\n', '{', '}'])
            .filter_map(|t| t.strip_prefix("ovn-installed-ts="))
            .filter_map(|v| v.trim_matches('"').parse::<i64>().ok())
            .fold(nb, i64::max),
    )
}

fn flow_count(c: &Chassis) -> usize {
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow15", "dump-aggregate"])
        .arg(c.remote(&format!("{}.mgmt", c.bridge)))
        .output()
        .expect("ovs-ofctl");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("flow_count=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn dump(c: &Chassis) -> Vec<String> {
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow15", "dump-flows", "--no-stats"])
        .arg(c.remote(&format!("{}.mgmt", c.bridge)))
        .output()
        .expect("ovs-ofctl");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("OFPST") && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    v.sort();
    v
}

/// The conjunction ids of `lines` (`conj_id=N` in matches,
/// `conjunction(N,…)` in actions) renamed 1, 2, … in the order of the
/// flows each joins (the sorted lines holding it with the id blanked
/// out): two tables that differ only in the ids chosen become equal.
fn canonical_conj_ids(lines: &[String]) -> Vec<String> {
    use std::collections::BTreeMap;
    // Each id with the byte ranges of its digits in each line.
    fn ids(line: &str) -> Vec<(u64, std::ops::Range<usize>)> {
        let mut found = Vec::new();
        for pat in ["conj_id=", "conjunction("] {
            let mut from = 0;
            while let Some(i) = line[from..].find(pat) {
                let start = from + i + pat.len();
                let len = line[start..]
                    .find(|ch: char| !ch.is_ascii_digit())
                    .unwrap_or(line.len() - start);
                if let Ok(id) = line[start..start + len].parse() {
                    found.push((id, start..start + len));
                }
                from = start + len;
            }
        }
        found.sort_by_key(|(_, r)| r.start);
        found
    }
    let rename = |line: &str, name: &dyn Fn(u64) -> String| -> String {
        let mut out = String::new();
        let mut at = 0;
        for (id, r) in ids(line) {
            out.push_str(&line[at..r.start]);
            out.push_str(&name(id));
            at = r.end;
        }
        out.push_str(&line[at..]);
        out
    };
    let mut joins: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for l in lines {
        for (id, _) in ids(l) {
            let blanked = rename(l, &|other| {
                if other == id {
                    "#".into()
                } else {
                    "?".into()
                }
            });
            joins.entry(id).or_default().push(blanked);
        }
    }
    let mut order: Vec<(Vec<String>, u64)> = joins
        .into_iter()
        .map(|(id, mut ls)| {
            ls.sort();
            (ls, id)
        })
        .collect();
    order.sort();
    let names: BTreeMap<u64, usize> = order
        .iter()
        .enumerate()
        .map(|(i, (_, id))| (*id, i + 1))
        .collect();
    let mut v: Vec<String> = lines
        .iter()
        .map(|l| {
            rename(l, &|id| {
                format!("c{}", names.get(&id).copied().unwrap_or(0))
            })
        })
        .collect();
    v.sort();
    v
}

/// CPU time (user + system, ms) of the process in `pidfile` so far.
fn cpu_ms(pidfile: &Path) -> i64 {
    let Ok(pid) = std::fs::read_to_string(pidfile) else {
        return 0;
    };
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and
    // stime are the 12th and 13th, in clock ticks (USER_HZ = 100).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<i64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<i64>() * 10
}

fn peak_rss_kb(pidfile: &Path) -> u64 {
    let Ok(pid) = std::fs::read_to_string(pidfile) else {
        return 0;
    };
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap_or_default();
    // Where the resident memory is now: heap and stacks vs mapped files
    // (the binary's text among them).
    let now: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("RssAnon:") || l.starts_with("RssFile:"))
        .collect();
    println!(
        "  {}: {}",
        pid.trim(),
        now.join(", ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// One SB transaction plus an `nb_cfg` bump; milliseconds until the
/// controller acknowledged it.
async fn sb_change(conn: &Connection, c: &Chassis, mut ops: Vec<Value>) -> i64 {
    let cur: i64 = sbctl(c, &["get", "SB_Global", ".", "nb_cfg"])
        .trim()
        .parse()
        .unwrap_or(0);
    let next = cur + 1;
    ops.push(json!({"op": "update", "table": "SB_Global", "where": [], "row": {"nb_cfg": next}}));
    let t0 = wall_ms();
    conn.transact_checked("OVN_Southbound", ops)
        .await
        .expect("SB transaction");
    let mut ts = None;
    wait_for(30, || {
        let out = sbctl(
            c,
            &[
                "--bare",
                "--columns=nb_cfg,nb_cfg_timestamp",
                "find",
                "Chassis_Private",
                "name=hv1",
            ],
        );
        let v: Vec<i64> = out
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() == 2 && v[0] >= next {
            ts = Some(v[1]);
            true
        } else {
            false
        }
    });
    ts.map_or(-1, |t| t - t0)
}

/// Milliseconds from `t` (wall clock) to the `ovn-installed-ts` the
/// controller writes on interface `ifname` once its port is bound and its
/// flows are installed (waited for up to 30 s; -1 if it never came).
fn installed_after(c: &Chassis, ifname: &str, t: i64) -> i64 {
    let mut after = -1;
    wait_for(30, || {
        let out = c
            .vsctl(&[
                "--if-exists",
                "get",
                "Interface",
                ifname,
                "external_ids:ovn-installed-ts",
            ])
            .unwrap_or_default();
        match out.trim().trim_matches('"').parse::<i64>() {
            Ok(ts) => {
                after = ts - t;
                true
            }
            Err(_) => false,
        }
    });
    after
}

struct Run {
    name: &'static str,
    start: Start,
    flows: usize,
    rss_kb: u64,
    acl: i64,
    lb: i64,
    mac: i64,
    bind: i64,
    /// Of `bind`: until `ovs-vsctl add-port` returned (it waits for
    /// ovs-vswitchd to have added the port and given it an ofport, which
    /// the controller needs before it can bind).
    bind_vsctl: i64,
    /// Binding a port whose VIF is here by an SB commit (its
    /// `requested-chassis` moved here) → `ovn-installed-ts`.
    bind_sb: i64,
    /// The table right after startup, and after the changes.
    dump_start: Vec<String>,
    dump_end: Vec<String>,
}

fn lflow_uuid(c: &Chassis, needle: &str) -> Option<(String, String)> {
    let out = sbctl(
        c,
        &[
            "--format=csv",
            "--no-headings",
            "--data=bare",
            "--columns=_uuid,actions",
            "list",
            "Logical_Flow",
        ],
    );
    out.lines().find(|l| l.contains(needle)).map(|l| {
        let (u, a) = l.split_once(',').unwrap_or((l, ""));
        (u.to_string(), a.trim_matches('"').replace("\"\"", "\""))
    })
}

/// Deletes every flow and group of the integration bridge.
fn empty_switch(c: &Chassis) {
    let mgmt = c.remote(&format!("{}.mgmt", c.bridge));
    for what in ["del-flows", "del-groups"] {
        let _ = Command::new("ovs-ofctl")
            .args(["-O", "OpenFlow15", what, &mgmt])
            .output();
    }
}

/// One start-up's figures.
#[derive(Clone, Copy)]
struct Start {
    /// Start → done, from the controller's own timestamps (ms).
    startup_ts: i64,
    /// CPU time (ms) during the start-up: the controller's, and
    /// ovs-vswitchd's (what the switch spends on the flows: the floor both
    /// pay).
    cpu: i64,
    vswitchd_cpu: i64,
}

/// How long a start-up is left alone before the harness looks (with
/// `ovn-sbctl`, a process and a connection to the Southbound server each
/// time) whether it is done: several times ovn-controller's start-up here
/// (130–220 ms), so that neither controller shares the machine's two
/// cores with the harness while it starts.
const QUIET: Duration = Duration::from_millis(600);

/// Starts a controller with `start` from the same point every time — no
/// `Chassis` row, no flows, no VIF marked `ovn-installed`, a fresh
/// `nb_cfg` to acknowledge — and waits until it is ready.  `start` only
/// spawns the daemon: the clock runs from just before it, the harness
/// does nothing during the first [`QUIET`], and the start-up is timed by
/// the controller's own timestamps.
fn start_timed(
    c: &mut Chassis,
    name: &str,
    start: impl FnOnce(&mut Chassis),
    pidfile: &Path,
) -> Start {
    let _ = c.sbctl(&["--if-exists", "chassis-del", "hv1"]);
    let _ = c.sbctl(&["--if-exists", "destroy", "Chassis_Private", "hv1"]);
    // The marks the previous controller left: this one writes its own.
    let ifaces = c
        .vsctl(&[
            "--bare",
            "--columns=name",
            "find",
            "Interface",
            "external_ids:ovn-installed=true",
        ])
        .unwrap_or_default();
    let mut unmark = Vec::new();
    for i in ifaces.split_whitespace() {
        unmark.extend([
            "--",
            "remove",
            "Interface",
            i,
            "external_ids",
            "ovn-installed",
        ]);
        unmark.extend([
            "--",
            "remove",
            "Interface",
            i,
            "external_ids",
            "ovn-installed-ts",
        ]);
    }
    if !unmark.is_empty() {
        c.vsctl(&unmark[1..]).expect("ovn-installed removed");
    }
    empty_switch(c);
    let cur: i64 = sbctl(c, &["get", "SB_Global", ".", "nb_cfg"])
        .trim()
        .parse()
        .unwrap_or(0);
    // Setting it needs the `SB_Global` row ovn-controller needs at start
    // (see `Chassis::start_ovn_controller`): it exists.
    sbctl(
        c,
        &["set", "SB_Global", ".", &format!("nb_cfg={}", cur + 1)],
    );
    let vswitchd_pid = c.dir().join("ovs-vswitchd.pid");
    let vswitchd_cpu0 = cpu_ms(&vswitchd_pid);
    let t0_wall = wall_ms();
    let ms_of_day = t0_wall.rem_euclid(86_400_000);
    println!(
        "{name}: started at {:02}:{:02}:{:02}.{:03} UTC",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    );
    start(c);
    std::thread::sleep(QUIET);
    assert!(
        wait_for(120, || ready(c)),
        "{name}: never ready\n{}",
        c.logs()
    );
    Start {
        cpu: cpu_ms(pidfile),
        vswitchd_cpu: cpu_ms(&vswitchd_pid) - vswitchd_cpu0,
        startup_ts: done_ts(c).map_or(-1, |t| t - t0_wall),
    }
}

async fn measure(
    c: &mut Chassis,
    rt_conn: &Connection,
    name: &'static str,
    start: impl FnOnce(&mut Chassis),
    pidfile: PathBuf,
    round: usize,
) -> Run {
    let start = start_timed(c, name, start, &pidfile);
    std::thread::sleep(Duration::from_millis(500));
    let flows = flow_count(c);
    let dump_start = dump(c);
    let ctl = c.dir().join("ovnflow-controller.ctl");
    let show = |what: &str| {
        if name.starts_with("ovnflow") {
            let s = Command::new("ovn-appctl")
                .arg("-t")
                .arg(&ctl)
                .arg("stats")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let pick: Vec<&str> = s
                .lines()
                .filter(|l| {
                    l.starts_with("compute")
                        || l.starts_with("install")
                        || l.starts_with("sources")
                        || l.starts_with("flow mods")
                })
                .collect();
            println!("  ours after {what}: {}", pick.join(" | "));
        }
    };

    // An ACL on the port group with the big address set, on every switch.
    let dp = sbctl(
        c,
        &[
            "--bare",
            "--columns=_uuid",
            "find",
            "Datapath_Binding",
            "external_ids:name=sw0",
        ],
    );
    let dp = dp.trim().to_string();
    let acl = sb_change(
        rt_conn,
        c,
        vec![json!({"op": "insert", "table": "Logical_Flow", "row": {
            "logical_datapath": ["uuid", dp],
            "pipeline": "egress", "table_id": 4, "priority": 3000 + round as i64,
            "match": format!("outport == @pg_all && ip4.src == $as_big && tcp.dst == {}", 1000 + round),
            "actions": "next;",
            "external_ids": ["map", [["stage-name", "ls_out_acl"]]]}})],
    )
    .await;
    show("ACL");
    // An LB backend: the VIP's ct_lb_mark action gets one more.
    let lb_before = lflow_uuid(c, "10.1.0.2:80,10.2.0.2:80");
    let lb = match lb_before.clone() {
        Some((u, actions)) => {
            let more = actions.replacen(
                "backends=",
                &format!("backends=10.3.0.{}:80,", 10 + round),
                1,
            );
            sb_change(
                rt_conn,
                c,
                vec![json!({"op": "update", "table": "Logical_Flow",
                    "where": [["_uuid", "==", ["uuid", u]]], "row": {"actions": more}})],
            )
            .await
        }
        None => -1,
    };
    show("LB backend");
    // A MAC binding on the router port.
    let lr = sbctl(
        c,
        &[
            "--bare",
            "--columns=_uuid",
            "find",
            "Datapath_Binding",
            "external_ids:name=lr0",
        ],
    );
    let mac = sb_change(
        rt_conn,
        c,
        vec![json!({"op": "insert", "table": "MAC_Binding", "row": {
            "logical_port": "lrp0", "ip": format!("10.0.0.{}", 200 + round),
            "mac": "50:54:00:aa:bb:cc", "datapath": ["uuid", lr.trim()]}})],
    )
    .await;
    show("MAC binding");
    // Binding one more port: OVS commit → ovn-installed-ts.
    let spare = lsp(0, PER_SWITCH + round);
    let t = wall_ms();
    // At the OpenFlow port both rounds get: ovs-vswitchd does not hand
    // out a freed port number again for an hour (`alloc_ofp_port`), so
    // the port the first round deleted would come back with the next
    // number (101, then 102) and the two tables would differ in its two
    // flows (table 0 `in_port`, table 65 `output`) for no fault of either
    // controller.
    add_vifs(c, std::slice::from_ref(&spare), Some(SPARE_OFPORT));
    let bind_vsctl = wall_ms() - t;
    let ifname = vif_name(&spare);
    let bind = installed_after(c, &ifname, t);
    show("bind");
    // Binding a port by an SB commit: its VIF is here already, but the
    // port is requested on another chassis; one commit moves it here (as
    // a CMS does when it migrates a VM) → `ovn-installed-ts`.
    let moved = lsp(1, PER_SWITCH + round);
    let moved_pb = sbctl(
        c,
        &[
            "--bare",
            "--columns=_uuid",
            "find",
            "Port_Binding",
            &format!("logical_port={moved}"),
        ],
    );
    let moved_pb = moved_pb.trim().to_string();
    sbctl(
        c,
        &[
            "set",
            "Port_Binding",
            &moved_pb,
            "options:requested-chassis=hv-elsewhere",
        ],
    );
    add_vifs(c, std::slice::from_ref(&moved), Some(SPARE_OFPORT + 1));
    std::thread::sleep(Duration::from_millis(300));
    let moved_if = vif_name(&moved);
    let t = wall_ms();
    rt_conn
        .transact_checked(
            "OVN_Southbound",
            vec![json!({"op": "mutate", "table": "Port_Binding",
                "where": [["_uuid", "==", ["uuid", moved_pb]]],
                "mutations": [
                    ["options", "delete", ["set", ["requested-chassis"]]],
                    ["options", "insert", ["map", [["requested-chassis", "hv1"]]]]]})],
        )
        .await
        .expect("SB transaction");
    let bind_sb = installed_after(c, &moved_if, t);
    show("bind by SB commit");
    std::thread::sleep(Duration::from_millis(300));
    let run = Run {
        name,
        start,
        flows,
        dump_start,
        dump_end: dump(c),
        rss_kb: peak_rss_kb(&pidfile),
        acl,
        lb,
        mac,
        bind,
        bind_vsctl,
        bind_sb,
    };
    // The moved port goes back to where it was: no VIF, no request.
    c.vsctl(&["--if-exists", "del-port", &moved_if])
        .expect("del-port");
    sbctl(
        c,
        &[
            "remove",
            "Port_Binding",
            &moved_pb,
            "options",
            "requested-chassis",
        ],
    );
    undo(c, round, lb_before, &spare);
    run
}

/// Takes the SB and OVS back to where `measure` found them, so that the
/// next controller starts from the same state (the same flows to
/// install): the ACL, the LB backend, the MAC binding and the spare VIF
/// go, and no port is `up`.
fn undo(c: &Chassis, round: usize, lb: Option<(String, String)>, spare: &str) {
    let find = |table: &str, cond: &str| {
        sbctl(c, &["--bare", "--columns=_uuid", "find", table, cond])
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let mut args: Vec<String> = Vec::new();
    let mut cmd = |a: &[&str]| {
        args.push("--".into());
        args.extend(a.iter().map(|s| s.to_string()));
    };
    for u in find("Logical_Flow", &format!("priority={}", 3000 + round)) {
        cmd(&["destroy", "Logical_Flow", &u]);
    }
    for u in find("MAC_Binding", &format!("ip=\"10.0.0.{}\"", 200 + round)) {
        cmd(&["destroy", "MAC_Binding", &u]);
    }
    if let Some((u, actions)) = lb {
        let quoted = serde_json::to_string(&actions).unwrap_or_default();
        cmd(&["set", "Logical_Flow", &u, &format!("actions={quoted}")]);
    }
    for u in find("Port_Binding", "up=true") {
        cmd(&["set", "Port_Binding", &u, "up=false"]);
    }
    let refs: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    if !refs.is_empty() {
        sbctl(c, &refs);
    }
    let ifname = vif_name(spare);
    c.vsctl(&["--if-exists", "del-port", &ifname])
        .expect("del-port");
}

/// Copies the `*.log` files of `dir` into `to` (created if needed).
fn copy_logs(dir: &std::path::Path, to: &std::path::Path) {
    let _ = std::fs::create_dir_all(to);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "log") {
            if let Some(name) = path.file_name() {
                let _ = std::fs::copy(&path, to.join(name));
            }
        }
    }
    println!("logs copied to {}", to.display());
}

/// Our controller: `ovnflow-controller` next to the example, or with
/// `OVNFLOW_BENCH_BIN=ovnflow` (or without that binary) `ovnflow
/// controller`.  Returns the binary and the arguments before the flags.
fn ovnflow_bin() -> (PathBuf, Vec<String>) {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/examples/controller_bench → target/<profile>/ovnflow
    let dir = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .to_path_buf();
    let lean = dir.join("ovnflow-controller");
    let want_full = std::env::var("OVNFLOW_BENCH_BIN").is_ok_and(|b| b == "ovnflow");
    if lean.is_file() && !want_full {
        (lean, Vec::new())
    } else {
        (dir.join("ovnflow"), vec!["controller".to_string()])
    }
}

fn main() {
    let (bin, sub) = ovnflow_bin();
    println!("our controller: {} {}", bin.display(), sub.join(" "));
    assert!(
        bin.is_file(),
        "build the ovnflow binary first: {}",
        bin.display()
    );
    let mut c = Chassis::start_with("hv1", false).expect("chassis");
    let t = Instant::now();
    topology(&c);
    let ports: Vec<String> = (0..SWITCHES)
        .flat_map(|s| (0..PER_SWITCH).map(move |i| lsp(s, i)))
        .collect();
    add_vifs(&c, &ports, None);
    println!("topology and {} VIFs in {:?}", ports.len(), t.elapsed());
    // northd off: the SB is ours from here on.
    if let Ok(pid) = std::fs::read_to_string(c.dir().join("northd.pid")) {
        // SAFETY: signalling the northd this bench's oracle started.
        unsafe { libc::kill(pid.trim().parse().unwrap_or(0), libc::SIGTERM) };
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let remote = Remote::parse(&c.oracle.sb_remote()).expect("remote");
    let (conn, _notes) = rt
        .block_on(Connection::connect(&remote, &Options::default()))
        .expect("SB connection");
    let dir = c.dir();
    let ours_bin = bin.display().to_string();
    let wrap: Vec<String> = std::env::var("OVNFLOW_BENCH_WRAP")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let start_real = |c: &mut Chassis| c.spawn_ovn_controller().expect("ovn-controller");
    let start_ours = |c: &mut Chassis| {
        let dir = c.dir();
        let p = |n: &str| dir.join(n).display().to_string();
        let db = c.remote("db.sock");
        let mut args = sub.clone();
        args.extend([
            db,
            "--no-chdir".into(),
            format!("--pidfile={}", p("ovnflow-controller.pid")),
            format!("--unixctl={}", p("ovnflow-controller.ctl")),
            format!("--log-file={}", p("ovnflow-controller.log")),
        ]);
        match wrap.split_first() {
            Some((tool, tool_args)) => {
                let mut wrapped = tool_args.to_vec();
                wrapped.push(ours_bin.clone());
                wrapped.extend(args);
                c.start_daemon(tool, &wrapped)
            }
            None => c.start_daemon(&ours_bin, &args),
        }
        .expect("ovnflow controller")
    };
    let ours_daemon = wrap.first().unwrap_or(&ours_bin).clone();
    let (real_pid, ours_pid) = (
        dir.join("ovn-controller.pid"),
        dir.join("ovnflow-controller.pid"),
    );
    // Start-ups alone, the two controllers alternating, before the
    // measured runs below (which start each once more): one start-up
    // varies by a third from run to run on this machine.
    let mut starts: Vec<(Start, Start)> = Vec::new();
    for _ in 1..start_rounds() {
        let a = start_timed(&mut c, "ovn-controller", start_real, &real_pid);
        c.stop("ovn-controller");
        let b = start_timed(&mut c, "ovnflow controller", start_ours, &ours_pid);
        c.stop(&ours_daemon);
        starts.push((a, b));
    }
    let real = rt.block_on(measure(
        &mut c,
        &conn,
        "ovn-controller",
        start_real,
        real_pid,
        0,
    ));
    c.stop("ovn-controller");
    let ours = rt.block_on(measure(
        &mut c,
        &conn,
        "ovnflow controller",
        start_ours,
        ours_pid,
        0,
    ));
    let stats = Command::new("ovn-appctl")
        .arg("-t")
        .arg(dir.join("ovnflow-controller.ctl"))
        .arg("stats")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    c.stop(&ours_daemon);

    // The floor under both, from an emptied switch as at each start.
    empty_switch(&c);
    let floor = rt
        .block_on(floor::measure(
            &c.remote("db.sock"),
            &c.oracle.sb_remote(),
            &dir.join(format!("{}.mgmt", c.bridge)),
            &c.bridge,
            "hv1",
        ))
        .expect("floor");

    // Both started from the same SB and made the same changes: the
    // tables after startup and after the changes must be equal.
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        let set: std::collections::BTreeSet<&String> = b.iter().collect();
        a.iter().filter(|l| !set.contains(l)).cloned().collect()
    };
    // The rows added by the changes have other UUIDs (cookies) in each
    // round.
    let no_cookie = |v: &[String]| -> Vec<String> {
        let mut v: Vec<String> = v
            .iter()
            .map(|l| match l.split_once(", ") {
                Some((c, rest)) if c.starts_with("cookie=") => rest.to_string(),
                _ => l.clone(),
            })
            .collect();
        v.sort();
        v
    };
    // The ACL flow added by the changes is a new SB row in each round:
    // conjunction ids, which both controllers derive from the flow's
    // UUID, differ too; compare the tables with the ids renamed by what
    // they join.
    let (real_raw, ours_raw) = (no_cookie(&real.dump_end), no_cookie(&ours.dump_end));
    println!(
        "after the changes, cookies aside but conjunction ids as installed: {} flows differ",
        only(&real_raw, &ours_raw).len() + only(&ours_raw, &real_raw).len()
    );
    let (real_end, ours_end) = (canonical_conj_ids(&real_raw), canonical_conj_ids(&ours_raw));
    for (when, theirs, mine) in [
        ("after startup", &real.dump_start, &ours.dump_start),
        (
            "after the changes (cookies and conjunction ids aside)",
            &real_end,
            &ours_end,
        ),
    ] {
        let missing = only(theirs, mine);
        let extra = only(mine, theirs);
        println!(
            "{when}, ovn-controller's table vs ours: {} flows vs {}, {} missing, {} extra",
            theirs.len(),
            mine.len(),
            missing.len(),
            extra.len()
        );
        for l in missing.iter().take(5) {
            println!("  missing: {l}");
        }
        for l in extra.iter().take(5) {
            println!("  extra:   {l}");
        }
    }
    println!(
        "{:<28} {:>16} {:>20} {:>8}",
        "", real.name, ours.name, "ratio"
    );
    let row = |what: &str, a: f64, b: f64, unit: &str| {
        let ratio = if a > 0.0 { b / a } else { f64::NAN };
        println!("{what:<28} {a:>13.1} {unit:<2} {b:>17.1} {unit:<2} {ratio:>8.2}");
    };
    row(
        "startup → done (timestamps)",
        real.start.startup_ts as f64,
        ours.start.startup_ts as f64,
        "ms",
    );
    row(
        "controller CPU in startup",
        real.start.cpu as f64,
        ours.start.cpu as f64,
        "ms",
    );
    row(
        "ovs-vswitchd CPU in startup",
        real.start.vswitchd_cpu as f64,
        ours.start.vswitchd_cpu as f64,
        "ms",
    );
    row("flows", real.flows as f64, ours.flows as f64, "");
    row(
        "peak RSS",
        real.rss_kb as f64 / 1024.0,
        ours.rss_kb as f64 / 1024.0,
        "MB",
    );
    row(
        "ACL (1,000-address set)",
        real.acl as f64,
        ours.acl as f64,
        "ms",
    );
    row("LB backend added", real.lb as f64, ours.lb as f64, "ms");
    row("MAC binding", real.mac as f64, ours.mac as f64, "ms");
    row(
        "bind a port (OVS → installed)",
        real.bind as f64,
        ours.bind as f64,
        "ms",
    );
    row(
        "… of which ovs-vsctl add-port",
        real.bind_vsctl as f64,
        ours.bind_vsctl as f64,
        "ms",
    );
    row(
        "bind a port (SB commit → installed)",
        real.bind_sb as f64,
        ours.bind_sb as f64,
        "ms",
    );
    // What the controller adds once the switch has the port (ovs-vsctl
    // returns when ovs-vswitchd has given it its ofport).
    row(
        "… after ovs-vsctl returned",
        (real.bind - real.bind_vsctl) as f64,
        (ours.bind - ours.bind_vsctl) as f64,
        "ms",
    );
    // What no controller can go below in this run (see `floor.rs`).
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let start_floor = ms(floor.sb) + ms(floor.install);
    println!(
        "floor of a start-up: SB monitor reply {:.1} ms + ovs-vswitchd taking {} flows, computed beforehand, {:.1} ms = {:.1} ms; \
         over ovn-controller's start-up (the best ratio possible): {:.2}",
        ms(floor.sb),
        floor.flows,
        ms(floor.install),
        start_floor,
        start_floor / real.start.startup_ts as f64
    );
    // Every start-up, the measured runs' last.
    starts.push((real.start, ours.start));
    let real_ts: Vec<f64> = starts.iter().map(|(a, _)| a.startup_ts as f64).collect();
    let ours_ts: Vec<f64> = starts.iter().map(|(_, b)| b.startup_ts as f64).collect();
    let ratios: Vec<f64> = real_ts.iter().zip(&ours_ts).map(|(a, b)| b / a).collect();
    let (real_med, ours_med) = (median(real_ts.clone()), median(ours_ts.clone()));
    let list = |v: &[f64], prec: usize| {
        v.iter()
            .map(|x| format!("{x:.prec$}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "start-ups → done (timestamps), {} of each, alternating: ovn-controller {} ms (median {real_med:.0}); ours {} ms (median {ours_med:.0}); \
         ratio of the medians {:.2}; per pair {} (median {:.2}); the floor over ovn-controller's median {:.2}",
        starts.len(),
        list(&real_ts, 0),
        list(&ours_ts, 0),
        ours_med / real_med,
        list(&ratios, 2),
        median(ratios.clone()),
        start_floor / real_med,
    );
    println!(
        "floor of the ACL change: ovs-vswitchd taking its {} flow mods, computed beforehand, {:.1} ms (the SB commit and update come on top)",
        floor.acl_flows,
        ms(floor.acl)
    );
    if let Ok(to) = std::env::var("OVNFLOW_BENCH_LOGS") {
        let to = std::path::Path::new(&to);
        copy_logs(&dir, to);
        // The tables after startup, as `ovs-ofctl dump-flows --no-stats`.
        for (name, lines) in [
            ("ovn-controller", &real.dump_start),
            ("ovnflow", &ours.dump_start),
        ] {
            let _ = std::fs::write(to.join(format!("{name}.flows")), lines.join("\n") + "\n");
        }
    }
    println!("\nour stats:\n{stats}");
    for l in std::fs::read_to_string(dir.join("ovnflow-controller.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("run: ") || l.contains("startup +") || l.contains("bundle of"))
    {
        println!("  {l}");
    }
}
