//! `deploy/`: the generated CRDs are current (`UPDATE_DEPLOY=1` rewrites
//! them), every document is a Kubernetes object, and the controller's
//! ClusterRole grants what run mode does: list/watch of every watched
//! kind, patch of pods, nodes and Nodus status, events, Leases.

use std::path::PathBuf;

use ovnflow_k8s_bridge::run::resources::Kind;
use serde_json::Value;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn docs() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            if !v.is_null() {
                out.push((f.display().to_string(), v));
            }
        }
    }
    out
}

#[test]
fn crds_are_current() {
    let path = deploy_dir().join("10-crds.yaml");
    let want = ovnflow_k8s_bridge::deploy::crds_yaml();
    if std::env::var_os("UPDATE_DEPLOY").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: UPDATE_DEPLOY=1 cargo test -p ovnflow-k8s-bridge --test deploy",
        path.display()
    );
}

#[test]
fn crd_schemas_are_structural_and_cover_the_corpus_fields() {
    for c in ovnflow_k8s_bridge::deploy::crds() {
        let v = serde_json::to_value(&c).unwrap();
        let spec = &v["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["type"], "object", "{}", c.spec.names.kind);
        // Structural: no $ref or definitions left.
        let text = spec.to_string();
        assert!(
            !text.contains("$ref") && !text.contains("definitions"),
            "{text}"
        );
    }
    // Every spec field used in the Nodus corpus is in its CRD's schema.
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/nodus");
    let crds: Vec<Value> = ovnflow_k8s_bridge::deploy::crds()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    fn check(schema: &Value, v: &Value, at: &str) {
        match v {
            Value::Object(m) => {
                if schema["x-kubernetes-preserve-unknown-fields"] == true {
                    return;
                }
                if schema["x-kubernetes-int-or-string"] == true {
                    return;
                }
                for (k, x) in m {
                    let sub = if schema["additionalProperties"].is_object() {
                        &schema["additionalProperties"]
                    } else {
                        &schema["properties"][k]
                    };
                    assert!(!sub.is_null(), "{at}.{k} not in the schema: {schema}");
                    check(sub, x, &format!("{at}.{k}"));
                }
            }
            Value::Array(a) => a.iter().for_each(|x| check(&schema["items"], x, at)),
            _ => {}
        }
    }
    let mut seen = 0;
    for e in std::fs::read_dir(corpus).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc).unwrap();
            let Some(crd) = crds
                .iter()
                .find(|c| c["spec"]["names"]["kind"] == v["kind"])
            else {
                continue;
            };
            let schema =
                &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
            check(schema, &v["spec"], "spec");
            seen += 1;
        }
    }
    assert!(seen >= 3, "only {seen} Nodus objects checked");
}

#[test]
fn every_document_is_an_object_and_rbac_covers_run_mode() {
    let docs = docs();
    for (f, d) in &docs {
        assert!(
            d["apiVersion"].is_string() && d["kind"].is_string(),
            "{f}: {d}"
        );
        assert!(d["metadata"]["name"].is_string(), "{f}: {d}");
    }
    let role = docs
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == "ovnflow-controller")
        .expect("controller ClusterRole");
    let allows = |group: &str, resource: &str, verb: &str| {
        role["rules"].as_array().unwrap().iter().any(|r| {
            let has = |k: &str, x: &str| r[k].as_array().unwrap().iter().any(|v| v == x);
            has("apiGroups", group) && has("resources", resource) && has("verbs", verb)
        })
    };
    for k in Kind::ALL {
        let (group, plural) = match k {
            Kind::Namespace => ("", "namespaces"),
            Kind::Node => ("", "nodes"),
            Kind::Pod => ("", "pods"),
            Kind::Service => ("", "services"),
            Kind::EndpointSlice => ("discovery.k8s.io", "endpointslices"),
            Kind::NetworkPolicy => ("networking.k8s.io", "networkpolicies"),
            Kind::Network => ("k8s.plugin.opnfv.org", "networks"),
            Kind::ProviderNetwork => ("k8s.plugin.opnfv.org", "providernetworks"),
            Kind::NetworkChaining => ("k8s.plugin.opnfv.org", "networkchainings"),
            Kind::NetworkAttachmentDefinition => {
                ("k8s.cni.cncf.io", "network-attachment-definitions")
            }
        };
        for verb in ["list", "watch"] {
            assert!(allows(group, plural, verb), "{verb} {plural}");
        }
        if matches!(
            k,
            Kind::Network | Kind::ProviderNetwork | Kind::NetworkChaining
        ) {
            assert!(
                allows(group, &format!("{plural}/status"), "patch"),
                "{plural}/status"
            );
        }
    }
    assert!(allows("", "pods", "patch") && allows("", "nodes", "patch"));
    assert!(allows("events.k8s.io", "events", "create"));
    let lease_role = docs
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == "ovnflow-leader-election")
        .expect("Lease Role");
    for verb in ["get", "create", "update"] {
        assert!(lease_role["rules"][0]["verbs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == verb));
    }
    // The Deployment runs `k8s run` in the Lease's namespace.
    let dep = docs
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == "Deployment")
        .expect("Deployment");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["command"],
        serde_json::json!(["/usr/bin/ovnflow", "k8s", "run"])
    );
    assert_eq!(
        dep["metadata"]["namespace"],
        lease_role["metadata"]["namespace"]
    );
    assert!(docs.iter().any(|(_, d)| d["kind"] == "DaemonSet"));
}
