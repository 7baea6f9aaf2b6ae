//! Which sources an SB change dirties (ovn-controller 23.03's change
//! handlers: `lflow_handle_changed_*`, `physical_handle_*`), and the
//! sources of a full recompute.

use std::collections::{BTreeMap, BTreeSet};

use ovsdb::sb::PortBinding;
use ovsdb::Uuid;

use super::{ChassisCompute, Dirt, SbChange, Source};
use crate::sbdb::Southbound;

impl ChassisCompute {
    pub(super) fn apply_sb(&mut self, change: SbChange, d: &mut Dirt) {
        fn put<T>(map: &mut BTreeMap<Uuid, T>, uuid: Uuid, row: Option<T>) -> Option<T> {
            match row {
                Some(r) => map.insert(uuid, r),
                None => map.remove(&uuid),
            }
        }
        let Dirt {
            dirty,
            names,
            sets,
            full,
            rebound,
            relocal,
            reindex,
        } = d;
        match change {
            SbChange::LogicalFlow(u, row) => {
                put(&mut self.sb.logical_flows, u, row);
                dirty.insert(Source::LogicalFlow(u));
            }
            SbChange::PortBinding(u, row) => {
                *reindex = true;
                let row = row.map(|b| *b);
                if let (Some(new), Some(old)) = (&row, self.sb.port_bindings.get(&u)) {
                    // Only `up` changed (the controllers write it once a
                    // port's flows are in): no flow reads it.
                    let same_but_up = PortBinding {
                        up: new.up,
                        ..old.clone()
                    };
                    if same_but_up == *new {
                        self.sb.port_bindings.insert(u, same_but_up);
                        return;
                    }
                    // Only where it is bound changed (a claim or release,
                    // e.g. the echo of our own claim): the physical flows
                    // of the port, of the ports whose options name it and
                    // of its multicast groups read that; the logical flows
                    // only through `is_chassis_resident()`, decided once the
                    // new local view is known (ovn-controller's
                    // `lflow_handle_changed_port_bindings` likewise leaves
                    // the logical flows of a VIF alone when it is claimed).
                    let same_but_binding = PortBinding {
                        up: new.up,
                        chassis: new.chassis,
                        encap: new.encap,
                        additional_chassis: new.additional_chassis.clone(),
                        additional_encap: new.additional_encap.clone(),
                        ..old.clone()
                    };
                    if same_but_binding == *new {
                        let name = BTreeSet::from([new.logical_port.clone()]);
                        if let Some(old) = self.sb.port_bindings.insert(u, same_but_binding) {
                            rebound.push(old);
                        }
                        self.dirty_port_physical(u, dirty, &name);
                        return;
                    }
                }
                let new_name = row.as_ref().map(|r| r.logical_port.clone());
                let old = put(&mut self.sb.port_bindings, u, row);
                for n in old.map(|o| o.logical_port).into_iter().chain(new_name) {
                    names.insert(n);
                }
                self.dirty_port(u, dirty, names);
            }
            SbChange::McGroup(u, row) => {
                *reindex = true;
                let new_name = row.as_ref().map(|r| r.name.clone());
                let old = put(&mut self.sb.mc_groups, u, row);
                names.extend(old.map(|o| o.name).into_iter().chain(new_name));
                dirty.insert(Source::McGroup(u));
            }
            SbChange::AddressSet(name, row) => {
                self.sb.address_sets.retain(|a| a.name != name);
                self.sb.address_sets.extend(row);
                sets.insert(format!("${name}"));
            }
            SbChange::PortGroup(name, row) => {
                self.sb.port_groups.retain(|p| p.name != name);
                self.sb.port_groups.extend(row);
                // SB names are `<datapath key>_<name>`; matches say `@name`.
                if let Some((_, short)) = name.split_once('_') {
                    sets.insert(format!("@{short}"));
                }
                sets.insert(format!("@{name}"));
            }
            SbChange::MacBinding(u, row) => {
                self.sb.mac_bindings.retain(|m| m.uuid != u);
                self.sb.mac_bindings.extend(row);
                dirty.insert(Source::Neighbor);
            }
            SbChange::Fdb(u, row) => {
                self.sb.fdbs.retain(|f| f.uuid != u);
                self.sb.fdbs.extend(row);
                dirty.insert(Source::Neighbor);
            }
            SbChange::LoadBalancer(u, row) => {
                self.sb.load_balancers.retain(|l| l.uuid != u);
                self.sb.load_balancers.extend(row);
                dirty.insert(Source::LoadBalancer(u));
            }
            SbChange::Datapath(u, row) => {
                *reindex = true;
                let keys =
                    [self.sb.datapaths.get(&u), row.as_ref()].map(|d| d.map(|d| d.tunnel_key));
                put(&mut self.sb.datapaths, u, row);
                if keys
                    .iter()
                    .flatten()
                    .any(|k| self.local.datapaths.contains_key(k))
                {
                    *full = true;
                    return;
                }
                // Not local (the new local view tells whether it became so).
                *relocal = true;
                let sb = &self.sb;
                let in_group = |g: &Option<Uuid>| {
                    g.and_then(|g| sb.dp_groups.get(&g))
                        .is_some_and(|g| g.datapaths.contains(&u))
                };
                for lf in sb.logical_flows.values() {
                    if lf.logical_datapath == Some(u) || in_group(&lf.logical_dp_group) {
                        dirty.insert(Source::LogicalFlow(lf.uuid));
                    }
                }
                for lb in &sb.load_balancers {
                    if lb.datapaths.contains(&u) || in_group(&lb.datapath_group) {
                        dirty.insert(Source::LoadBalancer(lb.uuid));
                    }
                }
                for mc in sb.mc_groups.values().filter(|mc| mc.datapath == u) {
                    dirty.insert(Source::McGroup(mc.uuid));
                }
                let ports: Vec<Uuid> = sb
                    .port_bindings
                    .values()
                    .filter(|pb| pb.datapath == u)
                    .map(|pb| pb.uuid)
                    .collect();
                self.dirty_ports(&ports, dirty, names);
            }
            SbChange::DpGroup(u, row) => {
                put(&mut self.sb.dp_groups, u, row);
                for lf in self.sb.logical_flows.values() {
                    if lf.logical_dp_group == Some(u) {
                        dirty.insert(Source::LogicalFlow(lf.uuid));
                    }
                }
                for lb in &self.sb.load_balancers {
                    if lb.datapath_group == Some(u) {
                        dirty.insert(Source::LoadBalancer(lb.uuid));
                    }
                }
            }
            SbChange::Chassis(u, row) => {
                // Its name (tunnels, multicast fan-out), `is-vtep` and
                // hostname (`requested-chassis`) are read for the ports on
                // it; whether it is ours, by the local view.
                put(&mut self.sb.chassis, u, row);
                *relocal = true;
                let ports: Vec<Uuid> = ports_on_chassis(&self.sb, &[u]).map(|pb| pb.uuid).collect();
                self.dirty_ports(&ports, dirty, names);
            }
            SbChange::Encap(u, row) => {
                put(&mut self.sb.encaps, u, row);
            }
            SbChange::Other(sb) => {
                *reindex = true;
                self.sb = *sb;
                *full = true;
            }
        }
    }

