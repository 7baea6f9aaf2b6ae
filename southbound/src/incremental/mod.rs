//! The chassis compute API: an incremental engine keyed by SB row.
//!
//! [`ChassisCompute`] keeps the Southbound content, the chassis's local
//! configuration and, per source of flows ([`Source`]: a logical flow, a
//! port binding's physical or port-security flows, a multicast group, a
//! load balancer, the neighbor tables, tunnels, the defaults), the
//! OpenFlow flows that source produced.  [`ChassisCompute::apply`] takes
//! SB row changes and local changes and recomputes only the sources they
//! can affect, as ovn-controller 23.03's incremental-processing handlers
//! do (`lflow_handle_changed_*`, `physical_handle_*`):
//!
//! * a logical flow → itself;
//! * an address set `$as` / port group `@pg` → the logical flows whose
//!   match names it;
//! * a port binding → the logical flows that name the port (in match,
//!   actions or `in_out_port` tag), its physical and port-security flows,
//!   the physical flows of ports whose options name it (`peer`,
//!   `distributed-port`), the multicast groups it is in, and the neighbor
//!   flows;
//! * a multicast group → itself and the logical flows that name it;
//! * a MAC binding → the neighbor flows; a load balancer → itself;
//! * a chassis → the ports bound to it (also additionally, by request or
//!   through an HA chassis group), as for a port binding change; an
//!   encap → nothing (no flow reads it);
//! * a datapath that is not local (before or after) → the logical flows,
//!   ports, multicast groups and load balancers on it (none of which has
//!   flows here: what counts is the ports of local datapaths that name its
//!   ports), as ovn-controller's `runtime_data` handler of
//!   `Datapath_Binding` leaves such datapaths alone; a local one → a full
//!   recompute;
//! * a datapath group → the logical flows and load balancers using it;
//! * a change of what is local ([`Local`]) that keeps the same local
//!   datapaths (a VIF bound or unbound, a port's zone, our own chassis
//!   row appearing) → the sources of the ports concerned, as for a port
//!   binding change;
//! * a tunnel to another chassis → the tunnel receive flows and the
//!   physical flows of the ports on that chassis (and their multicast
//!   groups);
//! * anything else that changes what is local (local datapaths, router
//!   zones), local datapaths, HA chassis groups → a full recompute
//!   (ovn-controller recomputes too when `runtime_data` changes without a
//!   handler; it does so for every `Chassis` change as well, where this
//!   engine recomputes only the ports concerned: the registration of our
//!   own chassis at start, or another chassis joining, recomputes
//!   nothing).
//!
//! With [`ChassisCompute::with_kept_zones`] the conntrack zones are
//! assigned here, as the daemon needs them: users keep their zone, new
//! users get the lowest free one ([`crate::controller::zones::assign`]).
//!
//! The desired flow table is then rebuilt from the per-source flows (cheap:
//! no translation) and compared with the previous one, so the returned
//! [`FlowDelta`] holds exactly the installed flows that changed, whatever
//! was recomputed.  Group and meter ids persist across changes and are
//! freed when no flow uses them any more.
//!
//! Each flow is held once, shared ([`Arc`]): a source's flow is the
//! installed flow at its key unless several sources meet there, and the
//! same allocation goes to the installer.  A recomputed source whose flows
//! did not change keeps its previous allocations.  The translation inputs
//! (symbol table, address sets, port groups, DHCP options) are kept until
//! a set, a port group or the local ports change.

mod compute;
mod dirty;
mod local_diff;
mod table;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ovsdb::sb::{
    AddressSet, Chassis as ChassisRow, DatapathBinding, Encap, Fdb, LoadBalancer, LogicalDpGroup,
    LogicalFlow, MacBinding, MulticastGroup, PortBinding, PortGroup,
};
use ovsdb::Uuid;

use crate::actions::ExtendTable;
use crate::chassis::{Chassis, Tunnel};
use crate::flow_table::{ByKey, OfFlow};
use crate::lflow::conj_ids::ConjIds;
use crate::lflow::LflowInputs;
use crate::local::Local;
use crate::sbdb::Southbound;
use table::KeySources;

