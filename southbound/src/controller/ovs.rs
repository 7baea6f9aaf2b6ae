//! The chassis's own Open_vSwitch database as ovn-controller 23.03 reads
//! it (`controller/ovn-controller.c`, `chassis.c`, `binding.c`): the
//! settings in `Open_vSwitch:external_ids`, the integration bridge, its
//! interfaces bound to logical ports (`external_ids:iface-id` with an
//! `ofport`), and the conntrack zones it keeps in
//! `Bridge:external_ids:ct-zone-*`.

use std::collections::BTreeMap;

use ovsdb::typed::TypedRow;
use ovsdb::vswitch::{Bridge, Interface, OpenVswitch, Port};
use ovsdb::{Database, RowChange, Uuid};

use super::{typed_row, ControllerError};
use crate::chassis::{Chassis, Tunnel};

/// The chassis settings from `Open_vSwitch:external_ids`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// `system-id`: the chassis name.
    pub system_id: String,
    /// `hostname` (default: the system's host name).
    pub hostname: String,
    /// `ovn-remote`: the Southbound database.
    pub remote: String,
    /// `ovn-encap-type` (comma-separated, e.g. `geneve,vxlan`).
    pub encap_types: Vec<String>,
    /// `ovn-encap-ip` (comma-separated).
    pub encap_ips: Vec<String>,
    /// `ovn-encap-csum` (default true).
    pub encap_csum: bool,
    /// `ovn-bridge` (default `br-int`).
    pub bridge: String,
    /// `ovn-bridge-mappings`: physical network → provider bridge.
    pub bridge_mappings: BTreeMap<String, String>,
    /// `ovn-bridge-datapath-type` (empty: unset).
    pub datapath_type: String,
    /// `ovn-transport-zones`.
    pub transport_zones: Vec<String>,
    /// `ovn-cms-options`.
    pub cms_options: String,
}

fn list(s: Option<&String>) -> Vec<String> {
    s.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()
    })
    .unwrap_or_default()
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

impl LocalConfig {
    /// Reads the settings; `Ok(None)` while `system-id` or `ovn-remote` is
    /// not set yet (ovn-controller waits for them too).
    pub fn from_external_ids(
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<LocalConfig>, ControllerError> {
        let get = |k: &str| ids.get(k).filter(|v| !v.is_empty());
        let (Some(system_id), Some(remote)) = (get("system-id"), get("ovn-remote")) else {
            return Ok(None);
        };
        let mut bridge_mappings = BTreeMap::new();
        for pair in list(get("ovn-bridge-mappings")) {
            let (net, br) = pair.split_once(':').ok_or_else(|| {
                ControllerError::Input(format!(
                    "Open_vSwitch external_ids:ovn-bridge-mappings: {pair:?} is not NETWORK:BRIDGE"
                ))
            })?;
            bridge_mappings.insert(net.to_string(), br.to_string());
        }
        let encap_types = list(get("ovn-encap-type"));
        for t in &encap_types {
            if !matches!(t.as_str(), "geneve" | "vxlan" | "stt") {
                return Err(ControllerError::Input(format!(
                    "Open_vSwitch external_ids:ovn-encap-type: unknown encapsulation {t:?}"
                )));
            }
        }
        Ok(Some(LocalConfig {
            system_id: system_id.clone(),
            hostname: get("hostname").cloned().unwrap_or_else(system_hostname),
            remote: remote.clone(),
            encap_types,
            encap_ips: list(get("ovn-encap-ip")),
            encap_csum: get("ovn-encap-csum").is_none_or(|v| v != "false"),
            bridge: get("ovn-bridge")
                .cloned()
                .unwrap_or_else(|| "br-int".to_string()),
            bridge_mappings,
            datapath_type: get("ovn-bridge-datapath-type").cloned().unwrap_or_default(),
            transport_zones: list(get("ovn-transport-zones")),
            cms_options: get("ovn-cms-options").cloned().unwrap_or_default(),
        }))
    }
}

/// A typed view of the Open_vSwitch database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OvsView {
    /// The `Open_vSwitch` row.
    pub root: Option<OpenVswitch>,
    /// Bridges by name.
    pub bridges: BTreeMap<String, Bridge>,
    /// Ports by UUID.
    pub ports: BTreeMap<Uuid, Port>,
    /// Interfaces by UUID.
    pub interfaces: BTreeMap<Uuid, Interface>,
}

