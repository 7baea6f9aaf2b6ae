//! `ovnflow northd` end to end with real components: NB and SB
//! ovsdb-servers, a real userspace chassis (ovs-vswitchd `netdev` +
//! real ovn-controller 23.03) and ports bound as internal interfaces.
//!
//! The same topology (two switches joined by a router, an ACL and a load
//! balancer) is built twice: once under real ovn-northd, once under
//! `ovnflow northd`. Both times ovn-controller must claim the ports,
//! `ovn-nbctl lsp-get-up` must say `up`, `ovn-nbctl --wait=hv sync` must
//! return, and `ovs-appctl ofproto/trace` must give the same verdict for a
//! set of packets (same datapath actions, recirculation ids and
//! conntrack zones aside). Under ovnflow the NB server, the SB server and
//! the daemon are then killed and restarted one after the other, with an
//! NB change while each is down, and the checks run again.
//!
//! Needs the OVN/OVS binaries; with `CI` set their absence is a failure.

mod chassis;

use std::path::Path;
use std::process::{Command, Stdio};

use chassis::{wait_for, Chassis};

const HV: &str = "hv1";

/// The logical topology, as ovn-nbctl commands.
const TOPOLOGY: &[&str] = &[
    "ls-add sw0",
    "ls-add sw1",
    "lr-add lr0",
    "lrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24",
    "lrp-add lr0 lrp1 00:00:00:00:ff:02 10.0.1.1/24",
    "lsp-add sw0 sw0-lr0 -- lsp-set-type sw0-lr0 router -- lsp-set-addresses sw0-lr0 router -- lsp-set-options sw0-lr0 router-port=lrp0",
    "lsp-add sw1 sw1-lr0 -- lsp-set-type sw1-lr0 router -- lsp-set-addresses sw1-lr0 router -- lsp-set-options sw1-lr0 router-port=lrp1",
    "lsp-add sw0 vm1 -- lsp-set-addresses vm1 \"00:00:00:00:00:01 10.0.0.2\" -- lsp-set-port-security vm1 \"00:00:00:00:00:01 10.0.0.2\"",
    "lsp-add sw0 vm2 -- lsp-set-addresses vm2 \"00:00:00:00:00:02 10.0.0.3\"",
    "lsp-add sw1 vm3 -- lsp-set-addresses vm3 \"00:00:00:00:00:03 10.0.1.2\"",
    // Stateful ACLs on sw1: ssh to vm3 dropped, the rest allowed.
    "acl-add sw1 to-lport 1002 \"outport == \\\"vm3\\\" && tcp.dst == 22\" drop",
    "acl-add sw1 to-lport 1001 \"outport == \\\"vm3\\\" && ip4\" allow-related",
    // A load balancer on sw0 (and the router) to vm3's port 8080.
    "lb-add lb0 10.0.0.100:80 10.0.1.2:8080 tcp",
    "ls-lb-add sw0 lb0",
    "lr-lb-add lr0 lb0",
];

/// One traced packet: a name, the ingress port and the flow.
const PACKETS: &[(&str, &str, &str)] = &[
    (
        "vm1 -> vm2 (same switch)",
        "vm1",
        "icmp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,nw_src=10.0.0.2,nw_dst=10.0.0.3,nw_ttl=64,icmp_type=8",
    ),
    (
        "vm1 -> vm3 (across the router)",
        "vm1",
        "icmp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:ff:01,nw_src=10.0.0.2,nw_dst=10.0.1.2,nw_ttl=64,icmp_type=8",
    ),
    (
        "vm1 -> vm3 ssh (ACL drop)",
        "vm1",
        "tcp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:ff:01,nw_src=10.0.0.2,nw_dst=10.0.1.2,nw_ttl=64,tp_src=40000,tp_dst=22",
    ),
    (
        "vm1 -> VIP (load balanced)",
        "vm1",
        "tcp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:ff:01,nw_src=10.0.0.2,nw_dst=10.0.0.100,nw_ttl=64,tp_src=40001,tp_dst=80",
    ),
    (
        "vm1 spoofing its source (port security)",
        "vm1",
        "icmp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,nw_src=10.0.0.99,nw_dst=10.0.0.3,nw_ttl=64,icmp_type=8",
    ),
    (
        "vm3 -> vm1 (reverse, across the router)",
        "vm3",
        "icmp,dl_src=00:00:00:00:00:03,dl_dst=00:00:00:00:ff:02,nw_src=10.0.1.2,nw_dst=10.0.0.2,nw_ttl=64,icmp_type=8",
    ),
];