/// Where a flow comes from.  The order is the order of a full compute
/// ([`crate::openflow`]), so that ties between flows with one key resolve
/// the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A logical flow.
    LogicalFlow(Uuid),
    /// MAC_Binding, Static_MAC_Binding and FDB flows.
    Neighbor,
    /// The physical flows of a port binding.
    PortBinding(Uuid),
    /// A multicast group.
    McGroup(Uuid),
    /// The port-security flows of a port binding.
    PortSec(Uuid),
    /// The hairpin flows of a load balancer.
    LoadBalancer(Uuid),
    /// Tunnel receive flows.
    Tunnels,
    /// The catch-all flows.
    Defaults,
}

/// A change to one Southbound row: the new row, or `None` for a delete.
#[derive(Debug, Clone)]
pub enum SbChange {
    /// `Logical_Flow`.
    LogicalFlow(Uuid, Option<LogicalFlow>),
    /// `Port_Binding`.
    PortBinding(Uuid, Option<Box<PortBinding>>),
    /// `Multicast_Group`.
    McGroup(Uuid, Option<MulticastGroup>),
    /// `Address_Set`, by name.
    AddressSet(String, Option<AddressSet>),
    /// `Port_Group`, by name.
    PortGroup(String, Option<PortGroup>),
    /// `MAC_Binding`, by UUID.
    MacBinding(Uuid, Option<MacBinding>),
    /// `FDB`, by UUID (`lflow_handle_changed_fdbs`).
    Fdb(Uuid, Option<Fdb>),
    /// `Load_Balancer`, by UUID.
    LoadBalancer(Uuid, Option<LoadBalancer>),
    /// `Datapath_Binding`.
    Datapath(Uuid, Option<DatapathBinding>),
    /// `Logical_DP_Group`.
    DpGroup(Uuid, Option<LogicalDpGroup>),
    /// `Chassis` (ours or another's).
    Chassis(Uuid, Option<ChassisRow>),
    /// `Encap`: kept for the Southbound view, no flow reads it (tunnels
    /// come from the chassis's own interfaces).
    Encap(Uuid, Option<Encap>),
    /// Any other change: the whole new Southbound content.
    Other(Box<Southbound>),
}

/// A change to the chassis's own configuration (its Open_vSwitch
/// database).
#[derive(Debug, Clone)]
pub enum LocalChange {
    /// An interface with `iface-id` = the logical port appeared (or its
    /// ofport changed).
    BindVif(String, u16),
    /// The interface of a logical port disappeared.
    UnbindVif(String),
    /// A tunnel port to a remote chassis appeared, changed or (`None`)
    /// disappeared.
    Tunnel(String, Option<Tunnel>),
}

/// The changes of the installed flow table (what is sent to the switch).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowDelta {
    /// Flows to add (or to modify: a key also in `removed`).
    pub added: Vec<Arc<OfFlow>>,
    /// Flows to delete.
    pub removed: Vec<Arc<OfFlow>>,
}

/// What a batch of SB changes makes dirty.
#[derive(Default)]
struct Dirt {
    /// Sources to recompute.
    dirty: BTreeSet<Source>,
    /// Changed ports and multicast groups: the logical flows naming them
    /// are recomputed.
    names: BTreeSet<String>,
    /// Changed sets (`$as`, `@pg`): the logical flows using them are
    /// recomputed.
    sets: BTreeSet<String>,
    /// Whether everything is recomputed.
    full: bool,
    /// Port bindings of which only the binding (`chassis`, `encap`, `up`,
    /// additional chassis) changed, as they were before.
    rebound: Vec<PortBinding>,
    /// Whether a row the local view reads changed (`Chassis`,
    /// `Datapath_Binding`): it is recomputed.
    relocal: bool,
    /// Whether a row the Southbound's indexes cover (port bindings,
    /// datapaths, multicast groups) changed: only then are they rebuilt.
    reindex: bool,
}

/// The flows at one key `(table, priority, match)`.
#[derive(Debug, Default)]
struct AtKey {
    /// The sources with flows at this key, in source order.
    sources: KeySources,
    /// The flow installed at this key.
    installed: Option<Arc<OfFlow>>,
}

