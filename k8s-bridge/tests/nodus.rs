//! The Nodus/Multus corpus (`tests/nodus/`: 2 nodes, four routed virtual
//! networks, an L2-only one, a VLAN and a DIRECT provider network (the
//! latter dual-stack), a routed dual-stack network and an IPv6-only L2
//! one, two NADs, pods with fixed and allocated addresses of both
//! families, a 3-function chain)
//! rendered as the NB transaction, and the same corpus with a function
//! missing.

use std::path::PathBuf;

use ovnflow_k8s_bridge::{reconcile, translate, Config, Objects};

fn corpus() -> Objects {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/nodus");
    Objects::read_paths(&[dir], false).unwrap()
}

#[test]
fn render_of_the_nodus_corpus() {
    let nb = translate(&corpus(), &Config::default()).unwrap();
    assert_eq!(nb.status, Vec::<String>::new());
    let plan = reconcile::plan(&nb, &reconcile::empty_nb());
    let mut db = reconcile::empty_nb();
    reconcile::apply_in_memory(&mut db, &plan).unwrap();
    insta::assert_snapshot!(plan.render());
}

#[test]
fn a_missing_function_drops_instead_of_routing_around() {
    let mut objs = corpus();
    objs.pods.remove("apps/fw2");
    let nb = translate(&objs, &Config::default()).unwrap();
    assert_eq!(nb.status.len(), 1, "{:?}", nb.status);
    assert!(
        nb.status[0].contains("NetworkChaining apps/chain1: not in effect")
            && nb.status[0].contains("function app=fw2"),
        "{}",
        nb.status[0]
    );
    let policies: Vec<String> = nb
        .table("Logical_Router_Policy")
        .filter(|r| r.id.owner().starts_with("NetworkChaining/"))
        .map(|r| format!("{:?} {:?}", r.cols["action"], r.cols["match"]))
        .collect();
    assert_eq!(policies.len(), 2, "{policies:?}");
    assert!(policies.iter().all(|p| p.contains("drop")), "{policies:?}");
}

