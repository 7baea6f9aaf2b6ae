//! Property: applying random sequences of object additions, changes and
//! deletions one reconcile at a time ends in the same NB as applying the
//! final set of objects to an empty NB at once (row for row, references
//! compared by row key), and a further reconcile has nothing to do.
//! The object pool covers core Kubernetes and Nodus/Multus (networks,
//! pod interfaces with fixed and allocated addresses, a chain that is
//! complete or not, a NAD), and IPv6 variants (dual-stack Services,
//! IPv6 EndpointSlices and ipBlocks, pods pinned to both families, a
//! dual-stack Nodus network with fixed IPv6 addresses and an IPv6 route,
//! an IPv6-only Multus network) that
//! also run on a dual-stack cluster. Runs on the ovsdb crate's in-memory
//! transaction executor.

use std::collections::BTreeMap;

use std::collections::BTreeSet;

use ovnflow_k8s_bridge::incremental::Engine;
use ovnflow_k8s_bridge::model::{Nb, OWNER_KEY};
use ovnflow_k8s_bridge::reconcile::Owned;
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
    ifaces: Vec<Option<u8>>, // Nodus interfaces: 0 net-a, 1 net-a fixed IP, 2 net-a + net-b
    net_a: Option<u8>,       // route variant (present anyway when a pod uses it)
    net_b: bool,
    chain: bool,  // net-a → app=web → net-b
    multus: bool, // NAD l2 on network l2-net, used by the odd pods
    core: Core,
}

/// Core-only variations (the incremental path's dependencies).
#[derive(Clone, Debug)]
struct Core {
    pins: Vec<bool>, // pod i pinned by k8s.ovn.org/pod-networks
    slice: bool,     // an EndpointSlice for Service web
    wide: bool,      // a policy with namespaceSelector + podSelector, egress named port
    node3: bool,     // a third node (moves nothing: n3 sorts last)
    v6: bool,        // IPv6 variants of the Service, slice, policy b and pins
}

fn core() -> impl Strategy<Value = Core> {
    (
        prop::collection::vec(any::<bool>(), 5),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(pins, slice, wide, node3, v6)| Core {
            pins,
            slice,
            wide,
            node3,
            v6,
        })
}

/// States without Nodus or Multus objects (the incremental fast path).
fn core_state() -> impl Strategy<Value = State> {
    state().prop_map(|mut s| {
        s.ifaces = vec![None; 5];
        s.net_a = None;
        s.net_b = false;
        s.chain = false;
        s.multus = false;
        s
    })
}

