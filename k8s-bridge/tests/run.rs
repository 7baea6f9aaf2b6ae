//! `k8s run` against the test API server (tests/common/apiserver.rs: list,
//! watch with bookmarks, 410 Gone, disconnects) and a real NB
//! ovsdb-server with real ovn-northd 23.03 checking what it is given.
//!
//! One scenario, in order: initial sync of the manifest corpus in one
//! transaction (and a second candidate that does not hold the Lease writes
//! nothing), write-back of pod/node annotations, a pod added by a watch
//! event, a bookmark (no transaction), a dropped watch (resumed), changes
//! made while the watch was down plus 410 Gone (relist), an object that
//! cannot be honoured (Warning event, NB untouched, retried when its node
//! appears), a Nodus network's status, a restart on the populated NB (no
//! transaction), and finally northd: a Port_Binding per pod port, no
//! WARN/ERR.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::apiserver::{self, ApiServer};
use ovnflow_golden::oracle::{self, Oracle};
use ovnflow_k8s_bridge::model::OWNER_KEY;
use ovnflow_k8s_bridge::run::{self, lease::LeaseOptions, SharedStats};
use ovnflow_k8s_bridge::{reconcile, translate, Config, Objects};
use ovsdb::Database;
use serde_json::{json, Value};

/// The corpus as API objects (List documents expanded, namespace defaulted).
fn corpus_objects() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/manifests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc).unwrap();
            if v.is_null() {
                continue;
            }
            let items = if v["kind"] == "List" {
                v["items"].as_array().unwrap().clone()
            } else {
                vec![v]
            };
            for mut o in items {
                let cluster_scoped = matches!(o["kind"].as_str(), Some("Namespace" | "Node"));
                if !cluster_scoped && o["metadata"]["namespace"].is_null() {
                    o["metadata"]["namespace"] = json!("default");
                }
                out.push(o);
            }
        }
    }
    out
}

async fn read_nb(remote: &str) -> Database {
    let remotes = ovsdb::remote::Remote::parse_list(remote).unwrap();
    let mut s = ovsdb::client::ReplicaSession::connect(
        remotes,
        "OVN_Northbound",
        &[],
        false,
        Default::default(),
    )
    .await
    .unwrap();
    s.next().await.unwrap();
    s.replica().database().clone()
}