/// Real ovn-northd 23.03 compiles the corpus: a Port_Binding for every
/// Nodus interface, the chain's reroute policies in `lr_in_policy`, the
/// localnet VLAN tag in the SB, and nothing in its log above INFO.
#[test]
fn real_northd_compiles_the_nodus_corpus() {
    use ovnflow_golden::oracle::{self, Oracle};
    match oracle::available() {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("skipped: OVN binaries not on PATH and CI unset");
            return;
        }
        Err(e) => panic!("{e}"),
    }
    let mut o = Oracle::start().unwrap();
    o.start_northd().unwrap();
    let nb = format!("unix:{}", o.dir().join("nb.sock").display());
    for (chassis, ip) in [("n1", "127.0.0.11"), ("n2", "127.0.0.12")] {
        let out = std::process::Command::new("ovn-sbctl")
            .env("OVS_RUNDIR", o.dir())
            .env("OVN_RUNDIR", o.dir())
            .arg(format!("--db=unix:{}", o.dir().join("sb.sock").display()))
            .args(["chassis-add", chassis, "geneve", ip])
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let desired = translate(&corpus(), &Config::default()).unwrap();
    let plan = reconcile::apply_live(&nb, |db| reconcile::plan(&desired, db)).unwrap();
    assert_eq!(plan.inserts, desired.rows.len());
    o.sync().unwrap();
    let sb = o.dump_sb().unwrap();
    for p in [
        "apps_client_net0",
        "apps_fw1_net0",
        "apps_fw1_net1",
        "apps_fw2_net0",
        "apps_fw3_net1",
        "apps_server_net0",
        "apps_vlan-user_vlan0",
        "apps_multus-json_side",
        "nodus-localnet-pnet-vlan",
        "nodus-rtos-left-net",
        "apps_ds-web_net0",
        "apps_ds-web_net1",
        "apps_ds-fixed_net0",
        "nodus-rtos-ds-net",
    ] {
        assert!(sb.contains(&format!("\"{p}\"")), "no Port_Binding for {p}");
    }
    let lflows = o.lflow_list().unwrap();
    // Compared without blanks: lflow-list pads the priority.
    let policy = |m: &str| {
        let m: String = m.split_whitespace().collect();
        lflows.lines().any(|l| {
            let l: String = l.split_whitespace().collect();
            l.contains("lr_in_policy") && l.contains(&m)
        })
    };
    assert!(
        policy("priority=1500, match=(ip4.src == 172.30.10.0/24 && ip4.dst == 172.30.20.0/24), action=(reg0 = 172.30.10.2;"),
        "{}",
        lflows.lines().filter(|l| l.contains("lr_in_policy")).collect::<Vec<_>>().join("\n")
    );
    assert!(policy(
        "priority=1600, match=(inport == \"nodus-rtos-dync-net1\" && ip4.src == 172.30.10.0/24 && ip4.dst == 172.30.20.0/24), action=(reg0 = 172.30.11.3;"
    ));
    // IPv6: northd answers neighbor solicitations for the pods' IPv6
    // addresses (allocated past the excluded range, fixed, IPv6-only) and
    // the router's IPv6 gateway, and routes the IPv6 subnet.
    for target in [
        "nd.target == fd00:30:40::a",
        "nd.target == fd00:30:40::5",
        "nd.target == fd00:30:50::10",
        "nd.target == fd00:40:20::1",
        "nd.target == fd00:30:40::1",
    ] {
        assert!(
            lflows.contains(target),
            "no flow with {target}\n{}",
            lflows
                .lines()
                .filter(|l| l.contains("nd.target"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(
        lflows
            .lines()
            .any(|l| l.contains("lr_in_ip_routing") && l.contains("ip6.dst == fd00:30:40::/64")),
        "no IPv6 route for ds-net"
    );
    let log = std::fs::read_to_string(o.dir().join("northd.log")).unwrap();
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("|WARN|") || l.contains("|ERR|"))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    // The VLAN of the localnet port reaches the SB (northd copies tag_request).
    let nbctl = o
        .nbctl("get Logical_Switch_Port nodus-localnet-pnet-vlan tag")
        .unwrap();
    assert_eq!(nbctl.trim(), "100");

    // Deleting the corpus removes every owned row, the Nodus router too.
    let ids = corpus().identities();
    reconcile::apply_live(&nb, |db| reconcile::plan_delete(&ids, db)).unwrap();
    o.sync().unwrap();
    let dump = o.dump_nb().unwrap();
    assert!(!dump.contains("k8s.ovnflow/key"), "{dump}");
    assert!(!dump.contains("ovn4nfv-master"), "{dump}");
}

#[test]
fn a_function_that_is_not_ready_is_reported() {
    let mut objs = corpus();
    let fw3 = objs.pods.get_mut("apps/fw3").unwrap();
    fw3.obj.status = Some(k8s_openapi::api::core::v1::PodStatus {
        conditions: Some(vec![k8s_openapi::api::core::v1::PodCondition {
            type_: "Ready".into(),
            status: "False".into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let nb = translate(&objs, &Config::default()).unwrap();
    assert_eq!(nb.status.len(), 1, "{:?}", nb.status);
    assert!(
        nb.status[0].contains("function pod apps/fw3 (app=fw3) is not ready")
            && nb.status[0]
                .contains("function app=fw3 (between dync-net2 and right-net) has no ready pod"),
        "{}",
        nb.status[0]
    );
}

/// What the CNI plugin reads back for the dual-stack and IPv6-only
/// interfaces: both addresses with their prefixes, one gateway per
/// family, the routes of both families, and `eth0` keeping the cluster
/// and service CIDRs when a Nodus interface takes the default route.
#[test]
fn the_cni_plugin_reads_dual_stack_nodus_interfaces() {
    use ovnflow_k8s_bridge::cni::plan::pod_interfaces;
    let nb = translate(&corpus(), &Config::default()).unwrap();
    let plan = reconcile::plan(&nb, &reconcile::empty_nb());
    let mut db = reconcile::empty_nb();
    reconcile::apply_in_memory(&mut db, &plan).unwrap();
    let ifaces = pod_interfaces(&db, "apps", "ds-web", "eth0").unwrap();
    let names: Vec<&str> = ifaces.iter().map(|i| i.ifname.as_str()).collect();
    assert_eq!(names, ["eth0", "net0", "net1"]);
    let show = |i: usize| {
        let f = &ifaces[i];
        (
            f.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            f.gateways.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
            f.default_route,
            f.routes
                .iter()
                .map(|(d, g)| format!("{d} via {g}"))
                .collect::<Vec<_>>(),
        )
    };
    // The allocated addresses skip the IPv4 gateway and the excluded
    // IPv6 range ::2..::9 (ds-fixed holds ::5 and .20).
    assert_eq!(
        show(1),
        (
            vec!["172.30.40.2/24".to_string(), "fd00:30:40::a/64".to_string()],
            vec!["172.30.40.1".to_string(), "fd00:30:40::1".to_string()],
            true,
            vec![
                "fd00:99::/64 via fd00:30:40::1".to_string(),
                "192.168.70.0/24 via 172.30.40.1".to_string()
            ],
        )
    );
    assert_eq!(
        show(2),
        (
            vec!["fd00:30:50::10/120".to_string()],
            vec![],
            false,
            vec![]
        )
    );
    let (_, _, default_route, routes) = show(0);
    assert!(!default_route);
    assert!(
        routes.iter().any(|r| r.starts_with("10.128.0.0/14 via ")),
        "{routes:?}"
    );
    let fixed = pod_interfaces(&db, "apps", "ds-fixed", "eth0").unwrap();
    assert_eq!(
        fixed[1]
            .addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        ["172.30.40.20/24", "fd00:30:40::5/64"]
    );
    // The MAC of an IPv6-only interface comes from its address.
    assert_eq!(
        ifaces[2].mac,
        ovnflow_k8s_bridge::names::mac_from_addr("fd00:30:50::10".parse().unwrap())
    );
}