fn typed<T: TypedRow>(db: &Database) -> Result<Vec<T>, ControllerError> {
    let Some(t) = db.table(T::TABLE) else {
        return Ok(Vec::new());
    };
    t.iter()
        .map(|(u, r)| T::from_row(*u, r).map_err(|e| ControllerError::Input(e.to_string())))
        .collect()
}

/// What each run reads of the integration bridge in an [`OvsView`]: its
/// VIFs, patch ports and stored conntrack zones. Kept until the view
/// changes, so that a Southbound change pays nothing per local port
/// before the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgePorts {
    /// The bridge read.
    pub bridge: String,
    /// [`OvsView::vifs`].
    pub vifs: BTreeMap<String, LocalIface>,
    /// The VIFs' OpenFlow ports, by logical port.
    pub vif_ports: BTreeMap<String, u16>,
    /// The localnet patch ports' OpenFlow ports, by logical port
    /// ([`super::ports::patch_ofports`]).
    pub patch_ofports: BTreeMap<String, u16>,
    /// [`OvsView::ct_zones`].
    pub ct_zones: BTreeMap<String, u32>,
    /// The tunnels to other chassis, by chassis name
    /// ([`super::ports::tunnel_ofports`]).
    pub tunnels: BTreeMap<String, Tunnel>,
}

impl BridgePorts {
    /// Reads `bridge` in `view`.
    pub fn read(view: &OvsView, bridge: &str) -> BridgePorts {
        let vifs = view.vifs(bridge);
        BridgePorts {
            bridge: bridge.to_string(),
            vif_ports: vifs.iter().map(|(k, v)| (k.clone(), v.ofport)).collect(),
            vifs,
            patch_ofports: super::ports::patch_ofports(view, bridge),
            ct_zones: view.ct_zones(bridge),
            tunnels: super::ports::tunnel_ofports(view, bridge),
        }
    }

    /// The chassis `name` with these ports and zones: what the engine's
    /// first compute starts from.
    pub fn chassis(&self, name: &str) -> Chassis {
        let mut chassis = Chassis::new(name);
        chassis.vifs = self.vif_ports.clone();
        chassis.patch_ofports = self.patch_ofports.clone();
        chassis.ct_zones = Some(self.ct_zones.clone());
        chassis.tunnels = self.tunnels.clone();
        chassis
    }
}

/// An interface's OpenFlow port, if it has one flows can name: not none
/// yet, not -1 (the interface failed), not one of the reserved ports from
/// 0xff00.
pub fn ofport(i: &Interface) -> Option<u16> {
    i.ofport
        .filter(|p| (1..0xff00).contains(p))
        .map(|p| p as u16)
}

/// A local interface bound to a logical port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIface {
    /// Interface UUID.
    pub uuid: Uuid,
    /// Interface name.
    pub name: String,
    /// OpenFlow port.
    pub ofport: u16,
    /// Whether `external_ids:ovn-installed` is `true`.
    pub installed: bool,
}

impl OvsView {
    /// Reads the tables ovn-controller uses.
    pub fn from_database(db: &Database) -> Result<OvsView, ControllerError> {
        Ok(OvsView {
            root: typed::<OpenVswitch>(db)?.into_iter().next(),
            bridges: typed::<Bridge>(db)?
                .into_iter()
                .map(|b| (b.name.clone(), b))
                .collect(),
            ports: typed::<Port>(db)?
                .into_iter()
                .map(|p| (p.uuid, p))
                .collect(),
            interfaces: typed::<Interface>(db)?
                .into_iter()
                .map(|i| (i.uuid, i))
                .collect(),
        })
    }