fn lsp_names(db: &Database) -> BTreeSet<String> {
    db.table("Logical_Switch_Port")
        .map(|rows| {
            rows.values()
                .filter(|r| {
                    r.get("external_ids")
                        .and_then(|d| d.get_str(OWNER_KEY))
                        .is_some_and(|k| k.starts_with("Pod/"))
                })
                .filter_map(|r| r.get("name").and_then(|d| d.as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn lsp_address(db: &Database, name: &str) -> Option<String> {
    db.table("Logical_Switch_Port")?
        .values()
        .find(|r| r.get("name").and_then(|d| d.as_str()) == Some(name))?
        .get("addresses")?
        .atoms()
        .first()?
        .as_str()
        .map(str::to_string)
}

async fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_nb(nb: &str, what: &str, f: impl Fn(&Database) -> bool) -> Database {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let db = read_nb(nb).await;
        if f(&db) {
            return db;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn stats(s: &SharedStats) -> run::Stats {
    s.lock().unwrap().clone()
}

fn options(nb: &str, identity: &str) -> run::Options {
    let mut lease = LeaseOptions::new("ovn-kubernetes", "ovnflow-master", identity);
    lease.renew = Duration::from_millis(500);
    run::Options {
        nb: nb.to_string(),
        cfg: Config::default(),
        lease: Some(lease),
        resync: Duration::from_secs(3600),
        identity: identity.to_string(),
        write_back: true,
    }
}

struct Running {
    stats: SharedStats,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<ovnflow_k8s_bridge::Result<()>>,
}

fn start(api: &ApiServer, opts: run::Options) -> Running {
    let stats = SharedStats::default();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run::run(api.client(), opts, stats.clone(), async {
        let _ = rx.await;
    }));
    Running { stats, stop, task }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

fn pod(ns: &str, name: &str, node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "labels": {"app": "web"}},
           "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
           "status": {"phase": "Running"}})
}

fn northd_problems(o: &Oracle) -> Vec<String> {
    let log = std::fs::read_to_string(o.dir().join("northd.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("|ERR|") || l.contains("|WARN|") || l.contains("|EMER|"))
        .map(str::to_string)
        .collect()
}

#[test]
fn run_mode_against_api_server_and_real_northd() {
    match oracle::available() {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("skipped: OVN binaries (ovsdb-server, ovn-northd, ovn-nbctl) not on PATH and CI unset");
            return;
        }
        Err(e) => panic!("{e}"),
    }
    let mut o = Oracle::start().unwrap();
    o.start_northd().unwrap();
    o.sync().unwrap();
    let nb = format!("unix:{}", o.dir().join("nb.sock").display());
    let sb = format!("unix:{}", o.dir().join("sb.sock").display());
    // The nodes' chassis, as their ovn-controllers would register them.
    for (chassis, host, ip) in [
        ("6a3b9d3e-1a8f-4c52-9d0e-3f6e2a1b7c01", "n1", "127.0.0.11"),
        ("n2", "n2", "127.0.0.12"),
        ("n3", "n3", "127.0.0.13"),
    ] {
        let out = std::process::Command::new("ovn-sbctl")
            .env("OVS_RUNDIR", o.dir())
            .env("OVN_RUNDIR", o.dir())
            .arg(format!("--db={sb}"))
            .args([
                "chassis-add",
                chassis,
                "geneve",
                ip,
                "--",
                "set",
                "chassis",
                chassis,
            ])
            .arg(format!("hostname={host}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(scenario(&o, &nb));
    o.sync().unwrap();
    let sb = read_sb(&o);
    let nbdb = rt.block_on(read_nb(&nb));
    for p in lsp_names(&nbdb) {
        assert!(sb.contains(&p), "no Port_Binding for {p}");
    }
    let problems = northd_problems(&o);
    assert!(
        problems.is_empty(),
        "northd complained:\n{}",
        problems.join("\n")
    );
}

fn read_sb(o: &Oracle) -> BTreeSet<String> {
    let dump = o.dump_sb().unwrap();
    let mut out = BTreeSet::new();
    // `ovsdb-client dump -f json`: one JSON table per line.
    for line in dump.lines().filter(|l| !l.trim().is_empty()) {
        let t: Value = serde_json::from_str(line).unwrap();
        if t["caption"] == "Port_Binding table" {
            let cols = t["headings"].as_array().unwrap();
            let i = cols.iter().position(|c| c == "logical_port").unwrap();
            for r in t["data"].as_array().unwrap() {
                out.insert(r[i].as_str().unwrap().to_string());
            }
        }
    }
    out
}

async fn scenario(_o: &Oracle, nb: &str) {
    let api = ApiServer::start(&apiserver::all_collections()).await;
    let objs = corpus_objects();
    for obj in &objs {
        api.put(obj.clone());
    }

    // The expected NB: the same objects as manifests, through `apply`.
    let mut manifests = Objects::default();
    for (i, obj) in objs.iter().enumerate() {
        manifests
            .add_text(&format!("obj{i}.json"), &obj.to_string())
            .unwrap();
    }
    let desired = translate(&manifests, &Config::default()).unwrap();

    // Initial sync: one transaction; a second candidate waits for the Lease.
    let a = start(&api, options(nb, "ovnflow-a"));
    wait_for("initial sync", 30, || stats(&a.stats).synced_at.is_some()).await;
    let b = start(&api, options(nb, "ovnflow-b"));
    let s = stats(&a.stats);
    assert_eq!(s.transactions, 1, "{s:?}");
    assert!(s.rejected.is_empty(), "{:?}", s.rejected);
    let db = read_nb(nb).await;
    let mut expected = reconcile::empty_nb();
    let plan = reconcile::plan(&desired, &expected);
    reconcile::apply_in_memory(&mut expected, &plan).unwrap();
    let keys = |db: &Database| -> BTreeSet<String> {
        db.tables()
            .values()
            .flat_map(|rows| rows.values())
            .filter_map(|r| {
                r.get("external_ids")?
                    .get_str(OWNER_KEY)
                    .map(str::to_string)
            })
            .collect()
    };
    assert_eq!(keys(&db), keys(&expected), "run and apply disagree");
    let lease = api
        .get(
            "apis/coordination.k8s.io/v1/leases",
            "ovn-kubernetes",
            "ovnflow-master",
        )
        .expect("Lease created");
    assert_eq!(lease["spec"]["holderIdentity"], "ovnflow-a");

    // Write-back: every wired pod is annotated with its NB address, every
    // node without a subnet annotation gets one.
    wait_for("pod annotations", 10, || {
        api.list("api/v1/pods").iter().all(|p| {
            p["metadata"]["annotations"]["k8s.ovn.org/pod-networks"].is_string()
                || p["spec"]["nodeName"].is_null()
                || p["spec"]["hostNetwork"] == true
                || p["status"]["phase"] == "Succeeded"
                || p["status"]["phase"] == "Failed"
        })
    })
    .await;
    for p in api.list("api/v1/pods") {
        let Some(ann) = p["metadata"]["annotations"]["k8s.ovn.org/pod-networks"].as_str() else {
            continue;
        };
        let v: Value = serde_json::from_str(ann).unwrap();
        let port = format!(
            "{}_{}",
            p["metadata"]["namespace"].as_str().unwrap(),
            p["metadata"]["name"].as_str().unwrap()
        );
        let addr = lsp_address(&db, &port).unwrap_or_else(|| panic!("no LSP {port}"));
        let (mac, ip) = addr.split_once(' ').unwrap();
        assert_eq!(v["default"]["mac_address"], mac, "{port}");
        let ann_ip = v["default"]["ip_addresses"][0].as_str().unwrap();
        assert_eq!(ann_ip.split('/').next().unwrap(), ip, "{port}");
        // (db-0 comes with its own annotation, without gateway_ips.)
        if let Some(gw) = v["default"]["gateway_ips"][0].as_str() {
            assert!(gw.ends_with(".1"), "{port}: {gw}");
        }
    }
    wait_for("node subnets", 10, || {
        api.list("api/v1/nodes")
            .iter()
            .all(|n| n["metadata"]["annotations"]["k8s.ovn.org/node-subnets"].is_string())
    })
    .await;
    // The annotations come back through the watch and change nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stats(&a.stats).transactions,
        1,
        "annotations echoed into the NB"
    );
    assert!(
        stats(&b.stats).synced_at.is_none(),
        "the second candidate wrote"
    );

    // A pod added: one transaction, address from the node subnet.
    let before = stats(&a.stats).transactions;
    api.put(pod("shop", "web-9", "n1"));
    wait_nb(nb, "shop_web-9", |db| lsp_names(db).contains("shop_web-9")).await;
    // The NB can show the row before the controller has counted the
    // transaction's reply: wait for the count, then check nothing more came.
    wait_for("the pod's transaction counted", 10, || {
        stats(&a.stats).transactions > before
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = stats(&a.stats);
    assert_eq!(s.transactions, before + 1);
    assert!(!s.latencies.is_empty());

    // Someone else edits an owned row (the pod's addresses) and deletes
    // another (a namespace address set): the monitor reports it and the
    // controller puts both back without any Kubernetes change.
    let right = lsp_address(&read_nb(nb).await, "shop_web-9").unwrap();
    let conn = ovsdb::client::Connection::connect(
        &ovsdb::remote::Remote::parse_list(nb).unwrap()[0],
        &Default::default(),
    )
    .await
    .unwrap()
    .0;
    conn.transact_checked(
        "OVN_Northbound",
        vec![
            json!({"op": "update", "table": "Logical_Switch_Port",
                   "where": [["name", "==", "shop_web-9"]],
                   "row": {"addresses": "00:00:00:00:00:01 10.1.1.1"}}),
            json!({"op": "delete", "table": "Address_Set",
                   "where": [["external_ids", "includes", ["map", [[OWNER_KEY, "Namespace/shop#address-set"]]]]]}),
        ],
    )
    .await
    .unwrap();
    let has_shop_set = |db: &Database| {
        db.table("Address_Set").is_some_and(|t| {
            t.values().any(|r| {
                r.get("external_ids").and_then(|d| d.get_str(OWNER_KEY))
                    == Some("Namespace/shop#address-set")
            })
        })
    };
    wait_nb(nb, "external edits reverted", |db| {
        lsp_address(db, "shop_web-9").as_deref() == Some(right.as_str()) && has_shop_set(db)
    })
    .await;
    let before = stats(&a.stats).transactions;

    // A bookmark changes nothing.
    api.bookmark();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stats(&a.stats).transactions, before);

    // A dropped watch resumes from its resourceVersion.
    api.disconnect_watches();
    tokio::time::sleep(Duration::from_millis(100)).await;
    api.put(pod("shop", "web-10", "n2"));
    wait_nb(nb, "shop_web-10 after a disconnect", |db| {
        lsp_names(db).contains("shop_web-10")
    })
    .await;

    // Changes while the watch was down, history compacted: 410 → relist.
    let gone = pod("shop", "web-9", "n1");
    api.change_unseen(|op| {
        op(None, Some(gone.clone()));
        op(Some(pod("shop", "web-11", "n2")), None);
    });
    api.expire_watches();
    let db = wait_nb(nb, "relist after 410", |db| {
        let n = lsp_names(db);
        !n.contains("shop_web-9") && n.contains("shop_web-11")
    })
    .await;
    assert!(lsp_names(&db).contains("shop_web-10"));
    let relists = api
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.target.starts_with("/api/v1/pods?")
                && !r.target.contains("watch=true")
        })
        .count();
    assert!(relists >= 2, "pods listed {relists} times");

    // An object that cannot be honoured: a pod on an unknown node. The NB
    // is untouched, a Warning event names it; the node's arrival fixes it.
    let t0 = stats(&a.stats).transactions;
    api.put(pod("shop", "lost-1", "n3"));
    wait_for("event on lost-1", 10, || {
        api.list("apis/events.k8s.io/v1/events")
            .iter()
            .any(|e| e["regarding"]["name"] == "lost-1" && e["type"] == "Warning")
    })
    .await;
    let ev = api
        .list("apis/events.k8s.io/v1/events")
        .into_iter()
        .find(|e| e["regarding"]["name"] == "lost-1")
        .unwrap();
    assert!(
        ev["note"].as_str().unwrap().contains("spec.nodeName"),
        "{ev}"
    );
    assert!(stats(&a.stats).rejected.contains_key("Pod/shop/lost-1"));
    assert_eq!(
        stats(&a.stats).transactions,
        t0,
        "a rejected pod changed the NB"
    );
    api.put(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n3", "labels": {"kubernetes.io/hostname": "n3"}},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.13"}]}}));
    wait_nb(nb, "lost-1 after its node", |db| {
        lsp_names(db).contains("shop_lost-1")
    })
    .await;
    wait_for("rejection cleared", 5, || {
        stats(&a.stats).rejected.is_empty()
    })
    .await;

    // A Nodus network: in the NB and its status says Created.
    api.put(json!({"apiVersion": "k8s.plugin.opnfv.org/v1alpha1", "kind": "Network",
        "metadata": {"name": "blue", "namespace": "default"},
        "spec": {"cniType": "ovn4nfv", "ipv4Subnets": [{"name": "s", "subnet": "172.30.40.0/24", "gateway": "172.30.40.1/24"}]}}));
    wait_for("Network status", 10, || {
        api.get(
            "apis/k8s.plugin.opnfv.org/v1alpha1/networks",
            "default",
            "blue",
        )
        .is_some_and(|n| n["status"]["state"] == "Created")
    })
    .await;
    let db = read_nb(nb).await;
    assert!(db
        .table("Logical_Switch")
        .unwrap()
        .values()
        .any(|r| r.get("name").and_then(|d| d.as_str()) == Some("blue")));
    assert!(api
        .requests()
        .iter()
        .any(|r| r.method == "PATCH" && r.target.contains("/networks/blue/status")));
    assert_eq!(stats(&a.stats).write_errors, 0);

    // Restart on the populated NB: nothing to change, no transaction.
    b.stop().await;
    a.stop().await;
    // The old holder's Lease must expire before a new identity takes it;
    // the same identity renews at once.
    let a2 = start(&api, options(nb, "ovnflow-a"));
    wait_for("resync after restart", 30, || {
        stats(&a2.stats).synced_at.is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = stats(&a2.stats);
    assert_eq!(s.transactions, 0, "a restart changed the NB: {s:?}");
    a2.stop().await;
}