/// The translation inputs, built on first use and kept while valid.
#[derive(Default)]
struct Inputs(Option<LflowInputs>);

impl std::fmt::Debug for Inputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Inputs(kept)"
        } else {
            "Inputs(none)"
        })
    }
}

/// Orders flows by key.
fn key_cmp(a: &OfFlow, b: &OfFlow) -> Ordering {
    (a.table, a.priority, &a.of_match).cmp(&(b.table, b.priority, &b.of_match))
}

/// The end of the run of flows with the key of `flows[i]` (`flows` in key
/// order).
fn run_end(flows: &[Arc<OfFlow>], i: usize) -> usize {
    let mut j = i + 1;
    while j < flows.len() && key_cmp(&flows[j], &flows[i]).is_eq() {
        j += 1;
    }
    j
}

/// The incremental OpenFlow computation of one chassis.
#[derive(Debug)]
pub struct ChassisCompute {
    sb: Southbound,
    chassis: Chassis,
    local: Local,
    /// Each source's flows (merged within the source), in key order.
    sources: BTreeMap<Source, Vec<Arc<OfFlow>>>,
    /// Per key (held by one of its flows, the installed one after a
    /// refresh), the sources with flows there and the installed flow.
    table: BTreeMap<ByKey, AtKey>,
    groups: ExtendTable,
    meters: ExtendTable,
    /// Conjunction ids of all logical flows (one allocator, as the full
    /// compute has).
    conj_ids: ConjIds,
    warnings: BTreeMap<Source, Vec<String>>,
    inputs: Inputs,
    /// Whether zones are assigned on every change (see
    /// [`ChassisCompute::with_kept_zones`]).
    keep_zones: bool,
    /// Sources recomputed by the last change (for tests and statistics).
    pub last_recomputed: usize,
    /// Whether a recompute since the last [`ChassisCompute::collect_ids`]
    /// dropped or made a flow that uses a group or meter, or assigned an
    /// id: only then may an id have lost its last user, and only then is
    /// the whole table walked for the ids still used.
    ids_touched: bool,
    /// Keys whose flow a streamed compute gave out before it was final
    /// (see [`ChassisCompute::merged_flows`]).
    restream: BTreeSet<ByKey>,
}

impl ChassisCompute {
    /// A full compute of `chassis` over `sb`.
    pub fn new(sb: Southbound, chassis: Chassis) -> ChassisCompute {
        ChassisCompute::build(sb, chassis, false, &mut |_| {})
    }

    /// A full compute of `chassis` over `sb` that also assigns conntrack
    /// zones, now and on every change: the users (local ports, local
    /// datapaths' `_dnat`/`_snat`) keep the zones in `chassis.ct_zones`
    /// (those recorded on the bridge), new users get the lowest free zone,
    /// and users that went away give theirs back.
    pub fn with_kept_zones(sb: Southbound, chassis: Chassis) -> ChassisCompute {
        ChassisCompute::build(sb, chassis, true, &mut |_| {})
    }

    /// [`ChassisCompute::with_kept_zones`], giving each source's flows to
    /// `sink` as soon as they are computed (to be streamed to the switch
    /// while the rest is computed).  A key several flows share gets each
    /// of them: [`ChassisCompute::merged_flows`] are the flows installed
    /// there.
    pub fn with_kept_zones_streamed(
        sb: Southbound,
        chassis: Chassis,
        sink: &mut dyn FnMut(&OfFlow),
    ) -> ChassisCompute {
        ChassisCompute::build(sb, chassis, true, sink)
    }

    /// The installed flows made of several flows (of several sources, or
    /// several of one source) at their key, and those a streamed compute
    /// gave out before they were final.
    pub fn merged_flows(&self) -> Vec<Arc<OfFlow>> {
        let mut out = Vec::new();
        for (k, e) in &self.table {
            let Some(installed) = &e.installed else {
                continue;
            };
            let several = match e.sources.as_slice() {
                [one] => self.sources.get(one).is_none_or(|list| {
                    let lo = list.partition_point(|f| key_cmp(f, &k.0).is_lt());
                    list[lo..]
                        .iter()
                        .take_while(|f| key_cmp(f, &k.0).is_eq())
                        .count()
                        != 1
                }),
                _ => true,
            };
            if several || self.restream.contains(k) {
                out.push(installed.clone());
            }
        }
        out
    }

