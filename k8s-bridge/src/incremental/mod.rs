//! Incremental translation for run mode: each object is translated on its
//! own ([`assembly::Unit`]), its output and what it depends on are kept,
//! and a batch of changed objects recomputes only the parts they affect:
//!
//! * a pod: its node's address allocation (pods of that node whose
//!   address moves are recomputed too), its port, its namespace's address
//!   set, the Services whose selector picks it (endpoints), the policies
//!   of its namespace and those looking beyond their namespace;
//! * a Service: the ClusterIP/NodePort allocation (Services whose
//!   allocation moves are recomputed too) and its load balancers; an
//!   EndpointSlice: its Service;
//! * a NetworkPolicy: its rows and its namespace's default-deny groups;
//! * a Namespace: its address set, and every policy (selectors see its
//!   labels);
//! * a Nodus or Multus object (Network, ProviderNetwork, NetworkChaining,
//!   NetworkAttachmentDefinition): the Nodus part — networks, extra pod
//!   interfaces and chains, which allocate across pods and networks —
//!   recomputed as one; it is also recomputed for a pod that asks for
//!   extra interfaces (or asked before) and, while chains exist, for a pod
//!   of a chain's namespace (chains pick their functions by label); other
//!   pods leave it alone;
//! * a Node, a relist, or anything else: a full recomputation of the parts.
//!
//! The result is always equal to [`crate::translate`] of the same objects
//! (`tests/sequences.rs` checks it on random sequences, with and without
//! Nodus objects).

pub mod assembly;

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster::{self, ClusterRows};
use crate::error::Result;
use crate::ipam::Config;
use crate::manifest::{namespace_of, Objects, Sourced};
use crate::model::{Nb, RowId};
use crate::namespaces::{self, NamespaceInfo};
use crate::nodes::{self, NodeInfo};
use crate::pods::{self, PodInfo};
use crate::policy::{self, Deny};
use crate::services::{self, Alloc};
use assembly::{Assembly, Unit};

/// Pod annotations that ask for Nodus or Multus interfaces.
const EXTRA_IFACES: [&str; 2] = [
    "k8s.plugin.opnfv.org/nfn-network",
    "k8s.v1.cni.cncf.io/networks",
];

/// What a batch must recompute (kept until a batch succeeds, so a
/// rejected object's retry still recomputes everything it touched).
#[derive(Debug, Default)]
struct Dirty {
    full: bool,
    alloc_nodes: BTreeSet<String>,
    pods: BTreeSet<String>,
    namespaces: BTreeSet<String>,
    services: BTreeSet<String>,
    svc_alloc: bool,
    policies: BTreeSet<String>,
    all_policies: bool,
    deny: BTreeSet<String>,
    /// The Nodus part.
    nodus: bool,
}

/// The kept outputs the parts depend on.
struct State {
    cluster: ClusterRows,
    nodes: BTreeMap<String, NodeInfo>,
    /// Wired pods per node, and each wired pod's node.
    node_pods: BTreeMap<String, BTreeSet<String>>,
    pod_node: BTreeMap<String, String>,
    /// Addresses of wired pods.
    addrs: BTreeMap<String, pods::Addrs>,
    pods: BTreeMap<String, PodInfo>,
    namespaces: BTreeMap<String, NamespaceInfo>,
    svc_alloc: BTreeMap<String, Alloc>,
    /// EndpointSlice → the Service it belongs to (`namespace/name`).
    slice_svc: BTreeMap<String, String>,
    policies: BTreeMap<String, Deny>,
}

/// The incremental translator.
pub struct Engine {
    cfg: Config,
    nb: Nb,
    asm: Assembly,
    state: Option<State>,
    pending: Dirty,
    /// Pods with Nodus/Multus interface annotations.
    extra_pods: BTreeSet<String>,
    /// How often the Nodus part was recomputed.
    nodus_runs: u64,
}

