//! End to end over IPv6 with real packets: dual-stack manifests
//! (`k8s_e2e_ipv6.yaml`) → `ovnflow k8s apply --cluster-subnets
//! 10.128.0.0/14/23,fd00:10:128::/48/64` → NB (real ovsdb-server) → real
//! ovn-northd 23.03 → a real userspace chassis (ovs-vswitchd `netdev` +
//! ovn-controller) → pods as network namespaces plugged by the `ovnflow`
//! CNI plugin with both addresses → ICMPv6 echo pod to pod, ICMP over
//! IPv4, TCP to an IPv6 ClusterIP and to the IPv6 VIP of a dual-stack
//! Service through OVN's load balancer; a dual-stack Nodus network
//! (`net1` on both pods, an allocated and a fixed IPv6 address): ICMPv6
//! and ICMP over it and to its gateways on the Nodus router; CNI DEL
//! cleans up.
//!
//! Needs root (network namespaces) and the OVN/OVS binaries; with `CI`
//! set their absence is a failure, otherwise the test says why it skips.

mod chassis;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chassis::{in_ns, ping, tcp_get, Chassis};

const NODE: &str = "n1";
const MANIFESTS: &str = include_str!("k8s_e2e_ipv6.yaml");
const PODS: &[(&str, &str)] = &[("shop", "web-1"), ("shop", "client-1")];
const CLUSTER_SUBNETS: &str = "10.128.0.0/14/23,fd00:10:128::/48/64";
const SERVICE_CIDRS: &str = "10.96.0.0/16,fd00:10:96::/112";

fn runnable() -> bool {
    let ci = std::env::var_os("CI").is_some();
    let mut missing: Vec<&str> = ["ovs-vswitchd", "ovn-controller", "ovs-vsctl", "ip"]
        .into_iter()
        .filter(|b| {
            Command::new("which")
                .arg(b)
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
        })
        .collect();
    match ovnflow_golden::oracle::available() {
        Ok(true) => {}
        Ok(false) => missing.push("ovsdb-server/ovn-northd"),
        Err(e) => panic!("{e}"),
    }
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    if missing.is_empty() && root {
        return true;
    }
    let why = format!("missing {missing:?}, root={root}");
    assert!(!ci, "CI is set but the end-to-end test cannot run: {why}");
    eprintln!("skipped: {why}");
    false
}

