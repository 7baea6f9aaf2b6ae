//! Namespaces (fact sheet §6): one address set per namespace, owner type
//! `Namespace`, holding the IPs of the namespace's wired pods. Namespaces
//! that pods use without a Namespace object get one too (ovn-kubernetes
//! creates it lazily on the first pod).

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::Objects;
use crate::model::{Nb, NbRow, RowId};
use crate::names::address_set_ids;
use crate::pods::PodInfo;

/// A namespace as the policy module sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceInfo {
    /// Its labels (with `kubernetes.io/metadata.name` as the API server adds it).
    pub labels: BTreeMap<String, String>,
    /// The name of its address set.
    pub address_set: String,
    /// The row.
    pub row: RowId,
}

/// Builds the namespace address sets.
pub fn build(
    nb: &mut Nb,
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
            let info = build_one(nb, objs, pods, &ns);
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

/// The address set of one namespace (which [`exists`]).
pub fn build_one(
    nb: &mut Nb,
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
    let (as_name, ids) = address_set_ids("Namespace", ns);
    let ips: Vec<String> = crate::pods::in_namespace(pods, ns)
        .map(|p| p.ip.to_string())
        .collect();
    let row = nb.add(
        NbRow::new(
            "Address_Set",
            format!(
                "{}/{ns}#address-set",
                if objs.namespaces.contains_key(ns) {
                    "Namespace"
                } else {
                    "PodNamespace"
                }
            ),
        )
        .str("name", &as_name)
        .map("external_ids", ids)
        .strs("addresses", ips),
    );
    NamespaceInfo {
        labels,
        address_set: as_name,
        row,
    }
}
