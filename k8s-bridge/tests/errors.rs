//! Bad input gives a clear error naming the file, document and line, the
//! object and the field — and nothing is translated.

use ovnflow_k8s_bridge::{translate, Config, Objects};

const NODE: &str = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n";

/// Reads `text` as file `f.yaml` (after a Node document) and translates it.
fn run(text: &str) -> String {
    let mut objs = Objects::default();
    let full = format!("{NODE}---\n{text}");
    match objs.add_text("f.yaml", &full) {
        Err(e) => e.to_string(),
        Ok(()) => match translate(&objs, &Config::default()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("no error for:\n{text}"),
        },
    }
}

fn pod(name: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  annotations:\n    k8s.ovn.org/pod-networks: '{{\"default\":{{\"ip_addresses\":[\"{ip}/23\"]}}}}'\nspec:\n  nodeName: n1\n  containers: [{{name: c, image: i}}]\n"
    )
}

#[test]
fn invalid_cidr_in_ip_block() {
    let e = run("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/33}\n");
    assert_eq!(
        e,
        "f.yaml: document 2 (line 6): NetworkPolicy default/p: spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR \"10.0.0.0/33\": invalid address: 10.0.0.0/33"
    );
}

#[test]
fn except_outside_its_cidr() {
    let e = run("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}\n");
    assert!(
        e.contains(
            "spec.ingress[0].from[0].ipBlock.except[0]: 10.1.0.0/24 is not inside 10.0.0.0/16"
        ),
        "{e}"
    );
}

#[test]
fn ip_outside_its_subnet() {
    let e = run(&pod("a", "10.200.0.5"));
    assert_eq!(
        e,
        "f.yaml: document 2 (line 6): Pod default/a: metadata.annotations[\"k8s.ovn.org/pod-networks\"]: node n1: 10.200.0.5 is outside 10.128.0.0/23"
    );
}

#[test]
fn duplicate_fixed_ip() {
    let e = run(&format!(
        "{}---\n{}",
        pod("a", "10.128.0.7"),
        pod("b", "10.128.0.7")
    ));
    assert_eq!(
        e,
        "f.yaml: document 3 (line 16): Pod default/b: metadata.annotations[\"k8s.ovn.org/pod-networks\"]: node n1: 10.128.0.7 is already in use"
    );
}

#[test]
fn duplicate_cluster_ip() {
    let svc = |n: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {n}}}\nspec:\n  clusterIP: 10.96.0.9\n  ports: [{{port: 80}}]\n")
    };
    let e = run(&format!("{}---\n{}", svc("a"), svc("b")));
    assert!(e.starts_with("f.yaml: document 3 (line 13): Service default/b: spec.clusterIP: 10.96.0.9 is already in use"), "{e}");
}

#[test]
fn unknown_field() {
    let e = run("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  nodeName: n1\n  colour: blue\n  containers: [{name: c, image: i}]\n");
    assert_eq!(
        e,
        "f.yaml: document 2 (line 11): unknown field \"spec.colour\""
    );
}

#[test]
fn unknown_kind() {
    let e = run("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n");
    assert!(
        e.starts_with(
            "f.yaml: document 2 (line 6): unsupported kind Deployment (apiVersion apps/v1)"
        ),
        "{e}"
    );
}

#[test]
fn malformed_yaml_names_the_line() {
    let e = run("apiVersion: v1\nkind: Pod\nmetadata: {name: a\nspec: {}\n");
    assert!(e.starts_with("f.yaml: document 2 (line "), "{e}");
    // The document starts on line 6; the flow mapping breaks on its line 4.
    assert!(e.contains("(line 9)") || e.contains("(line 8)"), "{e}");
}

#[test]
fn wrong_type_names_the_line() {
    let e = run("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  nodeName: [x]\n  containers: []\n");
    assert!(e.starts_with("f.yaml: document 2 (line 10)"), "{e}");
}

#[test]
fn pod_on_an_unknown_node() {
    let e = run("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  nodeName: n9\n  containers: [{name: c, image: i}]\n");
    assert_eq!(
        e,
        "f.yaml: document 2 (line 6): Pod default/a: spec.nodeName: no Node \"n9\" in the input"
    );
}

#[test]
fn bad_flags() {
    let e = Config::parse("10.128.0.0/14/23", "10.96.0.0/33")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("--service-cidrs: \"10.96.0.0/33\": invalid CIDR"),
        "{e}"
    );
}

/// Like [`run`], on a dual-stack cluster.
fn run_dual(text: &str) -> String {
    let mut objs = Objects::default();
    objs.add_text("f.yaml", &format!("{NODE}---\n{text}"))
        .unwrap();
    let cfg = Config::parse(
        "10.128.0.0/14/23,fd00:10:128::/48/64",
        "10.96.0.0/16,fd00:10:96::/112",
    )
    .unwrap();
    match translate(&objs, &cfg) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("no error for:\n{text}"),
    }
}

#[test]
fn ipv6_address_outside_its_node_subnet() {
    let e = run_dual("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n    k8s.ovn.org/pod-networks: '{\"default\":{\"ip_addresses\":[\"10.128.0.5/23\",\"fd00:99::5/64\"]}}'\nspec:\n  nodeName: n1\n  containers: [{name: c, image: i}]\n");
    assert_eq!(
        e,
        "f.yaml: document 2 (line 6): Pod default/a: metadata.annotations[\"k8s.ovn.org/pod-networks\"]: node n1: fd00:99::5 is outside fd00:10:128::/64"
    );
}

#[test]
fn dual_stack_service_on_a_single_stack_cluster() {
    let e = run("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ipFamilyPolicy: RequireDualStack\n  ports: [{port: 80}]\n");
    assert!(
        e.starts_with("f.yaml: document 2 (line 6): Service default/s: spec.ipFamilyPolicy: RequireDualStack on a single-stack cluster"),
        "{e}"
    );
    let e = run("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ipFamilies: [IPv6]\n  ports: [{port: 80}]\n");
    assert!(
        e.contains("spec.ipFamilies[0]: IPv6: the service CIDRs have no IPv6 range"),
        "{e}"
    );
}

#[test]
fn ipv6_cluster_ip_outside_the_service_cidrs() {
    let e = run_dual("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ipFamilyPolicy: PreferDualStack\n  clusterIPs: [10.96.0.5, \"fd00:99::5\"]\n  ports: [{port: 80}]\n");
    assert!(
        e.contains("Service default/s: spec.clusterIPs[1]: fd00:99::5 is outside the service CIDRs (10.96.0.0/16, fd00:10:96::/112)"),
        "{e}"
    );
}