    /// Marks `ports` changed, as ports whose row changed: their names (for
    /// the logical flows naming them) and their sources ([`Self::dirty_port`]).
    fn dirty_ports(
        &self,
        ports: &[Uuid],
        dirty: &mut BTreeSet<Source>,
        names: &mut BTreeSet<String>,
    ) {
        names.extend(
            ports
                .iter()
                .filter_map(|u| self.sb.port_bindings.get(u))
                .map(|pb| pb.logical_port.clone()),
        );
        for &u in ports {
            self.dirty_port(u, dirty, names);
        }
    }

    /// Marks the sources of port binding `u` dirty: its physical and
    /// port-security flows, the neighbor flows, the multicast groups it is
    /// in, and the ports whose options name a changed port (`peer`,
    /// `distributed-port`, `chassis-redirect-port`).
    pub(super) fn dirty_port(
        &self,
        u: Uuid,
        dirty: &mut BTreeSet<Source>,
        names: &BTreeSet<String>,
    ) {
        dirty.insert(Source::PortSec(u));
        dirty.insert(Source::Neighbor);
        self.dirty_port_physical(u, dirty, names);
    }

    /// Marks the physical sources of port binding `u` dirty: its own, its
    /// multicast groups', and those of the ports whose options name one of
    /// `names`.
    pub(super) fn dirty_port_physical(
        &self,
        u: Uuid,
        dirty: &mut BTreeSet<Source>,
        names: &BTreeSet<String>,
    ) {
        dirty.insert(Source::PortBinding(u));
        for mc in self.sb.mc_groups.values() {
            if mc.ports.contains(&u) {
                dirty.insert(Source::McGroup(mc.uuid));
            }
        }
        for pb in self.sb.port_bindings.values() {
            if pb.options.values().any(|v| names.contains(v)) {
                dirty.insert(Source::PortBinding(pb.uuid));
            }
        }
    }

