//! Benchmark of `k8s run` (not a timed test): 5,000 pods on 100 nodes,
//! 1,000 services (with EndpointSlices) and 500 network policies, read
//! from manifests, served by the test API server, written to a real NB
//! ovsdb-server. Prints the time to a complete NB and its transactions,
//! the latency of single pod adds (watch event received → NB commit
//! answered), memory, and the NB writes ovn-kubernetes would make for the
//! same objects.
//!
//! `cargo run --release -p ovnflow-k8s-bridge --example k8s_bench [PODS NODES SERVICES POLICIES]`

#[path = "../tests/common/apiserver.rs"]
mod apiserver;

use std::time::{Duration, Instant};

use ovnflow_golden::oracle::Oracle;
use ovnflow_k8s_bridge::run::{self, SharedStats};
use ovnflow_k8s_bridge::{translate, Config, Objects};
use serde_json::{json, Value};

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

struct Sizes {
    pods: usize,
    nodes: usize,
    services: usize,
    policies: usize,
    namespaces: usize,
}

fn objects(s: &Sizes) -> Vec<Value> {
    let mut out = Vec::new();
    for n in 0..s.namespaces {
        out.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": format!("ns{n}"), "labels": {"team": format!("t{}", n % 5)}}}));
    }
    for n in 0..s.nodes {
        out.push(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("node{n:03}")},
            "status": {"addresses": [{"type": "InternalIP", "address": format!("172.18.{}.{}", n / 200, n % 200 + 10)}]}}));
    }
    for p in 0..s.pods {
        let ns = p % s.namespaces;
        out.push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("pod{p}"), "namespace": format!("ns{ns}"),
                         "uid": format!("00000000-0000-4000-9000-{p:012}"),
                         "labels": {"app": format!("app{}", p % (s.services.max(1))), "tier": format!("tier{}", p % 3)}},
            "spec": {"nodeName": format!("node{:03}", p % s.nodes),
                     "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}));
    }
    // The pods of service i: app{i}; ip addresses are assigned by the
    // controller, so EndpointSlices name them by targetRef only after the
    // first sync. Here endpoints carry no addresses the bridge must match:
    // services are load balancers with their ClusterIP and an empty backend
    // set until their slices come.
    for i in 0..s.services {
        let ns = i % s.namespaces;
        out.push(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("svc{i}"), "namespace": format!("ns{ns}")},
            "spec": {"type": "ClusterIP", "clusterIP": format!("10.96.{}.{}", i / 250, i % 250 + 1),
                     "selector": {"app": format!("app{i}")},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}));
    }
    for i in 0..s.policies {
        let ns = i % s.namespaces;
        out.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": format!("np{i}"), "namespace": format!("ns{ns}")},
            "spec": {"podSelector": {"matchLabels": {"tier": format!("tier{}", i % 3)}},
                     "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": format!("t{}", i % 5)}}},
                                           {"podSelector": {"matchLabels": {"app": format!("app{}", i % 7)}}}],
                                  "ports": [{"protocol": "TCP", "port": 8080}]}]}}));
    }
    out
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let s = Sizes {
        pods: *args.first().unwrap_or(&5000),
        nodes: *args.get(1).unwrap_or(&100),
        services: *args.get(2).unwrap_or(&1000),
        policies: *args.get(3).unwrap_or(&500),
        namespaces: 50,
    };
    let rss0 = rss_kib("VmRSS:");
    let objs = objects(&s);
    // From manifests: the objects as one YAML stream, read as `apply -f` reads it.
    let yaml: String = objs
        .iter()
        .map(|o| format!("---\n{}", serde_yaml_ng::to_string(o).unwrap()))
        .collect();
    let t = Instant::now();
    let mut manifests = Objects::default();
    manifests.add_text("bench.yaml", &yaml).unwrap();
    let parse = t.elapsed();
    let t = Instant::now();
    let desired = translate(&manifests, &Config::default()).unwrap();
    let translate_time = t.elapsed();
    let mut per_table: std::collections::BTreeMap<&str, usize> = Default::default();
    for id in desired.rows.keys() {
        *per_table.entry(id.table).or_default() += 1;
    }
    drop(manifests);
    println!(
        "objects: {} pods, {} nodes, {} services, {} network policies, {} namespaces ({} KiB of YAML)",
        s.pods, s.nodes, s.services, s.policies, s.namespaces, yaml.len() / 1024
    );
    println!(
        "manifests parsed in {parse:?}; one full translation {translate_time:?}; {} NB rows",
        desired.rows.len()
    );
    for (t, n) in &per_table {
        println!("  {t:<28} {n}");
    }

    let o = Oracle::start().expect("ovsdb-server (OVN binaries on PATH)");
    let nb = format!("unix:{}", o.dir().join("nb.sock").display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let api = apiserver::ApiServer::start(&apiserver::all_collections()).await;
        for obj in objs {
            api.put(obj);
        }
        let rss_api = rss_kib("VmRSS:");
        let stats = SharedStats::default();
        let opts = run::Options {
            nb: nb.clone(),
            cfg: Config::default(),
            lease: None,
            resync: Duration::from_secs(3600),
            identity: "bench".into(),
            write_back: true,
        };
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let t0 = Instant::now();
        let task = tokio::spawn(run::run(api.client(), opts, stats.clone(), async {
            let _ = rx.await;
        }));
        loop {
            let st = stats.lock().unwrap().clone();
            if let Some(at) = st.synced_at {
                println!(
                    "k8s run: NB complete {:?} after start ({} transaction(s), {} operations; translate {:?}, plan+commit {:?})",
                    at - t0, st.transactions, st.operations, st.translate_time, st.commit_time
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Let the annotation write-back settle (5,000 pod patches + echoes).
        let t = Instant::now();
        loop {
            let st = stats.lock().unwrap().clone();
            if st.writes as usize >= s.pods + s.nodes || t.elapsed() > Duration::from_secs(120) {
                println!("write-back: {} annotations in {:?}", st.writes, t.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Single changes, one at a time: each waits for its commit.
        async fn one(
            api: &apiserver::ApiServer,
            stats: &SharedStats,
            change: impl FnOnce(&apiserver::ApiServer),
        ) -> (Duration, u64, run::Phases) {
            let before = stats.lock().unwrap().clone();
            change(api);
            let t = Instant::now();
            while stats.lock().unwrap().latencies.len() == before.latencies.len() {
                if t.elapsed() > Duration::from_secs(30) {
                    panic!("no commit in 30 s");
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            let st = stats.lock().unwrap().clone();
            // Let the annotation echo and northd's `up` settle.
            tokio::time::sleep(Duration::from_millis(30)).await;
            (
                st.latencies[before.latencies.len()],
                st.operations - before.operations,
                st.phases[before.phases.len()],
            )
        }
        fn report(what: &str, mut v: Vec<(Duration, u64, run::Phases)>) {
            v.sort_by_key(|x| x.0);
            let ops: Vec<u64> = v.iter().map(|x| x.1).collect();
            let median = |f: fn(&run::Phases) -> Duration| {
                let mut d: Vec<Duration> = v.iter().map(|x| f(&x.2)).collect();
                d.sort();
                d[d.len() / 2]
            };
            println!(
                "{what:<16} watch event → NB commit: median {:?}, p90 {:?}, max {:?} ({} samples; {}-{} NB operations each, 1 transaction)",
                v[v.len() / 2].0,
                v[v.len() * 9 / 10].0,
                v[v.len() - 1].0,
                v.len(),
                ops.iter().min().unwrap(),
                ops.iter().max().unwrap(),
            );
            println!(
                "{:<16} medians: queued {:?}, translate {:?}, plan {:?}, transaction {:?}",
                "",
                median(|p| p.queued),
                median(|p| p.translate),
                median(|p| p.plan),
                median(|p| p.transact),
            );
        }
        let pod = |i: usize| json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("extra{i}"), "namespace": "ns0", "labels": {"app": "app0", "tier": "tier0"}},
            "spec": {"nodeName": "node000", "containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": "Running"}});
        let n = 50;
        let mut v = Vec::new();
        for i in 0..n {
            v.push(one(&api, &stats, |a| a.put(pod(i))).await);
        }
        report("pod add", v);
        let mut v = Vec::new();
        for i in 0..n {
            v.push(one(&api, &stats, |a| a.delete(&pod(i))).await);
        }
        report("pod delete", v);
        let mut v = Vec::new();
        for i in 0..n {
            let svc = json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("extra-svc{i}"), "namespace": "ns1"},
                "spec": {"type": "ClusterIP", "clusterIP": format!("10.96.200.{}", i + 1),
                         "selector": {"app": "app1"},
                         "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}});
            v.push(one(&api, &stats, |a| a.put(svc)).await);
        }
        report("service add", v);
        let mut v = Vec::new();
        for i in 0..n {
            let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": format!("extra-np{i}"), "namespace": "ns2"},
                "spec": {"podSelector": {"matchLabels": {"tier": format!("tier{}", i % 3)}},
                         "policyTypes": ["Ingress"],
                         "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": format!("app{}", i % 7)}}}],
                                      "ports": [{"protocol": "TCP", "port": 80 + i}]}]}});
            v.push(one(&api, &stats, |a| a.put(np)).await);
        }
        report("policy add", v);
        println!(
            "memory: process RSS {} MiB, peak {} MiB; of it the test API server with all objects {} MiB before the controller started, so the controller peaks near {} MiB",
            rss_kib("VmRSS:") / 1024,
            rss_kib("VmHWM:") / 1024,
            (rss_api.saturating_sub(rss0)) / 1024,
            rss_kib("VmHWM:").saturating_sub(rss_api) / 1024
        );
        let _ = stop.send(());
        let _ = task.await;
    });
    // ovn-kubernetes' writes for the same objects (fact sheet
    // /work/shared/reference/ovn-kubernetes-nb.md): the same rows, but one
    // transaction per object event: per node addNode → cluster-router
    // port → management port → gateway (4), per pod addLogicalPort (1, the
    // address set in the same transaction), per namespace its address set
    // (1), per service EnsureLBs (1), per network policy its port group
    // and ACLs (1) plus each namespace's first policy's default-deny
    // groups (1), and the cluster start-up (about 5).
    let polns = s.namespaces.min(s.policies);
    let ovnk = 5 + 4 * s.nodes + s.pods + s.namespaces + s.services + s.policies + polns;
    println!(
        "ovn-kubernetes for the same objects: the same {} rows (this layout is ovn-kubernetes'), in about {ovnk} transactions (one per object event, estimated from its code paths)",
        desired.rows.len()
    );
    println!(
        "ovn-kubernetes per event (same rows, one transaction each): pod add = LSP insert + switch ports mutate + \
namespace address set mutate + a port group / address set mutate per policy selecting it (the Service \
backends follow in a later transaction, after the EndpointSlice controller updates the slice); \
pod delete = the same as deletes; service add = LB insert(s) + load balancer group mutate; policy add = \
port group insert with its ACLs + address set insert(s) (+ default-deny groups for a namespace's first policy)"
    );
}