    /// Brings the view up to date with `changes` (as the database's
    /// replica gave them): only the changed rows are read again, so a
    /// change costs what it touches, where [`OvsView::from_database`]
    /// reads every interface of the chassis. The same view results. On an
    /// error (a row that does not read) the view is left part-updated:
    /// read it again from the database.
    pub fn apply(&mut self, changes: &[RowChange]) -> Result<(), ControllerError> {
        for c in changes {
            let uuid = c.uuid();
            let new = c.new_row().map(|r| &**r);
            match c.table() {
                OpenVswitch::TABLE => match typed_row::<OpenVswitch>(uuid, new)? {
                    Some(r) => self.root = Some(r),
                    None if self.root.as_ref().is_some_and(|r| r.uuid == uuid) => self.root = None,
                    None => {}
                },
                Bridge::TABLE => {
                    // By name: a renamed bridge leaves its old name.
                    self.bridges.retain(|_, b| b.uuid != uuid);
                    if let Some(b) = typed_row::<Bridge>(uuid, new)? {
                        self.bridges.insert(b.name.clone(), b);
                    }
                }
                Port::TABLE => match typed_row::<Port>(uuid, new)? {
                    Some(p) => _ = self.ports.insert(uuid, p),
                    None => _ = self.ports.remove(&uuid),
                },
                Interface::TABLE => match typed_row::<Interface>(uuid, new)? {
                    Some(i) => _ = self.interfaces.insert(uuid, i),
                    None => _ = self.interfaces.remove(&uuid),
                },
                _ => {}
            }
        }
        Ok(())
    }

