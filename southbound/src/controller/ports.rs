//! OVS ports ovn-controller 23.03 manages:
//!
//! * the integration bridge itself when missing (`create_br_int`,
//!   ovn-controller.c): `fail_mode=secure`, `other_config:disable-in-band`,
//!   `datapath_type` from `ovn-bridge-datapath-type`;
//! * patch ports (`controller/patch.c`): for every localnet port of a
//!   local datapath whose `network_name` is in `ovn-bridge-mappings`, a
//!   pair `patch-br-int-to-LPORT` ↔ `patch-LPORT-to-br-int` tagged
//!   `external_ids:ovn-localnet-port=LPORT`; stale pairs are removed;
//! * tunnel ports (`controller/encaps.c`): one per other chassis and
//!   encapsulation IP of the preferred common type (geneve, then stt, then
//!   vxlan), named `ovn-CHASSI-N`, `options:remote_ip`, `key=flow` (and
//!   `csum`, `dst_port` from the remote `Encap`), tagged
//!   `external_ids:ovn-chassis-id=CHASSIS@IP`; stale ones are removed.
//!   (`ovn-chassis-idx`, `local_ip`, `tos`, `df_default` and IPsec are not
//!   handled.)

use std::collections::{BTreeMap, BTreeSet};

use ovsdb::Uuid;
use serde_json::{json, Value};

use super::ops;
use super::ovs::{ofport, LocalConfig, OvsView};
use crate::chassis::{Tunnel, TunnelType};
use crate::local::Local;
use crate::sbdb::Southbound;

/// One port we want on a bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedPort {
    /// Bridge name.
    pub bridge: String,
    /// Port and interface name.
    pub name: String,
    /// Interface type.
    pub iface_type: String,
    /// Interface options.
    pub options: BTreeMap<String, String>,
    /// Port external_ids (the ownership tag).
    pub external_ids: BTreeMap<String, String>,
}

fn kv(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Operations that create the integration bridge.
pub fn create_bridge_ops(ovs: &OvsView, cfg: &LocalConfig) -> Vec<Value> {
    let Some(root) = &ovs.root else {
        return Vec::new();
    };
    vec![
        ops::comment(&format!(
            "ovnflow controller: creating integration bridge {}",
            cfg.bridge
        )),
        ops::wait_absent("Bridge", "name", json!(cfg.bridge)),
        ops::insert(
            "Interface",
            "iface",
            json!({"name": cfg.bridge, "type": "internal"}),
        ),
        ops::insert(
            "Port",
            "port",
            json!({"name": cfg.bridge, "interfaces": ops::named("iface")}),
        ),
        ops::insert(
            "Bridge",
            "bridge",
            json!({
                "name": cfg.bridge,
                "fail_mode": "secure",
                "ports": ops::named("port"),
                "datapath_type": cfg.datapath_type,
                "other_config": ops::map(&kv(&[("disable-in-band", "true")])),
            }),
        ),
        ops::mutate(
            "Open_vSwitch",
            &root.uuid,
            vec![json!([
                "bridges",
                "insert",
                ops::set(vec![ops::named("bridge")])
            ])],
        ),
    ]
}

/// The patch ports for the local localnet ports.
pub fn wanted_patch_ports(
    sb: &Southbound,
    local: &Local,
    cfg: &LocalConfig,
    ovs: &OvsView,
) -> Vec<WantedPort> {
    let mut out = Vec::new();
    for pb in sb.port_bindings.values() {
        if pb.type_ != "localnet" {
            continue;
        }
        let Some(dp) = sb.datapath(&pb.datapath) else {
            continue;
        };
        if !local.datapaths.contains_key(&dp.tunnel_key) {
            continue;
        }
        let Some(provider) = pb
            .options
            .get("network_name")
            .and_then(|n| cfg.bridge_mappings.get(n))
        else {
            continue;
        };
        if !ovs.bridges.contains_key(provider) {
            continue;
        }
        let lp = &pb.logical_port;
        let a = format!("patch-{}-to-{lp}", cfg.bridge);
        let b = format!("patch-{lp}-to-{}", cfg.bridge);
        let tag = kv(&[("ovn-localnet-port", lp)]);
        out.push(WantedPort {
            bridge: cfg.bridge.clone(),
            name: a.clone(),
            iface_type: "patch".into(),
            options: kv(&[("peer", &b)]),
            external_ids: tag.clone(),
        });
        out.push(WantedPort {
            bridge: provider.clone(),
            name: b,
            iface_type: "patch".into(),
            options: kv(&[("peer", &a)]),
            external_ids: tag,
        });
    }
    out
}

/// The tunnel ports to the other chassis.
pub fn wanted_tunnels(sb: &Southbound, cfg: &LocalConfig) -> Vec<WantedPort> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for ch in sb.chassis.values() {
        if ch.name == cfg.system_id {
            continue;
        }
        let encaps: Vec<_> = ch.encaps.iter().filter_map(|e| sb.encaps.get(e)).collect();
        let Some(ty) = ["geneve", "stt", "vxlan"].into_iter().find(|t| {
            cfg.encap_types.iter().any(|x| x == t) && encaps.iter().any(|e| e.type_ == *t)
        }) else {
            continue;
        };
        for e in encaps.iter().filter(|e| e.type_ == ty) {
            let name = (0..)
                .map(|i| format!("ovn-{}-{i:x}", ch.name.chars().take(6).collect::<String>()))
                .find(|n| !names.contains(n))
                .unwrap_or_default();
            names.insert(name.clone());
            let mut options = kv(&[("remote_ip", &e.ip), ("key", "flow")]);
            if let Some(c) = e
                .options
                .get("csum")
                .filter(|c| *c == "true" || *c == "false")
            {
                options.insert("csum".into(), c.clone());
            }
            if let Some(p) = e.options.get("dst_port") {
                options.insert("dst_port".into(), p.clone());
            }
            out.push(WantedPort {
                bridge: cfg.bridge.clone(),
                name,
                iface_type: ty.to_string(),
                options,
                external_ids: kv(&[("ovn-chassis-id", &format!("{}@{}", ch.name, e.ip))]),
            });
        }
    }
    out
}