    fn build(
        sb: Southbound,
        mut chassis: Chassis,
        keep_zones: bool,
        sink: &mut dyn FnMut(&OfFlow),
    ) -> ChassisCompute {
        if keep_zones {
            chassis.ct_zones = Some(assign_zones(&sb, &chassis));
        }
        let local = Local::compute(&sb, &chassis);
        let mut c = ChassisCompute {
            sb,
            chassis,
            local,
            keep_zones,
            sources: BTreeMap::new(),
            table: BTreeMap::new(),
            groups: ExtendTable::new(),
            meters: ExtendTable::new(),
            conj_ids: ConjIds::default(),
            warnings: BTreeMap::new(),
            inputs: Inputs::default(),
            last_recomputed: 0,
            ids_touched: false,
            restream: BTreeSet::new(),
        };
        let all = c.all_sources();
        c.compute_all(&all, sink);
        c
    }

    /// The installed flows, in key order.
    pub fn installed(&self) -> impl Iterator<Item = &OfFlow> {
        self.installed_shared().map(|f| &**f)
    }

    /// The installed flows, in key order, as the shared allocations (for
    /// the installer).
    pub fn installed_shared(&self) -> impl Iterator<Item = &Arc<OfFlow>> {
        self.table.values().filter_map(|e| e.installed.as_ref())
    }

    /// Number of installed flows.
    pub fn installed_len(&self) -> usize {
        self.table.len()
    }

    /// The groups by id.
    pub fn groups(&self) -> &ExtendTable {
        &self.groups
    }

    /// The meters by id.
    pub fn meters(&self) -> &ExtendTable {
        &self.meters
    }

    /// Logical flows that could not be translated, with the reason.
    pub fn warnings(&self) -> impl Iterator<Item = &String> {
        self.warnings.values().flatten()
    }

    /// The Southbound content as last changed.
    pub fn southbound(&self) -> &Southbound {
        &self.sb
    }

    /// The chassis configuration as last changed.
    pub fn chassis(&self) -> &Chassis {
        &self.chassis
    }

    /// The local view (bound ports, local datapaths, zones).
    pub fn local(&self) -> &Local {
        &self.local
    }

    /// Applies SB and local changes; returns the installed-flow changes.
    pub fn apply(
        &mut self,
        sb_changes: Vec<SbChange>,
        local_changes: Vec<LocalChange>,
    ) -> FlowDelta {
        let mut d = Dirt::default();
        for change in sb_changes {
            self.apply_sb(change, &mut d);
        }
        let Dirt {
            mut dirty,
            mut names,
            mut sets,
            mut full,
            rebound,
            relocal,
            reindex,
        } = d;
        if reindex {
            self.sb.reindex();
        }
        let had_local = !local_changes.is_empty();
        for change in local_changes {
            match change {
                LocalChange::BindVif(lp, ofport) => {
                    self.chassis.vifs.insert(lp, ofport);
                }
                LocalChange::UnbindVif(lp) => {
                    self.chassis.vifs.remove(&lp);
                }
                LocalChange::Tunnel(name, tun) => {
                    // Read by the tunnel receive flows and by the physical
                    // flows of the ports on that chassis (output to it,
                    // multicast fan-out to it).
                    dirty.insert(Source::Tunnels);
                    let on: Vec<Uuid> = self
                        .sb
                        .chassis_by_name(&name)
                        .map(|c| c.uuid)
                        .into_iter()
                        .collect();
                    let ports: Vec<Uuid> = dirty::ports_on_chassis(&self.sb, &on)
                        .map(|pb| pb.uuid)
                        .collect();
                    for u in ports {
                        self.dirty_port_physical(u, &mut dirty, &names);
                    }
                    match tun {
                        Some(t) => self.chassis.tunnels.insert(name, t),
                        None => self.chassis.tunnels.remove(&name),
                    };
                }
            }
        }
        let touched = !names.is_empty() || !rebound.is_empty() || had_local || full || relocal;
        if self.keep_zones && touched {
            self.chassis.ct_zones = Some(assign_zones(&self.sb, &self.chassis));
        }
        if full || !sets.is_empty() {
            self.inputs.0 = None;
        }
        // The local view reads only port bindings, datapaths, chassis and
        // the chassis's own configuration: without a change to one of them
        // (logical flows, sets, load balancers, neighbours alone), it
        // stays as it is.
        if touched {
            self.update_local(&mut dirty, &mut names, &mut full, rebound);
        }
        // Port groups inline their ports' names: a changed port changes the
        // logical flows that use a group it is in.
        for pg in &self.sb.port_groups {
            if pg.ports.iter().any(|p| names.contains(p)) {
                if let Some((_, short)) = pg.name.split_once('_') {
                    sets.insert(format!("@{short}"));
                }
                sets.insert(format!("@{}", pg.name));
            }
        }
        let todo: Vec<Source> = if full {
            self.inputs.0 = None;
            self.all_sources()
        } else {
            self.lflows_naming(&names, &sets, &mut dirty);
            dirty.into_iter().collect()
        };
        let keys = self.recompute(&todo, &mut |_| {});
        let delta = self.refresh(keys, true);
        if std::mem::take(&mut self.ids_touched) {
            self.collect_ids();
        } else {
            debug_assert!(self.ids_all_used(), "an unused group or meter id was kept");
        }
        delta
    }