/// The Nodus part: networks, extra interfaces and chains, translated as
/// in [`crate::translate`]. The default ports of pods with extra
/// interfaces are seeded from their pod parts, so the routes an extra
/// default gateway moves off `eth0` land on them; those that change are
/// emitted by this part (which wins over the pod parts), the others are
/// left to the pod parts.
fn nodus_part(
    cfg: &Config,
    objs: &Objects,
    st: &State,
    asm: &Assembly,
    extra_pods: &BTreeSet<String>,
) -> Result<Nb> {
    let mut part = Nb::default();
    if objs.networks.is_empty()
        && objs.provider_networks.is_empty()
        && objs.chains.is_empty()
        && objs.nads.is_empty()
        && extra_pods.is_empty()
    {
        return Ok(part);
    }
    let mut seeded = Vec::new();
    for k in extra_pods {
        if let Some(info) = st.pods.get(k) {
            if let Some(row) = asm.row(&Unit::Pod(k.clone()), &info.port) {
                part.rows.insert(info.port.clone(), row.clone());
                seeded.push((info.port.clone(), row.clone()));
            }
        }
    }
    let nets = crate::nodus::networks::build(&mut part, objs)?;
    let atts = crate::nodus::attach::build(&mut part, cfg, objs, &nets, &st.nodes, &st.pods)?;
    crate::nodus::chain::build(&mut part, objs, &nets, &st.pods, &atts)?;
    for (id, row) in seeded {
        if part.rows.get(&id) == Some(&row) {
            part.rows.remove(&id);
        }
    }
    Ok(part)
}

/// The namespace part of a `namespace/name` key.
fn ns_of_key(key: &str) -> &str {
    key.split_once('/').map(|(n, _)| n).unwrap_or("")
}

/// The keys of a `namespace/name`-keyed map within one namespace.
fn keys_in_ns<'a, V>(
    map: &'a BTreeMap<String, V>,
    ns: &str,
) -> impl Iterator<Item = &'a String> + 'a {
    let prefix = format!("{ns}/");
    map.range(prefix.clone()..)
        .map(|(k, _)| k)
        .take_while(move |k| k.starts_with(&prefix))
}

fn has_extra_ifaces(p: &Sourced<k8s_openapi::api::core::v1::Pod>) -> bool {
    p.obj
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| EXTRA_IFACES.iter().any(|k| a.contains_key(*k)))
}

fn slice_service(objs: &Objects, key: &str) -> Option<String> {
    let s = objs.endpoint_slices.get(key)?;
    let svc = s
        .obj
        .metadata
        .labels
        .as_ref()?
        .get("kubernetes.io/service-name")?;
    Some(format!("{}/{svc}", namespace_of(&s.obj.metadata)))
}

impl Engine {
    /// An engine with nothing translated yet.
    pub fn new(cfg: Config) -> Engine {
        Engine {
            cfg,
            nb: Nb::default(),
            asm: Assembly::default(),
            state: None,
            pending: Dirty {
                full: true,
                ..Dirty::default()
            },
            extra_pods: BTreeSet::new(),
            nodus_runs: 0,
        }
    }

    /// How many times the Nodus part (networks, extra interfaces, chains)
    /// has been recomputed: batches that leave Nodus alone do not count.
    pub fn nodus_recomputations(&self) -> u64 {
        self.nodus_runs
    }

    /// The current desired NB (after the last successful [`Engine::update`]).
    pub fn nb(&self) -> &Nb {
        &self.nb
    }