    /// The interfaces of `bridge`'s ports.
    pub fn bridge_ifaces<'a>(&'a self, bridge: &str) -> impl Iterator<Item = &'a Interface> + 'a {
        self.bridges
            .get(bridge)
            .into_iter()
            .flat_map(|b| b.ports.iter())
            .filter_map(|p| self.ports.get(p))
            .flat_map(|p| p.interfaces.iter())
            .filter_map(|i| self.interfaces.get(i))
    }

    /// The port of `bridge` named `name`.
    pub fn bridge_port(&self, bridge: &str, name: &str) -> Option<&Port> {
        self.bridges
            .get(bridge)?
            .ports
            .iter()
            .filter_map(|p| self.ports.get(p))
            .find(|p| p.name == name)
    }

    /// VIFs on the integration bridge: iface-id → interface, for
    /// interfaces with a valid OpenFlow port (`binding.c`: an interface
    /// whose `ofport` is unset or -1 is not bound yet).  With two
    /// interfaces for one iface-id, the lowest ofport wins.
    pub fn vifs(&self, bridge: &str) -> BTreeMap<String, LocalIface> {
        let mut out: BTreeMap<String, LocalIface> = BTreeMap::new();
        for i in self.bridge_ifaces(bridge) {
            let Some(id) = i.external_ids.get("iface-id").filter(|s| !s.is_empty()) else {
                continue;
            };
            let Some(ofport) = ofport(i) else {
                continue;
            };
            let iface = LocalIface {
                uuid: i.uuid,
                name: i.name.clone(),
                ofport,
                installed: i.external_ids.get("ovn-installed").map(String::as_str) == Some("true"),
            };
            match out.get(id) {
                Some(old) if old.ofport < ofport => {}
                _ => {
                    out.insert(id.clone(), iface);
                }
            }
        }
        out
    }

    /// The conntrack zones stored on the bridge (`ct-zone-USER=ZONE`);
    /// malformed entries are skipped.
    pub fn ct_zones(&self, bridge: &str) -> BTreeMap<String, u32> {
        self.bridges
            .get(bridge)
            .map(|b| {
                b.external_ids
                    .iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix("ct-zone-")?, v.parse().ok()?)))
                    .map(|(k, v)| (k.to_string(), v))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Each update applied to the view row by row gives the view read
    /// from the whole database: interfaces changed, added and removed, a
    /// bridge renamed, the root row changed and deleted.
    #[test]
    fn updates_applied_row_by_row_give_the_view_read_whole() {
        use ovsdb::replica::{Replica, UpdateVersion};
        use serde_json::json;
        const ROOT: &str = "00000000-0000-0000-0000-000000000001";
        const BR: &str = "00000000-0000-0000-0000-0000000000b1";
        let port = |n: u32| format!("00000000-0000-0000-0000-0000000001{n:02}");
        let iface = |n: u32| format!("00000000-0000-0000-0000-0000000002{n:02}");
        let iface_row = |n: u32, extra: &[(&str, &str)]| {
            let mut ids = vec![json!(["iface-id", format!("lp{n}")])];
            ids.extend(extra.iter().map(|(k, v)| json!([k, v])));
            json!({"name": format!("vif{n}"), "ofport": n, "external_ids": ["map", ids]})
        };
        let port_row =
            |n: u32| json!({"name": format!("vif{n}"), "interfaces": ["uuid", iface(n)]});
        let bridge_row = |name: &str, ports: &[u32]| {
            let ports: Vec<_> = ports.iter().map(|&n| json!(["uuid", port(n)])).collect();
            json!({"name": name, "ports": ["set", ports],
                   "external_ids": ["map", [["ct-zone-lp1", "3"]]]})
        };
        let schema = ovsdb::schema::bundled("Open_vSwitch").unwrap();
        let mut replica = Replica::new(std::sync::Arc::new(schema));
        let initial = json!({
            "Open_vSwitch": {ROOT: {"new": {"bridges": ["uuid", BR],
                "external_ids": ["map", [["system-id", "hv1"]]]}}},
            "Bridge": {BR: {"new": bridge_row("br-int", &[1, 2])}},
            "Port": {port(1): {"new": port_row(1)}, port(2): {"new": port_row(2)}},
            "Interface": {iface(1): {"new": iface_row(1, &[])}, iface(2): {"new": iface_row(2, &[])}},
        });
        replica.apply_update(UpdateVersion::V1, &initial).unwrap();
        let mut view = OvsView::from_database(replica.database()).unwrap();
        assert_eq!(view.vifs("br-int").len(), 2);
        let steps = [
            json!({"Interface": {iface(1): {"old": {}, "new": iface_row(1, &[("ovn-installed", "true")])}}}),
            json!({
                "Bridge": {BR: {"old": {}, "new": bridge_row("br-int", &[1, 2, 3])}},
                "Port": {port(3): {"new": port_row(3)}},
                "Interface": {iface(3): {"new": iface_row(3, &[])}},
            }),
            json!({"Bridge": {BR: {"old": {}, "new": bridge_row("br-x", &[1, 2, 3])}}}),
            json!({
                "Bridge": {BR: {"old": {}, "new": bridge_row("br-x", &[1, 3])}},
                "Port": {port(2): {"old": port_row(2)}},
                "Interface": {iface(2): {"old": iface_row(2, &[])}},
            }),
            json!({"Open_vSwitch": {ROOT: {"old": {}, "new": {"bridges": ["uuid", BR],
                "external_ids": ["map", [["system-id", "hv2"]]]}}}}),
            json!({
                "Open_vSwitch": {ROOT: {"old": {}}},
            }),
        ];
        for (i, step) in steps.iter().enumerate() {
            let changes = replica.apply_update(UpdateVersion::V1, step).unwrap();
            assert!(!changes.is_empty(), "step {i}");
            let before = view.clone();
            view.apply(&changes).unwrap();
            assert_ne!(view, before, "step {i} changed nothing");
            assert_eq!(
                view,
                OvsView::from_database(replica.database()).unwrap(),
                "step {i}"
            );
        }
        assert!(view.root.is_none());
        assert!(view.bridges.contains_key("br-x") && !view.bridges.contains_key("br-int"));
        assert_eq!(view.vifs("br-x").keys().collect::<Vec<_>>(), ["lp1", "lp3"]);
    }

    #[test]
    fn config_waits_for_system_id_and_remote() {
        assert_eq!(LocalConfig::from_external_ids(&ids(&[])).unwrap(), None);
        assert_eq!(
            LocalConfig::from_external_ids(&ids(&[("system-id", "hv1")])).unwrap(),
            None
        );
        let c = LocalConfig::from_external_ids(&ids(&[
            ("system-id", "hv1"),
            ("ovn-remote", "unix:/x"),
            ("ovn-encap-type", "geneve,vxlan"),
            ("ovn-encap-ip", "10.0.0.1"),
            ("ovn-bridge-mappings", "phys:br-ex, other:br-o"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.bridge, "br-int");
        assert_eq!(c.encap_types, ["geneve", "vxlan"]);
        assert!(c.encap_csum);
        assert_eq!(c.bridge_mappings["other"], "br-o");
    }

    #[test]
    fn bad_settings_name_the_column() {
        let e = LocalConfig::from_external_ids(&ids(&[
            ("system-id", "hv1"),
            ("ovn-remote", "unix:/x"),
            ("ovn-bridge-mappings", "phys"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("ovn-bridge-mappings"), "{e}");
        let e = LocalConfig::from_external_ids(&ids(&[
            ("system-id", "hv1"),
            ("ovn-remote", "unix:/x"),
            ("ovn-encap-type", "gre"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("ovn-encap-type"), "{e}");
    }
}
