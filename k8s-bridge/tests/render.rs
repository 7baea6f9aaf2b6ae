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