    /// Brings the desired NB in line with `objs`, of which the objects
    /// `touched` (`Kind/key`, `Kind/*` for a relist) changed since the
    /// last call; returns the rows that changed. On error (an object the
    /// translation rejects) nothing is lost: the next call recomputes
    /// what this one had to, plus its own changes.
    pub fn update(
        &mut self,
        objs: &Objects,
        touched: &BTreeSet<String>,
    ) -> Result<BTreeSet<RowId>> {
        self.note(objs, touched);
        let empty = objs.namespaces.is_empty()
            && objs.nodes.is_empty()
            && objs.pods.is_empty()
            && objs.services.is_empty()
            && objs.endpoint_slices.is_empty()
            && objs.network_policies.is_empty()
            && objs.networks.is_empty()
            && objs.provider_networks.is_empty()
            && objs.chains.is_empty()
            && objs.nads.is_empty();
        if empty {
            let old = std::mem::take(&mut self.nb);
            self.asm = Assembly::default();
            self.state = None;
            self.pending = Dirty {
                full: true,
                ..Dirty::default()
            };
            return Ok(old.rows.into_keys().collect());
        }
        if self.pending.full || self.state.is_none() {
            self.start_full(objs)?;
        }
        self.recompute(objs)?;
        self.pending = Dirty::default();
        let changed = self.asm.materialize(&mut self.nb);
        self.nb.status = self.asm.status(&Unit::Nodus);
        Ok(changed)
    }

    /// Records what the touched objects make dirty.
    fn note(&mut self, objs: &Objects, touched: &BTreeSet<String>) {
        let first = self.state.is_none();
        for t in touched {
            let (kind, key) = t.split_once('/').unwrap_or((t.as_str(), ""));
            if key == "*" {
                self.pending.full = true;
                if kind == "Pod" {
                    self.extra_pods = objs
                        .pods
                        .iter()
                        .filter(|(_, p)| has_extra_ifaces(p))
                        .map(|(k, _)| k.clone())
                        .collect();
                }
                continue;
            }
            match kind {
                "Pod" => {
                    let was = match objs.pods.get(key) {
                        Some(p) if has_extra_ifaces(p) => !self.extra_pods.insert(key.to_string()),
                        _ => self.extra_pods.remove(key),
                    };
                    if was || self.extra_pods.contains(key) {
                        self.pending.nodus = true;
                    }
                    self.pending.pods.insert(key.to_string());
                    self.pending.namespaces.insert(ns_of_key(key).to_string());
                    if let Some(n) = objs.pods.get(key).and_then(|p| pods::node_of(&p.obj)) {
                        self.pending.alloc_nodes.insert(n.to_string());
                    }
                    if let Some(n) = self.state.as_ref().and_then(|s| s.pod_node.get(key)) {
                        self.pending.alloc_nodes.insert(n.clone());
                    }
                }
                "Namespace" => {
                    self.pending.namespaces.insert(key.to_string());
                    self.pending.all_policies = true;
                }
                "Service" => {
                    self.pending.services.insert(key.to_string());
                    self.pending.svc_alloc = true;
                }
                "EndpointSlice" => {
                    if let Some(s) = self.state.as_mut() {
                        if let Some(old) = s.slice_svc.remove(key) {
                            self.pending.services.insert(old);
                        }
                        if let Some(new) = slice_service(objs, key) {
                            s.slice_svc.insert(key.to_string(), new.clone());
                            self.pending.services.insert(new);
                        }
                    }
                }
                "NetworkPolicy" => {
                    self.pending.policies.insert(key.to_string());
                    self.pending.deny.insert(ns_of_key(key).to_string());
                }
                "Network"
                | "ProviderNetwork"
                | "NetworkChaining"
                | "NetworkAttachmentDefinition" => {
                    self.pending.nodus = true;
                }
                // Nodes (subnets and join addresses in name order) and
                // anything else: recompute all parts.
                _ => self.pending.full = true,
            }
        }
        if first {
            self.pending.full = true;
        }
    }

