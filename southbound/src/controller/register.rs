//! Registering the chassis in the Southbound database, as
//! ovn-controller 23.03 does in `controller/chassis.c` (`chassis_run`,
//! `chassis_private_run`): a `Chassis` row named after `system-id` with its
//! `Encap` rows (one per encapsulation type and IP, `csum` from
//! `ovn-encap-csum`), the `other_config` keys ovn-controller publishes
//! (notably `port-up-notif=true`, which tells northd to trust
//! `Port_Binding.up`), and a `Chassis_Private` row where `nb_cfg` is
//! acknowledged.  An existing row with our name is adopted and only the
//! columns that differ are written, so taking over from ovn-controller (or
//! handing back to it) keeps the same rows.

use std::collections::BTreeMap;

use ovsdb::sb::{Chassis, ChassisPrivate, Encap};
use ovsdb::Uuid;
use serde_json::{json, Value};

use super::ops;
use super::ovs::LocalConfig;

/// What registration compares against: our rows as the SB holds them.
#[derive(Debug, Default)]
pub struct Existing<'a> {
    /// The `Chassis` row named `system-id`.
    pub chassis: Option<&'a Chassis>,
    /// Its `Encap` rows.
    pub encaps: Vec<&'a Encap>,
    /// The `Chassis_Private` row named `system-id`.
    pub private: Option<&'a ChassisPrivate>,
}

/// `Chassis:other_config` as ovn-controller 23.03 fills it
/// (`chassis_build_other_config`), from `Open_vSwitch` external_ids, the
/// bridge's datapath type and the interface types OVS supports.
pub fn other_config(
    ovs_ids: &BTreeMap<String, String>,
    datapath_type: &str,
    iface_types: &[String],
) -> BTreeMap<String, String> {
    let get = |k: &str| ovs_ids.get(k).cloned().unwrap_or_default();
    let mut types = iface_types.to_vec();
    types.sort();
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put("ovn-bridge-mappings", get("ovn-bridge-mappings"));
    put(
        "datapath-type",
        if datapath_type.is_empty() {
            "system".to_string()
        } else {
            datapath_type.to_string()
        },
    );
    put("iface-types", types.join(","));
    put("ovn-cms-options", get("ovn-cms-options"));
    put(
        "ovn-monitor-all",
        ovs_ids
            .get("ovn-monitor-all")
            .cloned()
            .unwrap_or_else(|| "false".into()),
    );
    put(
        "ovn-enable-lflow-cache",
        ovs_ids
            .get("ovn-enable-lflow-cache")
            .cloned()
            .unwrap_or_else(|| "true".into()),
    );
    for k in [
        "ovn-limit-lflow-cache",
        "ovn-memlimit-lflow-cache-kb",
        "ovn-trim-limit-lflow-cache",
        "ovn-trim-wmark-perc-lflow-cache",
        "ovn-trim-timeout-ms",
        "ovn-chassis-mac-mappings",
    ] {
        put(k, get(k));
    }
    put(
        "is-interconn",
        ovs_ids
            .get("ovn-is-interconn")
            .cloned()
            .unwrap_or_else(|| "false".into()),
    );
    put("port-up-notif", "true".into());
    put("mac-binding-timestamp", "true".into());
    put("ct-no-masked-label", "true".into());
    put("ovn-ct-lb-related", "true".into());
    m
}

/// The encapsulations we publish: (type, ip, options).
pub fn wanted_encaps(cfg: &LocalConfig) -> Vec<(String, String, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    for t in &cfg.encap_types {
        for ip in &cfg.encap_ips {
            let mut options = BTreeMap::new();
            options.insert("csum".to_string(), cfg.encap_csum.to_string());
            out.push((t.clone(), ip.clone(), options));
        }
    }
    out.sort();
    out
}

