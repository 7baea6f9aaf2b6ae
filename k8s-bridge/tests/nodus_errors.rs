//! Bad Nodus/Multus input: a clear error naming the file, document, line,
//! object and field; nothing is translated (so nothing reaches the NB —
//! `ovnflow k8s apply` translates before it connects).

use ovnflow_k8s_bridge::{translate, Config, Objects};

const BASE: &str = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {zone: a}\n---\napiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: Network\nmetadata: {name: net-a}\nspec:\n  cniType: ovn4nfv\n  ipv4Subnets: [{name: s, subnet: 172.30.10.0/24, gateway: 172.30.10.1/24, excludeIps: 172.30.10.2..172.30.10.5}]\n";

/// Reads `text` as file `f.yaml` after a Node and Network `net-a`
/// (documents 1 and 2, lines 1-12) and translates it.
fn run(text: &str) -> String {
    let mut objs = Objects::default();
    let full = format!("{BASE}---\n{text}");
    match objs.add_text("f.yaml", &full) {
        Err(e) => e.to_string(),
        Ok(()) => match translate(&objs, &Config::default()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("no error for:\n{text}"),
        },
    }
}

fn network(name: &str, subnet: &str, gateway: &str) -> String {
    format!("apiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: Network\nmetadata: {{name: {name}}}\nspec:\n  cniType: ovn4nfv\n  ipv4Subnets: [{{name: s, subnet: {subnet}, gateway: {gateway}}}]\n")
}

fn pod(name: &str, ifaces: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  annotations:\n    k8s.plugin.opnfv.org/nfn-network: '{{\"type\":\"ovn4nfv\",\"interface\":[{ifaces}]}}'\nspec: {{nodeName: n1, containers: [{{name: c, image: i}}]}}\n")
}

const ANN: &str = "metadata.annotations[\"k8s.plugin.opnfv.org/nfn-network\"]";

#[test]
fn invalid_cidr() {
    let e = run(&network("net-b", "172.30.300.0/24", "172.30.300.1/24"));
    assert_eq!(
        e,
        "f.yaml: document 3 (line 14): Network net-b: spec.ipv4Subnets[0].subnet: invalid CIDR \"172.30.300.0/24\": invalid address: invalid IPv4 address syntax"
    );
}

#[test]
fn gateway_outside_its_subnet() {
    let e = run(&network("net-b", "172.30.20.0/24", "172.30.21.1/24"));
    assert!(e.ends_with("Network net-b: spec.ipv4Subnets[0].gateway: 172.30.21.1 is not a host address of 172.30.20.0/24"), "{e}");
}

#[test]
fn overlapping_networks() {
    let e = run(&network("net-b", "172.30.10.128/25", "172.30.10.129/25"));
    assert!(e.ends_with("Network net-b: spec.ipv4Subnets: 172.30.10.128/25 overlaps 172.30.10.0/24 of Network net-a"), "{e}");
}

#[test]
fn ip_outside_its_subnet() {
    let e = run(&pod(
        "a",
        r#"{"name":"net-a","interface":"net0","ipAddress":"172.30.99.5"}"#,
    ));
    assert_eq!(
        e,
        format!("f.yaml: document 3 (line 14): Pod default/a: {ANN}.interface[0]: 172.30.99.5 is outside the subnets of network net-a (172.30.10.0/24)")
    );
}

#[test]
fn fixed_ip_is_the_gateway() {
    let e = run(&pod(
        "a",
        r#"{"name":"net-a","interface":"net0","ipAddress":"172.30.10.1"}"#,
    ));
    assert!(
        e.ends_with("172.30.10.1 is the gateway of network net-a"),
        "{e}"
    );
}

#[test]
fn duplicate_fixed_ip() {
    let i = r#"{"name":"net-a","interface":"net0","ipAddress":"172.30.10.7"}"#;
    let e = run(&format!("{}---\n{}", pod("a", i), pod("b", i)));
    assert_eq!(
        e,
        format!("f.yaml: document 4 (line 22): Pod default/b: {ANN}.interface[0]: 172.30.10.7 is already assigned to pod default/a ({ANN}.interface[0])")
    );
}

#[test]
fn duplicate_fixed_mac() {
    let a = r#"{"name":"net-a","interface":"net0","macAddress":"02:00:00:00:00:01"}"#;
    let e = run(&format!("{}---\n{}", pod("a", a), pod("b", a)));
    assert!(e.contains("Pod default/b:") && e.ends_with("MAC 02:00:00:00:00:01 is already used by pod default/a (metadata.annotations[\"k8s.plugin.opnfv.org/nfn-network\"].interface[0]) on network net-a"), "{e}");
}