    /// Drops all parts and marks everything for recomputation.
    fn start_full(&mut self, objs: &Objects) -> Result<()> {
        self.asm.clear(&self.nb);
        self.extra_pods = objs
            .pods
            .iter()
            .filter(|(_, p)| has_extra_ifaces(p))
            .map(|(k, _)| k.clone())
            .collect();
        let mut part = Nb::default();
        let cluster = cluster::build(&mut part, &self.cfg);
        self.asm.replace(Unit::Cluster, part);
        let mut part = Nb::default();
        // Keep the state consistent even if the nodes are rejected.
        self.state = None;
        let nodes = nodes::build(&mut part, &self.cfg, &cluster, &objs.nodes)?;
        self.asm.replace(Unit::Nodes, part);
        let mut st = State {
            cluster,
            nodes,
            node_pods: BTreeMap::new(),
            pod_node: BTreeMap::new(),
            addrs: BTreeMap::new(),
            pods: BTreeMap::new(),
            namespaces: BTreeMap::new(),
            svc_alloc: BTreeMap::new(),
            slice_svc: BTreeMap::new(),
            policies: BTreeMap::new(),
        };
        for k in objs.endpoint_slices.keys() {
            if let Some(s) = slice_service(objs, k) {
                st.slice_svc.insert(k.clone(), s);
            }
        }
        let d = &mut self.pending;
        for (k, p) in &objs.pods {
            d.pods.insert(k.clone());
            if let Some(n) = pods::node_of(&p.obj) {
                d.alloc_nodes.insert(n.to_string());
            }
        }
        d.namespaces.extend(objs.namespaces.keys().cloned());
        d.namespaces
            .extend(objs.pods.keys().map(|k| ns_of_key(k).to_string()));
        d.svc_alloc = true;
        d.services.extend(objs.services.keys().cloned());
        d.all_policies = true;
        d.deny.extend(
            objs.network_policies
                .keys()
                .map(|k| ns_of_key(k).to_string()),
        );
        d.nodus = true;
        d.full = false;
        self.state = Some(st);
        Ok(())
    }

