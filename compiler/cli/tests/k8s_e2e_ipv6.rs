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
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use chassis::{ping, tcp_get, Chassis};

const NODE: &str = "n1";
const MANIFESTS: &str = include_str!("k8s_e2e_ipv6.yaml");
const PODS: &[(&str, &str)] = &[("shop", "web-1"), ("shop", "client-1")];
const CLUSTER_SUBNETS: &str = "10.128.0.0/14/23,fd00:10:128::/48/64";
const SERVICE_CIDRS: &str = "10.96.0.0/16,fd00:10:96::/112";

/// Runs the plugin for a pod's `eth0`; returns (success, stdout).
fn cni(c: &Chassis, cmd: &str, ns: &str, pod: &str) -> (bool, String) {
    chassis::cni(c, env!("CARGO_BIN_EXE_ovnflow"), cmd, (ns, pod), "eth0")
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

#[test]
fn dual_stack_manifests_to_real_ipv6_packets() {
    if !chassis::runnable("IPv6 end-to-end", &[]) {
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
    let got = chassis::ping6(&ns("client-1"), v6("web-1"), 5, wait);
    assert_eq!(got, 5, "client-1 → web-1 ping6\n{}", c.logs());
    assert_eq!(chassis::ping6(&ns("web-1"), v6("client-1"), 3, wait), 3);
    assert_eq!(ping(&ns("client-1"), v4("web-1"), 3, wait), 3);

    // TCP to the IPv6 ClusterIP and the dual-stack Service's IPv6 VIP
    // (OVN's load balancer), and directly.
    chassis::tcp_server_at(&ns("web-1"), Ipv6Addr::UNSPECIFIED.into(), 8080, "web-1\n");
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
    let got = chassis::ping6(&ns("client-1"), v6_on("web-1", "net1"), 3, wait);
    assert_eq!(got, 3, "client-1 → web-1 ping6 over net1\n{}", c.logs());
    assert_eq!(
        chassis::ping6(&ns("web-1"), v6_on("client-1", "net1"), 3, wait),
        3
    );
    assert_eq!(ping(&ns("client-1"), v4_on("web-1", "net1"), 3, wait), 3);
    for pod in ["client-1", "web-1"] {
        assert_eq!(
            chassis::ping6(&ns(pod), net1_6("fd00:30:40::1"), 3, wait),
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
    assert_eq!(chassis::ping6(&ns("client-1"), v6("web-1"), 1, wait), 0);
}