fn nbctl(c: &Chassis, line: &str) {
    c.oracle
        .nbctl(line)
        .unwrap_or_else(|e| panic!("ovn-nbctl {line}: {e}\n{}", c.logs()));
}

/// Binds `port` on the chassis as an internal interface.
fn bind(c: &Chassis, port: &str) {
    c.vsctl(&[
        "add-port",
        &c.bridge,
        port,
        "--",
        "set",
        "Interface",
        port,
        "type=internal",
        &format!("external_ids:iface-id={port}"),
    ])
    .unwrap();
}

/// `ovs-appctl` on the chassis' ovs-vswitchd.
fn vs_appctl(c: &Chassis, args: &[&str]) -> String {
    let out = Command::new("ovs-appctl")
        .arg("-t")
        .arg(c.dir().join("ovs-vswitchd.ctl"))
        .args(args)
        .output()
        .expect("ovs-appctl");
    assert!(
        out.status.success(),
        "ovs-appctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The datapath port number of each interface (`dpif/show`).
fn odp_ports(c: &Chassis) -> Vec<(String, String)> {
    vs_appctl(c, &["dpif/show"])
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next()?.to_string();
            let nums = w.next()?.trim_end_matches(':');
            let (_, odp) = nums.split_once('/')?;
            Some((name, odp.to_string()))
        })
        .collect()
}

/// Replaces what differs between two chassis runs without changing the
/// verdict: recirculation ids, conntrack zone numbers and datapath port
/// numbers (named instead).
fn normalize(actions: &str, odp: &[(String, String)]) -> String {
    let mut out = String::new();
    for part in split_actions(actions) {
        let p = if let Some(rest) = part.strip_prefix("recirc(") {
            let _ = rest;
            "recirc(ID)".to_string()
        } else if let Some(name) = odp.iter().find(|(_, n)| *n == part).map(|(n, _)| n) {
            format!("output:{name}")
        } else {
            zone_free(&part)
        };
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&p);
    }
    out
}

