//! Recomputing the flows of dirty sources and rebuilding the desired
//! table from the per-source flows.

use std::cmp::Ordering;
use std::collections::{btree_map, BTreeSet};
use std::sync::Arc;

use super::table::{self, KeySources};
use super::{key_cmp, run_end, AtKey, ChassisCompute, FlowDelta, Source};
use crate::actions::ofpact::NO_METER;
use crate::actions::OfAction;
use crate::flow_table::{ByKey, FlowTable, OfFlow};
use crate::lflow::{self, LflowInputs, LflowOutputs};
use crate::physical;

impl ChassisCompute {
    /// Recomputes the flows of `sources` (a source whose row is gone ends
    /// up with no flows); returns the keys whose flows changed, in key
    /// order, each once.
    ///
    /// The keys are gathered in a list and sorted once, not entered in a
    /// tree one by one: each source gives its keys in key order, so the
    /// sort finds one run per source (a change of one logical flow over an
    /// address set has a thousand keys that share long match prefixes,
    /// and every search of a tree compares many of them).
    pub(super) fn recompute(
        &mut self,
        sources: &[Source],
        sink: &mut dyn FnMut(&OfFlow),
    ) -> Vec<ByKey> {
        self.last_recomputed = sources.len();
        self.restream.clear();
        self.ensure_inputs(sources);
        let mut touched = Vec::new();
        let ids_before = (self.groups.len(), self.meters.len());
        for &src in sources {
            let mut new = self.compute_flows(src, sink);
            let old = self.sources.remove(&src).unwrap_or_default();
            if !self.ids_touched {
                self.ids_touched = old.iter().chain(&new).any(|f| uses_ids(&f.actions));
            }
            self.diff_source(src, &old, &mut new, &mut touched);
            if !new.is_empty() {
                self.sources.insert(src, new);
            }
        }
        if (self.groups.len(), self.meters.len()) != ids_before {
            self.ids_touched = true;
        }
        touched.sort();
        touched.dedup();
        touched
    }