/// The operations that make the SB hold our `Chassis`, `Encap`s and
/// `Chassis_Private` as configured (empty when it already does).
pub fn ops(
    cfg: &LocalConfig,
    other_config: &BTreeMap<String, String>,
    have: &Existing<'_>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let encaps = wanted_encaps(cfg);
    let mut have_encaps: Vec<(String, String, BTreeMap<String, String>)> = have
        .encaps
        .iter()
        .map(|e| (e.type_.clone(), e.ip.clone(), e.options.clone()))
        .collect();
    have_encaps.sort();
    let encaps_ok =
        have_encaps == encaps && have.encaps.iter().all(|e| e.chassis_name == cfg.system_id);
    let mut encap_refs = Vec::new();
    if !encaps_ok {
        for (i, (t, ip, options)) in encaps.iter().enumerate() {
            let name = format!("encap{i}");
            out.push(ops::insert(
                "Encap",
                &name,
                json!({"type": t, "ip": ip, "options": ops::map(options), "chassis_name": cfg.system_id}),
            ));
            encap_refs.push(ops::named(&name));
        }
    }
    let chassis_ref = match have.chassis {
        None => {
            out.push(ops::wait_absent("Chassis", "name", json!(cfg.system_id)));
            out.push(ops::insert(
                "Chassis",
                "chassis",
                json!({
                    "name": cfg.system_id,
                    "hostname": cfg.hostname,
                    "encaps": ops::set(encap_refs),
                    "other_config": ops::map(other_config),
                    "transport_zones": ops::str_set(&cfg.transport_zones),
                }),
            ));
            ops::named("chassis")
        }
        Some(c) => {
            let mut row = serde_json::Map::new();
            if c.hostname != cfg.hostname {
                row.insert("hostname".into(), json!(cfg.hostname));
            }
            if !encaps_ok {
                row.insert("encaps".into(), ops::set(encap_refs));
            }
            if &c.other_config != other_config {
                row.insert("other_config".into(), ops::map(other_config));
            }
            let mut tz = cfg.transport_zones.clone();
            tz.sort();
            if c.transport_zones != tz {
                row.insert("transport_zones".into(), ops::str_set(&tz));
            }
            if !row.is_empty() {
                out.push(ops::update("Chassis", &c.uuid, Value::Object(row)));
            }
            ops::uuid(&c.uuid)
        }
    };
    match have.private {
        None => {
            out.push(ops::wait_absent(
                "Chassis_Private",
                "name",
                json!(cfg.system_id),
            ));
            out.push(ops::insert(
                "Chassis_Private",
                "chassis_private",
                json!({"name": cfg.system_id, "chassis": chassis_ref}),
            ));
        }
        Some(p) if Some(p.chassis) != have.chassis.map(|c| Some(c.uuid)) => {
            out.push(ops::update(
                "Chassis_Private",
                &p.uuid,
                json!({"chassis": chassis_ref}),
            ));
        }
        Some(_) => {}
    }
    if !out.is_empty() {
        out.insert(
            0,
            ops::comment(&format!(
                "ovnflow controller: registering chassis '{}'",
                cfg.system_id
            )),
        );
    }
    out
}

