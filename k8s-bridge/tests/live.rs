//! Against real OVN 23.03: private NB/SB ovsdb-servers and ovn-northd
//! (golden's oracle). Applies the manifest corpus with `reconcile`, checks
//! that northd compiles it (a Port_Binding per pod, `--wait=sb sync`, no
//! ERR/WARN in its log), that a second apply sends nothing, that a change
//! costs one update per changed row, that foreign rows are left alone,
//! that a failing transaction changes nothing, and that delete removes
//! every owned row. Runs whenever the OVN binaries are on PATH; with `CI`
//! set their absence is a failure.

use std::collections::BTreeSet;
use std::path::PathBuf;

use ovnflow_golden::oracle::{self, Oracle};
use ovnflow_k8s_bridge::model::{LB_GROUPS, OWNER_KEY};
use ovnflow_k8s_bridge::{reconcile, translate, Config, Objects};
use ovsdb::Database;

fn corpus() -> Objects {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/manifests");
    Objects::read_paths(&[dir], false).unwrap()
}

/// The whole content of a database, read with the ovsdb crate's client.
fn read_db(remote: &str, db: &str) -> Database {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let remotes = ovsdb::remote::Remote::parse_list(remote).unwrap();
        let mut s =
            ovsdb::client::ReplicaSession::connect(remotes, db, &[], false, Default::default())
                .await
                .unwrap();
        s.next().await.unwrap();
        s.replica().database().clone()
    })
}

