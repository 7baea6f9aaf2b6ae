//! Namespaces (fact sheet §6): one address set per namespace, owner type
//! `Namespace`, holding the IPs of the namespace's wired pods. Namespaces
//! that pods use without a Namespace object get one too (ovn-kubernetes
//! creates it lazily on the first pod).

use std::collections::BTreeMap;

use crate::manifest::Objects;
use crate::model::{Nb, NbRow, RowId};
use crate::names::address_set_ids;
use crate::pods::PodInfo;

/// A namespace as the policy module sees it.
#[derive(Clone, Debug)]
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
    let mut names: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (name, ns) in &objs.namespaces {
        names.insert(
            name.clone(),
            ns.obj.metadata.labels.clone().unwrap_or_default(),
        );
    }
    for p in pods.values() {
        names.entry(p.namespace.clone()).or_default();
    }
    for p in objs.pods.values() {
        names
            .entry(crate::manifest::namespace_of(&p.obj.metadata).to_string())
            .or_default();
    }
    let mut out = BTreeMap::new();
    for (ns, mut labels) in names {
        labels.insert("kubernetes.io/metadata.name".into(), ns.clone());
        let (as_name, ids) = address_set_ids("Namespace", &ns);
        let ips: Vec<String> = pods
            .values()
            .filter(|p| p.namespace == ns)
            .map(|p| p.ip.to_string())
            .collect();
        let row = nb.add(
            NbRow::new(
                "Address_Set",
                format!(
                    "{}/{ns}#address-set",
                    if objs.namespaces.contains_key(&ns) {
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
        out.insert(
            ns,
            NamespaceInfo {
                labels,
                address_set: as_name,
                row,
            },
        );
    }
    out
}