fn state() -> impl Strategy<Value = State> {
    (
        prop::collection::vec(prop::option::of((0u8..2, 0u8..2, any::<bool>())), 5),
        prop::option::of(0u8..2),
        prop::option::of(0u8..3),
        prop::option::of(0u8..2),
        any::<bool>(),
        (
            prop::collection::vec(prop::option::of(0u8..3), 5),
            prop::option::of(0u8..2),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        core(),
    )
        .prop_map(
            |(
                pods,
                namespace,
                service,
                policy_a,
                policy_b,
                (ifaces, net_a, net_b, chain, multus),
                core,
            )| {
                State {
                    pods,
                    namespace,
                    service,
                    policy_a,
                    policy_b,
                    ifaces,
                    net_a,
                    net_b,
                    chain,
                    multus,
                    core,
                }
            },
        )
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
    let uses_b = |v: &Option<u8>| *v == Some(2) && s.net_b;
    let uses_a = s
        .ifaces
        .iter()
        .zip(&s.pods)
        .any(|(v, p)| v.is_some() && p.is_some());
    if s.net_a.is_some() || uses_a || s.chain {
        // With the IPv6 variants net-a is dual-stack (an IPv6 route too).
        let route = match (s.net_a, s.core.v6) {
            (Some(1), false) => "  routes: [{dst: 192.168.9.0/24}]\n",
            (Some(1), true) => "  routes: [{dst: 192.168.9.0/24}, {dst: \"fd00:99::/64\"}]\n",
            _ => "",
        };
        let v6 = if s.core.v6 {
            "  ipv6Subnets: [{name: s6, subnet: \"fd00:30:10::/64\", gateway: \"fd00:30:10::1/64\", excludeIps: \"fd00:30:10::2..fd00:30:10::9\"}]\n"
        } else {
            ""
        };
        docs.push(format!("apiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: Network\nmetadata: {{name: net-a}}\nspec:\n  cniType: ovn4nfv\n  ipv4Subnets: [{{name: s, subnet: 172.30.10.0/24, gateway: 172.30.10.1/24, excludeIps: 172.30.10.2..172.30.10.9}}]\n{v6}{route}"));
    }
    if s.net_b || s.chain {
        docs.push("apiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: Network\nmetadata: {name: net-b}\nspec:\n  cniType: ovn4nfv\n  ipv4Subnets: [{name: s, subnet: 172.30.20.0/24, gateway: 172.30.20.1/24}]\n".to_string());
    }
    if s.chain {
        docs.push("apiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: NetworkChaining\nmetadata: {name: c, namespace: shop}\nspec:\n  chainType: Routing\n  routingSpec:\n    namespace: shop\n    networkChain: net=net-a,app=web,net=net-b\n    left: [{networkName: net-a, subnet: 172.30.10.0/24, podSelector: {matchLabels: {app: db}}}]\n    right: [{networkName: net-b, subnet: 172.30.20.0/24}]\n".to_string());
    }
    if s.multus {
        // With the IPv6 variants l2-net is IPv6-only.
        let subnets = if s.core.v6 {
            "ipv6Subnets: [{name: s, subnet: \"fd00:10:10::/120\"}]"
        } else {
            "ipv4Subnets: [{name: s, subnet: 10.10.0.0/24}]"
        };
        docs.push(format!("apiVersion: k8s.plugin.opnfv.org/v1alpha1\nkind: Network\nmetadata: {{name: l2-net}}\nspec:\n  cniType: ovn4nfv\n  {subnets}\n---\napiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {{name: l2, namespace: default}}\nspec:\n  config: '{{\"type\":\"ovnflow\",\"network\":\"l2-net\"}}'\n"));
    }
    for (i, p) in s.pods.iter().enumerate() {
        let Some((node, app, ready)) = p else {
            continue;
        };
        let ns = if i % 2 == 0 { "shop" } else { "default" };
        let mut ann = Vec::new();
        if let Some(v) = s.ifaces[i] {
            let fixed = if v == 1 && s.core.v6 {
                format!(
                    ",\"ipAddress\":\"172.30.10.{},fd00:30:10::{:x}\"",
                    20 + i,
                    20 + i
                )
            } else if v == 1 {
                format!(",\"ipAddress\":\"172.30.10.{}\"", 20 + i)
            } else {
                String::new()
            };
            let mut l = format!("{{\"name\":\"net-a\",\"interface\":\"net0\"{fixed}}}");
            if uses_b(&s.ifaces[i]) || (s.chain && v == 2) {
                l.push_str(",{\"name\":\"net-b\",\"interface\":\"net1\"}");
            }
            ann.push(format!("    k8s.plugin.opnfv.org/nfn-network: '{{\"type\":\"ovn4nfv\",\"interface\":[{l}]}}'\n"));
        }
        if s.core.pins[i] {
            let ip = format!("10.128.{}.{}", *node as usize * 2, 50 + i);
            let ip6 = if s.core.v6 {
                format!(",\"fd00:10:128:{node}::{:x}/64\"", 50 + i)
            } else {
                String::new()
            };
            ann.push(format!("    k8s.ovn.org/pod-networks: '{{\"default\":{{\"ip_addresses\":[\"{ip}/23\"{ip6}]}}}}'\n"));
        }
        if s.multus && ns == "default" {
            ann.push("    k8s.v1.cni.cncf.io/networks: l2@side\n".to_string());
        }
        let ann = if ann.is_empty() {
            String::new()
        } else {
            format!("  annotations:\n{}", ann.concat())
        };
        docs.push(format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: {ns}\n{ann}  labels: {{app: {}}}\nspec:\n  nodeName: n{}\n  containers:\n  - name: c\n    image: i\n    ports: [{{name: http, containerPort: {}}}]\nstatus:\n  conditions: [{{type: Ready, status: \"{}\"}}]\n",
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
        let fam = if s.core.v6 {
            "  ipFamilyPolicy: PreferDualStack\n"
        } else {
            ""
        };
        docs.push(format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\nspec:\n  type: {ty}\n{etp}{fam}  selector: {{app: web}}\n  ports: [{{port: 80, targetPort: http}}]\n"
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
    if s.core.node3 {
        docs.push("apiVersion: v1\nkind: Node\nmetadata: {name: n3}\nstatus:\n  addresses: [{type: InternalIP, address: 172.18.0.4}]\n".to_string());
    }
    if s.core.slice && s.service.is_some() {
        docs.push("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-x\n  namespace: shop\n  labels: {kubernetes.io/service-name: web}\naddressType: IPv4\nports: [{port: 8080, protocol: TCP}]\nendpoints:\n- addresses: [10.128.0.99]\n  nodeName: n1\n".to_string());
        if s.core.v6 {
            docs.push("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-y\n  namespace: shop\n  labels: {kubernetes.io/service-name: web}\naddressType: IPv6\nports: [{port: 8080, protocol: TCP}]\nendpoints:\n- addresses: [\"fd00:10:128::99\"]\n  nodeName: n1\n".to_string());
        }
    }
    if s.core.wide {
        docs.push("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: w, namespace: default}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}]\n  egress:\n  - ports: [{port: http}]\n".to_string());
    }
    if s.policy_b {
        let v6 = if s.core.v6 {
            ", {ipBlock: {cidr: \"fd00:20::/48\", except: [\"fd00:20:0:1::/64\"]}}"
        } else {
            ""
        };
        docs.push(format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: b, namespace: default}}\nspec:\n  podSelector: {{}}\n  egress:\n  - to: [{{ipBlock: {{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}}}{v6}]\n"));
    }
    docs.join("---\n")
}

/// ovn-kubernetes' dual-stack layout: IPv4 /23 and IPv6 /64 node subnets.
fn dual_stack() -> Config {
    Config::parse(
        "10.128.0.0/14/23,fd00:10:128::/48/64",
        "10.96.0.0/16,fd00:10:96::/112",
    )
    .unwrap()
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
                    (c.to_string(), format!("{atoms:?}{pairs:?}"))
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
    fn stepwise_equals_at_once(steps in prop::collection::vec(state(), 1..6), dual in any::<bool>()) {
        let cfg = if dual { dual_stack() } else { Config::default() };
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

/// The identities whose object differs between two object sets.
fn touched(a: &Objects, b: &Objects) -> BTreeSet<String> {
    fn diff<T: PartialEq>(
        kind: &str,
        a: &BTreeMap<String, ovnflow_k8s_bridge::manifest::Sourced<T>>,
        b: &BTreeMap<String, ovnflow_k8s_bridge::manifest::Sourced<T>>,
        out: &mut BTreeSet<String>,
    ) {
        for k in a.keys().chain(b.keys()) {
            if a.get(k).map(|x| &x.obj) != b.get(k).map(|x| &x.obj) {
                out.insert(format!("{kind}/{k}"));
            }
        }
    }
    let mut out = BTreeSet::new();
    diff("Namespace", &a.namespaces, &b.namespaces, &mut out);
    diff("Node", &a.nodes, &b.nodes, &mut out);
    diff("Pod", &a.pods, &b.pods, &mut out);
    diff("Service", &a.services, &b.services, &mut out);
    diff(
        "EndpointSlice",
        &a.endpoint_slices,
        &b.endpoint_slices,
        &mut out,
    );
    diff(
        "NetworkPolicy",
        &a.network_policies,
        &b.network_policies,
        &mut out,
    );
    diff("Network", &a.networks, &b.networks, &mut out);
    diff(
        "ProviderNetwork",
        &a.provider_networks,
        &b.provider_networks,
        &mut out,
    );
    diff("NetworkChaining", &a.chains, &b.chains, &mut out);
    diff("NetworkAttachmentDefinition", &a.nads, &b.nads, &mut out);
    out
}

/// Rows with empty reference columns dropped (a full translation may
/// leave an empty column where an incremental one has none).
fn normal(nb: &Nb) -> Nb {
    let mut nb = nb.clone();
    for r in nb.rows.values_mut() {
        r.refs.retain(|_, v| !v.is_empty());
    }
    nb.contrib.clear();
    nb
}

/// Runs the steps through the incremental engine, writing only the rows
/// it reports changed; checks the engine's NB against a full translation
/// after every step, and the final database against one apply.
fn incremental_equals_at_once(steps: &[State], cfg: Config) -> Result<(), TestCaseError> {
    let mut db = reconcile::empty_nb();
    let mut engine = Engine::new(cfg.clone());
    let mut prev = Objects::default();
    for s in steps {
        let objs = objects(s);
        let changed = engine.update(&objs, &touched(&prev, &objs)).unwrap();
        let full = translate(&objs, &cfg).unwrap();
        prop_assert_eq!(&normal(engine.nb()).rows, &normal(&full).rows);
        let plan = reconcile::plan_rows(engine.nb(), &changed, &db, &Owned::of(&db));
        reconcile::apply_in_memory(&mut db, &plan).unwrap();
        prop_assert!(
            reconcile::plan(&full, &db).is_empty(),
            "after the incremental plan the NB differs: {}",
            reconcile::plan(&full, &db).render()
        );
        prev = objs;
    }
    let last = translate(&objects(steps.last().unwrap()), &cfg).unwrap();
    let mut fresh = reconcile::empty_nb();
    let plan = reconcile::plan(&last, &fresh);
    reconcile::apply_in_memory(&mut fresh, &plan).unwrap();
    prop_assert_eq!(canonical(&db), canonical(&fresh));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn incremental_core_equals_at_once(steps in prop::collection::vec(core_state(), 1..8)) {
        incremental_equals_at_once(&steps, Config::default())?;
    }

    #[test]
    fn incremental_with_nodus_equals_at_once(steps in prop::collection::vec(state(), 1..6)) {
        incremental_equals_at_once(&steps, Config::default())?;
    }

    #[test]
    fn incremental_dual_stack_equals_at_once(steps in prop::collection::vec(core_state(), 1..8)) {
        incremental_equals_at_once(&steps, dual_stack())?;
    }

    #[test]
    fn incremental_dual_stack_with_nodus_equals_at_once(steps in prop::collection::vec(state(), 1..6)) {
        incremental_equals_at_once(&steps, dual_stack())?;
    }
}

/// Nodus is incremental: with networks, interfaces and no chain, a pod
/// without extra interfaces changes no Nodus row and does not recompute
/// the Nodus part; a pod with an interface does.
#[test]
fn core_pods_leave_the_nodus_part_alone() {
    let base = State {
        pods: vec![Some((0, 0, true)), Some((1, 1, true)), None, None, None],
        namespace: Some(0),
        service: Some(0),
        policy_a: Some(0),
        policy_b: false,
        ifaces: vec![Some(0), None, None, None, None],
        net_a: Some(1),
        net_b: true,
        chain: false,
        multus: false,
        core: Core {
            pins: vec![false; 5],
            slice: false,
            wide: false,
            node3: false,
            v6: false,
        },
    };
    let cfg = Config::default();
    let mut engine = Engine::new(cfg.clone());
    let a = objects(&base);
    engine
        .update(&a, &touched(&Objects::default(), &a))
        .unwrap();
    let runs = engine.nodus_recomputations();
    // A plain pod (p2, no interfaces) comes.
    let mut s = base.clone();
    s.pods[2] = Some((0, 1, true));
    let b = objects(&s);
    let changed = engine.update(&b, &touched(&a, &b)).unwrap();
    assert_eq!(engine.nodus_recomputations(), runs);
    assert!(
        changed.iter().all(|id| !id.owner().starts_with("Network/")),
        "{changed:?}"
    );
    assert_eq!(
        normal(engine.nb()).rows,
        normal(&translate(&b, &cfg).unwrap()).rows
    );
    // A pod with an interface on net-a comes: Nodus is recomputed.
    s.pods[3] = Some((1, 0, true));
    s.ifaces[3] = Some(0);
    let c = objects(&s);
    engine.update(&c, &touched(&b, &c)).unwrap();
    assert_eq!(engine.nodus_recomputations(), runs + 1);
    assert_eq!(
        normal(engine.nb()).rows,
        normal(&translate(&c, &cfg).unwrap()).rows
    );
}
