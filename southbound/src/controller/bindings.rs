//! Port binding duties of a chassis (ovn-controller 23.03
//! `controller/binding.c`, `if-status.c`, and the `nb_cfg` report of
//! `ovn-controller.c`), computed after the flows of an SB snapshot were
//! installed:
//!
//! * claim: a logical port whose `iface-id` is on a local interface (and
//!   that may bind here, `requested-chassis`) gets `chassis` = us;
//!   `l3gateway` ports whose `l3gateway-chassis` is us likewise;
//! * `up`: claimed ports whose flows are installed get `up=true`, and their
//!   interface `external_ids:ovn-installed=true` (+ `ovn-installed-ts`);
//! * release: ports bound to us whose interface went away get
//!   `chassis=[]`, `up=false`, and lose `ovn-installed`;
//! * `nb_cfg`: `Chassis_Private.nb_cfg` (+ `nb_cfg_timestamp`) follows
//!   `SB_Global.nb_cfg` once the flows for that configuration are
//!   installed, which is what `ovn-nbctl --wait=hv` waits for; the bridge's
//!   `external_ids:ovn-nb-cfg` mirrors it.

use std::collections::{BTreeMap, BTreeSet};

use ovsdb::sb::ChassisPrivate;
use ovsdb::Uuid;
use serde_json::{json, Value};

use super::ops;
use super::ovs::LocalIface;
use crate::sbdb::Southbound;

/// What changed in the SB for bindings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BindingChanges {
    /// Ports claimed now.
    pub claimed: Vec<String>,
    /// Ports released now.
    pub released: Vec<String>,
    /// Ports set `up`.
    pub up: Vec<String>,
}

/// Whether a port of this type is claimed by the chassis that has its VIF.
fn is_vif(type_: &str) -> bool {
    type_.is_empty()
}

/// SB operations for claims, releases and `up` (see the module doc).
/// `bound`: the logical ports bound to local interfaces that may bind
/// here (the flows just installed include them).
pub fn sb_ops(
    sb: &Southbound,
    me: Uuid,
    system_id: &str,
    bound: &BTreeSet<String>,
) -> (Vec<Value>, BindingChanges) {
    let mut out = Vec::new();
    let mut ch = BindingChanges::default();
    for pb in sb.port_bindings.values() {
        let ours_now = pb.chassis == Some(me);
        let want = (is_vif(&pb.type_) && bound.contains(&pb.logical_port))
            || (pb.type_ == "l3gateway"
                && pb.options.get("l3gateway-chassis").map(String::as_str) == Some(system_id));
        let mut row = serde_json::Map::new();
        if want {
            if !ours_now {
                row.insert("chassis".into(), ops::uuid(&me));
                ch.claimed.push(pb.logical_port.clone());
            }
            if pb.up != Some(true) {
                row.insert("up".into(), json!(true));
                ch.up.push(pb.logical_port.clone());
            }
        } else if ours_now && (is_vif(&pb.type_) || pb.type_ == "l3gateway") {
            row.insert("chassis".into(), ops::set(vec![]));
            row.insert("up".into(), json!(false));
            ch.released.push(pb.logical_port.clone());
        }
        if !row.is_empty() {
            out.push(ops::update("Port_Binding", &pb.uuid, Value::Object(row)));
        }
    }
    (out, ch)
}

/// The `nb_cfg` acknowledgement, if `Chassis_Private` lags `SB_Global`.
pub fn nb_cfg_op(private: &ChassisPrivate, sb_nb_cfg: i64, now_ms: i64) -> Option<Value> {
    (private.nb_cfg != sb_nb_cfg).then(|| {
        ops::update(
            "Chassis_Private",
            &private.uuid,
            json!({"nb_cfg": sb_nb_cfg, "nb_cfg_timestamp": now_ms}),
        )
    })
}

