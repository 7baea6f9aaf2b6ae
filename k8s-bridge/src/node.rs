//! `ovnflow node`: the node side of provider networks. For each
//! `ProviderNetwork` whose node selector picks this node, the NIC is
//! attached to an OVS bridge `br-<nic>` (one per NIC, so VLAN networks
//! sharing a NIC share the bridge; OVN's localnet port tags and untags
//! the VLAN) and `ovn-bridge-mappings` maps the network name (the
//! localnet port's `network_name`) to that bridge. Mappings of other
//! networks are kept. Idempotent; uses `ovs-vsctl`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::manifest::Objects;
use crate::nodus::networks::provider;

/// One bridge to wire: its NIC and the networks mapped to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bridge {
    /// The bridge name.
    pub name: String,
    /// The NIC attached to it.
    pub nic: String,
    /// Provider networks mapped to it.
    pub networks: Vec<String>,
}

/// The bridge for a NIC: `br-<nic>`, or `br-` and a hash when that would
/// be longer than the kernel's 15 characters.
pub fn bridge_name(nic: &str) -> String {
    let n = format!("br-{nic}");
    if n.len() <= 15 {
        n
    } else {
        let h = crate::names::hash_for_ovn(nic);
        format!("br-{}", &h[h.len() - 12..])
    }
}

/// The bridges a node needs, by bridge name.
pub fn plan(objs: &Objects, node: &str) -> Result<Vec<Bridge>> {
    let n = objs.nodes.get(node).ok_or_else(|| Error::Config {
        flag: "--node".into(),
        message: format!("no Node {node:?} in the manifests (its labels pick the networks)"),
    })?;
    let mut out: BTreeMap<String, Bridge> = BTreeMap::new();
    for (name, pn) in &objs.provider_networks {
        let one = BTreeMap::from([(node.to_string(), n.clone())]);
        let p = provider(&pn.obj.spec, &one).map_err(|(f, m)| Error::Invalid {
            at: Box::new(pn.source.clone()),
            kind: "ProviderNetwork".into(),
            name: name.clone(),
            field: f,
            message: m,
        })?;
        if !p.nodes.contains(node) {
            continue;
        }
        let b = bridge_name(&p.interface);
        out.entry(b.clone())
            .or_insert_with(|| Bridge {
                name: b,
                nic: p.interface.clone(),
                networks: Vec::new(),
            })
            .networks
            .push(name.clone());
    }
    Ok(out.into_values().collect())
}

/// Merges `bridges` into an existing `ovn-bridge-mappings` value:
/// networks not in `managed` are kept, managed ones point at their bridge.
pub fn merge_mappings(existing: &str, bridges: &[Bridge], managed: &[String]) -> String {
    let mut m: BTreeMap<String, String> = existing
        .split(',')
        .filter_map(|kv| kv.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !managed.contains(k))
        .collect();
    for b in bridges {
        for n in &b.networks {
            m.insert(n.clone(), b.name.clone());
        }
    }
    m.into_iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Wires the node: bridges, NICs, mappings. `datapath_type` is set on the
/// bridges when given (e.g. `netdev` for the userspace datapath).
pub fn apply(
    objs: &Objects,
    node: &str,
    ovs_db: &str,
    datapath_type: Option<&str>,
    no_wait: bool,
) -> Result<Vec<Bridge>> {
    let bridges = plan(objs, node)?;
    let vsctl = |args: &[&str]| -> Result<String> {
        let db = format!("--db={ovs_db}");
        let mut all = vec![db.as_str(), "--timeout=30"];
        if no_wait {
            all.push("--no-wait");
        }
        all.extend_from_slice(args);
        crate::cni::netns::run("ovs-vsctl", &all).map_err(|m| Error::Io {
            path: ovs_db.to_string(),
            message: m,
        })
    };
    for b in &bridges {
        let mut args = vec!["--", "--may-exist", "add-br", &b.name];
        let dp = datapath_type.map(|d| format!("datapath_type={d}"));
        if let Some(dp) = &dp {
            args.extend(["--", "set", "Bridge", &b.name, dp.as_str()]);
        }
        args.extend(["--", "--may-exist", "add-port", &b.name, &b.nic]);
        vsctl(&args)?;
    }
    let existing = vsctl(&[
        "--if-exists",
        "get",
        "Open_vSwitch",
        ".",
        "external_ids:ovn-bridge-mappings",
    ])?;
    let managed: Vec<String> = objs.provider_networks.keys().cloned().collect();
    let merged = merge_mappings(existing.trim().trim_matches('"'), &bridges, &managed);
    if merged.is_empty() {
        vsctl(&[
            "remove",
            "Open_vSwitch",
            ".",
            "external_ids",
            "ovn-bridge-mappings",
        ])?;
    } else {
        vsctl(&[
            "set",
            "Open_vSwitch",
            ".",
            &format!("external_ids:ovn-bridge-mappings=\"{merged}\""),
        ])?;
    }
    Ok(bridges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_keep_foreign_entries() {
        let b = [Bridge {
            name: "br-eth1".into(),
            nic: "eth1".into(),
            networks: vec!["pnet".into()],
        }];
        assert_eq!(
            merge_mappings(
                "physnet:breth0,pnet:br-old,gone:br-x",
                &b,
                &["pnet".into(), "gone".into()]
            ),
            "physnet:breth0,pnet:br-eth1"
        );
        assert_eq!(bridge_name("eth1"), "br-eth1");
        assert_eq!(bridge_name("a-very-long-nic0").len(), 15);
    }
}
