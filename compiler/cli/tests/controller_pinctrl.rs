//! `ovnflow controller`'s packet-in services and meters against real
//! ovn-controller 23.03, live, on a userspace chassis (see
//! `controller_live.rs` and `chassis/mod.rs`):
//!
//! * meters: the NB has a logged ACL with a `pktps` meter and CoPP
//!   policies (DHCPv4, DNS, router ARP resolution) with a `kbps` meter
//!   with burst; `ovs-ofctl dump-meters` after ours takes over equals
//!   real ovn-controller's (ids mapped to meter names through each
//!   controller's `meter-table-list`), and a band's rate changed in the
//!   NB is installed as a `MODIFY`;
//! * DHCPv4 (`put_dhcp_opts`): busybox `udhcpc` in a pod gets the same
//!   lease (address, mask, router, DNS, lease time, server id) from ours
//!   as from ovn-controller;
//! * DNS (`dns_lookup`): busybox `nslookup` of the switch's DNS records
//!   (`A` and `AAAA`) answers the same through ours as through
//!   ovn-controller;
//! * raw requests sent on the pod's link (DHCPv4 DISCOVER/REQUEST, a
//!   REQUEST for another address, DHCPv6 SOLICIT and INFORMATION-REQUEST,
//!   DNS A/AAAA/ANY/PTR, a router solicitation, a neighbor solicitation for
//!   the router; a TCP SYN, a UDP datagram, an SCTP INIT and an unknown
//!   protocol to the router — `tcp_reset`, `icmp4` port/protocol
//!   unreachable, `sctp_abort` —, a UDP datagram with TTL 1 across it —
//!   `icmp4` time exceeded —, TCP and UDP over IPv4 and IPv6 to ports a
//!   `reject` ACL covers — RST, `icmp4`/`icmp6` port unreachable): the
//!   answers are byte for byte ovn-controller's;
//! * a TCP client connecting to a rejected port is refused at once, with
//!   both;
//! * router advertisements (`put_nd_ra_opts`): the pod's link goes down
//!   and up, its router solicitation is answered and the SLAAC address it
//!   configures is the same with ours as with ovn-controller;
//! * the packet that makes a router ARP for an unknown next hop is kept
//!   and delivered once the `MAC_Binding` appears: the very first ping
//!   across the router to a pod whose MAC only ARP tells is answered,
//!   with ovn-controller (pod p3) and with ours (pod p4).
//!
//! Needs root, the OVN/OVS binaries and busybox; with `CI` set their
//! absence is a failure, otherwise the test says why it skips.

mod chassis;
mod pinctrl_frames;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use chassis::{in_ns, ping, tcp_get, wait_for, Chassis};

