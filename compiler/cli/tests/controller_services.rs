//! `ovnflow controller`'s Southbound-writing packet-ins and load balancer
//! health checks against real ovn-controller 23.03, live, on a userspace
//! chassis (see `chassis/mod.rs`).  One switch, sw0:
//!
//! * pod p1 on `lp1`, addresses `unknown` (no port security): its first
//!   packet makes `put_fdb` learn its MAC, an SB `FDB` row;
//! * load balancer lb0 with VIP 10.0.0.50:80 and no backends, `options:event=true`:
//!   p1's TCP SYN to it makes `trigger_event` write a `Controller_Event`;
//! * virtual port `vip0` (10.0.0.100, parent `lp2`): pod p2's gratuitous
//!   ARP for 10.0.0.100 makes `bind_vport` claim it (`chassis`,
//!   `virtual_parent`);
//! * load balancer lb1 with VIP 10.0.0.60:80, backends 10.0.0.2:8080 (p2
//!   listens) and 10.0.0.2:8081 (nobody listens) and a health check
//!   (`ip_port_mappings` 10.0.0.2=lp2:10.0.0.253): the `Service_Monitor`
//!   rows turn `online` and `offline`.
//!
//! Real ovn-controller runs first; the rows it wrote are recorded, then
//! removed (statuses cleared), ovn-controller stops and ours takes over
//! the chassis; the same packets must make ours write the same rows.
//!
//! Needs root and the OVN/OVS binaries; with `CI` set their absence is a
//! failure, otherwise the test says why it skips.

mod chassis;
mod pinctrl_frames;

use std::process::Command;
use std::time::Duration;

use chassis::{tcp_server, wait_for, Chassis};

fn sbctl(c: &Chassis, args: &[&str]) -> String {
    c.sbctl(args)
        .unwrap_or_else(|e| panic!("ovn-sbctl {args:?}: {e}"))
}