/// Runs the plugin for a pod's `eth0`; returns (success, stdout).
fn cni(c: &Chassis, cmd: &str, ns: &str, pod: &str) -> (bool, String) {
    let conf = serde_json::json!({
        "cniVersion": "1.0.0", "name": "ovnflow", "type": "ovnflow",
        "ovs_db": c.remote("db.sock"), "ovnnb_db": c.remote("nb.sock"),
        "bridge": c.bridge,
    });
    let mut child = Command::new("ip")
        .args(["netns", "exec", &c.host_ns, env!("CARGO_BIN_EXE_ovnflow")])
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", format!("{}-{ns}-{pod}", c.prefix))
        .env("CNI_NETNS", format!("/var/run/netns/{}", c.pod_ns(pod)))
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/opt/cni/bin")
        .env(
            "CNI_ARGS",
            format!("IgnoreUnknown=1;K8S_POD_NAMESPACE={ns};K8S_POD_NAME={pod}"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The addresses of a CNI result: (interface name, address).
fn result_ips(stdout: &str) -> Vec<(String, IpAddr)> {
    let r: serde_json::Value = serde_json::from_str(stdout).unwrap();
    let ifaces = r["interfaces"].as_array().unwrap().clone();
    r["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ip| {
            let i = ip["interface"].as_u64().unwrap() as usize;
            let name = ifaces[i]["name"].as_str().unwrap().to_string();
            let a = ip["address"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            (name, a)
        })
        .collect()
}

/// Sends `count` ICMPv6 echo requests from namespace `ns` to `dst`, one
/// at a time, each waiting up to `wait` for its reply; returns how many
/// replies came back. (The kernel computes ICMPv6 checksums on raw
/// ICMPv6 sockets.)
fn ping6(ns: &str, dst: Ipv6Addr, count: u16, wait: Duration) -> u16 {
    in_ns(ns, || {
        // SAFETY: plain socket calls on a descriptor closed at the end.
        unsafe {
            let fd = libc::socket(
                libc::AF_INET6,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::IPPROTO_ICMPV6,
            );
            assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 100_000,
            };
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            );
            let mut addr: libc::sockaddr_in6 = std::mem::zeroed();
            addr.sin6_family = libc::AF_INET6 as u16;
            addr.sin6_addr.s6_addr = dst.octets();
            let id = (std::process::id() & 0xffff) as u16;
            let mut ok = 0;
            for seq in 0..count {
                let mut pkt = vec![128u8, 0, 0, 0];
                pkt.extend_from_slice(&id.to_be_bytes());
                pkt.extend_from_slice(&seq.to_be_bytes());
                pkt.extend_from_slice(b"ovnflow-e2e-ping6-payload");
                libc::sendto(
                    fd,
                    pkt.as_ptr().cast(),
                    pkt.len(),
                    0,
                    (&addr as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as u32,
                );
                let deadline = Instant::now() + wait;
                let mut buf = [0u8; 1500];
                while Instant::now() < deadline {
                    let mut from: libc::sockaddr_in6 = std::mem::zeroed();
                    let mut len = std::mem::size_of::<libc::sockaddr_in6>() as u32;
                    let n = libc::recvfrom(
                        fd,
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        0,
                        (&mut from as *mut libc::sockaddr_in6).cast(),
                        &mut len,
                    );
                    if n < 8 {
                        continue;
                    }
                    if Ipv6Addr::from(from.sin6_addr.s6_addr) == dst
                        && buf[0] == 129
                        && buf[4..6] == id.to_be_bytes()
                        && buf[6..8] == seq.to_be_bytes()
                    {
                        ok += 1;
                        break;
                    }
                }
            }
            libc::close(fd);
            ok
        }
    })
}

/// A TCP server on `[::]:port` in namespace `ns` answering `reply`.
fn tcp_server6(ns: &str, port: u16, reply: &str) {
    let listener = in_ns(ns, || TcpListener::bind(("::", port)).expect("bind"));
    let reply = reply.to_string();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(reply.as_bytes());
        }
    });
}

