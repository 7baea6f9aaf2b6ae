//! The k8s glue of the `ovnflow` binary without packets: bad manifests
//! leave a live NB untouched, `ovnflow node` wires provider networks into
//! a real Open_vSwitch database, and the CNI plugin's VERSION and error
//! answers follow the CNI spec.

use std::io::Write;
use std::process::{Command, Stdio};

use ovnflow_golden::oracle::{self, Oracle};

fn ovnflow(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ovnflow"))
        .args(args)
        .output()
        .unwrap()
}

fn live() -> bool {
    match oracle::available() {
        Ok(true) => true,
        Ok(false) => {
            eprintln!("skipped: OVN binaries not on PATH and CI unset");
            false
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn bad_manifests_leave_the_nb_untouched() {
    if !live() {
        return;
    }
    let o = Oracle::start().unwrap();
    o.nbctl("ls-add keep").unwrap();
    let before = o.dump_nb().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(
        &f,
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\napiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: Network\nmetadata: {name: a}\nspec:\n  cniType: ovn4nfv\n  ipv4Subnets: [{name: s, subnet: 10.1.0.0/24, gateway: 10.1.0.1/24}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    k8s.plugin.opnfv.org/nfn-network: '{\"type\":\"ovn4nfv\",\"interface\":[{\"name\":\"a\",\"interface\":\"net0\",\"ipAddress\":\"10.2.0.5\"}]}'\nspec: {nodeName: n1, containers: [{name: c, image: i}]}\n",
    )
    .unwrap();
    let nb = format!("unix:{}", o.dir().join("nb.sock").display());
    let out = ovnflow(&["k8s", "apply", "--ovnnb-db", &nb, "-f", f.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("document 3 (line 12): Pod default/p: metadata.annotations[\"k8s.plugin.opnfv.org/nfn-network\"].interface[0]: 10.2.0.5 is outside the subnets of network a (10.1.0.0/24)"),
        "{err}"
    );
    assert_eq!(
        o.dump_nb().unwrap(),
        before,
        "a failed apply changed the NB"
    );
}

#[test]
fn node_wires_the_provider_networks_it_is_selected_for() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(Command::new("ovsdb-tool")
        .args([
            "create",
            &p("conf.db"),
            "/usr/share/openvswitch/vswitch.ovsschema",
        ])
        .output()
        .unwrap());
    let mut server = Command::new("ovsdb-server")
        .args([
            "--no-chdir".to_string(),
            format!("--remote=punix:{}", p("db.sock")),
            format!("--unixctl={}", p("db.ctl")),
            format!("--pidfile={}", p("db.pid")),
            format!("--log-file={}", p("db.log")),
            p("conf.db"),
        ])
        .env("OVS_RUNDIR", dir.path())
        .env("OVS_LOGDIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut server);
    let db = format!("unix:{}", p("db.sock"));
    let vsctl = |args: &[&str]| {
        let mut all = vec![
            format!("--db={db}"),
            "--no-wait".into(),
            "--timeout=10".into(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        Command::new("ovs-vsctl").args(all).output().unwrap()
    };
    let mut ready = false;
    for _ in 0..100 {
        if vsctl(&["init"]).status.success() {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(ready, "ovsdb-server does not answer");
    ok(vsctl(&[
        "set",
        "Open_vSwitch",
        ".",
        "external_ids:ovn-bridge-mappings=physnet:breth0",
    ]));
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../k8s-bridge/tests/nodus");
    let run_node = |node: &str| {
        ok(ovnflow(&[
            "node",
            "-f",
            corpus,
            "--node",
            node,
            "--ovs-db",
            &db,
            "--no-wait",
        ]))
    };
    // n1 has nodus/provider=yes: the VLAN network (eth1) and the DIRECT one (eth2).
    run_node("n1");
    run_node("n1"); // idempotent
    let bridges = ok(vsctl(&["list-br"]));
    assert_eq!(bridges.trim(), "br-eth1\nbr-eth2");
    assert_eq!(ok(vsctl(&["list-ports", "br-eth1"])).trim(), "eth1");
    assert_eq!(ok(vsctl(&["list-ports", "br-eth2"])).trim(), "eth2");
    let mappings = ok(vsctl(&[
        "get",
        "Open_vSwitch",
        ".",
        "external_ids:ovn-bridge-mappings",
    ]));
    assert_eq!(
        mappings.trim(),
        "\"physnet:breth0,pnet-direct:br-eth2,pnet-vlan:br-eth1\""
    );
    // n2 is picked by the DIRECT network only ("all"), not the VLAN one ("specific").
    let plan = ovnflow_k8s_bridge_plan(corpus, "n2");
    assert_eq!(
        plan,
        vec![(
            "br-eth2".to_string(),
            "eth2".to_string(),
            vec!["pnet-direct".to_string()]
        )]
    );
}

/// The bridges `ovnflow node` would create on a node, from the library.
fn ovnflow_k8s_bridge_plan(corpus: &str, node: &str) -> Vec<(String, String, Vec<String>)> {
    let objs = ovnflow_k8s_bridge::Objects::read_paths(&[corpus.into()], false).unwrap();
    ovnflow_k8s_bridge::node::plan(&objs, node)
        .unwrap()
        .into_iter()
        .map(|b| (b.name, b.nic, b.networks))
        .collect()
}

fn cni(command: &str, stdin: &str, env: &[(&str, &str)]) -> (bool, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ovnflow"))
        .env("CNI_COMMAND", command)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), v)
}

#[test]
fn cni_version_and_errors() {
    let (ok, v) = cni("VERSION", r#"{"cniVersion":"1.0.0"}"#, &[]);
    assert!(ok);
    assert_eq!(v["cniVersion"], "1.0.0");
    assert_eq!(
        v["supportedVersions"],
        serde_json::json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0"])
    );
    // Undecodable configuration: code 6.
    let (ok, v) = cni(
        "ADD",
        "{",
        &[("CNI_CONTAINERID", "x"), ("CNI_IFNAME", "eth0")],
    );
    assert!(!ok);
    assert_eq!(v["code"], 6);
    // Unsupported version: code 1.
    let (ok, v) = cni("ADD", r#"{"cniVersion":"9.9.9","type":"ovnflow"}"#, &[]);
    assert!(!ok);
    assert_eq!(v["code"], 1);
    // Missing pod identity: code 4, naming the variable.
    let (ok, v) = cni(
        "ADD",
        r#"{"cniVersion":"1.0.0","type":"ovnflow","ovnnb_db":"unix:/nonexistent"}"#,
        &[
            ("CNI_CONTAINERID", "x"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_NETNS", "/proc/self/ns/net"),
        ],
    );
    assert!(!ok);
    assert_eq!(v["code"], 4);
    assert_eq!(v["details"], "CNI_ARGS K8S_POD_NAMESPACE");
    // `ovnflow cni` is the same plugin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ovnflow"))
        .arg("cni")
        .env_remove("CNI_COMMAND")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    let out = child.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], 6, "{v}");
}

#[test]
fn an_incomplete_chain_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("chain.yaml");
    let net = |n: &str, third: u8| {
        format!("apiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: Network\nmetadata: {{name: {n}}}\nspec:\n  cniType: ovn4nfv\n  ipv4Subnets: [{{name: s, subnet: 10.9.{third}.0/24, gateway: 10.9.{third}.1/24}}]\n---\n")
    };
    std::fs::write(
        &f,
        format!(
            "{}{}apiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: NetworkChaining\nmetadata: {{name: c}}\nspec:\n  chainType: Routing\n  routingSpec:\n    namespace: default\n    networkChain: net=a,app=fw,net=b\n    left: [{{networkName: a, subnet: 10.9.1.0/24}}]\n    right: [{{networkName: b, subnet: 10.9.2.0/24}}]\n",
            net("a", 1),
            net("b", 2)
        ),
    )
    .unwrap();
    let out = ovnflow(&["k8s", "render", "-f", f.to_str().unwrap()]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("k8s render: NetworkChaining default/c: not in effect, traffic between its ends is dropped: function app=fw has no pod in namespace default"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#""action":"drop""#), "{text}");
}

#[test]
fn cni_add_for_a_pod_the_nb_does_not_know_asks_to_retry() {
    if !live() {
        return;
    }
    let o = Oracle::start().unwrap();
    let conf = serde_json::json!({
        "cniVersion": "1.0.0", "name": "ovnflow", "type": "ovnflow",
        "ovs_db": format!("unix:{}", o.dir().join("nonexistent.sock").display()),
        "ovnnb_db": format!("unix:{}", o.dir().join("nb.sock").display()),
    });
    let (ok, v) = cni(
        "ADD",
        &conf.to_string(),
        &[
            ("CNI_CONTAINERID", "c1"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_NETNS", "/proc/self/ns/net"),
            ("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1"),
        ],
    );
    assert!(!ok);
    assert_eq!(v["code"], 11, "{v}");
    assert_eq!(
        v["details"],
        "no logical switch port for pod shop/web-1 (apply its manifests first)"
    );
}
