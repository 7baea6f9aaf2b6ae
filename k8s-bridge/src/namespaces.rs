//! Namespaces (fact sheet §6): one address set per namespace and IP
//! family in use (`…:v4` / `…:v6` ids, `ip-family`), owner type
//! `Namespace`, holding the IPs of that family of the namespace's wired pods. Namespaces
//! that pods use without a Namespace object get one too (ovn-kubernetes
//! creates it lazily on the first pod).

use std::collections::{BTreeMap, BTreeSet};

use crate::ipam::Config;
use crate::manifest::Objects;
use crate::model::{Nb, NbRow, RowId};
use crate::names::address_set_ids_of;
use crate::pods::PodInfo;

/// A namespace as the policy module sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceInfo {
    /// Its labels (with `kubernetes.io/metadata.name` as the API server adds it).
    pub labels: BTreeMap<String, String>,
    /// The names of its address sets per family (`false` = IPv4), IPv4 first.
    pub address_sets: Vec<(bool, String)>,
    /// The rows.
    pub rows: Vec<RowId>,
}

/// Builds the namespace address sets.
pub fn build(
    nb: &mut Nb,
    cfg: &Config,
    objs: &Objects,
    pods: &BTreeMap<String, PodInfo>,
) -> BTreeMap<String, NamespaceInfo> {
    let mut names: BTreeSet<String> = objs.namespaces.keys().cloned().collect();
    for p in pods.values() {
        names.insert(p.namespace.clone());
    }
    for p in objs.pods.values() {
        names.insert(crate::manifest::namespace_of(&p.obj.metadata).to_string());
    }
    names
        .into_iter()
        .map(|ns| {
            let info = build_one(nb, cfg, objs, pods, &ns);
            (ns, info)
        })
        .collect()
}

/// Whether the namespace gets an address set: it has a Namespace object
/// or pods (wired or not).
pub fn exists(objs: &Objects, ns: &str) -> bool {
    let prefix = format!("{ns}/");
    objs.namespaces.contains_key(ns)
        || objs
            .pods
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
}

/// The address sets of one namespace (which [`exists`]).
pub fn build_one(
    nb: &mut Nb,
    cfg: &Config,
    objs: &Objects,
    pods: &BTreeMap<String, PodInfo>,
    ns: &str,
) -> NamespaceInfo {
    let mut labels = objs
        .namespaces
        .get(ns)
        .and_then(|n| n.obj.metadata.labels.clone())
        .unwrap_or_default();
    labels.insert("kubernetes.io/metadata.name".into(), ns.to_string());
    let owner = if objs.namespaces.contains_key(ns) {
        "Namespace"
    } else {
        "PodNamespace"
    };
    let mut address_sets = Vec::new();
    let mut rows = Vec::new();
    for v6 in cfg.families() {
        let (as_name, ids) = address_set_ids_of("Namespace", ns, v6);
        let ips: Vec<String> = crate::pods::in_namespace(pods, ns)
            .flat_map(|p| p.ips.iter().filter(|i| i.is_ipv6() == v6))
            .map(|ip| ip.to_string())
            .collect();
        // IPv4 keeps the single-stack key.
        let suffix = if v6 { "-v6" } else { "" };
        rows.push(
            nb.add(
                NbRow::new("Address_Set", format!("{owner}/{ns}#address-set{suffix}"))
                    .str("name", &as_name)
                    .map("external_ids", ids)
                    .strs("addresses", ips),
            ),
        );
        address_sets.push((v6, as_name));
    }
    NamespaceInfo {
        labels,
        address_sets,
        rows,
    }
}