    /// The first compute (no flows yet): every source's flows, then the
    /// table built in one pass over all flows in key order — the same
    /// table [`ChassisCompute::recompute`] and [`ChassisCompute::refresh`]
    /// give, without a search per flow.  `sources` are in source order.
    pub(super) fn compute_all(&mut self, sources: &[Source], sink: &mut dyn FnMut(&OfFlow)) {
        debug_assert!(self.sources.is_empty() && self.table.is_empty());
        debug_assert!(sources.windows(2).all(|w| w[0] < w[1]), "sources in order");
        self.last_recomputed = sources.len();
        self.ensure_inputs(sources);
        let (first, rest): (Vec<Source>, Vec<Source>) =
            sources.iter().partition(|s| self.computed_first(s));
        for &src in first.iter().chain(&rest) {
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
    pub(super) fn ensure_inputs(&mut self, sources: &[Source]) {
        let needs_inputs = sources.iter().any(|s| matches!(s, Source::LogicalFlow(_)));
        if needs_inputs && self.inputs.0.is_none() {
            self.inputs.0 = Some(LflowInputs::new(&self.sb, &self.local));
        }
    }

    /// Whether the first compute takes `src` before the others: a logical
    /// flow whose match names an address set (one may hold thousands of
    /// addresses, each a flow).  Such a source yields many flows for little
    /// compute each, while the others cost more per flow than the switch
    /// takes to parse one.  A streamed first install
    /// ([`crate::openflow::installer::FullStream`]) thus gives the switch
    /// most of the table within the first milliseconds, and it parses that
    /// backlog while the rest is computed, instead of waiting for flows at
    /// first and falling behind at the end (issue 9's controller bench, 5
    /// starts per run alternating with ovn-controller: median start 55.5
    /// and 63.5 ms against 58 and 72.5 ms with these last, in sets of 30
    /// and 40 starts of each build).  Flows whose actions allocate group or
    /// meter ids (`ct_lb`, `select`, `fwd_group`, meters, a
    /// `controller_meter`) keep their place: those ids are given out in
    /// compute order.
    fn computed_first(&self, src: &Source) -> bool {
        let Source::LogicalFlow(u) = src else {
            return false;
        };
        self.sb.logical_flows.get(u).is_some_and(|lf| {
            lf.match_.contains('$')
                && lf.controller_meter.is_none()
                && !["ct_lb", "select", "fwd_group", "meter"]
                    .iter()
                    .any(|a| lf.actions.contains(a))
        })
    }

    /// Computes the flows of `src` (merged within the source, in key
    /// order), recording its warnings.  `sink` gets each flow as it is
    /// made, in the order made (those of a datapath group datapath by
    /// datapath), before the source is done.
    pub(super) fn compute_flows(
        &mut self,
        src: Source,
        sink: &mut dyn FnMut(&OfFlow),
    ) -> Vec<Arc<OfFlow>> {
        if let Source::LogicalFlow(u) = src {
            self.conj_ids.free(&u);
        }
        let mut out = LflowOutputs {
            groups: std::mem::take(&mut self.groups),
            meters: std::mem::take(&mut self.meters),
            conj_ids: std::mem::take(&mut self.conj_ids),
            ..LflowOutputs::default()
        };
        self.compute_source(src, self.inputs.0.as_ref(), &mut out, &mut *sink);
        out.flows.emit_new(sink);
        // Given out before they were final (not expected: see
        // `translate_logical_flow`): the finals of a streamed install add
        // them again ([`ChassisCompute::merged_flows`]).
        self.restream
            .extend(out.flows.revised().map(|f| ByKey(Arc::new(f.clone()))));
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
    pub(super) fn diff_source(
        &mut self,
        src: Source,
        old: &[Arc<OfFlow>],
        new: &mut [Arc<OfFlow>],
        touched: &mut Vec<ByKey>,
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
                    touched.push(k);
                }
                Ordering::Greater => {
                    let k = ByKey(new[j].clone());
                    let e = self.table.entry(k.clone()).or_default();
                    e.sources.insert(src);
                    touched.push(k);
                }
                Ordering::Equal => {
                    let (o, n) = (&old[i..i_end], &mut new[j..j_end]);
                    if o.iter().map(|f| &**f).eq(n.iter().map(|f| &**f)) {
                        n.clone_from_slice(o);
                    } else {
                        touched.push(ByKey(n[0].clone()));
                    }
                }
            }
            i = i_end;
            j = j_end;
        }
    }

