//! What a change of the local view ([`Local`]) means for the flows.
//!
//! ovn-controller 23.03 handles a VIF appearing or going away on a
//! datapath that is already local without a recompute
//! (`binding_handle_ovs_interface_changes` → the port's runtime data, then
//! `lflow_handle_flows_for_lport` and `physical_handle_flows_for_lport`):
//! only the flows that involve the port are redone.  Here likewise: when
//! the set of local datapaths is the same, the ports whose binding,
//! locality, relatedness or conntrack zone changed are returned and only
//! their sources are recomputed (also when our chassis row appeared, went
//! or was replaced: the ports that refer to those rows are recomputed for
//! the rows' change); anything else (a datapath became local or stopped
//! being local, a router's SNAT/DNAT zone) is a full recompute.

use std::collections::BTreeSet;

use super::changed_keys;
use crate::local::Local;
use crate::sbdb::Southbound;

/// What must be recomputed after the local view changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Impact {
    /// Nothing changed.
    Nothing,
    /// Only these logical ports are affected.
    Ports(BTreeSet<String>),
    /// Recompute everything.
    Full,
}

/// The impact of going from `old` to `new` (over the Southbound `sb`
/// already changed).
pub(super) fn impact(sb: &Southbound, old: &Local, new: &Local) -> Impact {
    if old == new {
        return Impact::Nothing;
    }
    if old.datapaths != new.datapaths {
        return Impact::Full;
    }
    // Our chassis row changes only with a change to the rows involved
    // (inserted, deleted or renamed): the ports that refer to them are
    // recomputed for that change (`SbChange::Chassis`).
    let mut ports: BTreeSet<String> = changed_keys(&old.bound, &new.bound).cloned().collect();
    ports.extend(old.lports.symmetric_difference(&new.lports).cloned());
    for &(dp, key) in old.related.symmetric_difference(&new.related) {
        let Some(dp) = sb.datapath_by_key(dp) else {
            return Impact::Full;
        };
        match sb.ports_of(&dp.uuid).find(|pb| pb.tunnel_key == key) {
            Some(pb) => {
                ports.insert(pb.logical_port.clone());
            }
            None => return Impact::Full,
        }
    }
    for user in changed_keys(&old.ct_zones, &new.ct_zones) {
        if sb.port(user).is_none() && (user.ends_with("_dnat") || user.ends_with("_snat")) {
            return Impact::Full;
        }
        ports.insert(user.clone());
    }
    Impact::Ports(ports)
}