#[test]
fn unknown_network_in_an_annotation() {
    let e = run(&pod("a", r#"{"name":"net-x","interface":"net0"}"#));
    assert_eq!(
        e,
        format!("f.yaml: document 3 (line 14): Pod default/a: {ANN}.interface[0]: unknown network \"net-x\" (no Network or ProviderNetwork of that name)")
    );
}

#[test]
fn interface_twice_and_eth0() {
    let e = run(&pod(
        "a",
        r#"{"name":"net-a","interface":"net0"},{"name":"net-a","interface":"net0"}"#,
    ));
    assert!(
        e.ends_with(".interface[1]: interface net0 is defined twice"),
        "{e}"
    );
    let e = run(&pod("a", r#"{"name":"net-a","interface":"eth0"}"#));
    assert!(
        e.ends_with(".interface[0]: interface eth0 is defined twice"),
        "{e}"
    );
}

#[test]
fn unknown_nad_and_nad_with_unknown_network() {
    let p = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n    k8s.v1.cni.cncf.io/networks: missing\nspec: {nodeName: n1, containers: [{name: c, image: i}]}\n";
    let e = run(p);
    assert!(e.ends_with("Pod default/a: metadata.annotations[\"k8s.v1.cni.cncf.io/networks\"][0]: no NetworkAttachmentDefinition default/missing in the input"), "{e}");
    let nad = "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: x}\nspec:\n  config: '{\"type\":\"ovnflow\",\"network\":\"nope\"}'\n";
    let e = run(nad);
    assert_eq!(e, "f.yaml: document 3 (line 14): NetworkAttachmentDefinition default/x: spec.config: unknown network \"nope\" (no Network or ProviderNetwork of that name)");
}

#[test]
fn provider_network_not_on_the_pods_node() {
    let pn = "apiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: ProviderNetwork\nmetadata: {name: pn}\nspec:\n  cniType: ovn4nfv\n  ipv4Subnets: [{name: s, subnet: 172.40.0.0/24}]\n  providerNetType: VLAN\n  vlan: {vlanId: \"100\", providerInterfaceName: eth1, vlanNodeSelector: specific, nodeLabelList: [zone=b]}\n";
    let e = run(&format!(
        "{pn}---\n{}",
        pod("a", r#"{"name":"pn","interface":"net0"}"#)
    ));
    assert!(
        e.ends_with("provider network pn is not on node n1 (its node selector does not pick it)"),
        "{e}"
    );
    let bad_vlan = pn.replace("\"100\"", "\"5000\"");
    let e = run(&bad_vlan);
    assert!(
        e.ends_with(
            "ProviderNetwork pn: spec.vlan.vlanId: String(\"5000\"): not a VLAN id (1-4094)"
        ),
        "{e}"
    );
}

fn chain(spec_chain: &str) -> String {
    format!("{}---\n{}---\napiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: NetworkChaining\nmetadata: {{name: c1, namespace: apps}}\nspec:\n  chainType: Routing\n  routingSpec:\n    namespace: apps\n    networkChain: \"{spec_chain}\"\n    left: [{{networkName: net-a, subnet: 172.30.10.0/24}}]\n    right: [{{networkName: net-b, subnet: 172.30.20.0/24}}]\n",
        network("net-b", "172.30.20.0/24", "172.30.20.1/24"),
        network("net-m", "172.30.30.0/24", "172.30.30.1/24"))
}

#[test]
fn malformed_chain_specs() {
    let field = "NetworkChaining apps/c1: spec.routingSpec.networkChain";
    let e = run(&chain("net=net-a,net=net-b"));
    assert!(
        e.contains(field)
            && e.ends_with("networks and functions must alternate (element 2 is a network)"),
        "{e}"
    );
    let e = run(&chain("net=net-a,app=f1,,net=net-b"));
    assert!(e.contains(field) && e.ends_with("empty element"), "{e}");
    let e = run(&chain("net=net-a,app=f1,net=net-x"));
    assert!(
        e.contains(field) && e.ends_with("unknown network \"net-x\""),
        "{e}"
    );
    let e = run(&chain("net=net-a,app=f1,net=net-a"));
    assert!(
        e.contains(field) && e.ends_with("network net-a appears twice"),
        "{e}"
    );
    let e = run(&chain("net=net-a,=x,net=net-b"));
    assert!(
        e.contains(field) && e.ends_with("\"=x\": expected net=NAME or LABEL=VALUE"),
        "{e}"
    );
    let e = run(&chain("net=net-a").replace("Routing", "Mirroring"));
    assert!(
        e.ends_with(
            "NetworkChaining apps/c1: spec.chainType: \"Mirroring\": only \"Routing\" is supported"
        ),
        "{e}"
    );
    let e = run(&chain("app=f1").replace("subnet: 172.30.20.0/24}", "subnet: 172.30.20.0/33}"));
    assert!(
        e.contains("spec.routingSpec.right[0].subnet: invalid CIDR"),
        "{e}"
    );
}

#[test]
fn a_chain_starting_with_a_function_takes_the_ends_networks() {
    let mut objs = Objects::default();
    objs.add_text(
        "f.yaml",
        &format!("{BASE}---\n{}", chain("app=f1,net=net-m,app=f2")),
    )
    .unwrap();
    let nb = translate(&objs, &Config::default()).unwrap();
    // No function pods: not in effect, both functions reported.
    assert_eq!(nb.status.len(), 1);
    assert!(
        nb.status[0].contains("function app=f1 (between net-a and net-m) has no ready pod"),
        "{}",
        nb.status[0]
    );
    assert!(
        nb.status[0].contains("function app=f2 (between net-m and net-b) has no ready pod"),
        "{}",
        nb.status[0]
    );
}

/// A Network with IPv6 subnets (and optionally IPv4 ones), after `BASE`.
fn network6(name: &str, v4: &str, v6: &str, routes: &str) -> String {
    format!("apiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: Network\nmetadata: {{name: {name}}}\nspec:\n  cniType: ovn4nfv\n  ipv4Subnets: [{v4}]\n  ipv6Subnets: [{v6}]\n  routes: [{routes}]\n")
}

#[test]
fn ipv6_subnet_errors() {
    let e = run(&network6(
        "n6",
        "",
        "{name: s, subnet: \"fd00:1::1/64\"}",
        "",
    ));
    assert!(
        e.ends_with("Network n6: spec.ipv6Subnets[0].subnet: fd00:1::1/64: host bits set (the network is fd00:1::)"),
        "{e}"
    );
    let e = run(&network6(
        "n6",
        "",
        "{name: s, subnet: \"fd00:1::/64\", gateway: \"fd00:2::1/64\"}",
        "",
    ));
    assert!(
        e.ends_with("Network n6: spec.ipv6Subnets[0].gateway: fd00:2::1 is not a host address of fd00:1::/64"),
        "{e}"
    );
    let e = run(&network6(
        "n6",
        "",
        "{name: s, subnet: \"fd00:1::/64\", gateway: \"fd00:1::1/80\"}",
        "",
    ));
    assert!(
        e.ends_with(
            "spec.ipv6Subnets[0].gateway: fd00:1::1/80: the prefix differs from the subnet's /64"
        ),
        "{e}"
    );
    let e = run(&network6(
        "n6",
        "",
        "{name: s, subnet: \"fd00:1::/64\", excludeIps: \"fd00:1::9..fd00:1::2\"}",
        "",
    ));
    assert!(
        e.ends_with("spec.ipv6Subnets[0].excludeIps: fd00:1::9..fd00:1::2: not an address or ascending range inside fd00:1::/64"),
        "{e}"
    );
    let e = run(&network6(
        "n6",
        "",
        "{name: s, subnet: \"fd00:1::/64\"}, {name: t, subnet: \"fd00:1::/48\"}",
        "",
    ));
    assert!(
        e.ends_with("spec.ipv6Subnets[1].subnet: fd00:1::/48 overlaps fd00:1::/64"),
        "{e}"
    );
    let e = run(&format!(
        "{}---\n{}",
        network6("n6", "", "{name: s, subnet: \"fd00:1::/64\"}", ""),
        network6("n7", "", "{name: s, subnet: \"fd00:1:0:0:8000::/65\"}", "")
    ));
    assert!(
        e.ends_with(
            "Network n7: spec.ipv6Subnets: fd00:1:0:0:8000::/65 overlaps fd00:1::/64 of Network n6"
        ),
        "{e}"
    );
    let e = run(
        "apiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: Network\nmetadata: {name: none}\nspec:\n  cniType: ovn4nfv\n",
    );
    assert!(
        e.ends_with("Network none: spec.ipv4Subnets: at least one subnet (ipv4Subnets or ipv6Subnets) is required"),
        "{e}"
    );
}

#[test]
fn ipv6_route_errors() {
    // An IPv6 destination without gw needs an IPv6 gateway.
    let e = run(&network6(
        "n6",
        "{name: s, subnet: 172.31.0.0/24, gateway: 172.31.0.1/24}",
        "{name: s, subnet: \"fd00:1::/64\"}",
        "{dst: \"fd00:9::/64\"}",
    ));
    assert!(
        e.ends_with("Network n6: spec.routes[0].gw: no gw and the network has no IPv6 gateway"),
        "{e}"
    );
    let e = run(&network6(
        "n6",
        "{name: s, subnet: 172.31.0.0/24, gateway: 172.31.0.1/24}",
        "{name: s, subnet: \"fd00:1::/64\"}",
        "{dst: \"fd00:9::/64\", gw: 172.31.0.1}",
    ));
    assert!(
        e.ends_with("spec.routes[0].gw: 172.31.0.1 and fd00:9::/64 are of different families"),
        "{e}"
    );
    let e = run(&network6(
        "n6",
        "",
        "{name: s, subnet: \"fd00:1::/64\"}",
        "{dst: \"fd00:9::/64\", gw: \"fd00:2::1\"}",
    ));
    assert!(
        e.ends_with("spec.routes[0].gw: fd00:2::1 is not on the network"),
        "{e}"
    );
}

#[test]
fn ipv6_pod_address_errors() {
    let net = network6(
        "n6",
        "{name: s, subnet: 172.31.0.0/24, gateway: 172.31.0.1/24}",
        "{name: s, subnet: \"fd00:1::/64\", gateway: \"fd00:1::1/64\"}",
        "",
    );
    // Two addresses of one family.
    let e = run(&format!(
        "{net}---\n{}",
        pod(
            "a",
            r#"{"name":"n6","interface":"net0","ipAddress":"fd00:1::5,fd00:1::6"}"#
        )
    ));
    assert!(
        e.ends_with(&format!(
            "Pod default/a: {ANN}.interface[0].ipAddress: fd00:1::5 and fd00:1::6: at most one address per IP family"
        )),
        "{e}"
    );
    // The IPv6 gateway, an IPv6 address on an IPv4-only network, a
    // duplicate, the subnet-router anycast address.
    let e = run(&format!(
        "{net}---\n{}",
        pod(
            "a",
            r#"{"name":"n6","interface":"net0","ipAddress":"fd00:1::1"}"#
        )
    ));
    assert!(e.ends_with("fd00:1::1 is the gateway of network n6"), "{e}");
    let e = run(&pod(
        "a",
        r#"{"name":"net-a","interface":"net0","ipAddress":"fd00:1::7"}"#,
    ));
    assert!(
        e.ends_with("fd00:1::7 is outside the subnets of network net-a (172.30.10.0/24)"),
        "{e}"
    );
    let i = r#"{"name":"n6","interface":"net0","ipAddress":"172.31.0.9,fd00:1::7"}"#;
    let e = run(&format!("{net}---\n{}---\n{}", pod("a", i), pod("b", i)));
    assert!(
        e.ends_with(&format!(
            "172.31.0.9 is already assigned to pod default/a ({ANN}.interface[0])"
        )),
        "{e}"
    );
    let e = run(&format!(
        "{net}---\n{}",
        pod(
            "a",
            r#"{"name":"n6","interface":"net0","ipAddress":"fd00:1::"}"#
        )
    ));
    assert!(
        e.ends_with("fd00:1:: is not a host address of fd00:1::/64"),
        "{e}"
    );
}

#[test]
fn ipv6_network_addresses_and_routes() {
    // An IPv6 /126: ::1 the gateway, ::2 excluded, ::3 the only address
    // left; a second pod finds it full.
    let net = network6(
        "n6",
        "",
        "{name: s, subnet: \"fd00:1::/126\", gateway: \"fd00:1::1/126\", excludeIps: \"fd00:1::2\"}",
        "{dst: \"fd00:9::/64\"}",
    );
    let mut objs = Objects::default();
    objs.add_text(
        "f.yaml",
        &format!(
            "{BASE}---\n{net}---\n{}",
            pod(
                "a",
                r#"{"name":"n6","interface":"net0","defaultGateway":"true"}"#
            )
        ),
    )
    .unwrap();
    let nb = translate(&objs, &Config::default()).unwrap();
    let port = nb
        .table("Logical_Switch_Port")
        .find(|r| {
            r.id.owner() == "Pod/default/a" && format!("{:?}", r.cols["name"]).contains("net0")
        })
        .expect("the net0 port");
    let text = format!("{:?}", port.cols);
    assert!(text.contains("fd00:1::3"), "{text}");
    assert!(text.contains("fd00:1::3/126"), "{text}");
    assert!(text.contains("fd00:9::/64 via fd00:1::1"), "{text}");
    let rp = nb
        .table("Logical_Router_Port")
        .find(|r| format!("{:?}", r.cols["name"]).contains("nodus-rtos-n6"))
        .expect("the router port");
    let text = format!("{:?}", rp.cols);
    assert!(text.contains("fd00:1::1/126"), "{text}");
    let e = run(&format!(
        "{net}---\n{}---\n{}",
        pod("a", r#"{"name":"n6","interface":"net0"}"#),
        pod("b", r#"{"name":"n6","interface":"net0"}"#)
    ));
    assert!(e.ends_with("network n6 is full"), "{e}");
}
