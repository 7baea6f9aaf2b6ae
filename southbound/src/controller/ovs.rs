//! The chassis's own Open_vSwitch database as ovn-controller 23.03 reads
//! it (`controller/ovn-controller.c`, `chassis.c`, `binding.c`): the
//! settings in `Open_vSwitch:external_ids`, the integration bridge, its
//! interfaces bound to logical ports (`external_ids:iface-id` with an
//! `ofport`), and the conntrack zones it keeps in
//! `Bridge:external_ids:ct-zone-*`.

use std::collections::BTreeMap;

use ovsdb::typed::TypedRow;
use ovsdb::vswitch::{Bridge, Interface, OpenVswitch, Port};
use ovsdb::{Database, Uuid};

use super::ControllerError;

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
#[derive(Debug, Clone, Default)]
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
            let Some(ofport) = i
                .ofport
                .filter(|p| (1..0xff00).contains(p))
                .map(|p| p as u16)
            else {
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