/// The uuids of the `Chassis` and `Chassis_Private` rows that `ops` (as
/// [`ops`] makes them) inserted, read from the transaction's `results`
/// (one per operation, in order: an insert's is `{"uuid": ["uuid", U]}`).
pub fn inserted(ops: &[Value], results: &[Value]) -> (Option<Uuid>, Option<Uuid>) {
    let mut chassis = None;
    let mut private = None;
    for (op, result) in ops.iter().zip(results) {
        if op["op"] != "insert" {
            continue;
        }
        let uuid = result["uuid"][1]
            .as_str()
            .and_then(|u| Uuid::parse_str(u).ok());
        match op["table"].as_str() {
            Some("Chassis") => chassis = uuid,
            Some("Chassis_Private") => private = uuid,
            _ => {}
        }
    }
    (chassis, private)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::Uuid;

    fn cfg() -> LocalConfig {
        LocalConfig {
            system_id: "hv1".into(),
            hostname: "hv1".into(),
            remote: "unix:/x".into(),
            encap_types: vec!["geneve".into()],
            encap_ips: vec!["127.0.0.1".into()],
            encap_csum: true,
            bridge: "br-int".into(),
            bridge_mappings: BTreeMap::new(),
            datapath_type: String::new(),
            transport_zones: Vec::new(),
            cms_options: String::new(),
        }
    }

    #[test]
    fn fresh_chassis_inserts_three_kinds_of_rows() {
        let oc = other_config(&BTreeMap::new(), "", &["internal".into()]);
        let o = ops(&cfg(), &oc, &Existing::default());
        let tables: Vec<&str> = o
            .iter()
            .filter(|op| op["op"] == "insert")
            .map(|op| op["table"].as_str().unwrap())
            .collect();
        assert_eq!(tables, ["Encap", "Chassis", "Chassis_Private"]);
        assert_eq!(oc["port-up-notif"], "true");
        assert_eq!(oc["datapath-type"], "system");
    }

    #[test]
    fn inserted_rows_are_read_from_the_results() {
        let oc = other_config(&BTreeMap::new(), "", &[]);
        let o = ops(&cfg(), &oc, &Existing::default());
        // As ovsdb-server answers: `{}` for a comment or a wait, the new
        // row's uuid for an insert (numbered here by position).
        let id = |i: usize| Uuid::from_u128(i as u128 + 1);
        let results: Vec<Value> = o
            .iter()
            .enumerate()
            .map(|(i, op)| match op["op"].as_str() {
                Some("insert") => json!({"uuid": ["uuid", id(i).to_string()]}),
                _ => json!({}),
            })
            .collect();
        let insert_into = |table: &str| {
            o.iter()
                .position(|op| op["op"] == "insert" && op["table"] == table)
                .map(id)
        };
        let want = (insert_into("Chassis"), insert_into("Chassis_Private"));
        assert!(want.0.is_some() && want.1.is_some() && want.0 != want.1);
        assert_eq!(inserted(&o, &results), want);
        // A failed or short reply names nothing.
        assert_eq!(inserted(&o, &[]), (None, None));
    }

    #[test]
    fn adopted_rows_that_match_need_nothing() {
        let c = cfg();
        let oc = other_config(&BTreeMap::new(), "", &[]);
        let encap = Encap {
            uuid: Uuid::from_u128(2),
            chassis_name: "hv1".into(),
            ip: "127.0.0.1".into(),
            options: [("csum".to_string(), "true".to_string())].into(),
            type_: "geneve".into(),
        };
        let chassis = Chassis {
            uuid: Uuid::from_u128(1),
            encaps: vec![encap.uuid],
            external_ids: BTreeMap::new(),
            hostname: "hv1".into(),
            name: "hv1".into(),
            nb_cfg: 0,
            other_config: oc.clone(),
            transport_zones: vec![],
            vtep_logical_switches: vec![],
        };
        let private = ChassisPrivate {
            uuid: Uuid::from_u128(3),
            chassis: Some(chassis.uuid),
            external_ids: BTreeMap::new(),
            name: "hv1".into(),
            nb_cfg: 0,
            nb_cfg_timestamp: 0,
        };
        let have = Existing {
            chassis: Some(&chassis),
            encaps: vec![&encap],
            private: Some(&private),
        };
        assert!(ops(&c, &oc, &have).is_empty());
        let mut c2 = c.clone();
        c2.encap_ips = vec!["10.0.0.1".into()];
        let o = ops(&c2, &oc, &have);
        assert!(o
            .iter()
            .any(|op| op["op"] == "insert" && op["table"] == "Encap"));
        assert!(o
            .iter()
            .any(|op| op["op"] == "update" && op["table"] == "Chassis"));
    }
}
