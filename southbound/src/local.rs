//! What is local to a chassis (ovn-controller 23.03 `binding.c` and
//! `local_data.c`): which logical ports are bound here, the local
//! datapaths (those with a local binding plus those reachable through
//! patch ports, `add_local_datapath__`), the "related" logical ports whose
//! flows are installed (`related_lport_ids`, keyed `<dp>_<port>`), port
//! residency for `is_chassis_resident()`, and the conntrack zones.

use std::collections::{BTreeMap, BTreeSet};

use ovsdb::sb::PortBinding;
use ovsdb::Uuid;

use crate::chassis::{allocate_ct_zones, Chassis};
use crate::sbdb::Southbound;

/// One local datapath (`struct local_datapath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDatapath {
    /// Datapath UUID.
    pub uuid: Uuid,
    /// Tunnel key.
    pub key: i64,
    /// Whether it is a logical switch.
    pub is_switch: bool,
    /// Its localnet port, if any.
    pub localnet_port: Option<String>,
}

/// The local view of one chassis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Local {
    /// Our SB `Chassis` row, if registered.
    pub chassis_uuid: Option<Uuid>,
    /// Logical ports bound to a local interface, with the OpenFlow port.
    pub bound: BTreeMap<String, u16>,
    /// Local datapaths by tunnel key.
    pub datapaths: BTreeMap<i64, LocalDatapath>,
    /// `(datapath key, port key)` of related logical ports.
    pub related: BTreeSet<(i64, i64)>,
    /// Conntrack zones by user.
    pub ct_zones: BTreeMap<String, u32>,
    /// `local_lports`: the logical ports local to this chassis (bound
    /// VIFs, every local interface's `iface-id`, localnet, localport and
    /// resident gateway ports).  Port groups are filtered to them.
    pub lports: BTreeSet<String>,
}

/// Port binding types (`get_lport_type`).
fn lport_type(pb: &PortBinding) -> &str {
    match pb.type_.as_str() {
        "" | "virtual" if pb.parent_port.as_deref().is_some_and(|p| !p.is_empty()) => "container",
        "" => "vif",
        t => t,
    }
}

/// `lport_can_bind_on_this_chassis`: the port is not requested elsewhere.
fn can_bind(sb: &Southbound, pb: &PortBinding, chassis: &Chassis, me: Option<Uuid>) -> bool {
    if let Some(req) = pb.requested_chassis {
        return Some(req) == me;
    }
    match pb.options.get("requested-chassis") {
        None => true,
        Some(s) if s.is_empty() => true,
        Some(s) => {
            let host = me
                .and_then(|u| sb.chassis.get(&u))
                .map(|c| c.hostname.as_str());
            s.split(',').any(|n| n == chassis.name || Some(n) == host)
        }
    }
}

impl Local {
    /// Computes the local view.
    pub fn compute(sb: &Southbound, chassis: &Chassis) -> Local {
        let me = sb.chassis_by_name(&chassis.name).map(|c| c.uuid);
        let mut local = Local {
            chassis_uuid: me,
            ..Local::default()
        };
        let mut seeds: Vec<Uuid> = Vec::new();
        let mut lports: Vec<String> = Vec::new();
        for pb in sb.port_bindings.values() {
            let key = |pb: &PortBinding| {
                sb.datapath(&pb.datapath)
                    .map(|dp| (dp.tunnel_key, pb.tunnel_key))
            };
            match lport_type(pb) {
                "vif" | "virtual" | "container" => {
                    let ofport = match lport_type(pb) {
                        "container" => pb.parent_port.as_deref().and_then(|p| chassis.vifs.get(p)),
                        _ => chassis.vifs.get(&pb.logical_port),
                    };
                    if let Some(&ofport) = ofport {
                        if can_bind(sb, pb, chassis, me) {
                            local.bound.insert(pb.logical_port.clone(), ofport);
                            seeds.push(pb.datapath);
                            local.related.extend(key(pb));
                            lports.push(pb.logical_port.clone());
                        }
                    }
                }
                "patch" | "vtep" => local.related.extend(key(pb)),
                "localnet" => {
                    local.related.extend(key(pb));
                    lports.push(pb.logical_port.clone());
                }
                "localport" if chassis.vifs.contains_key(&pb.logical_port) => {
                    local.related.extend(key(pb));
                    lports.push(pb.logical_port.clone());
                }
                "l2gateway" | "l3gateway" | "chassisredirect" | "external"
                    if local.is_resident_pb(sb, pb) =>
                {
                    seeds.push(pb.datapath);
                    local.related.extend(key(pb));
                    lports.push(pb.logical_port.clone());
                }
                _ => {}
            }
        }
        for dp in seeds {
            local.add_datapath(sb, dp, 0);
        }
        // `update_ld_localnet_port`: only a localnet port whose network is
        // plugged here (a bridge mapping, i.e. a patch port) counts.
        for pb in sb.port_bindings.values() {
            if pb.type_ == "localnet" && chassis.patch_ofports.contains_key(&pb.logical_port) {
                if let Some(dp) = sb.datapath(&pb.datapath) {
                    if let Some(ld) = local.datapaths.get_mut(&dp.tunnel_key) {
                        ld.localnet_port = Some(pb.logical_port.clone());
                    }
                }
            }
        }
        local.lports = lports.iter().cloned().collect();
        local.lports.extend(chassis.vifs.keys().cloned());
        local.ct_zones = match &chassis.ct_zones {
            Some(z) => z.clone(),
            None => {
                let mut users = lports;
                for ld in local.datapaths.values() {
                    users.push(format!("{}_dnat", ld.uuid));
                    users.push(format!("{}_snat", ld.uuid));
                }
                allocate_ct_zones(&users)
            }
        };
        local
    }