#[test]
fn dual_stack_manifests_to_real_ipv6_packets() {
    if !runnable() {
        return;
    }
    let mut c = Chassis::start(NODE).unwrap();
    for (_, pod) in PODS {
        let n = c.pod_ns(pod);
        c.add_netns(&n).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.yaml");
    std::fs::write(&file, MANIFESTS).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ovnflow"))
        .args(["k8s", "apply", "--ovnnb-db"])
        .arg(c.remote("nb.sock"))
        .args([
            "--cluster-subnets",
            CLUSTER_SUBNETS,
            "--service-cidrs",
            SERVICE_CIDRS,
            "-f",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ovnflow k8s apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.oracle.sync().unwrap();

    let mut ips: BTreeMap<&str, Vec<(String, IpAddr)>> = BTreeMap::new();
    for (ns, pod) in PODS {
        let (ok, stdout) = cni(&c, "ADD", ns, pod);
        assert!(ok, "CNI ADD {ns}/{pod}: {stdout}\n{}", c.logs());
        let addrs = result_ips(&stdout);
        // One address per family on eth0 and on the Nodus net1.
        for ifname in ["eth0", "net1"] {
            let fams: Vec<bool> = addrs
                .iter()
                .filter(|(i, _)| i == ifname)
                .map(|(_, a)| a.is_ipv6())
                .collect();
            assert_eq!(fams, [false, true], "{pod} {ifname}: {addrs:?}");
        }
        ips.insert(*pod, addrs);
    }
    let (ok, out) = cni(&c, "CHECK", "shop", "web-1");
    assert!(ok, "CHECK: {out}");
    let v6_on =
        |pod: &str, ifname: &str| match ips[pod].iter().find(|(i, a)| i == ifname && a.is_ipv6()) {
            Some((_, IpAddr::V6(a))) => *a,
            _ => panic!("{pod} has no IPv6 address on {ifname}"),
        };
    let v4_on =
        |pod: &str, ifname: &str| match ips[pod].iter().find(|(i, a)| i == ifname && a.is_ipv4()) {
            Some((_, IpAddr::V4(a))) => *a,
            _ => panic!("{pod} has no IPv4 address on {ifname}"),
        };
    let v6 = |pod: &str| v6_on(pod, "eth0");
    let v4 = |pod: &str| v4_on(pod, "eth0");
    // The addresses ovn-kubernetes' layout gives: .3/::3 onwards, in key order.
    assert_eq!(
        v6("client-1"),
        "fd00:10:128::3".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(v6("web-1"), "fd00:10:128::4".parse::<Ipv6Addr>().unwrap());
    let ns = |pod: &str| c.pod_ns(pod);
    let wait = Duration::from_secs(2);

    // Pod to pod over IPv6, both ways, and over IPv4.
    let got = ping6(&ns("client-1"), v6("web-1"), 5, wait);
    assert_eq!(got, 5, "client-1 → web-1 ping6\n{}", c.logs());
    assert_eq!(ping6(&ns("web-1"), v6("client-1"), 3, wait), 3);
    assert_eq!(ping(&ns("client-1"), v4("web-1"), 3, wait), 3);

    // TCP to the IPv6 ClusterIP and the dual-stack Service's IPv6 VIP
    // (OVN's load balancer), and directly.
    tcp_server6(&ns("web-1"), 8080, "web-1\n");
    for vip in [
        "[fd00:10:96::50]:80",
        "[fd00:10:96::60]:81",
        "10.96.0.60:81",
    ] {
        let vip: SocketAddr = vip.parse().unwrap();
        assert_eq!(
            tcp_get(&ns("client-1"), vip, wait).as_deref(),
            Ok("web-1\n"),
            "client-1 → {vip}\n{}",
            c.logs()
        );
    }
    let direct = SocketAddr::new(IpAddr::V6(v6("web-1")), 8080);
    assert_eq!(
        tcp_get(&ns("client-1"), direct, wait).as_deref(),
        Ok("web-1\n")
    );

    // The dual-stack Nodus network: the fixed IPv6 address, the
    // allocated ones (the network's first free hosts, client-1 first by
    // key), pod to pod over both families and each pod to the Nodus
    // router's gateways.
    let net1_6 = |a: &str| a.parse::<Ipv6Addr>().unwrap();
    assert_eq!(v6_on("client-1", "net1"), net1_6("fd00:30:40::99"));
    assert_eq!(v6_on("web-1", "net1"), net1_6("fd00:30:40::2"));
    assert_eq!(
        v4_on("client-1", "net1"),
        "172.30.40.2".parse::<std::net::Ipv4Addr>().unwrap()
    );
    let got = ping6(&ns("client-1"), v6_on("web-1", "net1"), 3, wait);
    assert_eq!(got, 3, "client-1 → web-1 ping6 over net1\n{}", c.logs());
    assert_eq!(ping6(&ns("web-1"), v6_on("client-1", "net1"), 3, wait), 3);
    assert_eq!(ping(&ns("client-1"), v4_on("web-1", "net1"), 3, wait), 3);
    for pod in ["client-1", "web-1"] {
        assert_eq!(
            ping6(&ns(pod), net1_6("fd00:30:40::1"), 3, wait),
            3,
            "{pod} → the Nodus router's IPv6 gateway\n{}",
            c.logs()
        );
        assert_eq!(
            ping(&ns(pod), "172.30.40.1".parse().unwrap(), 3, wait),
            3,
            "{pod} → the Nodus router's IPv4 gateway"
        );
    }

    // CNI DEL, twice: idempotent.
    for _ in 0..2 {
        for (pns, pod) in PODS {
            let (ok, out) = cni(&c, "DEL", pns, pod);
            assert!(ok, "DEL {pns}/{pod}: {out}");
        }
    }
    assert_eq!(ping6(&ns("client-1"), v6("web-1"), 1, wait), 0);
}