fn names(db: &Database, table: &str, col: &str) -> BTreeSet<String> {
    db.table(table)
        .map(|rows| {
            rows.values()
                .filter_map(|r| r.get(col).and_then(|d| d.as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Rows carrying the ownership marker, plus the owned LB groups.
fn owned_rows(db: &Database) -> usize {
    db.tables()
        .iter()
        .map(|(t, rows)| {
            rows.values()
                .filter(|r| {
                    r.get("external_ids")
                        .and_then(|d| d.get_str(OWNER_KEY))
                        .is_some()
                        || (t == "Load_Balancer_Group"
                            && r.get("name")
                                .and_then(|d| d.as_str())
                                .is_some_and(|n| LB_GROUPS.contains(&n)))
                })
                .count()
        })
        .sum()
}

fn sbctl(o: &Oracle, sb: &str, args: &[&str]) {
    let out = std::process::Command::new("ovn-sbctl")
        .env("OVS_RUNDIR", o.dir())
        .env("OVN_RUNDIR", o.dir())
        .arg(format!("--db={sb}"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ovn-sbctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn northd_problems(o: &Oracle) -> Vec<String> {
    let log = std::fs::read_to_string(o.dir().join("northd.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("|ERR|") || l.contains("|WARN|") || l.contains("|EMER|"))
        .map(str::to_string)
        .collect()
}

#[test]
fn apply_reconcile_and_delete_against_real_northd() {
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
    let cfg = Config::default();

    // The nodes' chassis, as their ovn-controllers would register them
    // (name = k8s.ovn.org/node-chassis-id or the node name, hostname = node).
    for (chassis, host, ip) in [
        ("6a3b9d3e-1a8f-4c52-9d0e-3f6e2a1b7c01", "n1", "127.0.0.11"),
        ("n2", "n2", "127.0.0.12"),
    ] {
        sbctl(
            &o,
            &sb,
            &[
                "chassis-add",
                chassis,
                "geneve",
                ip,
                "--",
                "set",
                "chassis",
                chassis,
                &format!("hostname={host}"),
            ],
        );
    }

    // Foreign rows, including one whose name collides with a pod port.
    o.nbctl("ls-add foreign -- lsp-add foreign foreign-port -- lsp-add foreign shop_web-1")
        .unwrap();
    let before = read_db(&nb, "OVN_Northbound");

    // The collision makes the one transaction fail: nothing is applied.
    let objs = corpus();
    let desired = translate(&objs, &cfg).unwrap();
    let err = reconcile::apply_live(&nb, |db| reconcile::plan(&desired, db)).unwrap_err();
    assert!(err.to_string().contains("constraint violation"), "{err}");
    let after = read_db(&nb, "OVN_Northbound");
    assert_eq!(owned_rows(&after), 0);
    assert_eq!(
        before.tables(),
        after.tables(),
        "a failed apply changed the NB"
    );
    o.nbctl("lsp-del shop_web-1").unwrap();

    // First apply: every desired row inserted in one transaction.
    let plan = reconcile::apply_live(&nb, |db| reconcile::plan(&desired, db)).unwrap();
    assert_eq!(plan.inserts, desired.rows.len());
    assert_eq!((plan.updates, plan.deletes), (0, 0));
    o.sync().unwrap();
    let nbdb = read_db(&nb, "OVN_Northbound");
    assert_eq!(owned_rows(&nbdb), desired.rows.len());
    let sbdb = read_db(&sb, "OVN_Southbound");
    let bindings = names(&sbdb, "Port_Binding", "logical_port");
    for pod in [
        "shop_web-1",
        "shop_web-2",
        "shop_web-3",
        "shop_db-0",
        "monitoring_prom-0",
    ] {
        assert!(
            bindings.contains(pod),
            "no Port_Binding for {pod}: {bindings:?}"
        );
    }
    for p in [
        "k8s-n1",
        "k8s-n2",
        "rtos-n1",
        "cr-rtos-n1",
        "rtoj-GR_n2",
        "rtoe-GR_n1",
        "breth0_n1",
    ] {
        assert!(bindings.contains(p), "no Port_Binding for {p}");
    }
    // northd compiled the ACLs and load balancers into logical flows.
    let flows = names(&sbdb, "Logical_Flow", "match");
    assert!(flows
        .iter()
        .any(|m| m.contains("32000 <= tcp.dst && tcp.dst <= 32768")
            || m.contains("32000<=tcp.dst<=32768")));
    assert!(names(&sbdb, "Load_Balancer", "name").contains("Service_shop/db_TCP_cluster"));
    assert_eq!(northd_problems(&o), Vec::<String>::new());

    // Second apply: nothing to send.
    let plan = reconcile::apply_live(&nb, |db| reconcile::plan(&desired, db)).unwrap();
    assert!(plan.is_empty(), "{:#?}", plan.ops);

    // One pod removed (web-3), one relabelled (web-2 leaves app=web).
    let mut changed = corpus();
    changed.pods.remove("shop/web-3");
    let web2 = changed.pods.get_mut("shop/web-2").unwrap();
    web2.obj.metadata.labels = Some([("app".to_string(), "other".to_string())].into());
    let desired2 = translate(&changed, &cfg).unwrap();
    let plan = reconcile::apply_live(&nb, |db| reconcile::plan(&desired2, db)).unwrap();
    // Expected by hand: switch n2 (ports), namespace shop address set, the
    // app=web pod-selector address set, the web-egress port group, the two
    // shop default-deny port groups, and the web service's cluster LB and
    // two node LBs (web-2 leaves the backends; web-3 was not ready). The
    // removed LSP is garbage-collected, not deleted explicitly.
    assert_eq!(
        (plan.inserts, plan.updates, plan.deletes),
        (0, 9, 0),
        "{:#?}",
        plan.ops
    );
    o.sync().unwrap();
    let sbdb = read_db(&sb, "OVN_Southbound");
    let bindings = names(&sbdb, "Port_Binding", "logical_port");
    assert!(!bindings.contains("shop_web-3"));
    assert!(bindings.contains("shop_web-2"));
    // The result equals applying the final set to an empty NB.
    let mut fresh = reconcile::empty_nb();
    let p = reconcile::plan(&desired2, &fresh);
    reconcile::apply_in_memory(&mut fresh, &p).unwrap();
    let live = read_db(&nb, "OVN_Northbound");
    assert_eq!(owned_rows(&live), owned_rows(&fresh));
    assert!(reconcile::plan(&desired2, &live).is_empty());

    // Foreign rows are untouched by apply.
    assert!(names(&live, "Logical_Switch", "name").contains("foreign"));
    assert!(names(&live, "Logical_Switch_Port", "name").contains("foreign-port"));
    assert_eq!(northd_problems(&o), Vec::<String>::new());

    // Delete the corpus: every owned row goes, foreign rows stay.
    let ids = corpus().identities();
    let plan = reconcile::apply_live(&nb, |db| reconcile::plan_delete(&ids, db)).unwrap();
    assert!(plan.deletes > 0);
    o.sync().unwrap();
    let live = read_db(&nb, "OVN_Northbound");
    assert_eq!(owned_rows(&live), 0, "{:#?}", live.dump_json());
    assert!(names(&live, "Logical_Switch", "name").contains("foreign"));
    assert!(names(&live, "Logical_Switch_Port", "name").contains("foreign-port"));
    let sbdb = read_db(&sb, "OVN_Southbound");
    let bindings = names(&sbdb, "Port_Binding", "logical_port");
    assert_eq!(bindings, BTreeSet::from(["foreign-port".to_string()]));
    assert_eq!(northd_problems(&o), Vec::<String>::new());
}

/// The dual-stack corpus (`tests/manifests-dual/`) with ovn-kubernetes'
/// dual-stack flags: real northd compiles it without a warning, binds
/// every pod with both addresses in its port security, and turns the
/// IPv6 VIPs, address sets and ipBlocks into IPv6 logical flows.
#[test]
fn dual_stack_corpus_against_real_northd() {
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
    let cfg = Config::parse(
        "10.128.0.0/14/23,fd00:10:128::/48/64",
        "10.96.0.0/16,fd00:10:96::/112",
    )
    .unwrap();
    for (chassis, host, ip) in [
        ("6a3b9d3e-1a8f-4c52-9d0e-3f6e2a1b7c01", "n1", "127.0.0.11"),
        ("n2", "n2", "127.0.0.12"),
    ] {
        sbctl(
            &o,
            &sb,
            &[
                "chassis-add",
                chassis,
                "geneve",
                ip,
                "--",
                "set",
                "chassis",
                chassis,
                &format!("hostname={host}"),
            ],
        );
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/manifests-dual");
    let objs = Objects::read_paths(&[dir], false).unwrap();
    let desired = translate(&objs, &cfg).unwrap();
    let plan = reconcile::apply_live(&nb, |db| reconcile::plan(&desired, db)).unwrap();
    assert_eq!(plan.inserts, desired.rows.len());
    o.sync().unwrap();
    let sbdb = read_db(&sb, "OVN_Southbound");
    // Every pod bound, with both of its addresses in its port security.
    let mut security = std::collections::BTreeMap::new();
    for r in sbdb.table("Port_Binding").unwrap().values() {
        let lp = r.get("logical_port").and_then(|d| d.as_str()).unwrap_or("");
        let ps: Vec<String> = r
            .get("port_security")
            .map(|d| d.atoms().iter().map(|a| a.to_string()).collect())
            .unwrap_or_default();
        security.insert(lp.to_string(), ps.join(" "));
    }
    for (pod, v6) in [
        ("shop_web-1", "fd00:10:128::3"),
        ("shop_db-0", "fd00:10:128::a"),
        ("shop_web-2", "fd00:10:128:1::4"),
        ("monitoring_prom-0", "fd00:10:128:1::3"),
    ] {
        let ps = security
            .get(pod)
            .unwrap_or_else(|| panic!("no Port_Binding for {pod}"));
        assert!(
            ps.contains(v6) && ps.contains("10.128."),
            "{pod}: port security {ps}"
        );
    }
    for p in [
        "k8s-n1",
        "rtos-n1",
        "cr-rtos-n1",
        "rtoj-GR_n2",
        "rtoe-GR_n1",
    ] {
        assert!(security.contains_key(p), "no Port_Binding for {p}");
    }
    // IPv6 VIPs, ipBlocks and address sets reach the logical flows.
    let flows = names(&sbdb, "Logical_Flow", "match");
    let has = |needle: &str| flows.iter().any(|m| m.contains(needle));
    assert!(has("ip6.dst == fd00:10:96::20"), "no flow for the IPv6 VIP");
    assert!(
        has("ip6.dst == fd00:20::/48"),
        "no flow for the IPv6 ipBlock"
    );
    assert!(has("ip6.src == {$a"), "no flow for an IPv6 address set");
    assert!(has("ip6.src == fd69::5"), "no hairpin flow for IPv6");
    let lbs = sbdb.table("Load_Balancer").unwrap();
    let vips: Vec<String> = lbs
        .values()
        .flat_map(|r| {
            r.get("vips")
                .map(|d| {
                    d.pairs()
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    assert!(
        vips.iter()
            .any(|v| v.contains("[fd00:10:96::20]:5432") && v.contains("[fd00:10:128::a]:5432")),
        "{vips:?}"
    );
    assert_eq!(northd_problems(&o), Vec::<String>::new());
    // A second apply has nothing to do.
    let plan = reconcile::apply_live(&nb, |db| reconcile::plan(&desired, db)).unwrap();
    assert!(plan.is_empty(), "{:#?}", plan.ops);
}
