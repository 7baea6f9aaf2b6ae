//! What a chassis knows about itself, from its Open_vSwitch database in
//! ovn-controller (or from the command line offline): its name, the OVS
//! interfaces bound to logical ports (`Interface.external_ids:iface-id` and
//! `ofport`), patch ports to provider bridges, conntrack zones and the
//! datapath features that change how actions are encoded.

use std::collections::BTreeMap;

use crate::actions::Features;
use crate::Error;

/// One chassis's local configuration.
#[derive(Debug, Clone, Default)]
pub struct Chassis {
    /// `external_ids:system-id`, the SB `Chassis.name`.
    pub name: String,
    /// Logical port (iface-id) → OpenFlow port of the local interface.
    pub vifs: BTreeMap<String, u16>,
    /// Localnet/l2gateway logical port → OpenFlow port of its patch port
    /// (`patch_ofports`).
    pub patch_ofports: BTreeMap<String, u16>,
    /// Conntrack zones by user (`Bridge.external_ids:ct-zone-<user>`): a
    /// logical port name or `<datapath-uuid>_dnat`/`_snat`.  `None`:
    /// allocate them as ovn-controller does on a fresh bridge.
    pub ct_zones: Option<BTreeMap<String, u32>>,
    /// Datapath features.
    pub features: Features,
    /// Tunnels to other chassis by remote chassis name (the `br-int`
    /// interfaces ovn-controller creates, `external_ids:ovn-chassis-id`).
    pub tunnels: BTreeMap<String, Tunnel>,
}

/// An encapsulation type (`enum chassis_tunnel_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TunnelType {
    /// Geneve: datapath in the VNI, ports in the OVN Geneve option.
    Geneve,
    /// STT: everything in the 64-bit key.
    Stt,
    /// VXLAN: datapath and output port in the 24-bit VNI.
    Vxlan,
}

/// A tunnel port on `br-int` to one remote chassis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunnel {
    /// Its OpenFlow port.
    pub ofport: u16,
    /// Its encapsulation.
    pub kind: TunnelType,
}

impl Chassis {
    /// A chassis with the features of the OVS 3.1 userspace datapath
    /// (meters, all-zero SNAT, symmetric L4 dp_hash) and no interfaces.
    pub fn new(name: &str) -> Chassis {
        Chassis {
            name: name.to_string(),
            features: Features {
                dp_meter: true,
                ct_zero_snat: true,
                dp_hash_l4_sym: true,
            },
            ..Chassis::default()
        }
    }

    /// Parses a `NAME=OFPORT[,NAME=OFPORT...]` list of bound interfaces.
    pub fn parse_ports(list: &str) -> Result<BTreeMap<String, u16>, Error> {
        let mut out = BTreeMap::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, port) = item
                .split_once('=')
                .ok_or_else(|| Error::Input(format!("port {item:?}: expected NAME=OFPORT")))?;
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| (1..0xff00).contains(p))
                .ok_or_else(|| {
                    Error::Input(format!(
                        "port {item:?}: OFPORT must be a number from 1 to 65279"
                    ))
                })?;
            if out.insert(name.to_string(), port).is_some() {
                return Err(Error::Input(format!("port {name:?} given twice")));
            }
        }
        Ok(out)
    }

    /// Parses a `CHASSIS=OFPORT[:TYPE][,...]` list of tunnel ports (TYPE is
    /// `geneve`, the default, `stt` or `vxlan`).
    pub fn parse_tunnels(list: &str) -> Result<BTreeMap<String, Tunnel>, Error> {
        let mut out = BTreeMap::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, rest) = item.split_once('=').ok_or_else(|| {
                Error::Input(format!("tunnel {item:?}: expected CHASSIS=OFPORT[:TYPE]"))
            })?;
            let (port, kind) = rest.split_once(':').unwrap_or((rest, "geneve"));
            let kind = match kind {
                "geneve" => TunnelType::Geneve,
                "stt" => TunnelType::Stt,
                "vxlan" => TunnelType::Vxlan,
                k => {
                    return Err(Error::Input(format!(
                        "tunnel {item:?}: unknown type {k:?} (geneve, stt or vxlan)"
                    )))
                }
            };
            let ofport = Chassis::parse_ports(&format!("{name}={port}"))?
                .into_values()
                .next()
                .unwrap_or_default();
            if out
                .insert(name.to_string(), Tunnel { ofport, kind })
                .is_some()
            {
                return Err(Error::Input(format!("tunnel to {name:?} given twice")));
            }
        }
        Ok(out)
    }

    /// Parses `ct-zone-USER=ZONE` pairs as found in `Bridge.external_ids`
    /// (other keys are ignored).
    pub fn parse_ct_zones<'a>(
        external_ids: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<BTreeMap<String, u32>, Error> {
        let mut zones = BTreeMap::new();
        for (k, v) in external_ids {
            if let Some(user) = k.strip_prefix("ct-zone-") {
                let zone = v
                    .parse()
                    .map_err(|_| Error::Input(format!("{k}={v:?}: not a zone number")))?;
                zones.insert(user.to_string(), zone);
            }
        }
        Ok(zones)
    }
}

/// Allocates conntrack zones for `users` the way ovn-controller does on an
/// empty bridge (`update_ct_zones`: lowest free zone from 1, zone 0
/// reserved).  ovn-controller walks its users in hash order; we walk them
/// sorted, so only the numbering can differ.
pub fn allocate_ct_zones(users: &[String]) -> BTreeMap<String, u32> {
    let mut sorted: Vec<&String> = users.iter().collect();
    sorted.sort();
    sorted.dedup();
    sorted
        .into_iter()
        .zip(1u32..)
        .map(|(u, z)| (u.clone(), z))
        .collect()
}