/// OVS operations: `ovn-installed` on the interfaces of `bound` ports,
/// removed from interfaces no longer bound.
pub fn ovs_ops(
    vifs: &BTreeMap<String, LocalIface>,
    bound: &BTreeSet<String>,
    now_ms: i64,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (lport, iface) in vifs {
        let want = bound.contains(lport);
        if want && !iface.installed {
            out.push(ops::mutate(
                "Interface",
                &iface.uuid,
                vec![
                    json!([
                        "external_ids",
                        "delete",
                        ops::str_set(&["ovn-installed".into(), "ovn-installed-ts".into()])
                    ]),
                    json!([
                        "external_ids",
                        "insert",
                        ops::map(&BTreeMap::from([
                            ("ovn-installed".to_string(), "true".to_string()),
                            ("ovn-installed-ts".to_string(), now_ms.to_string()),
                        ]))
                    ]),
                ],
            ));
        } else if !want && iface.installed {
            out.push(ops::mutate(
                "Interface",
                &iface.uuid,
                vec![json!([
                    "external_ids",
                    "delete",
                    ops::str_set(&["ovn-installed".into(), "ovn-installed-ts".into()])
                ])],
            ));
        }
    }
    out
}

/// OVS operations that make the bridge's `ct-zone-*` keys equal `zones`
/// (and record `ovn-nb-cfg`), touching only what differs.
pub fn bridge_ops(
    bridge: Uuid,
    have: &BTreeMap<String, u32>,
    zones: &BTreeMap<String, u32>,
    nb_cfg: Option<(i64, i64)>,
) -> Vec<Value> {
    let mut del: Vec<String> = Vec::new();
    let mut ins: BTreeMap<String, String> = BTreeMap::new();
    for (u, z) in have {
        if zones.get(u) != Some(z) {
            del.push(format!("ct-zone-{u}"));
        }
    }
    for (u, z) in zones {
        if have.get(u) != Some(z) {
            ins.insert(format!("ct-zone-{u}"), z.to_string());
        }
    }
    if let Some((cfg, ts)) = nb_cfg {
        del.push("ovn-nb-cfg".into());
        del.push("ovn-nb-cfg-ts".into());
        ins.insert("ovn-nb-cfg".into(), cfg.to_string());
        ins.insert("ovn-nb-cfg-ts".into(), ts.to_string());
    }
    if del.is_empty() && ins.is_empty() {
        return Vec::new();
    }
    let mut m = Vec::new();
    if !del.is_empty() {
        m.push(json!(["external_ids", "delete", ops::str_set(&del)]));
    }
    if !ins.is_empty() {
        m.push(json!(["external_ids", "insert", ops::map(&ins)]));
    }
    vec![ops::mutate("Bridge", &bridge, m)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_keys_change_only_where_they_differ() {
        let b = Uuid::from_u128(9);
        let have: BTreeMap<String, u32> = [("a".to_string(), 1), ("b".to_string(), 2)].into();
        assert!(bridge_ops(b, &have, &have, None).is_empty());
        let want: BTreeMap<String, u32> = [("a".to_string(), 1), ("c".to_string(), 2)].into();
        let o = bridge_ops(b, &have, &want, None);
        let text = o[0].to_string();
        assert!(
            text.contains("ct-zone-b") && text.contains("ct-zone-c"),
            "{text}"
        );
        assert!(!text.contains("ct-zone-a"), "{text}");
    }

    #[test]
    fn nb_cfg_acknowledged_only_when_behind() {
        let p = ChassisPrivate {
            uuid: Uuid::from_u128(1),
            chassis: None,
            external_ids: BTreeMap::new(),
            name: "hv1".into(),
            nb_cfg: 3,
            nb_cfg_timestamp: 0,
        };
        assert!(nb_cfg_op(&p, 3, 5).is_none());
        let op = nb_cfg_op(&p, 4, 5).unwrap();
        assert_eq!(op["row"]["nb_cfg"], 4);
    }
}