fn run(prog: &str, args: &[&str]) {
    let out = Command::new(prog).args(args).output().expect(prog);
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A pod: namespace, veth on the bridge with `iface-id=lpI`, MAC
/// 50:54:00:00:00:0I, address 10.0.0.I/24.
fn add_pod(c: &mut Chassis, i: u8) -> String {
    let ns = c.pod_ns(&format!("p{i}"));
    c.add_netns(&ns).expect("netns");
    let host_if = format!("{}h{i}", c.prefix);
    run(
        "ip",
        &[
            "-n", &c.host_ns, "link", "add", &host_if, "type", "veth", "peer", "name", "eth0",
            "netns", &ns,
        ],
    );
    let mac = format!("50:54:00:00:00:0{i}");
    run("ip", &["-n", &ns, "link", "set", "eth0", "address", &mac]);
    // No IPv6 chatter (router solicitations, DAD) before the test speaks.
    run(
        "ip",
        &[
            "netns",
            "exec",
            &ns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
        ],
    );
    run("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
    run(
        "ip",
        &[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("10.0.0.{i}/24"),
            "dev",
            "eth0",
        ],
    );
    run("ip", &["-n", &c.host_ns, "link", "set", &host_if, "up"]);
    let iface = format!("external_ids:iface-id=lp{i}");
    c.vsctl(&[
        "add-port",
        &c.bridge,
        &host_if,
        "--",
        "set",
        "Interface",
        &host_if,
        &iface,
    ])
    .expect("add-port");
    ns
}

/// A raw frame from pod `ns` (no answer awaited).
fn send(ns: &str, frame: &[u8]) {
    let _ = pinctrl_frames::exchange(ns, frame, |_| false, Duration::from_millis(200));
}

/// p2's gratuitous ARP request for 10.0.0.100.
fn garp() -> Vec<u8> {
    let mac = [0x50, 0x54, 0, 0, 0, 2];
    let mut f = vec![0xff; 6];
    f.extend(mac);
    f.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend(mac);
    f.extend([10, 0, 0, 100]);
    f.extend([0; 6]);
    f.extend([10, 0, 0, 100]);
    f
}

/// What the services wrote: `Controller_Event`, `FDB`, `vip0`'s binding
/// and the monitors' statuses, as sorted text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Written {
    events: String,
    fdb: String,
    vport: String,
    monitors: String,
}

fn list(c: &Chassis, columns: &str, table: &str) -> String {
    let out = sbctl(
        c,
        &[
            "--format=csv",
            "--data=bare",
            "--no-headings",
            &format!("--columns={columns}"),
            "list",
            table,
        ],
    );
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    lines.join("\n")
}

/// Sends the packets and waits for the rows (up to 30 s).
fn exercise(c: &Chassis, p1: &str, p2: &str) -> Written {
    use pinctrl_frames as f;
    let syn = f::ip4([10, 0, 0, 50], 64, 6, f::tcp_syn(40100, 80), Some(16));
    let mut w = None;
    wait_for(30, || {
        send(p1, &syn);
        send(p2, &garp());
        let now = Written {
            events: list(
                c,
                "event_type,event_info,seq_num,chassis",
                "Controller_Event",
            ),
            fdb: list(c, "mac,dp_key,port_key", "FDB"),
            vport: sbctl(
                c,
                &[
                    "--bare",
                    "--columns=chassis,virtual_parent",
                    "find",
                    "Port_Binding",
                    "logical_port=vip0",
                ],
            ),
            monitors: list(c, "ip,port,status", "Service_Monitor"),
        };
        let done = !now.events.is_empty()
            && !now.fdb.is_empty()
            && now.vport.contains("lp2")
            && now.monitors.contains("online")
            && now.monitors.contains("offline");
        w = Some(now);
        done
    });
    w.expect("at least one round")
}

/// Removes what the services wrote, so that the next controller must
/// write it again.
fn forget(c: &Chassis) {
    sbctl(c, &["--all", "destroy", "Controller_Event"]);
    sbctl(c, &["--all", "destroy", "FDB"]);
    let vip = sbctl(
        c,
        &[
            "--bare",
            "--columns=_uuid",
            "find",
            "Port_Binding",
            "logical_port=vip0",
        ],
    );
    sbctl(
        c,
        &[
            "clear",
            "Port_Binding",
            vip.trim(),
            "chassis",
            "virtual_parent",
        ],
    );
    let mons = sbctl(c, &["--bare", "--columns=_uuid", "list", "Service_Monitor"]);
    for u in mons.split_whitespace() {
        sbctl(c, &["clear", "Service_Monitor", u, "status"]);
    }
}

#[test]
fn fdb_events_virtual_ports_and_health_checks_like_ovn_controller() {
    if !chassis::runnable("live services", &["ovn-sbctl"]) {
        return;
    }
    let mut c = Chassis::start_with("hv1", false).expect("chassis");
    c.nbctl_ok(
        "ls-add sw0 -- lsp-add sw0 lp1 -- lsp-set-addresses lp1 unknown \
         -- lsp-add sw0 lp2 -- lsp-set-addresses lp2 \"50:54:00:00:00:02 10.0.0.2\" \
         -- lsp-add sw0 vip0 -- lsp-set-type vip0 virtual \
         -- lsp-set-options vip0 virtual-ip=10.0.0.100 virtual-parents=lp2 \
         -- --id=@lb create Load_Balancer name=lb0 protocol=tcp \
            'vips={\"10.0.0.50:80\"=\"\"}' options:event=true \
         -- add Logical_Switch sw0 load_balancer @lb \
         -- lb-add lb1 10.0.0.60:80 10.0.0.2:8080,10.0.0.2:8081 \
         -- ls-lb-add sw0 lb1",
    );
    c.nbctl_ok(
        "set Load_Balancer lb1 'ip_port_mappings:\"10.0.0.2\"=\"lp2:10.0.0.253\"' \
         -- --id=@hc create Load_Balancer_Health_Check 'vip=\"10.0.0.60:80\"' \
            options:interval=2 options:timeout=1 \
         -- add Load_Balancer lb1 health_check @hc",
    );
    let p1 = add_pod(&mut c, 1);
    let p2 = add_pod(&mut c, 2);
    tcp_server(&p2, 8080, "hello\n");

    // 1. Real ovn-controller.
    c.start_ovn_controller().expect("ovn-controller");
    assert!(
        wait_for(60, || ["lp1", "lp2"]
            .iter()
            .all(|p| c.nbctl_ok(&format!("lsp-get-up {p}")).trim() == "up")),
        "ports never came up\n{}",
        c.logs()
    );
    c.nbctl_ok("--wait=hv --timeout=60 sync");
    let real = exercise(&c, &p1, &p2);
    println!("ovn-controller wrote: {real:#?}");
    assert!(
        real.events.contains("empty_lb_backends") && real.events.contains("10.0.0.50:80"),
        "oracle: no controller event\n{real:?}"
    );
    assert!(
        real.fdb.contains("50:54:00:00:00:01"),
        "oracle: no FDB\n{real:?}"
    );
    assert!(
        real.vport.contains("lp2"),
        "oracle: vip0 not bound\n{real:?}"
    );
    assert!(
        real.monitors.contains("8080,online") && real.monitors.contains("8081,offline"),
        "oracle: monitors\n{real:?}"
    );

    // 2. Ours, on a Southbound without those rows.
    c.stop("ovn-controller");
    forget(&c);
    let dir = c.dir();
    let p = |n: &str| dir.join(n).display().to_string();
    let args = vec![
        "controller".to_string(),
        c.remote("db.sock"),
        "--no-chdir".into(),
        format!("--pidfile={}", p("ovnflow-controller.pid")),
        format!("--unixctl={}", p("ovnflow-controller.ctl")),
        format!("--log-file={}", p("ovnflow-controller.log")),
    ];
    c.start_daemon(env!("CARGO_BIN_EXE_ovnflow"), &args)
        .expect("start ovnflow controller");
    assert!(
        wait_for(30, || dir.join("ovnflow-controller.ctl").exists()),
        "no control socket"
    );
    c.nbctl_ok("--wait=hv --timeout=60 sync");
    let ours = exercise(&c, &p1, &p2);
    println!("ovnflow wrote: {ours:#?}");
    let log = || std::fs::read_to_string(dir.join("ovnflow-controller.log")).unwrap_or_default();
    assert_eq!(ours.events, real.events, "Controller_Event rows\n{}", log());
    assert_eq!(ours.fdb, real.fdb, "FDB rows\n{}", log());
    assert_eq!(ours.vport, real.vport, "vip0's binding\n{}", log());
    assert_eq!(
        ours.monitors,
        real.monitors,
        "Service_Monitor statuses\n{}",
        log()
    );
}