    pub(super) fn compute_source(
        &self,
        src: Source,
        inputs: Option<&LflowInputs>,
        out: &mut LflowOutputs,
        sink: &mut dyn FnMut(&OfFlow),
    ) {
        let (sb, local, chassis) = (&self.sb, &self.local, &self.chassis);
        match src {
            Source::LogicalFlow(u) => {
                if let (Some(lf), Some(inputs)) = (sb.logical_flows.get(&u), inputs) {
                    lflow::translate_logical_flow(sb, local, chassis, inputs, lf, out, Some(sink));
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
    pub(super) fn refresh(&mut self, keys: Vec<ByKey>, want_delta: bool) -> FlowDelta {
        let mut delta = FlowDelta::default();
        // Per source, where its list's flows at the previous key ended:
        // the keys come in order, so each search starts there (usually
        // right at the next key).
        let mut cursors: Vec<(Source, usize)> = Vec::new();
        for k in keys {
            // One search per key: the entry serves the reads and the
            // updates below.
            let btree_map::Entry::Occupied(mut entry) = self.table.entry(k) else {
                continue;
            };
            let k = entry.key();
            let mut candidates: Vec<&Arc<OfFlow>> = Vec::new();
            for src in entry.get().sources.as_slice() {
                let Some(list) = self.sources.get(src) else {
                    continue;
                };
                let cursor = match cursors.iter().position(|(s, _)| s == src) {
                    Some(i) => &mut cursors[i].1,
                    None => {
                        cursors.push((*src, 0));
                        &mut cursors.last_mut().expect("pushed").1
                    }
                };
                let before = |f: &Arc<OfFlow>| key_cmp(f, &k.0).is_lt();
                let start = *cursor;
                let lo = match list.get(start) {
                    Some(f) if before(f) => start + 1 + list[start + 1..].partition_point(before),
                    _ => start,
                };
                let n = list[lo..]
                    .iter()
                    .take_while(|f| key_cmp(f, &k.0).is_eq())
                    .count();
                candidates.extend(&list[lo..lo + n]);
                *cursor = lo + n;
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
            let old = entry.get().installed.clone();
            let same = match (&new, &old) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b) || **a == **b,
                (None, None) => true,
                _ => false,
            };
            let rekey = match &new {
                Some(n) => !same && !Arc::ptr_eq(&k.0, n),
                None => false,
            };
            if !same && want_delta {
                delta.removed.extend(old);
                delta.added.extend(new.clone());
            }
            match new {
                None => {
                    entry.remove();
                }
                Some(n) if rekey => {
                    // The key is held by the installed flow, not by one
                    // that is gone.
                    let mut e = entry.remove();
                    e.installed = Some(n.clone());
                    self.table.insert(ByKey(n), e);
                }
                Some(n) if !same => entry.get_mut().installed = Some(n),
                Some(_) => {}
            }
        }
        delta
    }

    /// Frees group and meter ids no flow uses any more.
    pub(super) fn collect_ids(&mut self) {
        let (groups, meters) = self.used_ids();
        self.groups.retain(|id| groups.contains(&id));
        self.meters.retain(|id| meters.contains(&id));
    }

    /// Whether every assigned group and meter id is used by a flow (what
    /// [`ChassisCompute::collect_ids`] leaves).
    pub(super) fn ids_all_used(&self) -> bool {
        let (groups, meters) = self.used_ids();
        self.groups.iter().all(|(id, _)| groups.contains(&id))
            && self.meters.iter().all(|(id, _)| meters.contains(&id))
    }

    /// The group and meter ids the flows use.
    fn used_ids(&self) -> (BTreeSet<u32>, BTreeSet<u32>) {
        let mut groups = BTreeSet::new();
        let mut meters = BTreeSet::new();
        for f in self.sources.values().flatten() {
            used_ids(&f.actions, &mut groups, &mut meters);
        }
        (groups, meters)
    }
}

/// A group or meter id a flow's actions use.
enum UsedId {
    Group(u32),
    Meter(u32),
}

/// Calls `f` with every group and meter id `actions` use (nested actions
/// included; a `controller` action without a meter uses none).
fn for_each_id(actions: &[OfAction], f: &mut impl FnMut(UsedId)) {
    for a in actions {
        match a {
            OfAction::Group(g) => f(UsedId::Group(*g)),
            OfAction::Meter(m) => f(UsedId::Meter(*m)),
            OfAction::Controller { meter_id, .. } if *meter_id != NO_METER => {
                f(UsedId::Meter(*meter_id))
            }
            OfAction::Clone(inner) | OfAction::Ct { exec: inner, .. } => for_each_id(inner, f),
            _ => {}
        }
    }
}

/// Whether `actions` use a group or a meter.
fn uses_ids(actions: &[OfAction]) -> bool {
    let mut any = false;
    for_each_id(actions, &mut |_| any = true);
    any
}

fn used_ids(actions: &[OfAction], groups: &mut BTreeSet<u32>, meters: &mut BTreeSet<u32>) {
    for_each_id(actions, &mut |id| match id {
        UsedId::Group(g) => {
            groups.insert(g);
        }
        UsedId::Meter(m) => {
            meters.insert(m);
        }
    });
}