    /// `add_local_datapath__`: the datapath and, through patch ports (and
    /// l3gateway ports bound here), its peers, up to depth 100.
    fn add_datapath(&mut self, sb: &Southbound, dp_uuid: Uuid, depth: u32) {
        let Some(dp) = sb.datapath(&dp_uuid) else {
            return;
        };
        if self.datapaths.contains_key(&dp.tunnel_key) {
            return;
        }
        self.datapaths.insert(
            dp.tunnel_key,
            LocalDatapath {
                uuid: dp.uuid,
                key: dp.tunnel_key,
                is_switch: sb.is_switch(dp),
                localnet_port: None,
            },
        );
        if depth >= 100 {
            return;
        }
        let peers: Vec<Uuid> = sb
            .ports_of(&dp_uuid)
            .filter(|pb| self.need_add_peer(sb, pb))
            .filter_map(|pb| pb.options.get("peer"))
            .filter_map(|peer| sb.port(peer))
            .map(|peer| peer.datapath)
            .collect();
        for peer in peers {
            self.add_datapath(sb, peer, depth + 1);
        }
    }

    /// `need_add_peer_to_local`.
    fn need_add_peer(&self, sb: &Southbound, pb: &PortBinding) -> bool {
        if pb.type_ == "l3gateway" {
            return pb.chassis.is_some() && pb.chassis == self.chassis_uuid;
        }
        if pb.type_ != "patch" {
            return false;
        }
        let Some(crp) = pb.options.get("chassis-redirect-port") else {
            return true;
        };
        let Some(crp) = sb.port(crp) else {
            return false;
        };
        if crp.options.get("always-redirect").map(String::as_str) != Some("true") {
            return true;
        }
        crp.ha_chassis_group
            .and_then(|g| sb.ha_groups.get(&g))
            .is_some_and(|g| self.ha_group_contains(sb, &g.ha_chassis))
    }

    fn ha_group_contains(&self, sb: &Southbound, members: &[Uuid]) -> bool {
        members
            .iter()
            .filter_map(|m| sb.ha_chassis.get(m))
            .any(|h| h.chassis.is_some() && h.chassis == self.chassis_uuid)
    }

    /// Whether this chassis is the active member of an HA chassis group:
    /// the highest-priority member (`ha_chassis_group_is_active`, with every
    /// tunnel considered up, as on a chassis without BFD peers).
    fn ha_group_active(&self, sb: &Southbound, group: Option<Uuid>) -> bool {
        let Some(g) = group.and_then(|g| sb.ha_groups.get(&g)) else {
            return false;
        };
        g.ha_chassis
            .iter()
            .filter_map(|m| sb.ha_chassis.get(m))
            .filter(|h| h.chassis.is_some())
            .max_by_key(|h| h.priority)
            .is_some_and(|h| h.chassis == self.chassis_uuid)
    }

    /// `is_chassis_resident_cb` for a port binding.
    pub(crate) fn is_resident_pb(&self, sb: &Southbound, pb: &PortBinding) -> bool {
        if pb.type_ == "chassisredirect" {
            return (pb.chassis.is_some() && pb.chassis == self.chassis_uuid)
                || self.ha_group_active(sb, pb.ha_chassis_group);
        }
        (pb.chassis.is_some() && pb.chassis == self.chassis_uuid)
            || self.bound.contains_key(&pb.logical_port)
    }

    /// `is_chassis_resident("port")`.
    pub fn is_resident(&self, sb: &Southbound, port: &str) -> bool {
        sb.port(port).is_some_and(|pb| self.is_resident_pb(sb, pb))
    }

    /// Whether `(dp, port)` is related (`related_lport_ids`).
    pub fn is_related(&self, dp_key: i64, port_key: i64) -> bool {
        self.related.contains(&(dp_key, port_key))
    }

    /// The zones of a port: (ct, dnat, snat) (`get_zone_ids`); 0 is none.
    pub fn zones(&self, pb: &PortBinding) -> (u32, u32, u32) {
        let z = |k: &str| self.ct_zones.get(k).copied().unwrap_or(0);
        (
            z(&pb.logical_port),
            z(&format!("{}_dnat", pb.datapath)),
            z(&format!("{}_snat", pb.datapath)),
        )
    }
}