    /// Recomputes the local view after a change to what it reads, and
    /// marks dirty what the change of view affects: every source if the
    /// local datapaths changed, else the ports whose local state changed
    /// and, for ports whose binding alone changed, their logical flows if
    /// their residence here changed.
    fn update_local(
        &mut self,
        dirty: &mut BTreeSet<Source>,
        names: &mut BTreeSet<String>,
        full: &mut bool,
        rebound: Vec<PortBinding>,
    ) {
        let local = Local::compute(&self.sb, &self.chassis);
        if local.lports != self.local.lports {
            self.inputs.0 = None;
        }
        match local_diff::impact(&self.sb, &self.local, &local) {
            local_diff::Impact::Nothing => {}
            local_diff::Impact::Full => *full = true,
            local_diff::Impact::Ports(ports) => {
                names.extend(ports.iter().cloned());
                for name in &ports {
                    if let Some(u) = self.sb.port(name).map(|pb| pb.uuid) {
                        self.dirty_port(u, dirty, names);
                    }
                }
            }
        }
        // A port whose binding alone changed: the logical flows see it only
        // through `is_chassis_resident()`.
        for old in rebound {
            let Some(new) = self.sb.port_bindings.get(&old.uuid) else {
                continue;
            };
            if self.local.is_resident_pb(&self.sb, &old) != local.is_resident_pb(&self.sb, new) {
                names.insert(new.logical_port.clone());
                self.dirty_port(new.uuid, dirty, names);
            }
        }
        self.local = local;
    }
}

/// Keys whose values differ between two maps (present in one only, or
/// with another value).
pub(crate) fn changed_keys<'a, K: Ord + 'a, V: PartialEq + 'a>(
    a: &'a BTreeMap<K, V>,
    b: &'a BTreeMap<K, V>,
) -> impl Iterator<Item = &'a K> + 'a {
    a.iter()
        .filter(move |(k, v)| b.get(k) != Some(v))
        .map(|(k, _)| k)
        .chain(b.keys().filter(move |k| !a.contains_key(k)))
}

/// The zones of the users of `chassis` over `sb`, keeping those in
/// `chassis.ct_zones`.
fn assign_zones(sb: &Southbound, chassis: &Chassis) -> BTreeMap<String, u32> {
    let fresh = Chassis {
        ct_zones: None,
        ..chassis.clone()
    };
    let users: BTreeSet<String> = Local::compute(sb, &fresh).ct_zones.into_keys().collect();
    let kept = chassis.ct_zones.clone().unwrap_or_default();
    crate::controller::zones::assign(&kept, &users)
}