/// Operations that make the ports tagged with `tag` (an external_ids key)
/// on the bridges equal `wanted`: matching ports are kept, others deleted,
/// missing ones created.
pub fn sync_ops(ovs: &OvsView, tag: &str, wanted: &[WantedPort]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut keep: BTreeSet<Uuid> = BTreeSet::new();
    let mut n = 0;
    for w in wanted {
        let existing = ovs.bridge_port(&w.bridge, &w.name).filter(|p| {
            p.external_ids.get(tag) == w.external_ids.get(tag)
                && p.interfaces.len() == 1
                && ovs
                    .interfaces
                    .get(&p.interfaces[0])
                    .is_some_and(|i| i.type_ == w.iface_type && i.options == w.options)
        });
        if let Some(p) = existing {
            keep.insert(p.uuid);
            continue;
        }
        let Some(br) = ovs.bridges.get(&w.bridge) else {
            continue;
        };
        // A same-named port without our tag or with other settings goes.
        if let Some(p) = ovs.bridge_port(&w.bridge, &w.name) {
            out.push(ops::mutate(
                "Bridge",
                &br.uuid,
                vec![json!([
                    "ports",
                    "delete",
                    ops::set(vec![ops::uuid(&p.uuid)])
                ])],
            ));
            keep.insert(p.uuid);
        }
        let (i, p) = (format!("i{n}"), format!("p{n}"));
        n += 1;
        out.push(ops::insert(
            "Interface",
            &i,
            json!({"name": w.name, "type": w.iface_type, "options": ops::map(&w.options)}),
        ));
        out.push(ops::insert(
            "Port",
            &p,
            json!({"name": w.name, "interfaces": ops::named(&i), "external_ids": ops::map(&w.external_ids)}),
        ));
        out.push(ops::mutate(
            "Bridge",
            &br.uuid,
            vec![json!(["ports", "insert", ops::set(vec![ops::named(&p)])])],
        ));
    }
    for br in ovs.bridges.values() {
        for pu in &br.ports {
            let Some(p) = ovs.ports.get(pu) else { continue };
            if p.external_ids.contains_key(tag) && !keep.contains(pu) {
                out.push(ops::mutate(
                    "Bridge",
                    &br.uuid,
                    vec![json!(["ports", "delete", ops::set(vec![ops::uuid(pu)])])],
                ));
            }
        }
    }
    out
}

/// The tunnel ports to other chassis on `bridge` (ours or ovn-controller's:
/// tagged `external_ids:ovn-chassis-id=CHASSIS@IP` or `=CHASSIS`), by
/// chassis name, with their OpenFlow port and type; of several to one
/// chassis, the lowest port (`chassis_tunnel_find` without an encap IP).
pub fn tunnel_ofports(ovs: &OvsView, bridge: &str) -> BTreeMap<String, Tunnel> {
    let mut out: BTreeMap<String, Tunnel> = BTreeMap::new();
    let Some(br) = ovs.bridges.get(bridge) else {
        return out;
    };
    for p in br.ports.iter().filter_map(|p| ovs.ports.get(p)) {
        let Some(id) = p.external_ids.get("ovn-chassis-id") else {
            continue;
        };
        let chassis = id.split_once('@').map_or(id.as_str(), |(c, _)| c);
        for i in p.interfaces.iter().filter_map(|i| ovs.interfaces.get(i)) {
            let kind = match i.type_.as_str() {
                "geneve" => TunnelType::Geneve,
                "stt" => TunnelType::Stt,
                "vxlan" => TunnelType::Vxlan,
                _ => continue,
            };
            let Some(ofport) = ofport(i) else {
                continue;
            };
            let t = Tunnel { ofport, kind };
            match out.get(chassis) {
                Some(old) if old.ofport < t.ofport => {}
                _ => {
                    out.insert(chassis.to_string(), t);
                }
            }
        }
    }
    out
}

/// Localnet port → OpenFlow port of its patch port on the integration
/// bridge (`patch_ofports` for the physical flows).
pub fn patch_ofports(ovs: &OvsView, bridge: &str) -> BTreeMap<String, u16> {
    let mut out = BTreeMap::new();
    let Some(br) = ovs.bridges.get(bridge) else {
        return out;
    };
    for p in br.ports.iter().filter_map(|p| ovs.ports.get(p)) {
        let Some(lp) = p.external_ids.get("ovn-localnet-port") else {
            continue;
        };
        if let Some(ofport) = p
            .interfaces
            .iter()
            .filter_map(|i| ovs.interfaces.get(i))
            .find_map(ofport)
        {
            out.insert(lp.clone(), ofport);
        }
    }
    out
}