fn run(prog: &str, args: &[&str]) -> String {
    let out = Command::new(prog).args(args).output().expect(prog);
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A pod on the bridge: namespace, veth, `iface-id=lpI`, MAC
/// 50:54:00:00:00:0I, and the address `addr` if given.
fn add_pod(c: &mut Chassis, i: u8, addr: Option<(&str, &str)>) -> String {
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
    run("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
    if let Some((cidr, gw)) = addr {
        run("ip", &["-n", &ns, "addr", "add", cidr, "dev", "eth0"]);
        run("ip", &["-n", &ns, "route", "add", "default", "via", gw]);
    }
    run("ip", &["-n", &c.host_ns, "link", "set", &host_if, "up"]);
    for (n, dev) in [
        (c.host_ns.clone(), host_if.clone()),
        (ns.clone(), "eth0".to_string()),
    ] {
        in_ns(&n, || ovnflow_k8s_bridge::cni::netns::tx_checksum_off(&dev)).expect("tx off");
    }
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

fn ports_up(c: &Chassis, ports: &[&str]) {
    assert!(
        wait_for(60, || ports
            .iter()
            .all(|p| c.nbctl_ok(&format!("lsp-get-up {p}")).trim() == "up")),
        "ports {ports:?} never came up\n{}",
        c.logs()
    );
}

/// `ovn-appctl -t SOCKET CMD` (`SOCKET`: a path).
fn appctl(sock: &std::path::Path, cmd: &[&str]) -> String {
    let out = Command::new("ovn-appctl")
        .arg("-t")
        .arg(sock)
        .args(cmd)
        .output()
        .expect("ovn-appctl");
    assert!(
        out.status.success(),
        "ovn-appctl {cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Real ovn-controller's control socket (`$OVN_RUNDIR/ovn-controller.PID.ctl`).
fn real_ctl(c: &Chassis) -> std::path::PathBuf {
    let pid = std::fs::read_to_string(c.dir().join("ovn-controller.pid")).expect("pidfile");
    c.dir().join(format!("ovn-controller.{}.ctl", pid.trim()))
}

fn ours_ctl(c: &Chassis) -> std::path::PathBuf {
    c.dir().join("ovnflow-controller.ctl")
}

/// `meter-table-list`: id → name.
fn meter_names(list: &str) -> BTreeMap<u32, String> {
    list.lines()
        .filter_map(|l| {
            let (name, id) = l.rsplit_once(": ")?;
            Some((id.trim().parse().ok()?, name.to_string()))
        })
        .collect()
}

/// `ovs-ofctl dump-meters` with each meter named instead of numbered,
/// sorted.
fn meters(c: &Chassis, names: &BTreeMap<u32, String>) -> Vec<String> {
    let out = run(
        "ovs-ofctl",
        &[
            "-O",
            "OpenFlow15",
            "dump-meters",
            &c.remote(&format!("{}.mgmt", c.bridge)),
        ],
    );
    let body: String = out
        .lines()
        .filter(|l| !l.starts_with("OFPST_METER_CONFIG"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut v: Vec<String> = body
        .split("meter=")
        .filter(|s| !s.trim().is_empty())
        .map(|rec| {
            let (id, rest) = rec.trim().split_once(' ').unwrap_or((rec.trim(), ""));
            let id: u32 = id.parse().expect("meter id");
            let name = names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
            format!(
                "{name}: {}",
                rest.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        })
        .collect();
    v.sort();
    v
}

const SCRIPT: &str = "#!/bin/sh\n\
    [ \"$1\" = bound ] || exit 0\n\
    env | grep -E '^(ip|subnet|router|dns|lease|serverid|domain|broadcast|mask|siaddr|boot_file|hostname)=' | sort > \"$LEASE_FILE\"\n";

/// busybox udhcpc in `ns`: the lease's variables, or the client's output
/// when no lease came.
fn dhcp(c: &Chassis, ns: &str, tag: &str) -> Result<String, String> {
    let dir = c.dir();
    let script = dir.join("udhcpc.sh");
    std::fs::write(&script, SCRIPT).expect("script");
    run("chmod", &["+x", &script.display().to_string()]);
    let lease = dir.join(format!("lease-{tag}"));
    let _ = std::fs::remove_file(&lease);
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "busybox", "udhcpc", "-f", "-q", "-n"])
        .args(["-t", "5", "-T", "1", "-A", "1", "-i", "eth0", "-s"])
        .arg(&script)
        .env("LEASE_FILE", &lease)
        .output()
        .expect("udhcpc");
    std::fs::read_to_string(&lease).map_err(|_| {
        format!(
            "no lease: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// busybox nslookup of `name` (record type `ty`) at `server`, the lines
/// after the server's.
fn nslookup(ns: &str, ty: &str, name: &str, server: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "busybox", "nslookup"])
        .arg(format!("-type={ty}"))
        .args([name, server])
        .output()
        .expect("nslookup");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Without the server's own lines (`Server:`, `Address: SERVER:53`).
    text.lines()
        .filter(|l| !l.starts_with("Server:") && !l.contains(&format!("{server}:53")))
        .filter(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The pod's global IPv6 addresses after its link went down and up (a
/// router solicitation, answered by `put_nd_ra_opts`), waiting up to 15 s.
fn slaac(ns: &str) -> Vec<String> {
    let _ = Command::new("ip")
        .args([
            "-n", ns, "-6", "addr", "flush", "dev", "eth0", "scope", "global",
        ])
        .status();
    run("ip", &["-n", ns, "link", "set", "eth0", "down"]);
    run("ip", &["-n", ns, "link", "set", "eth0", "up"]);
    let mut got = Vec::new();
    wait_for(15, || {
        let out = run(
            "ip",
            &[
                "-n", ns, "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global",
            ],
        );
        got = out
            .split_whitespace()
            .skip_while(|w| *w != "inet6")
            .nth(1)
            .map(|a| vec![a.to_string()])
            .unwrap_or_default();
        !got.is_empty()
    });
    // The link going down took the IPv4 default route with it.
    run(
        "ip",
        &["-n", ns, "route", "replace", "default", "via", "10.0.0.254"],
    );
    got
}

/// The router's address on sw0.
const ROUTER4: [u8; 4] = [10, 0, 0, 254];
/// An address behind the router that nobody has.
const BEYOND4: [u8; 4] = [10, 1, 0, 99];
/// An IPv6 address on sw0's prefix that nobody has.
const BEYOND6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99];

/// A raw request: name, frame, and which received frame answers it.
type Case = (&'static str, Vec<u8>, fn(&[u8]) -> bool);

/// Each raw request of [`pinctrl_frames`] sent from `ns` and the answer
/// that came back (or `None`).
fn frame_answers(ns: &str) -> Vec<(&'static str, Option<Vec<u8>>)> {
    use pinctrl_frames as f;
    let wait = Duration::from_secs(3);
    let router6: Ipv6Addr = "fd00::fe".parse().expect("address");
    let cases: Vec<Case> = vec![
        ("DHCPDISCOVER", f::dhcp4(1, None), |x| f::udp4_to(x, 68)),
        ("DHCPREQUEST", f::dhcp4(3, Some([10, 0, 0, 1])), |x| {
            f::udp4_to(x, 68)
        }),
        (
            "DHCPREQUEST (other address: NAK)",
            f::dhcp4(3, Some([10, 0, 0, 9])),
            |x| f::udp4_to(x, 68),
        ),
        ("DHCPv6 SOLICIT", f::dhcp6(true), |x| f::udp6_to(x, 546)),
        ("DHCPv6 INFORMATION-REQUEST", f::dhcp6(false), |x| {
            f::udp6_to(x, 546)
        }),
        ("DNS A", f::dns("vm1.ovn.test", 1), |x| f::udp4_to(x, 40000)),
        ("DNS AAAA", f::dns("VM1.ovn.test", 28), |x| {
            f::udp4_to(x, 40000)
        }),
        ("DNS ANY", f::dns("vm1.ovn.test", 255), |x| {
            f::udp4_to(x, 40000)
        }),
        ("DNS PTR", f::dns("4.0.0.10.in-addr.arpa", 12), |x| {
            f::udp4_to(x, 40000)
        }),
        ("RS", f::rs(), |x| f::icmp6(x, 134)),
        ("NS", f::ns(router6.octets()), |x| f::icmp6(x, 136)),
        (
            "TCP SYN to the router (tcp_reset)",
            f::ip4(ROUTER4, 64, 6, f::tcp_syn(40001, 80), Some(16)),
            |x| f::rst4_to(x, 40001),
        ),
        (
            "UDP to the router (icmp4 port unreachable)",
            f::ip4(ROUTER4, 64, 17, f::udp(40002, 9), Some(6)),
            |x| f::icmp4_about(x, 3, ROUTER4, 17),
        ),
        (
            "IP protocol 253 to the router (icmp4 protocol unreachable)",
            f::ip4(ROUTER4, 64, 253, vec![0; 8], None),
            |x| f::icmp4_about(x, 3, ROUTER4, 253),
        ),
        (
            "SCTP INIT to the router (sctp_abort)",
            f::ip4(ROUTER4, 64, 132, f::sctp_init(40003, 80), None),
            |x| f::sctp4_to(x, 40003),
        ),
        (
            "UDP with TTL 1 across the router (icmp4 time exceeded)",
            f::ip4(BEYOND4, 1, 17, f::udp(40004, 7), Some(6)),
            |x| f::icmp4_about(x, 11, BEYOND4, 17),
        ),
        (
            "TCP SYN to a rejected port (reject: RST)",
            f::ip4(BEYOND4, 64, 6, f::tcp_syn(40005, 5555), Some(16)),
            |x| f::rst4_to(x, 40005),
        ),
        (
            "UDP to a rejected port (reject: icmp4 port unreachable)",
            f::ip4(BEYOND4, 64, 17, f::udp(40006, 5556), Some(6)),
            |x| f::icmp4_about(x, 3, BEYOND4, 17),
        ),
        (
            "TCP6 SYN to a rejected port (reject: RST)",
            f::ip6(BEYOND6, 6, f::tcp_syn(40007, 5555), 16),
            |x| f::rst6_to(x, 40007),
        ),
        (
            "UDP6 to a rejected port (reject: icmp6 port unreachable)",
            f::ip6(BEYOND6, 17, f::udp(40008, 5556), 6),
            |x| f::icmp6(x, 1),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, frame, want)| (name, f::exchange(ns, &frame, want, wait)))
        .collect()
}

/// A TCP connection from `ns` to a port the reject ACL covers, behind
/// the router: `Err` with the error when it fails within a second.
fn refused(ns: &str) -> Result<String, String> {
    let t = Instant::now();
    let r = tcp_get(
        ns,
        "10.1.0.99:5555".parse().expect("address"),
        Duration::from_secs(3),
    );
    match r {
        Err(e) if t.elapsed() < Duration::from_secs(1) => Err(e),
        Err(e) => Ok(format!("failed only after {:?}: {e}", t.elapsed())),
        Ok(got) => Ok(format!("connected: {got:?}")),
    }
}

fn first_ping(ns: &str, dst: Ipv4Addr) -> bool {
    ping(ns, dst, 1, Duration::from_secs(3)) == 1
}

#[test]
fn meters_dhcp_dns_and_buffered_packets_like_ovn_controller() {
    if !chassis::runnable("live pinctrl", &["ovs-ofctl", "busybox"]) {
        return;
    }
    let mut c = Chassis::start_with("hv1", false).expect("chassis");
    c.nbctl_ok("ls-add sw0 -- lsp-add sw0 lp1 -- lsp-set-addresses lp1 \"50:54:00:00:00:01 10.0.0.1 fd00::5254:ff:fe00:1\" \
         -- lr-add lr0 -- lrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.254/24 fd00::fe/64 \
         -- set Logical_Router_Port lrp0 ipv6_ra_configs:address_mode=slaac \
         -- lsp-add sw0 sw0-lr0 -- lsp-set-type sw0-lr0 router -- lsp-set-addresses sw0-lr0 router \
         -- lsp-set-options sw0-lr0 router-port=lrp0 \
         -- ls-add sw1 -- lrp-add lr0 lrp1 00:00:00:00:ff:02 10.1.0.254/24 \
         -- lsp-add sw1 sw1-lr0 -- lsp-set-type sw1-lr0 router -- lsp-set-addresses sw1-lr0 router \
         -- lsp-set-options sw1-lr0 router-port=lrp1 \
         -- lsp-add sw1 lp3 -- lsp-set-addresses lp3 unknown \
         -- lsp-add sw1 lp4 -- lsp-set-addresses lp4 unknown \
         -- meter-add acl-meter drop 10 pktps \
         -- meter-add copp-meter drop 2000 kbps 500 \
         -- copp-add copp0 dhcpv4-opts copp-meter -- copp-add copp0 dns copp-meter \
         -- copp-add copp0 arp-resolve copp-meter \
         -- ls-copp-add copp0 sw0 -- lr-copp-add copp0 lr0 \
         -- --log --name=acl-logged acl-add sw0 from-lport 1002 \"udp.dst == 5001\" allow \
         -- acl-add sw0 from-lport 1003 \"tcp.dst == 5555 || udp.dst == 5556\" reject",
    );
    let acl = c.nbctl_ok("--bare --columns=_uuid find ACL name=acl-logged");
    c.nbctl_ok(&format!("set ACL {} meter=acl-meter", acl.trim()));
    c.nbctl_ok("dhcp-options-create 10.0.0.0/24");
    let dhcp_uuid = c.nbctl_ok("--bare --columns=_uuid find DHCP_Options cidr=\\\"10.0.0.0/24\\\"");
    let dhcp_uuid = dhcp_uuid.trim();
    c.nbctl_ok(&format!(
        "dhcp-options-set-options {dhcp_uuid} lease_time=3600 router=10.0.0.254 \
             server_id=10.0.0.254 server_mac=00:00:00:00:ff:01 dns_server=10.0.0.254 \
             domain_name=\\\"ovn.test\\\""
    ));
    c.nbctl_ok(&format!("lsp-set-dhcpv4-options lp1 {dhcp_uuid}"));
    c.nbctl_ok("dhcp-options-create fd00::/64");
    let dhcp6_uuid = c.nbctl_ok("--bare --columns=_uuid find DHCP_Options cidr=\\\"fd00::/64\\\"");
    let dhcp6_uuid = dhcp6_uuid.trim();
    c.nbctl_ok(&format!(
        "dhcp-options-set-options {dhcp6_uuid} server_id=00:00:00:00:ff:01 \
             dns_server=fd00::fe domain_search=\\\"ovn.test\\\""
    ));
    c.nbctl_ok(&format!("lsp-set-dhcpv6-options lp1 {dhcp6_uuid}"));
    let dns = c.nbctl_ok("create DNS 'records={\"vm1.ovn.test\"=\"10.0.0.4 aef0::4\",\"4.0.0.10.in-addr.arpa\"=\"vm1.ovn.test\"}'",
    );
    c.nbctl_ok(&format!(
        "add Logical_Switch sw0 dns_records {}",
        dns.trim()
    ));

    let p1 = add_pod(&mut c, 1, None);
    let p3 = add_pod(&mut c, 3, Some(("10.1.0.3/24", "10.1.0.254")));
    let p4 = add_pod(&mut c, 4, Some(("10.1.0.4/24", "10.1.0.254")));

    // 1. Real ovn-controller.
    c.start_ovn_controller().expect("ovn-controller");
    ports_up(&c, &["lp1", "lp3", "lp4"]);
    c.nbctl_ok("--wait=hv --timeout=60 sync");
    let real_names = meter_names(&appctl(&real_ctl(&c), &["meter-table-list"]));
    let real_meters = meters(&c, &real_names);
    let t = Instant::now();
    let real_lease = dhcp(&c, &p1, "real").unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    println!("ovn-controller: lease in {:?}:\n{real_lease}", t.elapsed());
    run(
        "ip",
        &["-n", &p1, "addr", "add", "10.0.0.1/24", "dev", "eth0"],
    );
    run(
        "ip",
        &["-n", &p1, "route", "add", "default", "via", "10.0.0.254"],
    );
    let real_dns: Vec<String> = ["a", "aaaa"]
        .iter()
        .map(|ty| {
            let name = if *ty == "ptr" {
                "10.0.0.4"
            } else {
                "vm1.ovn.test"
            };
            nslookup(&p1, ty, name, "10.0.0.254")
        })
        .collect();
    println!("ovn-controller: nslookup:\n{}", real_dns.join("\n--\n"));
    let real_frames = frame_answers(&p1);
    let real_refused = refused(&p1);
    println!("ovn-controller: connect to a rejected port: {real_refused:?}");
    let real_first = first_ping(&p1, Ipv4Addr::new(10, 1, 0, 3));
    let real_ra = slaac(&p1);
    println!("ovn-controller: SLAAC {real_ra:?}");

    // 2. Ours.
    c.stop("ovn-controller");
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
    assert!(wait_for(30, || ours_ctl(&c).exists()), "no control socket");
    c.nbctl_ok("--wait=hv --timeout=60 sync");
    let our_names = meter_names(&appctl(&ours_ctl(&c), &["meter-table-list"]));
    let our_meters = meters(&c, &our_names);
    println!("meters: ovn-controller {real_meters:#?}, ovnflow {our_meters:#?}");
    assert_eq!(
        our_names.values().collect::<Vec<_>>().len(),
        real_names.len(),
        "{our_names:?} vs {real_names:?}"
    );
    assert_eq!(our_meters, real_meters, "dump-meters differ");
    assert!(
        real_meters
            .iter()
            .any(|m| m.starts_with("acl-meter: pktps"))
            && real_meters
                .iter()
                .any(|m| m.starts_with("copp-meter: kbps burst")),
        "{real_meters:?}"
    );

    // A band's rate changed in the NB: a MODIFY of that meter.
    let band = c.nbctl_ok("--bare --columns=bands find Meter name=copp-meter");
    c.nbctl_ok(&format!("set Meter_Band {} rate=3000", band.trim()));
    c.nbctl_ok("--wait=hv --timeout=60 sync");
    let after = meters(&c, &our_names);
    assert!(
        after
            .iter()
            .any(|m| m.starts_with("copp-meter:") && m.contains("rate=3000")),
        "{after:?}"
    );

    // DHCP through ours.
    let t = Instant::now();
    let our_lease = dhcp(&c, &p1, "ours").unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\n{}",
            c.logs(),
            std::fs::read_to_string(dir.join("ovnflow-controller.log")).unwrap_or_default()
        )
    });
    println!("ovnflow: lease in {:?}:\n{our_lease}", t.elapsed());
    assert_eq!(our_lease, real_lease, "DHCP leases differ");
    assert!(real_lease.contains("ip=10.0.0.1"), "{real_lease}");

    // DNS through ours.
    let our_dns: Vec<String> = ["a", "aaaa"]
        .iter()
        .map(|ty| {
            let name = if *ty == "ptr" {
                "10.0.0.4"
            } else {
                "vm1.ovn.test"
            };
            nslookup(&p1, ty, name, "10.0.0.254")
        })
        .collect();
    println!("ovnflow: nslookup:\n{}", our_dns.join("\n--\n"));
    assert_eq!(our_dns, real_dns, "DNS answers differ");
    assert!(real_dns[0].contains("10.0.0.4"), "{real_dns:?}");

    // The raw requests, answer for answer.
    let our_frames = frame_answers(&p1);
    for ((name, theirs), (_, ours)) in real_frames.iter().zip(&our_frames) {
        let show = |f: &Option<Vec<u8>>| f.as_deref().map_or("(none)".into(), pinctrl_frames::hex);
        println!(
            "{name}: ovn-controller {} bytes, ovnflow {} bytes",
            theirs.as_ref().map_or(0, Vec::len),
            ours.as_ref().map_or(0, Vec::len)
        );
        assert!(
            theirs.is_some(),
            "{name}: ovn-controller did not answer (oracle)"
        );
        assert_eq!(
            ours,
            theirs,
            "{name}: ovnflow (left) vs ovn-controller\n{}\n--\n{}",
            show(ours),
            show(theirs)
        );
    }

    // A client connecting to a port an ACL rejects is refused at once.
    let our_refused = refused(&p1);
    println!("ovnflow: connect to a rejected port: {our_refused:?}");
    assert!(
        real_refused.as_ref().is_err_and(|e| e.contains("refused")),
        "oracle: {real_refused:?}"
    );
    assert_eq!(our_refused, real_refused, "connect to a rejected port");

    // A router advertisement through ours.
    let our_ra = slaac(&p1);
    println!("ovnflow: SLAAC {our_ra:?}");
    assert_eq!(our_ra, real_ra, "SLAAC addresses differ");
    assert_eq!(real_ra, ["fd00::5254:ff:fe00:1/64"], "oracle: no RA");

    // The first packet across the router to a MAC only ARP tells.
    let our_first = first_ping(&p1, Ipv4Addr::new(10, 1, 0, 4));
    let stats = appctl(&ours_ctl(&c), &["stats"]);
    println!(
        "first ping across the router answered: ovn-controller {real_first}, ovnflow {our_first}\n{stats}"
    );
    assert!(real_first, "ovn-controller lost the first packet (oracle)");
    assert!(our_first, "ovnflow lost the first packet\n{stats}");
    let _ = (p3, p4);
}