    /// Recomputes the dirty parts, in dependency order.
    fn recompute(&mut self, objs: &Objects) -> Result<()> {
        let st = self.state.as_mut().expect("state after start_full");
        let d = &mut self.pending;

        // Wired pods per node, for the touched pods.
        for k in &d.pods {
            if let Some(old) = st.pod_node.remove(k) {
                if let Some(s) = st.node_pods.get_mut(&old) {
                    s.remove(k);
                }
            }
            if let Some(n) = objs.pods.get(k).and_then(|p| pods::node_of(&p.obj)) {
                st.pod_node.insert(k.clone(), n.to_string());
                st.node_pods
                    .entry(n.to_string())
                    .or_default()
                    .insert(k.clone());
            }
        }
        // Address allocation per node.
        for n in d.alloc_nodes.clone() {
            let keys = st.node_pods.get(&n).cloned().unwrap_or_default();
            let group: Vec<(&str, &Sourced<_>)> = keys
                .iter()
                .filter_map(|k| objs.pods.get(k).map(|p| (k.as_str(), p)))
                .collect();
            if group.is_empty() {
                st.node_pods.remove(&n);
                continue;
            }
            let addrs = pods::allocate(&st.nodes, &n, &group)?;
            for (k, a) in addrs {
                if st.addrs.get(&k) != Some(&a) {
                    d.pods.insert(k.clone());
                    st.addrs.insert(k, a);
                }
            }
        }
        // Pod ports.
        for k in d.pods.clone() {
            let mut part = Nb::default();
            let new = match (objs.pods.get(&k), st.pod_node.get(&k)) {
                (Some(p), Some(n)) => match (st.nodes.get(n), st.addrs.get(&k)) {
                    (Some(info), Some((ips, mac))) => Some(pods::build_one(
                        &mut part,
                        &k,
                        p,
                        n,
                        info,
                        ips.clone(),
                        mac.clone(),
                    )),
                    _ => None,
                },
                _ => None,
            };
            if new.is_none() {
                st.addrs.remove(&k);
            }
            self.asm.replace(Unit::Pod(k.clone()), part);
            let old = match &new {
                Some(n) => st.pods.insert(k.clone(), n.clone()),
                None => st.pods.remove(&k),
            };
            if old == new {
                continue;
            }
            for v in [&old, &new].into_iter().flatten() {
                d.namespaces.insert(v.namespace.clone());
                for sk in keys_in_ns(&objs.services, &v.namespace) {
                    let sel = objs.services[sk]
                        .obj
                        .spec
                        .as_ref()
                        .and_then(|s| s.selector.as_ref());
                    if sel.is_some_and(|sel| {
                        !sel.is_empty() && sel.iter().all(|(a, b)| v.labels.get(a) == Some(b))
                    }) {
                        d.services.insert(sk.clone());
                    }
                }
                for (pk, deny) in &st.policies {
                    if deny.wide || deny.namespace == v.namespace {
                        d.policies.insert(pk.clone());
                    }
                }
                // Named ports of egress rules see every pod; new policies
                // are dirty anyway.
            }
        }
        // Namespace address sets.
        for ns in d.namespaces.clone() {
            let mut part = Nb::default();
            let new = namespaces::exists(objs, &ns)
                .then(|| namespaces::build_one(&mut part, &self.cfg, objs, &st.pods, &ns));
            self.asm.replace(Unit::Namespace(ns.clone()), part);
            let old = match &new {
                Some(n) => st.namespaces.insert(ns.clone(), n.clone()),
                None => st.namespaces.remove(&ns),
            };
            if old.map(|o| o.labels) != new.map(|n| n.labels) {
                // Namespace selectors see the namespaces and their labels.
                d.all_policies = true;
            }
        }
        // Service allocation and load balancers.
        if d.svc_alloc {
            let allocs = services::allocate(&self.cfg, objs)?;
            for (k, a) in &allocs {
                if st.svc_alloc.get(k) != Some(a) {
                    d.services.insert(k.clone());
                }
            }
            for k in st.svc_alloc.keys() {
                if !allocs.contains_key(k) {
                    d.services.insert(k.clone());
                }
            }
            st.svc_alloc = allocs;
        }
        for k in d.services.clone() {
            let mut part = Nb::default();
            if let (Some(a), true) = (st.svc_alloc.get(&k), objs.services.contains_key(&k)) {
                services::build_one(&mut part, &st.cluster, objs, &st.nodes, &st.pods, &k, a)?;
            }
            self.asm.replace(Unit::Service(k), part);
        }
        // Policies.
        if d.all_policies {
            d.policies.extend(objs.network_policies.keys().cloned());
            d.policies.extend(st.policies.keys().cloned());
        }
        for k in d.policies.clone() {
            let mut part = Nb::default();
            let new = match objs.network_policies.get(&k) {
                Some(p) => Some(policy::build_one(
                    &mut part,
                    &self.cfg,
                    &k,
                    p,
                    &st.pods,
                    &st.namespaces,
                    &mut BTreeSet::new(),
                )?),
                None => None,
            };
            self.asm.replace(Unit::Policy(k.clone()), part);
            let old = match &new {
                Some(n) => st.policies.insert(k.clone(), n.clone()),
                None => st.policies.remove(&k),
            };
            if old != new {
                for v in [old, new].into_iter().flatten() {
                    d.deny.insert(v.namespace);
                }
            }
        }
        // Default-deny groups.
        for ns in d.deny.clone() {
            let mut part = Nb::default();
            let mut ingress = BTreeSet::new();
            let mut egress = BTreeSet::new();
            let mut any = false;
            for k in keys_in_ns(&st.policies, &ns) {
                let p = &st.policies[k];
                any = true;
                ingress.extend(p.ingress.iter().cloned());
                egress.extend(p.egress.iter().cloned());
            }
            if any {
                policy::build_deny(&mut part, &ns, ingress, egress);
            }
            self.asm.replace(Unit::Deny(ns), part);
        }
        // Nodus: for pods with extra interfaces, and pods chains may pick.
        if !d.nodus {
            let chain_ns: BTreeSet<&str> = objs
                .chains
                .values()
                .map(|c| c.obj.spec.routing_spec.namespace.as_str())
                .collect();
            d.nodus = d
                .pods
                .iter()
                .any(|k| self.extra_pods.contains(k) || chain_ns.contains(ns_of_key(k)));
        }
        if d.nodus {
            let part = nodus_part(&self.cfg, objs, st, &self.asm, &self.extra_pods)?;
            self.asm.replace(Unit::Nodus, part);
            self.nodus_runs += 1;
        }
        Ok(())
    }
}