/// `zone=N` → `zone=Z`.
fn zone_free(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("zone=") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            out.push('Z');
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Splits datapath actions at top-level commas.
fn split_actions(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in s.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

/// Traces every packet (following conntrack recirculations as new
/// connections) and returns, per packet, its normalized datapath actions
/// of each pass.
fn traces(c: &Chassis) -> Vec<(String, Vec<String>)> {
    let odp = odp_ports(c);
    let ofport = |port: &str| {
        c.vsctl(&["get", "Interface", port, "ofport"])
            .unwrap()
            .trim()
            .to_string()
    };
    PACKETS
        .iter()
        .map(|(name, inport, flow)| {
            let flow = format!("in_port={},{flow}", ofport(inport));
            let mut args = vec!["ofproto/trace", c.bridge.as_str(), flow.as_str()];
            for _ in 0..4 {
                args.extend(["--ct-next", "trk,new"]);
            }
            let text = vs_appctl(c, &args);
            if std::env::var_os("TRACE_DEBUG").is_some() {
                eprintln!("=== {name}\n{text}");
            }
            let passes: Vec<String> = text
                .lines()
                .filter_map(|l| l.strip_prefix("Datapath actions: "))
                .map(|a| normalize(a.trim(), &odp))
                .collect();
            assert!(!passes.is_empty(), "{name}: no datapath actions in\n{text}");
            (name.to_string(), passes)
        })
        .collect()
}

/// The chassis' OpenFlow groups (load balancer backends), group ids
/// removed and sorted: which id a group gets is ovn-controller's choice.
fn groups(c: &Chassis) -> Vec<String> {
    let mgmt = format!(
        "unix:{}",
        c.dir().join(format!("{}.mgmt", c.bridge)).display()
    );
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow15", "dump-groups", &mgmt])
        .output()
        .expect("ovs-ofctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("group_id="))
        .map(|l| {
            l.split(',')
                .filter(|f| !f.trim_start().starts_with("group_id="))
                .collect::<Vec<_>>()
                .join(",")
                .trim()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

/// The chassis is bound and the flows are in: every VIF up in NB,
/// `--wait=hv` returns.
fn settle(c: &Chassis, ports: &[&str]) {
    nbctl(c, "--wait=hv --timeout=60 sync");
    for p in ports {
        let up = wait_for(30, || {
            c.oracle
                .nbctl(&format!("lsp-get-up {p}"))
                .is_ok_and(|s| s.trim() == "up")
        });
        assert!(up, "{p} never up\n{}", c.logs());
    }
    let claimed = c
        .sbctl(&[
            "--bare",
            "--columns=logical_port,chassis",
            "list",
            "Port_Binding",
        ])
        .unwrap();
    for p in ports {
        assert!(claimed.contains(p), "{p} not claimed:\n{claimed}");
    }
}

/// The final verdict of a trace: the last pass's actions.
fn verdict(passes: &[String]) -> &str {
    passes.last().map(String::as_str).unwrap_or("")
}

/// Builds the topology under the given northd and returns the traces.
fn run(ovnflow: bool) -> (Chassis, Vec<(String, Vec<String>)>) {
    let mut c = Chassis::start_full(HV, false, !ovnflow).expect("chassis");
    if ovnflow {
        c.oracle
            .start_daemon(
                Path::new(env!("CARGO_BIN_EXE_ovnflow")),
                &["northd"],
                "ovnflow-northd",
            )
            .unwrap();
    }
    for line in TOPOLOGY {
        nbctl(&c, line);
    }
    c.start_ovn_controller().unwrap();
    for p in ["vm1", "vm2", "vm3"] {
        bind(&c, p);
    }
    settle(&c, &["vm1", "vm2", "vm3"]);
    let t = traces(&c);
    (c, t)
}

fn pid_of(c: &Chassis, file: &str) -> i32 {
    std::fs::read_to_string(c.dir().join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .trim()
        .parse()
        .unwrap()
}

/// Kills the daemon whose pid file is `pidfile` and waits until it is gone.
fn kill(c: &Chassis, pidfile: &str) {
    let pid = pid_of(c, pidfile);
    // SAFETY: signalling a daemon this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    // The daemon is a child of this process: dead means gone or a zombie.
    let gone = wait_for(20, || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|st| {
                st.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    });
    assert!(gone, "{pidfile} ({pid}) still alive");
    let _ = std::fs::remove_file(c.dir().join(pidfile));
}

/// Starts the NB or SB ovsdb-server again on its database file.
fn restart_server(c: &mut Chassis, db: &str) {
    let dir = c.dir();
    let p = |n: &str| dir.join(n).display().to_string();
    c.start_daemon(
        "ovsdb-server",
        &[
            "--no-chdir".into(),
            format!("--pidfile={}", p(&format!("{db}.pid"))),
            format!("--unixctl={}", p(&format!("{db}.ctl"))),
            format!("--remote=punix:{}", p(&format!("{db}.sock"))),
            format!("--log-file={}", p(&format!("{db}-restarted.log"))),
            p(&format!("{db}.db")),
        ],
    )
    .unwrap();
    let ready = wait_for(20, || {
        Command::new("ovsdb-client")
            .args(["list-dbs", &c.remote(&format!("{db}.sock"))])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(ready, "{db} server does not come back");
}

#[test]
fn ovnflow_northd_drives_a_real_chassis_like_ovn_northd() {
    if !chassis::runnable("northd end-to-end", &["ovs-appctl"]) {
        return;
    }
    let (want, want_groups) = {
        let (c, t) = run(false);
        (t, groups(&c))
    };
    // What the packets must do, checked on real northd's chassis so that a
    // broken setup cannot pass by being equally broken twice.
    let by_name = |t: &[(String, Vec<String>)], n: &str| -> String {
        verdict(&t.iter().find(|(name, _)| name == n).unwrap().1).to_string()
    };
    assert!(by_name(&want, "vm1 -> vm2 (same switch)").contains("output:vm2"));
    assert!(by_name(&want, "vm1 -> vm3 (across the router)").contains("output:vm3"));
    assert!(by_name(&want, "vm3 -> vm1 (reverse, across the router)").contains("output:vm1"));
    // The VIP goes to a select group (dp_hash, then recirculation) whose
    // bucket DNATs to the backend.
    assert!(by_name(&want, "vm1 -> VIP (load balanced)").starts_with("hash("));
    assert!(
        want_groups
            .iter()
            .any(|g| g.contains("nat(dst=10.0.1.2:8080)")),
        "{want_groups:#?}"
    );
    assert!(!by_name(&want, "vm1 -> vm3 ssh (ACL drop)").contains("output:"));
    assert!(!by_name(&want, "vm1 spoofing its source (port security)").contains("output:"));

    let (mut c, got) = run(true);
    assert_eq!(got, want, "ofproto/trace differs under ovnflow northd");
    assert_eq!(
        groups(&c),
        want_groups,
        "groups differ under ovnflow northd"
    );

    // Faults, each with an NB change made while the component is down or
    // just back: a new port on sw1, bound on the chassis.
    let steps: [(&str, &str); 3] = [
        ("nb", "nb.pid"),
        ("sb", "sb.pid"),
        ("ovnflow-northd", "ovnflow-northd.pid"),
    ];
    let mut bound = vec!["vm1", "vm2", "vm3"];
    for (i, (what, pidfile)) in steps.into_iter().enumerate() {
        let port = ["vm4", "vm5", "vm6"][i];
        let mac = format!("00:00:00:00:00:0{}", 4 + i);
        let ip = format!("10.0.1.{}", 10 + i);
        match what {
            "nb" => {
                kill(&c, pidfile);
                restart_server(&mut c, "nb");
                nbctl(
                    &c,
                    &format!("lsp-add sw1 {port} -- lsp-set-addresses {port} \"{mac} {ip}\""),
                );
            }
            "sb" => {
                kill(&c, pidfile);
                nbctl(
                    &c,
                    &format!("lsp-add sw1 {port} -- lsp-set-addresses {port} \"{mac} {ip}\""),
                );
                restart_server(&mut c, "sb");
            }
            _ => {
                kill(&c, pidfile);
                nbctl(
                    &c,
                    &format!("lsp-add sw1 {port} -- lsp-set-addresses {port} \"{mac} {ip}\""),
                );
                c.oracle
                    .start_daemon(
                        Path::new(env!("CARGO_BIN_EXE_ovnflow")),
                        &["northd"],
                        "ovnflow-northd",
                    )
                    .unwrap();
            }
        }
        bind(&c, port);
        bound.push(port);
        settle(&c, &bound);
        assert_eq!(traces(&c), want, "after restarting {what}");
        assert_eq!(groups(&c), want_groups, "after restarting {what}");
        // The new port is reachable from vm1 across the router.
        let odp = odp_ports(&c);
        let flow = format!(
            "in_port={},icmp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:ff:01,nw_src=10.0.0.2,nw_dst={ip},nw_ttl=64,icmp_type=8",
            c.vsctl(&["get", "Interface", "vm1", "ofport"]).unwrap().trim()
        );
        let text = vs_appctl(&c, &["ofproto/trace", &c.bridge, &flow]);
        let last = text
            .lines()
            .filter_map(|l| l.strip_prefix("Datapath actions: "))
            .next_back()
            .map(|a| normalize(a.trim(), &odp))
            .unwrap_or_default();
        assert!(
            last.contains(&format!("output:{port}")),
            "after restarting {what}: vm1 -> {port} gives {last}\n{text}"
        );
    }
}
