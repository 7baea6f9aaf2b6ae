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
//! * a change of what is local ([`Local`]) that keeps the same local
//!   datapaths (a VIF bound or unbound, a port's zone) → the sources of
//!   the ports concerned, as for a port binding change;
//! * anything else that changes what is local (local datapaths, router
//!   zones), datapaths, chassis and encaps, tunnels → a full recompute
//!   (ovn-controller recomputes too when `runtime_data` changes without a
//!   handler).
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

mod local_diff;
mod table;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ovsdb::sb::{
    AddressSet, DatapathBinding, Fdb, LoadBalancer, LogicalFlow, MacBinding, MulticastGroup,
    PortBinding, PortGroup,
};
use ovsdb::Uuid;

use crate::actions::{ExtendTable, OfAction};
use crate::chassis::{Chassis, Tunnel};
use crate::flow_table::{ByKey, FlowTable, OfFlow};
use crate::lflow::conj_ids::ConjIds;
use crate::lflow::{self, LflowInputs, LflowOutputs};
use crate::local::Local;
use crate::physical;
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
    /// several of one source) at their key.
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
            if several {
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
        self.sb.reindex();
        let Dirt {
            mut dirty,
            mut names,
            mut sets,
            mut full,
            rebound,
        } = d;
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
                    full = true;
                    match tun {
                        Some(t) => self.chassis.tunnels.insert(name, t),
                        None => self.chassis.tunnels.remove(&name),
                    };
                }
            }
        }
        let touched = !names.is_empty() || !rebound.is_empty() || had_local || full;
        if self.keep_zones && touched {
            self.chassis.ct_zones = Some(assign_zones(&self.sb, &self.chassis));
        }
        let local = Local::compute(&self.sb, &self.chassis);
        if full || !sets.is_empty() || local.lports != self.local.lports {
            self.inputs.0 = None;
        }
        match local_diff::impact(&self.sb, &self.local, &local) {
            local_diff::Impact::Nothing => {}
            local_diff::Impact::Full => full = true,
            local_diff::Impact::Ports(ports) => {
                names.extend(ports.iter().cloned());
                for name in &ports {
                    if let Some(u) = self.sb.port(name).map(|pb| pb.uuid) {
                        self.dirty_port(u, &mut dirty, &names);
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
                self.dirty_port(new.uuid, &mut dirty, &names);
            }
        }
        self.local = local;
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
        self.collect_ids();
        delta
    }

    fn apply_sb(&mut self, change: SbChange, d: &mut Dirt) {
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
        } = d;
        match change {
            SbChange::LogicalFlow(u, row) => {
                put(&mut self.sb.logical_flows, u, row);
                dirty.insert(Source::LogicalFlow(u));
            }
            SbChange::PortBinding(u, row) => {
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
                put(&mut self.sb.datapaths, u, row);
                *full = true;
            }
            SbChange::Other(sb) => {
                self.sb = *sb;
                *full = true;
            }
        }
    }

    /// Marks the sources of port binding `u` dirty: its physical and
    /// port-security flows, the neighbor flows, the multicast groups it is
    /// in, and the ports whose options name a changed port (`peer`,
    /// `distributed-port`, `chassis-redirect-port`).
    fn dirty_port(&self, u: Uuid, dirty: &mut BTreeSet<Source>, names: &BTreeSet<String>) {
        dirty.insert(Source::PortSec(u));
        dirty.insert(Source::Neighbor);
        self.dirty_port_physical(u, dirty, names);
    }

    /// Marks the physical sources of port binding `u` dirty: its own, its
    /// multicast groups', and those of the ports whose options name one of
    /// `names`.
    fn dirty_port_physical(&self, u: Uuid, dirty: &mut BTreeSet<Source>, names: &BTreeSet<String>) {
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
    fn lflows_naming(
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

    fn all_sources(&self) -> Vec<Source> {
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

    /// Recomputes the flows of `sources` (a source whose row is gone ends
    /// up with no flows); returns the keys whose flows changed.
    fn recompute(&mut self, sources: &[Source], sink: &mut dyn FnMut(&OfFlow)) -> BTreeSet<ByKey> {
        self.last_recomputed = sources.len();
        self.ensure_inputs(sources);
        let mut touched = BTreeSet::new();
        for &src in sources {
            let mut new = self.compute_flows(src, sink);
            let old = self.sources.remove(&src).unwrap_or_default();
            self.diff_source(src, &old, &mut new, &mut touched);
            if !new.is_empty() {
                self.sources.insert(src, new);
            }
        }
        touched
    }

    /// The first compute (no flows yet): every source's flows, then the
    /// table built in one pass over all flows in key order — the same
    /// table [`ChassisCompute::recompute`] and [`ChassisCompute::refresh`]
    /// give, without a search per flow.  `sources` are in source order.
    fn compute_all(&mut self, sources: &[Source], sink: &mut dyn FnMut(&OfFlow)) {
        debug_assert!(self.sources.is_empty() && self.table.is_empty());
        debug_assert!(sources.windows(2).all(|w| w[0] < w[1]), "sources in order");
        self.last_recomputed = sources.len();
        self.ensure_inputs(sources);
        for &src in sources {
            let new = self.compute_flows(src, sink);
            if !new.is_empty() {
                self.sources.insert(src, new);
            }
        }
        // At one key, the flows come in source order, and within a source
        // in its own order — the order `refresh` merges them in.
        // (`self.sources` is in source order, as `sources` is.)  The runs
        // come in key order: each is entered in the table as it is found,
        // with no list of all the flows.
        let lists: Vec<(Source, &[Arc<OfFlow>])> = self
            .sources
            .iter()
            .map(|(s, flows)| (*s, flows.as_slice()))
            .collect();
        // Gathered in key order and built in one go: a tree built from
        // sorted entries has full nodes, where inserting them one by one
        // in order leaves each node about half full (every split leaves
        // the left half behind): ~0.4 MB less for the bench's 10,406 keys.
        let mut entries: Vec<(ByKey, AtKey)> = Vec::new();
        table::for_each_run(&lists, |run| {
            let mut srcs: Vec<Source> = run.iter().map(|(_, s)| *s).collect();
            srcs.dedup();
            let installed = match run {
                [(one, _)] => Arc::clone(one),
                many => {
                    let mut table = FlowTable::new();
                    for (f, _) in many {
                        table.merge(OfFlow::clone(f));
                    }
                    match table.installed().first() {
                        Some(f) => Arc::new((*f).clone()),
                        None => Arc::clone(&many[0].0),
                    }
                }
            };
            entries.push((
                ByKey(Arc::clone(&installed)),
                AtKey {
                    sources: KeySources::from_sorted(srcs),
                    installed: Some(installed),
                },
            ));
        });
        self.table = entries.into_iter().collect();
    }

    /// Builds the translation inputs if a logical flow is among `sources`
    /// and they are not kept.
    fn ensure_inputs(&mut self, sources: &[Source]) {
        let needs_inputs = sources.iter().any(|s| matches!(s, Source::LogicalFlow(_)));
        if needs_inputs && self.inputs.0.is_none() {
            self.inputs.0 = Some(LflowInputs::new(&self.sb, &self.local));
        }
    }

    /// Computes the flows of `src` (merged within the source, in key
    /// order, each given to `sink`), recording its warnings.
    fn compute_flows(&mut self, src: Source, sink: &mut dyn FnMut(&OfFlow)) -> Vec<Arc<OfFlow>> {
        if let Source::LogicalFlow(u) = src {
            self.conj_ids.free(&u);
        }
        let mut out = LflowOutputs {
            groups: std::mem::take(&mut self.groups),
            meters: std::mem::take(&mut self.meters),
            conj_ids: std::mem::take(&mut self.conj_ids),
            ..LflowOutputs::default()
        };
        self.compute_source(src, self.inputs.0.as_ref(), &mut out);
        self.groups = std::mem::take(&mut out.groups);
        self.meters = std::mem::take(&mut out.meters);
        self.conj_ids = std::mem::take(&mut out.conj_ids);
        // Kept until the source changes: without the room their
        // vectors grew into (heaptrack: 3.4 MB of the bench's peak
        // was match slots' spare capacity).  The list is a new vector of
        // exactly its length: collected from the table's own vector, it
        // would reuse that allocation in place, nine times the size of
        // the pointers it holds (heaptrack: 1.2 MB of the bench's peak).
        let flows = std::mem::take(&mut out.flows);
        let mut new: Vec<Arc<OfFlow>> = Vec::with_capacity(flows.len());
        new.extend(flows.into_flows().map(|mut f| {
            f.of_match.shrink_to_fit();
            f.actions.shrink_to_fit();
            Arc::new(f)
        }));
        for f in &new {
            sink(f);
        }
        if out.warnings.is_empty() {
            self.warnings.remove(&src);
        } else {
            self.warnings.insert(src, out.warnings);
        }
        new
    }

    /// Walks the `old` and `new` flows of `src` key by key: keys where
    /// they differ are `touched`, `src` is entered at its new keys and
    /// left at its old ones, and unchanged flows keep their previous
    /// allocations (so that the installed flow stays the same one).
    fn diff_source(
        &mut self,
        src: Source,
        old: &[Arc<OfFlow>],
        new: &mut [Arc<OfFlow>],
        touched: &mut BTreeSet<ByKey>,
    ) {
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            let ord = match (old.get(i), new.get(j)) {
                (Some(a), Some(b)) => key_cmp(a, b),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            let i_end = if ord.is_le() { run_end(old, i) } else { i };
            let j_end = if ord.is_ge() { run_end(new, j) } else { j };
            match ord {
                Ordering::Less => {
                    let k = ByKey(old[i].clone());
                    if let Some(e) = self.table.get_mut(&k) {
                        e.sources.remove(src);
                    }
                    touched.insert(k);
                }
                Ordering::Greater => {
                    let k = ByKey(new[j].clone());
                    let e = self.table.entry(k.clone()).or_default();
                    e.sources.insert(src);
                    touched.insert(k);
                }
                Ordering::Equal => {
                    let (o, n) = (&old[i..i_end], &mut new[j..j_end]);
                    if o.iter().map(|f| &**f).eq(n.iter().map(|f| &**f)) {
                        n.clone_from_slice(o);
                    } else {
                        touched.insert(ByKey(n[0].clone()));
                    }
                }
            }
            i = i_end;
            j = j_end;
        }
    }

    fn compute_source(&self, src: Source, inputs: Option<&LflowInputs>, out: &mut LflowOutputs) {
        let (sb, local, chassis) = (&self.sb, &self.local, &self.chassis);
        match src {
            Source::LogicalFlow(u) => {
                if let (Some(lf), Some(inputs)) = (sb.logical_flows.get(&u), inputs) {
                    lflow::translate_logical_flow(sb, local, chassis, inputs, lf, out);
                }
            }
            Source::Neighbor => lflow::neighbor::add_neighbor_flows(sb, local, &mut out.flows),
            Source::PortBinding(u) => {
                if let Some(pb) = sb.port_bindings.get(&u) {
                    physical::ports::consider_port_binding(sb, local, chassis, pb, &mut out.flows);
                }
            }
            Source::McGroup(u) => {
                if let Some(mc) = sb.mc_groups.get(&u) {
                    physical::mcast::consider_mc_group(sb, local, chassis, mc, &mut out.flows);
                }
            }
            Source::PortSec(u) => {
                let pb = sb.port_bindings.get(&u);
                if let Some(pb) = pb.filter(|pb| local.bound.contains_key(&pb.logical_port)) {
                    if let Some(dp) = sb.datapath(&pb.datapath) {
                        lflow::port_sec::consider_port_sec_flows(dp.tunnel_key, pb, &mut out.flows);
                    }
                }
            }
            Source::LoadBalancer(u) => {
                let lb = sb.load_balancers.iter().find(|l| l.uuid == u);
                if let Some(lb) = lb.filter(|lb| lflow::lb_hairpin::lb_is_local(sb, local, lb)) {
                    if let Some(w) =
                        lflow::lb_hairpin::consider_lb_hairpin_flows(sb, local, lb, &mut out.flows)
                    {
                        out.warnings.push(w);
                    }
                }
            }
            Source::Tunnels => physical::tunnels::add_tunnel_receive_flows(chassis, &mut out.flows),
            Source::Defaults => physical::defaults::add_default_flows(&mut out.flows),
        }
    }

    /// Re-merges the flows at `keys` across their sources (in source
    /// order, as a full compute merges them) and returns how the installed
    /// flows changed (if `want_delta`).
    fn refresh(&mut self, keys: BTreeSet<ByKey>, want_delta: bool) -> FlowDelta {
        let mut delta = FlowDelta::default();
        for k in keys {
            let Some((stored, entry)) = self.table.get_key_value(&k) else {
                continue;
            };
            let mut candidates: Vec<&Arc<OfFlow>> = Vec::new();
            for src in entry.sources.as_slice() {
                let Some(list) = self.sources.get(src) else {
                    continue;
                };
                let lo = list.partition_point(|f| key_cmp(f, &k.0).is_lt());
                candidates.extend(list[lo..].iter().take_while(|f| key_cmp(f, &k.0).is_eq()));
            }
            let new: Option<Arc<OfFlow>> = match candidates.as_slice() {
                [] => None,
                [one] => Some(Arc::clone(one)),
                many => {
                    let mut table = FlowTable::new();
                    for f in many {
                        table.merge(OfFlow::clone(f));
                    }
                    table.installed().first().map(|f| Arc::new((*f).clone()))
                }
            };
            let old = entry.installed.clone();
            let same = match (&new, &old) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b) || **a == **b,
                (None, None) => true,
                _ => false,
            };
            let rekey = match &new {
                Some(n) => !same && !Arc::ptr_eq(&stored.0, n),
                None => false,
            };
            if !same && want_delta {
                delta.removed.extend(old);
                delta.added.extend(new.clone());
            }
            match new {
                None => {
                    self.table.remove(&k);
                }
                Some(n) if rekey => {
                    // The key is held by the installed flow, not by one
                    // that is gone.
                    let mut e = self.table.remove(&k).unwrap_or_default();
                    e.installed = Some(n.clone());
                    self.table.insert(ByKey(n), e);
                }
                Some(n) if !same => {
                    if let Some(e) = self.table.get_mut(&k) {
                        e.installed = Some(n);
                    }
                }
                Some(_) => {}
            }
        }
        delta
    }

    /// Frees group and meter ids no flow uses any more.
    fn collect_ids(&mut self) {
        let mut groups = BTreeSet::new();
        let mut meters = BTreeSet::new();
        for f in self.sources.values().flatten() {
            used_ids(&f.actions, &mut groups, &mut meters);
        }
        self.groups.retain(|id| groups.contains(&id));
        self.meters.retain(|id| meters.contains(&id));
    }
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

/// Whether `text` names the set `name` (`$as` or `@pg`) as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let next = text[i + name.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
            // `$as_ip4` / `$as_ip6` (address sets of a port group).
            || text[i + name.len()..].starts_with("_ip")
    })
}

fn used_ids(actions: &[OfAction], groups: &mut BTreeSet<u32>, meters: &mut BTreeSet<u32>) {
    for a in actions {
        match a {
            OfAction::Group(g) => {
                groups.insert(*g);
            }
            OfAction::Meter(m) => {
                meters.insert(*m);
            }
            OfAction::Controller { meter_id, .. } => {
                meters.insert(*meter_id);
            }
            OfAction::Clone(inner) | OfAction::Ct { exec: inner, .. } => {
                used_ids(inner, groups, meters)
            }
            _ => {}
        }
    }
}