    /// Adds the logical flows that name a changed port or multicast group
    /// (as a quoted string) or a changed set (`$as`, `@pg`).
    pub(super) fn lflows_naming(
        &self,
        names: &BTreeSet<String>,
        sets: &BTreeSet<String>,
        dirty: &mut BTreeSet<Source>,
    ) {
        if names.is_empty() && sets.is_empty() {
            return;
        }
        // A name without `"` appears quoted exactly when it is the whole
        // text between two consecutive quotes: one pass over each text
        // instead of one search per name.
        let plain = names.iter().all(|n| !n.contains('"'));
        let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let names_text = |text: &str| {
            if plain {
                let mut parts = text.split('"');
                parts.next();
                let mut parts = parts.peekable();
                while let Some(p) = parts.next() {
                    if parts.peek().is_some() && names.contains(p) {
                        return true;
                    }
                }
                false
            } else {
                quoted.iter().any(|q| text.contains(q.as_str()))
            }
        };
        for lf in self.sb.logical_flows.values() {
            let names_it = (!names.is_empty()
                && (names_text(&lf.match_) || names_text(&lf.actions)))
                || lf.tags.values().any(|t| names.contains(t));
            let uses_set = sets.iter().any(|s| mentions(&lf.match_, s));
            if names_it || uses_set {
                dirty.insert(Source::LogicalFlow(lf.uuid));
            }
        }
    }

    pub(super) fn all_sources(&self) -> Vec<Source> {
        let mut all: Vec<Source> = Vec::new();
        all.extend(
            self.sb
                .logical_flows
                .keys()
                .map(|u| Source::LogicalFlow(*u)),
        );
        all.push(Source::Neighbor);
        all.extend(
            self.sb
                .port_bindings
                .keys()
                .map(|u| Source::PortBinding(*u)),
        );
        all.extend(self.sb.mc_groups.keys().map(|u| Source::McGroup(*u)));
        all.extend(self.sb.port_bindings.keys().map(|u| Source::PortSec(*u)));
        all.extend(
            self.sb
                .load_balancers
                .iter()
                .map(|l| Source::LoadBalancer(l.uuid)),
        );
        all.push(Source::Tunnels);
        all.push(Source::Defaults);
        // Sources of rows that are gone.
        all.extend(self.sources.keys().copied());
        all.sort();
        all.dedup();
        all
    }
}

/// The port bindings that refer to one of the chassis `c`: bound there
/// (also additionally), requested there, or with an HA chassis group that
/// has one as a member (what [`crate::local::Local`] and the physical
/// flows read of a chassis row).
pub(super) fn ports_on_chassis<'a>(
    sb: &'a Southbound,
    c: &'a [Uuid],
) -> impl Iterator<Item = &'a PortBinding> + 'a {
    let on = move |u: &Option<Uuid>| u.is_some_and(|u| c.contains(&u));
    sb.port_bindings.values().filter(move |pb| {
        on(&pb.chassis)
            || on(&pb.requested_chassis)
            || pb.additional_chassis.iter().any(|u| c.contains(u))
            || pb
                .ha_chassis_group
                .and_then(|g| sb.ha_groups.get(&g))
                .is_some_and(|g| {
                    g.ha_chassis
                        .iter()
                        .filter_map(|m| sb.ha_chassis.get(m))
                        .any(|h| on(&h.chassis))
                })
    })
}

/// Whether `text` names the set `name` (`$as` or `@pg`) as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let next = text[i + name.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
            // `$as_ip4` / `$as_ip6` (address sets of a port group).
            || text[i + name.len()..].starts_with("_ip")
    })
}
