//! The NB the manifest corpus (`tests/manifests/`: 2 nodes, pods in 2
//! namespaces, a NodePort and a ClusterIP service, 2 network policies with
//! ipBlock/except, endPort and named ports) translates to, as `render`
//! prints it.
//!
//! The snapshot was reviewed by hand against the ovn-kubernetes fact sheet
//! (`shared/reference/ovn-kubernetes-nb.md`): row names (`GR_<node>`,
//! `rtos-`/`stor-`/`k8s-<node>`, `<ns>_<pod>`, `Service_<ns>/<name>_TCP_…`),
//! external_ids and `k8s.ovn.org/id` layouts, the HashForOVN names of port
//! groups and address sets, ACL priorities/actions/matches
//! (`ip4.src == {$a…} && tcp && tcp.dst==5432 && outport == @a…`,
//! `ip4.dst == 192.168.0.0/16 && ip4.dst != {…}`, `32000<=tcp.dst<=32768`),
//! LB options, node subnets `10.128.0.0/23`/`10.128.2.0/23`, pod IPs from
//! `.3` with `0a:58:` MACs and the pinned `10.128.0.10`. The hash values
//! themselves are checked against ovn-kubernetes' own vectors in
//! `names::tests`. Whether real ovn-northd accepts the result is checked
//! by `tests/live.rs`.

use std::path::PathBuf;

use ovnflow_k8s_bridge::{reconcile, translate, Config, Objects};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/manifests")
}

#[test]
fn render_of_the_manifest_corpus() {
    let objs = Objects::read_paths(&[corpus()], false).unwrap();
    let nb = translate(&objs, &Config::default()).unwrap();
    let plan = reconcile::plan(&nb, &reconcile::empty_nb());
    insta::assert_snapshot!(plan.render());
}

#[test]
fn render_is_deterministic_and_a_valid_transaction() {
    let objs = Objects::read_paths(&[corpus()], false).unwrap();
    let a = reconcile::plan(
        &translate(&objs, &Config::default()).unwrap(),
        &reconcile::empty_nb(),
    );
    let b = reconcile::plan(
        &translate(&objs, &Config::default()).unwrap(),
        &reconcile::empty_nb(),
    );
    assert_eq!(a, b);
    // The ovsdb crate's executor accepts it (referential integrity, types, indexes).
    let mut db = reconcile::empty_nb();
    reconcile::apply_in_memory(&mut db, &a).unwrap();
    // And then nothing is left to do.
    let again = reconcile::plan(&translate(&objs, &Config::default()).unwrap(), &db);
    assert!(again.is_empty(), "{:#?}", again.ops);
}

/// The dual-stack corpus (`tests/manifests-dual/`) with ovn-kubernetes'
/// dual-stack flags. Reviewed by hand against ovn-kubernetes' layout
/// (fact sheet §2–§5 and its source at the fact sheet's commit): node
/// switches with `subnet` and `ipv6_prefix` (base address), `rtos-`
/// networks with both gateways and the MAC of the IPv4 one, management
/// ports `"MAC v4 v6"` with one NetpolNode ACL per address
/// (`ip6.src==…::2`), `rtoj-` with `100.64.0.1/16` and `fd98::1/64`, per
/// family GR routes (`fd69::/125` via `fd69::4`, `::/0` via the IPv6 next
/// hop) and SNATs, the 1004 policies with `ip6.dst`, pods `"MAC v4 v6"`
/// with the MAC from the IPv4 address, namespace and pod-selector
/// address sets `…:v4`/`…:v6`, ACLs `(ip4.src == {$…} || ip6.src ==
/// {$…})` and `(ip4 || ip6)`, hairpin `(ip4.src == 169.254.169.5 ||
/// ip6.src == fd69::5)`, and load balancers with `[fd00:10:96::20]:5432`
/// VIPs balancing to IPv6 backends. `tests/live.rs` checks that real
/// ovn-northd accepts it.
#[test]
fn render_of_the_dual_stack_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/manifests-dual");
    let objs = Objects::read_paths(&[dir], false).unwrap();
    let nb = translate(&objs, &dual_stack()).unwrap();
    let plan = reconcile::plan(&nb, &reconcile::empty_nb());
    let mut db = reconcile::empty_nb();
    reconcile::apply_in_memory(&mut db, &plan).unwrap();
    insta::assert_snapshot!(plan.render());
}

/// ovn-kubernetes' dual-stack flags.
fn dual_stack() -> Config {
    Config::parse(
        "10.128.0.0/14/23,fd00:10:128::/48/64",
        "10.96.0.0/16,fd00:10:96::/112",
    )
    .unwrap()
}

/// IPv6 single-stack (`IPv6Mode` only): every address, match and MAC is
/// IPv6-derived — pod MACs from the SHA-256 of the IPv6 address (as
/// `util.IPAddrToHWAddr`), `ip6` everywhere, no IPv4 row.
#[test]
fn ipv6_single_stack() {
    let yaml = r#"
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: "fc00::2"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: shop, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
  - {}
"#;
    let mut objs = Objects::default();
    objs.add_text("v6.yaml", yaml).unwrap();
    let cfg = Config::parse("fd00:10:128::/48", "fd00:10:96::/112").unwrap();
    let nb = translate(&objs, &cfg).unwrap();
    let plan = reconcile::plan(&nb, &reconcile::empty_nb());
    let mut db = reconcile::empty_nb();
    reconcile::apply_in_memory(&mut db, &plan).unwrap();
    let text = plan.render();
    let mac = ovnflow_k8s_bridge::names::mac_from_addr("fd00:10:128::3".parse().unwrap());
    assert!(
        text.contains(&format!("\"{mac} fd00:10:128::3\"")),
        "{text}"
    );
    assert!(text.contains("\"ipv6_prefix\",\"fd00:10:128::\""), "{text}");
    assert!(text.contains("\"fd98::1/64\""), "{text}");
    assert!(text.contains("ip6.src == fd69::5"), "{text}");
    assert!(
        text.contains("\"[fd00:10:96::1]:80\",\"[fd00:10:128::3]:8080\""),
        "{text}"
    );
    assert!(text.contains("ip6.src == {$a"), "{text}");
    assert!(text.contains("\"match\":\"ip6 && outport == @a"), "{text}");
    for v4 in ["ip4", "100.64.", "169.254.169.0/29", "10.128."] {
        assert!(!text.contains(v4), "{v4} in an IPv6 cluster: {text}");
    }
}
