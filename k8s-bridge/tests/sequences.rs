//! Property: applying random sequences of object additions, changes and
//! deletions one reconcile at a time ends in the same NB as applying the
//! final set of objects to an empty NB at once (row for row, references
//! compared by row key), and a further reconcile has nothing to do.
//! Runs on the ovsdb crate's in-memory transaction executor.

use std::collections::BTreeMap;

use ovnflow_k8s_bridge::model::OWNER_KEY;
use ovnflow_k8s_bridge::{reconcile, translate, Config, Objects};
use ovsdb::{Atom, Database};
use proptest::prelude::*;

/// One slot of the object pool and the variant it holds (None: absent).
#[derive(Clone, Debug)]
struct State {
    pods: Vec<Option<(u8, u8, bool)>>, // (node, app, ready)
    namespace: Option<u8>,             // team label variant
    service: Option<u8>,               // 0: ClusterIP, 1: NodePort, 2: NodePort+ETP Local
    policy_a: Option<u8>,              // ingress port variant
    policy_b: bool,
}

fn state() -> impl Strategy<Value = State> {
    (
        prop::collection::vec(prop::option::of((0u8..2, 0u8..2, any::<bool>())), 5),
        prop::option::of(0u8..2),
        prop::option::of(0u8..3),
        prop::option::of(0u8..2),
        any::<bool>(),
    )
        .prop_map(|(pods, namespace, service, policy_a, policy_b)| State {
            pods,
            namespace,
            service,
            policy_a,
            policy_b,
        })
}

fn yaml(s: &State) -> String {
    let mut docs = vec![
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  addresses: [{type: InternalIP, address: 172.18.0.2}]\n".to_string(),
        "apiVersion: v1\nkind: Node\nmetadata: {name: n2}\nstatus:\n  addresses: [{type: InternalIP, address: 172.18.0.3}]\n".to_string(),
    ];
    if let Some(t) = s.namespace {
        docs.push(format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {{team: {}}}\n",
            ["web", "ops"][t as usize]
        ));
    }
    for (i, p) in s.pods.iter().enumerate() {
        let Some((node, app, ready)) = p else {
            continue;
        };
        let ns = if i % 2 == 0 { "shop" } else { "default" };
        docs.push(format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: {ns}\n  labels: {{app: {}}}\nspec:\n  nodeName: n{}\n  containers:\n  - name: c\n    image: i\n    ports: [{{name: http, containerPort: {}}}]\nstatus:\n  conditions: [{{type: Ready, status: \"{}\"}}]\n",
            ["web", "db"][*app as usize],
            node + 1,
            8080 + i,
            if *ready { "True" } else { "False" }
        ));
    }
    if let Some(v) = s.service {
        let ty = if v == 0 { "ClusterIP" } else { "NodePort" };
        let etp = if v == 2 {
            "  externalTrafficPolicy: Local\n"
        } else {
            ""
        };
        docs.push(format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\nspec:\n  type: {ty}\n{etp}  selector: {{app: web}}\n  ports: [{{port: 80, targetPort: http}}]\n"
        ));
    }
    if let Some(v) = s.policy_a {
        let port = if v == 0 {
            "{port: http}"
        } else {
            "{port: 8000, endPort: 8100}"
        };
        docs.push(format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: a, namespace: shop}}\nspec:\n  podSelector: {{matchLabels: {{app: db}}}}\n  ingress:\n  - from: [{{podSelector: {{matchLabels: {{app: web}}}}}}, {{namespaceSelector: {{matchLabels: {{team: ops}}}}}}]\n    ports: [{port}]\n"
        ));
    }
    if s.policy_b {
        docs.push("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: b, namespace: default}\nspec:\n  podSelector: {}\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]\n".to_string());
    }
    docs.join("---\n")
}

fn objects(s: &State) -> Objects {
    let mut o = Objects::default();
    o.add_text("generated.yaml", &yaml(s)).unwrap();
    o
}

/// The database content with UUIDs replaced by row keys: every row must
/// be owned (the bridge writes nothing else here).
fn canonical(db: &Database) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let mut keys = BTreeMap::new();
    for (t, rows) in db.tables() {
        for (u, r) in rows.iter() {
            let k = r
                .get("external_ids")
                .and_then(|d| d.get_str(OWNER_KEY))
                .map(str::to_string)
                .or_else(|| r.get("name").and_then(|d| d.as_str()).map(str::to_string))
                .unwrap_or_else(|| panic!("unowned row in {t}"));
            keys.insert(*u, k);
        }
    }
    let mut out = BTreeMap::new();
    for (t, rows) in db.tables() {
        for (u, r) in rows.iter() {
            let cols = r
                .iter()
                .map(|(c, d)| {
                    let mut atoms: Vec<String> = d
                        .atoms()
                        .iter()
                        .map(|a| match a {
                            Atom::Uuid(x) => {
                                format!("ref:{}", keys.get(x).cloned().unwrap_or_default())
                            }
                            other => other.to_string(),
                        })
                        .collect();
                    atoms.sort();
                    let pairs: Vec<String> =
                        d.pairs().iter().map(|(k, v)| format!("{k}={v}")).collect();
                    (c.clone(), format!("{atoms:?}{pairs:?}"))
                })
                .collect();
            out.insert((t.clone(), keys[u].clone()), cols);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn stepwise_equals_at_once(steps in prop::collection::vec(state(), 1..6)) {
        let cfg = Config::default();
        let mut db = reconcile::empty_nb();
        for s in &steps {
            let desired = translate(&objects(s), &cfg).unwrap();
            let plan = reconcile::plan(&desired, &db);
            reconcile::apply_in_memory(&mut db, &plan).unwrap();
        }
        let last = translate(&objects(steps.last().unwrap()), &cfg).unwrap();
        let mut fresh = reconcile::empty_nb();
        let plan = reconcile::plan(&last, &fresh);
        reconcile::apply_in_memory(&mut fresh, &plan).unwrap();
        prop_assert_eq!(canonical(&db), canonical(&fresh));
        prop_assert!(reconcile::plan(&last, &db).is_empty());
    }
}
